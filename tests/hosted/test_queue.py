"""The job queue: enqueue in the caller's transaction, coalescing, retries, outcomes."""

from __future__ import annotations

import sqlalchemy as sa

from anibridge.hosted.jobs import Job, JobFailed, RetryLater
from anibridge.hosted.queue import QueueSettings, enqueue, job_rows, make_queue
from anibridge.hosted.schema import migrate_queue, state
from anibridge.hosted.worker import run_worker
from anibridge.store import schema as t

FAST = QueueSettings(retry_base=0, heartbeat=0.5, stall_timeout=2, stall_check=1)


class Recorder:
    """Runs jobs by following a script per profile: ok, retry, fail or boom."""

    def __init__(self, script: dict[str, list[str]] | None = None) -> None:
        self.script = script or {}
        self.ran: list[Job] = []

    async def run(self, job: Job) -> dict:
        self.ran.append(job)
        steps = self.script.get(job.profile, [])
        step = steps[job.attempt] if job.attempt < len(steps) else "ok"
        if step == "retry":
            raise RetryLater("service busy", wait=0)
        if step == "fail":
            raise JobFailed("profile gone")
        if step == "boom":
            raise RuntimeError("unexpected")
        return {"profile": job.profile, "attempt": job.attempt}


async def _drain(url: str, runner, settings: QueueSettings = FAST) -> None:
    """Run workers until no job is due (a retry queued as a worker stops counts)."""
    engine = sa.create_engine(url)
    due = sa.text(
        "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' "
        "AND (scheduled_at IS NULL OR scheduled_at <= now())"
    )
    try:
        while True:
            await run_worker(
                url,
                runner,
                settings=settings,
                concurrency=2,
                wait=False,
                poll=0.1,
                signals=False,
            )
            with engine.connect() as conn:
                if conn.execute(due).scalar_one() == 0:
                    return
    finally:
        engine.dispose()


def _queue(store, url):
    migrate_queue(store.engine)
    return make_queue(url, FAST)


def test_queue_schema_is_created_once_and_then_current(store):
    assert state(store.engine).applied is None
    assert migrate_queue(store.engine) == "created"
    assert migrate_queue(store.engine) == "current"
    assert state(store.engine).current


def test_a_job_exists_only_if_its_transaction_commits(store, pg_url):
    queue = _queue(store, pg_url)
    with store.engine.connect() as conn:
        with conn.begin() as tx:
            assert enqueue(queue, conn, "sync", "alice") is not None
            tx.rollback()
        with conn.begin():
            job_id = enqueue(queue, conn, "sync", "bob")
    with store.engine.connect() as conn:
        rows = job_rows(conn, ["alice", "bob"])
    assert [(r["id"], r["profile"], r["state"]) for r in rows] == [
        (job_id, "bob", "queued")
    ]


def test_waiting_jobs_coalesce_and_the_transaction_survives(store, pg_url):
    queue = _queue(store, pg_url)
    with store.engine.begin() as conn:
        first = enqueue(queue, conn, "sync", "alice", coalesce="sync:alice")
        again = enqueue(queue, conn, "sync", "alice", coalesce="sync:alice")
        other = enqueue(queue, conn, "sync", "bob", coalesce="sync:bob")
        # The refused duplicate rolled back to its savepoint only.
        conn.execute(sa.text("SELECT 1"))
    assert first is not None and other is not None and again is None
    with store.engine.connect() as conn:
        assert len(job_rows(conn, ["alice", "bob"])) == 2


async def test_worker_runs_jobs_and_records_each_attempt(store, pg_url):
    queue = _queue(store, pg_url)
    with store.engine.begin() as conn:
        ids = {
            p: enqueue(queue, conn, "sync", p, {"mode": "full"})
            for p in ("ok", "flaky", "gone", "buggy")
        }
    runner = Recorder(
        {
            "flaky": ["retry", "ok"],
            "gone": ["fail"],
            "buggy": ["boom", "boom", "boom", "boom", "boom"],
        }
    )
    await _drain(
        pg_url,
        runner,
        QueueSettings(max_attempts=3, retry_base=0, heartbeat=0.5, stall_timeout=2),
    )
    with store.engine.connect() as conn:
        outcomes = {
            job_id: [
                (r.attempt, r.status)
                for r in conn.execute(
                    sa.select(t.job_results)
                    .where(t.job_results.c.job_id == job_id)
                    .order_by(t.job_results.c.attempt)
                )
            ]
            for job_id in ids.values()
        }
        states = {r["profile"]: r for r in job_rows(conn, list(ids))}
    assert outcomes[ids["ok"]] == [(0, "ok")]
    assert outcomes[ids["flaky"]] == [(0, "retrying"), (1, "ok")]
    assert outcomes[ids["gone"]] == [(0, "failed")]
    assert outcomes[ids["buggy"]] == [(0, "retrying"), (1, "retrying"), (2, "failed")]
    assert states["ok"]["state"] == "done"
    assert states["ok"]["result"] == {"profile": "ok", "attempt": 0}
    assert states["gone"]["state"] == "failed"
    assert states["gone"]["error"] == "JobFailed: profile gone"
    assert states["buggy"]["state"] == "failed"
    assert all(job.args == {"mode": "full"} for job in runner.ran)


async def test_a_retry_waiting_for_its_time_shows_as_retrying(store, pg_url):
    queue = _queue(store, pg_url)
    with store.engine.begin() as conn:
        enqueue(queue, conn, "sync", "alice")

    class Later:
        async def run(self, job):
            raise RetryLater("rate limited", wait=3600)

    await _drain(pg_url, Later())
    with store.engine.connect() as conn:
        (row,) = job_rows(conn, ["alice"])
    assert row["state"] == "retrying"
    assert row["error"] == "RetryLater: rate limited"
    assert row["not_before"] is not None


async def test_cleanup_forgets_housekeeping_and_old_jobs(store, pg_url):
    queue = _queue(store, pg_url)
    with store.engine.begin() as conn:
        kept = enqueue(queue, conn, "sync", "alice")
    await _drain(pg_url, Recorder())
    with store.engine.begin() as conn:
        # Housekeeping runs every second in these settings: some have finished.
        conn.execute(
            sa.text(
                "UPDATE procrastinate_events SET at = at - interval '400 hours' "
                "WHERE job_id = :id"
            ),
            {"id": kept},
        )
        conn.execute(
            sa.update(t.job_results).values(finished_at="2000-01-01T00:00:00+00:00")
        )
    async with queue.open_async():
        await queue.configure_task("anibridge.cleanup").defer_async(timestamp=0)
    await _drain(pg_url, Recorder())
    with store.engine.connect() as conn:
        left = conn.execute(
            sa.text("SELECT id, task_name, status FROM procrastinate_jobs")
        ).all()
        results = conn.execute(sa.select(sa.func.count()).select_from(t.job_results))
        assert results.scalar_one() == 0
    assert kept not in {row.id for row in left}
    periodic = {row.task_name for row in left if row.status == "succeeded"}
    housekeeping = {
        "anibridge.retry_stalled",
        "anibridge.schedule_tick",
        "anibridge.cleanup",
    }
    assert periodic <= housekeeping
    assert len([r for r in left if r.status == "succeeded"]) <= len(housekeeping)
