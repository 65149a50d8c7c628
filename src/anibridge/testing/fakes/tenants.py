"""Many accounts of one service behind one address, as a hosted deployment sees it.

Each fake service holds one account. `Tenants` serves several of them on one
loopback address: a request goes to the account whose bearer token it carries,
through that account's own fake (its state, its per-user limits), while the
service-wide limits (AniList's requests per minute per client) and the request log
belong to `Tenants` itself. An optional `latency` holds every answer back, so jobs
against it spend their time waiting like jobs against a real service do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping

from anibridge.http.clock import Clock
from anibridge.testing.fakes.server import (
    FakeLimit,
    FakeRequest,
    FakeResponse,
    FakeService,
)

__all__ = ["Tenants", "bearer"]


def bearer(request: FakeRequest) -> str:
    """The bearer token of `request` ("" without one)."""
    header = request.header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class Tenants(FakeService):
    """One address, many accounts (see the module docstring).

    Args:
        accounts: Token → that account's fake (not started: `Tenants` serves).
        time_scale: Real seconds per service second.
        clock: A clock instead of `time_scale`.
        limits: Service-wide limits, over every account's requests.
        latency: Real seconds every answer is held back.
        token_of: How to read the token of a request (default: the bearer token).
    """

    def __init__(
        self,
        accounts: Mapping[str, FakeService],
        *,
        time_scale: float = 1.0,
        clock: Clock | None = None,
        limits: Iterable[FakeLimit] = (),
        latency: float = 0.0,
        token_of: Callable[[FakeRequest], str] = bearer,
    ) -> None:
        """Route each request to the account of its token."""
        super().__init__(time_scale=time_scale, limits=limits, clock=clock)
        if not accounts:
            raise ValueError("Tenants needs at least one account")
        self.accounts = dict(accounts)
        self.latency = latency
        self.token_of = token_of
        #: (service-clock arrival time, status) of every request the service-wide
        #: limits let through.
        self.answered: list[tuple[float, int]] = []
        self._answered_lock = threading.Lock()
        template = next(iter(self.accounts.values()))
        for method, pattern, kind, _handler in template._routes:
            self._routes.append((method, pattern, kind, self._forward))

    def _forward(self, request: FakeRequest) -> FakeResponse:
        arrived = self.clock.monotonic()
        account = self.accounts.get(self.token_of(request))
        if account is None:
            response = FakeResponse(401, {"error": "invalid_token"})
        else:
            response = account._limit_response(request) or self._call_account(
                account, request
            )
        if self.latency:
            time.sleep(self.latency)
        with self._answered_lock:
            self.answered.append((arrived, response.status))
        return response

    @staticmethod
    def _call_account(account: FakeService, request: FakeRequest) -> FakeResponse:
        for method, pattern, kind, handler in account._routes:
            if method != request.method:
                continue
            found = pattern.match(request.path)
            if found is not None:
                request.params = {k: v for k, v in found.groupdict().items() if v}
                request.kind = kind
                return account._call(handler, request)
        return FakeResponse(404, {"error": "no such route", "path": request.path})

    def peak(self, period: float, *, status: int | None = 200) -> int:
        """Most arrivals answered `status` (None: any) within `period` service s."""
        with self._answered_lock:
            times = sorted(
                at for at, s in self.answered if status is None or s == status
            )
        best = 0
        start = 0
        for end, at in enumerate(times):
            while at - times[start] >= period:
                start += 1
            best = max(best, end - start + 1)
        return best
