"""The mappings downloader against a real HTTP host on 127.0.0.1, and `run_sync`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from anibridge.http import HttpError, RetryPolicy
from anibridge.mappings import fetch
from anibridge.mappings.fetch import Download, download, fetch_bytes, run_sync
from anibridge.testing.fakes.releases import FakeReleases
from anibridge.testing.fakes.server import Fault

ASSET = "releases/v3/mappings.json.zst"
BODY = b'{"anilist:1": {"mal:1": {"1-12": "1-12"}}}'
FAST = RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0)


@pytest.fixture
def host() -> Iterator[FakeReleases]:
    with FakeReleases() as fake:
        fake.publish(ASSET, BODY)
        yield fake


def test_a_first_download_gets_the_body_and_its_etag(host: FakeReleases) -> None:
    got = run_sync(download(host.url(ASSET), retry=FAST))
    assert got == Download(200, BODY, FakeReleases.etag(BODY))


def test_a_known_etag_is_sent_and_an_unchanged_file_comes_back_empty(
    host: FakeReleases,
) -> None:
    etag = FakeReleases.etag(BODY)
    got = run_sync(download(host.url(ASSET), etag=etag, retry=FAST))
    assert got == Download(304, b"", etag)
    # a stale ETag gets the new body
    host.publish(ASSET, BODY + b" ")
    got = run_sync(download(host.url(ASSET), etag=etag, retry=FAST))
    assert got == Download(200, BODY + b" ", FakeReleases.etag(BODY + b" "))
    assert host.statuses() == {304: 1, 200: 1}


def test_the_given_retry_policy_bounds_the_attempts(host: FakeReleases) -> None:
    host.inject(Fault(mode="status", status=503, times=5))
    with pytest.raises(HttpError) as caught:
        run_sync(download(host.url(ASSET), retry=FAST))
    assert host.statuses() == {503: 2}
    # the error names the service, so a failed update says what failed
    assert str(caught.value).startswith("mappings: GET ")


def test_without_a_policy_the_module_default_is_used(
    host: FakeReleases, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DEFAULT_RETRY is read per call; a zero-delay copy keeps the test off the clock
    monkeypatch.setattr(
        fetch, "DEFAULT_RETRY", RetryPolicy(max_attempts=4, base_delay=0.0)
    )
    host.inject(Fault(mode="status", status=500, times=3))
    assert run_sync(download(host.url(ASSET))).body == BODY
    assert host.statuses() == {500: 3, 200: 1}


def test_the_timeout_bounds_a_stalled_server(host: FakeReleases) -> None:
    host.inject(Fault(mode="timeout", delay=5.0, times=2))
    with pytest.raises(HttpError):
        run_sync(download(host.url(ASSET), retry=FAST, timeout=0.2))


def test_fetch_bytes_returns_the_body(
    host: FakeReleases, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "DEFAULT_RETRY", FAST)
    assert fetch_bytes(host.url(ASSET)) == BODY


async def answer() -> tuple[int, str]:
    await asyncio.sleep(0)
    return 42, threading.current_thread().name


class Stop(BaseException):
    """Not an `Exception`: like a cancellation, it must still reach the caller."""


async def fail() -> None:
    raise Stop("from the coroutine")


def test_run_sync_without_a_loop_runs_in_this_thread() -> None:
    assert run_sync(answer()) == (42, threading.current_thread().name)
    with pytest.raises(Stop, match="from the coroutine"):
        run_sync(fail())


async def test_run_sync_inside_a_loop_runs_in_a_named_worker_thread() -> None:
    assert run_sync(answer()) == (42, "anibridge-mappings-fetch")
    with pytest.raises(Stop, match="from the coroutine"):
        run_sync(fail())
