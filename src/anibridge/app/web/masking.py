"""ASGI middleware: no registered secret leaves in a response, whatever produced it.

Pages, JSON answers, error details, the live event stream and redirect targets are
masked with `anibridge.http.redact.mask` on their way out, so a secret that reaches
any text — a provider error quoting its URL, a log line on the logs page, a config
value — is shown as ``***``. Binary bodies (backup downloads) pass untouched.
Webhook URLs and a newly created API token are not registered secrets: showing them
to the signed-in admin is the point of those pages.
"""

from __future__ import annotations

from typing import Any

from anibridge.http.redact import mask

__all__ = ["MaskSecrets"]

_TEXTUAL = (b"text/", b"application/json", b"application/javascript", b"+json")


def _textual(content_type: bytes) -> bool:
    lowered = content_type.lower()
    return any(t in lowered for t in _TEXTUAL)


def _mask_bytes(data: bytes) -> bytes:
    if not data:
        return data
    text = data.decode("utf-8", "surrogateescape")
    masked = mask(text)
    return data if masked == text else masked.encode("utf-8", "surrogateescape")


class MaskSecrets:
    """Mask registered secrets in every textual response body and redirect."""

    def __init__(self, app: Any) -> None:
        """Wrap `app`."""
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] | None = None  # held until the first body chunk
        textual = False

        async def masked_send(message: dict[str, Any]) -> None:
            nonlocal start, textual
            kind = message["type"]
            if kind == "http.response.start":
                headers = [
                    (k, _mask_bytes(v) if k.lower() == b"location" else v)
                    for k, v in message.get("headers", [])
                ]
                ctype = next(
                    (v for k, v in headers if k.lower() == b"content-type"), b""
                )
                textual = _textual(ctype)
                message = {**message, "headers": headers}
                if textual:
                    start = message  # its length may change: wait for the body
                    return
            elif kind == "http.response.body" and textual:
                body = _mask_bytes(message.get("body", b""))
                if start is not None:
                    headers = [
                        (k, v)
                        for k, v in start["headers"]
                        if k.lower() != b"content-length"
                    ]
                    if not message.get("more_body", False):
                        headers.append((b"content-length", str(len(body)).encode()))
                    await send({**start, "headers": headers})
                    start = None
                message = {**message, "body": body}
            await send(message)

        await self.app(scope, receive, masked_send)
