"""Apply and undo from the hosted web service: queued jobs a real worker runs.

The real web service on loopback (hosted context on the test's PostgreSQL schema),
the real engine in an in-process worker, a local library synced to a local list.
"""

from __future__ import annotations

import asyncio

import httpx

from anibridge.app.config import load_config
from anibridge.hosted.queue import QueueSettings
from anibridge.hosted.runner import EngineRunner
from anibridge.hosted.worker import migrate_all, run_worker

FAST = QueueSettings(retry_base=0, heartbeat=0.5, stall_timeout=2, stall_check=1)


async def drain(pg_url: str, runner: EngineRunner) -> None:
    await run_worker(
        pg_url,
        runner,
        settings=FAST,
        concurrency=2,
        wait=False,
        poll=0.1,
        signals=False,
    )


def applied(store, run_id: str) -> list[str]:
    """The action ids `run_id` wrote (one per write), in journal order."""
    return [
        e.action_id
        for e in store.bundle().journal.entries(run_id)
        if e.outcome == "applied"
    ]


async def test_undo_and_apply_are_jobs_that_a_worker_runs(
    pg_url, store, tmp_path, index, hosted_config, start_hosted
):
    migrate_all(pg_url)
    config = hosted_config(tmp_path, pg_url, {"alice": None})
    loaded = load_config(config, environ={})
    runner = EngineRunner(loaded)
    service = await asyncio.to_thread(start_hosted, config, index)
    try:
        _info, token = service.ctx.auth.create_token("test")
        api = httpx.Client(
            base_url=service.url, headers={"Authorization": f"Bearer {token}"}
        )
        api.post("/api/profiles/alice/sync", json={"mode": "full"})
        await drain(pg_url, runner)
        (synced,) = api.get("/api/profiles/alice/jobs").json()
        first_run = synced["result"]["run_id"]
        writes = applied(store, first_run)
        assert writes and len(set(writes)) == len(writes)

        # Undo the run from the web: queued at once, not refused, not run here.
        answer = api.post(f"/api/profiles/alice/runs/{first_run}/undo")
        assert answer.status_code == 202, answer.text
        queued = answer.json()
        assert queued["status"] == "queued"
        undo_job = queued["summary"]["job_id"]
        assert undo_job and queued["summary"]["kind"] == "undo"
        assert applied(store, first_run) == writes  # nothing ran in the web process
        await drain(pg_url, runner)
        jobs = {j["id"]: j for j in api.get("/api/profiles/alice/jobs").json()}
        assert jobs[undo_job]["state"] == "done", jobs[undo_job]
        undo_run = jobs[undo_job]["result"]["run_id"]
        assert jobs[undo_job]["result"]["undoes"] == first_run
        reverted = store.bundle().journal.entries(undo_run)
        assert sorted(e.undoes for e in reverted if e.outcome == "applied") == sorted(
            writes
        )
        # Undoing it again is refused by the web at once (already undone).
        again = api.post(f"/api/profiles/alice/runs/{first_run}/undo")
        assert again.status_code == 409, again.text

        # Apply the approved ids again (the state is back to before the sync, so
        # the fresh plan has the same ids): a queued job, written exactly once.
        ticket = service.ctx.scheduler.enqueue_write(
            "apply", "alice", {"plan_id": None, "action_ids": writes}
        )
        assert ticket.status == "queued" and ticket.summary["job_id"]
        await drain(pg_url, runner)
        jobs = {j["id"]: j for j in api.get("/api/profiles/alice/jobs").json()}
        done = jobs[ticket.summary["job_id"]]
        assert done["state"] == "done", done
        assert done["result"]["outdated"] == []
        assert sorted(done["result"]["applied_ids"]) == sorted(writes)
        assert sorted(applied(store, done["result"]["run_id"])) == sorted(writes)
        # A second apply of the same ids finds them already written: no write.
        repeat = service.ctx.scheduler.enqueue_write(
            "apply", "alice", {"action_ids": writes}
        )
        await drain(pg_url, runner)
        jobs = {j["id"]: j for j in api.get("/api/profiles/alice/jobs").json()}
        result = jobs[repeat.summary["job_id"]]["result"]
        assert result["run_id"] is None or applied(store, result["run_id"]) == []

        # The web's apply of a plan it does not keep is a 404, not a 409.
        missing = api.post("/api/plans/nope/apply", json={"action_ids": writes})
        assert missing.status_code == 404, missing.text
    finally:
        await asyncio.to_thread(service.stop)
