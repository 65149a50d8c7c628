"""Login throttling: a few failed passwords per client, then a pause."""

from __future__ import annotations

import time
from collections import defaultdict, deque

__all__ = ["LoginThrottle"]


class LoginThrottle:
    """At most `limit` failed logins per client per `window` seconds."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        """Create an empty throttle."""
        self.limit = limit
        self.window = window
        self._fails: defaultdict[str, deque[float]] = defaultdict(deque)

    def blocked(self, client: str) -> float:
        """Seconds until `client` may try again (0 = allowed now)."""
        fails = self._fails[client]
        now = time.monotonic()
        while fails and fails[0] < now - self.window:
            fails.popleft()
        if len(fails) < self.limit:
            return 0.0
        return max(0.0, fails[0] + self.window - now)

    def failed(self, client: str) -> None:
        """Record a failed attempt."""
        self._fails[client].append(time.monotonic())

    def succeeded(self, client: str) -> None:
        """Forget a client's failures."""
        self._fails.pop(client, None)
