"""Plex webhooks → contract changes (pure).

Plex posts ``multipart/form-data`` with the JSON in a field named ``payload`` (plus a
thumbnail for some events). Only the selected account's events on this server count;
anything else is foreign (``matched=False``). Handled events: ``media.scrobble``
(watched: record + play), ``media.rate`` (rating), ``media.stop`` (state may have
changed: re-read the record) and ``library.new`` (catalog change of the show/movie).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from anibridge.dates import from_epoch
from anibridge.provider.base import (
    Change,
    EventChange,
    InboundResult,
    NodeChange,
    RecordChange,
    RecordField,
    Ref,
)
from anibridge.providers._library.shape import PLAY, episode_ref

__all__ = ["HANDLED_EVENTS", "payload_changes", "read_payload"]

HANDLED_EVENTS = frozenset(
    {"media.scrobble", "media.rate", "media.stop", "library.new"}
)
_PLAYED = frozenset(
    {RecordField.STATUS, RecordField.REPEAT_COUNT, RecordField.LAST_ACTIVITY_AT}
)


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def read_payload(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The JSON payload of a Plex webhook request.

    Raises:
        ValueError: the body is not a Plex webhook (no ``payload`` field, bad JSON).
    """
    content_type = _header(headers, "content-type")
    raw: bytes | None = None
    if content_type.lower().startswith("multipart/"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        for part in message.iter_parts():  # type: ignore[attr-defined]
            if part.get_param("name", header="content-disposition") == "payload":
                raw = part.get_payload(decode=True)
                break
    elif content_type.lower().startswith("application/json"):
        raw = body
    if not raw:
        raise ValueError("no 'payload' field in the Plex webhook body")
    payload = json.loads(raw)
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise ValueError("the Plex webhook payload has no 'event'")
    return payload


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _target(meta: Mapping[str, Any]) -> Ref | None:
    kind = meta.get("type")
    if kind == "episode":
        show = meta.get("grandparentRatingKey")
        season, number = _int(meta.get("parentIndex")), _int(meta.get("index"))
        if show is None or season is None or number is None:
            return None
        return episode_ref(str(show), season, number)
    if kind in ("movie", "show") and meta.get("ratingKey") is not None:
        return Ref.anchor(str(meta["ratingKey"]))
    if kind == "season" and meta.get("parentRatingKey") is not None:
        return Ref.anchor(str(meta["parentRatingKey"]))
    return None


def payload_changes(
    payload: Mapping[str, Any],
    *,
    account_id: str,
    server_id: str | None,
    sections: Collection[str],
) -> InboundResult:
    """The changes a webhook payload announces for one account.

    Args:
        payload: The decoded ``payload`` JSON.
        account_id: The selected server account id (the owner is ``1``).
        server_id: The server's machine identifier; other servers are foreign.
        sections: Section keys this provider covers (others yield no changes).

    Returns:
        `matched=False` for another account or server; otherwise the changes.
    """
    account = payload.get("Account")
    if not isinstance(account, dict) or str(account.get("id")) != str(account_id):
        return InboundResult(matched=False)
    server = payload.get("Server")
    if server_id and (not isinstance(server, dict) or server.get("uuid") != server_id):
        return InboundResult(matched=False)
    event = payload["event"]
    meta = payload.get("Metadata")
    if event not in HANDLED_EVENTS or not isinstance(meta, dict):
        return InboundResult(matched=True)
    section = meta.get("librarySectionID")
    if sections and section is not None and str(section) not in sections:
        return InboundResult(matched=True)
    ref = _target(meta)
    if ref is None:
        return InboundResult(matched=True)
    viewed = _int(meta.get("lastViewedAt"))
    at = from_epoch(viewed) if viewed else None
    changes: list[Change] = []
    if event == "library.new":
        changes.append(NodeChange(ref=Ref.anchor(ref.key), key=ref.key))
    elif event == "media.scrobble":
        changes.append(RecordChange(ref=ref, at=at, fields=_PLAYED))
        changes.append(EventChange(ref=ref, kind=PLAY, at=at))
    elif event == "media.rate":
        changes.append(RecordChange(ref=ref, fields=frozenset({RecordField.RATING})))
    else:  # media.stop: the view state may have changed; re-read it
        changes.append(RecordChange(ref=ref, at=at))
    return InboundResult(matched=True, changes=tuple(changes))
