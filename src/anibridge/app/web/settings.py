"""Web service settings and the safety checks that run before binding a socket."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from anibridge.app.web.hosts import (
    HostPolicy,
    Network,
    parse_proxies,
    parse_public_url,
)

__all__ = ["UnsafeBindError", "WebSettings", "is_loopback", "normalize_prefix"]


class UnsafeBindError(ValueError):
    """Refused: the service would be reachable from the network without auth."""


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts local connections (``localhost`` counts)."""
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalize_prefix(prefix: str) -> str:
    """``"anibridge/"`` → ``"/anibridge"``; ``"/"`` and ``""`` → ``""``.

    Raises:
        ValueError: the prefix has characters that do not belong in a path.
    """
    text = prefix.strip().strip("/")
    if not text:
        return ""
    if any(c in text for c in "?#\\ ") or ".." in text.split("/"):
        raise ValueError(f"web.path_prefix: {prefix!r} is not a plain URL path")
    return "/" + text


@dataclass(frozen=True, slots=True)
class WebSettings:
    """How `anibridge serve` listens and authenticates.

    Attributes:
        data_dir: Where credentials (``auth.json``) live.
        host: Bind address (loopback by default).
        port: TCP port.
        path_prefix: Serve under this path (behind a reverse proxy).
        auth: Require credentials (only allowed off on a loopback host).
        admin_password: Configured admin password (else one is generated once).
        secure_cookies: ``"auto"`` (Secure when the request is HTTPS), or a bool.
        webhook_max_bytes: Largest webhook body accepted.
        trusted_proxies: Reverse proxies (addresses/CIDRs) whose
            ``X-Forwarded-For``/``X-Forwarded-Proto`` are believed (default none).
        allowed_hosts: Host names answered besides the defaults (bind address,
            loopback names, `public_url`'s host); ``*.example.com`` wildcards.
        public_url: How users reach the service (``https://host[:port][/prefix]``):
            its host is allowed, its origin passes the Origin check, and webhook
            URLs are shown with it.
        scrypt_n: Password hashing cost (tests lower it).
        mappings_refresh: Seconds between mappings dataset updates (None: never).
    """

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 4848
    path_prefix: str = ""
    auth: bool = True
    admin_password: str | None = None
    secure_cookies: bool | str = "auto"
    webhook_max_bytes: int = 1024 * 1024
    trusted_proxies: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    public_url: str | None = None
    scrypt_n: int = 2**15
    mappings_refresh: float | None = 86400.0

    def check(self) -> None:
        """Refuse settings that would expose the service.

        Raises:
            UnsafeBindError: auth is off on a non-loopback host.
            ValueError: port or limits are out of range, or a proxy, host name or
                the public URL is malformed.
        """
        if not self.auth and not is_loopback(self.host):
            raise UnsafeBindError(
                f"refusing to listen on {self.host!r} with authentication off: "
                "anyone on the network could trigger syncs, undo and restore. "
                "Turn auth on or bind 127.0.0.1."
            )
        if not self.auth and (self.trusted_proxies or self._public_elsewhere()):
            raise UnsafeBindError(
                "refusing to run with authentication off behind a reverse proxy "
                "(web.trusted_proxies or a non-local web.public_url is set): the "
                "proxy would make the service reachable without a login. Turn auth on."
            )
        if not 0 <= self.port <= 65535:
            raise ValueError(f"web.port: {self.port} is not a TCP port")
        if self.webhook_max_bytes < 1024:
            raise ValueError("web.webhook_max_bytes: must be at least 1024")
        self.host_policy()
        try:
            self.proxy_networks()
        except ValueError as exc:
            raise ValueError(f"web.trusted_proxies: {exc}") from None

    def _public_elsewhere(self) -> bool:
        public = parse_public_url(self.public_url) if self.public_url else None
        return public is not None and not is_loopback(public[1])

    def host_policy(self) -> HostPolicy:
        """The Host names this service answers.

        Raises:
            ValueError: an allowed host or the public URL is malformed.
        """
        return HostPolicy.build(
            bind_host=self.host, allowed=self.allowed_hosts, public_url=self.public_url
        )

    def proxy_networks(self) -> tuple[Network, ...]:
        """The trusted reverse proxies as networks.

        Raises:
            ValueError: an entry is malformed or trusts everyone.
        """
        return parse_proxies(self.trusted_proxies)
