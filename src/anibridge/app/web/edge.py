"""The outermost ASGI layer: who the client really is, and which Host is answered.

Runs before routing and authentication, on every route (health checks and webhooks
included) in every mode. Behind a trusted proxy it rewrites ``scope["client"]`` and
``scope["scheme"]`` in place, so the login throttle, secure cookies and uvicorn's
access log all see the real client; uvicorn's own proxy handling stays off (its
``forwarded_allow_ips="*"`` would believe any client). Then a Host outside
`HostPolicy` is refused with 400 and a hint naming the setting, and bodies over
`max_body` with 413 (no route reads an unbounded body).
"""

from __future__ import annotations

from typing import Any

from anibridge.app.web.hosts import (
    HostPolicy,
    Network,
    forwarded_client,
    host_of,
    is_trusted,
)

__all__ = ["EdgeGuard"]

_MAX_SHOWN = 100


def _header(scope: dict[str, Any], name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == name]


class EdgeGuard:
    """ASGI middleware: trusted-proxy client/scheme, then the Host allow-list.

    Args:
        app: The wrapped ASGI app.
        hosts: Host names answered.
        proxies: Peers whose ``X-Forwarded-For``/``X-Forwarded-Proto`` count.
        max_body: Largest request body of any route (413 above; a body without a
            declared length is cut off there).
    """

    def __init__(
        self,
        app: Any,
        *,
        hosts: HostPolicy,
        proxies: tuple[Network, ...] = (),
        max_body: int = 8 << 20,
    ) -> None:
        """Wrap `app`."""
        self.app = app
        self.hosts = hosts
        self.proxies = proxies
        self.max_body = max_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Handle one ASGI connection."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        peer = (scope.get("client") or ("", 0))[0]
        if peer and is_trusted(peer, self.proxies):
            client = forwarded_client(
                peer, _header(scope, b"x-forwarded-for"), self.proxies
            )
            scope["client"] = (client, 0)
            proto = _header(scope, b"x-forwarded-proto")
            last = proto[-1].split(",")[-1].strip().lower() if proto else ""
            if last in ("http", "https") and scope["type"] == "http":
                scope["scheme"] = last
        raw = (_header(scope, b"host") or [""])[0]
        host = host_of(raw)
        if not self.hosts.allows(host):
            await _refuse(scope, send, raw)
            return
        if scope["type"] == "http":
            declared = (_header(scope, b"content-length") or [""])[0]
            if declared.isdigit() and int(declared) > self.max_body:
                await _answer(send, 413, f"413 Request body over {self.max_body} bytes")
                return
            receive = _capped(receive, self.max_body)
        await self.app(scope, receive, send)


def _capped(receive: Any, limit: int) -> Any:
    """`receive` that reports a disconnect once a body passes `limit` bytes."""
    seen = 0

    async def wrapped() -> dict[str, Any]:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                return {"type": "http.disconnect"}
        return message

    return wrapped


async def _refuse(scope: dict[str, Any], send: Any, raw: str) -> None:
    shown = "".join(c if c.isprintable() else "?" for c in raw)[:_MAX_SHOWN]
    text = (
        f"400 Bad Request: AniBridge does not answer to the host name {shown!r}. "
        "If this is how you reach it, add the name to web.allowed_hosts in "
        "anibridge.yaml (or set web.public_url).\n"
    )
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await _answer(send, 400, text)


async def _answer(send: Any, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
