"""Trakt request budgets: history import, full history read, a full read of the lists.

    .venv/bin/python bench/trakt_requests.py [--plays 5000] [--history 20000]
        [--shows 500] [--scale 0.01]

Against the fake Trakt (1 write/second, 1000 GETs / 5 minutes on a scaled clock,
pages clamped to 250 items): imports `--plays` plays through `write_events` (then
again, which must send no write), pages through a `--history`-event history with
`fetch_events`, and scans an account of `--shows` shows with records. Reports
requests by kind, 429s, service seconds (Trakt's time, on the scaled clock) and wall
seconds. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from anibridge.provider.base import AppendEvent, EventQuery, FacetName, ScanQuery
from anibridge.providers.trakt import TraktProvider
from anibridge.providers.trakt.vocabulary import episode_ref
from anibridge.testing.fakes.trakt import FakeTrakt

T0 = datetime(2020, 1, 1, tzinfo=UTC)
LOG = logging.getLogger("bench.trakt")


def _counts(fake: FakeTrakt) -> dict[str, int]:
    return {
        "writes": fake.count("write"),
        "reads": fake.count("data"),
        "rate_limited": fake.statuses()[429],
    }


async def _import(plays: int, scale: float) -> dict[str, Any]:
    with FakeTrakt(time_scale=scale) as fake:
        fake.add_show(1, "Long Runner", {1: 1000})
        writes = [
            AppendEvent(
                episode_ref(1, 1, n % 1000 + 1), "watch", T0 + timedelta(minutes=n)
            )
            for n in range(plays)
        ]
        out: dict[str, Any] = {"plays": plays}
        for run in ("first", "second"):
            provider = TraktProvider(logger=LOG, config=fake.provider_config())
            await provider.initialize()
            fake.reset_counters()
            start_clock, start_wall = fake.clock.monotonic(), time.monotonic()
            results = await provider.write_events(writes)
            out[run] = _counts(fake) | {
                "ok": sum(r.ok for r in results),
                "service_s": round(fake.clock.monotonic() - start_clock, 1),
                "wall_s": round(time.monotonic() - start_wall, 2),
            }
            await provider.close()
        out["stored_plays"] = len(fake.history)
        return out


async def _read_history(events: int, scale: float) -> dict[str, Any]:
    with FakeTrakt(time_scale=scale) as fake:
        fake.add_show(1, "Long Runner", {1: 1000})
        for n in range(events):
            fake.add_play(("episode", 1, 1, n % 1000 + 1), T0 + timedelta(minutes=n))
        provider = TraktProvider(logger=LOG, config=fake.provider_config())
        await provider.initialize()
        fake.reset_counters()
        start = time.monotonic()
        seen, cursor = 0, None
        while True:
            page = await provider.fetch_events(EventQuery(cursor=cursor))
            seen += len(page.items)
            cursor = page.cursor
            if cursor is None:
                break
        await provider.close()
        return (
            {"events": events, "read": seen}
            | _counts(fake)
            | {"wall_s": round(time.monotonic() - start, 2)}
        )


async def _scan(shows: int, scale: float, *, full: bool) -> dict[str, Any]:
    with FakeTrakt(time_scale=scale) as fake:
        for n in range(1, shows + 1):
            fake.add_show(n, f"Show {n}", {1: 12}, tvdb=100_000 + n)
            for e in range(1, 13):
                fake.add_play(("episode", n, 1, e), T0 + timedelta(hours=n, minutes=e))
            fake.rate(("show", n), n % 10 + 1)
        config = fake.provider_config(full_structure=full)
        provider = TraktProvider(logger=LOG, config=config)
        await provider.initialize()
        fake.reset_counters()
        start = time.monotonic()
        items, cursor = 0, None
        while True:
            page = await provider.scan(
                ScanQuery(
                    facets=frozenset({FacetName.IDS, FacetName.STRUCTURE}),
                    cursor=cursor,
                )
            )
            items += len(page.items)
            cursor = page.cursor
            if cursor is None:
                break
        await provider.close()
        return (
            {"shows": shows, "scanned": items}
            | _counts(fake)
            | {"wall_s": round(time.monotonic() - start, 2)}
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plays", type=int, default=5000)
    parser.add_argument("--history", type=int, default=20000)
    parser.add_argument("--shows", type=int, default=500)
    parser.add_argument("--scale", type=float, default=0.01)
    args = parser.parse_args()
    report = {
        "import": await _import(args.plays, args.scale),
        "history_read": await _read_history(args.history, args.scale),
        "scan_with_ids_and_structure": await _scan(args.shows, args.scale, full=False),
        "scan_full_structure": await _scan(args.shows, args.scale, full=True),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
