"""Login throttle: atomic reservation, growing delays per client and per account."""

from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from anibridge.app.web.throttle import LoginThrottle, client_key


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, client: str, account: str = "admin", **kw) -> float:
    attempt = throttle.begin(client, account, **kw)
    if not attempt.wait:
        throttle.finish(attempt, ok=False)
    return attempt.wait


def test_five_free_failures_then_delays_that_double():
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    assert [fail(throttle, "203.0.113.1") for _ in range(5)] == [0.0] * 5
    waits = []
    for _ in range(5):
        wait = fail(throttle, "203.0.113.1")
        assert wait > 0  # refused without a password check
        waits.append(wait)
        clock.now += wait  # after waiting, exactly one more try is allowed
        assert fail(throttle, "203.0.113.1") == 0.0
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_delays_are_capped_and_forgotten_after_a_quiet_window():
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock, client_cap=30.0, account_free=1000)
    for _ in range(40):
        clock.now += 1000
        fail(throttle, "203.0.113.1")
    assert fail(throttle, "203.0.113.1") == 30.0
    clock.now += 3601
    assert [fail(throttle, "203.0.113.1") for _ in range(5)] == [0.0] * 5


def test_a_success_clears_the_client_and_the_account():
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(5):
        fail(throttle, "203.0.113.1")
    clock.now += 1
    attempt = throttle.begin("203.0.113.1", "admin")
    assert attempt.wait == 0
    throttle.finish(attempt, ok=True)
    assert [fail(throttle, "203.0.113.1") for _ in range(5)] == [0.0] * 5


def test_one_client_does_not_slow_the_account_down_for_others():
    throttle = LoginThrottle(clock=FakeClock())
    for _ in range(40):
        fail(throttle, "203.0.113.1")
    assert throttle.begin("198.51.100.7", "admin").wait == 0


def test_many_clients_slow_the_account_but_never_beyond_its_cap():
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    for i in range(10):
        assert fail(throttle, f"203.0.113.{i}") == 0
    # The account is now delayed for every new client (spraying gains nothing) ...
    assert throttle.begin("198.51.100.7", "admin").wait == 1.0
    for i in range(30):
        clock.now += 120
        fail(throttle, f"192.0.2.{i}")
    wait = throttle.begin("198.51.100.7", "admin").wait
    assert 0 < wait <= 60.0  # ... but never longer than the account cap
    # ... and a browser that logged in before skips the account limit altogether.
    assert throttle.begin("198.51.100.7", "admin", trusted_device=True).wait == 0


def test_concurrent_attempts_reserve_atomically():
    throttle = LoginThrottle(clock=FakeClock())
    allowed: list[bool] = []
    barrier = threading.Barrier(40)

    def attempt() -> None:
        barrier.wait()
        allowed.append(throttle.begin("203.0.113.1", "admin").wait == 0)

    threads = [threading.Thread(target=attempt) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 5


def test_ipv6_clients_count_per_64_and_ipv4_mapped_as_ipv4():
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    throttle = LoginThrottle(clock=FakeClock())
    for i in range(5):
        fail(throttle, f"2001:db8::{i + 1}")
    assert throttle.begin("2001:db8::ffff", "admin").wait > 0


def test_memory_stays_bounded_under_address_spraying():
    throttle = LoginThrottle(clock=FakeClock(), max_keys=100)
    for i in range(5000):
        fail(throttle, f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", f"user{i}")
    assert len(throttle._clients.buckets) <= 100
    assert len(throttle._accounts.buckets) <= 1000


@settings(deadline=None)
@given(st.lists(st.sampled_from(["fail", "wait", "ok"]), max_size=60))
def test_never_a_permanent_lockout(steps):
    """Whatever happened before, waiting the announced time always allows a try."""
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    for step in steps:
        attempt = throttle.begin("203.0.113.1", "admin")
        if step == "wait" and attempt.wait:
            clock.now += attempt.wait
        elif not attempt.wait:
            throttle.finish(attempt, ok=step == "ok")
    attempt = throttle.begin("203.0.113.1", "admin")
    if attempt.wait:
        assert attempt.wait <= 900.0
        clock.now += attempt.wait
        assert throttle.begin("203.0.113.1", "admin").wait == 0
