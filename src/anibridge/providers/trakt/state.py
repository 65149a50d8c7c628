"""The user's Trakt state as plain data, parsed from `/sync/*` payloads.

Pure functions: payload in, `UserState` out, and `UserState` → contract records,
event summaries, events and nodes. The provider fetches; this module decides what the
answers mean, so the rules are tested without HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from anibridge.dates import parse_iso
from anibridge.provider.base import (
    Event,
    EventSummary,
    FacetName,
    Identifiers,
    Node,
    Part,
    Progress,
    Rating,
    Record,
    RecordField,
    Ref,
    State,
    Status,
    Step,
    Structure,
    Titles,
)
from anibridge.providers.trakt.vocabulary import (
    COLLECTION,
    EPISODE,
    MOVIE,
    MOVIE_FLAGS,
    PROGRESS,
    RATING_SCALE,
    RATINGS,
    SEASON,
    SHOW,
    SHOW_FLAGS,
    WATCH,
    WATCHED,
    WATCHLIST,
    TraktDataError,
    episode_ref,
    external_ids,
    movie_ref,
    season_ref,
    show_ref,
)

type Coord = tuple[int, int]  # (season, episode)


@dataclass(slots=True)
class Media:
    """What we know of one movie or show from the user's own data."""

    media: str
    trakt_id: int
    title: str | None = None
    year: int | None = None
    ids: dict[str, Any] = field(default_factory=dict)
    seasons: set[int] = field(default_factory=set)
    episodes: dict[Coord, dict[str, Any]] = field(default_factory=dict)  # ids/title
    structure_loaded: bool = False

    @property
    def ref(self) -> Ref:
        """The anchor ref."""
        return (
            movie_ref(self.trakt_id) if self.media == MOVIE else show_ref(self.trakt_id)
        )

    def absorb(self, payload: Mapping[str, Any]) -> None:
        """Fill title/year/ids from a Trakt movie or show object."""
        if payload.get("title"):
            self.title = str(payload["title"])
        if isinstance(payload.get("year"), int):
            self.year = payload["year"]
        ids = payload.get("ids")
        if isinstance(ids, Mapping):
            self.ids.update({k: v for k, v in ids.items() if v not in (None, "")})


@dataclass(slots=True)
class Watched:
    """Plays of one episode or movie."""

    plays: int
    last_at: datetime | None


@dataclass(slots=True)
class Rated:
    """One rating."""

    rating: int
    rated_at: datetime | None


@dataclass(slots=True)
class Listed:
    """One watchlist entry."""

    listed_at: datetime | None
    notes: str | None
    item_id: int | None = None


@dataclass(slots=True)
class UserState:
    """Everything `/sync/*` said about the user, keyed by our refs."""

    media: dict[str, Media] = field(default_factory=dict)  # by anchor key
    watched: dict[Ref, Watched] = field(default_factory=dict)
    ratings: dict[Ref, Rated] = field(default_factory=dict)
    watchlist: dict[Ref, Listed] = field(default_factory=dict)
    collection: dict[Ref, datetime | None] = field(default_factory=dict)
    updated: dict[str, datetime] = field(default_factory=dict)  # last_updated_at

    def note_media(self, media: str, payload: Any) -> Media:
        """Record a movie/show object and return its entry.

        Raises:
            TraktDataError: the object has no Trakt id.
        """
        if not isinstance(payload, Mapping):
            raise TraktDataError(f"trakt: expected a {media} object, got {payload!r}")
        ids = payload.get("ids")
        trakt_id = ids.get("trakt") if isinstance(ids, Mapping) else None
        if not isinstance(trakt_id, int):
            raise TraktDataError(f"trakt: {media} object without ids.trakt: {payload}")
        key = f"{media}:{trakt_id}"
        entry = self.media.get(key)
        if entry is None:
            entry = self.media[key] = Media(media, trakt_id)
        entry.absorb(payload)
        return entry

    def anchors(self) -> list[str]:
        """Anchor keys with any user state, in a stable order."""
        keys = {ref.key for ref in self.watched}
        keys |= {ref.key for ref in self.ratings}
        keys |= {ref.key for ref in self.watchlist}
        keys |= {ref.key for ref in self.collection}
        return sorted(keys, key=_anchor_order)

    def index(self) -> dict[str, dict[str, list[tuple[Ref, Any]]]]:
        """Anchor key → kind → its (ref, value) pairs, parts in coordinate order.

        Built once per read call so per-anchor work never scans the whole account
        (a big library has tens of thousands of watched episodes).
        """
        out: dict[str, dict[str, list[tuple[Ref, Any]]]] = {}
        for kind, source in (
            (WATCHED, self.watched),
            (RATINGS, self.ratings),
            (WATCHLIST, self.watchlist),
            (COLLECTION, self.collection),
        ):
            for ref, value in source.items():
                out.setdefault(ref.key, {}).setdefault(kind, []).append((ref, value))
        for kinds in out.values():
            for pairs in kinds.values():
                pairs.sort(key=lambda pair: _path_order(pair[0]))
        return out


def _anchor_order(key: str) -> tuple[str, int]:
    media, _, number = key.partition(":")
    return media, int(number) if number.isdigit() else 0


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise TraktDataError(f"trakt: not a timestamp: {value!r}") from exc


def _number(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TraktDataError(f"trakt: {what} is not a number: {value!r}")
    return value


def _note_episode(media: Media, season: int, episode: Mapping[str, Any]) -> Coord:
    number = _number(episode.get("number"), "episode number")
    coord = (season, number)
    media.seasons.add(season)
    info = media.episodes.setdefault(coord, {})
    if isinstance(episode.get("ids"), Mapping):
        info["ids"] = dict(episode["ids"])
    if episode.get("title"):
        info["title"] = episode["title"]
    return coord


def absorb_watched_movies(state: UserState, items: Iterable[Mapping[str, Any]]) -> None:
    """`/sync/watched/movies` → plays per movie."""
    for item in items:
        media = state.note_media(MOVIE, item.get("movie"))
        plays = _number(item.get("plays", 0), "plays")
        updated = _when(item.get("last_updated_at"))
        if updated is not None:
            state.updated[media.ref.key] = updated
        if plays > 0:
            last = _when(item.get("last_watched_at"))
            state.watched[media.ref] = Watched(plays, last)


def absorb_watched_shows(state: UserState, items: Iterable[Mapping[str, Any]]) -> None:
    """`/sync/watched/shows` → plays per episode."""
    for item in items:
        media = state.note_media(SHOW, item.get("show"))
        updated = _when(item.get("last_updated_at"))
        if updated is not None:
            state.updated[media.ref.key] = updated
        for season in item.get("seasons") or ():
            number = _number(season.get("number"), "season number")
            for episode in season.get("episodes") or ():
                s, e = _note_episode(media, number, episode)
                plays = _number(episode.get("plays", 0), "plays")
                if plays > 0:
                    state.watched[episode_ref(media.trakt_id, s, e)] = Watched(
                        plays, _when(episode.get("last_watched_at"))
                    )


def _item_ref(state: UserState, item: Mapping[str, Any]) -> Ref:
    """The ref of a typed sync item (`type` + movie/show/season/episode objects).

    Raises:
        TraktDataError: unknown type or missing objects.
    """
    kind = item.get("type")
    if kind == MOVIE:
        return state.note_media(MOVIE, item.get("movie")).ref
    show = state.note_media(SHOW, item.get("show"))
    if kind == SHOW:
        return show.ref
    if kind == SEASON:
        season = item.get("season") or {}
        number = _number(season.get("number"), "season number")
        show.seasons.add(number)
        return season_ref(show.trakt_id, number)
    if kind == EPISODE:
        episode = item.get("episode") or {}
        s = _number(episode.get("season"), "episode season")
        s, e = _note_episode(show, s, episode)
        return episode_ref(show.trakt_id, s, e)
    raise TraktDataError(f"trakt: unknown item type {kind!r}")


def absorb_ratings(state: UserState, items: Iterable[Mapping[str, Any]]) -> None:
    """`/sync/ratings` → one rating per ref."""
    for item in items:
        ref = _item_ref(state, item)
        rating = _number(item.get("rating"), "rating")
        if not 1 <= rating <= 10:
            raise TraktDataError(f"trakt: rating {rating} outside 1-10 for {ref!r}")
        state.ratings[ref] = Rated(rating, _when(item.get("rated_at")))


def absorb_watchlist(state: UserState, items: Iterable[Mapping[str, Any]]) -> None:
    """`/sync/watchlist` → one entry per ref."""
    for item in items:
        ref = _item_ref(state, item)
        notes = item.get("notes")
        state.watchlist[ref] = Listed(
            _when(item.get("listed_at")),
            notes if isinstance(notes, str) and notes else None,
            item.get("id") if isinstance(item.get("id"), int) else None,
        )


def absorb_collection_movies(
    state: UserState, items: Iterable[Mapping[str, Any]]
) -> None:
    """`/sync/collection/movies` → collected movies."""
    for item in items:
        media = state.note_media(MOVIE, item.get("movie"))
        state.collection[media.ref] = _when(item.get("collected_at"))


def absorb_collection_shows(
    state: UserState, items: Iterable[Mapping[str, Any]]
) -> None:
    """`/sync/collection/shows` → collected episodes, and the show itself.

    The show's own record ("in the collection", last collected) is what the
    engine compares an anchor-level collection state with.
    """
    for item in items:
        media = state.note_media(SHOW, item.get("show"))
        state.collection[media.ref] = _when(item.get("last_collected_at"))
        for season in item.get("seasons") or ():
            number = _number(season.get("number"), "season number")
            for episode in season.get("episodes") or ():
                s, e = _note_episode(media, number, episode)
                state.collection[episode_ref(media.trakt_id, s, e)] = _when(
                    episode.get("collected_at")
                )


def absorb_structure(media: Media, seasons: Iterable[Mapping[str, Any]]) -> None:
    """`/shows/{id}/seasons?extended=episodes` → the show's full part space."""
    for season in seasons:
        number = _number(season.get("number"), "season number")
        media.seasons.add(number)
        for episode in season.get("episodes") or ():
            _note_episode(media, number, episode)
    media.structure_loaded = True


# -- history --------------------------------------------------------------------------


def history_event(state: UserState, item: Mapping[str, Any]) -> Event:
    """One `/sync/history` entry as a contract event (`key` = history id).

    Raises:
        TraktDataError: the entry has no time or an unknown shape.
    """
    ref = _item_ref(state, item)
    at = _when(item.get("watched_at"))
    if at is None:
        raise TraktDataError(f"trakt: history entry without watched_at: {item}")
    action = item.get("action") or WATCH
    history_id = item.get("id")
    return Event(
        ref=ref,
        kind=str(action),
        at=at,
        key=str(history_id) if history_id is not None else None,
    )


def play_key(ref: Ref, at: datetime) -> tuple[Ref, int]:
    """The identity of a play for deduplication: the ref and the whole second."""
    return ref, int(at.timestamp())


# -- contract views -------------------------------------------------------------------


def record_key(kind: str, ref: Ref) -> str:
    """A record's stable key: its kind and ref."""
    return f"{kind}|{ref!r}"


def parse_record_key(key: str) -> tuple[str, Ref] | None:
    """The (kind, ref) a `record_key` stands for, or None when it is not one."""
    kind, sep, rest = key.partition("|")
    if not sep:
        return None
    media, _, tail = rest.partition(":")
    number, _, path = tail.partition(":")
    if media not in (MOVIE, SHOW) or not number.isdigit():
        return None
    steps: list[tuple[str, int]] = []
    for chunk in path.split(",") if path else ():
        axis, _, value = chunk.partition("=")
        if not value.isdigit():
            return None
        steps.append((axis, int(value)))
    return kind, Ref.at(f"{media}:{number}", *steps)


def _project(values: dict[RecordField, Any], fields: frozenset[RecordField]) -> dict:
    return {f: v for f, v in values.items() if f in fields}


def _latest(values: Iterable[datetime | None]) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


type Slices = Mapping[str, list[tuple[Ref, Any]]]  # one anchor's slice of `index()`


def watched_records(slices: Slices) -> list[Record]:
    """The "watched" records of one anchor: one per watched episode or movie."""
    out: list[Record] = []
    for ref, w in slices.get(WATCHED, ()):
        values: dict[RecordField, Any] = {
            RecordField.STATUS: State(WATCHED, Status.COMPLETED),
            RecordField.REPEAT_COUNT: max(0, w.plays - 1),
        }
        if w.last_at is not None:
            values[RecordField.LAST_ACTIVITY_AT] = w.last_at
        out.append(_record(WATCHED, ref, values, w.last_at))
    return out


def progress_records(
    slices: Slices, key: str, updated: datetime | None = None
) -> list[Record]:
    """Display-only "progress" records: distinct episodes watched per season/show.

    Their kind has no semantic, so the engine never reads them as a tracker's
    progress count (the episodes themselves carry the facts).
    """
    entries = slices.get(WATCHED, [])
    if not key.startswith(f"{SHOW}:") or not entries:
        return []
    show_id = int(key.partition(":")[2])
    by_season: dict[int, list[Watched]] = {}
    for ref, w in entries:
        by_season.setdefault(int(ref.path[0].value), []).append(w)
    out: list[Record] = []
    for season, plays in sorted(by_season.items()):
        last = _latest(w.last_at for w in plays)
        values: dict[RecordField, Any] = {
            RecordField.PROGRESS: Progress(len(plays), None, EPISODE)
        }
        if last is not None:
            values[RecordField.LAST_ACTIVITY_AT] = last
        out.append(_record(PROGRESS, season_ref(show_id, season), values, last))
    regular = [w for ref, w in entries if int(ref.path[0].value) != 0]
    last = _latest(w.last_at for _, w in entries)
    values = {RecordField.PROGRESS: Progress(len(regular), None, EPISODE)}
    if last is not None:
        values[RecordField.LAST_ACTIVITY_AT] = last
    out.append(_record(PROGRESS, show_ref(show_id), values, updated or last))
    return out


def _record(
    kind: str, ref: Ref, values: dict[RecordField, Any], updated: datetime | None
) -> Record:
    return Record(
        ref=ref,
        kind=kind,
        key=record_key(kind, ref),
        updated_at=updated,
        values=values,
    )


def records_for(
    state: UserState,
    key: str,
    kinds: frozenset[str],
    fields: frozenset[RecordField],
    index: Mapping[str, Slices] | None = None,
) -> list[Record]:
    """Every record of anchor `key` in `kinds`, projected onto `fields`.

    Pass `index` (from `state.index()`) when reading many anchors.
    """
    slices = (index if index is not None else state.index()).get(key, {})
    out: list[Record] = []
    if WATCHED in kinds:
        out.extend(watched_records(slices))
    if PROGRESS in kinds:
        out.extend(progress_records(slices, key, state.updated.get(key)))
    if RATINGS in kinds:
        for ref, r in slices.get(RATINGS, ()):
            values: dict[RecordField, Any] = {
                RecordField.RATING: Rating(float(r.rating), RATING_SCALE)
            }
            if r.rated_at is not None:
                values[RecordField.LAST_ACTIVITY_AT] = r.rated_at
            out.append(_record(RATINGS, ref, values, r.rated_at))
    if WATCHLIST in kinds:
        for ref, entry in slices.get(WATCHLIST, ()):
            values = {RecordField.NOTES: entry.notes} if entry.notes else {}
            out.append(_record(WATCHLIST, ref, values, entry.listed_at))
    if COLLECTION in kinds:
        for ref, at in slices.get(COLLECTION, ()):
            values = {RecordField.LAST_ACTIVITY_AT: at} if at is not None else {}
            out.append(_record(COLLECTION, ref, values, at))
    return [
        Record(
            ref=r.ref,
            kind=r.kind,
            key=r.key,
            updated_at=r.updated_at,
            values=_project(dict(r.values), fields),
        )
        for r in out
    ]


def _path_order(ref: Ref) -> tuple[int, ...]:
    return tuple(int(s.value) for s in ref.path)


def summaries_for(
    state: UserState, key: str, index: Mapping[str, Slices] | None = None
) -> list[EventSummary]:
    """Play counts per episode/movie of one anchor, from `/sync/watched`."""
    slices = (index if index is not None else state.index()).get(key, {})
    return [
        EventSummary(ref=ref, kind=WATCH, count=w.plays, last_at=w.last_at)
        for ref, w in slices.get(WATCHED, ())
    ]


def node_for(media: Media, facets: frozenset[FacetName]) -> Node:
    """The catalog node of a movie or show with the requested facets."""
    hydrated: dict[FacetName, Any] = {}
    if FacetName.TITLES in facets and media.title:
        hydrated[FacetName.TITLES] = Titles(primary=media.title)
    if FacetName.IDS in facets:
        hydrated[FacetName.IDS] = Identifiers(
            external_ids(media.media, media.ids, media.seasons)
        )
    if FacetName.STRUCTURE in facets and media.media == SHOW:
        parts = tuple(
            Part(
                position=(Step(SEASON, s), Step(EPISODE, e)),
                title=info.get("title"),
                key=_episode_key(info),
            )
            for (s, e), info in sorted(media.episodes.items())
        )
        hydrated[FacetName.STRUCTURE] = Structure(axes=(SEASON, EPISODE), parts=parts)
    slug = media.ids.get("slug")
    url = f"https://trakt.tv/{media.media}s/{slug or media.trakt_id}"
    label = f"{media.title} ({media.year})" if media.title and media.year else None
    return Node(
        ref=media.ref,
        kind=media.media,
        title=media.title,
        url=url,
        labels=(label,) if label else (),
        flags=MOVIE_FLAGS if media.media == MOVIE else SHOW_FLAGS,
        facets=hydrated,
    )


def _episode_key(info: Mapping[str, Any]) -> str | None:
    ids = info.get("ids")
    if isinstance(ids, Mapping) and ids.get("trakt") is not None:
        return f"episode:{ids['trakt']}"
    return None
