"""Mirror tests of `anibridge.bridge.sync`: what a run records, reports and keeps.

The rules of planning and writing have their own suites; these pin the run around
them — the run record (kind, status, summary, error, owner), the progress phases,
which cursors and baselines are stored, and how `undo_run` picks what it reverts.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import replace
from datetime import timedelta

import pytest
from bridge_support import (
    T0,
    TWO_SHOWS,
    Sleeps,
    curated,
    custom_index,
    history,
    library,
    nosleep,
    tracker,
    two_shows,
    watched,
)

from anibridge import progress
from anibridge.bridge.collect import CollectError, collect
from anibridge.bridge.model import Direction, GuardError, Policy
from anibridge.bridge.stores import MemoryStores, Override
from anibridge.bridge.sync import Pair, forget_cursors, run_owner, run_sync, undo_run
from anibridge.provider.base import (
    Page,
    Progress,
    Rating,
    RecordField,
    Ref,
    Status,
    WriteError,
    WriteOp,
    WriteResult,
)
from anibridge.provider.testing.memory import list_record

PAIR = [Pair("plex", "anilist")]


@pytest.fixture
def idx(tmp_path):
    return custom_index(tmp_path, TWO_SHOWS)


def edit(provider, key, **values):
    """The user changes an entry later than anything synced so far."""
    rec = provider.record(Ref(key))
    changed = {**rec.values, **{RecordField(k): v for k, v in values.items()}}
    provider.put_record(replace(rec, values=changed, updated_at=T0 + timedelta(days=1)))


class Events(list):
    """A progress listener that keeps every event."""

    def phases(self) -> list[tuple[str, int | None]]:
        return [(e.name, e.total) for e in self if isinstance(e, progress.Phase)]


def test_run_owner_names_this_process_and_its_host():
    assert run_owner() == f"pid {os.getpid()} on {socket.gethostname()}"


async def test_a_run_records_its_kind_owner_plan_and_counts(idx):
    providers, stores = two_shows()
    result = await run_sync(
        providers, PAIR, Policy(profile="p"), stores.bundle(), index=idx,
        sleep=nosleep, run_id="r1",
    )  # fmt: skip
    run = stores.run("r1")
    assert run == result.run
    assert (run.profile, run.kind, run.status) == ("p", "sync", "ok")
    assert run.owner == run_owner()
    assert run.plan_id == result.plan.id
    assert run.error is None
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.summary == {
        "planned": 2,
        "applied": 2,
        "failed": 0,
        "unknown": 0,
        "stale": 0,
        "unsent": 0,
        "skipped": 0,
        "unchanged": 0,
        "stopped": {},
        "missing": [],
    }
    assert result.plan.profile == "p"


async def test_runs_without_an_id_get_a_fresh_one_each(idx):
    providers, stores = two_shows()
    first = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True
    )
    second = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True
    )
    assert re.fullmatch(r"[0-9a-f]{32}", first.run.id)
    assert first.run.id != second.run.id
    assert {r.id for r in stores.runs("default")} == {first.run.id, second.run.id}


async def test_a_dry_run_is_recorded_with_what_it_planned_and_stores_nothing(idx):
    providers, stores = two_shows()
    events = Events()
    with progress.reporting(events.append):
        result = await run_sync(
            providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True,
            incremental=True, run_id="d",
        )  # fmt: skip
    run = stores.run("d")
    assert (run.kind, run.status, run.plan_id) == ("dry_run", "ok", result.plan.id)
    # The counts a real run records, in the same meanings: nothing was written.
    assert run.summary == {
        "planned": 2,
        "applied": 0,
        "failed": 0,
        "unknown": 0,
        "stale": 0,
        "unsent": 0,
        "skipped": 0,
        "unchanged": 0,
    }
    assert run.finished_at is not None and run.owner == run_owner()
    assert result.report is None and set(result.snapshots) == {"plex", "anilist"}
    assert events.phases() == [("reading", None), ("planning", None)]
    # Nothing written, journaled, remembered as in sync, nor a cursor moved.
    assert providers["anilist"].records() == ()
    assert stores.entries("d") == []
    assert stores.baselines("default") == {}
    assert stores.cursor("default", "plex") is None


async def test_phases_are_reported_with_the_writes_planned(idx):
    providers, stores = two_shows()
    events = Events()
    with progress.reporting(events.append):
        await run_sync(
            providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
        )
    assert events.phases() == [("reading", None), ("planning", None), ("writing", 2)]


async def test_approved_ids_count_as_the_writes_planned_and_missing_are_sorted(idx):
    providers, stores = two_shows()
    preview = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True
    )
    first = sorted(a.id for a in preview.plan.actions)[0]
    events = Events()
    with progress.reporting(events.append):
        result = await run_sync(
            providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
            only=["zz-gone", first, "aa-gone"],
        )  # fmt: skip
    assert events.phases()[-1] == ("writing", 1)
    assert result.run.summary["missing"] == ["aa-gone", "zz-gone"]
    assert result.run.summary["planned"] == 2
    assert result.report.counts() == {"applied": 1}
    assert result.run.status == "partial"
    # Everything approved still exists: the run is complete.
    again = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        only=[a.id for a in result.plan.actions if a.id != first],
    )  # fmt: skip
    assert again.run.summary["missing"] == [] and again.run.status == "ok"


async def test_a_failed_write_makes_the_run_partial(idx):
    providers, stores = two_shows()
    providers["anilist"].inject_failure(WriteError.INVALID, times=1)
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    assert result.report.counts() == {"applied": 1, "failed": 1}
    assert result.run.status == "partial"
    assert result.run.summary["failed"] == 1 and result.run.summary["applied"] == 1


async def test_a_refused_plan_is_recorded_with_the_guards_and_nothing_written(idx):
    providers, stores = two_shows()
    await run_sync(providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep)
    providers["plex"].remove_node(Ref("a"))
    for r in list(providers["plex"].records()):
        if r.ref.key == "a":
            providers["plex"].remove_record(r.ref)
    seen = []
    before = {r.ref: r for r in providers["anilist"].records()}
    with pytest.raises(GuardError) as refused:
        await run_sync(
            providers, PAIR, Policy(allow_deletes=True), stores.bundle(), index=idx,
            sleep=nosleep, run_id="g", on_plan=seen.append,
        )  # fmt: skip
    run = stores.run("g")
    [plan] = seen
    assert len(plan.guards) >= 1
    assert (run.status, run.plan_id) == ("refused", plan.id)
    assert run.error == str(refused.value) == "; ".join(plan.guards)
    assert run.finished_at is not None
    assert {r.ref: r for r in providers["anilist"].records()} == before
    assert stores.entries("g") == []


async def test_on_plan_sees_the_plan_before_anything_is_written(idx):
    providers, stores = two_shows()
    written = []

    def on_plan(plan):
        written.append((len(plan.actions), len(providers["anilist"].records())))

    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        on_plan=on_plan,
    )  # fmt: skip
    assert written == [(2, 0)]
    assert len(providers["anilist"].records()) == 2 and result.run.status == "ok"


async def test_a_pair_naming_an_unknown_provider_fails_the_run(idx):
    providers, stores = two_shows()
    with pytest.raises(KeyError) as missing:
        await run_sync(
            providers, [Pair("plex", "trakt")], Policy(), stores.bundle(),
            index=idx, run_id="k",
        )  # fmt: skip
    assert missing.value.args == ("pair plex->trakt: no provider 'trakt'",)
    run = stores.run("k")
    assert run.status == "failed" and run.finished_at is not None
    assert run.error == "KeyError: \"pair plex->trakt: no provider 'trakt'\""


async def test_an_error_ends_the_run_failed_and_an_interrupt_interrupted(idx):
    providers, stores = two_shows()
    providers["plex"].inject_exception(RuntimeError("down"), times=1)
    with pytest.raises(RuntimeError):
        await run_sync(
            providers, PAIR, Policy(), stores.bundle(), index=idx, run_id="e"
        )
    failed = stores.run("e")
    assert (failed.status, failed.error) == ("failed", "RuntimeError: down")
    assert failed.finished_at is not None
    providers["plex"].inject_exception(KeyboardInterrupt(), times=1)
    with pytest.raises(KeyboardInterrupt):
        await run_sync(
            providers, PAIR, Policy(), stores.bundle(), index=idx, run_id="i"
        )
    stopped = stores.run("i")
    assert stopped.status == "interrupted"
    assert stopped.error == "interrupted (KeyboardInterrupt)"
    assert stopped.finished_at is not None


async def test_given_snapshots_are_not_read_again(idx):
    providers, stores = two_shows()
    first = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True
    )
    providers["plex"].inject_exception(RuntimeError("read again"), times=None)
    again = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True,
        snapshots={"plex": first.snapshots["plex"]},
    )  # fmt: skip
    assert again.snapshots["plex"] is first.snapshots["plex"]
    assert [a.id for a in again.plan.actions] == [a.id for a in first.plan.actions]


def test_forget_cursors_drops_only_the_named_providers_of_the_profile():
    stores = MemoryStores()
    for profile in ("p", "q"):
        for key in ("plex", "anilist", "trakt"):
            stores.set_cursor(profile, key, f"{profile}-{key}")
    forget_cursors(stores.bundle(), "p", ["plex", "anilist"])
    assert stores.cursor("p", "plex") is None
    assert stores.cursor("p", "anilist") is None
    assert stores.cursor("p", "trakt") == "p-trakt"
    assert stores.cursor("q", "plex") == "q-plex"


# -- undo_run ------------------------------------------------------------------------


async def test_undo_needs_a_run_or_an_action_it_can_find(idx):
    providers, stores = two_shows()
    await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        run_id="r1",
    )  # fmt: skip
    bundle = stores.bundle()
    with pytest.raises(ValueError, match=r"^undo needs a run id or an action id$"):
        await undo_run(providers, bundle, profile="default")
    with pytest.raises(ValueError, match=r"^run 'r1' has no action 'nope'$"):
        await undo_run(
            providers, bundle, profile="default", run_id="r1", action_id="nope"
        )
    with pytest.raises(ValueError, match=r"^nothing in the journal for 'r9'$"):
        await undo_run(providers, bundle, profile="default", run_id="r9")
    with pytest.raises(ValueError, match=r"^nothing in the journal for 'nope'$"):
        await undo_run(providers, bundle, profile="default", action_id="nope")
    assert [r.id for r in stores.runs("default")] == ["r1"]


async def test_undo_of_a_run_that_wrote_nothing_is_an_empty_undo(idx):
    providers, stores = two_shows()
    await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True,
        run_id="d",
    )  # fmt: skip
    undone = await undo_run(providers, stores.bundle(), profile="default", run_id="d")
    assert undone.plan.actions == () and undone.run.status == "ok"
    assert undone.run.summary == {"reverts": "d"}


async def test_undo_records_what_it_reverts_and_forgets_the_cursors(idx):
    providers, stores = two_shows()
    done = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        run_id="r1", incremental=True,
    )  # fmt: skip
    assert stores.cursor("default", "plex") is not None
    events = Events()
    with progress.reporting(events.append):
        undone = await undo_run(
            providers, stores.bundle(), profile="default", run_id="r1", sleep=nosleep
        )
    assert events.phases() == [("reading", None), ("writing", 2)]
    run = stores.run(undone.run.id)
    assert run == undone.run
    assert (run.profile, run.kind, run.status) == ("default", "undo", "ok")
    assert run.plan_id == undone.plan.id and run.owner == run_owner()
    assert run.summary == {"reverts": "r1", "reverts_run": "r1", "applied": 2}
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert re.fullmatch(r"[0-9a-f]{32}", run.id)
    assert providers["anilist"].records() == ()
    assert stores.cursor("default", "plex") is None
    # One action by its id alone: the run it came from is named too.
    again = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        run_id="r2",
    )  # fmt: skip
    action = next(a for a in again.plan.actions if a.ref.key == "100")
    assert action.id in {a.id for a in done.plan.actions}  # same write, same id
    one = await undo_run(
        providers, stores.bundle(), profile="default", action_id=action.id,
        sleep=nosleep,
    )  # fmt: skip
    assert one.run.summary == {"reverts": action.id, "reverts_run": "r2", "applied": 1}
    assert [r.ref.key for r in providers["anilist"].records()] == ["200"]


async def test_a_dry_undo_writes_nothing_and_keeps_the_cursors(idx):
    providers, stores = two_shows()
    await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        run_id="r1", incremental=True,
    )  # fmt: skip
    cursor = stores.cursor("default", "plex")
    undone = await undo_run(
        providers, stores.bundle(), profile="default", run_id="r1", dry_run=True
    )
    assert len(undone.plan.actions) == 2 and undone.report is None
    run = stores.run(undone.run.id)
    assert undone.run == run  # the preview reports the record it left, finished
    assert (run.kind, run.status, run.plan_id) == ("undo", "ok", undone.plan.id)
    assert run.finished_at == run.started_at
    # What it would do, and never a "reverts" that would make the run look undone.
    assert run.summary == {
        "dry_run": True,
        "previews": "r1",
        "planned": 2,
        "skipped": 0,
    }
    assert len(providers["anilist"].records()) == 2
    assert stores.cursor("default", "plex") == cursor
    assert stores.entries(undone.run.id) == []


async def test_an_undo_that_reverts_nothing_keeps_the_cursors(idx):
    providers, stores = two_shows()
    await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        run_id="r1", incremental=True,
    )  # fmt: skip
    cursor = stores.cursor("default", "plex")
    providers["anilist"].inject_failure(WriteError.INVALID, times=None)
    undone = await undo_run(
        providers, stores.bundle(), profile="default", run_id="r1", sleep=nosleep
    )
    assert undone.report.counts() == {"failed": 2}
    assert undone.run.status == "partial"
    assert stores.cursor("default", "plex") == cursor


async def test_an_interrupt_during_undo_ends_it_interrupted(idx):
    providers, stores = two_shows()
    await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        run_id="r1",
    )  # fmt: skip
    providers["anilist"].inject_exception(KeyboardInterrupt(), method="write_records")
    with pytest.raises(KeyboardInterrupt):
        await undo_run(
            providers, stores.bundle(), profile="default", run_id="r1", sleep=nosleep
        )
    [undo] = [r for r in stores.runs("default") if r.kind == "undo"]
    assert undo.status == "interrupted"
    assert undo.error == "interrupted (KeyboardInterrupt)"
    assert undo.finished_at is not None


# -- what a run remembers ------------------------------------------------------------


def two_way_lists(rating=80):
    """AniList and MAL with different keys: the entry baselines show which is which."""
    al = tracker(
        [
            ("20", "Naruto", 220, ["anilist:20", "mal:20"]),
            ("21", "One Piece", 1100, ["anilist:21", "mal:21"]),
        ],
        [
            list_record(
                "20", status=Status.ACTIVE, progress=5, rating=rating, updated_at=T0
            )
        ],
        authorities=("anilist", "mal"),
    )
    mal = tracker(
        [("m20", "Naruto", 220, ["mal:20"]), ("m21", "One Piece", 1100, ["mal:21"])],
        [
            list_record(
                "m21", status=Status.COMPLETED, progress=1100, rating=8,
                updated_at=T0, rating_scale=(0.0, 10.0, 1.0),
            )
        ],
        authorities=("mal",),
        rating_scale=(0.0, 10.0, 1.0),
    )  # fmt: skip
    return {"al": al, "mal": mal}


async def test_baselines_keep_each_side_s_value_in_its_own_column():
    providers, stores = two_way_lists(), MemoryStores()
    result = await run_sync(
        providers, [Pair("al", "mal")], Policy(direction=Direction.TWO_WAY),
        stores.bundle(), index=curated(), sleep=nosleep,
    )  # fmt: skip
    assert result.report.counts() == {"applied": 2}
    by_key = {a.ref.key: a.link for a in result.plan.actions}
    to_mal, to_al = by_key["m20"], by_key["21"]
    base = stores.baselines("default")
    assert {b.updated_at for b in base.values()} == {result.run.finished_at}
    # AniList is the pair's source side ("a") whichever way the write went.
    pairs = {
        link: (base[link, "@entry"].source_value, base[link, "@entry"].target_value)
        for link in (to_mal, to_al)
    }
    assert pairs == {to_mal: ("20", "m20"), to_al: ("21", "m21")}
    rating = base[to_mal, "rating"]
    assert (rating.source_value["value"], rating.target_value["value"]) == (80, 8)
    rating = base[to_al, "rating"]
    assert (rating.source_value["value"], rating.target_value["value"]) == (80, 8)
    # Fields already equal on both sides are remembered too (stamped by this run).
    [in_sync] = result.plan.in_sync
    assert base[in_sync.link, in_sync.field].updated_at == result.run.finished_at
    assert set(base) == {
        *((to_mal, f) for f in ("@entry", "status", "progress", "rating")),
        *((to_al, f) for f in ("@entry", "status", "progress", "rating")),
        (in_sync.link, in_sync.field),
    }
    # Links both ways, stamped with the run's start.
    links = [
        *stores.links("default", "al", "mal"),
        *stores.links("default", "mal", "al"),
    ]
    assert sorted((lk.source_key, lk.target_ref) for lk in links) == [
        ("20", "m20"), ("21", "m21"), ("m20", "20"), ("m21", "21"),
    ]  # fmt: skip
    assert {lk.created_at for lk in links} == {result.run.started_at}


async def test_a_failed_write_stores_no_baseline_for_it(idx):
    providers, stores = two_shows()
    providers["anilist"].inject_failure(WriteError.INVALID, ref=Ref("100"), times=1)
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    links = {a.ref.key: a.link for a in result.plan.actions}
    written = {link for link, _ in stores.baselines("default")}
    assert written == {links["200"]}


async def test_targets_the_user_lacks_are_read_and_unknown_ones_dropped(tmp_path):
    index = custom_index(
        tmp_path, TWO_SHOWS + 'anilist:300:\n  tvdb_show:700:s1:\n    "1-12": "1-12"\n'
    )
    src = library(
        [
            ("a", "A", {1: 12}, ["tvdb_show:500"]),
            ("c", "C", {1: 12}, ["tvdb_show:700"]),
        ],
        watched("a", 1, range(1, 4)) + watched("c", 1, range(1, 4)),
    )
    dst = tracker([("100", "A", 12, ["anilist:100"])])  # 300 is unknown to it
    stores = MemoryStores()
    result = await run_sync(
        {"plex": src, "anilist": dst}, PAIR, Policy(), stores.bundle(), index=index,
        dry_run=True,
    )  # fmt: skip
    entries = result.snapshots["anilist"].entries
    assert set(entries) == {"100"}
    assert entries["100"].node is not None and entries["100"].records == []
    assert [a.ref.key for a in result.plan.actions] == ["100"]
    [skip] = result.plan.skipped
    assert (skip.ref.key, skip.reason.value) == ("c", "no-target")


# -- what a run reads ----------------------------------------------------------------


def shows_and_plays():
    return {
        "anilist": tracker(
            [("20", "Naruto", 220, ["anilist:20"])],
            [list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0)],
        ),
        "trakt": history([("t", "Naruto", {1: 220}, ["tvdb_show:78857"])]),
        "plex": library(
            [("n", "Naruto", {1: 35}, ["tvdb_show:78857"])], watched("n", 1, [1])
        ),
    }


ONE, BOTH = Direction.ONE_WAY, Direction.TWO_WAY


@pytest.mark.parametrize(
    ("pairs", "direction", "read"),
    [
        # Only fed by sources without plays: "was it played?" is all it needs.
        ([("anilist", "trakt", None)], ONE, "fetch_event_summaries"),
        ([("anilist", "trakt", ONE)], BOTH, "fetch_event_summaries"),
        # Fed plays, itself a source, or one side of a two-way pair: every play.
        ([("plex", "trakt", None)], ONE, "fetch_events"),
        ([("anilist", "trakt", None), ("plex", "trakt", None)], ONE, "fetch_events"),
        ([("anilist", "trakt", None), ("trakt", "plex", None)], ONE, "fetch_events"),
        ([("anilist", "trakt", None)], BOTH, "fetch_events"),
        ([("anilist", "trakt", BOTH)], ONE, "fetch_events"),
    ],
)
async def test_a_one_way_target_fed_no_plays_reads_play_summaries(
    pairs, direction, read
):
    providers = shows_and_plays()
    await run_sync(
        providers, [Pair(*p) for p in pairs], Policy(direction=direction),
        MemoryStores().bundle(), index=curated(), dry_run=True,
    )  # fmt: skip
    reads = {name for name, _ in providers["trakt"].calls if name.startswith("fetch_")}
    assert reads == {read}


@pytest.mark.parametrize(
    ("pairs", "direction", "incremental", "read"),
    [
        ([("plex", "anilist", None)], ONE, True, set()),
        ([("plex", "anilist", None)], ONE, False, {"a", "b"}),
        ([("plex", "anilist", BOTH)], ONE, True, {"a", "b"}),
        ([("plex", "anilist", None)], BOTH, True, {"a", "b"}),
        ([("plex", "anilist", None), ("anilist", "plex", ONE)], ONE, True, {"a", "b"}),
    ],
)
async def test_only_a_pure_one_way_source_is_read_from_its_cursor(
    idx, pairs, direction, incremental, read
):
    providers, stores = two_shows()
    await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        incremental=True,
    )  # fmt: skip
    assert stores.cursor("default", "plex") is not None
    again = await run_sync(
        providers, [Pair(*p) for p in pairs], Policy(direction=direction),
        stores.bundle(), index=idx, dry_run=True, incremental=incremental,
    )  # fmt: skip
    assert set(again.snapshots["plex"].entries) == read


async def test_cursors_move_except_for_sources_with_writes_failed_or_unapproved(idx):
    providers, stores = two_shows()
    await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )  # a full run learns every feed's position too
    plex, anilist = (
        stores.cursor("default", "plex"),
        stores.cursor("default", "anilist"),
    )
    assert plex is not None and anilist is not None
    for rec in watched("a", 1, [4, 5]):
        providers["plex"].put_record(rec)
    # Nothing approved: the source's changes are still pending.
    held = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        incremental=True, only=[],
    )  # fmt: skip
    assert held.report.counts() == {} and held.run.status == "ok"
    assert [a.ref.key for a in held.plan.actions] == ["100"]
    assert stores.cursor("default", "plex") == plex
    moved = stores.cursor("default", "anilist")
    assert moved not in (None, anilist)  # the target's own feed moves on
    # A failed write keeps the source's cursor; the target's still moves.
    providers["anilist"].inject_failure(WriteError.INVALID, times=1)
    providers["anilist"].put_record(list_record("999", status=Status.PLANNED))
    failed = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        incremental=True,
    )  # fmt: skip
    assert failed.report.counts() == {"failed": 1}
    assert stores.cursor("default", "plex") == plex
    assert stores.cursor("default", "anilist") not in (None, moved)
    done = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        incremental=True,
    )  # fmt: skip
    assert done.report.counts() == {"applied": 1}
    assert stores.cursor("default", "plex") not in (None, plex)


async def test_undo_sets_the_baseline_of_the_side_it_restored():
    providers, stores = two_way_lists(rating=None), MemoryStores()

    async def sync():
        return await run_sync(
            providers, [Pair("al", "mal")], Policy(direction=Direction.TWO_WAY),
            stores.bundle(), index=curated(), sleep=nosleep,
        )  # fmt: skip

    await sync()
    edit(providers["al"], "20", progress=Progress(9), rating=Rating(70, (0, 100, 1)))
    edit(providers["mal"], "m21", progress=Progress(7))
    done = await sync()
    links = {a.provider: a.link for a in done.plan.actions}
    before = stores.baselines("default")
    assert before[links["mal"], "rating"].target_value["value"] == 7
    undone = await undo_run(
        providers, stores.bundle(), profile="default", run_id=done.run.id,
        sleep=nosleep,
    )  # fmt: skip
    assert undone.report.counts() == {"applied": 2}
    after = stores.baselines("default")
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {
        (links["mal"], "progress"), (links["mal"], "rating"), (links["al"], "progress"),
    }  # fmt: skip
    # MAL (side b) got 5 back and lost the rating; AniList (side a) got 1100 back.
    mal_progress = after[links["mal"], "progress"]
    assert (
        mal_progress.source_value["current"],
        mal_progress.target_value["current"],
    ) == (9, 5)
    assert after[links["mal"], "rating"].source_value["value"] == 70
    assert after[links["mal"], "rating"].target_value is None
    al_progress = after[links["al"], "progress"]
    assert (
        al_progress.source_value["current"],
        al_progress.target_value["current"],
    ) == (1100, 7)
    assert all(after[k].updated_at > before[k].updated_at for k in changed)


async def test_undo_of_a_created_entry_forgets_its_baselines_only(idx):
    providers, stores = two_shows()
    first = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    links = {a.ref.key: a.link for a in first.plan.actions}
    for rec in watched("a", 1, [4, 5]):
        providers["plex"].put_record(rec)
    second = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    assert (
        stores.baselines("default")[links["100"], "progress"].target_value["current"]
        == 5
    )
    await undo_run(
        providers, stores.bundle(), profile="default", run_id=second.run.id,
        sleep=nosleep,
    )  # fmt: skip
    base = stores.baselines("default")
    assert base[links["100"], "progress"].target_value["current"] == 3
    created = next(a for a in first.plan.actions if a.ref.key == "200")
    await undo_run(
        providers, stores.bundle(), profile="default", run_id=first.run.id,
        action_id=created.id, sleep=nosleep,
    )  # fmt: skip
    assert providers["anilist"].record(Ref("200")) is None
    after = stores.baselines("default")
    assert {link for link, _ in after} == {links["100"]}
    assert after == {k: v for k, v in base.items() if k[0] == links["100"]}


async def test_the_profile_s_overrides_and_fuzzy_threshold_reach_identity(idx):
    providers, stores = two_shows()
    stores.put_override(Override("default", "plex", "a", "anilist", None))
    stores.put_override(Override("other", "plex", "b", "anilist", None))
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True
    )
    assert [a.ref.key for a in result.plan.actions] == ["200"]
    [skip] = result.plan.skipped
    assert (skip.ref.key, skip.detail) == ("a", "unlinked by override")
    title_only = {
        "plex": library(
            [("p9", "Frieren", {1: 28}, ["tvdb_show:1"])], watched("p9", 1, [1])
        ),
        "anilist": tracker([("154587", "Frieren", 28, ["anilist:154587"])]),
    }
    off = await run_sync(
        title_only, PAIR, Policy(), MemoryStores().bundle(), index=idx, dry_run=True
    )
    assert off.plan.actions == ()
    on = await run_sync(
        title_only, PAIR, Policy(fuzzy_threshold=90), MemoryStores().bundle(),
        index=idx, dry_run=True,
    )  # fmt: skip
    assert [a.ref.key for a in on.plan.actions] == ["154587"]


async def test_a_provider_that_stops_accepting_writes_is_named_in_the_summary(idx):
    providers, stores = two_shows()
    providers["anilist"].config["write_batch_size"] = 1
    providers["anilist"].inject_failure(WriteError.AUTH, error="token expired")
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    assert result.run.status == "partial"
    # The write the stop left unsent is no rule's skip: it is counted apart.
    assert result.run.summary == {
        "planned": 2,
        "applied": 0,
        "failed": 1,
        "unknown": 0,
        "stale": 0,
        "unsent": 1,
        "skipped": 0,
        "unchanged": 0,
        "stopped": {"anilist": "token expired"},
        "missing": [],
    }


async def test_the_plans_of_every_pair_are_merged(idx):
    src = library(
        [
            ("a", "A", {1: 12}, ["tvdb_show:500"]),
            ("b", "B", {1: 12}, ["tvdb_show:600"]),
            ("c", "C", {1: 12}, ["tvdb_show:999"]),  # in no mapping
        ],
        watched("a", 1, range(1, 4)) + watched("b", 1, range(1, 13)),
    )
    nodes = [("100", "A", 12, ["anilist:100"]), ("200", "B", 12, ["anilist:200"])]
    providers = {"plex": src, "anilist": tracker(nodes), "mal": tracker(nodes)}
    stores = MemoryStores()
    pairs = [Pair("plex", "anilist"), Pair("plex", "mal")]
    first = await run_sync(
        providers, pairs, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    assert sorted((a.provider, a.ref.key) for a in first.plan.actions) == [
        ("anilist", "100"), ("anilist", "200"), ("mal", "100"), ("mal", "200"),
    ]  # fmt: skip
    assert [(s.provider, s.ref.key) for s in first.plan.skipped] == [
        ("anilist", "c"), ("mal", "c"),
    ]  # fmt: skip
    assert first.report.counts() == {"applied": 4}
    again = await run_sync(
        providers, pairs, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    assert again.plan.actions == ()
    entries = {(b.link, b.source_value, b.target_value) for b in again.plan.in_sync}
    assert len(entries) == 4  # one entry pair per show per target
    src.remove_node(Ref("a"))
    for rec in list(src.records()):
        if rec.ref.key == "a":
            src.remove_record(rec.ref)
    seen = []
    with pytest.raises(GuardError) as refused:
        await run_sync(
            providers, pairs, Policy(allow_deletes=True), stores.bundle(),
            index=idx, sleep=nosleep, run_id="g", on_plan=seen.append,
        )  # fmt: skip
    [plan] = seen
    assert len(plan.guards) == 2
    assert str(refused.value) == stores.run("g").error == "; ".join(plan.guards)
    guards = str(refused.value).split("; ")
    assert [g.rsplit(" on ", 1)[1].split()[0] for g in guards] == ["anilist", "mal"]


async def test_links_of_earlier_runs_spare_resolving_a_target_again(idx):
    providers, stores = two_shows()
    calls = []
    for _ in range(2):
        # A target read without entry 100 (as a partial re-read would leave it).
        snap = await collect(providers["anilist"], "anilist")
        del snap.entries["100"]
        providers["anilist"].calls.clear()
        result = await run_sync(
            providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True,
            snapshots={"anilist": snap},
        )  # fmt: skip
        assert sorted(a.ref.key for a in result.plan.actions) == ["100", "200"]
        assert result.snapshots["anilist"].entries["100"].node is not None
        calls.append([name for name, _ in providers["anilist"].calls])
    assert calls == [["resolve", "fetch_nodes"], ["fetch_nodes"]]
    # Nothing missing: nothing fetched.
    providers["anilist"].calls.clear()
    await run_sync(providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True)
    assert "fetch_nodes" not in {name for name, _ in providers["anilist"].calls}


async def test_undo_rebases_every_action_it_reverted(idx):
    providers, stores = two_shows()
    providers["anilist"].put_record(
        list_record("100", status=Status.ACTIVE, progress=1, updated_at=T0)
    )
    done = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    links = {a.ref.key: a.link for a in done.plan.actions}
    undone = await undo_run(
        providers, stores.bundle(), profile="default", run_id=done.run.id,
        sleep=nosleep,
    )  # fmt: skip
    # Undo reverts the run's writes last first: 200 is removed, then 100 restored.
    ops = [(a.ref.key, a.op.value) for a in undone.report.succeeded]
    assert ops == [("200", "delete_record"), ("100", "upsert_record")]
    base = stores.baselines("default")
    assert {link for link, _ in base} == {links["100"]}
    assert base[links["100"], "progress"].target_value["current"] == 1
    assert base[links["100"], "started_at"].target_value is None  # cleared again


async def test_a_failure_and_an_id_no_longer_planned_make_the_run_partial(idx):
    providers, stores = two_shows()
    preview = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True
    )
    first = next(a.id for a in preview.plan.actions if a.ref.key == "100")
    providers["anilist"].inject_failure(WriteError.INVALID, times=None)
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        only=[first, "gone"],
    )  # fmt: skip
    assert result.report.counts() == {"failed": 1}
    assert result.run.summary["missing"] == ["gone"]
    assert result.run.status == "partial"


async def test_a_failure_and_a_lost_answer_make_the_run_partial(idx):
    providers, stores = two_shows()
    target = providers["anilist"]

    async def one_refused_one_unanswered(writes):
        # After these answers nothing can be re-read either: the lost one stays
        # unknown.
        target.inject_exception(ConnectionError("gone"), times=None)
        return [
            WriteResult(False, WriteOp.UPSERT_RECORD, code=WriteError.INVALID)
            if w.ref.key == "100"
            else WriteResult(False, WriteOp.UPSERT_RECORD, code=WriteError.TRANSIENT)
            for w in writes
        ]

    target.write_records = one_refused_one_unanswered
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    assert result.report.counts() == {"failed": 1, "unknown": 1}
    assert result.run.status == "partial"
    recorded = {k: result.run.summary[k] for k in ("applied", "failed", "unknown")}
    assert recorded == {"applied": 0, "failed": 1, "unknown": 1}


@pytest.mark.parametrize("entry", ["forgotten", "re-pointed"])
async def test_undo_rebases_what_it_can_and_passes_over_the_rest(idx, entry):
    providers, stores = two_shows()
    for key in ("100", "200"):
        providers["anilist"].put_record(
            list_record(key, status=Status.ACTIVE, progress=1, updated_at=T0)
        )
    done = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    links = {a.ref.key: a.link for a in done.plan.actions}
    # 200 (reverted first) no longer has a usable entry pair: forgotten, or naming
    # other keys than its link's; 100 lost the baseline of one field it wrote.
    if entry == "forgotten":
        stores.remove_baselines("default", [(links["200"], "@entry")])
    else:
        old = stores.baselines("default")[links["200"], "@entry"]
        stores.put_baselines([replace(old, source_value="elsewhere")])
    stores.remove_baselines("default", [(links["100"], "progress")])
    before = stores.baselines("default")
    undone = await undo_run(
        providers, stores.bundle(), profile="default", run_id=done.run.id,
        sleep=nosleep,
    )  # fmt: skip
    assert [a.ref.key for a in undone.report.succeeded] == ["200", "100"]
    after = stores.baselines("default")
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {(links["100"], "started_at")}
    assert before[links["100"], "started_at"].target_value is not None
    assert after[links["100"], "started_at"].target_value is None  # cleared again
    assert set(after) == set(before)


async def test_undo_of_every_entry_a_run_created_forgets_all_their_baselines(idx):
    providers, stores = two_shows()
    done = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    assert {link for link, _ in stores.baselines("default")} == {
        a.link for a in done.plan.actions
    }
    undone = await undo_run(
        providers, stores.bundle(), profile="default", run_id=done.run.id,
        sleep=nosleep,
    )  # fmt: skip
    assert [a.op.value for a in undone.report.succeeded] == ["delete_record"] * 2
    assert stores.baselines("default") == {}


async def test_undo_plans_in_the_profile_it_reverts(idx):
    providers, stores = two_shows()
    done = await run_sync(
        providers, PAIR, Policy(profile="p"), stores.bundle(), index=idx,
        sleep=nosleep,
    )  # fmt: skip
    undone = await undo_run(
        providers, stores.bundle(), profile="p", run_id=done.run.id, sleep=nosleep
    )
    assert undone.plan.profile == "p" and undone.run.profile == "p"
    assert undone.run.plan_id == undone.plan.id


async def test_writes_without_source_values_leave_the_other_baselines_alone():
    rating = list_record(Ref("n"), rating=8, rating_scale=(0.0, 10.0, 1.0))
    providers = {
        "plex": library(
            [("n", "Naruto", {1: 35}, ["tvdb_show:78857"])],
            [*watched("n", 1, [1]), rating],
        ),
        "trakt": history([("t", "Naruto", {1: 35}, ["tvdb_show:78857"])]),
        "anilist": tracker([("20", "Naruto", 220, ["anilist:20"])]),
    }
    stores = MemoryStores()
    # Trakt's plays and rating are written first and remember no source values.
    result = await run_sync(
        providers, [Pair("plex", "trakt"), Pair("plex", "anilist")], Policy(),
        stores.bundle(), index=curated(), sleep=nosleep,
    )  # fmt: skip
    written = [(a.provider, bool(a.source_values)) for a in result.report.succeeded]
    assert written == [("trakt", False), ("trakt", False), ("anilist", True)]
    to_anilist = result.plan.actions[-1].link
    base = stores.baselines("default")
    assert {link for link, _ in base} == {to_anilist}
    assert base[to_anilist, "rating"].source_value["value"] == 8


async def test_an_incremental_run_reads_only_what_changed_after_its_cursor(idx):
    providers, stores = two_shows()

    async def incremental():
        return await run_sync(
            providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
            incremental=True,
        )  # fmt: skip

    await incremental()
    providers["plex"].put_record(watched("b", 1, [12], repeat=1)[0])
    assert set((await incremental()).snapshots["plex"].entries) == {"b"}
    for rec in watched("a", 1, [4]):
        providers["plex"].put_record(rec)
    # b's change lies before the stored cursor: only a is read again.
    assert set((await incremental()).snapshots["plex"].entries) == {"a"}


async def test_undo_backs_off_through_its_sleep_and_honours_a_stop_request(idx):
    providers, stores = two_shows()
    await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        run_id="r1",
    )  # fmt: skip
    providers["anilist"].inject_failure(WriteError.RATE_LIMITED, times=1)
    sleeps = Sleeps()
    undone = await undo_run(
        providers, stores.bundle(), profile="default", run_id="r1", sleep=sleeps
    )
    assert undone.report.counts() == {"applied": 2}
    assert sleeps.delays == [1.0]
    await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        run_id="r2",
    )  # fmt: skip
    stopped = await undo_run(
        providers, stores.bundle(), profile="default", run_id="r2", sleep=nosleep,
        stop=lambda: True,
    )  # fmt: skip
    assert stopped.run.status == "interrupted"
    assert stopped.report.counts() == {"skipped": 2}
    assert len(providers["anilist"].records()) == 2  # nothing reverted


async def test_a_change_feed_that_repeats_its_cursor_fails_the_run_naming_it(idx):
    providers, stores = two_shows()
    plex = providers["plex"]
    plex.put_record(watched("a", 1, [4])[0])
    [change] = plex.changes()

    async def stuck(query):
        return Page(items=(change,), cursor="change:1")

    plex.poll_changes = stuck
    with pytest.raises(CollectError):
        await run_sync(
            providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True,
            run_id="f",
        )  # fmt: skip
    assert stores.run("f").error == (
        "CollectError: plex: change cursor 'change:1' repeated"
    )


@pytest.mark.parametrize(
    ("pair", "policy", "targets"),
    [
        (Direction.TWO_WAY, Direction.ONE_WAY, ["al", "mal"]),
        (Direction.ONE_WAY, Direction.TWO_WAY, ["mal"]),
        (None, Direction.TWO_WAY, ["al", "mal"]),
    ],
)
async def test_a_pair_s_own_direction_overrides_the_policy_s(pair, policy, targets):
    providers, stores = two_way_lists(), MemoryStores()
    result = await run_sync(
        providers, [Pair("al", "mal", pair)], Policy(direction=policy),
        stores.bundle(), index=curated(), dry_run=True,
    )  # fmt: skip
    assert sorted(a.provider for a in result.plan.actions) == targets


async def test_the_way_back_resolves_through_the_source_provider():
    providers, stores = two_way_lists(), MemoryStores()
    # AniList read without its entry 21: MAL's m21 must be resolved and fetched.
    snap = await collect(providers["al"], "al")
    del snap.entries["21"]
    providers["al"].calls.clear()
    result = await run_sync(
        providers, [Pair("al", "mal")], Policy(direction=Direction.TWO_WAY),
        stores.bundle(), index=curated(), dry_run=True, snapshots={"al": snap},
    )  # fmt: skip
    assert sorted((a.provider, a.ref.key) for a in result.plan.actions) == [
        ("al", "21"), ("mal", "m20"),
    ]  # fmt: skip
    assert "resolve" in {name for name, _ in providers["al"].calls}


async def test_a_write_found_in_place_counts_as_applied_and_a_drifted_one_as_stale(idx):
    # While the run plans, the user enters one show on the list exactly as the plan
    # writes it and the other differently. The first is in place (applied, nothing
    # sent); the second drifted since the plan (stale, not written) — neither is a
    # skip, and a dry run of the same state counts the same skips and entries in sync.
    providers, stores = two_shows()
    target = providers["anilist"]

    def meanwhile(plan):
        after = {a.ref.key: a.after for a in plan.actions}
        target.put_record(replace(list_record("100"), values=dict(after["100"])))
        target.put_record(list_record("200", status=Status.ACTIVE, progress=1))

    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep,
        on_plan=meanwhile,
    )  # fmt: skip
    assert result.report.counts() == {"unchanged": 1, "stale": 1}
    assert result.run.status == "ok"
    assert result.run.summary == {
        "planned": 2,
        "applied": 1,
        "failed": 0,
        "unknown": 0,
        "stale": 1,
        "unsent": 0,
        "skipped": 0,
        "unchanged": 0,
        "stopped": {},
        "missing": [],
    }


async def test_a_dry_run_records_the_plan_headers_skips_and_entries_in_sync(idx):
    # After a sync the user moves show a further on the list than the server: the
    # dry run's record counts one skip (the progress would move back) and one
    # entry in sync (show b) — the plan header's numbers, not its raw skip list.
    providers, stores = two_shows()
    await run_sync(providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep)
    edit(providers["anilist"], "100", progress=Progress(5, 12))
    dry = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True
    )
    assert len(dry.plan.skipped) > 2  # per-field `unchanged` skips among them
    assert dry.run.summary == {
        "planned": 0,
        "applied": 0,
        "failed": 0,
        "unknown": 0,
        "stale": 0,
        "unsent": 0,
        "skipped": 1,
        "unchanged": 1,
    }
