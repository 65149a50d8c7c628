"""Live progress of background runs over SSE, on the real service over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx


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
    assert phases.index("reading") < phases.index("planning") < phases.index("done")
    final = states[-1]
    reads = {(r["provider"], r["section"]): r for r in final["reads"]}
    assert reads[("library", "library")]["items"] == 3  # the workspace's 3 shows
    assert all(r["pages"] >= 1 for r in reads.values())
    assert ("list", "records") in reads or ("list", "library") in reads
    assert final["result"]["status"] == "ok"
    plan_id = final["result"]["plan_id"]
    assert api.get(f"/api/plans/{plan_id}").status_code == 200

    # A client that (re)connects after the end gets the finished state at once.
    with api.stream("GET", "/api/profiles/demo/progress/stream") as again:
        name, state = next(_sse(again))
    assert name == "state"
    assert state["progress"]["finished"] is True
    assert state["progress"]["result"]["plan_id"] == plan_id
    assert state["worker"]["last_result"]["plan_id"] == plan_id
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
