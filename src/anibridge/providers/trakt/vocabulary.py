"""Trakt's vocabulary in contract terms: refs, ids, kinds and capabilities.

Pure data and conversions, no I/O, so the provider and the fake agree on one
definition and the rules are testable on their own.

Ref keys carry the media type (`movie:<trakt id>`, `show:<trakt id>`) because Trakt
numbers movies and shows in separate id spaces: a bare id would let movie 1 and show 1
collide in every cache and link. Seasons and episodes are parts of their show:
`Ref.at("show:1", ("season", 1), ("episode", 3))`.

External ids: `trakt_movie` / `trakt_show` (Trakt's own ids, split like the mappings
dataset's other authorities, because a descriptor scope is reserved for seasons),
`imdb_*`, `tmdb_*`, `tvdb_*`. Show ids are also listed with one `sN` scope per season
the provider knows of (`s0` = specials), as the library shape expects.

Record kinds (one channel each, never mixed):

- ``"watched"`` → `RecordKind.PROGRESS`: watched state from `/sync/watched`, one
  record per watched episode or movie (the library shape): STATUS (`"watched"` →
  COMPLETED), REPEAT_COUNT (plays - 1), LAST_ACTIVITY_AT (last watched).
  Read-only: plays are written as events.
- ``"progress"`` → no semantic (display only): PROGRESS (distinct episodes watched)
  and LAST_ACTIVITY_AT per show and season. Kept out of sync on purpose: an anchor
  record with PROGRESS would read as a tracker's "episodes 1..N" count on every
  season route.
- ``"ratings"`` → `RecordKind.RATINGS`: RATING 1-10 (step 1) on movies, shows,
  seasons and episodes; LAST_ACTIVITY_AT = when rated (read-only).
- ``"watchlist"`` → `RecordKind.PLANNED`: the record's existence means "on the
  watchlist" (intent to watch, not `Status.PLANNED`); NOTES are the watchlist notes.
- ``"collection"`` → `RecordKind.COLLECTION`: on movies, episodes and (derived) the
  show; LAST_ACTIVITY_AT = collected (read-only). Upserting one collects the item
  (a show: all its episodes), deleting one removes it.

Events: history entries, native kinds ``"watch"`` / ``"scrobble"`` → PLAY and
``"checkin"`` → CHECKIN; appends are written as ``"watch"`` entries.
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
    Step,
    TemporalConstraint,
    TemporalPrecision,
    TextConstraint,
    WriteOp,
)

MOVIE = "movie"
SHOW = "show"
SEASON = "season"
EPISODE = "episode"

WATCHED = "watched"
PROGRESS = "progress"
RATINGS = "ratings"
WATCHLIST = "watchlist"
COLLECTION = "collection"
RECORD_KINDS = (WATCHED, PROGRESS, RATINGS, WATCHLIST, COLLECTION)

WATCH = "watch"
SCROBBLE = "scrobble"
CHECKIN = "checkin"
PLAY_KINDS = frozenset({WATCH, SCROBBLE})

RATING_SCALE = (1.0, 10.0, 1.0)
NOTES_MAX = 500

# Anchors are scan roots: a scan enumerates the user's movies and shows.
MOVIE_FLAGS = frozenset(
    {NodeFlag.ANCHOR, NodeFlag.CONSUMABLE, NodeFlag.TRACKABLE, NodeFlag.SCAN_ROOT}
)
SHOW_FLAGS = frozenset(
    {
        NodeFlag.ANCHOR,
        NodeFlag.CONTAINER,
        NodeFlag.ORDERED_PARTS,
        NodeFlag.TRACKABLE,
        NodeFlag.SCAN_ROOT,
    }
)

# Trakt id key → our authority, per media type.
_AUTHORITIES: Mapping[str, Mapping[str, str]] = {
    MOVIE: {
        "trakt": "trakt_movie",
        "imdb": "imdb_movie",
        "tmdb": "tmdb_movie",
        "tvdb": "tvdb_movie",
    },
    SHOW: {
        "trakt": "trakt_show",
        "imdb": "imdb_show",
        "tmdb": "tmdb_show",
        "tvdb": "tvdb_show",
    },
}
AUTHORITIES = frozenset(a for table in _AUTHORITIES.values() for a in table.values())
# Authority → (media type, Trakt search id_type).
SEARCH_TYPES: Mapping[str, tuple[str, str]] = {
    authority: (media, id_type)
    for media, table in _AUTHORITIES.items()
    for id_type, authority in table.items()
}


class TraktDataError(ValueError):
    """A Trakt payload or ref that does not have the shape this provider needs."""


def movie_ref(trakt_id: int | str) -> Ref:
    """The anchor ref of a movie."""
    return Ref.anchor(f"{MOVIE}:{int(trakt_id)}")


def show_ref(trakt_id: int | str) -> Ref:
    """The anchor ref of a show."""
    return Ref.anchor(f"{SHOW}:{int(trakt_id)}")


def season_ref(show_id: int | str, season: int) -> Ref:
    """The ref of a season inside its show."""
    return Ref.at(f"{SHOW}:{int(show_id)}", (SEASON, int(season)))


def episode_ref(show_id: int | str, season: int, number: int) -> Ref:
    """The ref of an episode inside its show."""
    return Ref.at(
        f"{SHOW}:{int(show_id)}", (SEASON, int(season)), (EPISODE, int(number))
    )


def parse_ref(ref: Ref) -> tuple[str, int, int | None, int | None]:
    """Split a ref into (media type, trakt id, season, episode).

    Raises:
        TraktDataError: the ref is not one this provider hands out.
    """
    media, _, number = ref.key.partition(":")
    if media not in (MOVIE, SHOW) or not number.isdigit():
        raise TraktDataError(
            f"trakt: ref key {ref.key!r} is not 'movie:<id>' or 'show:<id>'"
        )
    trakt_id = int(number)
    if media == MOVIE:
        if ref.path:
            raise TraktDataError(f"trakt: movie ref {ref!r} cannot have a path")
        return media, trakt_id, None, None
    steps: tuple[Step, ...] = ref.path
    if len(steps) > 2:
        raise TraktDataError(f"trakt: ref {ref!r} is deeper than season/episode")
    numbers: list[int] = []
    for axis, step in zip((SEASON, EPISODE), steps, strict=False):
        value = step.value
        if step.axis != axis or isinstance(value, bool) or not isinstance(value, int):
            raise TraktDataError(f"trakt: ref {ref!r} must be season=N[/episode=N]")
        if value < 0:
            raise TraktDataError(f"trakt: ref {ref!r} has a negative {axis}")
        numbers.append(value)
    season = numbers[0] if numbers else None
    episode = numbers[1] if len(numbers) > 1 else None
    return media, trakt_id, season, episode


def external_ids(
    media: str, ids: Mapping[str, Any], seasons: Iterable[int] = ()
) -> tuple[ExternalId, ...]:
    """Descriptors for a Trakt `ids` object, plus season scopes for shows."""
    table = _AUTHORITIES[media]
    out: list[ExternalId] = []
    for id_type, authority in table.items():
        value = ids.get(id_type)
        if value in (None, "", 0):
            continue
        out.append(ExternalId(authority, str(value)))
    if media == SHOW:
        scoped = [
            ExternalId(i.authority, i.value, f"s{n}")
            for i in out
            for n in sorted(set(seasons))
        ]
        out.extend(scoped)
    return tuple(out)


def capabilities() -> Capabilities:
    """What the Trakt provider supports, as data the engine plans from."""
    fields = {
        RecordField.STATUS: FieldSpec(
            RecordField.STATUS,
            values=(Descriptor(WATCHED, Status.COMPLETED, "watched at least once"),),
            description="episodes and movies with a play (read-only; write plays)",
        ),
        RecordField.PROGRESS: FieldSpec(
            RecordField.PROGRESS,
            constraints=(ProgressConstraint(total=False, unit=False),),
            description="the display-only 'progress' records of shows/seasons",
        ),
        RecordField.RATING: FieldSpec(
            RecordField.RATING,
            writable=True,
            constraints=(NumericConstraint(minimum=1, maximum=10, step=1),),
            description="the 'ratings' record (movies, shows, seasons, episodes)",
        ),
        RecordField.LAST_ACTIVITY_AT: FieldSpec(
            RecordField.LAST_ACTIVITY_AT,
            constraints=(TemporalConstraint(TemporalPrecision.DATETIME),),
            description="last watched / rated / collected",
        ),
        RecordField.REPEAT_COUNT: FieldSpec(
            RecordField.REPEAT_COUNT,
            constraints=(NumericConstraint(minimum=0, step=1),),
            description="plays minus one",
        ),
        RecordField.NOTES: FieldSpec(
            RecordField.NOTES,
            writable=True,
            constraints=(TextConstraint(max_length=NOTES_MAX),),
            description="watchlist notes",
        ),
    }
    return Capabilities(
        roles=frozenset({Role.SOURCE, Role.TARGET}),
        facets=frozenset({FacetName.TITLES, FacetName.IDS, FacetName.STRUCTURE}),
        node_kinds=(
            Descriptor(MOVIE, NodeKind.FILM),
            Descriptor(SHOW, NodeKind.SERIES),
            Descriptor(SEASON, NodeKind.SEASON),
            Descriptor(EPISODE, NodeKind.EPISODE),
        ),
        coordinate_axes={SHOW: (SEASON, EPISODE), SEASON: (EPISODE,)},
        record_kinds=(
            Descriptor(WATCHED, RecordKind.PROGRESS, "watched episodes and movies"),
            Descriptor(PROGRESS, None, "episodes watched per show/season (display)"),
            Descriptor(RATINGS, RecordKind.RATINGS, "ratings 1-10"),
            Descriptor(WATCHLIST, RecordKind.PLANNED, "the watchlist"),
            Descriptor(COLLECTION, RecordKind.COLLECTION, "the collection"),
        ),
        record_fields=fields,
        event_kinds=(
            Descriptor(WATCH, EventKind.PLAY, "history entry added by an app"),
            Descriptor(SCROBBLE, EventKind.PLAY, "history entry from a scrobble"),
            Descriptor(CHECKIN, EventKind.CHECKIN, "history entry from a check-in"),
        ),
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
