"""Whether a webhook body is well-formed at all: JSON, multipart or a URL-encoded form.

Media servers send JSON (Jellyfin, the local webhook), ``multipart/form-data`` (Plex,
Emby) or URL-encoded forms. A body that is none of these cannot be a webhook of any
provider: it is answered 400 at once so a person setting the webhook up sees the
mistake, instead of a 202 for something that is silently dropped later. Cheap and
bounded by the body limit: one JSON parse, or a scan for the multipart boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import Message

import orjson

__all__ = ["envelope_problem"]


def _content_type(headers: Mapping[str, str]) -> tuple[str, Message]:
    raw = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    message = Message()
    message["content-type"] = raw or "application/octet-stream"
    return message.get_content_type(), message


def envelope_problem(headers: Mapping[str, str], body: bytes) -> str | None:
    """Why `body` is not a well-formed webhook body, or None when it is."""
    if not body.strip():
        return "the body is empty"
    kind, message = _content_type(headers)
    if kind.startswith("multipart/"):
        boundary = message.get_param("boundary")
        if not isinstance(boundary, str) or not boundary:
            return "multipart body without a boundary in its Content-Type"
        marker = b"--" + boundary.encode("latin-1", "replace")
        if marker not in body or marker + b"--" not in body:
            return "multipart body whose parts do not match its boundary"
        return None
    if kind == "application/x-www-form-urlencoded":
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError:
            return "URL-encoded form with non-ASCII bytes"
        return None if "=" in text else "URL-encoded form without any field"
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return (
            "the body is neither JSON nor a form (multipart or URL-encoded); "
            "check the webhook's content type in the sending server"
        )
    if not isinstance(value, dict | list):
        return "the JSON body is not an object or a list"
    return None
