"""Client-side rate limiting: sliding windows per route class plus server pauses.

A sliding-window log (not a token bucket) is used because services count requests
per window: a bucket that starts full can send twice the limit inside one window.

Each limit has a *scope*. A ``"user"`` limit is one account's budget (Trakt's 1 POST/s
per user) and is always kept in this process. An ``"app"`` limit is the budget of the
whole deployment at that service (AniList's requests per minute per client): on its
own machine that is the same thing, but a hosted deployment with many worker
processes installs a `SharedLimits` backend (`use_shared_limits`) so that every
process draws app-scoped requests — and `Retry-After` pauses — from one shared window
per service.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from anibridge import progress
from anibridge.http.clock import SYSTEM_CLOCK, Clock

READ = "read"
WRITE = "write"
ANY = "*"
APP = "app"
USER = "user"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` requests of route class `route` in any `period` seconds.

    `route` is ``"read"``, ``"write"`` or ``"*"`` (every request). `margin` widens
    the window by a fraction so requests in flight never land inside the
    service's window together. `scope` says whose budget it is: ``"app"`` (every
    account of the deployment together; shared across processes when a
    `SharedLimits` backend is installed) or ``"user"`` (one account).
    """

    limit: int
    period: float
    route: str = ANY
    margin: float = 0.05
    scope: str = APP

    def __post_init__(self) -> None:
        """Reject limits that could never be honoured.

        Raises:
            ValueError: `limit` or `period` is not positive, or `scope` is unknown.
        """
        if self.limit <= 0 or self.period <= 0:
            raise ValueError("RateLimit needs limit > 0 and period > 0")
        if self.scope not in (APP, USER):
            raise ValueError(
                f"RateLimit scope must be 'app' or 'user', not {self.scope!r}"
            )

    @property
    def window(self) -> float:
        """The window actually kept: the period widened by the margin."""
        return self.period * (1 + self.margin)

    @property
    def name(self) -> str:
        """A stable name for this limit (route, count and period), for shared rows."""
        return f"{self.route}:{self.limit}/{self.period:g}"

    def applies(self, route: str) -> bool:
        """Whether a request of class `route` counts against this limit."""
        return self.route in (ANY, route)


_EPSILON = 1e-9


def window_wait(
    sent: Sequence[float], spec: RateLimit, now: float
) -> tuple[float, list[float]]:
    """How long until one more request fits `spec`, given past send times `sent`.

    The one sliding-window rule, used by the in-process windows and by shared
    backends alike. Times are in the same unit as `spec.period`.

    Returns:
        The wait (0 when a request may go now) and the send times still inside the
        window (oldest first), which is all a window needs to keep.
    """
    window = spec.window
    # A wait below _EPSILON counts as none: time stored as large floats cannot move
    # by less than its resolution, so such a wait would never pass (a virtual clock
    # stuck at 1030.1 waiting 9e-14 s for ever).
    kept = [at for at in sent if at + window - now > _EPSILON]
    kept.sort()
    if len(kept) < spec.limit:
        return 0.0, kept
    return kept[-spec.limit] + window - now, kept


class SharedLimits(Protocol):
    """App-scoped windows and pauses shared by every process of a deployment."""

    async def acquire(
        self, service: str, limits: Sequence[RateLimit], route: str, clock: Clock
    ) -> float:
        """Wait until one more `route` request of `service` fits every limit; take it.

        Returns:
            Service seconds spent waiting.
        """
        ...

    async def pause(
        self, service: str, route: str, seconds: float, clock: Clock
    ) -> None:
        """Hold back `route` requests of `service` in every process for `seconds`."""
        ...


_shared: SharedLimits | None = None


def use_shared_limits(backend: SharedLimits | None) -> None:
    """Share app-scoped limits of clients created from now on through `backend`.

    A hosted worker calls this once at start; `None` goes back to in-process only
    (the single-user default).
    """
    global _shared
    _shared = backend


def shared_limits() -> SharedLimits | None:
    """The backend installed by `use_shared_limits`, if any."""
    return _shared


class _Window:
    def __init__(self, spec: RateLimit) -> None:
        self.spec = spec
        self.sent: deque[float] = deque()

    def wait_needed(self, now: float) -> float:
        wait, kept = window_wait(self.sent, self.spec, now)
        self.sent = deque(kept)
        return wait


class RateLimiter:
    """Every limit of one provider, shared by all its concurrent requests.

    Args:
        limits: The provider's limits.
        clock: Time source (the real clock by default).
        shared: Backend for app-scoped limits; default: the one installed with
            `use_shared_limits` (none: every limit stays in this process).
        service: The name app-scoped limits are shared under (service, address
            and client id), required with a shared backend.
    """

    def __init__(
        self,
        limits: Iterable[RateLimit] = (),
        *,
        clock: Clock | None = None,
        shared: SharedLimits | None = None,
        service: str | None = None,
        label: str | None = None,
    ):
        """Hold windows for `limits` on `clock`; `label` names it in progress."""
        self.clock = clock or SYSTEM_CLOCK
        specs = list(limits)
        backend = shared if shared is not None else _shared
        if backend is not None and service and any(s.scope == APP for s in specs):
            self.shared: SharedLimits | None = backend
            self._shared_specs = [s for s in specs if s.scope == APP]
            specs = [s for s in specs if s.scope != APP]
        else:
            self.shared = None
            self._shared_specs = []
        self.service = service or ""
        self.label = label or self.service
        self._windows = [_Window(spec) for spec in specs]
        self._paused_until: dict[str, float] = {}
        self._lock = asyncio.Lock()
        self.waited_seconds = 0.0

    def _applies(self, spec_route: str, route: str) -> bool:
        return spec_route in (ANY, route)

    def pause(self, route: str, seconds: float) -> None:
        """Hold back `route` (``"*"`` for all) in this process for `seconds`."""
        until = self.clock.monotonic() + max(0.0, seconds)
        if until > self._paused_until.get(route, 0.0):
            self._paused_until[route] = until

    async def hold(self, route: str, seconds: float) -> None:
        """The service asked to wait: pause here and, for app-wide limits, everywhere.

        A `Retry-After` on a route under an app-scoped limit means the deployment's
        budget is spent, so every process sharing it pauses; under per-user limits
        only this account's client does.
        """
        self.pause(route, seconds)
        if self.shared is not None and any(
            spec.applies(route) for spec in self._shared_specs
        ):
            await self.shared.pause(self.service, route, seconds, self.clock)

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
                    if window.spec.applies(route):
                        wait = max(wait, window.wait_needed(now))
                if wait <= 0:
                    shared = [s for s in self._shared_specs if s.applies(route)]
                    if shared and self.shared is not None:
                        self.waited_seconds += await self.shared.acquire(
                            self.service, shared, route, self.clock
                        )
                        now = self.clock.monotonic()
                    for window in self._windows:
                        if window.spec.applies(route):
                            window.sent.append(now)
                    return
                self.waited_seconds += wait
                paused = max(
                    self._paused_until.get(route, 0.0),
                    self._paused_until.get(ANY, 0.0),
                )
                progress.emit(
                    progress.Waiting(
                        self.label,
                        wait,
                        "retry-after" if paused - now >= wait else "rate limit",
                    )
                )
                await self.clock.sleep(wait)
