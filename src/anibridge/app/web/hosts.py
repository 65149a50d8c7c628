"""Which Host headers the service answers, and whose ``X-Forwarded-For`` it believes.

DNS rebinding: a web page on ``evil.example`` re-resolves its own name to
127.0.0.1 and then talks to the local service *as its own origin*, so the browser
sends ``Host: evil.example``. Answering only Host names the user configured
(`HostPolicy`) stops that before authentication is even looked at. IP-literal Hosts
are always fine: a browser sends one only when the page's own origin is that address,
which no other site can be.

Client addresses: only a peer listed in ``web.trusted_proxies`` may say who the real
client is. ``X-Forwarded-For`` is read from the right (what the nearest proxy appended)
and the first address that is not a trusted proxy is the client, so whatever a
client writes into the header itself never counts. Pure functions, no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from anibridge.messages import quote

__all__ = [
    "LOOPBACK_NAMES",
    "HostPolicy",
    "Network",
    "forwarded_client",
    "host_of",
    "host_pattern",
    "is_trusted",
    "parse_proxies",
    "parse_public_url",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "*"})


def parse_proxies(values: Iterable[str]) -> tuple[Network, ...]:
    """``web.trusted_proxies`` entries as networks (a bare address is a /32 or /128).

    Raises:
        ValueError: an entry is not an address/CIDR, or trusts everyone.
    """
    out: list[Network] = []
    for value in values:
        text = str(value).strip()
        if text in ("*", ""):
            raise ValueError(
                f"{quote(text)} would let every client pick its "
                "own address; list your reverse proxy's address or network"
            )
        try:
            net = ipaddress.ip_network(text.strip("[]"), strict=False)
        except ValueError:
            raise ValueError(
                f"{quote(text)} is not an IP address or CIDR "
                "network (e.g. 10.0.0.5 or 172.18.0.0/16)"
            ) from None
        if net.prefixlen == 0:
            raise ValueError(
                f"{quote(text)} trusts every address; list your "
                "reverse proxy's address or network"
            )
        out.append(net)
    return tuple(out)


def parse_public_url(value: str | None) -> tuple[str, str] | None:
    """``(origin, host)`` of ``web.public_url`` (``"https://a.example", "a.example"``).

    Raises:
        ValueError: not an http(s) URL with a host.
    """
    if not value:
        return None
    parts = urlsplit(str(value).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{quote(value)} is not an http(s) URL such as "
            "https://anibridge.example.com"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}", _norm(parts.hostname)


def _norm(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def host_of(header: str) -> str | None:
    """The host name of a ``Host`` header value (port dropped), or None if malformed."""
    text = header.strip()
    if not text or len(text) > 255 or any(c in text for c in " /\\@?#\t"):
        return None
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or (end + 1 < len(text) and text[end + 1] != ":"):
            return None
        name = text[1:end]
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return None
        return name.lower()
    name, _, port = text.partition(":")
    if port and not port.isdigit():
        return None
    return _norm(name) or None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_pattern(value: str) -> str:
    """A normalized ``web.allowed_hosts`` entry.

    Raises:
        ValueError: not a host name, or a wildcard anywhere but the front.
    """
    text = _norm(str(value))
    odd = any(c in text for c in " /\\@?#:") and not _is_ip(text)
    if not text or text == "*" or odd:
        raise ValueError(
            f"{quote(value)} is not a host name (write names like "
            "anibridge.example.com or *.example.com; '*' would allow DNS rebinding)"
        )
    if "*" in text and not (text.startswith("*.") and "*" not in text[2:]):
        raise ValueError(
            f"{quote(value)}: a wildcard may only start a name, as in *.example.com"
        )
    return text


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """The Host names the service answers (IP literals are always answered).

    Attributes:
        names: Exact host names (lower case).
        suffixes: ``.example.com`` for each ``*.example.com`` pattern.
        public_origin: ``scheme://host[:port]`` of ``web.public_url``, if set.
    """

    names: frozenset[str]
    suffixes: tuple[str, ...] = ()
    public_origin: str | None = None

    @classmethod
    def build(
        cls,
        *,
        bind_host: str,
        allowed: Iterable[str] = (),
        public_url: str | None = None,
    ) -> HostPolicy:
        """Defaults (bind address, loopback names, public_url's host) plus `allowed`.

        Raises:
            ValueError: a pattern or the public URL is malformed.
        """
        names = set(LOOPBACK_NAMES)
        if _norm(bind_host) not in _WILDCARD_BINDS:
            names.add(_norm(bind_host))
        try:
            public = parse_public_url(public_url)
        except ValueError as exc:
            raise ValueError(f"web.public_url: {exc}") from None
        if public is not None:
            names.add(public[1])
        suffixes: list[str] = []
        for value in allowed:
            try:
                text = host_pattern(value)
            except ValueError as exc:
                raise ValueError(f"web.allowed_hosts: {exc}") from None
            if text.startswith("*."):
                suffixes.append(text[1:])
            else:
                names.add(text)
        return cls(frozenset(names), tuple(suffixes), public and public[0])

    def allows(self, host: str | None) -> bool:
        """Whether a request for `host` (from `host_of`) is answered."""
        if not host:
            return False
        if host in self.names or _is_ip(host):
            return True
        return any(host.endswith(s) for s in self.suffixes)

    def allows_origin(self, origin: str, host_header: str) -> bool:
        """Whether a browser ``Origin``/``Referer`` is this service itself.

        Same scheme-less origin as the Host the request came in on (the port counts:
        another local web app on another port is another site), or ``public_url``.
        """
        if origin == "null":
            return False
        parts = urlsplit(origin)
        if not parts.netloc:
            return False
        base = f"{parts.scheme}://{parts.netloc.lower()}"
        if self.public_origin is not None and base == self.public_origin:
            return True
        return parts.netloc.lower() == host_header.strip().lower() and self.allows(
            host_of(host_header)
        )

    def describe(self) -> str:
        """The allowed names for messages (sorted)."""
        shown = sorted(self.names) + [f"*{s}" for s in self.suffixes]
        return ", ".join(shown)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    nets: tuple[Network, ...],
) -> bool:
    return ip is not None and any(ip in net for net in nets)


def is_trusted(peer: str, trusted: tuple[Network, ...]) -> bool:
    """Whether `peer` is one of the configured reverse proxies."""
    return bool(trusted) and _trusted(_ip(peer), trusted)


def forwarded_client(
    peer: str, forwarded_for: Iterable[str], trusted: tuple[Network, ...]
) -> str:
    """The real client address of a request that came from `peer`.

    Only when `peer` is a trusted proxy is ``X-Forwarded-For`` read, from the right:
    every trusted hop is skipped and the first other address is the client. An
    unparsable entry ends the walk at the last trusted hop (never the spoofed text).
    """
    if not is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",")]
    client = peer
    for hop in reversed([h for h in hops if h]):
        ip = _ip(hop)
        if ip is None:
            break
        client = str(ip)
        if not _trusted(ip, trusted):
            break
    return client
