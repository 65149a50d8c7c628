"""The contract's *library* shape built from server-neutral library values (pure).

One anchor per show (``show``: SERIES) or movie (``movie``: FILM); the show's
`STRUCTURE` has one part per episode keyed by the server's episode id; per-episode
state is a `Record` on ``Ref.at(show, ("season", s), ("episode", e))``; movie state is
on the anchor. See docs/ARCHITECTURE.md, "Provider shapes the engine expects".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from anibridge.provider.base import (
    Capabilities,
    ChangeKind,
    Descriptor,
    EventKind,
    EventSummary,
    FacetName,
    FieldSpec,
    Identifiers,
    Node,
    NodeFlag,
    NodeKind,
    NumericConstraint,
    Part,
    Rating,
    Record,
    RecordField,
    RecordKind,
    Ref,
    Role,
    State,
    Status,
    Step,
    Structure,
    TemporalConstraint,
    TemporalPrecision,
    Titles,
    Value,
    WriteOp,
)
from anibridge.providers._library.ids import anchor_ids, order_ids
from anibridge.providers._library.model import LibraryEpisode, LibraryItem, UserState
from anibridge.ratings import quantize

__all__ = [
    "AXES",
    "PLAY",
    "WATCHED",
    "LibraryTraits",
    "episode_ref",
    "item_node",
    "library_capabilities",
    "state_record",
    "state_summary",
]

AXES = ("season", "episode")
WATCHED = "watched"
PLAY = "play"
_SHOW_FLAGS = frozenset(
    {NodeFlag.ANCHOR, NodeFlag.CONTAINER, NodeFlag.ORDERED_PARTS, NodeFlag.TRACKABLE}
)
_MOVIE_FLAGS = frozenset({NodeFlag.ANCHOR, NodeFlag.CONSUMABLE, NodeFlag.TRACKABLE})
FACETS = frozenset({FacetName.TITLES, FacetName.IDS, FacetName.STRUCTURE})


@dataclass(frozen=True, slots=True)
class LibraryTraits:
    """What differs between servers in the shared shape.

    Attributes:
        rating_step: Step of the native 0-10 rating scale.
        writable: Record fields the server can write.
        authorities: Descriptor authorities the server's ids produce.
        events: Whether per-play events are readable (Plex history).
        event_changes: Whether the change feed reports plays.
    """

    rating_step: float
    writable: frozenset[RecordField]
    authorities: frozenset[str]
    events: bool = False
    event_changes: bool = False

    @property
    def scale(self) -> tuple[float, float, float]:
        """The native rating scale (min, max, step)."""
        return (0.0, 10.0, self.rating_step)


def episode_ref(show_key: str, season: int, episode: int) -> Ref:
    """The ref of one episode of a show."""
    return Ref.at(show_key, ("season", season), ("episode", episode))


def library_capabilities(traits: LibraryTraits) -> Capabilities:
    """Capabilities shared by the media-server providers."""
    fields = {
        RecordField.STATUS: FieldSpec(
            RecordField.STATUS,
            writable=RecordField.STATUS in traits.writable,
            values=(Descriptor(WATCHED, Status.COMPLETED, "watched at least once"),),
        ),
        RecordField.REPEAT_COUNT: FieldSpec(
            RecordField.REPEAT_COUNT,
            writable=False,
            constraints=(NumericConstraint(minimum=0, step=1),),
            description="views - 1",
        ),
        RecordField.LAST_ACTIVITY_AT: FieldSpec(
            RecordField.LAST_ACTIVITY_AT,
            writable=RecordField.LAST_ACTIVITY_AT in traits.writable,
            constraints=(TemporalConstraint(TemporalPrecision.DATETIME),),
            description="last viewed",
        ),
        RecordField.RATING: FieldSpec(
            RecordField.RATING,
            writable=RecordField.RATING in traits.writable,
            constraints=(NumericConstraint(0.0, 10.0, traits.rating_step),),
        ),
    }
    changes = {ChangeKind.NODE, ChangeKind.RECORD}
    if traits.event_changes:
        changes.add(ChangeKind.EVENT)
    writes = frozenset({WriteOp.UPSERT_RECORD, WriteOp.DELETE_RECORD})
    return Capabilities(
        roles=frozenset({Role.SOURCE, Role.TARGET}),
        facets=FACETS,
        node_kinds=(
            Descriptor("show", NodeKind.SERIES),
            Descriptor("movie", NodeKind.FILM),
        ),
        coordinate_axes={"show": AXES},
        record_kinds=(Descriptor("", RecordKind.PROGRESS),),
        record_fields=fields,
        event_kinds=(Descriptor(PLAY, EventKind.PLAY),),
        write_ops=writes,
        change_kinds=frozenset(changes),
        external_authorities=traits.authorities,
    )


def item_node(
    item: LibraryItem,
    episodes: Sequence[LibraryEpisode],
    facets: frozenset[FacetName],
    *,
    preferred: str | None = None,
    strict: bool = False,
) -> Node:
    """The anchor node of a show or movie with only the requested facets."""
    hydrated: dict[FacetName, object] = {}
    is_show = item.kind == "show"
    if FacetName.TITLES in facets:
        hydrated[FacetName.TITLES] = Titles(item.title)
    if FacetName.IDS in facets:
        ordering = item.ordering or preferred
        ids = order_ids(item.ids, ordering, strict=strict)
        seasons = {e.season for e in episodes} if is_show else ()
        hydrated[FacetName.IDS] = Identifiers(anchor_ids(ids, seasons))
    if FacetName.STRUCTURE in facets and is_show:
        parts = tuple(
            Part((Step("season", e.season), Step("episode", e.episode)), e.title, e.key)
            for e in sorted(episodes, key=lambda e: (e.season, e.episode))
        )
        hydrated[FacetName.STRUCTURE] = Structure(AXES, parts)
    labels = (str(item.year),) if item.year else ()
    return Node(
        ref=Ref.anchor(item.key),
        kind=item.kind,
        title=item.title,
        url=item.url,
        labels=labels,
        flags=_SHOW_FLAGS if is_show else _MOVIE_FLAGS,
        facets=hydrated,  # type: ignore[arg-type]
    )


def state_record(
    ref: Ref,
    key: str,
    state: UserState,
    fields: Iterable[RecordField],
    scale: tuple[float, float, float],
    *,
    rating_only: bool = False,
) -> Record | None:
    """The user's record of one episode/movie (or a show's rating), or None if blank.

    `rating_only` is for show anchors, where only a rating can live.
    """
    wanted = frozenset(fields)
    values: dict[RecordField, Value] = {}
    if state.watched and not rating_only:
        if RecordField.STATUS in wanted:
            values[RecordField.STATUS] = State(WATCHED, Status.COMPLETED)
        if RecordField.REPEAT_COUNT in wanted:
            values[RecordField.REPEAT_COUNT] = state.view_count - 1
        if RecordField.LAST_ACTIVITY_AT in wanted and state.last_viewed_at:
            values[RecordField.LAST_ACTIVITY_AT] = state.last_viewed_at
    if RecordField.RATING in wanted and state.rating is not None:
        # Off-step values (a Plex 9.5 on its whole-number scale) read quantized.
        values[RecordField.RATING] = Rating(quantize(state.rating, scale), scale)
    active = state.rating is not None if rating_only else state.active
    if not active:
        return None
    return Record(ref=ref, key=key, updated_at=state.updated_at, values=values)


def state_summary(ref: Ref, state: UserState) -> EventSummary | None:
    """Play count and last play of one episode/movie, when it was played."""
    if not state.watched:
        return None
    return EventSummary(
        ref=ref, kind=PLAY, count=state.view_count, last_at=state.last_viewed_at
    )


def records_for(
    item: LibraryItem,
    episodes: Sequence[LibraryEpisode],
    fields: Iterable[RecordField],
    scale: tuple[float, float, float],
) -> list[Record]:
    """Every non-blank record of one anchor: episodes, the movie, a show's rating."""
    wanted = tuple(fields)
    out: list[Record] = []
    anchor = state_record(
        Ref.anchor(item.key),
        item.key,
        item.state,
        wanted,
        scale,
        rating_only=item.kind == "show",
    )
    if anchor is not None:
        out.append(anchor)
    if item.kind == "show":
        for ep in sorted(episodes, key=lambda e: (e.season, e.episode)):
            rec = state_record(
                episode_ref(item.key, ep.season, ep.episode),
                ep.key,
                ep.state,
                wanted,
                scale,
            )
            if rec is not None:
                out.append(rec)
    return out


def group_episodes(
    episodes: Iterable[LibraryEpisode],
) -> Mapping[str, list[LibraryEpisode]]:
    """Episodes per show key; a duplicate (season, episode) keeps the first one."""
    out: dict[str, list[LibraryEpisode]] = {}
    seen: set[tuple[str, int, int]] = set()
    for ep in episodes:
        ident = (ep.show_key, ep.season, ep.episode)
        if ident in seen:
            continue
        seen.add(ident)
        out.setdefault(ep.show_key, []).append(ep)
    return out
