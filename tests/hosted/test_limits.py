"""Shared rate limits: one window per service for every process of a deployment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anibridge.hosted.limits import PgSharedLimits
from anibridge.http import (
    APP,
    USER,
    HttpClient,
    RateLimit,
    RateLimiter,
    RetryPolicy,
    ScaledClock,
    window_wait,
)
from anibridge.testing.fakes.server import FakeLimit, FakeResponse, FakeService

CLIENT = Path(__file__).with_name("limits_client.py")
GATE = 171717


class Items(FakeService):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.route("GET", r"/items/(?P<key>\w+)", self.item)

    def item(self, request):
        return {"key": request.params["key"]}


class RetryAfterOnce(Items):
    """Answers its first request 429 with a long Retry-After, then serves."""

    def __init__(self, retry_after: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.retry_after = retry_after
        self.refused = False

    def item(self, request):
        if not self.refused:
            self.refused = True
            return FakeResponse(
                429, {"error": "slow down"}, {"Retry-After": str(self.retry_after)}
            )
        return super().item(request)


# --- the window rule (pure) -----------------------------------------------------------


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    limit=st.integers(1, 6),
    period=st.floats(0.5, 10),
    gaps=st.lists(st.floats(0, 3), min_size=1, max_size=40),
)
def test_following_window_wait_never_exceeds_the_limit(limit, period, gaps):
    spec = RateLimit(limit, period, margin=0.0)
    sent: list[float] = []
    now = 0.0
    for gap in gaps:
        now += gap
        wait, sent = window_wait(sent, spec, now)
        now += wait
        wait, sent = window_wait(sent, spec, now)
        assert wait <= 1e-9
        sent.append(now)
    sent.sort()
    for i in range(len(sent) - limit):
        assert sent[i + limit] - sent[i] >= period - 1e-9


def test_app_and_user_scopes_split_only_with_a_shared_backend():
    specs = [RateLimit(30, 60.0, scope=APP), RateLimit(1, 1.0, scope=USER)]
    alone = RateLimiter(specs)
    assert alone.shared is None and len(alone._windows) == 2

    class Backend:
        async def acquire(self, *args):
            return 0.0

        async def pause(self, *args):
            return None

    hosted = RateLimiter(specs, shared=Backend(), service="anilist")
    assert hosted.shared is not None
    assert [w.spec.scope for w in hosted._windows] == [USER]
    assert [s.scope for s in hosted._shared_specs] == [APP]


def test_scope_is_checked():
    with pytest.raises(ValueError, match="scope"):
        RateLimit(1, 1.0, scope="everyone")


# --- PostgreSQL, one process ---------------------------------------------------------


async def test_a_retry_after_seen_by_one_client_pauses_the_others(store):
    scale = 0.01
    with RetryAfterOnce(retry_after=50, time_scale=scale) as service:
        make = lambda: HttpClient(  # noqa: E731 - two clients, as two workers would
            name="svc",
            base_url=service.base_url,
            limits=[RateLimit(100, 60.0)],
            clock=ScaledClock(scale),
            retry=RetryPolicy(max_rate_limit_waits=3),
            shared_limits=PgSharedLimits(store.engine),
        )
        async with make() as first, make() as second:
            await first.get("/items/a")  # 429, waits 50 s, then served
            assert first.counter.rate_limited == 1
            with store.engine.connect() as conn:
                paused = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM shared_limits "
                        "WHERE paused_until IS NOT NULL"
                    )
                ).scalar_one()
            assert paused == 1
            # The pause was lifted by time passing for `first`; a fresh pause from
            # `first` must now hold `second` back although `second` never saw a 429
            # and no limit binds (100 per minute).
            await first.limiter.hold("read", 400)
            await second.get("/items/b")
            assert second.counter.rate_limited == 0
            assert second.limiter.waited_seconds > 0
    assert service.statuses()[429] == 1


async def test_user_scoped_limits_are_not_shared(store):
    scale = 0.01
    with Items(time_scale=scale) as service:
        make = lambda: HttpClient(  # noqa: E731
            name="svc",
            base_url=service.base_url,
            limits=[RateLimit(2, 60.0, scope=USER)],
            clock=ScaledClock(scale),
            shared_limits=PgSharedLimits(store.engine),
        )
        async with make() as alice, make() as bob:
            for key in ("a", "b"):
                await alice.get(f"/items/{key}")
                await bob.get(f"/items/{key}")
            # Each account spent its own budget: nobody waited for the other.
            assert alice.limiter.waited_seconds == bob.limiter.waited_seconds == 0
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM shared_limits")).scalar_one()
    assert rows == 0


def test_shared_limits_need_postgresql(tmp_path):
    from anibridge.store import create_store_engine

    with pytest.raises(ValueError, match="PostgreSQL"):
        PgSharedLimits(create_store_engine(f"sqlite:///{tmp_path / 's.db'}"))


# --- PostgreSQL, real processes ------------------------------------------------------


def _run_processes(
    url: str,
    service: FakeService,
    *,
    processes: int,
    each: int,
    limit: int,
    period: float,
    scale: float,
    shared: bool,
) -> list[dict]:
    """Start `processes` clients together (released by an advisory lock)."""
    engine = sa.create_engine(url)
    with engine.connect() as gate:
        gate.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": GATE})
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(CLIENT),
                    url,
                    service.base_url,
                    str(each),
                    str(limit),
                    str(period),
                    str(scale),
                    "1" if shared else "0",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        try:
            for child in children:
                assert child.stdout is not None
                assert child.stdout.readline().strip() == "ready"
            gate.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": GATE})
            results = []
            for child in children:
                out, _ = child.communicate(timeout=120)
                assert child.returncode == 0
                results.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
    engine.dispose()
    return results


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "per-process"])
def test_processes_together_stay_under_the_app_limit(store, pg_url, shared):
    """Three processes, one app-wide budget: the service never sees more.

    The per-process run is the control: the same clients without the shared
    window overrun the service (it answers 429), so this test can fail.
    """
    # 3 per 3 real seconds; the clients' 50 % margin (1.5 s) absorbs the delay
    # between taking a slot and the fake handling the request on a busy machine.
    limit, period, scale = 3, 60.0, 3 / 60
    fake = Items(time_scale=scale, limits=[FakeLimit(limit, period)])
    with fake as service:
        results = _run_processes(
            pg_url,
            service,
            processes=3,
            each=3,
            limit=limit,
            period=period,
            scale=scale,
            shared=shared,
        )
    ok = service.statuses()[200]
    assert ok == 9
    if shared:
        assert service.statuses()[429] == 0
        assert sum(r["rate_limited"] for r in results) == 0
        # Alone, each process's 3 requests fit its own budget without waiting;
        # sharing one budget of 3, somebody waited.
        assert max(r["waited"] for r in results) > 0
    else:
        assert service.statuses()[429] > 0
