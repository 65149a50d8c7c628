"""The base every fake service is built on: a real HTTP server on 127.0.0.1.

A fake holds state, answers with the real service's response shapes, enforces the
real rate limits on a clock tests can speed up (limits and `Retry-After` waits scale
together), injects faults on demand, and counts requests by kind (data requests vs.
one-time identity calls) so tests can hold providers to their request budgets.

Subclasses register handlers with `route(method, pattern, kind=...)`; a handler takes
a `FakeRequest` and returns a `FakeResponse` (or a JSON-able value for 200).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import select
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from anibridge.http.clock import Clock, ScaledClock

type Handler = Callable[..., Any]


@dataclass(slots=True)
class FakeRequest:
    """An incoming request, decoded once."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from the route pattern
    kind: str = "data"  # handlers may reclassify (e.g. a GraphQL `Viewer` query)

    def json(self) -> Any:
        """The body as JSON (`None` when empty).

        Returns:
            The decoded body.
        """
        return json.loads(self.body) if self.body else None

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter `name`.

        Returns:
            The value, or `default`.
        """
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        """A request header, case-insensitively.

        Returns:
            The header value, or `default`.
        """
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return default


@dataclass(slots=True)
class FakeResponse:
    """What a handler answers."""

    status: int = 200
    body: Any = None  # bytes/str sent as is; anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        """Body bytes and content type.

        Returns:
            The pair.
        """
        if isinstance(self.body, bytes):
            return self.body, self.headers.get(
                "Content-Type", "application/octet-stream"
            )
        if isinstance(self.body, str):
            return self.body.encode(), self.headers.get("Content-Type", "text/plain")
        if self.body is None and self.status in (204, 304):
            return b"", ""
        return json.dumps(self.body).encode(), "application/json"


class HttpFault(Exception):
    """Raised by a handler to answer with an error status and body."""

    def __init__(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None
    ):
        """Answer `status` with `body` (JSON unless bytes/str) and `headers`."""
        super().__init__(f"HTTP {status}")
        self.response = FakeResponse(status, body, dict(headers or {}))


@dataclass(slots=True)
class FakeLimit:
    """At most `limit` requests matching `applies` in any `period` service seconds."""

    limit: int
    period: float
    applies: Callable[[FakeRequest], bool] = lambda _request: True
    name: str = "default"
    sent: deque[float] = field(default_factory=deque)


@dataclass(slots=True)
class Fault:
    """A queued misbehaviour for the next `times` matching requests.

    `mode` is ``"status"`` (answer `status` with `body`), ``"timeout"`` (hold the
    request until the client hangs up — at most `delay` real seconds — then process
    it and answer into the void: a timeout whose request still lands, whatever the
    machine's speed), ``"malformed"`` (200 with a broken JSON body),
    ``"truncated"`` (announce a longer body than is sent, then close) or ``"late"``
    (a server that applies a request after the client gave up on it: the request
    is *not* processed now; the client gets `status` with `body`, or a connection
    closed without any answer when `status` is 0, and the request is queued on the
    service's `late` list. It is processed when the test calls `land_late()`, or —
    when `after` is set — as soon as `after` service seconds have passed on the
    service's clock, just before the next request is handled. No real time passes).

    `hook`, when set, is called with the request when the fault fires, before any
    answer is sent (a crash test kills the client there: a request in flight).
    """

    mode: str = "status"
    status: int = 500
    body: Any = None
    delay: float = 0.0
    times: int = 1
    match: Callable[[FakeRequest], bool] = lambda _request: True
    after: float | None = None
    hook: Callable[[FakeRequest], None] | None = None


@dataclass(slots=True)
class LateRequest:
    """A request a ``"late"`` fault held back, processed later (`land_late`)."""

    request: FakeRequest
    handler: Handler
    due: float | None  # service seconds (the service's clock); None: explicit only


@dataclass(slots=True)
class LoggedRequest:
    """A request as the fake saw it, for assertions."""

    method: str
    path: str
    kind: str
    status: int
    body: bytes
    query: dict[str, list[str]] = field(default_factory=dict)


class FakeService:
    """Base class of the fake services: routing, limits, faults, counters.

    Args:
        time_scale: Real seconds per service second (0.01 makes a minute 0.6 s).
            Clients under test use `self.clock` so both sides share the timeline.
        limits: Rate limits the fake enforces with 429 + `Retry-After`.
        clock: A clock to use instead (an `anibridge.http.ManualClock` makes the
            limits independent of how fast the machine is).
    """

    #: Header names for rate-limit information, as the real service sends them.
    RATE_LIMIT_HEADERS: bool = True

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        limits: Iterable[FakeLimit] = (),
        clock: Clock | None = None,
    ):
        """Prepare the fake; `start()` opens the socket."""
        self.clock: Clock = clock if clock is not None else ScaledClock(time_scale)
        self.limits = list(limits)
        self.faults: list[Fault] = []
        self.requests: list[LoggedRequest] = []
        self.late: list[LateRequest] = []
        self.landed = 0  # late requests processed so far
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self._lock = threading.RLock()
        # Notified after every logged request: tests wait on it, never poll.
        self._handled = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def wait_until(self, check: Callable[[], object], timeout: float = 60.0) -> None:
        """Block until `check()` holds, re-checked after each request is handled.

        For state the fake reaches on its own thread (a request processed after its
        client hung up). Event-driven: `timeout` only turns a hang into a failure.

        Raises:
            AssertionError: `check()` was still false after `timeout` seconds.
        """
        with self._handled:
            if not self._handled.wait_for(check, timeout):
                raise AssertionError("the fake never reached the expected state")

    # -- routing --------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler, *, kind: str = "data"):
        """Register `handler` for `method` and a path regex with named groups."""
        self._routes.append((method.upper(), re.compile(f"^{pattern}$"), kind, handler))

    # -- lifecycle ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started.

        Raises:
            RuntimeError: the fake is not running.
        """
        if self._server is None:
            raise RuntimeError("fake service not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeService:
        """Listen on an ephemeral loopback port in a background thread.

        Returns:
            The running service.
        """
        service = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls
            wbufsize = 1 << 16  # headers and body leave in one write

            def log_message(self, format: str, *args: object) -> None:
                return

            def _handle(self) -> None:
                service._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeService:
        """Start on entry.

        Returns:
            The running service.
        """
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on exit."""
        self.stop()

    # -- test controls --------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Queue `fault` for the next matching requests."""
        with self._lock:
            self.faults.append(fault)

    def land_late(self) -> int:
        """Process every request a ``"late"`` fault held back, oldest first.

        Returns:
            How many were processed.
        """
        with self._lock:
            due, self.late = self.late, []
        for held in due:
            self._call(held.handler, held.request)
        with self._lock:
            self.landed += len(due)
        return len(due)

    def _land_due(self) -> None:
        """Process held-back requests whose `after` has passed on the clock."""
        if not self.late:
            return
        now = self.clock.monotonic()
        with self._lock:
            due = [h for h in self.late if h.due is not None and h.due <= now]
            self.late = [h for h in self.late if h not in due]
        for held in due:
            self._call(held.handler, held.request)
        with self._lock:
            self.landed += len(due)

    def count(self, kind: str | None = None, *, method: str | None = None) -> int:
        """Requests seen, optionally only of `kind` and/or `method`.

        Returns:
            The number of requests.
        """
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (kind is None or r.kind == kind)
                and (method is None or r.method == method)
            )

    def statuses(self) -> Counter[int]:
        """How often each status was answered.

        Returns:
            A counter of statuses.
        """
        with self._lock:
            return Counter(r.status for r in self.requests)

    def reset_counters(self) -> None:
        """Forget the request log (state is kept)."""
        with self._lock:
            self.requests.clear()

    # -- internals ------------------------------------------------------------------

    def _limit_response(self, request: FakeRequest) -> FakeResponse | None:
        now = self.clock.monotonic()
        with self._lock:
            for limit in self.limits:
                if not limit.applies(request):
                    continue
                while limit.sent and now - limit.sent[0] >= limit.period:
                    limit.sent.popleft()
                if len(limit.sent) >= limit.limit:
                    wait = max(1, math.ceil(limit.period - (now - limit.sent[0])))
                    headers = {"Retry-After": str(wait)}
                    if self.RATE_LIMIT_HEADERS:
                        headers |= {
                            "X-RateLimit-Limit": str(limit.limit),
                            "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Reset": str(int(time.time()) + wait),
                        }
                    return FakeResponse(
                        429,
                        {"error": "Too Many Requests", "limit": limit.name},
                        headers,
                    )
            for limit in self.limits:
                if limit.applies(request):
                    limit.sent.append(now)
        return None

    def _take_fault(self, request: FakeRequest) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.match(request):
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _dispatch(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        request = FakeRequest(
            method=http.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=dict(http.headers.items()),
            body=body,
        )
        handler: Handler | None = None
        allowed = False
        for method, pattern, kind, candidate in self._routes:
            found = pattern.match(request.path)
            if found is None:
                continue
            allowed = True
            if method == request.method:
                request.params = {k: v for k, v in found.groupdict().items() if v}
                request.kind = kind
                handler = candidate
                break
        self._land_due()
        fault = self._take_fault(request) if handler is not None else None
        if fault is not None and fault.hook is not None:
            fault.hook(request)
        truncated = False
        if fault is not None and fault.mode == "late" and handler is not None:
            self._hold(request, handler, fault)
            if not fault.status:
                with self._lock:
                    self.requests.append(
                        LoggedRequest(
                            request.method, request.path, request.kind, 0, body,
                            request.query,
                        )
                    )  # fmt: skip
                    self._handled.notify_all()
                _hang_up(http)
                return
            response = FakeResponse(fault.status, fault.body or {"error": "timeout"})
        elif handler is None:
            response = FakeResponse(
                405 if allowed else 404,
                {"error": "no such route", "path": request.path},
            )
        elif fault is not None and fault.mode == "status":
            response = FakeResponse(fault.status, fault.body or {"error": "injected"})
        else:
            if fault is not None and fault.mode == "timeout":
                _wait_for_hangup(http.connection, fault.delay)
            response = self._limit_response(request) or self._call(handler, request)
            if fault is not None and fault.mode == "malformed":
                response = FakeResponse(
                    200, b'{"data": {"broken', {"Content-Type": "application/json"}
                )
            truncated = fault is not None and fault.mode == "truncated"
        with self._lock:
            self.requests.append(
                LoggedRequest(
                    request.method,
                    request.path,
                    request.kind,
                    response.status,
                    body,
                    request.query,
                )
            )
            self._handled.notify_all()
        payload, content_type = response.encoded()
        try:
            http.send_response(response.status)
            for name, value in response.headers.items():
                if name.lower() != "content-type":
                    http.send_header(name, value)
            if content_type:
                http.send_header("Content-Type", content_type)
            # A truncated answer announces twice the bytes it sends.
            declared = len(payload) * 2 if truncated and payload else len(payload)
            http.send_header("Content-Length", str(declared))
            if truncated:
                http.send_header("Connection", "close")
            http.end_headers()
            if http.command != "HEAD":
                http.wfile.write(payload[: len(payload) // 2] if truncated else payload)
            if truncated:
                http.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            return

    def _hold(self, request: FakeRequest, handler: Handler, fault: Fault) -> None:
        due = None if fault.after is None else self.clock.monotonic() + fault.after
        with self._lock:
            self.late.append(LateRequest(request, handler, due))

    def _call(self, handler: Handler, request: FakeRequest) -> FakeResponse:
        try:
            result = handler(request)
        except HttpFault as fault:
            return fault.response
        if isinstance(result, FakeResponse):
            return result
        return FakeResponse(200, result)


def _hang_up(http: BaseHTTPRequestHandler) -> None:
    """Close the connection with a reset and no answer (the client sees an error)."""
    http.close_connection = True
    with contextlib.suppress(OSError):
        http.connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )


def _wait_for_hangup(connection: socket.socket, limit: float) -> None:
    """Block until the peer closes `connection` (or `limit` seconds pass)."""
    deadline = time.monotonic() + limit
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([connection], [], [], left)
        if not readable:
            return
        try:
            if connection.recv(1, socket.MSG_PEEK) == b"":
                return
        except OSError:
            return
        time.sleep(0.01)  # data, not a hang-up: a pipelined request; keep holding
