"""Any provider failure as the one line a person can act on, and its exit code.

The single translation from what went wrong (an `anibridge.http.HttpError` with its
`Failure` kind, a provider's `CredentialsError`, a provider that rejected its
config while starting) to what a person reads: which provider, what failed, what to
do. The CLI prints it (exit code from here), the web shows it per profile and per
provider (HTTP status from here), `anibridge check` and the Test connection button
report it. Nothing parses message text; the advice per service is data
(`ADVICE`), with a generic fallback for third-party providers.

Exit codes (`EXIT_*`, documented in the README): 69 a provider could not be
reached or used (connection refused, unknown host, TLS, timeout, wrong address,
service errors, rate limits); 77 a provider rejected the credentials or none are
stored (sign in again).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from http import HTTPStatus

from anibridge.app.service.errors import ServiceError
from anibridge.http.errors import CredentialsError, Failure, HttpError
from anibridge.messages import clip
from anibridge.provider.base import Provider, WriteError

__all__ = [
    "ADVICE",
    "EXIT_AUTH",
    "EXIT_UNAVAILABLE",
    "Advice",
    "Problem",
    "ProviderFailed",
    "describe",
    "message_of",
]

EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: a provider could not be reached or used
EXIT_AUTH = 77  # EX_NOPERM: a provider has no usable credentials (rejected, none)


@dataclass(frozen=True, slots=True)
class Advice:
    """What to tell a person about one service.

    Attributes:
        product: The service's name as people know it.
        server: A server the user runs (Plex, Jellyfin): "is it running?".
        credentials: What to do when the service rejects the credentials.
    """

    product: str
    server: bool
    credentials: str


ADVICE: dict[str, Advice] = {
    "plex": Advice(
        "Plex",
        True,
        "run `anibridge login plex`, or check `token` (the server owner's "
        "X-Plex-Token) in the config",
    ),
    "plex.tv": Advice(
        "plex.tv",
        False,
        "run `anibridge login plex`, or check `token`, `user` and `pin` (a Plex "
        "Home user's PIN) in the config",
    ),
    "jellyfin": Advice(
        "Jellyfin", True, "check `token` (an API key from the Jellyfin dashboard)"
    ),
    "emby": Advice("Emby", True, "check `token` (an API key from the Emby server)"),
    "anilist": Advice(
        "AniList",
        False,
        "run `anibridge login anilist`, or put a new personal access token "
        "(anilist.co/settings/developer) in `token`",
    ),
    "mal": Advice(
        "MyAnimeList", False, "check `client_id` and run `anibridge login mal` again"
    ),
    "mal-oauth": Advice(
        "MyAnimeList",
        False,
        "check `client_id`/`client_secret` and run `anibridge login mal` again",
    ),
    "trakt": Advice("Trakt", False, "run `anibridge login trakt` again"),
    "trakt-oauth": Advice(
        "Trakt",
        False,
        "check `client_id`/`client_secret` and run `anibridge login trakt` again",
    ),
    "simkl": Advice(
        "Simkl", False, "check `client_id` and run `anibridge login simkl` again"
    ),
    "kitsu": Advice("Kitsu", False, "run `anibridge login kitsu` again"),
    "kitsu-oauth": Advice(
        "Kitsu", False, "check `username`/`password` or run `anibridge login kitsu`"
    ),
}


def _advice(service: str) -> Advice:
    return ADVICE.get(service) or Advice(service, False, "check its credentials")


@dataclass(frozen=True, slots=True)
class Problem:
    """A failure, as a person reads it.

    Attributes:
        message: One line: provider, what failed, what to do.
        kind: ``unreachable``, ``auth``, ``rate-limited``, ``service``,
            ``address`` or ``config`` (for the web and ``check --json``).
        exit_code: The CLI's exit code.
        status: The web's HTTP status.
    """

    message: str
    kind: str
    exit_code: int
    status: int = 502


class ProviderFailed(ServiceError):
    """A provider could not be used; the message says which, why and what to do."""

    status = 502
    exit_code = EXIT_UNAVAILABLE

    def __init__(self, problem: Problem) -> None:
        """Carry `problem` (its message, exit code and HTTP status)."""
        super().__init__(problem.message, status=problem.status)
        self.problem = problem
        self.exit_code = problem.exit_code


def _tls_reason(exc: BaseException) -> str:
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, ssl.SSLCertVerificationError):
            return str(current.verify_message or current.reason or "certificate")
        if isinstance(current, ssl.SSLError):
            return str(current.reason or current.strerror or "handshake failed")
        current = current.__cause__ or current.__context__
    return "handshake failed"


def _wait(seconds: float) -> str:
    if seconds < 120:
        return f"{round(seconds)} s"
    if seconds < 7200:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _host(address: str | None) -> str:
    if not address:
        return "the configured host"
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


def _describe_http(exc: HttpError, name: str) -> Problem:
    advice = _advice(exc.service or name)
    product = advice.product
    where = exc.address or "the configured address"
    running = (
        f"is {product} running and is `base_url` right?"
        if advice.server
        else "is this machine online, and `base_url` (if set) right?"
    )
    failure = exc.failure
    if failure is Failure.REFUSED:
        return Problem(
            f"{name}: {where} refused the connection — {running}",
            "unreachable",
            EXIT_UNAVAILABLE,
        )
    if failure is Failure.UNREACHABLE:
        return Problem(
            f"{name}: {where} cannot be reached (no route) — {running}",
            "unreachable",
            EXIT_UNAVAILABLE,
        )
    if failure is Failure.DNS:
        return Problem(
            f"{name}: the host name {_host(exc.address)} does not resolve — check "
            "`base_url` and this machine's network/DNS",
            "unreachable",
            EXIT_UNAVAILABLE,
        )
    if failure is Failure.TLS:
        return Problem(
            f"{name}: TLS with {where} failed ({_tls_reason(exc)}) — does the "
            "server have a valid certificate? (for a server on your network, "
            "`base_url` may need http:// or the name its certificate was made for)",
            "unreachable",
            EXIT_UNAVAILABLE,
        )
    if failure is Failure.TIMEOUT:
        return Problem(
            f"{name}: {where} did not answer in time — "
            f"{running[0].lower()}{running[1:]} (a firewall can swallow requests)",
            "unreachable",
            EXIT_UNAVAILABLE,
        )
    if failure is Failure.NETWORK:
        return Problem(
            f"{name}: the connection to {where} broke after {exc.attempts} "
            "attempt(s) — try again; if it persists check the network or proxy",
            "unreachable",
            EXIT_UNAVAILABLE,
        )
    if failure is Failure.URL:
        return Problem(
            f"{name}: `base_url` {exc.url or ''} is not a usable URL — write it "
            "with its scheme, like http://192.168.1.10:32400",
            "config",
            1,
            400,
        )
    status = exc.status
    if status == 429 or exc.code is WriteError.RATE_LIMITED:
        asked = (
            f" and asks to wait {_wait(exc.retry_after)}"
            if exc.retry_after
            else f" after {exc.attempts} attempt(s)"
        )
        return Problem(
            f"{name}: {product} is rate limiting requests ({status or 429}){asked} "
            "— try again later",
            "rate-limited",
            EXIT_UNAVAILABLE,
        )
    if exc.code is WriteError.AUTH or status in (401, 403):
        said = f" ({_status_text(status)})" if status in (401, 403) else ""
        return Problem(
            f"{name}: {product} rejected the credentials{said} — {advice.credentials}",
            "auth",
            EXIT_AUTH,
        )
    if status in (404, 405, 410):
        return Problem(
            f"{name}: {exc.url or where} answered {_status_text(status)} — is "
            f"`base_url` the {product} address (host, port and path)?",
            "address",
            EXIT_UNAVAILABLE,
        )
    if status is not None and status >= 500:
        return Problem(
            f"{name}: {product} failed with {_status_text(status)} (after "
            f"{exc.attempts} attempt(s)) — the service may be down or overloaded; "
            "try again later",
            "service",
            EXIT_UNAVAILABLE,
        )
    # Another 4xx, or an answer the provider could not use: its own text.
    text = str(exc)
    if not text.startswith(f"{name}:") and not text.startswith(f"{exc.service}:"):
        text = f"{name}: {text}"
    return Problem(clip(text.replace("\n", " "), 500), "service", EXIT_UNAVAILABLE)


def describe(exc: BaseException, *, provider: str | None = None) -> Problem | None:
    """The `Problem` an exception stands for; None when it is not a known failure.

    Args:
        exc: What was raised.
        provider: The profile's key for the provider (default: the service's
            name the HTTP client carries).
    """
    if isinstance(exc, ProviderFailed):
        return exc.problem
    if isinstance(exc, HttpError):
        return _describe_http(exc, provider or exc.service or "provider")
    if isinstance(exc, CredentialsError):
        text = str(exc)
        if provider and not text.startswith(f"{provider}:"):
            text = f"{provider}: {text}"
        return Problem(text, "auth", EXIT_AUTH)
    if isinstance(exc, ServiceError):
        return Problem(str(exc), "refused", exc.exit_code, exc.status)
    if isinstance(exc, config_errors()):
        return Problem(clip(str(exc)), "config", 1, 400)
    return None


def config_errors() -> tuple[type[BaseException], ...]:
    """Errors whose message already names what is wrong and where (exit 1).

    Bad config, unknown or unloadable provider, unresolvable secret, unusable
    secret key or store, unusable local file or document, bad mappings.
    Imported on first use: they pull in the config, the store and the providers.
    """
    from anibridge.app.config import ConfigError, ProviderLoadError, SecretError
    from anibridge.mappings.errors import MappingError
    from anibridge.providers.local import (
        DocumentError,
        InboundPayloadError,
        LocalFileError,
    )
    from anibridge.store import SecretKeyError, StoreError

    return (
        ConfigError,
        ProviderLoadError,
        SecretError,
        SecretKeyError,
        StoreError,
        LocalFileError,
        DocumentError,
        InboundPayloadError,
        MappingError,
    )


def message_of(exc: BaseException) -> str:
    """The line a person reads for `exc`: its `Problem`, else type and text.

    For places that must show *something* for any failure (a web run result, a
    profile that cannot start); an unknown failure keeps its type for a report.
    """
    problem = describe(exc)
    if problem is not None:
        return problem.message
    return clip(f"{type(exc).__name__}: {exc}".replace("\n", " "), 500)


async def start_provider(provider: Provider, key: str, *, where: str) -> None:
    """`provider.initialize()`, its failures as the one line a person acts on.

    Raises:
        ProviderFailed: the provider could not be reached, rejected the
            credentials, or rejected its config (the message names `key`, what
            failed and what to do; `where` locates a config problem).
    """
    try:
        await provider.initialize()
    except (HttpError, CredentialsError) as exc:
        problem = describe(exc, provider=key)
        assert problem is not None
        raise ProviderFailed(problem) from exc
    except ValueError as exc:
        if type(exc) is not ValueError:  # a provider's own error class: as it is
            raise
        text = str(exc)
        raise ProviderFailed(
            Problem(f"{key} ({where}): {text}", "config", 1, 400)
        ) from exc
