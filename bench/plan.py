"""Planning throughput: 10,000 anchors / 250,000 episodes, library → list.

Snapshots are built in memory (provider I/O excluded); the mappings index is the real
`anibridge.mappings` index loaded with the bundled dataset plus a synthetic file that
maps every benchmark show (`tvdb_show:N:s1` → `anilist:N`). Timed: identify, observe,
derive, translate and plan. Prints JSON: anchors, episodes, actions, seconds, peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from anibridge.bridge.identity import identify
from anibridge.bridge.model import Entry, Policy, Snapshot
from anibridge.bridge.pause_gc import freeze_collected
from anibridge.bridge.plan import make_plan
from anibridge.mappings import load_index
from anibridge.provider.base import (
    ExternalId,
    FacetName,
    Identifiers,
    Node,
    NodeFlag,
    Part,
    Progress,
    Record,
    RecordField,
    Ref,
    State,
    Status,
    Step,
    Structure,
)
from anibridge.provider.testing.memory import library_capabilities, list_capabilities

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BASE = 10_000_000  # synthetic ids far from real ones


def build(anchors: int, episodes: int, seed: int = 7) -> tuple[Snapshot, Snapshot]:
    rng = random.Random(seed)
    lib = Snapshot("plex", library_capabilities())
    lst = Snapshot("anilist", list_capabilities())
    watched = State("watched", Status.COMPLETED)
    current = State("CURRENT", Status.ACTIVE)
    anchor_flags = frozenset({NodeFlag.ANCHOR, NodeFlag.CONTAINER})
    for i in range(anchors):
        n = BASE + i
        key = f"show{i}"
        parts = tuple(
            Part((Step("season", 1), Step("episode", e)), key=f"{key}e{e}")
            for e in range(1, episodes + 1)
        )
        ids = (
            ExternalId("tvdb_show", str(n)),
            ExternalId("tvdb_show", str(n), "s1"),
        )
        node = Node(
            Ref(key),
            "show",
            flags=anchor_flags,
            facets={
                FacetName.IDS: Identifiers(ids),
                FacetName.STRUCTURE: Structure(("season", "episode"), parts),
            },
        )
        seen = episodes if rng.random() < 0.5 else rng.randint(0, episodes)
        records = [
            Record(
                Ref(key, (Step("season", 1), Step("episode", e))),
                updated_at=T0 + timedelta(hours=e),
                values={
                    RecordField.STATUS: watched,
                    RecordField.LAST_ACTIVITY_AT: T0 + timedelta(hours=e),
                },
            )
            for e in range(1, seen + 1)
        ]
        lib.entries[key] = Entry(key, node, records)
        tkey = str(n)
        tnode = Node(
            Ref(tkey),
            "anime",
            flags=frozenset({NodeFlag.ANCHOR}),
            facets={
                FacetName.IDS: Identifiers((ExternalId("anilist", tkey),)),
                FacetName.STRUCTURE: Structure(
                    ("episode",),
                    tuple(Part((Step("episode", e),)) for e in range(1, episodes + 1)),
                ),
            },
        )
        trecs = []
        if rng.random() < 0.5:
            trecs.append(
                Record(
                    Ref(tkey),
                    updated_at=T0,
                    values={
                        RecordField.STATUS: current,
                        RecordField.PROGRESS: Progress(rng.randint(0, episodes)),
                    },
                )
            )
        lst.entries[tkey] = Entry(tkey, tnode, trecs)
    return lib, lst


def mapping_file(anchors: int, episodes: int, folder: Path) -> Path:
    path = folder / "bench-mappings.json"
    payload = {
        f"tvdb_show:{BASE + i}:s1": {
            f"anilist:{BASE + i}": {f"1-{episodes}": f"1-{episodes}"}
        }
        for i in range(anchors)
    }
    path.write_text(json.dumps(payload))
    return path


async def run(anchors: int, episodes: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        index = load_index([mapping_file(anchors, episodes, Path(tmp))], notice=None)
    source, target = build(anchors, episodes)
    freeze_collected()  # what run_sync does once providers are collected
    start, cpu = time.perf_counter(), time.process_time()
    ident = await identify(source, target, index)
    plan = make_plan(source, target, ident, Policy())
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024
    return {
        "anchors": anchors,
        "episodes": anchors * episodes,
        "watched_episodes": sum(len(e.records) for e in source.entries.values()),
        "actions": len(plan.actions),
        "skipped": len(plan.skipped),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "peak_rss_mb": round(rss * scale / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--anchors", type=int, default=10_000)
    parser.add_argument("--episodes", type=int, default=25)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.anchors, args.episodes))))


if __name__ == "__main__":
    main()
