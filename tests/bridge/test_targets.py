"""Target shapes: per-episode server targets, collect paging and explain output."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from bridge_support import T0, curated, library, nosleep, tracker, watched
from rich.console import Console

from anibridge.bridge.collect import CollectError, collect
from anibridge.bridge.explain import plan_json, plan_table
from anibridge.bridge.model import Policy
from anibridge.bridge.stores import MemoryStores
from anibridge.bridge.sync import Pair, run_sync
from anibridge.provider.base import Page, RecordField, Ref, Status, WriteOp
from anibridge.provider.testing.memory import episode_ref, list_record
from anibridge.provider.validate import ContractViolation


async def test_list_progress_marks_server_episodes_across_seasons():
    src = tracker(
        [("20", "Naruto", 220, ["anilist:20"])],
        [list_record("20", status=Status.ACTIVE, progress=37, updated_at=T0)],
        authorities=("anilist",),
    )
    dst = library(
        [("p1", "Naruto", {1: 35, 2: 48}, ["tvdb_show:78857"])],
        watched("p1", 1, range(1, 11)),
        writable=True,
    )
    providers, stores = {"al": src, "plex": dst}, MemoryStores()
    pair = [Pair("al", "plex")]
    first = await run_sync(
        providers, pair, Policy(), stores.bundle(), index=curated(), sleep=nosleep
    )
    refs = sorted(repr(a.ref) for a in first.plan.actions)
    assert len(refs) == 27  # s1e11-35 and s2e1-2; s1e1-10 were already watched
    assert "p1:season=2,episode=2" in refs and "p1:season=2,episode=3" not in refs
    assert {a.op for a in first.plan.actions} == {WriteOp.UPSERT_RECORD}
    assert not [a for a in first.plan.actions if a.op is WriteOp.APPEND_EVENT]
    rec = dst.record(episode_ref("p1", 2, 2))
    assert rec.values[RecordField.STATUS].status is Status.COMPLETED
    second = await run_sync(
        providers, pair, Policy(), stores.bundle(), index=curated(), sleep=nosleep
    )
    assert second.plan.actions == ()


async def test_library_to_library_keeps_seasons_through_direct_ids():
    src = library(
        [("a", "Show", {1: 3, 2: 3}, ["tvdb_show:1234"])],
        watched("a", 2, [1, 2], start=T0 + timedelta(days=1)),
    )
    dst = library([("b", "Show", {1: 3, 2: 3}, ["tvdb_show:1234"])], writable=True)
    providers, stores = {"plex": src, "jf": dst}, MemoryStores()
    result = await run_sync(
        providers,
        [Pair("plex", "jf")],
        Policy(),
        stores.bundle(),
        index=curated(),
        sleep=nosleep,
    )
    assert sorted(repr(a.ref) for a in result.plan.actions) == [
        "b:season=2,episode=1",
        "b:season=2,episode=2",
    ]


async def test_collect_pages_and_refuses_a_repeating_cursor():
    src = tracker(
        [(str(k), f"T{k}", 12, [f"anilist:{k}"]) for k in range(1, 8)],
        [
            list_record(str(k), status=Status.ACTIVE, progress=1, updated_at=T0)
            for k in range(1, 8)
        ],
    )
    src.page_size = 2
    snap = await collect(src, "al")
    assert len(snap.entries) == 7 and all(e.records for e in snap.entries.values())

    async def stuck(query):
        return Page(items=(), cursor="again")

    src.scan = stuck
    with pytest.raises(CollectError, match="repeated"):
        await collect(src, "al")


async def test_collect_refuses_contract_violations():
    from datetime import datetime

    bad = list_record("1", status=Status.ACTIVE, updated_at=T0)
    values = dict(bad.values)
    values[RecordField.STARTED_AT] = datetime(2024, 1, 1)  # naive: a contract violation
    from dataclasses import replace

    src = tracker([("1", "T", 12, ["anilist:1"])], [replace(bad, values=values)])
    with pytest.raises(ContractViolation, match="'al'"):
        await collect(src, "al")


async def test_explain_renders_table_and_json():
    src = library(
        [("p1", "Naruto", {2: 48}, ["tvdb_show:78857"])], watched("p1", 2, [1, 2])
    )
    dst = tracker([("20", "Naruto", 220, ["anilist:20"])])
    result = await run_sync(
        {"plex": src, "al": dst},
        [Pair("plex", "al")],
        Policy(),
        MemoryStores().bundle(),
        index=curated(),
        dry_run=True,
    )
    console = Console(record=True, width=200)
    console.print(plan_table(result.plan))
    text = console.export_text()
    assert "upsert_record" in text and "progress: ∅ → 2" in text
    data = json.loads(json.dumps(plan_json(result.plan)))
    (action,) = data["actions"]
    assert action["after"]["progress"]["current"] == 2
    assert action["provenance"] == ["tvdb_show:78857:s2 -> anilist:20 {1-48: 36-83}"]
    assert data["counts"]["actions"] == 1
    assert Ref("20") == result.plan.actions[0].ref
