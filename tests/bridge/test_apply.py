from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta, timezone

import pytest
from bridge_support import (
    T0,
    Sleeps,
    curated,
    custom_index,
    history,
    library,
    nosleep,
    tracker,
    watched,
)

from anibridge.bridge.apply import INTERRUPTED, apply_plan, read_records
from anibridge.bridge.model import Action, GuardError, Plan, Policy
from anibridge.bridge.stores import JournalEntry, MemoryStores, RunRecord
from anibridge.bridge.sync import Pair, run_sync, undo_run
from anibridge.provider.base import (
    AppendEvent,
    DeleteEvent,
    DeleteRecord,
    Progress,
    Rating,
    RecordField,
    Ref,
    Status,
    SupportsRecordReads,
    SupportsRecordWrites,
    UpsertRecord,
    WriteError,
    WriteOp,
    WriteResult,
)
from anibridge.provider.semantics import WriteSemantics
from anibridge.provider.testing.memory import (
    list_capabilities,
    list_entry,
    list_record,
    memory_provider,
)

TWO = (
    'anilist:100:\n  tvdb_show:500:s1:\n    "1-12": "1-12"\n'
    'anilist:200:\n  tvdb_show:600:s1:\n    "1-12": "1-12"\n'
)


@pytest.fixture
def idx(tmp_path):
    return custom_index(tmp_path, TWO)


def setup(records_tgt=()):
    src = library(
        [
            ("a", "A", {1: 12}, ["tvdb_show:500"]),
            ("b", "B", {1: 12}, ["tvdb_show:600"]),
        ],
        watched("a", 1, range(1, 4)) + watched("b", 1, range(1, 13)),
    )
    dst = tracker(
        [("100", "A", 12, ["anilist:100"]), ("200", "B", 12, ["anilist:200"])],
        records_tgt,
    )
    return {"plex": src, "anilist": dst}, MemoryStores()


PAIR = [Pair("plex", "anilist")]


async def test_apply_then_replan_is_empty_and_journals_every_action(idx):
    providers, stores = setup()
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    assert result.report.counts() == {"applied": 2}
    rows = stores.entries(result.run.id)
    assert {r.outcome for r in rows} == {"applied"}
    assert all(r.after and r.created for r in rows)
    again = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    assert again.plan.actions == ()
    assert stores.run(result.run.id).status == "ok"


async def test_dry_run_writes_nothing(idx):
    providers, stores = setup()
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True
    )
    assert len(result.plan.actions) == 2 and result.report is None
    assert providers["anilist"].records() == ()


async def test_apply_only_approved_action_ids(idx):
    providers, stores = setup()
    preview = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True
    )
    first = next(a for a in preview.plan.actions if a.ref.key == "200")
    await run_sync(
        providers,
        PAIR,
        Policy(),
        stores.bundle(),
        index=idx,
        only={first.id},
        sleep=nosleep,
    )
    assert [r.ref.key for r in providers["anilist"].records()] == ["200"]
    with pytest.raises(KeyError, match="not in plan"):
        preview.plan.subset({"nope"})


async def test_stale_action_is_skipped_with_a_reason(idx):
    providers, stores = setup(
        [list_record("100", status=Status.ACTIVE, progress=1, updated_at=T0)]
    )
    preview = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True
    )
    # The user edits the entry between preview and apply.
    providers["anilist"].put_record(
        list_record("100", status=Status.PAUSED, progress=2, updated_at=T0)
    )
    report = await apply_plan(
        preview.plan, providers, stores, run_id="r", sleep=nosleep
    )
    stale = [o for o in report.outcomes.values() if o.action.ref.key == "100"]
    assert stale[0].outcome == "stale" and "changed since the plan" in stale[0].error
    rec = providers["anilist"].record(Ref("100"))
    assert rec.values[RecordField.STATUS].status is Status.PAUSED


async def test_action_already_in_place_is_unchanged(idx):
    providers, stores = setup()
    preview = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True
    )
    await apply_plan(preview.plan, providers, stores, run_id="r1", sleep=nosleep)
    report = await apply_plan(
        preview.plan, providers, stores, run_id="r2", sleep=nosleep
    )
    assert report.counts() == {"unchanged": 2}


async def test_rate_limited_is_retried_with_exponential_backoff(idx):
    providers, stores = setup()
    providers["anilist"].inject_failure(
        WriteError.RATE_LIMITED, ref=Ref("100"), times=2
    )
    sleeps = Sleeps()
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=sleeps
    )
    assert result.report.counts() == {"applied": 2}
    assert sleeps.delays == [1.0, 2.0]
    assert max(o.attempts for o in result.report.outcomes.values()) == 3


async def test_transient_gives_up_after_the_retry_budget(idx):
    providers, stores = setup()
    providers["anilist"].inject_failure(
        WriteError.TRANSIENT, ref=Ref("100"), times=None
    )
    sleeps = Sleeps()
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=sleeps
    )
    failed = [o for o in result.report.outcomes.values() if o.outcome == "failed"]
    assert [o.code for o in failed] == [WriteError.TRANSIENT]
    assert sleeps.delays == [1.0, 2.0, 4.0, 8.0]
    assert result.run.status == "partial"
    # baselines/links only for what succeeded: the failed pair has no @entry baseline
    assert not [
        b for b in stores.baselines("default").values() if b.source_value == "a"
    ]


async def test_conflict_rereads_and_retries_once(idx):
    providers, stores = setup()
    providers["anilist"].inject_failure(WriteError.CONFLICT, ref=Ref("200"))
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    assert result.report.counts() == {"applied": 2}


async def test_not_found_is_recorded_and_the_run_continues(idx):
    providers, stores = setup()
    providers["anilist"].inject_failure(WriteError.NOT_FOUND, ref=Ref("100"))
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    assert result.report.counts() == {"applied": 1, "failed": 1}
    row = next(r for r in stores.entries(result.run.id) if r.outcome == "failed")
    assert row.error_code == "not_found" and row.error_text


async def test_auth_failure_stops_that_provider(idx):
    providers, stores = setup()
    providers["anilist"].inject_failure(WriteError.AUTH, times=None)
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    assert "anilist" in result.report.stopped
    assert {o.code for o in result.report.outcomes.values()} == {WriteError.AUTH}


async def test_events_are_appended_at_least_once_without_doubles():
    src = library(
        [("n", "Naruto", {1: 35}, ["tvdb_show:78857"])], watched("n", 1, [1, 2])
    )
    dst = history([("t", "Naruto", {1: 35}, ["tvdb_show:78857"])])
    providers, stores = {"plex": src, "trakt": dst}, MemoryStores()
    pair = [Pair("plex", "trakt")]
    first = await run_sync(
        providers, pair, Policy(), stores.bundle(), index=curated(), sleep=nosleep
    )
    appends = [a for a in first.plan.actions if a.op is WriteOp.APPEND_EVENT]
    assert [(repr(a.ref), a.at) for a in appends] == [
        ("t:season=1,episode=1", T0),
        ("t:season=1,episode=2", T0 + timedelta(hours=1)),
    ]
    assert len(dst.events()) == 2
    # The exact `at` is reused: a re-run plans nothing, and a replayed apply is
    # stopped by the journal before it reaches the target.
    again = await run_sync(
        providers, pair, Policy(), stores.bundle(), index=curated(), sleep=nosleep
    )
    assert again.plan.actions == ()
    report = await apply_plan(
        first.plan, providers, stores, run_id="replay", sleep=nosleep
    )
    assert report.counts() == {"unchanged": 2}
    assert len(dst.events()) == 2


async def test_plays_are_written_before_the_records_of_the_same_batch():
    src_rating = list_record(Ref("n"), rating=8, rating_scale=(0.0, 10.0, 1.0))
    src = library(
        [("n", "Naruto", {1: 35}, ["tvdb_show:78857"])],
        [*watched("n", 1, [1]), src_rating],
    )
    dst = history([("t", "Naruto", {1: 35}, ["tvdb_show:78857"])])
    providers, stores = {"plex": src, "trakt": dst}, MemoryStores()
    result = await run_sync(
        providers, [Pair("plex", "trakt")], Policy(), stores.bundle(),
        index=curated(), sleep=nosleep,
    )  # fmt: skip
    ops = {a.op for a in result.plan.actions}
    assert {WriteOp.APPEND_EVENT, WriteOp.UPSERT_RECORD} <= ops
    writes = [name for name, _ in dst.calls if name.startswith("write_")]
    assert writes == ["write_events", "write_records"]


async def test_guard_refuses_mass_deletion_unless_forced(idx):
    providers, stores = setup()
    await run_sync(providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep)
    providers["plex"].remove_node(Ref("a"))
    for r in list(providers["plex"].records()):
        if r.ref.key == "a":
            providers["plex"].remove_record(r.ref)
    policy = Policy(allow_deletes=True)
    with pytest.raises(GuardError, match="delete or clear 1 of 2"):
        await run_sync(
            providers, PAIR, policy, stores.bundle(), index=idx, sleep=nosleep
        )
    assert stores.runs("default")[0].status == "refused"
    forced = await run_sync(
        providers,
        PAIR,
        replace(policy, force=True),
        stores.bundle(),
        index=idx,
        sleep=nosleep,
    )
    assert [a.op for a in forced.plan.actions] == [WriteOp.DELETE_RECORD]
    assert providers["anilist"].record(Ref("100")) is None


async def test_deletes_off_never_delete(idx):
    providers, stores = setup()
    await run_sync(providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep)
    for r in list(providers["plex"].records()):
        providers["plex"].remove_record(r.ref)
    result = await run_sync(
        providers,
        PAIR,
        Policy(max_delete_fraction=1.0),
        stores.bundle(),
        index=idx,
        sleep=nosleep,
    )
    assert result.plan.actions == ()
    assert len(providers["anilist"].records()) == 2


async def test_empty_source_is_refused(idx):
    providers, stores = setup()
    await run_sync(providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep)
    for r in list(providers["plex"].records()):
        providers["plex"].remove_record(r.ref)
    for n in list(providers["plex"].nodes()):
        providers["plex"].remove_node(n.ref)
    with pytest.raises(GuardError, match="returned nothing"):
        await run_sync(
            providers,
            PAIR,
            Policy(allow_deletes=True, max_delete_fraction=1.0),
            stores.bundle(),
            index=idx,
            sleep=nosleep,
        )


async def test_undo_run_restores_and_removes_created_entries(idx):
    providers, stores = setup(
        [list_record("200", status=Status.ACTIVE, progress=2, updated_at=T0)]
    )
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    assert providers["anilist"].record(Ref("100")) is not None
    undo = await undo_run(
        providers,
        stores.bundle(),
        profile="default",
        run_id=result.run.id,
        sleep=nosleep,
    )
    assert undo.report.counts() == {"applied": 2}
    assert providers["anilist"].record(Ref("100")) is None  # created by the run
    rec = providers["anilist"].record(Ref("200"))
    assert rec.values[RecordField.STATUS].status is Status.ACTIVE
    assert rec.values[RecordField.PROGRESS] == Progress(2)
    assert RecordField.FINISHED_AT not in rec.values
    assert {r.undoes for r in stores.entries(undo.run.id)} == {
        a.id for a in result.plan.actions
    }


async def test_undo_refuses_fields_changed_since_the_run(idx):
    providers, stores = setup(
        [list_record("200", status=Status.ACTIVE, progress=2, updated_at=T0)]
    )
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    rec = providers["anilist"].record(Ref("200"))
    values = dict(rec.values)
    values[RecordField.PROGRESS] = Progress(11)
    providers["anilist"].put_record(replace(rec, values=values))
    action = next(a for a in result.plan.actions if a.ref.key == "200")
    undo = await undo_run(
        providers,
        stores.bundle(),
        profile="default",
        action_id=action.id,
        sleep=nosleep,
    )
    assert [s.reason.value for s in undo.plan.skipped] == ["stale"]
    after = providers["anilist"].record(Ref("200")).values
    assert after[RecordField.PROGRESS] == Progress(11)  # newer data kept
    assert after[RecordField.STATUS].status is Status.ACTIVE  # the rest restored


async def test_undo_keeps_a_created_entry_the_user_added_data_to(idx):
    providers, stores = setup(
        [list_record("200", status=Status.ACTIVE, progress=2, updated_at=T0)]
    )
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep
    )
    created = providers["anilist"].record(Ref("100"))
    assert created is not None
    values = dict(created.values)
    values[RecordField.RATING] = Rating(70, (0.0, 100.0, 1.0))
    values[RecordField.NOTES] = "loved the ending"
    providers["anilist"].put_record(replace(created, values=values))
    undo = await undo_run(
        providers,
        stores.bundle(),
        profile="default",
        run_id=result.run.id,
        sleep=nosleep,
    )
    kept = providers["anilist"].record(Ref("100"))
    assert kept is not None  # the user's rating and notes survive
    assert kept.values[RecordField.NOTES] == "loved the ending"
    assert kept.values[RecordField.RATING].value == 70
    refused = [s for s in undo.plan.skipped if s.ref.key == "100"]
    assert [s.reason.value for s in refused] == ["stale"]
    assert "notes, rating" in refused[0].detail
    # The rest of the run is still reverted.
    assert undo.report.counts() == {"applied": 1}
    assert providers["anilist"].record(Ref("200")).values[
        RecordField.PROGRESS
    ] == Progress(2)


async def test_incremental_sync_reads_only_touched_anchors_and_keeps_cursor_on_failure(
    idx,
):
    providers, stores = setup()
    first = await run_sync(
        providers,
        PAIR,
        Policy(),
        stores.bundle(),
        index=idx,
        sleep=nosleep,
        incremental=True,
    )
    assert first.report.counts() == {"applied": 2}
    cursor = stores.cursor("default", "plex")
    assert cursor is not None
    # Nothing changed: nothing is read beyond the feed, nothing planned.
    quiet = await run_sync(
        providers,
        PAIR,
        Policy(),
        stores.bundle(),
        index=idx,
        sleep=nosleep,
        incremental=True,
    )
    assert quiet.snapshots["plex"].entries == {} and quiet.plan.actions == ()
    before_failure = stores.cursor("default", "plex")
    for rec in watched("a", 1, [4, 5]):
        providers["plex"].put_record(rec)
    providers["anilist"].inject_failure(WriteError.INVALID, times=1)
    failed = await run_sync(
        providers,
        PAIR,
        Policy(),
        stores.bundle(),
        index=idx,
        sleep=nosleep,
        incremental=True,
    )
    assert set(failed.snapshots["plex"].entries) == {"a"}
    assert failed.report.counts() == {"failed": 1}
    kept = stores.cursor("default", "plex")
    assert kept == before_failure
    retry = await run_sync(
        providers,
        PAIR,
        Policy(),
        stores.bundle(),
        index=idx,
        sleep=nosleep,
        incremental=True,
    )
    assert [a.ref.key for a in retry.plan.actions] == ["100"]
    assert retry.report.counts() == {"applied": 1}
    assert stores.cursor("default", "plex") != kept


async def test_approved_ids_the_state_no_longer_produces_are_reported(idx):
    providers, stores = setup()
    preview = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, dry_run=True
    )
    ids = {a.id for a in preview.plan.actions}
    for rec in watched("a", 1, [4]):
        providers["plex"].put_record(rec)  # entry "a" changes: its action id changes
    result = await run_sync(
        providers, PAIR, Policy(), stores.bundle(), index=idx, only=ids, sleep=nosleep
    )
    assert len(result.run.summary["missing"]) == 1
    assert result.report.counts() == {"applied": 1}
    assert result.run.status == "partial"


async def test_a_failing_provider_read_marks_the_run_failed(idx):
    providers, stores = setup()
    providers["plex"].inject_exception(RuntimeError("server down"), method="scan")
    with pytest.raises(RuntimeError, match="server down"):
        await run_sync(providers, PAIR, Policy(), stores.bundle(), index=idx)
    (run,) = stores.runs("default")
    assert run.status == "failed" and "server down" in run.error


async def test_writes_are_batched_per_provider_config(idx):
    providers, stores = setup()
    providers["anilist"].config["write_batch_size"] = 1
    await run_sync(providers, PAIR, Policy(), stores.bundle(), index=idx, sleep=nosleep)
    writes = [c for c, _ in providers["anilist"].calls if c == "write_records"]
    assert len(writes) == 2


# -- hand-built plans: each rule of bridge.apply, seen from outside --------------------
#
# The plans below are written by hand (not planned) so each test can aim at one rule
# of `apply_plan`: what it sends, what it journals (and when), what it reports.


class JournalLog(MemoryStores):
    """The real in-memory journal, also keeping every `record` call in order."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[list[tuple[str, str]]] = []

    def record(self, entries):
        entries = list(entries)
        self.writes.append([(e.action_id, e.outcome) for e in entries])
        super().record(entries)


def lists(records=(), keys=("100", "200"), **kwargs):
    nodes = [list_entry(k, k, episodes=12) for k in keys]
    return memory_provider(list_capabilities(), nodes=nodes, records=records, **kwargs)


def upsert(key="100", *, before=None, after=None, clear=(), **kwargs):
    return Action(
        "anilist", WriteOp.UPSERT_RECORD, Ref(key), before=before or {},
        after=after or {}, clear=frozenset(clear), **kwargs,
    )  # fmt: skip


def sent(provider, call="write_records"):
    """Every write the provider was sent through `call`, in order."""
    return [w for name, ws in provider.calls if name == call for w in ws]


async def apply(actions, providers, stores=None, **kwargs):
    stores = stores if stores is not None else JournalLog()
    kwargs.setdefault("sleep", nosleep)
    report = await apply_plan(
        Plan("p", tuple(actions)), providers, stores, run_id="r", **kwargs
    )
    return report, stores


NOTES = RecordField.NOTES
REPEAT = RecordField.REPEAT_COUNT


async def test_a_journal_row_holds_the_action_and_its_outcome():
    target = lists([list_record("100", notes="old", repeat=1, updated_at=T0)])
    action = upsert(
        before={NOTES: "old", REPEAT: 1}, after={NOTES: "new"}, clear={REPEAT},
        reason="notes differ", link="L1",
    )  # fmt: skip
    report, stores = await apply(
        [action], {"anilist": target}, undoes={action.id: "orig"}
    )
    (row,) = stores.entries("r")
    assert row.started_at and row.finished_at and row.started_at <= row.finished_at
    assert replace(row, started_at="", finished_at="") == JournalEntry(
        run_id="r", action_id=action.id, provider="anilist",
        ref={"key": "100", "path": []}, op="upsert_record", kind="",
        before={"notes": "old", "repeat_count": 1}, after={"notes": "new"},
        clear=["repeat_count"], at=None, outcome="applied", error_code=None,
        error_text=None, started_at="", finished_at="", link="L1", created=False,
        reason="notes differ", attempts=1, undoes="orig",
    )  # fmt: skip
    # What was sent: the fresh revision, the action id as token, set and clear.
    assert sent(target) == [
        UpsertRecord(
            Ref("100"), kind="", key=None, token=action.id, expected_revision="1",
            set={NOTES: "new"}, clear=frozenset({REPEAT}),
        )
    ]  # fmt: skip
    assert dict(target.record(Ref("100")).values) == {NOTES: "new"}
    (outcome,) = report.outcomes.values()
    assert outcome.ok and report.succeeded == [action]
    # The intent first (pending), then the outcome: two journal writes.
    assert stores.writes == [[(action.id, "pending")], [(action.id, "applied")]]


async def test_the_planned_key_and_revision_are_sent_to_a_target_that_cannot_read():
    # A target that cannot read records back: no fresh read, the plan's revision
    # and record key are sent as they are.
    writes_only = memory_provider(
        list_capabilities(), mixins=(SupportsRecordWrites,),
        nodes=[list_entry("100", "A")],
        records=[list_record("100", notes="old")],
    )  # fmt: skip
    key = writes_only.records()[0].key
    action = upsert(after={NOTES: "new"}, record_key=key, revision="1")
    report, _ = await apply([action], {"anilist": writes_only})
    assert report.counts() == {"applied": 1}
    (write,) = sent(writes_only)
    assert write.key == key and write.expected_revision == "1"
    assert not [name for name, _ in writes_only.calls if name == "fetch_records"]


async def test_a_delete_of_a_record_already_gone_is_unchanged_and_not_sent():
    target = lists([list_record("200", notes="x")])
    gone = Action("anilist", WriteOp.DELETE_RECORD, Ref("100"))
    there = Action("anilist", WriteOp.DELETE_RECORD, Ref("200"), before={NOTES: "x"})
    report, stores = await apply([gone, there], {"anilist": target})
    assert [(o.outcome, o.error) for o in report.outcomes.values()] == [
        ("unchanged", "already gone"),
        ("applied", None),
    ]
    assert sent(target) == [DeleteRecord(Ref("200"), kind="", token=there.id)]
    assert target.records() == ()
    # The skipped one is journaled after the batch, with its reason.
    assert stores.writes == [
        [(there.id, "pending")],
        [(there.id, "applied")],
        [(gone.id, "unchanged")],
    ]


async def test_a_delete_of_a_record_unchanged_since_the_plan_deletes_it():
    target = lists([list_record("100", status=Status.ACTIVE, progress=3, notes="n")])
    planned = Action(
        "anilist", WriteOp.DELETE_RECORD, Ref("100"),
        before=dict(target.record(Ref("100")).values),
    )  # fmt: skip
    report, stores = await apply([planned], {"anilist": target})
    assert report.counts() == {"applied": 1}
    assert sent(target) == [DeleteRecord(Ref("100"), kind="", token=planned.id)]
    assert target.records() == ()
    assert stores.writes == [[(planned.id, "pending")], [(planned.id, "applied")]]


async def test_a_delete_of_a_record_edited_since_the_plan_is_stale_and_kept():
    # Planned while the entry was at episode 3; the user watched one more since.
    target = lists([list_record("100", status=Status.ACTIVE, progress=3, notes="n")])
    planned = Action(
        "anilist", WriteOp.DELETE_RECORD, Ref("100"),
        before=dict(target.record(Ref("100")).values),
    )  # fmt: skip
    # Two fields changed: the first by name is the one reported.
    target.put_record(list_record("100", status=Status.ACTIVE, progress=4, notes="m"))
    report, stores = await apply([planned], {"anilist": target})
    (o,) = report.outcomes.values()
    assert (o.outcome, o.code, o.error, o.attempts) == (
        "stale", None,
        "notes changed since the plan ('n' -> 'm')",
        0,
    )  # fmt: skip
    assert report.succeeded == []
    assert sent(target) == []
    assert target.record(Ref("100")).values[RecordField.PROGRESS] == Progress(4)
    assert stores.writes == [[(planned.id, "stale")]]
    (row,) = stores.entries("r")
    assert (row.op, row.outcome, row.error_text) == (
        "delete_record", "stale", o.error
    )  # fmt: skip


async def test_a_delete_is_stale_when_a_field_is_set_or_cleared_since_the_plan():
    # A first score given since the plan is an edit the delete would destroy.
    target = lists([list_record("100", notes="n")])
    planned = Action("anilist", WriteOp.DELETE_RECORD, Ref("100"), before={NOTES: "n"})
    target.put_record(list_record("100", notes="n", rating=80))
    report, _ = await apply([planned], {"anilist": target})
    assert [(o.outcome, o.error) for o in report.outcomes.values()] == [
        ("stale", "rating changed since the plan (None -> {'value': 80, 'scale': "
                  "[0.0, 100.0, 1.0]})"),
    ]  # fmt: skip
    # So is a value the plan saw that is gone now.
    target.put_record(list_record("100", rating=80))
    scored = Action(
        "anilist", WriteOp.DELETE_RECORD, Ref("100"),
        before={NOTES: "n", RecordField.RATING: Rating(80, (0.0, 100.0, 1.0))},
    )  # fmt: skip
    report, _ = await apply([scored], {"anilist": target})
    assert [(o.outcome, o.error) for o in report.outcomes.values()] == [
        ("stale", "notes changed since the plan ('n' -> None)")
    ]
    assert target.record(Ref("100")) is not None and sent(target) == []


async def test_a_delete_ignores_representation_and_fields_the_target_does_not_declare():
    # The same instant in another zone is no change; a field outside the target's
    # declared ones was never in the plan's read, so it is no overlooked edit.
    tokyo = timezone(timedelta(hours=9))
    undeclared = replace(
        list_capabilities(),
        record_fields={
            f: spec
            for f, spec in list_capabilities().record_fields.items()
            if f is not NOTES
        },
    )
    target = memory_provider(
        undeclared, nodes=[list_entry("100", "100", episodes=12)],
        records=[list_record("100", started=T0, notes="from elsewhere")],
    )  # fmt: skip
    planned = Action(
        "anilist", WriteOp.DELETE_RECORD, Ref("100"),
        before={RecordField.STARTED_AT: T0.astimezone(tokyo)},
    )  # fmt: skip
    report, _ = await apply([planned], {"anilist": target})
    assert report.counts() == {"applied": 1}
    assert target.records() == ()


async def test_a_delete_answered_conflict_is_stale_if_a_score_was_given_meanwhile():
    target = lists([list_record("100", notes="n")])
    target.inject_failure(WriteError.CONFLICT, times=1)
    planned = Action("anilist", WriteOp.DELETE_RECORD, Ref("100"), before={NOTES: "n"})
    original = target.write_records

    async def scored_first(writes):
        target.put_record(list_record("100", notes="n", rating=80))
        return await original(writes)

    target.write_records = scored_first
    report, _ = await apply([planned], {"anilist": target})
    (o,) = report.outcomes.values()
    assert (o.outcome, o.code, o.attempts) == ("stale", WriteError.CONFLICT, 1)
    assert o.error.startswith("rating changed since the plan (None -> ")
    assert target.record(Ref("100")).values[RecordField.RATING].value == 80


async def test_an_upsert_in_place_is_unchanged_unless_a_field_to_clear_is_set():
    target = lists(
        [list_record("100", notes="n", repeat=2), list_record("200", notes="n")]
    )
    in_place = upsert("100", before={NOTES: "n"}, after={NOTES: "n"})
    # `after` holds, but a field the action clears is still set: it is written.
    must_clear = upsert(
        "100", before={NOTES: "n", REPEAT: 2}, after={NOTES: "n"}, clear={REPEAT}
    )
    report, _ = await apply([in_place], {"anilist": target})
    assert [(o.outcome, o.error) for o in report.outcomes.values()] == [
        ("unchanged", "already in place")
    ]
    report, _ = await apply([must_clear], {"anilist": target})
    assert report.counts() == {"applied": 1}
    assert REPEAT not in target.record(Ref("100")).values


async def test_an_upsert_is_in_place_only_when_every_field_it_sets_is():
    target = lists([list_record("100", notes="n", repeat=1)])
    half = upsert(before={NOTES: "n", REPEAT: 1}, after={NOTES: "n", REPEAT: 2})
    report, _ = await apply([half], {"anilist": target})
    assert report.counts() == {"applied": 1}
    assert target.record(Ref("100")).values[REPEAT] == 2


async def test_a_stale_action_names_the_field_and_both_values():
    target = lists([list_record("100", notes="edited", repeat=1)])
    action = upsert(before={NOTES: "old", REPEAT: 1}, after={NOTES: "new"})
    report, stores = await apply([action], {"anilist": target})
    (o,) = report.outcomes.values()
    assert (o.outcome, o.code, o.error) == (
        "stale", None, "notes changed since the plan ('old' -> 'edited')"
    )  # fmt: skip
    assert sent(target) == [] and o.attempts == 0
    (row,) = stores.entries("r")
    assert (row.outcome, row.error_text) == ("stale", o.error)
    # A field the plan saw unset that is set now is a change too, and vice versa.
    unset_then = upsert(before={NOTES: "edited"}, after={NOTES: "x"}, clear={REPEAT})
    report, _ = await apply([unset_then], {"anilist": target})
    assert [o.error for o in report.outcomes.values()] == [
        "repeat_count changed since the plan (None -> 1)"
    ]
    rated = {
        NOTES: "edited",
        REPEAT: 1,
        RecordField.RATING: Rating(5, (0.0, 100.0, 1.0)),
    }
    gone_since = upsert(before=rated, after={NOTES: "y"})
    report, _ = await apply([gone_since], {"anilist": target})
    assert [o.error for o in report.outcomes.values()] == [
        "rating changed since the plan ({'value': 5, 'scale': [0.0, 100.0, 1.0]}"
        " -> None)"
    ]


async def test_a_created_entry_that_appeared_since_the_plan_is_stale():
    target = lists([list_record("100", notes="someone else's")])
    create = upsert(after={NOTES: "mine"}, created=True)
    report, _ = await apply([create], {"anilist": target})
    assert [(o.outcome, o.error) for o in report.outcomes.values()] == [
        ("stale", 'notes changed since the plan (None -> "someone else\'s")')
    ]
    # Even when it holds none of the fields the action touches.
    target.put_record(list_record("100", repeat=4))
    report, _ = await apply([create], {"anilist": target})
    assert [(o.outcome, o.error) for o in report.outcomes.values()] == [
        ("stale", "an entry appeared since the plan")
    ]
    # Not there: created.
    fresh = upsert("200", after={NOTES: "mine"}, created=True)
    report, _ = await apply([fresh], {"anilist": target})
    assert report.counts() == {"applied": 1}
    assert target.record(Ref("200")).values[NOTES] == "mine"


async def test_an_upsert_onto_a_record_the_plan_saw_missing_is_sent_without_revision():
    # The plan saw no record and set nothing in `before`: nothing changed since.
    target = lists()
    action = upsert(after={NOTES: "n"})
    report, _ = await apply([action], {"anilist": target})
    assert report.counts() == {"applied": 1}
    (write,) = sent(target)
    assert write.expected_revision is None


async def test_actions_for_an_unknown_provider_fail_and_are_journaled():
    action = Action("gone", WriteOp.DELETE_RECORD, Ref("100"))
    report, stores = await apply([action], {})
    (o,) = report.outcomes.values()
    assert (o.outcome, o.code, o.error) == (
        "failed", WriteError.INTERNAL, "no provider 'gone'"
    )  # fmt: skip
    assert o.finished_at
    (row,) = stores.entries("r")
    assert (row.outcome, row.error_code, row.error_text, row.provider) == (
        "failed", "internal", "no provider 'gone'", "gone"
    )  # fmt: skip


def answering(provider, *answers, call="write_records"):
    """Make `call` land the writes, then answer with the next of `answers`.

    Each answer is a function of the writes giving the results (or raising); the
    real results are passed to it so it can keep or replace them.
    """
    original = getattr(provider, call)
    queue = list(answers)

    async def write(writes):
        results = await original(writes)
        return queue.pop(0)(writes, results) if queue else results

    setattr(provider, call, write)


def lost(code=None, error=None):
    """Answer every write with a failure that does not say whether it landed."""

    def answer(writes, results):
        return [WriteResult(False, r.op, code=code, error=error) for r in results]

    return answer


async def test_writes_go_in_batches_of_the_providers_size_else_the_given_one():
    actions = [upsert(k, after={NOTES: "n"}) for k in ("100", "200", "300")]
    for config, calls in ((1, 3), (0, 2), ("1", 2), (None, 2)):
        target = lists(keys=("100", "200", "300"))
        if config is not None:
            target.config["write_batch_size"] = config
        report, stores = await apply(actions, {"anilist": target}, batch_size=2)
        assert report.counts() == {"applied": 3}
        batches = [ws for name, ws in target.calls if name == "write_records"]
        assert [len(b) for b in batches] == ([1, 1, 1] if calls == 3 else [2, 1])
        # Each batch: its intents, then its outcomes.
        assert [len(w) for w in stores.writes] == (
            [1, 1, 1, 1, 1, 1] if calls == 3 else [2, 2, 1, 1]
        )


async def test_the_default_batch_is_fifty_writes():
    keys = [str(n) for n in range(51)]
    target = lists(keys=keys)
    report, _ = await apply([upsert(k, after={NOTES: "n"}) for k in keys],
                            {"anilist": target})  # fmt: skip
    assert report.counts() == {"applied": 51}
    batches = [ws for name, ws in target.calls if name == "write_records"]
    assert [len(b) for b in batches] == [50, 1]


async def test_fresh_records_are_read_in_chunks_of_a_hundred_refs_every_page():
    keys = [str(n) for n in range(130)]
    records = [list_record(k, notes=k) for k in keys]
    records.append(list_record("5", notes="other kind", kind="watchlist"))
    target = lists(records, keys=keys, page_size=7)
    actions = [upsert(k, after={NOTES: k}) for k in keys]
    actions.append(actions[0])  # a ref twice is read once
    fetch = target.fetch_records

    async def bounded(query):
        # A read that never reaches the last page fails here instead of hanging.
        assert len(target.calls) < 40, "paging never ends"
        return await fetch(query)

    target.fetch_records = bounded
    fresh = await read_records(target, actions)
    assert {k: r.values[NOTES] for k, r in fresh.items()} == {
        **{(k, ""): k for k in keys}, ("5", "watchlist"): "other kind"
    }  # fmt: skip
    queries = [q for name, q in target.calls if name == "fetch_records"]
    assert [len(q.refs) for q in queries if q.cursor is None] == [100, 30]
    assert all(q.fields == frozenset(RecordField) for q in queries)
    assert len(queries) == 15 + 5  # 100 refs: 15 pages of 7; 30 (+1 kind): 5
    # A provider that cannot read records gives nothing to compare with.
    writes_only = memory_provider(list_capabilities(), mixins=(SupportsRecordWrites,))
    assert await read_records(writes_only, actions) == {}


async def test_rate_limits_back_off_from_the_given_delay_until_the_budget_is_out():
    target = lists()
    target.inject_failure(WriteError.RATE_LIMITED, ref=Ref("100"), times=None)
    sleeps = Sleeps()
    action = upsert(after={NOTES: "n"})
    other = upsert("200", after={NOTES: "n"})
    report, stores = await apply(
        [action, other], {"anilist": target}, sleep=sleeps, retries=2, backoff=0.5
    )
    assert sleeps.delays == [0.5, 1.0]
    o = report.outcomes[action.id]
    assert (o.outcome, o.code, o.error, o.attempts) == (
        "failed", WriteError.RATE_LIMITED, "injected rate_limited failure", 3
    )  # fmt: skip
    assert report.outcomes[other.id].attempts == 1  # only the failed one is resent
    assert [len(ws) for name, ws in target.calls if name == "write_records"] == [
        2, 1, 1
    ]  # fmt: skip
    row = next(r for r in stores.entries("r") if r.action_id == action.id)
    assert (row.outcome, row.error_code, row.attempts) == ("failed", "rate_limited", 3)
    # No retries: one attempt, no sleep.
    sleeps = Sleeps()
    report, _ = await apply([action], {"anilist": target}, sleep=sleeps, retries=0)
    assert sleeps.delays == [] and report.outcomes[action.id].attempts == 1


async def test_a_rate_limited_unrepeatable_write_is_retried_a_transient_one_is_not():
    src_show = [("t", "Naruto", {1: 2}, ["tvdb_show:78857"])]
    for code, outcome, attempts in (
        (WriteError.RATE_LIMITED, "applied", 2),
        (WriteError.TRANSIENT, "unknown", 1),
    ):
        dst = history(src_show)
        dst.write_semantics = lambda: WriteSemantics(
            frozenset({WriteOp.APPEND_EVENT}), timedelta(hours=1)
        )
        dst.inject_failure(code, times=1)
        play = Action("trakt", WriteOp.APPEND_EVENT, Ref.at("t", ("season", 1),
                      ("episode", 1)), kind="watch", at=T0)  # fmt: skip
        report, _ = await apply([play], {"trakt": dst})
        (o,) = report.outcomes.values()
        assert (o.outcome, o.attempts) == (outcome, attempts)


async def test_a_conflict_is_retried_once_with_the_revision_read_again():
    target = lists([list_record("100", notes="old", repeat=1)])
    action = upsert(before={NOTES: "old"}, after={NOTES: "new"})

    original = target.write_records
    calls = 0

    async def edited_first(writes):
        nonlocal calls
        calls += 1
        if calls == 1:
            rec = target.record(Ref("100"))
            values = {**rec.values, REPEAT: 2}
            target.put_record(replace(rec, revision="7", values=values))
        return await original(writes)

    target.write_records = edited_first
    report, _ = await apply([action], {"anilist": target})
    (o,) = report.outcomes.values()
    assert (o.outcome, o.code, o.attempts) == ("applied", None, 2)
    assert [w.expected_revision for w in sent(target)] == ["1", "7"]
    assert target.record(Ref("100")).values == {NOTES: "new", REPEAT: 2}


async def test_a_conflict_on_an_overwritten_field_is_stale_and_a_second_one_fails():
    target = lists([list_record("100", notes="old")])
    action = upsert(before={NOTES: "old"}, after={NOTES: "new"})
    original = target.write_records

    async def edited_first(writes):
        target.put_record(replace(target.record(Ref("100")), revision="9",
                                  values={NOTES: "theirs"}))  # fmt: skip
        return await original(writes)

    target.write_records = edited_first
    report, stores = await apply([action], {"anilist": target})
    (o,) = report.outcomes.values()
    assert (o.outcome, o.code, o.error) == (
        "stale", WriteError.CONFLICT,
        "notes changed since the plan ('old' -> 'theirs')",
    )  # fmt: skip
    assert target.record(Ref("100")).values == {NOTES: "theirs"}
    assert [(r.outcome, r.error_code) for r in stores.entries("r")] == [
        ("stale", "conflict")
    ]
    # Conflicting again after the re-read: failed, not retried a third time.
    target = lists([list_record("100", notes="old")])
    target.inject_failure(WriteError.CONFLICT, times=None)
    report, _ = await apply([action], {"anilist": target}, sleep=Sleeps())
    (o,) = report.outcomes.values()
    assert (o.outcome, o.code, o.attempts) == ("failed", WriteError.CONFLICT, 2)
    # A conflict on a record that vanished meanwhile: sent without a revision.
    target = lists([list_record("100", repeat=1)])
    target.inject_failure(WriteError.CONFLICT, times=1)
    create = upsert(after={NOTES: "new"})
    original = target.write_records

    async def removed(writes):
        if target.record(Ref("100")) is not None:
            target.remove_record(Ref("100"))
        return await original(writes)

    target.write_records = removed
    report, _ = await apply([create], {"anilist": target})
    assert [w.expected_revision for w in sent(target)] == ["1", None]
    assert report.counts() == {"applied": 1}


async def test_an_auth_failure_stops_every_later_write_to_that_provider_only():
    target = lists(keys=("100", "200", "300"))
    target.config["write_batch_size"] = 1
    target.inject_failure(WriteError.AUTH, ref=Ref("100"), error="token expired")
    other = tracker([("100", "A", 12, ["anilist:100"])])
    actions = [upsert(k, after={NOTES: "n"}) for k in ("100", "200", "300")]
    elsewhere = replace(actions[0], provider="mal")
    report, stores = await apply([*actions, elsewhere], {"anilist": target,
                                                          "mal": other})  # fmt: skip
    assert report.stopped == {"anilist": "token expired"}
    assert not report.interrupted  # stopped by the provider, not by a stop request
    assert [(o.outcome, o.code, o.error) for o in report.outcomes.values()] == [
        ("failed", WriteError.AUTH, "token expired"),
        ("skipped", WriteError.AUTH, "token expired"),
        ("skipped", WriteError.AUTH, "token expired"),
        ("applied", None, None),
    ]
    assert len(sent(target)) == 1 and len(sent(other)) == 1
    assert [(r.outcome, r.error_code) for r in stores.entries("r")] == [
        ("failed", "auth"), ("skipped", "auth"), ("skipped", "auth"),
        ("applied", None),
    ]  # fmt: skip


async def test_an_auth_failure_skips_the_retries_of_its_batch_and_names_the_provider():
    target = lists()
    answering(target, lambda writes, results: [
        WriteResult(False, WriteOp.UPSERT_RECORD, code=WriteError.AUTH),
        WriteResult(False, WriteOp.UPSERT_RECORD, code=WriteError.RATE_LIMITED),
    ])  # fmt: skip
    sleeps = Sleeps()
    actions = [upsert(k, after={NOTES: "n"}) for k in ("100", "200")]
    report, _ = await apply(actions, {"anilist": target}, sleep=sleeps)
    assert report.stopped == {"anilist": "anilist: authentication"}
    assert [(o.outcome, o.code, o.error) for o in report.outcomes.values()] == [
        ("failed", WriteError.AUTH, None),
        ("skipped", WriteError.AUTH, "anilist: authentication"),
    ]
    assert sleeps.delays == [] and len(sent(target)) == 2


async def test_a_stop_request_is_asked_before_every_batch():
    target = lists(keys=("100", "200", "300"))
    target.config["write_batch_size"] = 1
    asked = []

    def stop():
        asked.append(len(sent(target)))
        return len(asked) > 1

    actions = [upsert(k, after={NOTES: "n"}) for k in ("100", "200", "300")]
    report, stores = await apply(actions, {"anilist": target}, stop=stop)
    assert asked == [0, 1, 1]
    assert report.interrupted and report.stopped == {}
    assert [(o.outcome, o.code, o.error) for o in report.outcomes.values()] == [
        ("applied", None, None),
        ("skipped", None, INTERRUPTED),
        ("skipped", None, INTERRUPTED),
    ]
    assert [(r.outcome, r.error_text) for r in stores.entries("r")] == [
        ("applied", None), ("skipped", INTERRUPTED), ("skipped", INTERRUPTED)
    ]  # fmt: skip
    report, _ = await apply(actions, {"anilist": lists()})
    assert not report.interrupted  # no stop request: never interrupted


async def test_a_write_without_an_answer_code_is_confirmed_by_a_reread():
    # Landed, but answered "not ok" without a code: the re-read says applied.
    target = lists()
    answering(target, lost())
    action = upsert(after={NOTES: "n"}, created=True)
    report, stores = await apply([action], {"anilist": target})
    (o,) = report.outcomes.values()
    assert (o.outcome, o.code, o.error) == ("applied", None, None)
    assert stores.writes == [
        [(action.id, "pending")], [(action.id, "applied")]
    ]  # fmt: skip
    # Not landed: failed with the code it was given (INTERNAL when none).
    target = lists()
    target.inject_failure(WriteError.INTERNAL, error="server error 500")
    report, _ = await apply([action], {"anilist": target})
    (o,) = report.outcomes.values()
    assert (o.outcome, o.code, o.error) == (
        "failed", WriteError.INTERNAL, "server error 500"
    )  # fmt: skip
    assert o.attempts == 1  # INTERNAL is not retried


async def test_a_lost_answer_that_did_not_land_keeps_its_code_or_says_no_answer():
    target = lists()

    async def nothing(writes):
        return [WriteResult(False, WriteOp.UPSERT_RECORD) for _ in writes]

    target.write_records = nothing
    create = upsert(after={NOTES: "n"}, created=True)
    report, _ = await apply([create], {"anilist": target})
    (o,) = report.outcomes.values()
    assert (o.outcome, o.code, o.error) == (
        "failed", WriteError.INTERNAL, "not applied (re-read): no answer"
    )  # fmt: skip


async def test_an_unsettled_append_keeps_its_error_and_the_reread_detail():
    dst = history([("t", "Naruto", {1: 2}, ["tvdb_show:78857"])])
    dst.write_semantics = lambda: WriteSemantics(
        frozenset({WriteOp.APPEND_EVENT}), timedelta(hours=1)
    )
    ep = Ref.at("t", ("season", 1), ("episode", 1))
    play = Action("trakt", WriteOp.APPEND_EVENT, ep, kind="watch", at=T0)
    for error, first in (("read timeout", "read timeout"), (None, "no answer")):

        async def timed_out(writes, error=error):
            return [WriteResult(False, WriteOp.APPEND_EVENT,
                                code=WriteError.TRANSIENT, error=error)
                    for _ in writes]  # fmt: skip

        dst.write_events = timed_out
        report, stores = await apply([play], {"trakt": dst})
        (o,) = report.outcomes.values()
        assert o.outcome == "unknown" and o.code is WriteError.TRANSIENT
        assert o.error.startswith(f"{first}; not seen on the target yet")
        (row,) = stores.entries("r")
        assert (row.outcome, row.error_text, row.at) == (
            "unknown", o.error, T0.isoformat()
        )  # fmt: skip


async def test_an_unreadable_target_leaves_a_lost_write_unknown():
    target = lists()

    def then_unreadable(writes, results):
        target.inject_exception(RuntimeError("down"), method="fetch_records")
        return lost(WriteError.TRANSIENT, "timeout")(writes, results)

    answering(target, *[then_unreadable] * 5)
    action = upsert(after={NOTES: "n"})
    report, stores = await apply([action], {"anilist": target}, retries=0)
    (o,) = report.outcomes.values()
    assert (o.outcome, o.code, o.error) == ("unknown", WriteError.TRANSIENT, "timeout")
    (row,) = stores.entries("r")
    assert (row.outcome, row.error_code, row.error_text) == (
        "unknown", "transient", "timeout"
    )  # fmt: skip


async def test_a_raising_or_miscounting_provider_is_an_internal_error_per_write():
    actions = [upsert(k, after={NOTES: "n"}, created=True) for k in ("100", "200")]
    target = lists()

    async def raises(writes):
        raise ValueError("bad payload")

    target.write_records = raises
    report, _ = await apply(actions, {"anilist": target})
    assert [(o.outcome, o.code, o.error) for o in report.outcomes.values()] == [
        ("failed", WriteError.INTERNAL, "ValueError: bad payload"),
    ] * 2  # fmt: skip
    target = lists()
    answering(target, lambda writes, results: results[:1])
    report, _ = await apply(actions, {"anilist": target})
    # Both landed although only one answer came back: the re-read says so.
    assert report.counts() == {"applied": 2}
    target = lists()

    async def one_answer(writes):
        return [WriteResult(False, WriteOp.UPSERT_RECORD, code=WriteError.INVALID)]

    target.write_records = one_answer
    report, _ = await apply(actions, {"anilist": target})
    assert [o.error for o in report.outcomes.values()] == ["1 results for 2 writes"] * 2


async def test_writes_a_provider_cannot_take_are_unsupported_without_a_call():
    ep = Ref.at("100", ("episode", 1))
    play = Action("anilist", WriteOp.APPEND_EVENT, ep, kind="watch", at=T0)
    target = lists()
    report, _ = await apply([play], {"anilist": target})
    assert [(o.outcome, o.code, o.error, o.attempts)
            for o in report.outcomes.values()] == [
        ("failed", WriteError.UNSUPPORTED, "anilist cannot write events", 0)
    ]  # fmt: skip
    reads_only = memory_provider(
        list_capabilities(), mixins=(SupportsRecordReads,),
        nodes=[list_entry("100", "A")],
    )  # fmt: skip
    report, _ = await apply([upsert(after={NOTES: "n"})], {"anilist": reads_only})
    assert [(o.outcome, o.code, o.error) for o in report.outcomes.values()] == [
        ("failed", WriteError.UNSUPPORTED, "anilist cannot write records")
    ]
    assert not [n for n, _ in reads_only.calls if n.startswith("write_")]


async def test_an_append_already_journaled_for_the_profile_is_not_sent_again():
    dst = history([("t", "Naruto", {1: 2}, ["tvdb_show:78857"])])
    ep = Ref.at("t", ("season", 1), ("episode", 1))
    play = Action("trakt", WriteOp.APPEND_EVENT, ep, kind="watch", at=T0)
    stores = JournalLog()
    stores.start_run(RunRecord("r", "p", T0.isoformat()))
    report, _ = await apply([play], {"trakt": dst}, stores)
    assert report.counts() == {"applied": 1}
    assert sent(dst, "write_events") == [AppendEvent(ep, "watch", T0, token=play.id)]
    stores.start_run(RunRecord("r2", "p", T0.isoformat()))
    again = await apply_plan(Plan("p", (play,)), {"trakt": dst}, stores,
                             run_id="r2", sleep=nosleep)  # fmt: skip
    assert [(o.outcome, o.error) for o in again.outcomes.values()] == [
        ("unchanged", "already sent (journal)")
    ]
    assert len(sent(dst, "write_events")) == 1
    # Another profile's journal does not count; a deletion is always sent.
    other = await apply_plan(Plan("q", (play,)), {"trakt": dst}, stores,
                             run_id="r3", sleep=nosleep)  # fmt: skip
    assert other.counts() == {"applied": 1}
    delete = Action("trakt", WriteOp.DELETE_EVENT, ep, kind="watch", at=T0)
    report = await apply_plan(Plan("p", (delete,)), {"trakt": dst}, stores,
                              run_id="r4", sleep=nosleep)  # fmt: skip
    assert report.counts() == {"applied": 1}
    assert sent(dst, "write_events")[-1] == DeleteEvent(
        ref=ep, kind="watch", at=T0, token=delete.id
    )
    assert dst.events() == ()


async def test_a_guarded_plan_is_refused_with_every_guard_unless_forced():
    target = lists()
    plan = Plan("p", (upsert(after={NOTES: "n"}),), guards=("too many", "empty"))
    with pytest.raises(GuardError, match=r"^too many; empty$"):
        await apply_plan(plan, {"anilist": target}, MemoryStores(), run_id="r")
    assert sent(target) == []
    report = await apply_plan(
        plan, {"anilist": target}, MemoryStores(), run_id="r", force=True,
        sleep=nosleep,
    )  # fmt: skip
    assert report.counts() == {"applied": 1}


async def test_approved_ids_limit_what_is_applied():
    target = lists()
    first, second = (upsert(k, after={NOTES: "n"}) for k in ("100", "200"))
    plan = Plan("p", (first, second))
    report = await apply_plan(
        plan, {"anilist": target}, MemoryStores(), run_id="r", only={second.id},
        sleep=nosleep,
    )  # fmt: skip
    assert list(report.outcomes) == [second.id]
    assert [w.ref for w in sent(target)] == [Ref("200")]
    report = await apply_plan(
        plan, {"anilist": lists()}, MemoryStores(), run_id="r", only=(),
        sleep=nosleep,
    )  # fmt: skip
    assert report.outcomes == {}


async def test_unchanged_actions_count_as_succeeded_stale_ones_do_not():
    target = lists([list_record("100", notes="n"), list_record("200", notes="x")])
    in_place = upsert("100", before={NOTES: "n"}, after={NOTES: "n"})
    stale = upsert("200", before={NOTES: "old"}, after={NOTES: "new"})
    report, _ = await apply([in_place, stale], {"anilist": target})
    assert report.succeeded == [in_place]
    assert report.counts() == {"unchanged": 1, "stale": 1}


async def test_a_record_deleted_since_the_plan_is_stale_not_recreated():
    target = lists()
    action = upsert(before={NOTES: "old"}, after={NOTES: "new"})
    report, _ = await apply([action], {"anilist": target})
    assert [(o.outcome, o.error) for o in report.outcomes.values()] == [
        ("stale", "notes changed since the plan ('old' -> None)")
    ]
    assert target.records() == ()


async def test_a_lost_answer_the_target_cannot_reread_stays_unknown_as_answered():
    writes_only = memory_provider(
        list_capabilities(), mixins=(SupportsRecordWrites,),
        nodes=[list_entry("100", "A")],
    )  # fmt: skip
    answering(writes_only, lost(WriteError.INTERNAL, "gateway timeout"))
    report, stores = await apply([upsert(after={NOTES: "n"})], {"anilist": writes_only})
    (o,) = report.outcomes.values()
    assert (o.outcome, o.code, o.error) == (
        "unknown", WriteError.INTERNAL, "gateway timeout"
    )  # fmt: skip
    assert [r.outcome for r in stores.entries("r")] == ["unknown"]


async def test_a_cancelled_batch_is_journaled_unknown_and_the_cancel_goes_on():
    target = lists(keys=("100", "200", "300"))
    target.config["write_batch_size"] = 2
    original = target.write_records

    async def cancelled(writes):
        await original(writes)
        raise asyncio.CancelledError

    target.write_records = cancelled
    actions = [upsert(k, after={NOTES: "n"}) for k in ("100", "200", "300")]
    stores = JournalLog()
    with pytest.raises(asyncio.CancelledError):
        await apply(actions, {"anilist": target}, stores)
    rows = stores.entries("r")
    assert [(r.outcome, r.error_text) for r in rows] == [
        ("unknown", "interrupted before the answer arrived")
    ] * 2
    assert all(r.finished_at for r in rows)
    assert stores.writes == [
        [(actions[0].id, "pending"), (actions[1].id, "pending")],
        [(actions[0].id, "unknown"), (actions[1].id, "unknown")],
    ]
    assert len(sent(target)) == 2  # the third batch is never sent


async def test_a_journal_that_fails_while_a_batch_is_cancelled_does_not_hide_it():
    class Broken(JournalLog):
        def record(self, entries):
            if self.writes:
                self.writes.append([])
                raise OSError("disk full")
            super().record(entries)

    target = lists()
    target.inject_exception(KeyboardInterrupt(), method="write_records")
    stores = Broken()
    with pytest.raises(KeyboardInterrupt):
        await apply([upsert(after={NOTES: "n"})], {"anilist": target}, stores)
    # The intent stays pending: the next start reconciles it.
    assert [r.outcome for r in stores.entries("r")] == ["pending"]


async def test_crash_points_come_between_the_journal_writes(tmp_path, monkeypatch):
    # A fault trace lists the points a crash test can kill at; each must sit
    # between the journal writes it is named for.
    from anibridge import faults

    trace = tmp_path / "trace"
    monkeypatch.setattr(faults, "_ARMED", True)
    monkeypatch.setattr(faults, "_TRACE", str(trace))

    class Traced(MemoryStores):
        def record(self, entries):
            entries = list(entries)
            with trace.open("a") as fh:
                fh.write(" ".join(e.outcome for e in entries) + "\n")
            super().record(entries)

    target = lists()
    target.config["write_batch_size"] = 1
    actions = [upsert(k, after={NOTES: "n"}) for k in ("100", "200")]
    await apply(actions, {"anilist": target}, Traced())
    one = ["pending", "journal.intent", "write.answered", "applied", "journal.outcome"]
    assert trace.read_text().split("\n") == [*one, *one, ""]


async def test_records_of_another_kind_are_written_and_journaled_with_their_kind():
    dst = history([("t", "Naruto", {1: 2}, ["tvdb_show:78857"])])
    rating = {RecordField.RATING: Rating(8, (1.0, 10.0, 1.0))}
    create = Action("trakt", WriteOp.UPSERT_RECORD, Ref("t"), kind="ratings",
                    after=rating, created=True)  # fmt: skip
    report, stores = await apply([create], {"trakt": dst})
    assert report.counts() == {"applied": 1}
    assert sent(dst) == [
        UpsertRecord(Ref("t"), kind="ratings", token=create.id, set=rating)
    ]
    (row,) = stores.entries("r")
    assert (row.kind, row.created, row.op) == ("ratings", True, "upsert_record")
    assert dst.record(Ref("t"), "ratings").values == rating
    delete = Action(
        "trakt", WriteOp.DELETE_RECORD, Ref("t"), kind="ratings", before=rating
    )
    report, stores = await apply([delete], {"trakt": dst})
    assert report.counts() == {"applied": 1}
    assert sent(dst)[-1] == DeleteRecord(Ref("t"), kind="ratings", token=delete.id)
    assert dst.record(Ref("t"), "ratings") is None


async def test_only_the_appends_already_journaled_are_held_back():
    dst = history([("t", "Naruto", {1: 2}, ["tvdb_show:78857"])])
    ep1, ep2 = (Ref.at("t", ("season", 1), ("episode", n)) for n in (1, 2))
    first = Action("trakt", WriteOp.APPEND_EVENT, ep1, kind="watch", at=T0)
    second = Action("trakt", WriteOp.APPEND_EVENT, ep2, kind="watch", at=T0)
    stores = JournalLog()
    stores.start_run(RunRecord("r", "p", T0.isoformat()))
    await apply([first], {"trakt": dst}, stores)
    stores.start_run(RunRecord("r2", "p", T0.isoformat()))
    report = await apply_plan(Plan("p", (first, second)), {"trakt": dst}, stores,
                              run_id="r2", sleep=nosleep)  # fmt: skip
    assert [(o.outcome, o.error) for o in report.outcomes.values()] == [
        ("unchanged", "already sent (journal)"),
        ("applied", None),
    ]
    assert [w.ref for w in sent(dst, "write_events")] == [ep1, ep2]


async def test_an_unsupported_write_does_not_hold_back_the_rest_of_its_batch():
    ep = Ref.at("100", ("episode", 1))
    play = Action("anilist", WriteOp.APPEND_EVENT, ep, kind="watch", at=T0)
    notes = upsert(after={NOTES: "n"})
    target = lists()
    report, _ = await apply([play, notes], {"anilist": target})
    assert [(o.outcome, o.code) for o in report.outcomes.values()] == [
        ("failed", WriteError.UNSUPPORTED),
        ("applied", None),
    ]
    assert target.record(Ref("100")).values == {NOTES: "n"}


async def test_a_write_that_keeps_conflicting_is_retried_once_not_forever():
    target = lists([list_record("100", notes="old")])
    target.inject_failure(WriteError.CONFLICT, times=None)
    sleeps = Sleeps()
    action = upsert(before={NOTES: "old"}, after={NOTES: "new"})
    report, _ = await apply([action], {"anilist": target}, sleep=sleeps)
    (o,) = report.outcomes.values()
    assert (o.outcome, o.code, o.attempts) == ("failed", WriteError.CONFLICT, 2)
    assert sleeps.delays == [1.0]


async def test_every_unsettled_append_of_a_batch_gets_the_reread_detail():
    dst = history([("t", "Naruto", {1: 2}, ["tvdb_show:78857"])])
    dst.write_semantics = lambda: WriteSemantics(
        frozenset({WriteOp.APPEND_EVENT}), timedelta(hours=1)
    )
    dst.inject_failure(WriteError.TRANSIENT, times=None, error="timeout")
    plays = [
        Action("trakt", WriteOp.APPEND_EVENT, Ref.at("t", ("season", 1),
               ("episode", n)), kind="watch", at=T0)
        for n in (1, 2)
    ]  # fmt: skip
    report, _ = await apply(plays, {"trakt": dst})
    errors = [o.error for o in report.outcomes.values()]
    assert len(errors) == 2
    assert all(e.startswith("timeout; not seen on the target yet") for e in errors)


async def test_rows_of_actions_never_sent_say_when_they_were_decided():
    target = lists([list_record("100", notes="edited")])
    stale = upsert(before={NOTES: "old"}, after={NOTES: "new"})
    orphan = Action("gone", WriteOp.DELETE_RECORD, Ref("100"))
    _, stores = await apply([stale, orphan], {"anilist": target})
    rows = stores.entries("r")
    assert [r.outcome for r in rows] == ["stale", "failed"]
    for row in rows:
        assert row.started_at and row.finished_at
        assert row.started_at <= row.finished_at


async def test_a_stop_honoured_once_is_reported_even_if_later_writes_go_on():
    # A stop predicate that changes its mind: the batch it stopped is still
    # reported as interrupted, whatever happens to later batches.
    first, second = lists(), lists()
    second.inject_failure(WriteError.AUTH, times=None)
    second.config["write_batch_size"] = 1
    answers = iter([True, False])
    actions = [
        upsert("100", after={NOTES: "n"}),
        replace(upsert("100", after={NOTES: "n"}), provider="mal"),
        replace(upsert("200", after={NOTES: "n"}), provider="mal"),
    ]
    report, _ = await apply(
        actions, {"anilist": first, "mal": second}, stop=lambda: next(answers)
    )
    assert [(o.outcome, o.code) for o in report.outcomes.values()] == [
        ("skipped", None),
        ("failed", WriteError.AUTH),
        ("skipped", WriteError.AUTH),
    ]
    assert report.interrupted
