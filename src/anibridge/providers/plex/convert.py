"""Plex server JSON → library values (pure).

The server's JSON gives times as epoch seconds, which are UTC; ratings are 0-10.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anibridge.dates import from_epoch
from anibridge.providers._library.ids import Scoping, SourceId
from anibridge.providers._library.model import (
    LibraryEpisode,
    LibraryItem,
    Play,
    Section,
    UserState,
)
from anibridge.providers.plex.guids import (
    SHOW_ORDERINGS,
    UNSCOPED_TVDB_ORDERINGS,
    item_ids,
)

__all__ = [
    "episode_from_json",
    "item_from_json",
    "key_from_path",
    "play_from_json",
    "section_from_json",
    "state_from_json",
]

_SECTION_KINDS = {"show": "show", "movie": "movie"}


def _epoch(value: object):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return from_epoch(value)


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def state_from_json(data: Mapping[str, Any]) -> UserState:
    """The token owner's state on one metadata item."""
    rating = data.get("userRating")
    return UserState(
        view_count=_int(data.get("viewCount")) or 0,
        last_viewed_at=_epoch(data.get("lastViewedAt")),
        rating=float(rating)
        if isinstance(rating, (int, float)) and rating >= 0
        else None,
        rated_at=_epoch(data.get("lastRatedAt")),
    )


def section_from_json(data: Mapping[str, Any]) -> Section | None:
    """A library section, or None for kinds AniBridge does not sync (music, photos)."""
    kind = _SECTION_KINDS.get(str(data.get("type")))
    if kind is None:
        return None
    return Section(key=str(data["key"]), title=str(data.get("title") or ""), kind=kind)


def item_from_json(
    data: Mapping[str, Any], section: str | None = None
) -> LibraryItem | None:
    """A show or movie, or None for other metadata types."""
    kind = data.get("type")
    if kind not in ("show", "movie"):
        return None
    genres = tuple(
        str(g["tag"])
        for g in data.get("Genre") or ()
        if isinstance(g, dict) and "tag" in g
    )
    state = state_from_json(data)
    ids = item_ids(data, kind)
    if kind == "show":
        state = UserState(rating=state.rating, rated_at=state.rated_at)
        if data.get("showOrdering") in UNSCOPED_TVDB_ORDERINGS:
            # DVD/absolute seasons are not TVDB's aired seasons: no season scopes.
            ids = tuple(
                SourceId(i.authority, i.value, Scoping.NONE)
                if i.authority == "tvdb_show"
                else i
                for i in ids
            )
    return LibraryItem(
        key=str(data["ratingKey"]),
        kind=kind,
        title=str(data.get("title") or ""),
        section=str(
            section if section is not None else data.get("librarySectionID", "")
        ),
        year=_int(data.get("year")),
        ids=ids,
        genres=genres,
        ordering=SHOW_ORDERINGS.get(str(data.get("showOrdering"))),
        state=state,
    )


def episode_from_json(data: Mapping[str, Any]) -> LibraryEpisode | None:
    """An episode, or None when it lacks a show, season or episode number."""
    if data.get("type") != "episode":
        return None
    show = data.get("grandparentRatingKey")
    season, number = _int(data.get("parentIndex")), _int(data.get("index"))
    if show is None or season is None or number is None:
        return None
    return LibraryEpisode(
        key=str(data["ratingKey"]),
        show_key=str(show),
        season=season,
        episode=number,
        title=data.get("title") if isinstance(data.get("title"), str) else None,
        state=state_from_json(data),
    )


def key_from_path(path: object) -> str | None:
    """``/library/metadata/123`` → ``123``."""
    if not isinstance(path, str) or not path:
        return None
    return path.rstrip("/").rsplit("/", 1)[-1] or None


def play_from_json(data: Mapping[str, Any]) -> Play | None:
    """One history entry of ``/status/sessions/history/all``."""
    at = _epoch(data.get("viewedAt"))
    if at is None:
        return None
    kind = data.get("type")
    if kind == "episode":
        show = key_from_path(data.get("grandparentKey"))
        season, number = _int(data.get("parentIndex")), _int(data.get("index"))
        if show is None or season is None or number is None:
            return None
        return Play(_history_key(data), show, season, number, at)
    if kind == "movie":
        movie = data.get("ratingKey") or key_from_path(data.get("key"))
        return Play(_history_key(data), str(movie), None, None, at) if movie else None
    return None


def _history_key(data: Mapping[str, Any]) -> str | None:
    key = data.get("historyKey")
    return str(key) if key is not None else None
