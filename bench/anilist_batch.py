"""AniList write batch size: requests, time under the 30/min limit, blast radius.

    .venv/bin/python bench/anilist_batch.py [--writes 300] [--scale 0.01]

For each batch size, writes `--writes` full entries (status, progress, score, date,
repeat, notes) through `AniListProvider` to the fake AniList server limited to 30
requests/minute (degraded AniList), and reports: requests sent, 429s, service
seconds to finish (minutes of AniList time, on the scaled clock), the largest
request body, and the per-request server-side time of the fake (document
validation + execution). A failed request costs up to `batch_size` entries their
retry, so the smallest size that keeps the request count low wins. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime

from anibridge.provider.base import (
    Progress,
    Rating,
    RecordField,
    Ref,
    State,
    Status,
    UpsertRecord,
)
from anibridge.providers.anilist import AniListProvider
from anibridge.testing.fakes.anilist import AniListFake
from anibridge.testing.fakes.catalog import sample_media


def _write(media_id: int, n: int) -> UpsertRecord:
    return UpsertRecord(
        Ref.anchor(str(media_id)),
        set={
            RecordField.STATUS: State(status=Status.COMPLETED),
            RecordField.PROGRESS: Progress(n % 12),
            RecordField.RATING: Rating(1 + n % 10, (0, 10, 1)),
            RecordField.STARTED_AT: datetime(2020, 1 + n % 12, 1, tzinfo=UTC),
            RecordField.REPEAT_COUNT: n % 3,
            RecordField.NOTES: f"note {n}",
        },
    )


async def _run(batch: int, writes: int, scale: float) -> dict[str, object]:
    media = sample_media(writes)
    with AniListFake(media=media, time_scale=scale, per_minute=30) as fake:
        provider = AniListProvider(
            config={
                "token": "anilist-test-token",
                "base_url": fake.base_url,
                "clock": fake.clock,
                "batch_size": batch,
            }
        )
        await provider.initialize()
        fake.reset_counters()
        started = fake.clock.monotonic()
        real = time.perf_counter()
        results = await provider.write_records(
            [_write(m.anilist_id, n) for n, m in enumerate(media)]
        )
        service_seconds = fake.clock.monotonic() - started
        real_seconds = time.perf_counter() - real
        await provider.close()
        requests = fake.count("data")
        bodies = [len(r.body) for r in fake.requests if r.kind == "data"]
        return {
            "batch_size": batch,
            "requests": requests,
            "failed_writes": sum(not r.ok for r in results),
            "http_429": fake.statuses()[429],
            "service_minutes": round(service_seconds / 60, 2),
            "max_body_bytes": max(bodies) if bodies else 0,
            "real_ms_per_request": round(1000 * real_seconds / max(requests, 1), 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--sizes", default="1,5,10,25,50")
    args = parser.parse_args()
    rows = [
        asyncio.run(_run(int(size), args.writes, args.scale))
        for size in args.sizes.split(",")
    ]
    print(json.dumps({"writes": args.writes, "limit_per_minute": 30, "runs": rows}))


if __name__ == "__main__":
    main()
