"""Webhooks are parsed at receipt: 400 for garbage, 200 for foreign, bounded memory."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import socket
import threading

import pytest

from anibridge.app.scheduler import MAX_PENDING_REFS, SyncMode
from anibridge.app.web.envelope import envelope_problem


def run(coro):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def hook_url(service) -> str:
    return f"/webhook/library/{service.ctx.auth.webhook_secret('library')}"


def local_payload(changes, **extra) -> bytes:
    body = {"type": "anibridge.local.changes", "instance": "library", **extra}
    body["changes"] = changes
    return json.dumps(body).encode()


def event(key: str, episode: int = 1) -> dict:
    return {
        "kind": "event",
        "ref": {"key": key, "path": {"season": 1, "episode": episode}},
        "event_kind": "play",
    }


@pytest.mark.parametrize(
    ("body", "ctype", "expected"),
    [
        (b"", "application/json", "empty"),
        (b"hello world", "text/plain", "neither JSON nor a form"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "", "neither JSON nor a form"),
        (b'"just a string"', "application/json", "not an object or a list"),
        (b"--x\r\n\r\n", "multipart/form-data", "without a boundary"),
        (b"--other\r\n\r\n--other--", "multipart/form-data; boundary=x", "boundary"),
        (b"just-text", "application/x-www-form-urlencoded", "without any field"),
    ],
)
def test_garbage_bodies_get_400_with_a_hint(service, anon, body, ctype, expected):
    answer = anon.post(hook_url(service), content=body, headers={"Content-Type": ctype})
    assert answer.status_code == 400
    assert expected in answer.json()["detail"]
    assert service.ctx.scheduler.workers["demo"].triggers == 0


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b'{"event": "media.play", "Account": {"id": 1}}', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (local_payload([event("naruto")], instance="someone-else"), "application/json"),
        (
            b'--b\r\nContent-Disposition: form-data; name="payload"\r\n\r\n{}\r\n--b--',
            "multipart/form-data; boundary=b",
        ),
        (b"payload=%7B%7D", "application/x-www-form-urlencoded"),
    ],
)
def test_well_formed_foreign_bodies_get_200_and_queue_nothing(
    service, anon, body, ctype
):
    answer = anon.post(hook_url(service), content=body, headers={"Content-Type": ctype})
    assert answer.status_code == 200
    assert answer.json()["accepted"] is False
    assert service.ctx.scheduler.workers["demo"].triggers == 0


def test_a_payload_that_changes_nothing_gets_200(service, anon):
    answer = anon.post(hook_url(service), content=local_payload([]))
    assert answer.status_code == 200
    assert answer.json() == {"accepted": True, "profiles": [], "refs": 0}
    assert service.ctx.scheduler.workers["demo"].triggers == 0


def test_refusals_quote_little_of_the_payload(service, anon):
    huge = "A" * 100_000
    answer = anon.post(
        hook_url(service), content=local_payload([{"kind": huge, "ref": "naruto"}])
    )
    assert answer.status_code == 400
    assert len(answer.text) < 600
    assert "changes[0].kind" in answer.json()["detail"]


def test_envelope_accepts_real_server_shapes():
    plex = (
        b'--abc\r\nContent-Disposition: form-data; name="payload"\r\n'
        b'Content-Type: application/json\r\n\r\n{"event": "media.scrobble"}\r\n'
        b'--abc\r\nContent-Disposition: form-data; name="thumb"; filename="t.jpg"'
        b"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0\r\n--abc--\r\n"
    )
    ctype = "multipart/form-data; boundary=abc"
    assert envelope_problem({"Content-Type": ctype}, plex) is None
    assert envelope_problem({}, b'{"Event": "UserDataSaved"}') is None
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert envelope_problem(form, b"data=%7B%7D") is None


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_200_one_megabyte_webhooks_against_a_busy_profile_stay_within_64_mb(service):
    """The service keeps refs, not bodies: a flood while the profile is busy costs
    bounded memory, and the run that follows still covers every payload."""
    worker = service.ctx.scheduler.workers["demo"]
    release = threading.Event()
    started = threading.Event()

    async def hold() -> str:
        started.set()
        await asyncio.to_thread(release.wait, 120)
        return "held"

    held = service.call_soon(_submit(worker, hold))
    try:
        assert started.wait(30)
        _flood_while_busy(service, worker)
    finally:
        release.set()
    assert held.result(60) == "held"


def _flood_while_busy(service, worker) -> None:
    pad = b"x" * (1024 * 1024 - 4096)
    per = 2_600
    dense_pad = pad[: -per * 110]

    def body(i: int) -> bytes:
        """~1 MB each: one ref padded (like a Plex webhook with its thumbnail), and
        every 70th names 2,600 refs at once, so the pending set must collapse."""
        if i % 70 == 69:
            changes = [event(f"d{i}-{n}") for n in range(per)]
            text = local_payload(changes, note="")
        else:
            text = local_payload([event(f"show-{i}")], note="")
        head, tail = text.split(b'"note": ""', 1)
        filler = dense_pad if i % 70 == 69 else pad
        return head + b'"note": "' + filler + b'"' + tail

    sizes = [len(body(i)) for i in (0, 69)]
    assert all(900_000 < n <= service.settings.webhook_max_bytes for n in sizes)
    host, port = service.url.removeprefix("http://").split(":")
    path = hook_url(service)

    def post(i: int) -> int:
        """A plain HTTP/1.1 POST on a socket: the cheapest client, so the test's
        time and memory are the server's."""
        data = body(i)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n\r\n"
        )
        with socket.create_connection((host, int(port)), timeout=120) as sock:
            sock.sendall(head.encode() + data)
            del data
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        return int(answer.split(b" ", 2)[1])

    def flood(numbers: range) -> list[int]:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            return list(pool.map(post, numbers))

    # Warm up allocator pools and HTTP machinery, then measure the flood itself.
    assert flood(range(1000, 1008)) == [202] * 8
    before = rss_bytes()
    codes = flood(range(200))
    grown = rss_bytes() - before
    assert codes == [202] * 200
    assert worker.busy and worker.queued == 1  # everything coalesced while busy
    pending = worker._real.request
    assert pending.payloads == 208
    assert 2 * per > MAX_PENDING_REFS
    assert pending.mode is SyncMode.FULL  # past the bound: read everything next run
    assert grown <= 64 * 1024 * 1024, f"RSS grew by {grown / 2**20:.0f} MB"


async def _submit(worker, call):
    return await worker.submit("hold", call)


async def test_the_byte_budget_lets_small_bodies_pass_a_big_one():
    from anibridge.app.web.context import ByteBudget

    budget = ByteBudget(1000)
    order: list[str] = []
    async with budget.hold(900):
        async with budget.hold(100):  # fits next to the big one: no waiting
            order.append("small")
        blocked = asyncio.create_task(_hold(budget, 500, order))
        await asyncio.sleep(0)
        assert not blocked.done()  # would exceed the budget: waits
    await blocked
    assert order == ["small", "second big"]
    async with budget.hold(10**9):  # more than everything: takes the whole budget
        assert budget.free == 0


async def _hold(budget, size, order):
    async with budget.hold(size):
        order.append("second big")
