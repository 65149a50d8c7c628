"""Login throttling: per client and per account, growing delays, never a lockout.

An attempt is *reserved* before the password is checked: `begin` decides and records
in one step (under a lock), so forty concurrent wrong passwords from one client reach
the password check at most `client_free` times — the rest are refused before any
scrypt work. A success (`finish(ok=True)`) clears both counters.

Past its free attempts a key must wait ``base * 2**k`` seconds (capped) before the
next try: guessing slows down exponentially, but the admin is never locked out for
good. The account limit starts later than the client limit (one noisy client does
not slow the admin down elsewhere) and is capped low; a browser that logged in
before carries a signed device cookie and skips the account limit entirely, so an
attacker spreading guesses over many addresses cannot keep the admin out.

Time comes from an injected monotonic clock, so tests never wait.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Attempt", "LoginThrottle", "client_key"]


@dataclass(slots=True)
class _Bucket:
    fails: int = 0
    next_at: float = 0.0
    last_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of `LoginThrottle.begin`.

    Attributes:
        wait: Seconds to wait before trying again (0: the password may be checked).
        client: The client key the attempt was recorded under.
        account: The account key (None when the device cookie exempted it).
    """

    wait: float
    client: str
    account: str | None


def client_key(address: str) -> str:
    """The throttling key of a client address: IPv6 clients are grouped by /64.

    One IPv6 host usually owns a whole /64, so counting single addresses would let it
    rotate through billions of them.
    """
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class _Keyed:
    """Buckets with growing delays, bounded in number (oldest forgotten first)."""

    def __init__(self, free: int, base: float, cap: float, window: float, size: int):
        self.free = free
        self.base = base
        self.cap = cap
        self.window = window
        self.size = size
        self.buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self.buckets.get(key)
        if bucket is None or now - bucket.last_at > self.window:
            bucket = _Bucket()
            self.buckets[key] = bucket
        self.buckets.move_to_end(key)
        while len(self.buckets) > self.size:
            self.buckets.popitem(last=False)
        return bucket

    def wait(self, key: str, now: float) -> float:
        return max(0.0, self._bucket(key, now).next_at - now)

    def record(self, key: str, now: float) -> None:
        bucket = self._bucket(key, now)
        bucket.fails += 1
        bucket.last_at = now
        over = bucket.fails - self.free
        if over >= 0:
            bucket.next_at = now + min(self.cap, self.base * 2.0**over)

    def clear(self, key: str) -> None:
        self.buckets.pop(key, None)


class LoginThrottle:
    """Atomic check-and-record of login attempts per client and per account.

    Args:
        clock: Monotonic seconds (tests pass a fake).
        client_free: Failures a client may make before delays start.
        account_free: Failures an account may see (from all clients) before delays.
        base: First delay in seconds; each further failure doubles it.
        client_cap: Longest delay for one client.
        account_cap: Longest delay for an account (kept short: it is the admin's).
        window: Seconds without a failure after which a key starts fresh.
        max_keys: Clients remembered at most (memory bound under address spraying).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        client_free: int = 5,
        account_free: int = 10,
        base: float = 1.0,
        client_cap: float = 900.0,
        account_cap: float = 60.0,
        window: float = 3600.0,
        max_keys: int = 10_000,
    ) -> None:
        """Create an empty throttle."""
        self.clock = clock
        self._lock = threading.Lock()
        self._clients = _Keyed(client_free, base, client_cap, window, max_keys)
        self._accounts = _Keyed(account_free, base, account_cap, window, 1_000)

    def begin(
        self, client: str, account: str, *, trusted_device: bool = False
    ) -> Attempt:
        """Decide whether this attempt may check a password, and count it if so.

        The attempt counts as a failure right away (so concurrent attempts see it);
        `finish` forgives it when the password was right.
        """
        key = client_key(client)
        acct = None if trusted_device else account.strip().casefold()[:64]
        with self._lock:
            now = self.clock()
            wait = self._clients.wait(key, now)
            if acct is not None:
                wait = max(wait, self._accounts.wait(acct, now))
            if wait > 0:
                return Attempt(wait, key, acct)
            self._clients.record(key, now)
            if acct is not None:
                self._accounts.record(acct, now)
            return Attempt(0.0, key, acct)

    def finish(self, attempt: Attempt, ok: bool) -> None:
        """Close an allowed attempt: a success clears the client and the account."""
        if attempt.wait > 0 or not ok:
            return
        with self._lock:
            self._clients.clear(attempt.client)
            if attempt.account is not None:
                self._accounts.clear(attempt.account)
