"""The user's Simkl library as the provider keeps it, and its contract views (no I/O).

`/sync/all-items` rows (full: watched episodes with dates, memo) are absorbed into
one `Title` per anchor; records, events, nodes and backup rows are built from it. A
delta (`date_from`) replaces the titles it names; a ratings delta patches ratings; an
ids-only listing drops titles that left the list.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    Step,
    Structure,
    Titles,
    Value,
)
from anibridge.providers.simkl.api import simkl_time
from anibridge.providers.simkl.vocabulary import (
    ANIME,
    EPISODE,
    FILM_FLAGS,
    MOVIE,
    RATING_SCALE,
    SEASON,
    SERIES_FLAGS,
    SHOW,
    STATUS_FROM_NATIVE,
    WATCH,
    SimklDataError,
    anchor_ref,
    episode_ref,
    external_ids,
    node_kind,
)

__all__ = ["Library", "Title", "event_key", "parse_event_key", "structure", "title_url"]

type EpisodeKey = tuple[int | None, int]  # anime: (None, n); show: (season, n)

#: Before this, a Simkl watch date is its "don't remember" placeholder.
_PLACEHOLDER_BEFORE = datetime(1970, 1, 2, tzinfo=UTC)
_URL_SEGMENTS = {SHOW: "tv", ANIME: "anime", MOVIE: "movies"}


def title_url(kind: str, simkl_id: int) -> str:
    """The title's page on simkl.com."""
    return f"https://simkl.com/{_URL_SEGMENTS[kind]}/{simkl_id}"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


@dataclass(slots=True)
class Title:
    """One title: catalog facts plus, when `listed`, the user's entry."""

    kind: str
    simkl_id: int
    title: str | None = None
    year: int | None = None
    ids: dict[str, str] = field(default_factory=dict)
    anime_type: str | None = None
    listed: bool = False
    status: str | None = None
    added_at: datetime | None = None
    last_watched_at: datetime | None = None
    rated_at: datetime | None = None
    rating: int | None = None
    memo: str = ""
    memo_private: bool = False
    total: int | None = None
    episodes: dict[EpisodeKey, datetime] = field(default_factory=dict)
    watched_at: datetime | None = None  # movies and anime films
    parts: tuple[EpisodeKey, ...] | None = None  # the catalog's episodes, if read

    @property
    def key(self) -> str:
        """The anchor key."""
        return anchor_ref(self.kind, self.simkl_id).key

    @property
    def ref(self) -> Ref:
        """The anchor ref."""
        return anchor_ref(self.kind, self.simkl_id)

    @property
    def is_film(self) -> bool:
        """Watched as a whole (a movie or an anime film)."""
        return self.kind == MOVIE or (self.kind == ANIME and self.anime_type == "movie")

    @property
    def native_kind(self) -> str:
        """The node kind."""
        return node_kind(self.kind, self.anime_type)

    def episode_ref(self, key: EpisodeKey) -> Ref:
        """The ref of one of its episodes."""
        return episode_ref(self.kind, self.simkl_id, key[0], key[1])

    def descriptors(self) -> tuple[Any, ...]:
        """Its external ids (shows: with one scope per season with plays)."""
        seasons = {s for s, _ in self.episodes if s is not None and s > 0}
        return external_ids(
            self.kind,
            self.simkl_id,
            self.ids,
            anime_type=self.anime_type,
            seasons=seasons,
        )

    def updated_at(self) -> datetime | None:
        """The entry's last change Simkl reports."""
        stamps = [t for t in (self.added_at, self.last_watched_at, self.rated_at) if t]
        return max(stamps, default=None)


def event_key(ref: Ref) -> str:
    """The key of the play on `ref` (Simkl keeps one per episode)."""
    return repr(ref)


def parse_event_key(key: str) -> Ref:
    """A ref from `event_key`.

    Raises:
        SimklDataError: `key` is not one this provider hands out.
    """
    kind, _, rest = key.partition(":")
    simkl, _, path = rest.partition(":")
    if not simkl.isdigit():
        raise SimklDataError(f"simkl: not a play key: {key!r}")
    steps: list[tuple[str, int]] = []
    for chunk in path.split(",") if path else ():
        axis, _, value = chunk.partition("=")
        if axis not in (SEASON, EPISODE) or not value.isdigit():
            raise SimklDataError(f"simkl: not a play key: {key!r}")
        steps.append((axis, int(value)))
    return Ref.at(f"{kind}:{simkl}", *steps)


class Library:
    """The titles the provider knows, by anchor key."""

    def __init__(self) -> None:
        """Start empty."""
        self.titles: dict[str, Title] = {}

    # -- absorbing Simkl rows ---------------------------------------------------------

    def note(self, kind: str, media: Mapping[str, Any] | None) -> Title | None:
        """Remember catalog facts of a title (a search hit, a summary)."""
        if not isinstance(media, Mapping):
            return None
        ids = media.get("ids") if isinstance(media.get("ids"), Mapping) else {}
        simkl_id = _int(ids.get("simkl") or ids.get("simkl_id"))
        if simkl_id is None:
            return None
        key = anchor_ref(kind, simkl_id).key
        title = self.titles.get(key)
        if title is None:
            title = self.titles[key] = Title(kind, simkl_id)
        if media.get("title"):
            title.title = str(media["title"])
        year = _int(media.get("year"))
        if year:
            title.year = year
        for name, value in ids.items():
            if name not in ("simkl", "simkl_id", "slug") and value not in (None, ""):
                title.ids[str(name)] = str(value)
        if media.get("anime_type"):
            title.anime_type = str(media["anime_type"])
        total = _int(media.get("total_episodes"))
        if total:
            title.total = total
        return title

    def absorb(self, kind: str, row: Mapping[str, Any]) -> Title | None:
        """Replace a title's entry with an all-items row (full)."""
        media = row.get("movie" if kind == MOVIE else "show")
        title = self.note(kind, media)
        if title is None:
            return None
        title.listed = True
        status = row.get("status")
        title.status = status if status in STATUS_FROM_NATIVE else None
        if row.get("anime_type"):
            title.anime_type = str(row["anime_type"])
        title.added_at = _time(row.get("added_to_watchlist_at"))
        title.last_watched_at = _time(row.get("last_watched_at"))
        self._rating(title, row)
        memo = row.get("memo")
        if isinstance(memo, Mapping):
            title.memo = str(memo.get("text") or "")
            title.memo_private = bool(memo.get("is_private"))
        elif "memo" in row:
            title.memo = ""
        total = _int(row.get("total_episodes_count"))
        if total is not None:
            title.total = total or None
        title.episodes = {}
        for season in row.get("seasons") or ():
            number = _int(season.get("number")) if isinstance(season, Mapping) else None
            if number is None:
                continue
            for ep in season.get("episodes") or ():
                n = _int(ep.get("number")) if isinstance(ep, Mapping) else None
                if n is None:
                    continue
                when = _time(ep.get("watched_at")) or title.last_watched_at
                if when is None:
                    continue
                if kind == ANIME:
                    if number != 1:
                        continue  # Simkl lists an anime's episodes under season 1
                    title.episodes[(None, n)] = when
                else:
                    title.episodes[(number, n)] = when
        title.watched_at = None
        if title.is_film and (title.status == "completed" or title.episodes):
            title.watched_at = title.last_watched_at
        return title

    def absorb_rating(self, kind: str, row: Mapping[str, Any]) -> None:
        """Patch a title's rating from a ratings delta row."""
        media = row.get("movie" if kind == MOVIE else "show")
        title = self.note(kind, media)
        if title is not None and title.listed:
            self._rating(title, row)

    @staticmethod
    def _rating(title: Title, row: Mapping[str, Any]) -> None:
        rating = _int(row.get("user_rating"))
        title.rating = rating if rating is not None and 1 <= rating <= 10 else None
        title.rated_at = _time(row.get("user_rated_at")) if title.rating else None

    def keep_only(self, kind: str, listed_ids: Collection[int]) -> list[Title]:
        """Unlist titles of `kind` not in `listed_ids`; returns the removed ones."""
        gone = []
        for title in self.titles.values():
            if title.kind == kind and title.listed and title.simkl_id not in listed_ids:
                gone.append(title)
                self.unlist(title)
        return gone

    @staticmethod
    def unlist(title: Title) -> None:
        """Forget the user's entry of a title (the catalog facts stay)."""
        title.listed = False
        title.status = None
        title.rating = title.rated_at = None
        title.memo = ""
        title.episodes = {}
        title.watched_at = None
        title.last_watched_at = None

    def listed(self) -> list[Title]:
        """Titles on the user's list, in a stable order."""
        return sorted(
            (t for t in self.titles.values() if t.listed), key=lambda t: t.key
        )

    # -- contract views ---------------------------------------------------------------

    def node(self, title: Title, facets: Collection[FacetName]) -> Node:
        """The title as an anchor node with the requested facets."""
        hydrated: dict[FacetName, Any] = {}
        if FacetName.IDS in facets:
            hydrated[FacetName.IDS] = Identifiers(title.descriptors())
        if FacetName.TITLES in facets:
            hydrated[FacetName.TITLES] = Titles(title.title or title.key)
        if FacetName.STRUCTURE in facets:
            hydrated[FacetName.STRUCTURE] = structure(title)
        return Node(
            ref=title.ref,
            kind=title.native_kind,
            title=title.title,
            url=title_url(title.kind, title.simkl_id),
            flags=FILM_FLAGS if title.is_film else SERIES_FLAGS,
            facets=hydrated,
        )

    def record(self, title: Title, fields: Collection[RecordField]) -> Record:
        """The list entry as the anchor's record, requested fields only."""
        values: dict[RecordField, Value] = {}
        if title.status is not None:
            values[RecordField.STATUS] = State(
                title.status, STATUS_FROM_NATIVE[title.status]
            )
        if not title.is_film:
            watched = len([k for k in title.episodes if k[0] is None or k[0] > 0])
            values[RecordField.PROGRESS] = Progress(watched, title.total, EPISODE)
        if title.rating is not None:
            values[RecordField.RATING] = Rating(float(title.rating), RATING_SCALE)
        if title.memo:
            values[RecordField.NOTES] = title.memo
        if title.last_watched_at is not None:
            values[RecordField.LAST_ACTIVITY_AT] = title.last_watched_at
        return Record(
            ref=title.ref,
            key=title.key,
            url=title_url(title.kind, title.simkl_id),
            updated_at=title.updated_at(),
            ids=title.descriptors(),
            values={k: v for k, v in values.items() if k in fields},
            metadata={"private_memo": title.memo_private} if title.memo else {},
        )

    def events(self, title: Title) -> list[Event]:
        """Its plays: one per watched episode (or the film), oldest first."""
        out: list[Event] = []
        if title.is_film:
            if title.watched_at is not None:
                out.append(_event(title.ref, title.watched_at))
            return out
        for key, when in sorted(title.episodes.items(), key=_episode_order):
            out.append(_event(title.episode_ref(key), when))
        return out

    def summaries(self, title: Title) -> list[EventSummary]:
        """One summary per play (Simkl keeps one watch per episode)."""
        return [EventSummary(e.ref, WATCH, 1, e.at, e.at) for e in self.events(title)]

    # -- the native backup row --------------------------------------------------------

    def row(self, title: Title) -> dict[str, Any]:
        """The title as Simkl's all-items row (full, with dates and memo)."""
        ids: dict[str, Any] = {"simkl": title.simkl_id, **title.ids}
        media = {"title": title.title, "year": title.year, "ids": ids}
        out: dict[str, Any] = {
            "added_to_watchlist_at": _stamp(title.added_at),
            "last_watched_at": _stamp(title.last_watched_at),
            "user_rated_at": _stamp(title.rated_at),
            "user_rating": title.rating,
            "status": title.status,
        }
        if title.kind != MOVIE:
            out["watched_episodes_count"] = len(title.episodes)
            out["total_episodes_count"] = title.total
            if title.kind == ANIME:
                out["anime_type"] = title.anime_type
            seasons: dict[int, list[dict[str, Any]]] = {}
            for (season, n), when in sorted(title.episodes.items(), key=_episode_order):
                seasons.setdefault(season or 1, []).append(
                    {"number": n, "watched_at": simkl_time(when)}
                )
            out["seasons"] = [
                {"number": s, "episodes": eps} for s, eps in sorted(seasons.items())
            ]
        out["movie" if title.kind == MOVIE else "show"] = media
        out["memo"] = (
            {"text": title.memo, "is_private": title.memo_private} if title.memo else {}
        )
        return out


def structure(title: Title) -> Any:
    """The title's coordinate space: what the catalog says, else what is known."""
    if title.is_film:
        return Structure()
    if title.kind == ANIME:
        count = title.total or max((n for _, n in title.episodes), default=0)
        return Structure(
            (EPISODE,),
            tuple(Part((Step(EPISODE, n),)) for n in range(1, count + 1)),
        )
    keys: Iterable[EpisodeKey] = title.parts if title.parts is not None else ()
    known = sorted({*keys, *title.episodes}, key=lambda k: (k[0] or 0, k[1]))
    return Structure(
        (SEASON, EPISODE),
        tuple(Part((Step(SEASON, s or 0), Step(EPISODE, n))) for s, n in known),
    )


def _event(ref: Ref, at: datetime) -> Event:
    metadata = {"date_unknown": True} if at < _PLACEHOLDER_BEFORE else {}
    return Event(ref=ref, kind=WATCH, at=at, key=event_key(ref), metadata=metadata)


def _episode_order(item: tuple[EpisodeKey, Any]) -> tuple[int, int]:
    (season, n), _ = item
    return (season or 0, n)


def _stamp(value: datetime | None) -> str | None:
    return simkl_time(value) if value is not None else None
