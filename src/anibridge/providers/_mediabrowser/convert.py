"""Jellyfin/Emby item JSON (``BaseItemDto``) → library values (pure).

Dates are ISO-8601 UTC (up to 7 fractional digits); ``UserData.Rating`` is 0-10.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from anibridge.dates import parse_iso
from anibridge.providers._library.model import (
    LibraryEpisode,
    LibraryItem,
    Section,
    UserState,
)
from anibridge.providers._mediabrowser.ids import provider_ids

__all__ = [
    "episode_from_json",
    "item_from_json",
    "section_from_json",
    "state_from_json",
]

_KINDS = {"Series": "show", "Movie": "movie"}
_COLLECTIONS = {"tvshows": "show", "movies": "movie"}


def _date(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


def state_from_json(data: Mapping[str, Any]) -> UserState:
    """The user's state from an item's ``UserData``."""
    user = data.get("UserData")
    if not isinstance(user, Mapping):
        return UserState()
    played = bool(user.get("Played"))
    count = user.get("PlayCount")
    count = count if isinstance(count, int) and not isinstance(count, bool) else 0
    rating = user.get("Rating")
    return UserState(
        # A played item with PlayCount 0 was marked played by hand: one view.
        view_count=max(count, 1) if played else 0,
        last_viewed_at=_date(user.get("LastPlayedDate")) if played else None,
        rating=float(rating) if isinstance(rating, (int, float)) else None,
    )


def section_from_json(data: Mapping[str, Any]) -> Section | None:
    """A user view (library) of shows or movies; None for other collections."""
    kind = _COLLECTIONS.get(str(data.get("CollectionType")))
    if kind is None or not data.get("Id"):
        return None
    return Section(key=str(data["Id"]), title=str(data.get("Name") or ""), kind=kind)


def item_from_json(data: Mapping[str, Any], section: str = "") -> LibraryItem | None:
    """A series or movie; None for other item types."""
    kind = _KINDS.get(str(data.get("Type")))
    if kind is None or not data.get("Id"):
        return None
    genres = data.get("Genres")
    state = state_from_json(data)
    if kind == "show":
        # A series' Played/PlayCount summarise its episodes; only its rating is its own.
        state = UserState(rating=state.rating)
    year = data.get("ProductionYear")
    return LibraryItem(
        key=str(data["Id"]),
        kind=kind,
        title=str(data.get("Name") or ""),
        section=section,
        year=year if isinstance(year, int) else None,
        ids=provider_ids(data.get("ProviderIds"), kind),
        genres=tuple(str(g) for g in genres) if isinstance(genres, list) else (),
        state=state,
    )


def episode_from_json(data: Mapping[str, Any]) -> LibraryEpisode | None:
    """An episode; None without series, season or episode number."""
    if data.get("Type") != "Episode":
        return None
    season, number = data.get("ParentIndexNumber"), data.get("IndexNumber")
    series = data.get("SeriesId")
    if not isinstance(season, int) or not isinstance(number, int) or not series:
        return None
    return LibraryEpisode(
        key=str(data["Id"]),
        show_key=str(series),
        season=season,
        episode=number,
        title=data.get("Name") if isinstance(data.get("Name"), str) else None,
        state=state_from_json(data),
    )
