"""`anibridge serve --hosted`: the web service records and enqueues, workers run.

The real web service on loopback (hosted context on the test's PostgreSQL schema),
the real engine in an in-process worker, local libraries synced to local lists.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa

from anibridge.app.config import load_config
from anibridge.hosted.queue import QueueSettings
from anibridge.hosted.runner import EngineRunner
from anibridge.hosted.worker import migrate_all, run_worker
from anibridge.provider.base import AppendEvent, Ref
from anibridge.providers.local import LocalProvider
from anibridge.store import schema as t

FAST = QueueSettings(retry_base=0, heartbeat=0.5, stall_timeout=2, stall_check=1)


def webhook_body(key: str, episode: int) -> bytes:
    change = {
        "kind": "event",
        "ref": {"key": key, "path": {"season": 1, "episode": episode}},
        "event_kind": "play",
    }
    return json.dumps(
        {"type": "anibridge.local.changes", "instance": "library", "changes": [change]}
    ).encode()


async def add_play(path, key: str, episode: int) -> None:
    lib = LocalProvider(logger=logging.getLogger("t"), config={"path": str(path)})
    await lib.initialize()
    try:
        (result,) = await lib.write_events(
            [
                AppendEvent(
                    Ref.at(key, ("season", 1), ("episode", episode)),
                    "play",
                    datetime(2025, 1, 1, tzinfo=UTC),
                )
            ]
        )
        assert result.ok, result
    finally:
        await lib.close()


async def test_webhooks_and_sync_now_become_jobs_that_workers_run(
    pg_url, store, tmp_path, index, hosted_config, start_hosted
):
    migrate_all(pg_url)
    config = hosted_config(tmp_path, pg_url, {"alice": None})
    loaded = load_config(config, environ={})
    # The library exists (seeded) before the service starts, as it would in use.
    runner = EngineRunner(loaded)
    service = await asyncio.to_thread(start_hosted, config, index)
    try:
        secret = service.ctx.auth.webhook_secret("library")
        _info, token = service.ctx.auth.create_token("test")
        api = httpx.Client(
            base_url=service.url, headers={"Authorization": f"Bearer {token}"}
        )
        anon = httpx.Client(base_url=service.url)

        # Sync now: a job, not a run in this process.
        answer = api.post("/api/profiles/alice/sync", json={"mode": "full"})
        assert answer.status_code == 202
        result = answer.json()["result"]
        assert result["status"] == "queued" and result["summary"]["job_id"]
        first = result["summary"]["job_id"]
        await run_worker(
            pg_url,
            runner,
            settings=FAST,
            concurrency=2,
            wait=False,
            poll=0.1,
            signals=False,
        )
        jobs = api.get("/api/profiles/alice/jobs").json()
        assert [(j["id"], j["state"]) for j in jobs] == [(first, "done")]
        assert jobs[0]["result"]["failed"] == 0

        # A play, then its webhook: recorded and queued in one transaction.
        await add_play(tmp_path / "alice" / "library.sqlite", "naruto", 3)
        hook = anon.post(
            f"/webhook/library/{secret}",
            content=webhook_body("naruto", 3),
            headers={"Content-Type": "application/json"},
        )
        assert hook.status_code == 202, hook.text
        assert hook.json()["profiles"] == ["alice"]
        # "Sync now" while that job waits joins it instead of queueing another.
        again = api.post("/api/profiles/alice/sync", json={}).json()["result"]
        assert again["summary"] == {"job_id": None, "coalesced": True}
        with store.engine.connect() as conn:
            inbox = conn.execute(sa.select(t.webhook_inbox)).all()
        waiting = api.get("/api/profiles/alice/jobs").json()
        assert [j["state"] for j in waiting] == ["queued", "done"]
        assert len(inbox) == 1 and inbox[0].consumed_by is None
        assert (
            api.get("/api/status").json()["scheduler"]["profiles"]["alice"]["queued"]
            == 1
        )
        page = api.get("/", headers={"Accept": "text/html"}).text
        assert "data-job-state>queued<" in page and "data-job-state>done<" in page

        await run_worker(
            pg_url,
            runner,
            settings=FAST,
            concurrency=2,
            wait=False,
            poll=0.1,
            signals=False,
        )
        done = api.get("/api/profiles/alice/jobs").json()
        assert [j["state"] for j in done] == ["done", "done"]
        with store.engine.connect() as conn:
            consumed = conn.execute(
                sa.select(t.webhook_inbox.c.consumed_by)
            ).scalar_one()
        assert consumed == done[0]["id"]
        assert done[0]["result"]["applied"] >= 1  # Naruto's progress moved to 3
    finally:
        await asyncio.to_thread(service.stop)


async def test_a_webhook_whose_job_cannot_be_queued_is_not_recorded(
    pg_url, store, tmp_path, index, hosted_config, start_hosted
):
    migrate_all(pg_url)
    config = hosted_config(tmp_path, pg_url, {"alice": None})
    service = await asyncio.to_thread(start_hosted, config, index)
    try:
        secret = service.ctx.auth.webhook_secret("library")
        # The queue refuses sync jobs (as a full disk or a lost connection would).
        with store.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "ALTER TABLE procrastinate_jobs ADD CONSTRAINT refuse_syncs"
                    " CHECK (task_name <> 'anibridge.sync') NOT VALID"
                )
            )
        anon = httpx.Client(base_url=service.url)
        hook = anon.post(
            f"/webhook/library/{secret}",
            content=webhook_body("naruto", 3),
            headers={"Content-Type": "application/json"},
        )
        assert hook.status_code == 500
        with store.engine.connect() as conn:
            kept = conn.execute(
                sa.select(sa.func.count()).select_from(t.webhook_inbox)
            ).scalar_one()
        assert kept == 0, "the record must roll back with its job"
    finally:
        await asyncio.to_thread(service.stop)
