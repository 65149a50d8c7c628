"""The Trakt backup file: the user's lists and full history as versioned JSON.

Refs are stored in their contract form (anchor key + path), times as ISO-8601 UTC, so
a backup restores onto the same account and reads back without a Trakt catalog.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from anibridge.dates import parse_iso, utcnow
from anibridge.provider.base import Event, Ref
from anibridge.providers.trakt.state import UserState
from anibridge.providers.trakt.vocabulary import TraktDataError, parse_ref

FORMAT = "anibridge.trakt.backup"
VERSION = 1


@dataclass(slots=True)
class Restored:
    """What a backup holds that can be written back."""

    ratings: dict[Ref, int] = field(default_factory=dict)
    watchlist: dict[Ref, str | None] = field(default_factory=dict)
    plays: list[Event] = field(default_factory=list)


def _ref_json(ref: Ref) -> dict[str, Any]:
    return {"key": ref.key, "path": [[s.axis, s.value] for s in ref.path]}


def _ref_from(data: Any, where: str) -> Ref:
    if not isinstance(data, dict) or not isinstance(data.get("key"), str):
        raise TraktDataError(f"trakt backup: {where}: ref needs a 'key'")
    steps = data.get("path") or []
    try:
        ref = Ref.at(data["key"], *((str(a), int(v)) for a, v in steps))
        parse_ref(ref)
    except (TypeError, ValueError) as exc:
        raise TraktDataError(f"trakt backup: {where}: bad ref {data!r}") from exc
    return ref


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def dump(state: UserState, history: Iterable[Event], *, account: str | None) -> bytes:
    """Serialize the state and history."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": utcnow().isoformat(),
        "account": account,
        "watched": [
            {"ref": _ref_json(r), "plays": w.plays, "last_at": _time(w.last_at)}
            for r, w in state.watched.items()
        ],
        "ratings": [
            {"ref": _ref_json(r), "rating": v.rating, "rated_at": _time(v.rated_at)}
            for r, v in state.ratings.items()
        ],
        "watchlist": [
            {"ref": _ref_json(r), "notes": e.notes, "listed_at": _time(e.listed_at)}
            for r, e in state.watchlist.items()
        ],
        "collection": [
            {"ref": _ref_json(r), "collected_at": _time(at)}
            for r, at in state.collection.items()
        ],
        "history": [
            {
                "ref": _ref_json(e.ref),
                "kind": e.kind,
                "at": e.at.isoformat(),
                "key": e.key,
            }
            for e in history
        ],
    }
    return json.dumps(payload, sort_keys=True).encode()


def load(payload: bytes) -> Restored:
    """Parse a backup made by `dump`.

    Raises:
        TraktDataError: not JSON, another format or version, or a malformed entry
            (the message says which section and entry).
    """
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise TraktDataError(f"trakt backup: not JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TraktDataError(f"trakt backup: not a {FORMAT} file")
    if data.get("version") != VERSION:
        raise TraktDataError(
            f"trakt backup: version {data.get('version')!r} (this reads {VERSION})"
        )
    out = Restored()
    for index, entry in enumerate(data.get("ratings") or ()):
        where = f"ratings[{index}]"
        rating = entry.get("rating") if isinstance(entry, dict) else None
        if not isinstance(rating, int) or not 1 <= rating <= 10:
            raise TraktDataError(f"trakt backup: {where}: rating must be 1-10")
        out.ratings[_ref_from(entry.get("ref"), where)] = rating
    for index, entry in enumerate(data.get("watchlist") or ()):
        where = f"watchlist[{index}]"
        notes = entry.get("notes") if isinstance(entry, dict) else None
        ref = _ref_from(entry.get("ref") if isinstance(entry, dict) else None, where)
        out.watchlist[ref] = notes if isinstance(notes, str) else None
    for index, entry in enumerate(data.get("history") or ()):
        where = f"history[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("at"), str):
            raise TraktDataError(f"trakt backup: {where}: needs 'at'")
        try:
            at = parse_iso(entry["at"])
        except ValueError as exc:
            raise TraktDataError(f"trakt backup: {where}: bad time") from exc
        out.plays.append(
            Event(ref=_ref_from(entry.get("ref"), where), kind="watch", at=at)
        )
    return out
