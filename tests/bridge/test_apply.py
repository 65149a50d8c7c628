from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

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

from anibridge.bridge.apply import apply_plan
from anibridge.bridge.model import GuardError, Policy
from anibridge.bridge.stores import MemoryStores
from anibridge.bridge.sync import Pair, run_sync, undo_run
from anibridge.provider.base import (
    Progress,
    Rating,
    RecordField,
    Ref,
    Status,
    WriteError,
    WriteOp,
)
from anibridge.provider.testing.memory import list_record

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
