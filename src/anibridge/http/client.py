"""The one HTTP client every HTTP provider uses.

It owns what every service integration gets wrong on its own: waiting for rate
limits before sending, honouring `Retry-After` and `X-RateLimit-*`, retrying only what
is safe to retry, refreshing credentials once on 401, mapping failures to contract
codes, keeping secrets out of logs, and counting requests so tests and benchmarks can
hold providers to their request budgets.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from anibridge import progress
from anibridge.dates import utcnow
from anibridge.http.clock import SYSTEM_CLOCK, Clock
from anibridge.http.errors import (
    Failure,
    HttpError,
    classify_transport,
    write_error_for_status,
)
from anibridge.http.limits import READ, WRITE, RateLimit, RateLimiter, SharedLimits
from anibridge.http.redact import SECRETS, redact
from anibridge.provider.base import WriteError

# httpx logs every URL at INFO, query-string credentials included; our own request
# log (redacted) replaces it.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({408, 425, 500, 502, 503, 504})
CONNECT_TIMEOUT = 10.0  # seconds to open a connection (never retried when it fails)
# Failures to send that a retry within seconds can fix: a broken connection or a
# read timeout. A refused connection, an unknown host, a TLS error or a bad URL is
# a configuration or a server that is down: retrying only delays the answer.
RETRYABLE_FAILURES = frozenset({Failure.TIMEOUT, Failure.NETWORK})

type HeaderSource = Callable[[], Awaitable[Mapping[str, str]]]
type Refresher = Callable[[], Awaitable[bool]]


@dataclass(slots=True)
class RequestRecord:
    """One request as sent (URL redacted), for tests and diagnostics."""

    method: str
    url: str
    route: str
    status: int | None
    attempt: int


@dataclass(slots=True)
class RequestCounter:
    """Requests actually sent, by route class and status."""

    total: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    retries: int = 0
    rate_limited: int = 0
    log: list[RequestRecord] = field(default_factory=list)

    def reset(self) -> None:
        """Start counting from zero."""
        self.total = 0
        self.by_route.clear()
        self.by_status.clear()
        self.retries = 0
        self.rate_limited = 0
        self.log.clear()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry; waits grow exponentially with jitter."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_rate_limit_waits: int = 8
    max_retry_after: float = 900.0


def retry_after_seconds(response: httpx.Response, now_epoch: float) -> float | None:
    """Seconds the service asks us to wait (`Retry-After`, `X-RateLimit-Reset`)."""
    value = response.headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - now_epoch)
    reset = response.headers.get("x-ratelimit-reset")
    if reset:
        try:
            number = float(reset)
        except ValueError:
            return None
        # Epoch seconds when large, a delta otherwise (services differ).
        return max(0.0, number - now_epoch) if number > 1e9 else max(0.0, number)
    return None


class HttpClient:
    """An async HTTP client bound to one provider account.

    Args:
        name: Provider name used in logs and errors.
        base_url: Service root; every provider accepts an override for tests and
            self-hosted instances.
        headers: Static headers sent with every request.
        limits: Client-side rate limits (sliding windows per route class).
        clock: Time source for limits and backoff (a `ScaledClock` in tests).
        retry: Retry policy.
        timeout: Seconds before a request counts as failed (transient).
        auth_headers: Coroutine returning per-request credential headers.
        refresh: Coroutine called once on 401; returns True when credentials changed.
        secrets: Extra values to mask in logs and errors.
        transport: httpx transport override.
        logger: Logger for request lines (secrets redacted).
        limit_key: What else identifies the app-wide budget besides the service
            and its address (e.g. the OAuth client id: limits are per client).
        shared_limits: Backend sharing app-scoped limits between processes;
            default: the one installed with `anibridge.http.use_shared_limits`.
    """

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        limits: Iterable[RateLimit] = (),
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        auth_headers: HeaderSource | None = None,
        refresh: Refresher | None = None,
        secrets: Iterable[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
        logger: logging.Logger | None = None,
        limit_key: str | None = None,
        shared_limits: SharedLimits | None = None,
    ) -> None:
        """Create the client; no connection is opened until the first request."""
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.clock = clock or SYSTEM_CLOCK
        self.limiter = RateLimiter(
            limits,
            clock=self.clock,
            shared=shared_limits,
            service=" ".join(p for p in (name, self.base_url, limit_key) if p),
            label=name,
        )
        self.retry = retry or RetryPolicy()
        self.counter = RequestCounter()
        self._auth_headers = auth_headers
        self._refresh = refresh
        self._secrets = [s for s in secrets if s]
        for secret in self._secrets:
            SECRETS.add(secret)
        SECRETS.add_url(base_url)
        self.log = logger or logging.getLogger(f"anibridge.http.{name}")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=dict(headers or {}),
            # A host that swallows connection attempts answers no sooner with a
            # longer wait: connecting gets at most CONNECT_TIMEOUT, not `timeout`.
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
            transport=transport,
            follow_redirects=True,
        )

    def add_secret(self, value: str | None) -> None:
        """Mask `value` in every later log line, error message and page."""
        if value:
            self._secrets.append(value)
            SECRETS.add(value)

    def redact(self, text: str) -> str:
        """`text` with this client's secrets masked."""
        return redact(text, self._secrets)

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()

    async def __aenter__(self) -> HttpClient:
        """Use as an async context manager."""
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Close on exit."""
        await self.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        route: str | None = None,
        retry: bool | None = None,
        expect: Iterable[int] = (),
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request under the provider's limits and retry rules.

        Args:
            method: HTTP method.
            url: Path relative to the base URL, or an absolute URL.
            route: Rate-limit class; ``"read"`` for GET/HEAD, else ``"write"``.
            retry: Whether failures may be retried. Defaults to True for idempotent
                methods; pass True for a POST the provider knows is safe to repeat
                (a read-only GraphQL query, an absolute-value upsert). A 429 is
                always retried after the requested wait: it was not processed.
            expect: Extra statuses returned to the caller instead of raising
                (e.g. 404 when absence is an answer).
            **kwargs: Passed to `httpx.AsyncClient.request` (params, json, ...).

        Returns:
            The successful (2xx/3xx or expected) response.

        Raises:
            HttpError: the request failed for good; `code` says why.
        """
        method = method.upper()
        route = route or (READ if method in ("GET", "HEAD") else WRITE)
        may_retry = method in IDEMPOTENT_METHODS if retry is None else retry
        expected = frozenset(expect)
        attempt = 0
        rate_waits = 0
        refreshed = False
        base_headers = dict(kwargs.pop("headers", None) or {})
        while True:
            attempt += 1
            await self.limiter.acquire(route)
            headers = dict(base_headers)
            credentials: Mapping[str, str] = {}
            if self._auth_headers is not None:
                credentials = await self._auth_headers()
                headers.update(credentials)
            try:
                response = await self._client.request(
                    method, url, headers=headers, **kwargs
                )
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                self._record(method, url, route, None, attempt)
                failure = classify_transport(exc)
                if (
                    may_retry
                    and failure in RETRYABLE_FAILURES
                    and not isinstance(exc, httpx.ConnectTimeout)
                    and attempt < self.retry.max_attempts
                ):
                    await self._backoff(attempt)
                    continue
                try:
                    sent = str(exc.request.url)
                except RuntimeError:  # raised before a request was built
                    sent = url
                address, where = self._where(sent)
                if failure is Failure.URL:
                    where = self.redact(self.base_url)
                raise HttpError(
                    self.redact(f"{self.name}: {method} {url} failed: {exc!r}"),
                    code=WriteError.TRANSIENT,
                    failure=failure,
                    service=self.name,
                    address=address,
                    url=where,
                    attempts=attempt,
                ) from exc
            status = response.status_code
            self._record(method, url, route, status, attempt)
            if status < 400 or status in expected:
                await self._respect_remaining(route, response)
                return response
            if status == 429:
                self.counter.rate_limited += 1
                wait = retry_after_seconds(response, utcnow().timestamp())
                if wait is None:
                    wait = self._delay(max(rate_waits + 1, 1))
                if rate_waits < self.retry.max_rate_limit_waits and (
                    wait <= self.retry.max_retry_after
                ):
                    rate_waits += 1
                    await self.limiter.hold(route, wait)
                    self.counter.retries += 1
                    continue
            elif status == 401 and self._refresh is not None and not refreshed:
                refreshed = True
                if await self._renewed_since(credentials) or await self._refresh():
                    self.counter.retries += 1
                    continue
            elif (
                status in RETRYABLE_STATUSES
                and may_retry
                and attempt < self.retry.max_attempts
            ):
                self.counter.retries += 1
                await self._backoff(attempt, response)
                continue
            address, where = self._where(str(response.request.url))
            raise HttpError(
                self.redact(
                    f"{self.name}: {method} {response.request.url} answered {status}: "
                    f"{response.text[:300]}"
                ),
                code=write_error_for_status(status),
                status=status,
                response=response,
                service=self.name,
                address=address,
                url=where,
                retry_after=(
                    retry_after_seconds(response, utcnow().timestamp())
                    if status == 429
                    else None
                ),
                attempts=attempt,
            )

    def _where(self, url: str) -> tuple[str | None, str | None]:
        """``host:port`` and the query-less, redacted URL a request went to."""
        try:
            full = httpx.URL(self.base_url + "/").join(url)
        except (httpx.InvalidURL, ValueError, TypeError):
            return None, self.redact(self.base_url)
        if not full.host:
            return None, self.redact(str(full.copy_with(query=None)))
        port = full.port or {"https": 443, "http": 80}.get(full.scheme)
        address = f"{full.host}:{port}" if port else full.host
        return address, self.redact(str(full.copy_with(query=None, fragment=None)))

    async def _renewed_since(self, sent: Mapping[str, str]) -> bool:
        """Whether the credentials changed after a request went out with `sent`.

        Requests in flight together with a stale token all come back 401, some
        only after the first one's renewal has finished; they retry with the new
        token instead of renewing again (which would rotate a refresh token twice
        and save twice).
        """
        if self._auth_headers is None:
            return False
        return dict(await self._auth_headers()) != dict(sent)

    async def _respect_remaining(self, route: str, response: httpx.Response) -> None:
        """Pause early when the service says the current window is used up."""
        if response.headers.get("x-ratelimit-remaining", "").strip() == "0":
            wait = retry_after_seconds(response, utcnow().timestamp())
            if wait:
                await self.limiter.hold(route, min(wait, self.retry.max_retry_after))

    def _record(
        self, method: str, url: str, route: str, status: int | None, attempt: int
    ) -> None:
        self.counter.total += 1
        self.counter.by_route[route] += 1
        if status is not None:
            self.counter.by_status[status] += 1
        self.counter.log.append(
            RequestRecord(method, self.redact(url), route, status, attempt)
        )
        self.log.debug(
            "%s %s %s -> %s (attempt %d)",
            self.name,
            method,
            self.redact(url),
            status,
            attempt,
        )

    def _delay(self, attempt: int) -> float:
        base = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
        return base / 2 + random.uniform(0, base / 2)

    async def _backoff(
        self, attempt: int, response: httpx.Response | None = None
    ) -> None:
        wait = None
        if response is not None:
            wait = retry_after_seconds(response, utcnow().timestamp())
        seconds = wait if wait is not None else self._delay(attempt)
        progress.emit(
            progress.Waiting(
                self.name, seconds, "retry-after" if wait is not None else "retry"
            )
        )
        await self.clock.sleep(seconds)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET under the client's rules (see `request`).

        Returns:
            The response.
        """
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST under the client's rules (see `request`).

        Returns:
            The response.
        """
        return await self.request("POST", url, **kwargs)
