"""Pieces of webhook parsing Jellyfin and Emby share (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from anibridge.provider.base import Change, RecordChange, RecordField, Ref
from anibridge.providers._library.shape import episode_ref

__all__ = [
    "PLAYED_FIELDS",
    "header",
    "item_ref",
    "json_body",
    "norm_id",
    "record_change",
    "same_id",
]

PLAYED_FIELDS = frozenset(
    {RecordField.STATUS, RecordField.REPEAT_COUNT, RecordField.LAST_ACTIVITY_AT}
)


def header(headers: Mapping[str, str], name: str) -> str:
    """A header value, case-insensitively ("" when absent)."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def json_body(
    headers: Mapping[str, str], body: bytes, form_field: str
) -> dict[str, Any]:
    """The JSON object of a webhook: raw JSON, or a form field holding JSON.

    Raises:
        ValueError: no JSON object found.
    """
    content_type = header(headers, "content-type").lower()
    raw: bytes | str = body
    if content_type.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("utf-8"), keep_blank_values=True).get(form_field)
        if not values:
            raise ValueError(f"no {form_field!r} form field")
        raw = values[0]
    elif content_type.startswith("multipart/"):
        from email.parser import BytesParser
        from email.policy import HTTP

        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        found = None
        for part in message.iter_parts():  # type: ignore[attr-defined]
            if part.get_param("name", header="content-disposition") == form_field:
                found = part.get_payload(decode=True)
                break
        if not found:
            raise ValueError(f"no {form_field!r} multipart field")
        raw = found
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("webhook body is not a JSON object")
    return data


def norm_id(value: object) -> str:
    """An id as the item APIs print it (no dashes, lower case)."""
    return str(value).replace("-", "").lower()


def same_id(a: object, b: object) -> bool:
    """Whether two Jellyfin/Emby ids are equal (dashes and case ignored)."""
    if a is None or b is None:
        return False
    return str(a).replace("-", "").casefold() == str(b).replace("-", "").casefold()


def item_ref(
    kind: object, item_id: object, series_id: object, season: object, episode: object
) -> Ref | None:
    """The contract ref of a webhook's item (episode ref, or movie/show anchor).

    An episode whose season/episode numbers the payload leaves out (templates and
    server versions differ), or a season, names its series: the series anchor is
    re-read (anchor and parts), rather than the event being dropped.
    """
    if kind == "Episode" and isinstance(season, int) and isinstance(episode, int):
        if series_id:
            return episode_ref(norm_id(series_id), season, episode)
        return None
    if kind in ("Episode", "Season"):
        return Ref.anchor(norm_id(series_id)) if series_id else None
    if kind in ("Movie", "Series") and item_id:
        return Ref.anchor(norm_id(item_id))
    return None


def record_change(ref: Ref, fields: frozenset[RecordField]) -> Change:
    """A record change on `ref` touching `fields` (empty: re-read everything)."""
    return RecordChange(ref=ref, fields=fields)
