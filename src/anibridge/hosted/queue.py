"""The job queue: procrastinate on the store's PostgreSQL database.

Why procrastinate: jobs live in the same database as the store, so the web service
can record what it received and enqueue the job that handles it in *one*
transaction (nothing accepted is lost, nothing half-recorded runs); its job
``lock`` keeps the jobs of one profile serial across every worker; its
``queueing_lock`` coalesces duplicate pending runs; its periodic tasks carry the
schedules; failed jobs are retried with backoff; workers send heartbeats, and the
jobs of a worker that stopped sending them are retried (`retry_stalled`).

Every job of a profile holds the queue lock ``profile:<key>`` *and*, while it runs,
the store's profile lock (`anibridge.store.lock`, a PostgreSQL advisory lock that the
server releases when a dead worker's connection drops): the queue lock orders the
jobs, the advisory lock guarantees that even a job retried from a worker that only
*looked* dead cannot run beside it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from procrastinate import App, BaseRetryStrategy, JobContext, PsycopgConnector
from procrastinate import exceptions as queue_errors
from procrastinate import jobs as queue_jobs
from procrastinate.retry import RetryDecision

from anibridge.app.scheduler import ProfileSchedule
from anibridge.hosted.jobs import (
    DEPLOYMENT_JOBS,
    PROFILE_JOBS,
    Job,
    JobFailed,
    JobRunner,
    RetryLater,
    profile_lock,
)
from anibridge.hosted.schedules import TICK_SECONDS, due_jobs
from anibridge.store import schema as t

__all__ = [
    "QueueSettings",
    "WorkerState",
    "conninfo",
    "enqueue",
    "job_rows",
    "make_queue",
    "sync_coalesce",
    "task_name",
]

log = logging.getLogger("anibridge.hosted")

CONTEXT_KEY = "anibridge"


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """How jobs are retried and how soon a dead worker's jobs are taken over.

    Attributes:
        max_attempts: Runs of one job before it counts as failed (retries and
            takeovers from dead workers together).
        retry_base: Seconds before the first retry of an unexpected error; each
            further retry waits twice as long, up to `retry_cap`.
        retry_cap: Longest wait between retries.
        heartbeat: Seconds between a worker's heartbeats.
        stall_timeout: Seconds without a heartbeat after which a worker counts as
            dead and its running jobs are queued again.
        stall_check: Seconds between looks for such jobs.
        keep_hours: Hours finished jobs (and their attempts) stay listed.
    """

    max_attempts: int = 5
    retry_base: float = 30.0
    retry_cap: float = 1800.0
    heartbeat: float = 10.0
    stall_timeout: float = 120.0
    stall_check: int = 30
    keep_hours: int = 168


def conninfo(store_url: str) -> str:
    """The libpq connection string of a ``postgresql+psycopg://`` store URL.

    Raises:
        ValueError: the store is not PostgreSQL.
    """
    url = sa.make_url(store_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(
            f"hosted mode needs a PostgreSQL store_url, not {url.get_backend_name()}"
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def task_name(kind: str) -> str:
    """The queue's name for jobs of `kind`."""
    return f"anibridge.{kind}"


def worker_name() -> str:
    """``pid N on HOST``: who ran an attempt."""
    return f"pid {os.getpid()} on {socket.gethostname()}"


@dataclass(slots=True)
class WorkerState:
    """What tasks need in a worker process (passed as the jobs' context).

    `threads` runs each job on its own thread with its own event loop: the
    engine's store calls are synchronous, and a job's planning is CPU work, so on
    the worker's loop one job would stall the others and the heartbeat (a busy
    worker would look dead and its jobs be taken over).
    """

    runner: JobRunner
    engine: sa.Engine
    settings: QueueSettings
    threads: ThreadPoolExecutor | None = None
    schedules: Mapping[str, ProfileSchedule] = field(default_factory=dict)


class _Retries(BaseRetryStrategy):
    """`RetryLater` waits as asked, `JobFailed` never retries, the rest backs off."""

    def __init__(self, settings: QueueSettings) -> None:
        self.settings = settings

    def get_retry_decision(
        self, *, exception: BaseException, job: queue_jobs.Job
    ) -> RetryDecision | None:
        if isinstance(exception, JobFailed) or not isinstance(exception, Exception):
            return None
        if job.attempts + 1 >= self.settings.max_attempts:
            return None
        if isinstance(exception, RetryLater):
            wait = exception.wait
        else:
            wait = min(
                self.settings.retry_cap, self.settings.retry_base * 2**job.attempts
            )
        return RetryDecision(retry_in={"seconds": int(max(0.0, round(wait)))})


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _record(
    engine: sa.Engine,
    job: Job,
    *,
    status: str,
    started_at: str,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t.job_results).values(
                job_id=job.id,
                attempt=job.attempt,
                kind=job.kind,
                profile=job.profile,
                status=status,
                worker=worker_name(),
                started_at=started_at,
                finished_at=_now(),
                result=result,
                error=error,
            )
        )


def _state(context: JobContext) -> WorkerState:
    state = context.additional_context.get(CONTEXT_KEY)
    if not isinstance(state, WorkerState):
        raise JobFailed("this worker was started without AniBridge's job context")
    return state


async def _run(
    context: JobContext, kind: str, profile: str, args: dict[str, Any]
) -> None:
    """Run one attempt of a job and record how it ended."""
    state = _state(context)
    queued = context.job
    assert queued.id is not None
    job = Job(queued.id, kind, profile, dict(args), queued.attempts)
    started = _now()
    try:
        if state.threads is None:
            result = await state.runner.run(job)
        else:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(
                state.threads, _run_on_own_loop, state.runner, job
            )
    except Exception as exc:
        again = _Retries(state.settings).get_retry_decision(exception=exc, job=queued)
        _record(
            state.engine,
            job,
            status="retrying" if again is not None else "failed",
            started_at=started,
            error=_message(exc),
        )
        raise
    _record(state.engine, job, status="ok", started_at=started, result=result)


def _run_on_own_loop(runner: JobRunner, job: Job) -> dict[str, Any]:
    return asyncio.run(runner.run(job))


def _define_tasks(app: App, settings: QueueSettings) -> None:
    retries = _Retries(settings)

    for kind in (*PROFILE_JOBS, *DEPLOYMENT_JOBS):

        async def task(
            context: JobContext, profile: str, args: dict[str, Any], _kind: str = kind
        ) -> None:
            await _run(context, _kind, profile, args)

        app.task(name=task_name(kind), pass_context=True, retry=retries)(task)

    async def retry_stalled(context: JobContext, timestamp: int) -> None:
        """Queue again the running jobs of workers that stopped sending heartbeats."""
        state = _state(context)
        manager = context.app.job_manager
        stalled = await manager.get_stalled_jobs(
            seconds_since_heartbeat=settings.stall_timeout
        )
        for queued in stalled:
            assert queued.id is not None
            job = Job(
                queued.id,
                queued.task_name.removeprefix("anibridge."),
                str(queued.task_kwargs.get("profile", "")),
                {},
                queued.attempts,
            )
            lost = "the worker running it stopped (no heartbeat)"
            if queued.attempts + 1 >= settings.max_attempts:
                _record(
                    state.engine, job, status="failed", started_at=_now(), error=lost
                )
                await manager.finish_job(
                    queued, status=queue_jobs.Status.FAILED, delete_job=False
                )
                log.error("job %s failed: %s (last attempt)", queued.id, lost)
                continue
            _record(state.engine, job, status="lost", started_at=_now(), error=lost)
            await manager.retry_job(queued)
            log.warning("job %s queued again: %s", queued.id, lost)

    app.periodic(
        cron=f"* * * * * */{max(1, settings.stall_check)}",
        periodic_id="retry_stalled",
    )(
        app.task(
            name="anibridge.retry_stalled",
            pass_context=True,
            queueing_lock="anibridge.retry_stalled",
        )(retry_stalled)
    )

    async def schedule_tick(context: JobContext, timestamp: int) -> None:
        """Queue the syncs whose schedules fell due since the previous tick."""
        state = _state(context)
        due = list(due_jobs(state.schedules, timestamp - TICK_SECONDS, timestamp))
        if not due:
            return

        def queue_all() -> int:
            queued = 0
            with state.engine.begin() as conn:
                for profile, mode in due:
                    queued += (
                        enqueue(
                            context.app,
                            conn,
                            "sync",
                            profile,
                            {"mode": mode, "reason": "schedule"},
                            coalesce=sync_coalesce(profile),
                        )
                        is not None
                    )
            return queued

        queued = await asyncio.to_thread(queue_all)
        log.info("schedule tick: %d due, %d queued (others waiting)", len(due), queued)

    app.periodic(cron="* * * * *", periodic_id="schedule_tick")(
        app.task(
            name="anibridge.schedule_tick",
            pass_context=True,
            queueing_lock="anibridge.schedule_tick",
        )(schedule_tick)
    )

    async def cleanup(context: JobContext, timestamp: int) -> None:
        """Forget finished jobs after `keep_hours`, finished housekeeping at once."""
        state = _state(context)
        await context.app.job_manager.delete_old_jobs(
            nb_hours=settings.keep_hours,
            include_failed=True,
            include_cancelled=True,
            include_aborted=True,
        )
        cutoff = datetime.now(UTC) - timedelta(hours=settings.keep_hours)
        with state.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "DELETE FROM procrastinate_jobs WHERE status = 'succeeded' "
                    "AND task_name = ANY(:names) AND id NOT IN (SELECT job_id "
                    "FROM procrastinate_periodic_defers WHERE job_id IS NOT NULL)"
                ),
                {"names": list(_HOUSEKEEPING)},
            )
            conn.execute(
                sa.delete(t.job_results).where(
                    t.job_results.c.finished_at < cutoff.isoformat()
                )
            )

    app.periodic(cron="17 * * * *", periodic_id="cleanup")(
        app.task(
            name="anibridge.cleanup",
            pass_context=True,
            queueing_lock="anibridge.cleanup",
        )(cleanup)
    )


_HOUSEKEEPING = (
    "anibridge.retry_stalled",
    "anibridge.schedule_tick",
    "anibridge.cleanup",
)


def sync_coalesce(profile: str) -> str:
    """The queueing lock under which at most one sync of `profile` waits."""
    return f"sync:{profile}"


def make_queue(store_url: str, settings: QueueSettings | None = None) -> App:
    """The procrastinate app on the store's database, with AniBridge's tasks.

    Raises:
        ValueError: the store is not PostgreSQL.
    """
    settings = settings or QueueSettings()
    app = App(
        connector=PsycopgConnector(conninfo=conninfo(store_url)),
        periodic_defaults={"max_delay": 60},
    )
    _define_tasks(app, settings)
    return app


def enqueue(
    app: App,
    conn: sa.Connection,
    kind: str,
    profile: str,
    args: dict[str, Any] | None = None,
    *,
    coalesce: str | None = None,
    delay: float = 0.0,
) -> int | None:
    """Queue a job inside the caller's open transaction.

    The job becomes visible to workers only when `conn`'s transaction commits, and
    disappears with it if it rolls back: a webhook's record and its job commit or
    vanish together.

    Args:
        app: The queue.
        conn: A connection inside a transaction (``engine.begin()``).
        kind: One of `PROFILE_JOBS` / `DEPLOYMENT_JOBS`.
        profile: The profile's store key ("" for deployment jobs).
        args: The job's arguments (JSON).
        coalesce: A name under which at most one job waits: when one is already
            waiting, nothing is queued (the waiting job will see what was
            recorded, because it reads it when it starts).
        delay: Seconds before the job may start.

    Returns:
        The new job's id, or None when an equal job was already waiting.

    Raises:
        ValueError: `kind` is unknown.
    """
    if kind not in PROFILE_JOBS and kind not in DEPLOYMENT_JOBS:
        raise ValueError(f"unknown job kind {kind!r}")
    raw = conn.connection.driver_connection
    options: dict[str, Any] = {"connection": raw}
    if kind in PROFILE_JOBS:
        options["lock"] = profile_lock(profile)
    if coalesce:
        options["queueing_lock"] = coalesce
    if delay > 0:
        options["schedule_in"] = {"seconds": delay}
    deferrer = app.configure_task(task_name(kind), **options)
    try:
        with conn.begin_nested():
            return deferrer.defer(profile=profile, args=dict(args or {}))
    except queue_errors.AlreadyEnqueued:
        return None


_STATES = {
    "todo": "queued",
    "doing": "running",
    "succeeded": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "aborted": "cancelled",
    "aborting": "running",
}


def job_rows(
    conn: sa.Connection,
    profiles: Iterable[str],
    *,
    limit: int = 50,
    job_id: int | None = None,
) -> list[dict[str, Any]]:
    """Recent jobs of `profiles` (or the one `job_id`), newest first, for the UI.

    ``state`` is ``queued``, ``retrying`` (queued again after a failed or lost
    attempt), ``running``, ``done``, ``failed`` or ``cancelled``; ``error`` is
    the last attempt's error; ``args`` what the job was asked to do.
    """
    locks = [profile_lock(p) for p in profiles]
    if not locks:
        return []
    rows = conn.execute(
        sa.text(
            "SELECT j.id, j.task_name, j.status, j.attempts, j.scheduled_at, j.args,"
            " (SELECT min(e.at) FROM procrastinate_events e"
            "   WHERE e.job_id = j.id AND e.type = 'deferred') AS queued_at"
            " FROM procrastinate_jobs j WHERE j.lock = ANY(:locks)"
            " AND (CAST(:job_id AS bigint) IS NULL OR j.id = :job_id)"
            " ORDER BY j.id DESC LIMIT :limit"
        ),
        {"locks": locks, "limit": limit, "job_id": job_id},
    ).all()
    ids = [r.id for r in rows]
    last: dict[int, Any] = {}
    if ids:
        for r in conn.execute(
            sa.select(t.job_results)
            .where(t.job_results.c.job_id.in_(ids))
            .order_by(t.job_results.c.attempt)
        ).all():
            last[r.job_id] = r
    out = []
    for r in rows:
        state = _STATES.get(r.status, r.status)
        if state == "queued" and r.attempts > 0:
            state = "retrying"
        result = last.get(r.id)
        out.append(
            {
                "id": r.id,
                "kind": r.task_name.removeprefix("anibridge."),
                "profile": str((r.args or {}).get("profile", "")),
                "args": dict((r.args or {}).get("args") or {}),
                "state": state,
                "attempts": r.attempts,
                "queued_at": r.queued_at.isoformat() if r.queued_at else None,
                "not_before": r.scheduled_at.isoformat() if r.scheduled_at else None,
                "error": result.error if result is not None else None,
                "result": result.result if result is not None else None,
            }
        )
    return out


def _message(exc: BaseException) -> str:
    """A job's error as recorded: a provider failure's one line, else type: text."""
    from anibridge.app.service.problems import message_of

    if isinstance(exc, RetryLater | JobFailed):
        return f"{type(exc).__name__}: {exc}"
    return message_of(exc)
