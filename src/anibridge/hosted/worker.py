"""`anibridge worker`: a process that runs queued jobs, and `anibridge migrate`.

A worker checks that the store and the queue tables are at this version's schema
(it never migrates: with many workers starting at once, an upgrade is one explicit
`anibridge migrate`), installs the shared rate limits, and runs up to
``concurrency`` jobs at a time until it is asked to stop. SIGTERM/SIGINT drain it:
no new job is taken, running jobs finish, then it exits — the way to stop workers
before an upgrade.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from anibridge.app.scheduler import ProfileSchedule
from anibridge.hosted.limits import PgSharedLimits
from anibridge.hosted.queue import (
    CONTEXT_KEY,
    QueueSettings,
    WorkerState,
    make_queue,
)
from anibridge.hosted.schema import check, migrate_queue
from anibridge.http.limits import use_shared_limits
from anibridge.store import StoreError, create_store_engine, migrate
from anibridge.store.engine import HEAD, current_revision

__all__ = ["migrate_all", "open_hosted_engine", "queue_settings", "run_worker"]

log = logging.getLogger("anibridge.hosted")


def queue_settings(hosted: Any) -> QueueSettings:
    """`QueueSettings` from the config's ``hosted`` section."""
    return QueueSettings(
        max_attempts=hosted.max_attempts,
        retry_base=hosted.retry_base,
        retry_cap=hosted.retry_cap,
        heartbeat=hosted.heartbeat,
        stall_timeout=hosted.stall_timeout,
        stall_check=hosted.stall_check,
    )


def open_hosted_engine(store_url: str) -> sa.Engine:
    """An engine on a hosted store whose schema is current (checked, not migrated).

    Raises:
        StoreError: the store is not PostgreSQL or not at this version's schema.
        QueueSchemaError: the queue's tables are missing or from another version.
    """
    if sa.make_url(store_url).get_backend_name() != "postgresql":
        raise StoreError(
            "hosted mode needs store_url: postgresql+psycopg://… (the job queue "
            "and the shared rate limits live in PostgreSQL)"
        )
    engine = create_store_engine(store_url)
    try:
        revision = current_revision(engine)
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StoreError(f"hosted store cannot be opened: {detail}") from exc
    if revision != HEAD:
        engine.dispose()
        raise StoreError(
            f"the store is at schema revision {revision!r}, this AniBridge needs "
            f"{HEAD!r}: run 'anibridge migrate' once (with the same config) first"
        )
    check(engine)
    return engine


def migrate_all(store_url: str) -> list[str]:
    """Bring the store and, on PostgreSQL, the job queue to this version's schema.

    Returns:
        One line per part saying what was done.
    """
    engine = create_store_engine(store_url)
    try:
        before = current_revision(engine)
        migrate(engine)
        done = [
            f"store: at {HEAD}"
            + ("" if before == HEAD else f" (was {before or 'empty'})")
        ]
        if engine.dialect.name == "postgresql":
            done.append(f"job queue: {migrate_queue(engine)}")
        return done
    finally:
        engine.dispose()


async def run_worker(
    store_url: str,
    runner: Any,
    *,
    settings: QueueSettings,
    concurrency: int,
    name: str | None = None,
    wait: bool = True,
    poll: float = 5.0,
    engine: sa.Engine | None = None,
    signals: bool = True,
    schedules: Mapping[str, ProfileSchedule] | None = None,
) -> None:
    """Run jobs until stopped (SIGTERM/SIGINT drain), or until idle with `wait=False`.

    Args:
        store_url: The hosted store.
        runner: The `JobRunner` jobs are handed to.
        settings: Retry and heartbeat settings.
        concurrency: Jobs run at once in this process.
        name: The worker's name in logs.
        wait: False stops the worker once the queue is empty (tests, one-offs).
        poll: Seconds between looks at the queue when no notification came.
        engine: An engine on the store (default: opened and checked here).
        signals: Whether SIGTERM/SIGINT drain the worker (off inside tests).
        schedules: Profile → its schedule, for the once-a-minute schedule tick
            (whichever worker takes a tick queues the due syncs of all profiles).
    """
    own = engine is None
    engine = engine or open_hosted_engine(store_url)
    use_shared_limits(PgSharedLimits(engine))
    app = make_queue(store_url, settings)
    threads = ThreadPoolExecutor(concurrency, thread_name_prefix="anibridge-job")
    try:
        async with app.open_async():
            await app.run_worker_async(
                concurrency=concurrency,
                name=name or "anibridge-worker",
                wait=wait,
                fetch_job_polling_interval=poll,
                update_heartbeat_interval=settings.heartbeat,
                stalled_worker_timeout=settings.stall_timeout,
                install_signal_handlers=signals,
                additional_context={
                    CONTEXT_KEY: WorkerState(
                        runner, engine, settings, threads, dict(schedules or {})
                    ),
                },
            )
    finally:
        threads.shutdown(wait=True)
        use_shared_limits(None)
        if own:
            engine.dispose()
