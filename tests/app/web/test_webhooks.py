"""Webhooks: secrets, limits, a targeted sync of just the touched show, coalescing.

No assertion here is about how long something took (the machine may be busy):
waits are for a state, with a generous deadline that only turns a hang into a
failure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from anibridge.bridge.codec import ref_id
from anibridge.provider.base import AppendEvent, RecordField, RecordQuery, Ref
from anibridge.providers.local import LocalProvider


def payload(*changes: dict) -> bytes:
    return json.dumps(
        {"type": "anibridge.local.changes", "instance": "library", "changes": changes}
    ).encode()


def play(key: str, episode: int) -> dict:
    return {
        "kind": "event",
        "ref": {"key": key, "path": {"season": 1, "episode": episode}},
        "event_kind": "play",
    }


async def add_plays(path, plays) -> None:
    """Write plays into the library file the service reads (a second connection)."""
    lib = LocalProvider(logger=logging.getLogger("t"), config={"path": str(path)})
    await lib.initialize()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    try:
        writes = [
            AppendEvent(
                Ref.at(key, ("season", 1), ("episode", ep)),
                "play",
                start + timedelta(minutes=i),
            )
            for i, (key, ep) in enumerate(plays)
        ]
        results = await lib.write_events(writes)
        assert all(r.ok for r in results), results
    finally:
        await lib.close()


async def progress(path) -> dict[str, int]:
    target = LocalProvider(logger=logging.getLogger("t"), config={"path": str(path)})
    await target.initialize()
    try:
        page = await target.fetch_records(RecordQuery(fields=frozenset(RecordField)))
        out = {}
        for rec in page.items:
            value = rec.values.get(RecordField.PROGRESS)
            if value is not None:
                out[ref_id(rec.ref)] = value.current
        return out
    finally:
        await target.close()


def run(coro):
    """asyncio.run in a fresh thread: safe even if this thread has a running loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def secret(service) -> str:
    return service.ctx.auth.webhook_secret("library")


def wait_for(condition, what: str, timeout: float = 60.0) -> None:
    """Wait until `condition()` holds; the deadline only catches a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.02)


def wait_idle(service, timeout: float = 60.0) -> None:
    worker = service.ctx.scheduler.workers["demo"]
    wait_for(
        lambda: not worker.busy and worker.queued == 0,
        "the profile worker becoming idle",
        timeout,
    )


def test_wrong_or_missing_secret_is_rejected(service, anon):
    body = payload(play("naruto", 3))
    assert anon.post("/webhook/library", content=body).status_code == 403
    assert anon.post("/webhook/library/wrong-secret", content=body).status_code == 403
    wrong_header = anon.post(
        "/webhook/library", content=body, headers={"X-AniBridge-Secret": "nope"}
    )
    assert wrong_header.status_code == 403
    # A real secret for another provider key does not open this one.
    assert (
        anon.post(f"/webhook/list/{secret(service)}", content=body).status_code == 403
    )
    assert (
        anon.post(f"/webhook/nope/{secret(service)}", content=body).status_code == 403
    )
    assert service.ctx.webhooks_received == 0


def test_body_size_is_limited(service, anon):
    big = b"x" * (service.settings.webhook_max_bytes + 1)
    response = anon.post(f"/webhook/library/{secret(service)}", content=big)
    assert response.status_code == 413
    assert service.ctx.webhooks_received == 0


def test_malformed_payload_is_refused_at_once(service, anon):
    response = anon.post(
        f"/webhook/library/{secret(service)}",
        content=b'{"type": "anibridge.local.changes", "changes": 5}',
    )
    assert response.status_code == 400
    assert "changes: expected a list" in response.json()["detail"]
    assert service.ctx.scheduler.workers["demo"].triggers == 0


def test_local_webhook_triggers_a_targeted_sync_of_the_touched_show(
    service, anon, workspace
):
    run(add_plays(workspace.parent / "library.sqlite", [("naruto", 3)]))
    response = anon.post(
        "/webhook/library",
        content=payload(play("naruto", 3)),
        headers={
            "X-AniBridge-Secret": secret(service),
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 202
    assert response.json()["profiles"] == ["demo"]
    worker = service.ctx.scheduler.workers["demo"]
    wait_for(lambda: worker.runs >= 1, "the targeted sync")
    wait_idle(service)
    assert worker.runs == 1
    result = worker.last_result
    assert result.status == "ok", result
    assert result.request["mode"] == "targeted"
    assert result.summary["refs"] == 1  # only the touched show was re-read
    got = run(progress(workspace.parent / "list.sqlite"))
    assert got.get("anilist:20") == 3  # Naruto: 2 seeded plays + the new one
    assert "anilist:22" not in got  # Yu Yu Hakusho was not touched, so not synced


def test_100_concurrent_webhooks_coalesce_and_lose_nothing(service, workspace):
    plays = (
        [("naruto", ep) for ep in range(3, 36)]
        + [("yuyu", ep) for ep in range(2, 27)]
        + [("onepiece", ep) for ep in range(4, 9)]
    )
    assert len(plays) == 63
    run(add_plays(workspace.parent / "library.sqlite", plays))
    bodies = [payload(play(k, ep)) for k, ep in plays]
    bodies += [payload(play(*plays[i % len(plays)])) for i in range(100 - len(bodies))]
    url = f"{service.url}/webhook/library/{secret(service)}"

    async def post_all() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            responses = await asyncio.gather(
                *(client.post(url, content=b) for b in bodies)
            )
        return [r.status_code for r in responses]

    codes = run(post_all())
    assert codes == [202] * 100
    wait_idle(service)
    worker = service.ctx.scheduler.workers["demo"]
    assert worker.triggers == 100
    assert 1 <= worker.runs <= 5, f"{worker.runs} runs for 100 webhooks"
    results = list(worker.recent)
    assert sum(r.summary.get("payloads", 0) for r in results) == 100
    assert all(r.status == "ok" for r in results), results
    got = run(progress(workspace.parent / "list.sqlite"))
    assert got["anilist:20"] == 35
    assert got["anilist:22"] == 26
    assert got["anilist:21"] == 8


@pytest.mark.parametrize("path", ["/livez", "/readyz"])
def test_health_is_public(anon, path):
    response = anon.get(path)
    assert response.status_code == 200


def test_a_busy_profile_never_stalls_the_web_server(service, anon):
    """Profile work runs on the profile's own loop thread, not the server's."""
    import threading

    released = threading.Event()
    started = threading.Event()

    async def cpu_bound_planning() -> str:
        started.set()
        released.wait(60)  # blocks this profile's loop, like a long synchronous plan
        return "done"

    backend = service.ctx.backend
    job = service.call_soon(backend._on_profile("demo", cpu_bound_planning, job="test"))
    assert started.wait(60)
    try:
        assert anon.get("/livez").text == "ok"  # answered while the profile is busy
        hook = anon.post(
            f"/webhook/library/{secret(service)}", content=payload(play("naruto", 3))
        )
        assert hook.status_code == 202
        assert not job.done()  # the busy job really was still running
    finally:
        released.set()
    assert job.result(60) == "done"
