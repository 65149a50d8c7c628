"""Batched Trakt write bodies and their per-item outcomes. Pure.

Trakt's `/sync/history`, `/sync/ratings` and `/sync/watchlist` (and their `/remove`)
take arrays of movies and shows, with seasons and episodes nested under their show by
number. One request carries up to a batch of items; the answer is an envelope of counts
(`added`/`updated`/`existing`/`deleted`) and a `not_found` echo of the items Trakt could
not match. Each input gets its own outcome: listed in `not_found` → NOT_FOUND, else ok.

We always address items by Trakt id (movie id, show id + season/episode numbers), so
`not_found` entries are matched back by `ids.trakt` and numbers. A `not_found` show
without `seasons` means the whole show was unknown; with `seasons` only the listed
seasons/episodes were.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from anibridge.providers.trakt.vocabulary import MOVIE


@dataclass(frozen=True, slots=True)
class Item:
    """One thing to write, addressed by Trakt id and numbers.

    `fields` are the per-item keys Trakt reads (`watched_at`, `rating`, `notes`).
    """

    position: int
    media: str
    trakt_id: int
    season: int | None = None
    episode: int | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


def chunks[T](items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    """Consecutive slices of at most `size` items.

    Raises:
        ValueError: `size` is not positive.
    """
    if size <= 0:
        raise ValueError("batch size must be > 0")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def build_body(items: Sequence[Item]) -> dict[str, list[dict[str, Any]]]:
    """The batched body: movies flat, show-level items flat, parts nested by number.

    A show's own item (rating, watchlist) and its nested parts go in separate show
    objects so a show-level value never leaks onto its seasons or vice versa.
    """
    movies: list[dict[str, Any]] = []
    shows: list[dict[str, Any]] = []
    nested: dict[int, dict[str, Any]] = {}
    seasons_of: dict[int, dict[int, dict[str, Any]]] = {}
    for item in items:
        ids = {"ids": {"trakt": item.trakt_id}}
        if item.media == MOVIE:
            movies.append(ids | dict(item.fields))
            continue
        if item.season is None:
            shows.append(ids | dict(item.fields))
            continue
        show = nested.get(item.trakt_id)
        if show is None:
            show = nested[item.trakt_id] = ids | {"seasons": []}
            shows.append(show)
            seasons_of[item.trakt_id] = {}
        season_objects = seasons_of[item.trakt_id]
        if item.episode is None:
            # A season's own value: its own season object, never merged with parts.
            show["seasons"].append({"number": item.season} | dict(item.fields))
            continue
        season = season_objects.get(item.season)
        if season is None:
            season = season_objects[item.season] = {
                "number": item.season,
                "episodes": [],
            }
            show["seasons"].append(season)
        season["episodes"].append({"number": item.episode} | dict(item.fields))
    body: dict[str, list[dict[str, Any]]] = {}
    if movies:
        body["movies"] = movies
    if shows:
        body["shows"] = shows
    return body


def _trakt_id(entry: Any) -> int | None:
    if not isinstance(entry, Mapping):
        return None
    ids = entry.get("ids")
    value = ids.get("trakt") if isinstance(ids, Mapping) else None
    return value if isinstance(value, int) else None


def not_found_positions(items: Sequence[Item], envelope: Any) -> set[int]:
    """Positions of the items the envelope's `not_found` lists."""
    missing = envelope.get("not_found") if isinstance(envelope, Mapping) else None
    if not isinstance(missing, Mapping):
        return set()
    movies = {_trakt_id(m) for m in missing.get("movies") or ()}
    whole_shows: set[int] = set()
    parts: set[tuple[int, int, int | None]] = set()
    for show in missing.get("shows") or ():
        show_id = _trakt_id(show)
        if show_id is None:
            continue
        seasons = show.get("seasons") if isinstance(show, Mapping) else None
        if not seasons:
            whole_shows.add(show_id)
            continue
        for season in seasons:
            number = season.get("number")
            episodes = season.get("episodes") or ()
            if not episodes:
                parts.add((show_id, number, None))
            for episode in episodes:
                parts.add((show_id, number, episode.get("number")))
    out: set[int] = set()
    for item in items:
        if item.media == MOVIE:
            if item.trakt_id in movies:
                out.add(item.position)
            continue
        part_missing = item.season is not None and (
            (item.trakt_id, item.season, item.episode) in parts
            or (item.trakt_id, item.season, None) in parts
        )
        if item.trakt_id in whole_shows or part_missing:
            out.add(item.position)
    return out


def not_found_history_ids(envelope: Any) -> set[int]:
    """History ids a `/sync/history/remove` by ids could not find."""
    missing = envelope.get("not_found") if isinstance(envelope, Mapping) else None
    if not isinstance(missing, Mapping):
        return set()
    return {i for i in missing.get("ids") or () if isinstance(i, int)}
