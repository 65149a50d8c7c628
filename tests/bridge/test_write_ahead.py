"""The write-ahead journal, run end states, reconcile and undo from intents.

Each test breaks one promise on purpose: an answer that never arrives, a task
cancelled in the middle of a batch, a process "killed" between the intent and the
outcome, a history service that applies a timed-out append late.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from bridge_support import (
    T0,
    TWO_SHOWS,
    custom_index,
    history,
    library,
    nosleep,
    two_shows,
    watched,
)

from anibridge.bridge.model import Policy
from anibridge.bridge.reconcile import reconcile
from anibridge.bridge.stores import MemoryStores
from anibridge.bridge.sync import Pair, run_sync, undo_run
from anibridge.dates import utcnow
from anibridge.provider.base import Event, RecordField, Ref, WriteError, WriteOp
from anibridge.provider.semantics import WriteSemantics

PAIR = [Pair("plex", "anilist")]


@pytest.fixture
def idx(tmp_path):
    return custom_index(tmp_path, TWO_SHOWS)


def state(provider):
    return sorted(
        (
            repr(r.ref),
            r.kind,
            tuple(sorted((f.value, repr(v)) for f, v in r.values.items())),
        )
        for r in provider.records()
    )


async def test_intents_are_committed_pending_before_the_provider_is_called(idx):
    providers, stores = two_shows()
    target = providers["anilist"]
    seen: list[list[tuple[str, str, dict]]] = []
    original = target.write_records

    async def spying(writes):
        seen.append(
            [(e.action_id, e.outcome, dict(e.after)) for e in stores.unresolved("p")]
        )
        return await original(writes)

    target.write_records = spying
    result = await run_sync(
        providers, PAIR, Policy(profile="p"), stores.bundle(), index=idx, sleep=nosleep
    )
    assert len(seen) == 1 and len(seen[0]) == 2  # both intents, before the call
    assert {outcome for _, outcome, _ in seen[0]} == {"pending"}
    assert all(after for _, _, after in seen[0])
    assert {e.outcome for e in stores.entries(result.run.id)} == {"applied"}
    assert stores.unresolved("p") == []


async def test_a_write_whose_answer_is_lost_is_confirmed_by_a_reread(idx):
    providers, stores = two_shows()
    target = providers["anilist"]
    original = target.write_records

    async def lands_then_the_connection_drops(writes):
        await original(writes)
        raise ConnectionResetError("connection reset by peer")

    target.write_records = lands_then_the_connection_drops
    result = await run_sync(
        providers, PAIR, Policy(profile="p"), stores.bundle(), index=idx, sleep=nosleep
    )
    rows = stores.entries(result.run.id)
    # The writes landed although the answer never came: the journal says so.
    assert {e.outcome for e in rows} == {"applied"}
    assert result.run.status == "ok"
    target.write_records = original
    undone = await undo_run(
        providers, stores.bundle(), profile="p", run_id=result.run.id
    )
    assert undone.run.status == "ok"
    assert target.records() == ()  # exact: both created entries are gone again


async def test_a_lost_answer_that_did_not_land_is_failed_not_applied(idx):
    providers, stores = two_shows()
    target = providers["anilist"]

    async def never_arrives(writes):
        raise TimeoutError("read timed out")

    target.write_records = never_arrives
    result = await run_sync(
        providers, PAIR, Policy(profile="p"), stores.bundle(), index=idx, sleep=nosleep
    )
    rows = stores.entries(result.run.id)
    assert {e.outcome for e in rows} == {"failed"}
    assert all("TimeoutError" in (e.error_text or "") for e in rows)
    assert result.run.status == "partial"


async def test_a_killed_run_is_reconciled_from_its_intents_and_undone_exactly(idx):
    """`kill -9` between the intent and the outcome: pending rows, half the writes."""
    providers, stores = two_shows()
    target = providers["anilist"]
    before = state(target)
    original = target.write_records
    target.config["write_batch_size"] = 1

    class Killed(BaseException):
        pass

    calls = 0

    async def dies_after_the_second_write(writes):
        nonlocal calls
        calls += 1
        results = await original(writes)
        if calls == 2:
            raise Killed  # like kill -9: nothing after this line runs
        return results

    target.write_records = dies_after_the_second_write
    with pytest.raises(Killed):
        await run_sync(
            providers,
            PAIR,
            Policy(profile="p"),
            stores.bundle(),
            index=idx,
            sleep=nosleep,
            run_id="r1",
        )
    target.write_records = original
    # A real kill leaves the run `running` and the second intent `pending`.
    stores.finish_run(replace(stores.run("r1"), status="running", finished_at=None))
    rows = stores.entries("r1")
    stores.record(
        [replace(e, outcome="pending") if e.outcome == "unknown" else e for e in rows]
    )
    assert [e.outcome for e in stores.entries("r1")] == ["applied", "pending"]

    assert stores.interrupt_stale("p", now=utcnow().isoformat(), error="gone") == ["r1"]
    found = await reconcile(providers, stores.bundle(), "p")
    assert found.settled == {"applied": 1}
    assert [e.outcome for e in stores.entries("r1")] == ["applied", "applied"]
    assert stores.run("r1").status == "interrupted"

    undone = await undo_run(providers, stores.bundle(), profile="p", run_id="r1")
    assert undone.run.status == "ok"
    assert state(target) == before


async def test_an_intent_that_never_reached_the_target_reconciles_as_failed(idx):
    providers, stores = two_shows()
    preview = await run_sync(
        providers, PAIR, Policy(profile="p"), stores.bundle(), index=idx, dry_run=True
    )
    from anibridge.bridge.apply import Outcome, _Applier

    applier = _Applier(
        "p", "r2", providers, stores, nosleep, 0, 0.0, 50, {}, lambda: False
    )  # fmt: skip
    outcomes = [
        Outcome(a, outcome="pending", started_at=T0.isoformat())
        for a in preview.plan.actions
    ]
    stores.start_run(replace(preview.run, id="r2", kind="sync", status="running"))
    applier.journal_rows(outcomes)
    found = await reconcile(providers, stores.bundle(), "p")
    assert found.settled == {"failed": 2}
    assert {e.outcome for e in stores.entries("r2")} == {"failed"}
    # Nothing is left to settle, and a failed intent is not undone.
    assert stores.unresolved("p") == []
    undone = await undo_run(providers, stores.bundle(), profile="p", run_id="r2")
    assert undone.plan.actions == ()


async def test_cancelling_a_run_mid_batch_ends_it_interrupted(idx):
    providers, stores = two_shows()
    target = providers["anilist"]
    original = target.write_records
    entered = asyncio.Event()

    async def slow(writes):
        await original(writes)  # lands, then the task is cancelled before answering
        entered.set()
        await asyncio.Event().wait()

    target.write_records = slow
    task = asyncio.create_task(
        run_sync(
            providers,
            PAIR,
            Policy(profile="p"),
            stores.bundle(),
            index=idx,
            sleep=nosleep,
            run_id="r3",
        )
    )
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    run = stores.run("r3")
    assert run.status == "interrupted" and run.finished_at
    assert {e.outcome for e in stores.entries("r3")} == {"unknown"}
    target.write_records = original
    found = await reconcile(providers, stores.bundle(), "p")
    assert found.settled == {"applied": 2}
    await undo_run(providers, stores.bundle(), profile="p", run_id="r3")
    assert target.records() == ()


async def test_a_stop_request_ends_the_run_interrupted_after_the_batch(idx):
    providers, stores = two_shows()
    target = providers["anilist"]
    target.config["write_batch_size"] = 1
    stop = False
    original = target.write_records

    async def ctrl_c_during_the_first_batch(writes):
        nonlocal stop
        stop = True
        return await original(writes)

    target.write_records = ctrl_c_during_the_first_batch
    result = await run_sync(
        providers,
        PAIR,
        Policy(profile="p"),
        stores.bundle(),
        index=idx,
        sleep=nosleep,
        stop=lambda: stop,
    )
    assert result.run.status == "interrupted"
    assert result.report.counts() == {"applied": 1, "skipped": 1}
    skipped = [e for e in stores.entries(result.run.id) if e.outcome == "skipped"]
    assert "not written" in skipped[0].error_text
    assert len(target.records()) == 1


async def test_an_error_in_planning_ends_the_run_failed_not_running(idx):
    providers, stores = two_shows()
    providers["plex"].inject_exception(RuntimeError("server down"), method="scan")
    with pytest.raises(RuntimeError):
        await run_sync(
            providers,
            PAIR,
            Policy(profile="p"),
            stores.bundle(),
            index=idx,
            run_id="r4",
        )
    assert stores.run("r4").status == "failed"


# -- appends a service cannot deduplicate -------------------------------------------


class LateHistory:
    """A play history that keeps every POSTed play and can apply one late.

    `lose_next`: the next append call's answer is lost (TRANSIENT) and its plays
    land only when `land()` is called — a server applying a timed-out POST late.
    """

    def __init__(self, provider, settle: timedelta) -> None:
        self.p = provider
        self.settle = settle
        self.lose_next = False
        self.late: list[Event] = []
        self.calls = 0
        self.original = provider.write_events
        provider.write_events = self.write_events
        provider.write_semantics = lambda: WriteSemantics(
            frozenset({WriteOp.APPEND_EVENT}), self.settle
        )

    async def write_events(self, writes):
        from anibridge.provider.base import AppendEvent, WriteResult

        if not all(isinstance(w, AppendEvent) for w in writes):
            return await self.original(writes)  # deletes (undo)
        self.calls += 1
        out = []
        lost = self.lose_next
        self.lose_next = False
        for w in writes:
            event = Event(w.ref, w.kind, w.at)
            if lost:
                self.late.append(event)
                out.append(
                    WriteResult(False, WriteOp.APPEND_EVENT, w.token, ref=w.ref,
                                code=WriteError.TRANSIENT, error="read timeout")
                )  # fmt: skip
            else:
                self.p.put_event(event)  # no deduplication, like Trakt
                out.append(WriteResult(True, WriteOp.APPEND_EVENT, w.token, ref=w.ref))
        return out

    def land(self) -> None:
        for event in self.late:
            self.p.put_event(event)
        self.late.clear()

    def plays(self) -> list[tuple[str, object]]:
        return sorted((repr(e.ref), e.at) for e in self.p.events())


def history_pair(settle: timedelta):
    src = library(
        [("n", "Naruto", {1: 35}, ["tvdb_show:78857"])], watched("n", 1, [1, 2, 3])
    )
    dst = history([("t", "Naruto", {1: 35}, ["tvdb_show:78857"])])
    return {"plex": src, "trakt": dst}, MemoryStores(), LateHistory(dst, settle)


async def _sync(providers, stores):
    from bridge_support import curated

    return await run_sync(
        providers,
        [Pair("plex", "trakt")],
        Policy(profile="p"),
        stores.bundle(),
        index=curated(),
        sleep=nosleep,
    )


async def test_a_lost_append_is_unknown_not_retried_and_applied_late_once():
    providers, stores, service = history_pair(settle=timedelta(hours=1))
    service.lose_next = True
    first = await _sync(providers, stores)
    assert service.calls == 1  # TRANSIENT on an unrepeatable append: no retry
    assert first.report.counts() == {"unknown": 3}
    assert first.run.status == "partial"
    assert service.plays() == []

    # The next run starts before the service applied it: nothing is sent again.
    found = await reconcile(providers, stores.bundle(), "p")
    assert found.count == 0 and len(found.waiting) == 3
    second = await _sync(providers, stores)
    assert second.plan.actions == () and service.calls == 1

    service.land()  # the server applies the timed-out POST
    found = await reconcile(providers, stores.bundle(), "p")
    assert found.settled == {"applied": 3}
    third = await _sync(providers, stores)
    assert third.plan.actions == () and service.calls == 1
    plays = service.plays()
    assert len(plays) == len(set(plays)) == 3  # zero duplicates
    applied = [e for e in stores.entries(first.run.id) if e.outcome == "applied"]
    assert len(applied) == 3  # the journal holds each write once, as applied


async def test_a_lost_append_that_never_lands_is_sent_once_after_the_settle_window():
    providers, stores, service = history_pair(settle=timedelta(hours=1))
    service.lose_next = True
    first = await _sync(providers, stores)
    service.late.clear()  # the server dropped it for good
    later = utcnow() + timedelta(hours=2)
    found = await reconcile(providers, stores.bundle(), "p", now=later)
    assert found.settled == {"failed": 3}
    second = await _sync(providers, stores)
    assert second.report.counts() == {"applied": 3}
    assert service.calls == 2
    plays = service.plays()
    assert len(plays) == len(set(plays)) == 3
    assert {e.outcome for e in stores.entries(first.run.id)} == {"failed"}


async def test_undo_refuses_writes_that_are_not_settled_yet():
    providers, stores, service = history_pair(settle=timedelta(hours=1))
    service.lose_next = True
    first = await _sync(providers, stores)
    preview = await undo_run(
        providers, stores.bundle(), profile="p", run_id=first.run.id, dry_run=True
    )
    assert preview.run.status == "partial"  # the preview tells what undo would end as
    undone = await undo_run(
        providers, stores.bundle(), profile="p", run_id=first.run.id
    )
    assert undone.plan.actions == ()
    assert {s.reason.value for s in undone.plan.skipped} == {"unconfirmed"}
    assert undone.run.status == "partial"
    service.land()
    await reconcile(providers, stores.bundle(), "p")
    undone = await undo_run(
        providers, stores.bundle(), profile="p", run_id=first.run.id
    )
    assert undone.run.status == "ok" and service.plays() == []


async def test_repeatable_writes_are_still_retried_after_a_transient_error(idx):
    providers, stores = two_shows()
    providers["anilist"].inject_failure(WriteError.TRANSIENT, times=1)
    result = await run_sync(
        providers, PAIR, Policy(profile="p"), stores.bundle(), index=idx, sleep=nosleep
    )
    assert result.report.counts() == {"applied": 2}
    assert {r.ref.key for r in providers["anilist"].records()} == {"100", "200"}
    assert RecordField.PROGRESS in providers["anilist"].record(Ref("100")).values
