"""Simkl and Kitsu request budgets against their fakes.

    .venv/bin/python bench/simkl_kitsu_requests.py [--titles 1000] [--plays 5000]
        [--entries 2000] [--scale 0.01]

Simkl (10 GETs and 1 POST per second on a scaled clock): a full read of a library
of `--titles` anime with 12 watched episodes each, a later read after 3 titles
changed (the activities gate plus one delta), `--plays` plays imported through
`write_events` (then again, which must send nothing), and full pulls made without
the activities gate (must be 0). Kitsu: a full read of a `--entries` library with
anime and mappings side-loaded, and resolving 200 MAL ids through `/mappings`.
Reports requests, 429s, service seconds and wall seconds. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from anibridge.provider.base import (
    AppendEvent,
    ExternalId,
    RecordField,
    Ref,
    ScanQuery,
)
from anibridge.providers.kitsu import KitsuProvider
from anibridge.providers.simkl import SimklProvider
from anibridge.testing.fakes.catalog import FakeMedia
from anibridge.testing.fakes.kitsu import KitsuFake
from anibridge.testing.fakes.simkl import SimklFake

T0 = datetime(2020, 1, 1, tzinfo=UTC)
LOG = logging.getLogger("bench")


async def _scan_all(provider: Any) -> int:
    seen, cursor = 0, None
    while True:
        page = await provider.scan(
            ScanQuery(fields=frozenset(RecordField), cursor=cursor)
        )
        seen += len(page.items)
        cursor = page.cursor
        if cursor is None:
            return seen


async def _simkl(titles: int, plays: int, scale: float) -> dict[str, Any]:
    with SimklFake(time_scale=scale) as fake:
        for n in range(titles):
            fake.add_anime(10_000 + n, f"Anime {n}", 24, ids={"mal": n + 1})
            fake.set_item(
                10_000 + n,
                "watching",
                episodes={(1, e): T0 + timedelta(hours=e) for e in range(1, 13)},
            )
        fake.add_anime(1, "Long Runner", 1000)
        provider = SimklProvider(
            logger=LOG, config=fake.provider_config(refresh_interval=0.001)
        )
        await provider.initialize()
        out: dict[str, Any] = {"titles": titles}
        fake.reset_counters()
        start = time.monotonic()
        seen = await _scan_all(provider)
        out["full_read"] = {
            "titles": seen,
            "requests": len(fake.requests),
            "wall_s": round(time.monotonic() - start, 2),
        }
        for n in range(3):
            fake.set_item(10_000 + n, "completed")
        await asyncio.sleep(0.01)
        fake.reset_counters()
        await _scan_all(provider)
        out["read_after_3_changes"] = {
            "requests": [r.path for r in fake.requests],
        }
        writes = [
            AppendEvent(
                Ref.at("anime:1", ("episode", n % 1000 + 1)),
                "watch",
                T0 + timedelta(minutes=n),
            )
            for n in range(plays)
        ]
        for run in ("first", "second"):
            fake.reset_counters()
            start_clock, start_wall = fake.clock.monotonic(), time.monotonic()
            results = await provider.write_events(writes)
            out[f"import_{run}"] = {
                "plays": plays,
                "ok": sum(r.ok for r in results),
                "writes": fake.count("write"),
                "rate_limited": fake.statuses()[429],
                "service_s": round(fake.clock.monotonic() - start_clock, 1),
                "wall_s": round(time.monotonic() - start_wall, 2),
            }
        out["watched_episodes_stored"] = len(fake.watched(1))
        out["ungated_full_pulls"] = fake.ungated_pulls
        await provider.close()
        return out


async def _kitsu(entries: int, scale: float) -> dict[str, Any]:
    media = [
        FakeMedia(100_000 + n, 50_000 + n, f"Sample {n}", 12, kitsu_id=n + 1)
        for n in range(entries)
    ]
    with KitsuFake(media=media, time_scale=scale) as fake:
        for n in range(entries):
            fake.add_entry(n + 1, status="current", progress=n % 12)
        provider = KitsuProvider(logger=LOG, config=fake.provider_config())
        await provider.initialize()
        fake.reset_counters()
        start = time.monotonic()
        seen = await _scan_all(provider)
        out: dict[str, Any] = {
            "entries": entries,
            "full_read": {
                "entries": seen,
                "requests": len(fake.requests),
                "wall_s": round(time.monotonic() - start, 2),
            },
        }
        await provider.clear_cache()
        fake.reset_counters()
        ids = [ExternalId("mal", str(50_000 + n)) for n in range(200)]
        matches = await provider.resolve(ids)
        out["resolve_200_mal_ids"] = {
            "matched": len(matches),
            "requests": len(fake.requests),
        }
        await provider.close()
        return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--titles", type=int, default=1000)
    parser.add_argument("--plays", type=int, default=5000)
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--scale", type=float, default=0.01)
    args = parser.parse_args()
    report = {
        "command": "bench/simkl_kitsu_requests.py",
        "simkl": await _simkl(args.titles, args.plays, args.scale),
        "kitsu": await _kitsu(args.entries, args.scale),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
