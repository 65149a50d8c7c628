"""Simkl's vocabulary in contract terms: refs, ids, kinds, statuses, capabilities.

Pure data and conversions (no I/O), testable on their own.

Refs. Simkl numbers every title in one id space but files it under a type, and the
type decides which array a write goes in, so anchor keys carry it: ``show:<id>``,
``anime:<id>``, ``movie:<id>``. A show's episodes are
``Ref.at("show:1", ("season", 1), ("episode", 3))``; an anime's episodes are
``Ref.at("anime:7", ("episode", 3))`` — Simkl numbers anime episodes in one
sequence (it files each anime season as its own title). Movies and anime films are
watched as a whole: their plays are on the anchor.

Ids. Each title lists the external ids Simkl knows. Shows emit ``tvdb_show``,
``tmdb_show`` and ``imdb_show`` (plus one ``sN`` scope per season with plays), movies
``tmdb_movie`` and ``imdb_movie``, anime ``mal``, ``anilist`` and ``anidb:N:R``
(anime films also their movie ids). An anime's TVDB/TMDB/IMDb ids are *not* emitted:
they name the whole TV series while the Simkl title is one season of it, so matching
on them would pour every season into one anime. ``simkl:N`` is Simkl's own id.

The list entry is one record of the default kind on the anchor (the tracker shape):
STATUS (``plantowatch``/``watching``/``completed``/``hold``/``dropped``), RATING
1-10, NOTES (the memo, at most 140 characters), PROGRESS (episodes watched of the
total; read-only — episodes are written as plays) and LAST_ACTIVITY_AT (read-only).
Watched episodes are plays (events of kind ``"watch"``) carrying their watch date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from anibridge.provider.base import (
    Capabilities,
    ChangeKind,
    Descriptor,
    EventKind,
    ExternalId,
    FacetName,
    FieldSpec,
    NodeFlag,
    NodeKind,
    NumericConstraint,
    ProgressConstraint,
    RecordField,
    RecordKind,
    Ref,
    Role,
    Status,
    TemporalConstraint,
    TemporalPrecision,
    TextConstraint,
    WriteOp,
)

__all__ = [
    "ANIME",
    "ANIME_MOVIE",
    "AUTHORITIES",
    "BUCKETS",
    "EPISODE",
    "MEMO_MAX",
    "MOVIE",
    "RATING_SCALE",
    "SEASON",
    "SHOW",
    "STATUS_FROM_NATIVE",
    "STATUS_TO_NATIVE",
    "TYPES",
    "WATCH",
    "SimklDataError",
    "anchor_ref",
    "capabilities",
    "episode_ref",
    "external_ids",
    "parse_ref",
]

SHOW = "show"
ANIME = "anime"
MOVIE = "movie"
ANIME_MOVIE = "anime_movie"  # node kind of an anime film (anchor key `anime:<id>`)
TYPES = (SHOW, ANIME, MOVIE)
SEASON = "season"
EPISODE = "episode"
WATCH = "watch"

#: Our type → (all-items bucket / URL segment, activities group, Simkl's own type).
BUCKETS: Mapping[str, tuple[str, str, str]] = {
    SHOW: ("shows", "tv_shows", "tv"),
    ANIME: ("anime", "anime", "anime"),
    MOVIE: ("movies", "movies", "movie"),
}
SIMKL_TYPES = {simkl: ours for ours, (_, _, simkl) in BUCKETS.items()}

RATING_SCALE = (1.0, 10.0, 1.0)
MEMO_MAX = 140

STATUS_FROM_NATIVE: Mapping[str, Status] = {
    "plantowatch": Status.PLANNED,
    "watching": Status.ACTIVE,
    "completed": Status.COMPLETED,
    "hold": Status.PAUSED,
    "dropped": Status.DROPPED,
}
STATUS_TO_NATIVE: Mapping[Status, str] = {v: k for k, v in STATUS_FROM_NATIVE.items()}
#: Statuses a movie can have (movies are atomic: no watching, no hold).
MOVIE_STATUSES = frozenset({"plantowatch", "completed", "dropped"})

SERIES_FLAGS = frozenset(
    {
        NodeFlag.ANCHOR,
        NodeFlag.CONTAINER,
        NodeFlag.ORDERED_PARTS,
        NodeFlag.TRACKABLE,
        NodeFlag.SCAN_ROOT,
    }
)
FILM_FLAGS = frozenset(
    {NodeFlag.ANCHOR, NodeFlag.CONSUMABLE, NodeFlag.TRACKABLE, NodeFlag.SCAN_ROOT}
)

# Simkl id key → authority, per node kind.
_SHOW_IDS = {"tvdb": "tvdb_show", "tmdb": "tmdb_show", "imdb": "imdb_show"}
_MOVIE_IDS = {"tmdb": "tmdb_movie", "imdb": "imdb_movie"}
_ANIME_IDS = {"mal": "mal", "anilist": "anilist", "anidb": "anidb"}
_ID_TABLES: Mapping[str, Mapping[str, str]] = {
    SHOW: _SHOW_IDS,
    MOVIE: _MOVIE_IDS,
    ANIME: _ANIME_IDS,
    ANIME_MOVIE: {**_ANIME_IDS, **_MOVIE_IDS},
}
AUTHORITIES = frozenset(
    {"simkl", *_SHOW_IDS.values(), *_MOVIE_IDS.values(), *_ANIME_IDS.values()}
)
#: Authority → the `/search/id` parameter (and `type` for TMDB) that finds it.
SEARCH_KEYS: Mapping[str, tuple[str, str | None]] = {
    "simkl": ("simkl", None),
    "mal": ("mal", None),
    "anilist": ("anilist", None),
    "anidb": ("anidb", None),
    "tvdb_show": ("tvdb", None),
    "tmdb_show": ("tmdb", "show"),
    "imdb_show": ("imdb", None),
    "tmdb_movie": ("tmdb", "movie"),
    "imdb_movie": ("imdb", None),
}


class SimklDataError(ValueError):
    """A Simkl payload or ref without the shape this provider needs."""


def anchor_ref(kind: str, simkl_id: int | str) -> Ref:
    """The anchor ref of a title (`kind` is show, anime or movie)."""
    if kind not in TYPES:
        raise SimklDataError(f"simkl: unknown title type {kind!r}")
    return Ref.anchor(f"{kind}:{int(simkl_id)}")


def episode_ref(kind: str, simkl_id: int | str, season: int | None, number: int) -> Ref:
    """The ref of one episode (anime episodes have no season step)."""
    key = anchor_ref(kind, simkl_id).key
    if kind == ANIME:
        return Ref.at(key, (EPISODE, int(number)))
    if kind != SHOW or season is None:
        raise SimklDataError(f"simkl: {kind} {simkl_id} has no season {season}")
    return Ref.at(key, (SEASON, int(season)), (EPISODE, int(number)))


def parse_ref(ref: Ref) -> tuple[str, int, int | None, int | None]:
    """Split a ref into (type, simkl id, season, episode).

    Anime episodes come back with season None. An anime episode addressed as season
    1 (the way Simkl itself lists anime episodes, and the way an episode reached
    through a season-scoped id arrives) is accepted as that episode.

    Raises:
        SimklDataError: the ref is not one this provider hands out.
    """
    kind, _, number = ref.key.partition(":")
    if kind not in TYPES or not number.isdigit():
        raise SimklDataError(
            f"simkl: ref key {ref.key!r} is not show:<id>, anime:<id> or movie:<id>"
        )
    simkl_id = int(number)
    steps = ref.path
    if not steps:
        return kind, simkl_id, None, None
    values: dict[str, int] = {}
    for step in steps:
        value = step.value
        if (
            step.axis not in (SEASON, EPISODE)
            or step.axis in values
            or isinstance(value, bool)
            or not isinstance(value, int)
            or value < 0
        ):
            raise SimklDataError(f"simkl: ref {ref!r} must be [season=N/]episode=N")
        values[step.axis] = value
    if kind == MOVIE:
        raise SimklDataError(f"simkl: movie ref {ref!r} cannot have a path")
    season, episode = values.get(SEASON), values.get(EPISODE)
    if kind == ANIME:
        if season not in (None, 1) or episode is None:
            raise SimklDataError(f"simkl: anime ref {ref!r} must be episode=N")
        return kind, simkl_id, None, episode
    if season is None:
        raise SimklDataError(f"simkl: show ref {ref!r} needs a season")
    return kind, simkl_id, season, episode


def node_kind(kind: str, anime_type: str | None) -> str:
    """The native node kind of a title."""
    if kind == ANIME and anime_type == "movie":
        return ANIME_MOVIE
    return kind


def external_ids(
    kind: str,
    simkl_id: int,
    ids: Mapping[str, Any],
    *,
    anime_type: str | None = None,
    seasons: Iterable[int] = (),
) -> tuple[ExternalId, ...]:
    """Descriptors of a title from Simkl's `ids` object (see the module docstring)."""
    out = [ExternalId("simkl", str(simkl_id))]
    table = _ID_TABLES[node_kind(kind, anime_type)]
    for key, authority in table.items():
        value = ids.get(key)
        if value in (None, "", 0, "0"):
            continue
        text = str(value).strip()
        if authority in ("imdb_show", "imdb_movie"):
            if not text.startswith("tt"):
                continue
        elif not text.isdigit():
            continue
        out.append(ExternalId(authority, text, "R" if authority == "anidb" else None))
    if kind == SHOW:
        shows = [i for i in out if i.authority in _SHOW_IDS.values()]
        for season in sorted(set(seasons)):
            out.extend(ExternalId(i.authority, i.value, f"s{season}") for i in shows)
    return tuple(out)


def capabilities() -> Capabilities:
    """What the Simkl provider supports, as data the engine plans from."""
    fields = {
        RecordField.STATUS: FieldSpec(
            RecordField.STATUS,
            writable=True,
            values=tuple(
                Descriptor(native, status)
                for native, status in STATUS_FROM_NATIVE.items()
            ),
            description="movies have no 'watching' or 'hold'",
        ),
        RecordField.PROGRESS: FieldSpec(
            RecordField.PROGRESS,
            constraints=(ProgressConstraint(total=False, unit=False),),
            description="episodes watched of the total (read-only: episodes are "
            "written as plays with their dates)",
        ),
        RecordField.RATING: FieldSpec(
            RecordField.RATING,
            writable=True,
            constraints=(NumericConstraint(minimum=1, maximum=10, step=1),),
        ),
        RecordField.NOTES: FieldSpec(
            RecordField.NOTES,
            writable=True,
            constraints=(TextConstraint(max_length=MEMO_MAX),),
            description="the memo",
        ),
        RecordField.LAST_ACTIVITY_AT: FieldSpec(
            RecordField.LAST_ACTIVITY_AT,
            constraints=(TemporalConstraint(TemporalPrecision.DATETIME),),
            description="last watched",
        ),
    }
    return Capabilities(
        roles=frozenset({Role.SOURCE, Role.TARGET}),
        facets=frozenset({FacetName.TITLES, FacetName.IDS, FacetName.STRUCTURE}),
        node_kinds=(
            Descriptor(SHOW, NodeKind.SERIES, "a TV show"),
            Descriptor(ANIME, NodeKind.SERIES, "an anime (one season of a series)"),
            Descriptor(ANIME_MOVIE, NodeKind.FILM, "an anime film"),
            Descriptor(MOVIE, NodeKind.FILM, "a movie"),
        ),
        coordinate_axes={SHOW: (SEASON, EPISODE), ANIME: (EPISODE,)},
        record_kinds=(Descriptor("", RecordKind.PROGRESS, "the list entry"),),
        record_fields=fields,
        event_kinds=(Descriptor(WATCH, EventKind.PLAY, "a watched episode or movie"),),
        write_ops=frozenset(
            {
                WriteOp.UPSERT_RECORD,
                WriteOp.DELETE_RECORD,
                WriteOp.APPEND_EVENT,
                WriteOp.DELETE_EVENT,
            }
        ),
        change_kinds=frozenset({ChangeKind.RECORD, ChangeKind.EVENT}),
        external_authorities=AUTHORITIES,
    )
