from __future__ import annotations

from anibridge.http import ManualClock
from anibridge.http.limits import WRITE, RateLimit, RateLimiter, window_wait


def test_a_wait_below_the_clock_resolution_counts_as_none():
    spec = RateLimit(1, 1.0, WRITE, margin=0.1)
    # 1030.1 - 1029.0 is 1.0999999999999091 in floats: 9e-14 s short of the
    # window, less than a float near 1030 can move.
    wait, kept = window_wait([1029.0], spec, 1030.1)
    assert (wait, kept) == (0.0, [])
    wait, kept = window_wait([1029.0], spec, 1030.0)
    assert round(wait, 6) == 0.1 and kept == [1029.0]


async def test_a_virtual_clock_never_gets_stuck_on_a_margin():
    clock = ManualClock(1029.0)
    limiter = RateLimiter([RateLimit(1, 1.0, WRITE, margin=0.1)], clock=clock)
    await limiter.acquire(WRITE)
    clock.advance(1)
    await limiter.acquire(WRITE)  # waits 0.1 virtual seconds, then goes
    assert round(clock.monotonic(), 6) == 1030.1
