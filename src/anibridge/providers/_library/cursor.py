"""Opaque paging cursors: small JSON objects, rejected clearly when tampered with."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(values: Mapping[str, object]) -> str:
    """An opaque cursor for `values`."""
    raw = json.dumps(dict(values), separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, provider: str) -> dict[str, object]:
    """The values of a cursor made by `encode_cursor` (empty for None).

    Raises:
        ValueError: the cursor was not made by this provider.
    """
    if not cursor:
        return {}
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{provider}: not a cursor of this provider: {cursor!r}"
        ) from exc
    if not isinstance(values, dict):
        raise ValueError(f"{provider}: not a cursor of this provider: {cursor!r}")
    return values


def cursor_int(values: Mapping[str, object], key: str, provider: str) -> int:
    """An integer field of a decoded cursor (0 when absent).

    Raises:
        ValueError: the field is not a non-negative integer.
    """
    value = values.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(
            f"{provider}: cursor field {key!r} is not an offset: {value!r}"
        )
    return value
