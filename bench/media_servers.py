"""Media-server scans: requests and time for a big library, per server.

    .venv/bin/python bench/media_servers.py [--shows 2000] [--episodes 25] [--page 2000]

Builds one generated library (`MediaLibrary.generate`), serves it from the Plex,
Jellyfin and Emby fakes, and for each provider reports: requests for a full scan
(IDS + STRUCTURE + records, activity only), the lower bound (listing pages: shows +
episodes), requests for the play history (Plex), requests of an idle change poll, and
wall time. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import time

from anibridge.provider.base import ChangeQuery, EventQuery, FacetName, ScanQuery
from anibridge.providers.emby import EmbyProvider
from anibridge.providers.jellyfin import JellyfinProvider
from anibridge.providers.plex import PlexProvider
from anibridge.testing.fakes.emby import FakeEmby
from anibridge.testing.fakes.jellyfin import FakeJellyfin
from anibridge.testing.fakes.media import MediaLibrary
from anibridge.testing.fakes.plex import FakePlex

FACETS = frozenset({FacetName.IDS, FacetName.STRUCTURE})


async def measure(name, fake, provider_cls, config, lib, page):
    with fake(lib) as server:
        token = getattr(server, "owner_token", None) or server.api_key
        p = provider_cls(
            logger=logging.getLogger("bench"),
            config={"base_url": server.base_url, "token": token, "page_size": page,
                    **config},
        )  # fmt: skip
        await p.initialize()
        server.reset_counters()
        start = time.perf_counter()
        cursor, items, records = None, 0, 0
        while True:
            result = await p.scan(
                ScanQuery(
                    facets=FACETS, require_activity=True, cursor=cursor, limit=500
                )
            )
            items += len(result.items)
            records += sum(len(i.records) for i in result.items)
            cursor = result.cursor
            if cursor is None:
                break
        scan_s = time.perf_counter() - start
        scan_requests = server.count()
        history = None
        if isinstance(p, PlexProvider):
            server.reset_counters()
            events = await p.fetch_events(EventQuery())
            history = {"plays": len(events.items), "requests": server.count()}
        first = await p.poll_changes(ChangeQuery())
        server.reset_counters()
        await p.poll_changes(ChangeQuery(cursor=first.cursor))
        poll_requests = server.count()
        await p.close()
    shows = sum(1 for i in lib.items.values() if i.kind == "show")
    bound = math.ceil(shows / page) + math.ceil(len(lib.episodes) / page)
    return {
        "provider": name,
        "anchors_with_activity": items,
        "records": records,
        "scan_requests": scan_requests,
        "lower_bound": bound,
        "scan_seconds": round(scan_s, 2),
        "history": history,
        "idle_poll_requests": poll_requests,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shows", type=int, default=2000)
    parser.add_argument("--episodes", type=int, default=25)
    parser.add_argument("--page", type=int, default=2000)
    args = parser.parse_args()
    lib = MediaLibrary.generate(args.shows, args.episodes, users=(("1", "Owner"),))
    runs = [
        ("plex", FakePlex, PlexProvider, {}),
        ("jellyfin", FakeJellyfin, JellyfinProvider, {}),
        ("emby", FakeEmby, EmbyProvider, {}),
    ]
    out = {"library": dict(lib.to_mapping()), "page_size": args.page, "runs": []}
    for name, fake, cls, config in runs:
        out["runs"].append(await measure(name, fake, cls, config, lib, args.page))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
