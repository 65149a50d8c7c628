"""Emby webhooks → contract changes (pure).

Emby (4.7+, Premiere) posts ``{"Event", "User", "Item", "Server", "PlaybackInfo"…}``
as JSON (4.9 can send ``application/json``) or as ``multipart/form-data`` with the
JSON in a ``data`` field. ``library.new`` is server-wide; ``item.markplayed``,
``item.markunplayed``, ``item.rate`` and ``playback.stop`` are the selected user's or
foreign.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anibridge.provider.base import Change, InboundResult, NodeChange, RecordField, Ref
from anibridge.providers._mediabrowser.webhook import (
    PLAYED_FIELDS,
    item_ref,
    norm_id,
    record_change,
    same_id,
)

__all__ = ["payload_changes"]


def payload_changes(
    payload: Mapping[str, Any], *, user_id: str, server_id: str | None
) -> InboundResult:
    """The changes one Emby webhook announces for the selected user."""
    event = payload.get("Event")
    item = payload.get("Item")
    if not isinstance(event, str):
        return InboundResult(matched=False)
    server = payload.get("Server")
    if server_id and not (
        isinstance(server, dict) and same_id(server.get("Id"), server_id)
    ):
        return InboundResult(matched=False)
    if not isinstance(item, dict):
        return InboundResult(matched=True)
    if event == "library.new":
        anchor = (
            item.get("SeriesId") if item.get("Type") in ("Episode", "Season") else None
        )
        anchor = anchor or (
            item.get("Id") if item.get("Type") in ("Series", "Movie") else None
        )
        if not anchor:
            return InboundResult(matched=True)
        key = norm_id(anchor)
        return InboundResult(True, (NodeChange(ref=Ref.anchor(key), key=key),))
    user = payload.get("User")
    if not isinstance(user, dict) or not same_id(user.get("Id"), user_id):
        return InboundResult(matched=False)
    ref = item_ref(
        item.get("Type"),
        item.get("Id"),
        item.get("SeriesId"),
        item.get("ParentIndexNumber"),
        item.get("IndexNumber"),
    )
    if ref is None:
        return InboundResult(matched=True)
    changes: list[Change] = []
    if event in ("item.markplayed", "item.markunplayed"):
        changes.append(record_change(ref, PLAYED_FIELDS))
    elif event == "item.rate":
        changes.append(record_change(ref, frozenset({RecordField.RATING})))
    elif event == "playback.stop":
        info = payload.get("PlaybackInfo")
        if isinstance(info, dict) and info.get("PlayedToCompletion") is True:
            changes.append(record_change(ref, PLAYED_FIELDS))
    return InboundResult(matched=True, changes=tuple(changes))
