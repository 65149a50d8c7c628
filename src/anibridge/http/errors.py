"""HTTP failures as the contract's `WriteError` codes, and one exception type.

An `HttpError` carries, besides its technical message (logs, journal), *what kind
of failure* it was (`Failure`: refused, DNS, TLS, timeout, HTTP status, …), the
address it concerned and the service's name, so one translator
(`anibridge.app.service.problems`) can turn any provider's failure into the one
line a person can act on, without parsing text.
"""

from __future__ import annotations

import errno
import socket
import ssl
from enum import StrEnum

import httpx

from anibridge.provider.base import WriteError

__all__ = [
    "CredentialsError",
    "Failure",
    "HttpError",
    "classify_transport",
    "write_error_for_status",
]


class Failure(StrEnum):
    """What went wrong, in the terms a person fixes it in."""

    REFUSED = "refused"  # nothing listens at host:port
    UNREACHABLE = "unreachable"  # no route to the host / network down
    DNS = "dns"  # the host name does not resolve
    TLS = "tls"  # TLS handshake or certificate failed
    TIMEOUT = "timeout"  # no answer in time
    NETWORK = "network"  # the connection broke mid-request
    URL = "url"  # the configured address is not a usable URL
    STATUS = "status"  # the service answered an HTTP error status
    RESPONSE = "response"  # the service answered something unusable


def write_error_for_status(status: int) -> WriteError:
    """The contract's failure code for an HTTP status (providers may refine it)."""
    if status in (400, 405, 413, 414, 415, 422):
        return WriteError.INVALID
    if status in (401, 403):
        return WriteError.AUTH
    if status in (404, 410):
        return WriteError.NOT_FOUND
    if status in (409, 412):
        return WriteError.CONFLICT
    if status == 429:
        return WriteError.RATE_LIMITED
    if status in (408, 425) or status >= 500:
        return WriteError.TRANSIENT
    return WriteError.INTERNAL


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def classify_transport(exc: BaseException) -> Failure:
    """The `Failure` an exception raised while sending a request stands for.

    httpx wraps the operating system's error (``ConnectionRefusedError``,
    ``socket.gaierror``, ``ssl.SSLError``) in its own classes; the cause chain
    says which it was.
    """
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return Failure.URL
    if isinstance(exc, httpx.TimeoutException):
        return Failure.TIMEOUT
    for link in _chain(exc):
        if isinstance(link, ssl.SSLError | ssl.CertificateError):
            return Failure.TLS
        if isinstance(link, socket.gaierror):
            return Failure.DNS
        if isinstance(link, ConnectionRefusedError):
            return Failure.REFUSED
        if isinstance(link, OSError) and link.errno in (
            errno.EHOSTUNREACH,
            errno.ENETUNREACH,
            errno.EHOSTDOWN,
            errno.ENETDOWN,
        ):
            return Failure.UNREACHABLE
    text = str(exc).lower()
    if isinstance(exc, httpx.ConnectError):
        if "certificate" in text or "ssl" in text or "tls" in text:
            return Failure.TLS
        if "name or service not known" in text or "nodename" in text:
            return Failure.DNS
        return Failure.REFUSED
    return Failure.NETWORK


class HttpError(Exception):
    """A request that failed for good, with the code the engine acts on.

    The message never contains secrets: URLs and bodies are redacted first.

    Attributes:
        code: The contract's failure code (what the engine does about it).
        status: The HTTP status, when the service answered.
        failure: What kind of failure it was (what a person does about it).
        service: The client's name (``plex``, ``plex.tv``, ``anilist``, …).
        address: ``host:port`` the request went to, when known.
        url: The request's URL without its query (redacted), when known.
        retry_after: Seconds the service asked to wait (429), when it said.
        attempts: Requests sent before giving up.
    """

    def __init__(
        self,
        message: str,
        *,
        code: WriteError,
        status: int | None = None,
        response: httpx.Response | None = None,
        failure: Failure | None = None,
        service: str | None = None,
        address: str | None = None,
        url: str | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        """Carry the redacted `message`, the contract `code` and the HTTP status."""
        super().__init__(message)
        self.code = code
        self.status = status
        self.response = response
        if failure is None:
            failure = Failure.STATUS if status is not None else Failure.RESPONSE
        self.failure = failure
        self.service = service
        self.address = address
        self.url = url
        self.retry_after = retry_after
        self.attempts = attempts


class CredentialsError(RuntimeError):
    """A provider has no usable credentials: not signed in, or sign-in failed.

    Providers' own sign-in errors subclass it, so the app reports them as rejected
    credentials (sign in again) without knowing each provider.
    """
