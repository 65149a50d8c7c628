"""The per-profile worker and the scheduler, driven by a recording runner.

The runner here is the scheduler's collaborator, not the thing under test: it records
what it was asked and can be held mid-run to create the concurrency being tested.
Tests wait for states (an `asyncio.Condition`), never for a number of real seconds;
the 60 s deadlines only turn a hang into a failure.
"""

from __future__ import annotations

import asyncio

import pytest

from anibridge.app.scheduler import (
    MAX_PENDING_REFS,
    EventBus,
    ProfileSchedule,
    ProfileWorker,
    RunResult,
    Scheduler,
    SyncMode,
    SyncRequest,
    Timing,
    WorkerStopped,
)

HANG = 60.0


class Changes:
    """Wake waiters whenever something they may be waiting for happened."""

    def __init__(self) -> None:
        self._condition = asyncio.Condition()

    async def notify(self) -> None:
        async with self._condition:
            self._condition.notify_all()

    async def until(self, predicate) -> None:
        async with self._condition:
            await asyncio.wait_for(self._condition.wait_for(predicate), HANG)


class Recorder:
    def __init__(self) -> None:
        self.changes = Changes()
        self.calls: list[tuple[str, SyncRequest]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()
        self.finished: list[str] = []
        self.fail = False

    async def run(self, profile: str, request: SyncRequest) -> RunResult:
        self.calls.append((profile, request))
        self.entered.set()
        await self.changes.notify()
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("provider exploded")
        self.finished.append(profile)
        return RunResult("ok", summary={"payloads": request.payloads})


def hook(n: int, *keys: str) -> SyncRequest:
    return SyncRequest.for_refs(keys or (f"show-{n}",), reason="webhook")


async def test_triggers_during_a_run_coalesce_into_one_next_run():
    runner = Recorder()
    worker = ProfileWorker("p", runner)
    worker.start()
    runner.gate.clear()
    first = worker.trigger(hook(0))
    await runner.entered.wait()
    later = [worker.trigger(hook(n)) for n in range(1, 51)]
    assert worker.queued == 1  # fifty triggers, one pending request
    runner.gate.set()
    results = await asyncio.gather(first, *later)
    assert len(runner.calls) == 2
    second = runner.calls[1][1]
    assert second.refs == {f"show-{n}" for n in range(1, 51)}
    assert second.mode is SyncMode.TARGETED
    assert results[0].summary["payloads"] == 1
    assert {r.summary["payloads"] for r in results[1:]} == {50}
    await worker.stop()


async def test_dry_runs_queue_separately_and_jobs_go_first():
    runner = Recorder()
    worker = ProfileWorker("p", runner)
    worker.start()
    runner.gate.clear()
    busy = worker.trigger(SyncRequest(SyncMode.FULL))
    await runner.entered.wait()
    order: list[str] = []
    dry = worker.trigger(SyncRequest(SyncMode.FULL, dry_run=True))
    real = worker.trigger(SyncRequest(SyncMode.INCREMENTAL))

    async def job() -> str:
        order.append("job")
        return "done"

    applied = worker.submit("apply", job)
    runner.gate.set()
    assert await applied == "done"
    await asyncio.gather(busy, dry, real)
    kinds = [(r.mode, r.dry_run) for _, r in runner.calls]
    assert kinds == [
        (SyncMode.FULL, False),
        (SyncMode.INCREMENTAL, False),
        (SyncMode.FULL, True),
    ]
    assert order == ["job"]
    await worker.stop()


async def test_a_failing_run_is_reported_not_raised():
    runner = Recorder()
    runner.fail = True
    worker = ProfileWorker("p", runner)
    worker.start()
    result = await worker.trigger(SyncRequest())
    assert result.status == "failed"
    assert "provider exploded" in result.error
    runner.fail = False
    assert (await worker.trigger(SyncRequest())).status == "ok"  # still alive
    await worker.stop()


async def test_stop_finishes_the_current_batch_and_refuses_the_rest():
    runner = Recorder()
    worker = ProfileWorker("p", runner)
    worker.start()
    runner.gate.clear()
    current = worker.trigger(SyncRequest())
    await runner.entered.wait()
    pending = worker.trigger(SyncRequest(SyncMode.FULL))
    stopping = asyncio.create_task(worker.stop(timeout=HANG))
    for _ in range(10):  # let stop() reach its wait for the current job
        await asyncio.sleep(0)
    assert not stopping.done() and not current.done()  # still finishing
    runner.gate.set()
    await stopping
    assert (await current).status == "ok"
    assert runner.finished == ["p"]  # the pending one never started
    with pytest.raises(WorkerStopped):
        await pending
    with pytest.raises(WorkerStopped):
        worker.trigger(SyncRequest())


async def test_profiles_run_in_parallel():
    runner = Recorder()
    runner.gate.clear()
    scheduler = Scheduler(runner, {"a": ProfileSchedule(), "b": ProfileSchedule()})
    await scheduler.start()
    fa = scheduler.trigger("a", SyncRequest())
    fb = scheduler.trigger("b", SyncRequest())
    await runner.changes.until(lambda: len(runner.calls) == 2)
    assert sorted(p for p, _ in runner.calls) == ["a", "b"]  # both entered at once
    runner.gate.set()
    await asyncio.gather(fa, fb)
    await scheduler.stop()
    with pytest.raises(KeyError, match="known: a, b"):
        scheduler.trigger("c", SyncRequest())


async def test_interval_and_poll_timers_trigger_runs_and_publish_events():
    runner = Recorder()
    bus = EventBus()
    events = bus.subscribe()
    refreshed = []

    async def refresh() -> str:
        refreshed.append(1)
        await runner.changes.notify()
        return "not_modified"

    scheduler = Scheduler(
        runner,
        {"p": ProfileSchedule(scan=Timing(seconds=3600), poll=Timing(seconds=3600))},
        bus=bus,
        refresh_mappings=refresh,
    )
    await scheduler.start()

    def reasons() -> set[str]:
        return {reason for _, r in runner.calls for reason in r.reasons}

    await runner.changes.until(lambda: reasons() == {"schedule", "poll"} and refreshed)
    await scheduler.stop()
    # Each timer fired once at start; the two may have merged into one full run.
    assert reasons() == {"schedule", "poll"}
    assert runner.calls[0][1].mode is SyncMode.FULL
    assert len(runner.calls) <= 2
    assert refreshed == [1]
    kinds = []
    while not events.empty():
        kinds.append(events.get_nowait()["kind"])
    assert "run_started" in kinds and "run_finished" in kinds
    assert "mappings_refreshed" in kinds
    state = scheduler.state()
    assert state["profiles"]["p"]["scan"] == "every 1 h"
    assert state["mappings"]["status"] == "not_modified"


async def test_a_busy_profiles_pending_refs_are_bounded():
    """Past the bound the pending request becomes one full run; no payload is lost."""
    runner = Recorder()
    worker = ProfileWorker("p", runner)
    worker.start()
    runner.gate.clear()
    first = worker.trigger(hook(0))
    await runner.entered.wait()
    per_hook = 1000
    later = [
        worker.trigger(hook(n, *(f"s{n}-{i}" for i in range(per_hook))))
        for n in range(1, 21)
    ]
    runner.gate.set()
    await asyncio.gather(first, *later)
    second = runner.calls[1][1]
    assert 20 * per_hook > MAX_PENDING_REFS
    assert second.mode is SyncMode.FULL and second.refs == frozenset()
    assert second.payloads == 20
    await worker.stop()
