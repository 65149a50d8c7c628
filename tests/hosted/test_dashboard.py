"""The hosted dashboard shows each profile's jobs: queued, running, retrying, failed.

The real hosted web service on loopback, a real worker on the test's PostgreSQL
schema; the jobs' runner follows a script per profile so every state exists at once
while the dashboard is read (one worker slot: the jobs run in queue order, so when
the blocking job starts, the ones before it have their outcome recorded).
"""

from __future__ import annotations

import asyncio
import re
import threading

import httpx

from anibridge.hosted.jobs import Job, JobFailed, RetryLater
from anibridge.hosted.queue import QueueSettings, enqueue, make_queue
from anibridge.hosted.worker import migrate_all, run_worker

FAST = QueueSettings(retry_base=0, heartbeat=0.5, stall_timeout=30, stall_check=10)


class Script:
    """retry → RetryLater in an hour, fail → JobFailed, block → waits for release."""

    def __init__(self, steps: dict[str, str]) -> None:
        self.steps = steps
        self.started = threading.Event()
        self.release = threading.Event()

    async def run(self, job: Job) -> dict:
        step = self.steps.get(job.profile, "ok")
        if step == "retry":
            raise RetryLater("AniList is rate-limiting", wait=3600)
        if step == "fail":
            raise JobFailed("the profile's token was revoked")
        if step == "block":
            self.started.set()
            # The worker runs each job on its own thread: blocking here holds
            # only this job, as a long sync would.
            self.release.wait()
        return {"applied": 0, "failed": 0, "dry_run": False}


def cards(page: str) -> dict[str, str]:
    """Profile → the HTML of its dashboard card."""
    parts = re.split(r'<section class="card profile" data-profile="([^"]+)">', page)
    return {
        parts[i]: parts[i + 1].split("</section>")[0] for i in range(1, len(parts), 2)
    }


def job_states(card: str) -> dict[int, str]:
    """Job id → the state badge the card shows for it."""
    found = re.findall(
        r'<li data-job="(\d+)">.*?<span class="badge [^"]*" data-job-state>(\w+)<',
        card,
        flags=re.S,
    )
    return {int(job): state for job, state in found}


async def test_the_dashboard_shows_every_job_state_per_profile(
    pg_url, store, tmp_path, index, hosted_config, start_hosted
):
    migrate_all(pg_url)
    profiles = {"done": None, "flaky": None, "broken": None, "busy": None}
    config = hosted_config(tmp_path, pg_url, profiles)
    queue = make_queue(pg_url, FAST)
    with store.engine.begin() as conn:
        ids = {
            p: enqueue(queue, conn, "sync", p, {"mode": "full"})
            for p in ("done", "flaky", "broken", "busy")
        }
        # Waits behind the running job of its profile (the queue's profile lock).
        waiting = enqueue(queue, conn, "sync", "busy", {"mode": "incremental"})
    runner = Script({"flaky": "retry", "broken": "fail", "busy": "block"})
    service = await asyncio.to_thread(start_hosted, config, index)
    worker = asyncio.create_task(
        run_worker(
            pg_url,
            runner,
            settings=FAST,
            concurrency=1,
            wait=False,
            poll=0.1,
            signals=False,
        )
    )
    try:
        assert await asyncio.to_thread(runner.started.wait, 60)
        _info, token = service.ctx.auth.create_token("test")
        api = httpx.Client(
            base_url=service.url, headers={"Authorization": f"Bearer {token}"}
        )
        page = api.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 200
        shown = {name: job_states(card) for name, card in cards(page.text).items()}
        assert shown == {
            "done": {ids["done"]: "done"},
            "flaky": {ids["flaky"]: "retrying"},
            "broken": {ids["broken"]: "failed"},
            "busy": {waiting: "queued", ids["busy"]: "running"},
        }
        card = cards(page.text)
        assert "RetryLater: AniList is rate-limiting" in card["flaky"]
        assert "attempt 2" in card["flaky"]  # the next run is the second attempt
        assert "JobFailed: the profile&#39;s token was revoked" in card["broken"]
        assert "Syncing…" in card["busy"] and "Syncing…" not in card["done"]

        # The same per profile through the API, and the counts on the status.
        status = api.get("/api/status").json()["scheduler"]["profiles"]
        assert (status["busy"]["busy"], status["busy"]["queued"]) == (True, 1)
        assert (status["flaky"]["queued"], status["flaky"]["retrying"]) == (1, 1)
        listed = api.get("/api/profiles/busy/jobs").json()
        assert [(j["id"], j["state"]) for j in listed] == [
            (waiting, "queued"),
            (ids["busy"], "running"),
        ]

        runner.release.set()
        await worker
        after = api.get("/api/profiles/busy/jobs").json()
        assert {j["id"]: j["state"] for j in after} == {
            waiting: "done",
            ids["busy"]: "done",
        }
    finally:
        runner.release.set()
        if not worker.done():
            await worker
        await asyncio.to_thread(service.stop)
