"""Client-side rate limiting: sliding windows per route class plus server pauses.

A sliding-window log (not a token bucket) is used because services count requests
per window: a bucket that starts full can send twice the limit inside one window.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from anibridge.http.clock import SYSTEM_CLOCK, Clock

READ = "read"
WRITE = "write"
ANY = "*"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` requests of route class `route` in any `period` seconds.

    `route` is ``"read"``, ``"write"`` or ``"*"`` (every request). `margin` widens
    the window by a fraction so requests in flight never land inside the
    service's window together.
    """

    limit: int
    period: float
    route: str = ANY
    margin: float = 0.05

    def __post_init__(self) -> None:
        """Reject limits that could never be honoured.

        Raises:
            ValueError: `limit` or `period` is not positive.
        """
        if self.limit <= 0 or self.period <= 0:
            raise ValueError("RateLimit needs limit > 0 and period > 0")


class _Window:
    def __init__(self, spec: RateLimit) -> None:
        self.spec = spec
        self.sent: deque[float] = deque()

    def wait_needed(self, now: float) -> float:
        window = self.spec.period * (1 + self.spec.margin)
        while self.sent and now - self.sent[0] >= window:
            self.sent.popleft()
        if len(self.sent) < self.spec.limit:
            return 0.0
        return window - (now - self.sent[0])


class RateLimiter:
    """Every limit of one provider, shared by all its concurrent requests."""

    def __init__(self, limits: Iterable[RateLimit] = (), *, clock: Clock | None = None):
        """Hold windows for `limits` on `clock` (the real clock by default)."""
        self.clock = clock or SYSTEM_CLOCK
        self._windows = [_Window(spec) for spec in limits]
        self._paused_until: dict[str, float] = {}
        self._lock = asyncio.Lock()
        self.waited_seconds = 0.0

    def _applies(self, spec_route: str, route: str) -> bool:
        return spec_route in (ANY, route)

    def pause(self, route: str, seconds: float) -> None:
        """Hold back `route` (``"*"`` for all) for `seconds`, as the service asked."""
        until = self.clock.monotonic() + max(0.0, seconds)
        if until > self._paused_until.get(route, 0.0):
            self._paused_until[route] = until

    async def acquire(self, route: str) -> None:
        """Wait until one more request of class `route` is allowed, then take it."""
        async with self._lock:
            while True:
                now = self.clock.monotonic()
                wait = max(
                    self._paused_until.get(route, 0.0) - now,
                    self._paused_until.get(ANY, 0.0) - now,
                    0.0,
                )
                for window in self._windows:
                    if self._applies(window.spec.route, route):
                        wait = max(wait, window.wait_needed(now))
                if wait <= 0:
                    for window in self._windows:
                        if self._applies(window.spec.route, route):
                            window.sent.append(now)
                    return
                self.waited_seconds += wait
                await self.clock.sleep(wait)
