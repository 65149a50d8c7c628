"""Target shapes: per-episode server targets, collect paging and explain output."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from bridge_support import (
    T0,
    curated,
    library,
    nosleep,
    plan_between,
    tracker,
    watched,
)
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
    rows = [line.split() for line in text.splitlines()]
    assert [r[:2] for r in rows if "20" in r] == [["new", "20"]]
    assert ["progress", "—", "→", "2"] in [r[:4] for r in rows]
    data = json.loads(json.dumps(plan_json(result.plan)))
    (action,) = data["actions"]
    assert action["after"]["progress"]["current"] == 2
    assert action["provenance"] == ["tvdb_show:78857:s2 -> anilist:20 {1-48: 36-83}"]
    assert data["counts"]["actions"] == 1
    assert Ref("20") == result.plan.actions[0].ref


def _dated_library(shows, records=()):
    """A writable server that accepts a played date (Jellyfin/Emby-like)."""
    from dataclasses import replace

    from anibridge.provider.base import FieldSpec
    from anibridge.provider.testing.memory import (
        library_capabilities,
        library_show,
        memory_provider,
    )

    caps = library_capabilities(writable=True)
    fields = dict(caps.record_fields)
    spec = fields[RecordField.LAST_ACTIVITY_AT]
    fields[RecordField.LAST_ACTIVITY_AT] = FieldSpec(
        spec.field, writable=True, constraints=spec.constraints
    )
    nodes = []
    for key, title, seasons, ids in shows:
        nodes.extend(library_show(key, title, seasons, ids=ids))
    return memory_provider(
        replace(caps, record_fields=fields), nodes=nodes, records=records
    )


async def test_server_target_gets_the_real_played_date_when_writable():
    src = library(
        [("a", "Show", {1: 3}, ["tvdb_show:1234"])],
        watched("a", 1, [1, 2], start=T0, step_hours=5),
    )
    shows = [("b", "Show", {1: 3}, ["tvdb_show:1234"])]
    dated = _dated_library(shows)
    plan = await plan_between(src, dated)
    got = {repr(a.ref): a.after.get(RecordField.LAST_ACTIVITY_AT) for a in plan.actions}
    assert got == {
        "b:season=1,episode=1": T0,
        "b:season=1,episode=2": T0 + timedelta(hours=5),
    }
    # Plex-like: the date is readable only, so it is never planned.
    undated = await plan_between(src, library(shows, writable=True))
    assert undated.actions
    assert all(RecordField.LAST_ACTIVITY_AT not in a.after for a in undated.actions)


async def test_server_played_date_is_not_invented_from_a_list_progress_count():
    src = tracker(
        [("20", "Naruto", 220, ["anilist:20"])],
        [list_record("20", status=Status.ACTIVE, progress=3, updated_at=T0)],
        authorities=("anilist",),
    )
    dst = _dated_library([("p1", "Naruto", {1: 35}, ["tvdb_show:78857"])])
    plan = await plan_between(src, dst)
    assert len(plan.actions) == 3
    assert all(RecordField.LAST_ACTIVITY_AT not in a.after for a in plan.actions)


async def test_server_played_date_synced_once_then_unchanged():
    src = library(
        [("a", "Show", {1: 3}, ["tvdb_show:1234"])],
        watched("a", 1, [1], start=T0),
    )
    dst = _dated_library([("b", "Show", {1: 3}, ["tvdb_show:1234"])])
    providers, stores = {"plex": src, "jf": dst}, MemoryStores()
    pair = [Pair("plex", "jf")]
    first = await run_sync(
        providers, pair, Policy(), stores.bundle(), index=curated(), sleep=nosleep
    )
    assert [a.after.get(RecordField.LAST_ACTIVITY_AT) for a in first.plan.actions] == [
        T0
    ]
    rec = dst.record(episode_ref("b", 1, 1))
    assert rec.values[RecordField.LAST_ACTIVITY_AT] == T0
    second = await run_sync(
        providers, pair, Policy(), stores.bundle(), index=curated(), sleep=nosleep
    )
    assert second.plan.actions == ()


def _history_with_scrobbles(events=()):
    from dataclasses import replace

    from bridge_support import history_capabilities

    from anibridge.provider.base import Descriptor, EventKind
    from anibridge.provider.testing.memory import library_show, memory_provider

    caps = replace(
        history_capabilities(),
        event_kinds=(
            Descriptor("watch", EventKind.PLAY),
            Descriptor("scrobble", EventKind.PLAY),
            Descriptor("checkin", EventKind.CHECKIN),
        ),
    )
    nodes = library_show("t", "Naruto", {1: 35}, ids=["tvdb_show:78857"])[:1]
    return memory_provider(caps, nodes=nodes, events=events)


async def test_existing_plays_are_recognised_by_meaning_not_native_kind():
    from anibridge.provider.testing.memory import play

    src = library(
        [("n", "Naruto", {1: 35}, ["tvdb_show:78857"])], watched("n", 1, [1, 2, 3])
    )
    dst = _history_with_scrobbles(
        [
            # Read back as a scrobble (to the second) and as a check-in.
            play(episode_ref("t", 1, 1), T0, kind="scrobble"),
            play(episode_ref("t", 1, 2), T0 + timedelta(hours=1), kind="checkin"),
        ]
    )
    plan = await plan_between(src, dst)
    appends = [(repr(a.ref), a.kind, a.at) for a in plan.actions]
    assert appends == [("t:season=1,episode=3", "watch", T0 + timedelta(hours=2))]


async def test_history_target_is_read_by_summaries_when_counts_suffice():
    from anibridge.provider.base import SupportsEventReads
    from anibridge.provider.testing.memory import (
        library_capabilities,
        library_show,
        memory_provider,
        mixins_for,
        play,
    )

    # A Jellyfin-like source: play summaries only, no exact plays.
    caps = library_capabilities()
    src = memory_provider(
        caps,
        mixins=[m for m in mixins_for(caps) if m is not SupportsEventReads],
        nodes=library_show("n", "Naruto", {1: 35}, ids=["tvdb_show:78857"]),
        records=watched("n", 1, [1, 2]),
    )
    dst = _history_with_scrobbles(
        [play(episode_ref("t", 1, 1), T0 - timedelta(days=3), kind="scrobble")]
    )
    providers, stores = {"jf": src, "trakt": dst}, MemoryStores()
    result = await run_sync(
        providers,
        [Pair("jf", "trakt")],
        Policy(),
        stores.bundle(),
        index=curated(),
        sleep=nosleep,
    )
    read = [name for name, _ in dst.calls]
    assert "fetch_event_summaries" in read and "fetch_events" not in read
    # e1 was played (at another time) on the target: only e2 is appended.
    appends = [repr(a.ref) for a in result.plan.actions]
    assert appends == ["t:season=1,episode=2"]
