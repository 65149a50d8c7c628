"""Jellyfin webhook-plugin payloads → contract changes (pure).

The jellyfin-plugin-webhook "generic" destination posts the template's JSON; AniBridge
expects the plugin's data-object names: ``NotificationType``, ``ServerId``, ``UserId``,
``ItemId``, ``ItemType``, ``SeriesId``, ``SeasonNumber``, ``EpisodeNumber``,
``PlayedToCompletion``, ``SaveReason``. ``ItemAdded`` is server-wide; the other events
are the selected user's or foreign.
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

_PLAYED_REASONS = frozenset({"TogglePlayed", "PlaybackFinished"})
_QUIET_REASONS = frozenset({"PlaybackProgress", "PlaybackStart"})


def payload_changes(
    payload: Mapping[str, Any], *, user_id: str, server_id: str | None
) -> InboundResult:
    """The changes one plugin payload announces for the selected user."""
    kind = payload.get("NotificationType")
    if not isinstance(kind, str):
        return InboundResult(matched=False)
    if server_id and not same_id(payload.get("ServerId"), server_id):
        return InboundResult(matched=False)
    item_type = payload.get("ItemType")
    if kind == "ItemAdded":
        anchor = payload.get("SeriesId") if item_type in ("Episode", "Season") else None
        anchor = anchor or (
            payload.get("ItemId") if item_type in ("Series", "Movie") else None
        )
        if not anchor:
            return InboundResult(matched=True)
        key = norm_id(anchor)
        return InboundResult(True, (NodeChange(ref=Ref.anchor(key), key=key),))
    if not same_id(payload.get("UserId"), user_id):
        return InboundResult(matched=False)
    ref = item_ref(
        item_type,
        payload.get("ItemId"),
        payload.get("SeriesId"),
        payload.get("SeasonNumber"),
        payload.get("EpisodeNumber"),
    )
    if ref is None:
        return InboundResult(matched=True)
    changes: list[Change] = []
    if kind == "PlaybackStop":
        if payload.get("PlayedToCompletion") is True:
            changes.append(record_change(ref, PLAYED_FIELDS))
    elif kind == "UserDataSaved":
        reason = payload.get("SaveReason")
        if reason in _PLAYED_REASONS:
            changes.append(record_change(ref, PLAYED_FIELDS))
        elif reason == "UpdateUserRating":
            changes.append(record_change(ref, frozenset({RecordField.RATING})))
        elif reason not in _QUIET_REASONS:
            changes.append(record_change(ref, frozenset()))
    return InboundResult(matched=True, changes=tuple(changes))
