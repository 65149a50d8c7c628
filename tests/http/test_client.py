from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from anibridge.http import (
    HttpClient,
    HttpError,
    ManualClock,
    RateLimit,
    RetryPolicy,
    ScaledClock,
    redact,
    redact_headers,
    write_error_for_status,
)
from anibridge.provider.base import WriteError
from anibridge.testing.fakes.server import (
    FakeLimit,
    FakeResponse,
    FakeService,
    Fault,
    HttpFault,
)

HANG = 60.0  # only turns a hang into a failure


class Echo(FakeService):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.items: dict[str, int] = {}
        self.valid_token = "tok-1"
        self.route("GET", r"/items/(?P<key>\w+)", self.get_item)
        self.route("POST", r"/items/(?P<key>\w+)", self.set_item)
        self.route("GET", r"/me", self.me, kind="identity")
        self.route("GET", r"/private", self.private)

    def get_item(self, request):
        key = request.params["key"]
        if key not in self.items:
            raise HttpFault(404, {"error": "not found"})
        return {"key": key, "value": self.items[key]}

    def set_item(self, request):
        self.items[request.params["key"]] = request.json()["value"]
        return FakeResponse(201, {"ok": True})

    def me(self, request):
        return {"name": "viewer"}

    def private(self, request):
        if request.header("Authorization") != f"Bearer {self.valid_token}":
            raise HttpFault(401, {"error": "invalid_token"})
        return {"secret": True}


@pytest.fixture
def echo():
    with Echo(clock=ManualClock()) as service:
        yield service


def client_for(service: FakeService, **kwargs) -> HttpClient:
    kwargs.setdefault("retry", RetryPolicy(base_delay=0.01, max_delay=0.05))
    return HttpClient(
        name="echo", base_url=service.base_url, clock=service.clock, **kwargs
    )


async def test_get_and_post_round_trip_and_count(echo):
    async with client_for(echo) as client:
        await client.post("/items/a", json={"value": 3})
        response = await client.get("/items/a")
        assert response.json() == {"key": "a", "value": 3}
        assert client.counter.total == 2
        assert client.counter.by_route == {"write": 1, "read": 1}
    assert echo.count("data") == 2
    assert echo.count("identity") == 0


async def test_not_found_maps_to_contract_code(echo):
    async with client_for(echo) as client:
        with pytest.raises(HttpError) as info:
            await client.get("/items/missing")
        assert info.value.code is WriteError.NOT_FOUND
        assert info.value.status == 404
        # 404 is not retried: one request only.
        assert client.counter.total == 1
        response = await client.get("/items/missing", expect=(404,))
        assert response.status_code == 404


async def test_idempotent_get_is_retried_after_5xx(echo):
    echo.items["a"] = 1
    echo.inject(Fault(status=503, times=2))
    async with client_for(echo) as client:
        response = await client.get("/items/a")
        assert response.json()["value"] == 1
        assert client.counter.retries == 2
        assert client.counter.total == 3


async def test_post_is_not_retried_unless_declared_safe(echo):
    echo.inject(Fault(status=502, times=1))
    async with client_for(echo) as client:
        with pytest.raises(HttpError) as info:
            await client.post("/items/a", json={"value": 1})
        assert info.value.code is WriteError.TRANSIENT
        assert "a" not in echo.items
        echo.inject(Fault(status=502, times=1))
        await client.post("/items/a", json={"value": 2}, retry=True)
        assert echo.items["a"] == 2


async def test_retries_give_up_after_max_attempts(echo):
    echo.inject(Fault(status=500, times=10))
    async with client_for(
        echo, retry=RetryPolicy(max_attempts=3, base_delay=0.01)
    ) as client:
        with pytest.raises(HttpError) as info:
            await client.get("/me")
        assert info.value.code is WriteError.TRANSIENT
        assert client.counter.total == 3


async def test_timeout_is_transient_and_retried(echo):
    echo.items["a"] = 5
    echo.inject(Fault(mode="timeout", delay=60, times=1))  # held until hang-up
    async with client_for(echo, timeout=0.3) as client:
        response = await client.get("/items/a")
        assert response.json()["value"] == 5
        assert client.counter.total == 2


async def test_malformed_and_truncated_bodies_surface(echo):
    echo.items["a"] = 5
    echo.inject(Fault(mode="malformed", times=1))
    async with client_for(echo) as client:
        response = await client.get("/items/a")
        with pytest.raises(ValueError):
            response.json()
    echo.inject(Fault(mode="truncated", times=5))
    async with client_for(
        echo, retry=RetryPolicy(max_attempts=2, base_delay=0.01)
    ) as client:
        with pytest.raises(HttpError) as info:
            await client.get("/items/a")
        assert info.value.code is WriteError.TRANSIENT


async def test_client_limit_keeps_under_service_limit():
    # Virtual time shared by client and service: exact, however busy the machine.
    with Echo(clock=ManualClock(), limits=[FakeLimit(10, 20)]) as service:
        limit = RateLimit(10, 20)
        async with client_for(service, limits=[limit]) as client:
            for i in range(25):
                await client.post(f"/items/k{i}", json={"value": i})
        assert service.statuses()[429] == 0
        assert len(service.items) == 25
        assert client.limiter.waited_seconds > 0


async def test_retry_after_is_honoured_without_client_limits():
    with Echo(clock=ManualClock(), limits=[FakeLimit(5, 60)]) as service:
        async with client_for(service) as client:
            results = await asyncio.gather(
                *(client.post(f"/items/k{i}", json={"value": i}) for i in range(12))
            )
        assert all(r.status_code == 201 for r in results)
        assert len(service.items) == 12
        # The service refused some requests; the client waited and resent them.
        assert service.statuses()[429] >= 1
        assert client.counter.rate_limited == service.statuses()[429]


async def test_rate_limit_gives_up_when_wait_is_too_long():
    with Echo(clock=ManualClock(), limits=[FakeLimit(1, 3600)]) as service:
        policy = RetryPolicy(max_retry_after=60)
        async with client_for(service, retry=policy) as client:
            await client.get("/me")
            with pytest.raises(HttpError) as info:
                await client.get("/me")
            assert info.value.code is WriteError.RATE_LIMITED


async def test_401_refreshes_credentials_once(echo):
    token = {"value": "expired"}
    refreshes = 0

    async def auth_headers():
        return {"Authorization": f"Bearer {token['value']}"}

    async def refresh():
        nonlocal refreshes
        refreshes += 1
        token["value"] = echo.valid_token
        return True

    async with client_for(echo, auth_headers=auth_headers, refresh=refresh) as client:
        response = await client.get("/private")
        assert response.json() == {"secret": True}
        assert refreshes == 1


async def test_a_401_that_returns_after_another_renewal_does_not_renew_again():
    """Two requests leave with a stale token; the second 401 comes back only after
    the first request's renewal has finished. It must retry with the new token, not
    renew (and save, and rotate the refresh token) a second time."""
    stale_answers = 0
    second_may_answer = threading.Event()

    class Slow(Echo):
        def private(self, request):
            nonlocal stale_answers
            if request.header("Authorization") != f"Bearer {self.valid_token}":
                stale_answers += 1
                if stale_answers == 2:
                    assert second_may_answer.wait(HANG)
                raise HttpFault(401, {"error": "invalid_token"})
            return {"secret": True}

    token = {"value": "stale"}
    refreshes = 0

    async def auth_headers():
        return {"Authorization": f"Bearer {token['value']}"}

    with Slow(clock=ManualClock()) as service:

        async def refresh():
            nonlocal refreshes
            refreshes += 1
            token["value"] = service.valid_token
            second_may_answer.set()  # the other 401 arrives after this renewal
            return True

        async with client_for(
            service, auth_headers=auth_headers, refresh=refresh
        ) as client:
            results = await asyncio.gather(
                client.get("/private"), client.get("/private")
            )
    assert [r.json() for r in results] == [{"secret": True}] * 2
    assert stale_answers == 2
    assert refreshes == 1


async def test_401_after_refresh_is_auth_error(echo):
    async def auth_headers():
        return {"Authorization": "Bearer nope"}

    async def refresh():
        return True

    async with client_for(echo, auth_headers=auth_headers, refresh=refresh) as client:
        with pytest.raises(HttpError) as info:
            await client.get("/private")
        assert info.value.code is WriteError.AUTH


async def test_secrets_never_reach_errors_or_logs(echo, caplog):
    caplog.set_level(logging.DEBUG)
    async with client_for(echo, secrets=["supersecret"]) as client:
        with pytest.raises(HttpError) as info:
            await client.get("/items/none?X-Plex-Token=supersecret&x=1")
        assert "supersecret" not in str(info.value)
        assert "supersecret" not in caplog.text
        assert all("supersecret" not in r.url for r in client.counter.log)


def test_redaction_helpers():
    assert redact("GET /a?token=abc123&b=2") == "GET /a?token=***&b=2"
    assert redact("key=hunter22", ["hunter22"]) == "key=***"
    assert redact_headers({"Authorization": "Bearer x", "Accept": "a"}) == {
        "Authorization": "***",
        "Accept": "a",
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, WriteError.INVALID),
        (401, WriteError.AUTH),
        (403, WriteError.AUTH),
        (404, WriteError.NOT_FOUND),
        (409, WriteError.CONFLICT),
        (429, WriteError.RATE_LIMITED),
        (500, WriteError.TRANSIENT),
        (503, WriteError.TRANSIENT),
        (418, WriteError.INTERNAL),
    ],
)
def test_status_codes_map_to_write_errors(status, code):
    assert write_error_for_status(status) is code


def test_scaled_clock_rejects_nonpositive_scale():
    with pytest.raises(ValueError):
        ScaledClock(0)
