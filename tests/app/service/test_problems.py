"""Every provider's failures as one line: which provider, what failed, what to do.

Each built-in HTTP provider is started (`runtime.start_provider`, the path every
front end takes) against real loopback endpoints that fail the way a
misconfigured setup does: a closed port, an unresolvable host, a self-signed TLS
endpoint, and a server answering 401, 403, 404, 429 or 500 to everything. The
message names the profile's provider key and the address, never carries the
token, and the exit code says which kind of failure it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anibridge.app.config.providers import load_provider_class
from anibridge.app.runtime import start_provider
from anibridge.app.service.problems import (
    EXIT_AUTH,
    EXIT_UNAVAILABLE,
    ProviderFailed,
    describe,
)
from anibridge.http import ManualClock
from anibridge.testing.fakes.faults import (
    UNRESOLVABLE_HOST,
    StatusFake,
    TlsServer,
    closed_port,
)

SECRET = "s3cr3t-token-value"

CONFIGS: dict[str, dict[str, Any]] = {
    "plex": {"token": SECRET},
    "jellyfin": {"token": SECRET},
    "emby": {"token": SECRET},
    "anilist": {"token": SECRET},
    "mal": {"client_id": "cid", "access_token": SECRET, "expires_at": 4102444800},
    "trakt": {"client_id": "cid", "access_token": SECRET},
    "simkl": {"client_id": "cid", "access_token": SECRET},
    "kitsu": {"access_token": SECRET},
}
SERVERS = {"plex", "jellyfin", "emby"}
PRODUCTS = {
    "plex": "Plex",
    "jellyfin": "Jellyfin",
    "emby": "Emby",
    "anilist": "AniList",
    "mal": "MyAnimeList",
    "trakt": "Trakt",
    "simkl": "Simkl",
    "kitsu": "Kitsu",
}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with TlsServer(tmp_path_factory.mktemp("tls")) as server:
        yield server.base_url


async def _start(namespace: str, base_url: str) -> ProviderFailed:
    cls = load_provider_class(namespace, where="test")
    provider = cls(
        logger=logging.getLogger("test"),
        config={**CONFIGS[namespace], "base_url": base_url, "clock": ManualClock()},
    )
    try:
        with pytest.raises(ProviderFailed) as caught:
            await start_provider(provider, f"my{namespace}", where="profiles.p.source")
    finally:
        await provider.close()
    error = caught.value
    text = str(error)
    assert text.startswith(f"my{namespace}: "), text
    assert "\n" not in text
    assert SECRET not in text
    assert " — " in text  # what failed — what to do
    assert describe(error) is error.problem
    return error


@pytest.mark.parametrize("namespace", sorted(CONFIGS))
async def test_refused_connection(namespace: str) -> None:
    port = closed_port()
    error = await _start(namespace, f"http://127.0.0.1:{port}")
    assert f"127.0.0.1:{port} refused the connection" in str(error)
    if namespace in SERVERS:
        assert f"is {PRODUCTS[namespace]} running" in str(error)
    assert "`base_url`" in str(error)
    assert error.exit_code == EXIT_UNAVAILABLE
    assert error.problem.kind == "unreachable"


@pytest.mark.parametrize("namespace", sorted(CONFIGS))
async def test_unresolvable_host(namespace: str) -> None:
    error = await _start(namespace, f"http://{UNRESOLVABLE_HOST}:8080")
    assert f"host name {UNRESOLVABLE_HOST} does not resolve" in str(error)
    assert error.exit_code == EXIT_UNAVAILABLE


@pytest.mark.parametrize("namespace", sorted(CONFIGS))
async def test_self_signed_tls(namespace: str, tls: str) -> None:
    error = await _start(namespace, tls)
    assert f"TLS with {tls.removeprefix('https://')} failed" in str(error)
    assert "certificate" in str(error)
    assert error.exit_code == EXIT_UNAVAILABLE


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("namespace", sorted(CONFIGS))
async def test_rejected_credentials(namespace: str, status: int) -> None:
    with StatusFake(status) as fake:
        error = await _start(namespace, fake.base_url)
    if namespace == "mal" and status == 403:  # MAL's "DoS detected": back off
        assert "MyAnimeList is rate limiting requests (403)" in str(error)
        assert error.problem.kind == "rate-limited"
        return
    assert f"{PRODUCTS[namespace]} rejected the credentials ({status}" in str(error)
    assert error.exit_code == EXIT_AUTH
    assert error.problem.kind == "auth"


@pytest.mark.parametrize("namespace", sorted(CONFIGS))
async def test_wrong_address_404(namespace: str) -> None:
    with StatusFake(404) as fake:
        error = await _start(namespace, fake.base_url)
        address = fake.base_url
    assert f"{address}/" in str(error)
    assert "404 Not Found" in str(error)
    assert f"is `base_url` the {PRODUCTS[namespace]} address" in str(error)
    assert error.exit_code == EXIT_UNAVAILABLE


@pytest.mark.parametrize("namespace", sorted(CONFIGS))
async def test_rate_limited_429(namespace: str) -> None:
    with StatusFake(429, headers={"Retry-After": "7200"}) as fake:
        error = await _start(namespace, fake.base_url)
    assert "rate limiting requests (429) and asks to wait 2.0 h" in str(error)
    assert error.exit_code == EXIT_UNAVAILABLE
    assert error.problem.kind == "rate-limited"


@pytest.mark.parametrize("namespace", sorted(CONFIGS))
async def test_server_error_500(namespace: str) -> None:
    with StatusFake(500, headers={"Retry-After": "0"}) as fake:
        error = await _start(namespace, fake.base_url)
    assert "failed with 500 Internal Server Error (after 4 attempt(s))" in str(error)
    assert "try again later" in str(error)
    assert error.exit_code == EXIT_UNAVAILABLE


@pytest.mark.parametrize("namespace", ["anilist", "trakt"])
async def test_base_url_without_scheme(namespace: str) -> None:
    error = await _start(namespace, "localhost:32400")
    assert "`base_url` localhost:32400 is not a usable URL" in str(error)
    assert error.exit_code == 1


async def test_provider_rejecting_its_config_names_where(tmp_path: Path) -> None:
    cls = load_provider_class("anilist", where="test")
    provider = cls(logger=logging.getLogger("test"), config={"base_url": "http://x"})
    with pytest.raises(ProviderFailed) as caught:
        await start_provider(provider, "list", where="profiles.main.target")
    assert str(caught.value).startswith("list (profiles.main.target): anilist: ")
    assert caught.value.exit_code == 1


@pytest.mark.parametrize("namespace", ["anilist", "trakt", "mal"])
async def test_no_answer_in_time(namespace: str) -> None:
    from anibridge.testing.fakes.server import Fault

    CONFIGS[namespace]["timeout"] = 0.2
    try:
        with StatusFake(200) as fake:
            # every request is held until the client hangs up (a read timeout)
            fake.inject(Fault(mode="timeout", delay=10, times=100))
            error = await _start(namespace, fake.base_url)
            address = fake.base_url.removeprefix("http://")
    finally:
        del CONFIGS[namespace]["timeout"]
    assert f"{address} did not answer in time" in str(error)
    assert error.exit_code == EXIT_UNAVAILABLE
    assert error.problem.kind == "unreachable"
