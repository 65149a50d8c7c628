"""A config saved from the UI takes effect without a restart, never mid-run."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.app.web.conftest import CONFIG

SECOND = """\
  second:
    source:
      type: local
      name: library2
      config: {path: library2.sqlite, seed: library.yaml, instance: library2}
    target:
      type: local
      name: list2
      config:
        path: list2.sqlite
        seed: list.yaml
        authorities: [anilist]
        rating_scale: [0, 100, 1]
        date_precision: date
"""


def _profiles(api: httpx.Client) -> list[str]:
    status = api.get("/api/status").json()
    return sorted(p["name"] for p in status["profiles"])


def test_a_saved_profile_runs_at_once_without_a_restart(service, api):
    assert _profiles(api) == ["demo"]
    assert api.get("/api/profiles/second/progress").status_code == 404
    saved = api.put("/api/config", json={"content": CONFIG + SECOND})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["reload"] == "applied"
    assert body["changed"] == ["profiles"]
    assert body["requires_restart"] == []
    assert _profiles(api) == ["demo", "second"]
    run = api.post(
        "/api/profiles/second/sync", json={"mode": "full", "wait": True}
    ).json()["result"]
    assert run["status"] == "ok"
    assert run["summary"]["applied"] > 0
    assert api.get("/api/status").json()["ready"] is True
    # The first profile was rebuilt too, and still runs.
    again = api.post("/api/profiles/demo/sync", json={"mode": "full", "wait": True})
    assert again.json()["result"]["status"] == "ok"


def test_a_save_during_a_run_applies_when_the_run_has_finished(service, api):
    ctx = service.ctx

    async def hold() -> tuple[asyncio.Event, asyncio.Future]:
        gate, started = asyncio.Event(), asyncio.Event()

        async def job() -> str:
            started.set()
            await gate.wait()
            return "held"

        future = ctx.scheduler.worker("demo").submit("held job", job)
        await started.wait()
        return gate, future

    gate, held = service.call(hold())
    saved = api.put("/api/config", json={"content": CONFIG + SECOND}).json()
    assert saved["reload"] == "pending"
    assert saved["waiting_for"] == ["demo"]
    assert _profiles(api) == ["demo"]  # nothing swapped under the running job
    with api.stream("GET", "/api/events") as stream:
        service.loop.call_soon_threadsafe(gate.set)
        for line in stream.iter_lines():
            if line.startswith("data: ") and '"config_reloaded"' in line:
                event = json.loads(line[6:])
                break
    assert event["profiles"] == ["demo", "second"]
    assert held.result() == "held"  # the job finished normally
    assert _profiles(api) == ["demo", "second"]


def test_web_settings_still_need_a_restart_and_say_so(service, api, login, csrf):
    text = CONFIG + "web:\n  allowed_hosts: [media.example]\n"
    saved = api.put("/api/config", json={"content": text}).json()
    assert saved["reload"] == "applied"
    assert saved["requires_restart"] == ["web"]
    with httpx.Client(base_url=service.url, timeout=30) as browser:
        login(browser)
        token = csrf(browser.get("/settings").text)
        answer = browser.post(
            "/ui/config",
            data={"content": CONFIG + SECOND, "action": "save", "csrf_token": token},
        )
        assert answer.status_code == 303
        page = browser.get(answer.headers["location"])
        assert "Settings saved and applied" in page.text
    assert _profiles(api) == ["demo", "second"]


def test_a_new_store_or_data_folder_needs_a_restart(service, api):
    text = CONFIG.replace(
        "data_dir: data\n", "data_dir: data\nstore_url: sqlite:///elsewhere.db\n"
    )
    saved = api.put("/api/config", json={"content": text}).json()
    assert saved["reload"] == "restart"
    assert saved["requires_restart"] == ["store_url"]
    assert _profiles(api) == ["demo"]  # the running profiles were left alone


def test_profiles_that_cannot_start_leave_the_previous_ones_running(service, api):
    import asyncio as aio

    backend = service.ctx.backend
    real_reload = backend.reload
    calls: list[str] = []

    async def failing_once(loaded):
        calls.append(",".join(sorted(loaded.app.profiles)))
        if len(calls) == 1:
            await aio.sleep(0)
            raise RuntimeError("the new store is unreachable")
        await real_reload(loaded)

    backend.reload = failing_once
    saved = api.put("/api/config", json={"content": CONFIG + SECOND}).json()
    assert saved["reload"] == "failed"
    assert "the new store is unreachable" in saved["error"]
    assert calls == ["demo,second", "demo"]  # then back to what ran
    assert _profiles(api) == ["demo"]
    assert api.get("/api/status").json()["scheduler"]["running"] is True
    run = api.post("/api/profiles/demo/sync", json={"mode": "full", "wait": True})
    assert run.json()["result"]["status"] == "ok"
