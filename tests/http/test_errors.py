"""What kind of failure a request met, found on real loopback endpoints.

A refused connection, an unknown host, a TLS failure and a malformed `base_url`
fail at once (one attempt: retrying cannot fix them and only delays the answer);
an error status carries the service, the address and the URL, and a 429 the wait
the service asked for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from anibridge.http import HttpClient, HttpError, ManualClock
from anibridge.http.errors import Failure
from anibridge.testing.fakes.faults import (
    UNRESOLVABLE_HOST,
    StatusFake,
    TlsServer,
    closed_port,
)


async def _fail(base_url: str, path: str = "/identity") -> tuple[HttpError, HttpClient]:
    client = HttpClient(name="plex", base_url=base_url, clock=ManualClock())
    try:
        with pytest.raises(HttpError) as caught:
            await client.get(path)
    finally:
        await client.aclose()
    return caught.value, client


async def test_refused_connection_fails_at_once() -> None:
    port = closed_port()
    error, client = await _fail(f"http://127.0.0.1:{port}")
    assert error.failure is Failure.REFUSED
    assert error.address == f"127.0.0.1:{port}"
    assert error.service == "plex"
    assert error.attempts == 1
    assert client.counter.total == 1


async def test_unresolvable_host_is_a_dns_failure() -> None:
    error, client = await _fail(f"http://{UNRESOLVABLE_HOST}:32400")
    assert error.failure is Failure.DNS
    assert error.address == f"{UNRESOLVABLE_HOST}:32400"
    assert client.counter.total == 1


async def test_self_signed_certificate_is_a_tls_failure(tmp_path: Path) -> None:
    with TlsServer(tmp_path) as server:
        url = server.base_url
        error, client = await _fail(url)
    assert error.failure is Failure.TLS
    assert error.address == url.removeprefix("https://")
    assert client.counter.total == 1


async def test_base_url_without_scheme_is_a_url_failure() -> None:
    error, client = await _fail("localhost:32400")
    assert error.failure is Failure.URL
    assert error.url == "localhost:32400"
    assert client.counter.total == 1


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_error_status_carries_where_it_went(status: int) -> None:
    with StatusFake(status) as fake:
        error, _ = await _fail(fake.base_url + "/api", "/identity?X-Plex-Token=s3cr3t")
        address = fake.base_url.removeprefix("http://")
    assert error.failure is Failure.STATUS
    assert error.status == status
    assert error.address == address
    assert error.url == f"http://{address}/api/identity"  # no query: no secrets
    assert error.attempts == 1


async def test_rate_limit_beyond_the_longest_wait_fails_with_the_wait() -> None:
    with StatusFake(429, headers={"Retry-After": "3600"}) as fake:
        error, client = await _fail(fake.base_url)
    assert error.status == 429
    assert error.retry_after == 3600
    assert client.counter.total == 1


async def test_server_errors_are_retried_then_counted() -> None:
    with StatusFake(503, headers={"Retry-After": "0"}) as fake:
        error, client = await _fail(fake.base_url)
    assert error.status == 503
    assert error.attempts == client.retry.max_attempts == client.counter.total


async def test_connecting_waits_at_most_the_connect_timeout() -> None:
    from anibridge.http.client import CONNECT_TIMEOUT

    client = HttpClient(name="plex", base_url="http://127.0.0.1:1", timeout=60)
    slow = HttpClient(name="plex", base_url="http://127.0.0.1:1", timeout=5)
    try:
        assert client._client.timeout.connect == CONNECT_TIMEOUT == 10
        assert client._client.timeout.read == 60
        assert slow._client.timeout.connect == 5
    finally:
        await client.aclose()
        await slow.aclose()
