"""One worker per profile: runs that profile's jobs one at a time, coalescing syncs.

Everything that writes for a profile (sync, apply of an approved plan, undo, restore)
goes through its worker, so two writers never race on the same lists. Sync triggers
that arrive while the worker is busy merge into a single pending request (one for
real runs, one for dry runs); every caller's future resolves with the result of the
run that covered its trigger. Other jobs run in arrival order, before pending syncs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from anibridge.app.scheduler.events import EventBus
from anibridge.app.scheduler.requests import (
    Runner,
    RunResult,
    SyncRequest,
    merge_requests,
)

__all__ = ["ProfileWorker", "WorkerStopped"]

log = logging.getLogger(__name__)


class WorkerStopped(RuntimeError):
    """The worker shut down before this job could run."""


@dataclass(slots=True)
class _Pending:
    request: SyncRequest
    waiters: list[asyncio.Future[RunResult]] = field(default_factory=list)


@dataclass(slots=True)
class _Job:
    label: str
    call: Callable[[], Awaitable[Any]]
    future: asyncio.Future[Any]


class ProfileWorker:
    """The serial executor of one profile.

    Args:
        profile: Profile name.
        runner: Does the actual syncing.
        bus: Where `run_started`/`run_finished` events go.
    """

    def __init__(
        self, profile: str, runner: Runner, *, bus: EventBus | None = None
    ) -> None:
        """Create an idle worker; call `start` inside the event loop."""
        self.profile = profile
        self._runner = runner
        self._bus = bus or EventBus()
        self._real: _Pending | None = None
        self._dry: _Pending | None = None
        self._jobs: deque[_Job] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.current: dict[str, Any] | None = None
        self.last_result: RunResult | None = None
        self.last_finished_at: str | None = None
        self.runs = 0
        self.triggers = 0
        self.recent: deque[RunResult] = deque(maxlen=50)

    # -- control ---------------------------------------------------------------
    def start(self) -> None:
        """Start the worker loop on the running event loop."""
        if self._task is None:
            self._task = asyncio.create_task(
                self._loop(), name=f"anibridge-worker-{self.profile}"
            )

    async def stop(self, timeout: float | None = None) -> None:
        """Finish the job in progress, then cancel everything still pending.

        Pending triggers are not lost for good: the next incremental run reads the
        change feeds from the stored cursors, which only advance after apply.
        """
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                log.warning(
                    "profile %s: current job did not finish; cancelling", self.profile
                )
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        self._fail_pending(WorkerStopped(f"profile {self.profile!r} is shutting down"))

    @property
    def busy(self) -> bool:
        """Whether a job is running now."""
        return self.current is not None

    @property
    def queued(self) -> int:
        """Jobs and coalesced sync requests waiting."""
        return len(self._jobs) + (self._real is not None) + (self._dry is not None)

    # -- submitting ------------------------------------------------------------
    def trigger(self, request: SyncRequest) -> asyncio.Future[RunResult]:
        """Queue a sync, merging it into the pending one of the same kind.

        Raises:
            WorkerStopped: the worker is shutting down.
        """
        if self._stopping:
            raise WorkerStopped(f"profile {self.profile!r} is shutting down")
        future: asyncio.Future[RunResult] = asyncio.get_running_loop().create_future()
        self.triggers += 1
        slot = "_dry" if request.dry_run else "_real"
        pending: _Pending | None = getattr(self, slot)
        if pending is None:
            setattr(self, slot, _Pending(request, [future]))
        else:
            pending.request = merge_requests(pending.request, request)
            pending.waiters.append(future)
        self._wake.set()
        return future

    def submit[T](
        self, label: str, call: Callable[[], Awaitable[T]]
    ) -> asyncio.Future[T]:
        """Queue a non-sync job (apply a plan, undo, restore); it is never merged.

        Raises:
            WorkerStopped: the worker is shutting down.
        """
        if self._stopping:
            raise WorkerStopped(f"profile {self.profile!r} is shutting down")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.append(_Job(label, call, future))
        self._wake.set()
        return future

    # -- the loop --------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while not self._stopping:
                if self._jobs:
                    await self._run_job(self._jobs.popleft())
                elif self._real is not None:
                    pending, self._real = self._real, None
                    await self._run_sync(pending)
                elif self._dry is not None:
                    pending, self._dry = self._dry, None
                    await self._run_sync(pending)
                else:
                    break
            if self._stopping:
                return

    async def _run_job(self, job: _Job) -> None:
        self.current = {"job": job.label, "started_at": _now()}
        self._bus.publish("job_started", profile=self.profile, job=job.label)
        try:
            value = await job.call()
        except Exception as exc:
            _log_failure(f"profile {self.profile}: {job.label} failed", exc)
            if not job.future.done():
                job.future.set_exception(exc)
            self._bus.publish(
                "job_finished",
                profile=self.profile,
                job=job.label,
                error=_message(exc),
            )
        else:
            if not job.future.done():
                job.future.set_result(value)
            log.info("profile %s: %s → %s", self.profile, job.label, _describe(value))
            self._bus.publish("job_finished", profile=self.profile, job=job.label)
        finally:
            self.current = None

    async def _run_sync(self, pending: _Pending) -> None:
        request = pending.request
        self.current = {"job": "sync", "started_at": _now(), **request.to_json()}
        self._bus.publish(
            "run_started", profile=self.profile, request=request.to_json()
        )
        try:
            result = await self._runner.run(self.profile, request)
        except Exception as exc:
            _log_failure(f"profile {self.profile}: sync failed", exc)
            result = RunResult("failed", error=_message(exc))
        if not result.request:
            result = RunResult(
                result.status,
                result.run_id,
                result.plan_id,
                result.summary,
                result.error,
                request.to_json(),
            )
        self.runs += 1
        log.log(
            logging.WARNING
            if result.status in ("failed", "refused", "busy", "interrupted")
            else logging.INFO,
            "profile %s: %s%s run (%s) → %s %s%s",
            self.profile,
            request.mode.value,
            " dry" if request.dry_run else "",
            ", ".join(request.reasons) or "manual",
            result.status,
            ", ".join(f"{k} {v}" for k, v in result.summary.items() if v) or "",
            f" — {result.error}" if result.error else "",
        )
        self.current = None
        self.last_result = result
        self.recent.append(result)
        self.last_finished_at = _now()
        for waiter in pending.waiters:
            if not waiter.done():
                waiter.set_result(result)
        self._bus.publish("run_finished", profile=self.profile, result=result.to_json())

    def _fail_pending(self, exc: Exception) -> None:
        for pending in (self._real, self._dry):
            if pending is not None:
                for waiter in pending.waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
        self._real = self._dry = None
        while self._jobs:
            job = self._jobs.popleft()
            if not job.future.done():
                job.future.set_exception(exc)

    def state(self) -> dict[str, Any]:
        """Snapshot for the status API and dashboard."""
        return {
            "profile": self.profile,
            "busy": self.busy,
            "current": self.current,
            "queued": self.queued,
            "runs": self.runs,
            "triggers": self.triggers,
            "last_result": self.last_result.to_json() if self.last_result else None,
            "last_finished_at": self.last_finished_at,
        }


def _describe(value: object) -> str:
    if isinstance(value, RunResult):
        counts = ", ".join(f"{k} {v}" for k, v in value.summary.items() if v)
        return f"{value.status} {counts}".strip()
    return "done"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _message(exc: BaseException) -> str:
    """The one line shown for a failed job (`anibridge.app.service.problems`)."""
    from anibridge.app.service.problems import message_of

    return message_of(exc)


def _log_failure(what: str, exc: BaseException) -> None:
    """A known failure as one line; anything else with its traceback (a bug)."""
    from anibridge.app.service.problems import describe

    problem = describe(exc)
    if problem is None:
        log.exception("%s", what)
    else:
        log.error("%s: %s", what, problem.message)
