"""Live progress of background runs over SSE, on the real service over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from tests.app.web.conftest import start_service


def _sse(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, decoded data) of each server-sent event."""
    name, data = "message", []
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "":
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []


def _until_finished(events: Iterator[tuple[str, dict[str, Any]]]) -> list[dict]:
    """Progress states up to the one that says the job finished."""
    states = []
    for name, data in events:
        if name == "progress":
            states.append(data["state"])
            if data["state"]["finished"]:
                return states
    raise AssertionError("the stream ended before the job finished")


def test_a_preview_runs_in_the_background_with_live_progress(service, api):
    with api.stream("GET", "/api/profiles/demo/progress/stream") as stream:
        events = _sse(stream)
        name, first = next(events)
        assert name == "state"  # the current state first: nothing ran yet
        assert first["progress"] is None
        started = api.post(
            "/api/profiles/demo/sync", json={"mode": "full", "dry_run": True}
        )
        assert started.status_code == 202  # answered before the run is done
        states = _until_finished(events)
    assert states[0]["job"] == "preview"
    phases = [s["phase"] for s in states]
    # A slow client may lose the oldest events (the bus keeps each subscriber's
    # newest 256), so require what a live view guarantees: phases in order, seen
    # before the end, ending done.
    order = ["reading", "planning", "done"]
    seen = [p for p in phases if p in order]
    assert seen == sorted(seen, key=order.index) and seen[-1] == "done"
    assert {"reading", "planning"} & set(seen)  # live states before the end
    final = states[-1]
    reads = {(r["provider"], r["section"]): r for r in final["reads"]}
    assert reads[("library", "library")]["items"] == 3  # the workspace's 3 shows
    assert all(r["pages"] >= 1 for r in reads.values())
    assert ("list", "records") in reads or ("list", "library") in reads
    assert final["result"]["status"] == "ok"
    plan_id = final["result"]["plan_id"]
    kept = api.get(f"/api/plans/{plan_id}")
    assert kept.status_code == 200
    # The run's result counts what the plan's header counts, as a real run would.
    counts, summary = kept.json()["counts"], final["result"]["summary"]
    assert summary["skipped"] == sum(counts["skipped"].values()), (summary, counts)
    assert summary["unchanged"] == counts["unchanged"], (summary, counts)
    assert (summary["applied"], summary["unsent"]) == (0, 0), summary

    # A client that (re)connects after the end gets the finished state at once.
    with api.stream("GET", "/api/profiles/demo/progress/stream") as again:
        events = _sse(again)
        name, state = next(events)
        assert name == "state"
        assert state["progress"]["finished"] is True
        assert state["progress"]["result"]["plan_id"] == plan_id
        last = state["worker"]["last_result"]
        if last is None or last.get("plan_id") != plan_id:
            # The board marks the job finished on the profile's thread a moment
            # before the scheduler records the result (a busy machine widens
            # that); the run_finished event that follows the snapshot carries it.
            last = next(data for kind, data in events if kind == "run_finished")
            last = last["result"]
    assert last["plan_id"] == plan_id
    snapshot = api.get("/api/profiles/demo/progress").json()
    assert snapshot["progress"]["result"]["plan_id"] == plan_id


def test_a_sync_reports_its_writes_done_of_total(service, api):
    with api.stream("GET", "/api/profiles/demo/progress/stream") as stream:
        events = _sse(stream)
        next(events)
        api.post("/api/profiles/demo/sync", json={"mode": "full"})
        states = _until_finished(events)
    assert "writing" in [s["phase"] for s in states]
    final = states[-1]
    assert final["job"] == "sync"
    assert final["writes"]["total"] > 0
    assert final["writes"]["done"] == final["writes"]["total"]
    assert final["result"]["status"] == "ok"
    assert final["result"]["summary"]["applied"] == final["writes"]["total"]


def test_progress_of_an_unknown_profile_is_a_404(api):
    assert api.get("/api/profiles/nosuch/progress").status_code == 404
    assert api.get("/api/profiles/nosuch/progress/stream").status_code == 404


def test_the_preview_button_answers_at_once_and_the_page_shows_the_result(
    service, api, login, csrf
):
    with httpx.Client(base_url=service.url, timeout=30) as browser:
        login(browser)
        token = csrf(browser.get("/").text)
        with api.stream("GET", "/api/profiles/demo/progress/stream") as stream:
            events = _sse(stream)
            next(events)
            started = browser.post(
                "/ui/profiles/demo/sync",
                data={"mode": "full", "dry_run": "true", "csrf_token": token},
                headers={"Accept": "text/html"},
            )
            # A redirect to the progress page, not an answer after the run.
            assert started.status_code == 303
            target = started.headers["location"]
            assert target.startswith("/progress/demo?since=0")
            assert "then=plan" in target
            states = _until_finished(events)
        plan_id = states[-1]["result"]["plan_id"]
        # Done: the preview's progress page opens its plan (without JS too).
        done = browser.get(target)
        assert done.status_code == 303
        assert done.headers["location"] == f"/plans/{plan_id}"
        # A sync's page shows the result in place, with the live stream wired.
        page = browser.get("/progress/demo", params={"since": 0})
        assert page.status_code == 200
        assert f'href="/plans/{plan_id}"' in page.text
        assert "Review the plan" in page.text
        assert 'data-stream="/api/profiles/demo/progress/stream"' in page.text
        # The next preview's page does not show this (older) result as its own.
        newer = browser.get("/progress/demo", params={"since": states[-1]["seq"]})
        assert "Waiting for the job to start" in newer.text
        assert plan_id not in newer.text


def test_a_stream_whose_client_left_unsubscribes_and_the_loop_closes(
    workspace, mapping_index
):
    # The stream's subscription ends with the connection, and a stopped service
    # closes its loop (async generators closed first): a loop left open and
    # dropped later discarded pending `aclose()` calls ("never awaited").
    server = start_service(workspace, mapping_index)
    _info, secret = server.ctx.auth.create_token("tests")
    bus = server.ctx.bus
    before = bus.subscribers
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        with client.stream("GET", "/api/events") as stream:
            assert next(stream.iter_lines()).startswith("retry:")
        for _ in range(1000):  # the server notices the hang-up when it next writes
            if bus.subscribers == before:
                break
            bus.publish("mappings_refreshed")
            client.get("/api/status")  # a round trip: the server's loop ran
    assert bus.subscribers == before
    server.stop()
    assert server.loop is not None and server.loop.is_closed()
