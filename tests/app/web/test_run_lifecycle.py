"""`serve` takes the profile lock per job; dead runs show as interrupted."""

from __future__ import annotations

import os

import httpx

from anibridge.app.config import load_config
from anibridge.bridge.stores import RunRecord
from anibridge.store import SqlStore


def test_a_profile_held_elsewhere_is_busy_and_dead_runs_show_interrupted(
    workspace, mapping_index, start, token, login
):
    workspace.write_text(workspace.read_text() + "lock_wait: 0\n")
    service = start(workspace, mapping_index)
    store = SqlStore(load_config(workspace, environ={}).store_url)
    try:
        _info, secret = service.ctx.auth.create_token("tests")
        api = httpx.Client(
            base_url=service.url,
            headers={"Authorization": f"Bearer {secret}"},
            timeout=30,
        )
        # A CLI run of the same profile holds the lock (same flock as a process).
        cli = store.profile_lock("demo", purpose="sync")
        assert cli.try_acquire()
        store.start_run(
            RunRecord(
                "dead-run", "demo", "2020-01-01T00:00:00+00:00", owner="pid 1 on gone"
            )
        )
        busy = api.post(
            "/api/profiles/demo/sync",
            json={"mode": "full", "dry_run": False, "wait": True},
        ).json()["result"]
        assert busy["status"] == "busy"
        assert f"pid {os.getpid()}" in busy["error"] and "sync since" in busy["error"]
        assert store.run("dead-run").status == "running"  # not touched while held
        undo = api.post("/api/profiles/demo/undo", json={"action_ids": ["x"]})
        assert undo.status_code == 409 and "busy" in undo.text
        assert store.runs("demo")[0].id == "dead-run"  # nothing ran

        cli.release()
        done = api.post(
            "/api/profiles/demo/sync",
            json={"mode": "full", "dry_run": False, "wait": True},
        ).json()["result"]
        assert done["status"] == "ok"
        runs = {r["id"]: r for r in api.get("/api/profiles/demo/runs").json()}
        assert runs["dead-run"]["status"] == "interrupted"
        assert runs["dead-run"]["owner"] == "pid 1 on gone"
        assert runs[done["run_id"]]["owner"].startswith(f"pid {os.getpid()} on ")

        with httpx.Client(base_url=service.url, timeout=30) as browser:
            assert login(browser).status_code in (200, 303)
            page = browser.get("/timeline/demo")
            assert page.status_code == 200
            assert "interrupted" in page.text
        api.close()
    finally:
        store.close()
        service.stop()
