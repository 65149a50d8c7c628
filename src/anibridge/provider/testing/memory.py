"""An in-memory reference provider for engine tests and provider authors.

`MemoryProvider` implements every `SupportsX` mixin of the contract over plain data
(`Node`s, `Record`s, `Event`s), honours every rule the conformance kit checks, and
passes the kit itself. It models a real service closely enough that engine tests can
rely on it: writes are checked against the advertised `FieldSpec`s (unsupported,
read-only or out-of-range values fail with the `WriteError` a real service would
cause), records carry revisions for optimistic concurrency, event appends are
idempotent on `(ref, kind, at)`, and every mutation lands in a change feed.

Building one
    `MemoryProvider(capabilities=..., nodes=..., records=..., events=...,
    account=..., page_size=..., clock=...)` has *every* mixin. When the mixins must
    match narrower capabilities (so `isinstance(p, SupportsEventWrites)` is honest), use
    `memory_provider(capabilities, ...)`: it mixes in exactly what
    `mixins_for(capabilities)` says (override with `mixins=`). Two ready-made shapes:

    - `make_list_provider(nodes, records)` — a tracker like AniList: one list (record
      kind `""` → `RecordKind.PROGRESS`), aggregate records on anchors, writable
      STATUS / PROGRESS / RATING / STARTED_AT / FINISHED_AT / REPEAT_COUNT / NOTES with
      constraints (`list_capabilities()`; DATE precision, rating 0-100 step 1, ...).
    - `make_library_provider(nodes, records, events)` — a media server like Plex:
      show → season → episode nodes, per-episode records and plays, the IDS facet with
      season-scoped ids such as `tvdb_show:81797:s1` (`library_capabilities()`; pass
      `writable=True` for a target).

    Node/record/event builders: `list_entry`, `library_show`, `library_movie`,
    `episode_ref`, `list_record`, `watched_record`, `play`.

Behaviour worth knowing
    - Reads project: only requested facets and record fields are returned (an empty
      `fields` set returns records without values).
    - Paging uses `limit` (default `page_size`) and an opaque cursor; `total` is set.
    - `scan` items carry the records at *or below* their node's ref, so scanning the
      anchors (`flags={NodeFlag.SCAN_ROOT}`) yields each work with all of its state;
      `require_activity` keeps items with a record or event at or below them.
    - `resolve` matches ids listed in a node's IDS facet exactly (scope included).
    - Writes need the op in `write_ops`, a declared record/event kind, writable fields
      and a ref whose anchor key exists (else UNSUPPORTED / NOT_FOUND / INVALID).
      DATE-precision datetimes are stored as midnight UTC of their UTC date; STATUS
      accepts a declared native label or a `Status` alone (mapped to its label); a
      rating must use the field's scale; PROGRESS total/unit are kept from the stored
      record when the `ProgressConstraint` says the provider owns them.
    - `poll_changes` returns changes after the cursor (`None` = from the start); the
      returned cursor is never `None`, and an empty page means "caught up".
    - `export_backup` / `import_backup` round-trip records and events as JSON.
    - `parse_inbound` accepts a JSON body
      `{"provider": "memory", "changes": [{"type": "record", "ref": {"key": "1",
      "path": [["episode", 3]]}, "kind": "", "at": "2024-01-01T00:00:00Z",
      "fields": ["progress"]}]}`; other bodies are `matched=False`.

Test hooks
    - `inject_failure(code, op=None, ref=None, times=1, error=None)`: the next
      matching writes fail with that `WriteError` without being applied
      (`times=None`: until `clear_failures()`).
    - `inject_exception(exc, method=None, times=1)`: the next calls of a contract
      method (e.g. `"scan"`, `"initialize"`; any when None) raise `exc`.
    - `calls`: a log of `(method, argument)` for every contract call, to count requests.
    - `put_node`, `remove_node`, `put_record`, `remove_record`, `put_event` change the
      data directly (recorded in the change feed); `record(ref, kind)`, `records()`,
      `events()`, `nodes()`, `changes()` read it back without projection.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from logging import Logger
from typing import Any, ClassVar

from anibridge.dates import parse_iso, utcnow
from anibridge.provider.base import (
    Account,
    AppendEvent,
    Artwork,
    BackupArtifact,
    Capabilities,
    Change,
    ChangeKind,
    ChangeQuery,
    DeleteEvent,
    DeleteRecord,
    Descriptor,
    Event,
    EventChange,
    EventKind,
    EventQuery,
    EventSummary,
    EventSummaryQuery,
    EventWrite,
    ExternalId,
    FacetName,
    FieldSpec,
    Identifiers,
    InboundRequest,
    InboundResult,
    Match,
    Metadata,
    MetaValue,
    Node,
    NodeChange,
    NodeFlag,
    NodeKind,
    NodeQuery,
    NumericConstraint,
    Page,
    Part,
    Progress,
    ProgressConstraint,
    Provider,
    Rating,
    Record,
    RecordChange,
    RecordField,
    RecordKind,
    RecordQuery,
    RecordWrite,
    Ref,
    Role,
    ScanItem,
    ScanQuery,
    State,
    Status,
    Step,
    Structure,
    SupportsBackupExports,
    SupportsBackupImports,
    SupportsChangeFeed,
    SupportsEventReads,
    SupportsEventSummaries,
    SupportsEventWrites,
    SupportsInboundChanges,
    SupportsMapping,
    SupportsNodeReads,
    SupportsNodeSearch,
    SupportsRecordReads,
    SupportsRecordWrites,
    SupportsScan,
    TemporalConstraint,
    TemporalPrecision,
    TextConstraint,
    Titles,
    UpsertRecord,
    Value,
    WriteError,
    WriteOp,
    WriteResult,
)
from anibridge.provider.precision import MonthDate, PartialDates, YearDate
from anibridge.provider.validate import ContractViolation, check_utc, validate_value
from anibridge.provider.validate import write_op_of as _write_op_of

__all__ = [
    "ALL_MIXINS",
    "DEFAULT_ACCOUNT",
    "LIBRARY_STATUSES",
    "LIST_STATUSES",
    "MemoryProvider",
    "MemoryProviderBase",
    "episode_ref",
    "full_capabilities",
    "library_capabilities",
    "library_movie",
    "library_show",
    "list_capabilities",
    "list_entry",
    "list_record",
    "make_library_provider",
    "make_list_provider",
    "memory_provider",
    "mixins_for",
    "play",
    "watched_record",
]

DEFAULT_ACCOUNT = Account(key="memory-user", title="Memory User")

ALL_MIXINS: tuple[type, ...] = (
    SupportsNodeReads,
    SupportsNodeSearch,
    SupportsScan,
    SupportsMapping,
    SupportsRecordReads,
    SupportsRecordWrites,
    SupportsEventReads,
    SupportsEventSummaries,
    SupportsEventWrites,
    SupportsChangeFeed,
    SupportsBackupExports,
    SupportsBackupImports,
    SupportsInboundChanges,
)

_ALL_FACETS = frozenset(FacetName)
_RECORD_OPS = frozenset({WriteOp.UPSERT_RECORD, WriteOp.DELETE_RECORD})
_EVENT_OPS = frozenset({WriteOp.APPEND_EVENT, WriteOp.DELETE_EVENT})
_BACKUP_FORMAT = "anibridge-memory-backup"

# --------------------------------------------------------------------------------------
# Capabilities of the ready-made shapes
# --------------------------------------------------------------------------------------

LIST_STATUSES: tuple[Descriptor[Status], ...] = (
    Descriptor("CURRENT", Status.ACTIVE),
    Descriptor("PLANNING", Status.PLANNED),
    Descriptor("COMPLETED", Status.COMPLETED),
    Descriptor("DROPPED", Status.DROPPED),
    Descriptor("PAUSED", Status.PAUSED),
    Descriptor("REPEATING", Status.REPEATING),
)

LIBRARY_STATUSES: tuple[Descriptor[Status], ...] = (
    Descriptor("watched", Status.COMPLETED),
    Descriptor("in_progress", Status.ACTIVE),
)


def list_capabilities(
    *,
    rating_scale: tuple[float, float, float] = (0.0, 100.0, 1.0),
    date_precision: TemporalPrecision = TemporalPrecision.DATE,
    partial_dates: bool = False,
    notes_max_length: int | None = 2000,
    max_progress: int | None = None,
    authorities: Iterable[str] = ("anilist", "mal"),
    node_kind: str = "anime",
    statuses: tuple[Descriptor[Status], ...] = LIST_STATUSES,
) -> Capabilities:
    """Capabilities of a single-list tracker (AniList/MAL-like) target and source.

    `partial_dates` makes started/finished keep dates known only to the month or
    year (`anibridge.provider.precision.PartialDates`, like AniList and MAL).
    """
    low, high, step = rating_scale
    dates = (
        (PartialDates(),) if partial_dates else (TemporalConstraint(date_precision),)
    )
    fields = {
        RecordField.STATUS: FieldSpec(
            RecordField.STATUS, writable=True, values=statuses
        ),
        RecordField.PROGRESS: FieldSpec(
            RecordField.PROGRESS,
            writable=True,
            constraints=(
                ProgressConstraint(
                    current=NumericConstraint(minimum=0, maximum=max_progress, step=1),
                    total=False,
                    unit=False,
                ),
            ),
        ),
        RecordField.RATING: FieldSpec(
            RecordField.RATING,
            writable=True,
            constraints=(NumericConstraint(minimum=low, maximum=high, step=step),),
        ),
        RecordField.STARTED_AT: FieldSpec(
            RecordField.STARTED_AT, writable=True, constraints=dates
        ),
        RecordField.FINISHED_AT: FieldSpec(
            RecordField.FINISHED_AT, writable=True, constraints=dates
        ),
        RecordField.REPEAT_COUNT: FieldSpec(
            RecordField.REPEAT_COUNT,
            writable=True,
            constraints=(NumericConstraint(minimum=0, step=1),),
        ),
        RecordField.NOTES: FieldSpec(
            RecordField.NOTES,
            writable=True,
            constraints=(TextConstraint(max_length=notes_max_length),),
        ),
    }
    return Capabilities(
        roles=frozenset({Role.SOURCE, Role.TARGET}),
        facets=_ALL_FACETS,
        node_kinds=(Descriptor(node_kind, NodeKind.SERIES),),
        coordinate_axes={node_kind: ("episode",)},
        record_kinds=(Descriptor("", RecordKind.PROGRESS),),
        record_fields=fields,
        write_ops=_RECORD_OPS,
        change_kinds=frozenset({ChangeKind.NODE, ChangeKind.RECORD}),
        external_authorities=frozenset(authorities),
    )


def library_capabilities(
    *,
    writable: bool = False,
    authorities: Iterable[str] = (
        "tvdb_show",
        "tmdb_show",
        "imdb_show",
        "tvdb_movie",
        "tmdb_movie",
        "imdb_movie",
        "anidb",
    ),
) -> Capabilities:
    """Capabilities of a media server (Plex/Jellyfin-like): a source, or a target.

    Per-episode records hold STATUS ("watched"/"in_progress"), RATING (0-10, step 1),
    LAST_ACTIVITY_AT and REPEAT_COUNT; plays are "play" events. With `writable`, STATUS
    and RATING are writable and plays can be appended; LAST_ACTIVITY_AT and
    REPEAT_COUNT stay read-only, as on a real server.
    """
    fields = {
        RecordField.STATUS: FieldSpec(
            RecordField.STATUS, writable=writable, values=LIBRARY_STATUSES
        ),
        RecordField.RATING: FieldSpec(
            RecordField.RATING,
            writable=writable,
            constraints=(NumericConstraint(minimum=0, maximum=10, step=1),),
        ),
        RecordField.LAST_ACTIVITY_AT: FieldSpec(
            RecordField.LAST_ACTIVITY_AT,
            constraints=(TemporalConstraint(TemporalPrecision.DATETIME),),
        ),
        RecordField.REPEAT_COUNT: FieldSpec(
            RecordField.REPEAT_COUNT,
            constraints=(NumericConstraint(minimum=0, step=1),),
        ),
    }
    roles = {Role.SOURCE} | ({Role.TARGET} if writable else set())
    ops = frozenset({WriteOp.UPSERT_RECORD, WriteOp.APPEND_EVENT}) if writable else ()
    return Capabilities(
        roles=frozenset(roles),
        facets=_ALL_FACETS,
        node_kinds=(
            Descriptor("show", NodeKind.SERIES),
            Descriptor("season", NodeKind.SEASON),
            Descriptor("episode", NodeKind.EPISODE),
            Descriptor("movie", NodeKind.FILM),
        ),
        coordinate_axes={"show": ("season", "episode"), "season": ("episode",)},
        record_kinds=(Descriptor("", RecordKind.PROGRESS),),
        record_fields=fields,
        event_kinds=(Descriptor("play", EventKind.PLAY),),
        write_ops=frozenset(ops),
        change_kinds=frozenset(ChangeKind),
        external_authorities=frozenset(authorities),
    )


def full_capabilities() -> Capabilities:
    """Everything at once: the default of `MemoryProvider`, which has every mixin."""
    tracker = list_capabilities()
    library = library_capabilities(writable=True)
    fields = dict(tracker.record_fields)
    fields[RecordField.LAST_ACTIVITY_AT] = FieldSpec(
        RecordField.LAST_ACTIVITY_AT,
        writable=True,
        constraints=(TemporalConstraint(TemporalPrecision.DATETIME),),
    )
    return Capabilities(
        roles=frozenset(Role),
        facets=_ALL_FACETS,
        node_kinds=(*tracker.node_kinds, *library.node_kinds),
        coordinate_axes={**tracker.coordinate_axes, **library.coordinate_axes},
        record_kinds=(
            Descriptor("", RecordKind.PROGRESS),
            Descriptor("watchlist", RecordKind.PLANNED),
        ),
        record_fields=fields,
        event_kinds=(
            Descriptor("play", EventKind.PLAY),
            Descriptor("checkin", EventKind.CHECKIN),
        ),
        write_ops=frozenset(WriteOp),
        change_kinds=frozenset(ChangeKind),
        external_authorities=tracker.external_authorities
        | library.external_authorities,
    )


def mixins_for(capabilities: Capabilities) -> tuple[type, ...]:
    """The mixins whose presence `capabilities` implies (what the kit checks).

    Node reads, search, scan and mapping are always present; record reads when record
    kinds are declared; event reads and summaries when event kinds are; write mixins
    when their ops are in `write_ops`; change feed and inbound changes when change
    kinds are; backups for targets.
    """
    mixins: list[type] = [
        SupportsNodeReads,
        SupportsNodeSearch,
        SupportsScan,
        SupportsMapping,
    ]
    if capabilities.record_kinds:
        mixins.append(SupportsRecordReads)
    if capabilities.write_ops & _RECORD_OPS:
        mixins.append(SupportsRecordWrites)
    if capabilities.event_kinds:
        mixins += [SupportsEventReads, SupportsEventSummaries]
    if capabilities.write_ops & _EVENT_OPS:
        mixins.append(SupportsEventWrites)
    if capabilities.change_kinds:
        mixins += [SupportsChangeFeed, SupportsInboundChanges]
    if Role.TARGET in capabilities.roles:
        mixins += [SupportsBackupExports, SupportsBackupImports]
    return tuple(mixins)


# --------------------------------------------------------------------------------------
# Data builders
# --------------------------------------------------------------------------------------


def _ids(values: Iterable[str | ExternalId]) -> tuple[ExternalId, ...]:
    return tuple(
        v if isinstance(v, ExternalId) else ExternalId.parse(v) for v in values
    )


def list_entry(
    key: str,
    title: str,
    *,
    episodes: int | None = None,
    ids: Iterable[str | ExternalId] = (),
    kind: str = "anime",
    alternates: Mapping[str, str] | None = None,
    poster: str | None = None,
    metadata: Mapping[str, MetaValue] | None = None,
) -> Node:
    """A tracker entry: an anchor with every facet, episodes as synthetic parts."""
    facets: dict[FacetName, Any] = {
        FacetName.TITLES: Titles(primary=title, alternates=dict(alternates or {})),
        FacetName.IDS: Identifiers(ids=_ids(ids)),
        FacetName.METADATA: Metadata(values=dict(metadata or {})),
    }
    flags = {NodeFlag.ANCHOR, NodeFlag.TRACKABLE, NodeFlag.SCAN_ROOT}
    if episodes is not None:
        parts = tuple(
            Part(position=(Step("episode", n),)) for n in range(1, episodes + 1)
        )
        facets[FacetName.STRUCTURE] = Structure(axes=("episode",), parts=parts)
        flags |= {NodeFlag.CONTAINER, NodeFlag.ORDERED_PARTS}
    if poster is not None:
        facets[FacetName.ARTWORK] = Artwork(images={"poster": poster})
    return Node(
        ref=Ref.anchor(key),
        kind=kind,
        title=title,
        url=f"memory://{kind}/{key}",
        flags=frozenset(flags),
        facets=facets,
    )


def episode_ref(key: str, season: int, episode: int) -> Ref:
    """The ref of a library episode: `Ref.at(key, ("season", s), ("episode", e))`."""
    return Ref.at(key, ("season", season), ("episode", episode))


def library_show(
    key: str,
    title: str,
    seasons: Mapping[int, int],
    *,
    ids: Iterable[str | ExternalId] = (),
    scoped_ids: bool = True,
    kind: str = "show",
) -> tuple[Node, ...]:
    """A media-server show: the anchor, its seasons and its episodes as nodes.

    `seasons` maps season number to episode count. With `scoped_ids`, every unscoped
    id (e.g. `tvdb_show:81797`) is also listed per season with scope `s<N>`
    (`tvdb_show:81797:s1`) on the anchor and on that season, the form the mappings
    dataset uses for season-scoped descriptors.
    """
    base_ids = _ids(ids)
    season_ids = {
        number: tuple(
            ExternalId(i.authority, i.value, f"s{number}")
            for i in base_ids
            if i.scope is None
        )
        if scoped_ids
        else ()
        for number in seasons
    }
    all_ids = base_ids + tuple(i for number in seasons for i in season_ids[number])
    parts = tuple(
        Part(
            position=(Step("season", s), Step("episode", e)),
            title=f"Episode {e}",
            key=f"{key}/s{s}e{e}",
        )
        for s, count in seasons.items()
        for e in range(1, count + 1)
    )
    anchor = Node(
        ref=Ref.anchor(key),
        kind=kind,
        title=title,
        url=f"memory://{kind}/{key}",
        flags=frozenset(
            {
                NodeFlag.ANCHOR,
                NodeFlag.CONTAINER,
                NodeFlag.ORDERED_PARTS,
                NodeFlag.TRACKABLE,
                NodeFlag.SCAN_ROOT,
            }
        ),
        facets={
            FacetName.TITLES: Titles(primary=title),
            FacetName.IDS: Identifiers(ids=all_ids),
            FacetName.STRUCTURE: Structure(axes=("season", "episode"), parts=parts),
            FacetName.METADATA: Metadata(values={"seasons": len(seasons)}),
        },
    )
    nodes: list[Node] = [anchor]
    for s, count in seasons.items():
        season_ref = Ref.at(key, ("season", s))
        nodes.append(
            Node(
                ref=season_ref,
                kind="season",
                title=f"Season {s}",
                flags=frozenset({NodeFlag.CONTAINER, NodeFlag.ORDERED_PARTS}),
                facets={
                    FacetName.TITLES: Titles(primary=f"{title} Season {s}"),
                    FacetName.IDS: Identifiers(ids=season_ids[s]),
                    FacetName.STRUCTURE: Structure(
                        axes=("episode",),
                        parts=tuple(
                            Part(position=(Step("episode", e),), key=f"{key}/s{s}e{e}")
                            for e in range(1, count + 1)
                        ),
                    ),
                },
            )
        )
        for e in range(1, count + 1):
            nodes.append(
                Node(
                    ref=episode_ref(key, s, e),
                    kind="episode",
                    title=f"Episode {e}",
                    flags=frozenset({NodeFlag.CONSUMABLE, NodeFlag.TRACKABLE}),
                    facets={FacetName.TITLES: Titles(primary=f"Episode {e}")},
                )
            )
    return tuple(nodes)


def library_movie(
    key: str, title: str, *, ids: Iterable[str | ExternalId] = ()
) -> Node:
    """A media-server movie: an anchor that is itself the consumable unit."""
    return Node(
        ref=Ref.anchor(key),
        kind="movie",
        title=title,
        url=f"memory://movie/{key}",
        flags=frozenset(
            {
                NodeFlag.ANCHOR,
                NodeFlag.CONSUMABLE,
                NodeFlag.TRACKABLE,
                NodeFlag.SCAN_ROOT,
            }
        ),
        facets={
            FacetName.TITLES: Titles(primary=title),
            FacetName.IDS: Identifiers(ids=_ids(ids)),
        },
    )


def _native_status(status: Status, labels: Sequence[Descriptor[Status]]) -> str:
    for descriptor in labels:
        if descriptor.semantic == status:
            return descriptor.native
    raise ValueError(f"no native label for {status!r}")


def list_record(
    ref: Ref | str,
    *,
    status: Status | None = None,
    progress: int | None = None,
    total: int | None = None,
    rating: float | None = None,
    started: datetime | None = None,
    finished: datetime | None = None,
    repeat: int | None = None,
    notes: str | None = None,
    updated_at: datetime | None = None,
    kind: str = "",
    rating_scale: tuple[float, float, float] = (0.0, 100.0, 1.0),
    statuses: Sequence[Descriptor[Status]] = LIST_STATUSES,
) -> Record:
    """A tracker list entry; arguments left `None` are absent from `values`.

    `progress` becomes `Progress(progress, total)`.
    """
    values: dict[RecordField, Value] = {}
    if status is not None:
        values[RecordField.STATUS] = State(_native_status(status, statuses), status)
    if progress is not None:
        values[RecordField.PROGRESS] = Progress(progress, total)
    if rating is not None:
        values[RecordField.RATING] = Rating(value=rating, scale=rating_scale)
    if started is not None:
        values[RecordField.STARTED_AT] = started
    if finished is not None:
        values[RecordField.FINISHED_AT] = finished
    if repeat is not None:
        values[RecordField.REPEAT_COUNT] = repeat
    if notes is not None:
        values[RecordField.NOTES] = notes
    anchor = ref if isinstance(ref, Ref) else Ref.anchor(ref)
    return Record(ref=anchor, kind=kind, updated_at=updated_at, values=values)


def watched_record(
    ref: Ref,
    *,
    last_viewed: datetime,
    repeat_count: int | None = None,
    rating: float | None = None,
    in_progress: bool = False,
) -> Record:
    """A media-server per-item record (watched or in progress, last viewed, ...)."""
    status = Status.ACTIVE if in_progress else Status.COMPLETED
    values: dict[RecordField, Value] = {
        RecordField.STATUS: State(_native_status(status, LIBRARY_STATUSES), status),
        RecordField.LAST_ACTIVITY_AT: last_viewed,
    }
    if repeat_count is not None:
        values[RecordField.REPEAT_COUNT] = repeat_count
    if rating is not None:
        values[RecordField.RATING] = Rating(value=rating, scale=(0.0, 10.0, 1.0))
    return Record(ref=ref, updated_at=last_viewed, values=values)


def play(ref: Ref, at: datetime, *, kind: str = "play") -> Event:
    """One play of `ref` at `at`."""
    return Event(ref=ref, kind=kind, at=at)


# --------------------------------------------------------------------------------------
# JSON codec (backups and inbound payloads)
# --------------------------------------------------------------------------------------


def _ref_to_json(ref: Ref) -> dict[str, Any]:
    return {"key": ref.key, "path": [[s.axis, s.value] for s in ref.path]}


def _ref_from_json(data: object, where: str) -> Ref:
    if isinstance(data, str):
        return Ref.anchor(data)
    if not isinstance(data, dict) or not isinstance(data.get("key"), str):
        raise ValueError(f"{where}: a ref is a string or {{'key': str, 'path': [...]}}")
    steps: list[Step] = []
    for index, step in enumerate(data.get("path") or ()):
        if (
            not isinstance(step, list | tuple)
            or len(step) != 2
            or not isinstance(step[0], str)
            or not isinstance(step[1], int | str)
        ):
            raise ValueError(f"{where}.path[{index}]: a step is [axis, value]")
        steps.append(Step(step[0], step[1]))
    return Ref(data["key"], tuple(steps))


def _value_to_json(value: Value) -> Any:
    match value:
        case State(native=native, status=status):
            return {"state": {"native": native, "status": status}}
        case Progress(current=current, total=total, unit=unit):
            return {"progress": {"current": current, "total": total, "unit": unit}}
        case Rating(value=number, scale=scale):
            return {"rating": {"value": number, "scale": list(scale)}}
        case datetime():
            return {"datetime": value.isoformat()}
        case _:
            return value


def _value_from_json(data: Any, where: str) -> Value:
    if isinstance(data, str | int | float | bool):
        return data
    if isinstance(data, dict) and len(data) == 1:
        ((tag, body),) = data.items()
        if tag == "datetime" and isinstance(body, str):
            return parse_iso(body)
        if tag == "state" and isinstance(body, dict):
            status = body.get("status")
            return State(body.get("native"), Status(status) if status else None)
        if tag == "progress" and isinstance(body, dict):
            return Progress(body.get("current"), body.get("total"), body.get("unit"))
        if tag == "rating" and isinstance(body, dict):
            low, high, step = body["scale"]
            return Rating(body["value"], (low, high, step))
    raise ValueError(f"{where}: not a record value: {data!r}")


# --------------------------------------------------------------------------------------
# The provider
# --------------------------------------------------------------------------------------


class _WriteFailed(Exception):
    def __init__(self, code: WriteError, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclasses.dataclass
class _Failure:
    code: WriteError
    op: WriteOp | None
    ref: Ref | None
    times: int | None
    error: str


def _under(ref: Ref, root: Ref) -> bool:
    return ref.key == root.key and ref.path[: len(root.path)] == root.path


class MemoryProviderBase(Provider):
    """The implementation of every contract method over in-memory data.

    Mixin-free on purpose: `MemoryProvider` adds every mixin, `memory_provider` only
    those the capabilities imply. See the module docstring for behaviour and hooks.
    """

    DISPLAY_NAME: ClassVar[str] = "Memory"
    NAMESPACE: ClassVar[str] = "memory"

    def __init__(
        self,
        *,
        logger: Logger | None = None,
        config: Mapping[str, object] | None = None,
        capabilities: Capabilities | None = None,
        nodes: Iterable[Node] = (),
        records: Iterable[Record] = (),
        events: Iterable[Event] = (),
        account: Account | None = DEFAULT_ACCOUNT,
        page_size: int = 50,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Load the data; nothing is validated, so tests can build broken providers.

        Records and events without a `key` get one (`r<N>` / `e<N>`); records without
        a `revision` get `"1"`.

        Raises:
            ValueError: `page_size` is not positive.
        """
        super().__init__(
            logger=logger or logging.getLogger("anibridge.provider.memory"),
            config=config,
        )
        if page_size <= 0:
            raise ValueError(f"page_size must be > 0, got {page_size}")
        self._capabilities = capabilities or full_capabilities()
        self._account = account
        self._initialized = False
        self.page_size = page_size
        self.clock = clock
        self.calls: list[tuple[str, object]] = []
        self._counter = 0
        self._nodes: dict[Ref, Node] = {}
        self._anchor_keys: set[str] | None = None  # cache, reset when nodes change
        self._event_index: dict[tuple[Ref, str, datetime], str] = {}
        self._records: dict[tuple[Ref, str], Record] = {}
        self._events: dict[str, Event] = {}
        self._changes: list[Change] = []
        self._failures: list[_Failure] = []
        self._exceptions: list[tuple[str | None, BaseException, list[int | None]]] = []
        for node in nodes:
            self._nodes[node.ref] = node
        for record in records:
            self._store_record(record)
        for event in events:
            self._store_event(event)

    # -- lifecycle -------------------------------------------------------------------

    async def initialize(self) -> None:
        """Bind the account (there is nothing to authenticate)."""
        self._call(("initialize", None))
        self._initialized = True

    async def clear_cache(self) -> None:
        """Nothing is cached; recorded in `calls` only."""
        self._call(("clear_cache", None))

    async def close(self) -> None:
        """Nothing to release; recorded in `calls` only."""
        self._call(("close", None))

    def account(self) -> Account | None:
        """The configured account once `initialize()` has run."""
        return self._account if self._initialized else None

    def capabilities(self) -> Capabilities:
        """The capabilities given at construction."""
        return self._capabilities

    # -- direct data access (test hooks) -----------------------------------------------

    def _next(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def _store_record(self, record: Record) -> Record:
        if record.key is None or record.revision is None:
            record = dataclasses.replace(
                record,
                key=record.key or self._next("r"),
                revision=record.revision or "1",
            )
        self._records[(record.ref, record.kind)] = record
        return record

    def _store_event(self, event: Event) -> Event:
        if event.key is None:
            event = dataclasses.replace(event, key=self._next("e"))
        assert event.key is not None
        self._events[event.key] = event
        self._event_index[(event.ref, event.kind, event.at)] = event.key
        return event

    def _drop_event(self, event: Event) -> None:
        del self._events[event.key or ""]
        self._event_index.pop((event.ref, event.kind, event.at), None)

    def _now(self) -> datetime:
        return self.clock()

    def put_node(self, node: Node) -> None:
        """Add or replace a node (a NodeChange is recorded)."""
        self._nodes[node.ref] = node
        self._anchor_keys = None
        self._changes.append(NodeChange(ref=node.ref, at=self._now()))

    def remove_node(self, ref: Ref) -> None:
        """Remove a node (a NodeChange is recorded)."""
        del self._nodes[ref]
        self._anchor_keys = None
        self._changes.append(NodeChange(ref=ref, at=self._now()))

    def put_record(self, record: Record) -> Record:
        """Store a record as given, bypassing capabilities (a RecordChange is recorded).

        Returns:
            The stored record (with its key and revision filled in).
        """
        stored = self._store_record(record)
        self._changes.append(
            RecordChange(
                ref=stored.ref, key=stored.key, kind=stored.kind, at=self._now()
            )
        )
        return stored

    def remove_record(self, ref: Ref, kind: str = "") -> None:
        """Delete a record directly (a RecordChange is recorded)."""
        record = self._records.pop((ref, kind))
        self._changes.append(
            RecordChange(ref=ref, key=record.key, kind=kind, at=self._now())
        )

    def put_event(self, event: Event) -> Event:
        """Store an event as given (an EventChange is recorded).

        Returns:
            The stored event (with its key filled in).
        """
        stored = self._store_event(event)
        self._changes.append(
            EventChange(ref=stored.ref, key=stored.key, kind=stored.kind, at=stored.at)
        )
        return stored

    def record(self, ref: Ref, kind: str = "") -> Record | None:
        """The stored record of `(ref, kind)`, unprojected."""
        return self._records.get((ref, kind))

    def records(self) -> tuple[Record, ...]:
        """Every stored record, unprojected."""
        return tuple(self._records.values())

    def events(self, ref: Ref | None = None) -> tuple[Event, ...]:
        """Every stored event (of `ref` when given), in time order."""
        found = [e for e in self._events.values() if ref is None or e.ref == ref]
        return tuple(sorted(found, key=lambda e: (e.at, e.key or "")))

    def nodes(self) -> tuple[Node, ...]:
        """Every stored node, unprojected."""
        return tuple(self._nodes.values())

    def changes(self) -> tuple[Change, ...]:
        """The whole change log."""
        return tuple(self._changes)

    def inject_failure(
        self,
        code: WriteError,
        *,
        op: WriteOp | None = None,
        ref: Ref | None = None,
        times: int | None = 1,
        error: str | None = None,
    ) -> None:
        """Make the next matching writes fail with `code`, unapplied.

        A write matches when its op is `op` and its ref is `ref` (each when given).
        `times=None` keeps failing until `clear_failures()`.
        """
        self._failures.append(
            _Failure(code, op, ref, times, error or f"injected {code.value} failure")
        )

    def clear_failures(self) -> None:
        """Forget every injected write failure and exception."""
        self._failures.clear()
        self._exceptions.clear()

    def inject_exception(
        self,
        exception: BaseException,
        *,
        method: str | None = None,
        times: int | None = 1,
    ) -> None:
        """Make the next calls of `method` (any contract method if None) raise.

        For engine tests of misbehaving or unreachable providers (a network error
        during `scan`, an auth failure in `initialize`). `times=None` keeps raising
        until `clear_failures()`.
        """
        self._exceptions.append((method, exception, [times]))

    def _call(self, entry: tuple[str, object]) -> None:
        self.calls.append(entry)
        for index, (method, exception, remaining) in enumerate(self._exceptions):
            if method is not None and method != entry[0]:
                continue
            if remaining[0] is not None:
                remaining[0] -= 1
                if remaining[0] <= 0:
                    del self._exceptions[index]
            raise exception

    def _injected(self, write: RecordWrite | EventWrite) -> _Failure | None:
        op = _write_op_of(write)
        for failure in self._failures:
            if failure.op is not None and failure.op != op:
                continue
            if failure.ref is not None and getattr(write, "ref", None) != failure.ref:
                continue
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
            return failure
        return None

    # -- paging and projection ---------------------------------------------------------

    def _page[T](
        self, items: Sequence[T], cursor: str | None, limit: int | None
    ) -> Page[T]:
        start = self._offset(cursor)
        size = self.page_size if limit is None else limit
        if size <= 0:
            raise ValueError(f"limit must be > 0, got {size}")
        chunk = tuple(items[start : start + size])
        end = start + len(chunk)
        return Page(
            items=chunk,
            cursor=f"offset:{end}" if end < len(items) else None,
            total=len(items),
        )

    @staticmethod
    def _map_page[T, U](page: Page[T], transform: Callable[[T], U]) -> Page[U]:
        # Project only the page that is returned, not everything that matched.
        return Page(tuple(map(transform, page.items)), page.cursor, page.total)

    @staticmethod
    def _offset(cursor: str | None) -> int:
        if cursor is None:
            return 0
        prefix, _, number = cursor.partition(":")
        if prefix != "offset" or not number.isdigit():
            raise ValueError(f"not a cursor of this provider: {cursor!r}")
        return int(number)

    @staticmethod
    def _project_node(node: Node, facets: frozenset[FacetName]) -> Node:
        return dataclasses.replace(
            node, facets={k: v for k, v in node.facets.items() if k in facets}
        )

    @staticmethod
    def _project_record(record: Record, fields: frozenset[RecordField]) -> Record:
        return dataclasses.replace(
            record, values={k: v for k, v in record.values.items() if k in fields}
        )

    @staticmethod
    def _node_matches(
        node: Node, kinds: Iterable[str], flags: frozenset[NodeFlag]
    ) -> bool:
        kinds = tuple(kinds)
        return (not kinds or node.kind in kinds) and flags <= node.flags

    def _anchor_known(self, ref: Ref) -> bool:
        if self._anchor_keys is None:
            self._anchor_keys = {r.key for r in self._nodes}
        return ref.key in self._anchor_keys

    # -- reads -----------------------------------------------------------------------

    async def fetch_nodes(self, query: NodeQuery) -> Page[Node]:
        """Nodes by ref (or all), filtered by native kind and flags, projected."""
        self._call(("fetch_nodes", query))
        if query.refs:
            found = [
                self._nodes[r] for r in dict.fromkeys(query.refs) if r in self._nodes
            ]
        else:
            found = list(self._nodes.values())
        matching = [
            n
            for n in found
            if self._node_matches(n, query.native_node_kinds, query.flags)
        ]
        page = self._page(matching, query.cursor, query.limit)
        return self._map_page(page, lambda n: self._project_node(n, query.facets))

    async def search_nodes(
        self,
        query: str,
        *,
        limit: int = 10,
        facets: frozenset[FacetName] = frozenset(),
    ) -> Page[Node]:
        """Anchors whose title or alternate titles contain `query` (case-insensitive).

        Exact titles rank first, then prefixes, then other substrings.
        """
        self._call(("search_nodes", query))
        needle = query.casefold().strip()
        scored: list[tuple[int, int, Node]] = []
        for index, node in enumerate(self._nodes.values()):
            if not node.ref.is_anchor:
                continue
            titles = [node.title or ""]
            facet = node.facets.get(FacetName.TITLES)
            if isinstance(facet, Titles):
                titles += [facet.primary, *facet.alternates.values()]
            best = None
            for title in (t.casefold() for t in titles if t):
                if title == needle:
                    rank = 0
                elif title.startswith(needle):
                    rank = 1
                elif needle in title:
                    rank = 2
                else:
                    continue
                best = rank if best is None else min(best, rank)
            if best is not None:
                scored.append((best, index, node))
        scored.sort(key=lambda item: item[:2])
        items = tuple(self._project_node(n, facets) for _, _, n in scored[:limit])
        return Page(items=items)

    async def scan(self, query: ScanQuery) -> Page[ScanItem]:
        """Enumerate nodes under `sources` with the records at or below each one."""
        self._call(("scan", query))
        kinds = query.native_record_kinds
        # Index state by anchor key once, so a scan stays linear in the data size.
        records_by_key: dict[str, list[Record]] = {}
        for record in self._records.values():
            if not kinds or record.kind in kinds:
                records_by_key.setdefault(record.ref.key, []).append(record)
        event_refs_by_key: dict[str, list[Ref]] = {}
        for event in self._events.values():
            event_refs_by_key.setdefault(event.ref.key, []).append(event.ref)
        items: list[tuple[Node, list[Record]]] = []
        for node in self._nodes.values():
            if query.sources and not any(_under(node.ref, s) for s in query.sources):
                continue
            if not self._node_matches(node, query.native_node_kinds, query.flags):
                continue
            below = [
                r
                for r in records_by_key.get(node.ref.key, ())
                if _under(r.ref, node.ref)
            ]
            if query.require_activity and not (
                below
                or any(
                    _under(ref, node.ref)
                    for ref in event_refs_by_key.get(node.ref.key, ())
                )
            ):
                continue
            items.append((node, below if query.with_records else []))

        def project(item: tuple[Node, list[Record]]) -> ScanItem:
            node, records = item
            return ScanItem(
                node=self._project_node(node, query.facets),
                records=tuple(self._project_record(r, query.fields) for r in records),
            )

        return self._map_page(self._page(items, query.cursor, query.limit), project)

    async def resolve(self, ids: Sequence[ExternalId]) -> Sequence[Match]:
        """Nodes listing each id in their IDS facet (exact, scope included)."""
        self._call(("resolve", tuple(ids)))
        index: dict[ExternalId, list[Ref]] = {}
        for node in self._nodes.values():
            facet = node.facets.get(FacetName.IDS)
            if isinstance(facet, Identifiers):
                for external_id in dict.fromkeys(facet.ids):
                    index.setdefault(external_id, []).append(node.ref)
        return tuple(
            Match(external_id, ref, 1.0)
            for external_id in dict.fromkeys(ids)
            for ref in index.get(external_id, ())
        )

    async def fetch_records(self, query: RecordQuery) -> Page[Record]:
        """Records by ref and/or key (or all), filtered by kind, projected."""
        self._call(("fetch_records", query))
        refs = set(query.refs)
        keys = set(query.keys)
        found = [
            r
            for r in self._records.values()
            if (not refs or r.ref in refs)
            and (not keys or r.key in keys)
            and (not query.native_record_kinds or r.kind in query.native_record_kinds)
        ]
        page = self._page(found, query.cursor, query.limit)
        return self._map_page(page, lambda r: self._project_record(r, query.fields))

    async def fetch_events(self, query: EventQuery) -> Page[Event]:
        """Events by ref (or all), filtered by kind, in time order."""
        self._call(("fetch_events", query))
        refs = set(query.refs)
        found = [
            e
            for e in self.events()
            if (not refs or e.ref in refs)
            and (not query.native_event_kinds or e.kind in query.native_event_kinds)
        ]
        return self._page(found, query.cursor, query.limit)

    async def fetch_event_summaries(
        self, query: EventSummaryQuery
    ) -> Page[EventSummary]:
        """Per `(ref, kind)` counts and first/last times, computed from the events."""
        self._call(("fetch_event_summaries", query))
        refs = set(query.refs)
        groups: dict[tuple[Ref, str], list[datetime]] = {}
        for event in self.events():
            if refs and event.ref not in refs:
                continue
            if query.native_event_kinds and event.kind not in query.native_event_kinds:
                continue
            groups.setdefault((event.ref, event.kind), []).append(event.at)
        summaries = [
            EventSummary(ref, kind, count=len(ats), first_at=min(ats), last_at=max(ats))
            for (ref, kind), ats in groups.items()
        ]
        return self._page(summaries, query.cursor, query.limit)

    async def poll_changes(self, query: ChangeQuery) -> Page[Change]:
        """Changes after the cursor; the returned cursor is where to resume."""
        self._call(("poll_changes", query))
        start = 0
        if query.cursor is not None:
            prefix, _, number = query.cursor.partition(":")
            if prefix != "change" or not number.isdigit():
                raise ValueError(
                    f"not a change cursor of this provider: {query.cursor!r}"
                )
            start = int(number)
        size = self.page_size if query.limit is None else query.limit
        chunk = tuple(self._changes[start : start + size])
        return Page(items=chunk, cursor=f"change:{start + len(chunk)}")

    # -- writes ----------------------------------------------------------------------

    async def write_records(
        self, writes: Sequence[RecordWrite]
    ) -> Sequence[WriteResult]:
        """Apply each write independently; one positional result per write."""
        self._call(("write_records", tuple(writes)))
        return [self._write(w, self._apply_record_write) for w in writes]

    async def write_events(self, writes: Sequence[EventWrite]) -> Sequence[WriteResult]:
        """Apply each write independently; appends are idempotent on (ref, kind, at)."""
        self._call(("write_events", tuple(writes)))
        return [self._write(w, self._apply_event_write) for w in writes]

    def _write(
        self, write: RecordWrite | EventWrite, apply: Callable[[Any], WriteResult]
    ) -> WriteResult:
        op = _write_op_of(write)
        token = write.token
        ref = getattr(write, "ref", None)
        failure = self._injected(write)
        if failure is not None:
            return WriteResult(
                ok=False,
                op=op,
                token=token,
                ref=ref,
                code=failure.code,
                error=failure.error,
            )
        try:
            if op not in self._capabilities.write_ops:
                raise _WriteFailed(
                    WriteError.UNSUPPORTED, f"{op.value} is not supported"
                )
            return apply(write)
        except _WriteFailed as failed:
            return WriteResult(
                ok=False,
                op=op,
                token=token,
                ref=ref,
                code=failed.code,
                error=failed.message,
            )
        except Exception as exc:  # one bad write must not sink the batch
            return WriteResult(
                ok=False,
                op=op,
                token=token,
                ref=ref,
                code=WriteError.INTERNAL,
                error=f"{type(exc).__name__}: {exc}",
            )

    def _check_ref(self, ref: Ref | None) -> Ref:
        if ref is None:
            raise _WriteFailed(WriteError.INVALID, "a ref is required")
        if not self._anchor_known(ref):
            raise _WriteFailed(WriteError.NOT_FOUND, f"no anchor {ref.key!r}")
        return ref

    def _apply_record_write(self, write: RecordWrite) -> WriteResult:
        if isinstance(write, DeleteRecord):
            return self._delete_record(write)
        return self._upsert_record(write)

    def _find_record(
        self, key: str | None, ref: Ref | None, kind: str
    ) -> Record | None:
        if key is not None:
            for record in self._records.values():
                if record.key == key:
                    return record
            raise _WriteFailed(WriteError.NOT_FOUND, f"no record with key {key!r}")
        ref = self._check_ref(ref)
        if kind not in {d.native for d in self._capabilities.record_kinds}:
            raise _WriteFailed(WriteError.UNSUPPORTED, f"record kind {kind!r}")
        return self._records.get((ref, kind))

    def _upsert_record(self, write: UpsertRecord) -> WriteResult:
        existing = self._find_record(write.key, write.ref, write.kind)
        ref, kind = (
            (existing.ref, existing.kind) if existing else (write.ref, write.kind)
        )
        if write.expected_revision is not None and (
            existing is None or existing.revision != write.expected_revision
        ):
            current = existing.revision if existing else None
            raise _WriteFailed(
                WriteError.CONFLICT,
                f"expected revision {write.expected_revision!r}, found {current!r}",
            )
        overlap = set(write.set) & set(write.clear)
        if overlap:
            raise _WriteFailed(
                WriteError.INVALID,
                f"fields both set and cleared: {sorted(f.value for f in overlap)}",
            )
        values: dict[RecordField, Value] = dict(existing.values) if existing else {}
        for name in write.clear:
            self._writable_spec(name)
            values.pop(name, None)
        for name, value in write.set.items():
            spec = self._writable_spec(name)
            values[name] = self._normalize(spec, value, values.get(name))
        now = self._now()
        record = Record(
            ref=ref,
            kind=kind,
            key=existing.key if existing else self._next("r"),
            url=existing.url if existing else None,
            updated_at=now,
            revision=str(int(existing.revision or "0") + 1) if existing else "1",
            ids=existing.ids if existing else (),
            values=values,
            metadata=existing.metadata if existing else {},
        )
        self._records[(ref, kind)] = record
        self._changes.append(
            RecordChange(
                ref=ref,
                key=record.key,
                kind=kind,
                at=now,
                fields=frozenset(write.set) | write.clear,
            )
        )
        return WriteResult(
            ok=True,
            op=WriteOp.UPSERT_RECORD,
            token=write.token,
            key=record.key,
            ref=ref,
            revision=record.revision,
        )

    def _delete_record(self, write: DeleteRecord) -> WriteResult:
        if write.key is None and write.ref is None:
            raise _WriteFailed(WriteError.INVALID, "delete needs a key or a ref")
        existing = self._find_record(write.key, write.ref, write.kind)
        if existing is None:
            raise _WriteFailed(
                WriteError.NOT_FOUND, f"no {write.kind!r} record at {write.ref!r}"
            )
        del self._records[(existing.ref, existing.kind)]
        self._changes.append(
            RecordChange(
                ref=existing.ref, key=existing.key, kind=existing.kind, at=self._now()
            )
        )
        return WriteResult(
            ok=True,
            op=WriteOp.DELETE_RECORD,
            token=write.token,
            key=existing.key,
            ref=existing.ref,
        )

    def _writable_spec(self, name: RecordField) -> FieldSpec:
        spec = self._capabilities.record_fields.get(name)
        if spec is None or not spec.writable:
            raise _WriteFailed(WriteError.UNSUPPORTED, f"field {name} is not writable")
        return spec

    def _normalize(
        self, spec: FieldSpec, value: Value, previous: Value | None
    ) -> Value:
        try:
            validate_value(self.NAMESPACE, value, spec.field, value)
        except ContractViolation as violation:
            raise _WriteFailed(WriteError.INVALID, violation.detail) from None
        for constraint in spec.constraints:
            if isinstance(constraint, TemporalConstraint) and isinstance(
                value, datetime
            ):
                if isinstance(value, YearDate | MonthDate):
                    if not isinstance(constraint, PartialDates):
                        raise _WriteFailed(
                            WriteError.INVALID,
                            f"{spec.field}: {value!r} is a partial date; this "
                            "field stores full dates only",
                        )
                elif constraint.precision == TemporalPrecision.DATE:
                    utc = value.astimezone(UTC)
                    value = datetime(utc.year, utc.month, utc.day, tzinfo=UTC)
            elif isinstance(constraint, TextConstraint) and isinstance(value, str):
                if (
                    constraint.max_length is not None
                    and len(value) > constraint.max_length
                ):
                    raise _WriteFailed(
                        WriteError.INVALID,
                        f"{spec.field}: {len(value)} characters exceed "
                        f"{constraint.max_length}",
                    )
            elif isinstance(constraint, NumericConstraint):
                if isinstance(value, Rating):
                    scale = (constraint.minimum, constraint.maximum, constraint.step)
                    if tuple(value.scale) != scale:
                        raise _WriteFailed(
                            WriteError.INVALID,
                            f"rating scale {value.scale} is not the provider's {scale}",
                        )
                    _check_number(spec.field, value.value, constraint)
                elif isinstance(value, int | float):
                    _check_number(spec.field, value, constraint)
            elif isinstance(constraint, ProgressConstraint) and isinstance(
                value, Progress
            ):
                if constraint.current is not None and value.current is not None:
                    _check_number(spec.field, value.current, constraint.current)
                old = previous if isinstance(previous, Progress) else None
                value = Progress(
                    current=value.current,
                    total=value.total
                    if constraint.total
                    else (old.total if old else None),
                    unit=value.unit if constraint.unit else (old.unit if old else None),
                )
        if isinstance(value, State):
            value = self._normalize_state(spec, value)
        return value

    @staticmethod
    def _normalize_state(spec: FieldSpec, state: State) -> State:
        if state.native is None:
            for descriptor in spec.values:
                if descriptor.semantic == state.status:
                    return State(descriptor.native, state.status)
            raise _WriteFailed(
                WriteError.INVALID, f"no native status label for {state.status!r}"
            )
        declared = {d.native: d.semantic for d in spec.values}
        if state.native not in declared:
            raise _WriteFailed(
                WriteError.INVALID, f"unknown status label {state.native!r}"
            )
        if state.status is not None and declared[state.native] != state.status:
            raise _WriteFailed(
                WriteError.INVALID,
                f"status label {state.native!r} means {declared[state.native]!r}",
            )
        return State(state.native, declared[state.native])

    def _apply_event_write(self, write: EventWrite) -> WriteResult:
        kinds = {d.native for d in self._capabilities.event_kinds}
        if isinstance(write, AppendEvent):
            self._check_ref(write.ref)
            if write.kind not in kinds:
                raise _WriteFailed(WriteError.UNSUPPORTED, f"event kind {write.kind!r}")
            try:
                check_utc(self.NAMESPACE, write, write.at, "at")
            except ContractViolation as violation:
                raise _WriteFailed(WriteError.INVALID, violation.detail) from None
            existing = self._event_index.get((write.ref, write.kind, write.at))
            if existing is not None:
                # The same (ref, kind, at) is the same event: retries are no-ops.
                return WriteResult(
                    ok=True,
                    op=WriteOp.APPEND_EVENT,
                    token=write.token,
                    key=existing,
                    ref=write.ref,
                )
            stored = self.put_event(
                Event(write.ref, write.kind, write.at, metadata=dict(write.metadata))
            )
            return WriteResult(
                ok=True,
                op=WriteOp.APPEND_EVENT,
                token=write.token,
                key=stored.key,
                ref=stored.ref,
            )
        target = self._find_event(write)
        self._drop_event(target)
        self._changes.append(
            EventChange(ref=target.ref, key=target.key, kind=target.kind, at=target.at)
        )
        return WriteResult(
            ok=True,
            op=WriteOp.DELETE_EVENT,
            token=write.token,
            key=target.key,
            ref=target.ref,
        )

    def _find_event(self, write: DeleteEvent) -> Event:
        if write.key is not None:
            event = self._events.get(write.key)
            if event is None:
                raise _WriteFailed(WriteError.NOT_FOUND, f"no event {write.key!r}")
            return event
        if write.ref is None or write.kind is None or write.at is None:
            raise _WriteFailed(
                WriteError.INVALID, "delete needs a key or the full (ref, kind, at)"
            )
        key = self._event_index.get((write.ref, write.kind, write.at))
        if key is not None:
            return self._events[key]
        raise _WriteFailed(
            WriteError.NOT_FOUND,
            f"no {write.kind!r} event at {write.ref!r} on {write.at.isoformat()}",
        )

    # -- backups ---------------------------------------------------------------------

    async def export_backup(self) -> BackupArtifact | None:
        """Records and events as one JSON document."""
        self._call(("export_backup", None))
        document = {
            "format": _BACKUP_FORMAT,
            "version": 1,
            "records": [
                {
                    "ref": _ref_to_json(r.ref),
                    "kind": r.kind,
                    "key": r.key,
                    "revision": r.revision,
                    "updated_at": r.updated_at.isoformat() if r.updated_at else None,
                    "values": {f.value: _value_to_json(v) for f, v in r.values.items()},
                }
                for r in self._records.values()
            ],
            "events": [
                {
                    "ref": _ref_to_json(e.ref),
                    "kind": e.kind,
                    "at": e.at.isoformat(),
                    "key": e.key,
                    "metadata": dict(e.metadata),
                }
                for e in self.events()
            ],
        }
        content = json.dumps(document, sort_keys=True, indent=1).encode()
        return BackupArtifact(content, ".json", "application/json")

    def check_backup(self, payload: bytes) -> None:
        """Parse the whole payload as `import_backup` would; change nothing.

        Raises:
            ValueError: the payload is not a backup of this provider, naming where.
        """
        self._parse_backup(payload)

    def _parse_backup(self, payload: bytes) -> tuple[list[Any], list[Any]]:
        try:
            document = json.loads(payload)
        except ValueError as exc:
            raise ValueError(f"memory backup: not JSON ({exc})") from None
        if not isinstance(document, dict) or document.get("format") != _BACKUP_FORMAT:
            raise ValueError(f"memory backup: format is not {_BACKUP_FORMAT!r}")
        if document.get("version") != 1:
            raise ValueError(
                f"memory backup: unsupported version {document.get('version')!r}"
            )
        records = [
            self._record_from_json(item, f"records[{i}]")
            for i, item in enumerate(document.get("records") or ())
        ]
        events = [
            self._event_from_json(item, f"events[{i}]")
            for i, item in enumerate(document.get("events") or ())
        ]
        return records, events

    async def import_backup(self, payload: bytes) -> None:
        """Replace every record and event with those of an `export_backup` payload.

        Raises:
            ValueError: the payload is not a backup of this provider, naming where.
        """
        self._call(("import_backup", len(payload)))
        records, events = self._parse_backup(payload)
        self._records.clear()
        self._events.clear()
        self._event_index.clear()
        now = self._now()
        for record in records:
            stored = self._store_record(record)
            self._changes.append(
                RecordChange(ref=stored.ref, key=stored.key, kind=stored.kind, at=now)
            )
        for event in events:
            stored_event = self._store_event(event)
            self._changes.append(
                EventChange(
                    ref=stored_event.ref, key=stored_event.key, kind=event.kind, at=now
                )
            )

    @staticmethod
    def _event_from_json(item: Any, where: str) -> Event:
        try:
            return Event(
                ref=_ref_from_json(item.get("ref"), f"memory backup: {where}.ref"),
                kind=str(item.get("kind", "")),
                at=parse_iso(item["at"]),
                key=item.get("key"),
                metadata=dict(item.get("metadata") or {}),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"memory backup: {where}: {exc!s}") from None

    @staticmethod
    def _record_from_json(item: Any, where: str) -> Record:
        if not isinstance(item, dict):
            raise ValueError(f"memory backup: {where} is not an object")
        values: dict[RecordField, Value] = {}
        for name, data in (item.get("values") or {}).items():
            try:
                record_field = RecordField(name)
            except ValueError:
                raise ValueError(
                    f"memory backup: {where}.values has unknown field {name!r}"
                ) from None
            values[record_field] = _value_from_json(
                data, f"memory backup: {where}.values.{name}"
            )
        updated = item.get("updated_at")
        return Record(
            ref=_ref_from_json(item.get("ref"), f"memory backup: {where}.ref"),
            kind=str(item.get("kind", "")),
            key=item.get("key"),
            revision=item.get("revision"),
            updated_at=parse_iso(updated) if updated else None,
            values=values,
        )

    # -- inbound ---------------------------------------------------------------------

    async def parse_inbound(self, request: InboundRequest) -> InboundResult:
        """Parse the JSON push body described in the module docstring.

        Raises:
            ValueError: the body targets this provider but a change is malformed.
        """
        self._call(("parse_inbound", request.path))
        try:
            document = json.loads(request.body or b"null")
        except ValueError:
            return InboundResult(matched=False)
        if not isinstance(document, dict) or document.get("provider") != self.NAMESPACE:
            return InboundResult(matched=False)
        changes: list[Change] = []
        for index, item in enumerate(document.get("changes") or ()):
            where = f"inbound changes[{index}]"
            if not isinstance(item, dict):
                raise ValueError(f"{where}: not an object")
            ref = _ref_from_json(item["ref"], f"{where}.ref") if "ref" in item else None
            at = parse_iso(item["at"]) if item.get("at") else None
            key = item.get("key")
            match item.get("type"):
                case "node":
                    facets = frozenset(FacetName(f) for f in item.get("facets") or ())
                    changes.append(NodeChange(ref=ref, key=key, at=at, facets=facets))
                case "record":
                    fields = frozenset(RecordField(f) for f in item.get("fields") or ())
                    changes.append(
                        RecordChange(
                            ref=ref,
                            key=key,
                            kind=str(item.get("kind", "")),
                            at=at,
                            fields=fields,
                        )
                    )
                case "event":
                    changes.append(
                        EventChange(
                            ref=ref, key=key, kind=str(item.get("kind", "")), at=at
                        )
                    )
                case other:
                    raise ValueError(
                        f"{where}.type: expected 'node', 'record' or 'event', "
                        f"got {other!r}"
                    )
        return InboundResult(matched=True, changes=tuple(changes))


def _check_number(
    name: RecordField, value: float, constraint: NumericConstraint
) -> None:
    if constraint.minimum is not None and value < constraint.minimum:
        raise _WriteFailed(
            WriteError.INVALID, f"{name}: {value} is below {constraint.minimum}"
        )
    if constraint.maximum is not None and value > constraint.maximum:
        raise _WriteFailed(
            WriteError.INVALID, f"{name}: {value} is above {constraint.maximum}"
        )
    if constraint.step is not None:
        steps = (value - (constraint.minimum or 0)) / constraint.step
        if not math.isclose(steps, round(steps), abs_tol=1e-9):
            raise _WriteFailed(
                WriteError.INVALID,
                f"{name}: {value} is not a multiple of {constraint.step}",
            )


class MemoryProvider(
    MemoryProviderBase,
    SupportsNodeReads,
    SupportsNodeSearch,
    SupportsScan,
    SupportsMapping,
    SupportsRecordReads,
    SupportsRecordWrites,
    SupportsEventReads,
    SupportsEventSummaries,
    SupportsEventWrites,
    SupportsChangeFeed,
    SupportsBackupExports,
    SupportsBackupImports,
    SupportsInboundChanges,
):
    """The in-memory provider with every mixin (default: `full_capabilities()`)."""


@cache
def _memory_class(mixins: tuple[type, ...]) -> type[MemoryProviderBase]:
    names = ", ".join(m.__name__ for m in mixins)
    cls = type("MemoryProvider", (MemoryProviderBase, *mixins), {})
    cls.__doc__ = f"MemoryProvider with: {names}."
    return cls


def memory_provider(
    capabilities: Capabilities,
    *,
    mixins: Iterable[type] | None = None,
    **kwargs: Any,
) -> MemoryProviderBase:
    """A memory provider whose mixins match `capabilities` (or `mixins` when given).

    `kwargs` go to `MemoryProviderBase.__init__` (nodes, records, events, account,
    page_size, clock, logger, config).
    """
    chosen = tuple(mixins) if mixins is not None else mixins_for(capabilities)
    ordered = tuple(m for m in ALL_MIXINS if m in chosen)
    return _memory_class(ordered)(capabilities=capabilities, **kwargs)


def make_list_provider(
    nodes: Iterable[Node] = (),
    records: Iterable[Record] = (),
    *,
    capabilities: Capabilities | None = None,
    **kwargs: Any,
) -> MemoryProviderBase:
    """A single-list tracker target (`list_capabilities()` unless given)."""
    return memory_provider(
        capabilities or list_capabilities(), nodes=nodes, records=records, **kwargs
    )


def make_library_provider(
    nodes: Iterable[Node] = (),
    records: Iterable[Record] = (),
    events: Iterable[Event] = (),
    *,
    writable: bool = False,
    capabilities: Capabilities | None = None,
    **kwargs: Any,
) -> MemoryProviderBase:
    """A media-server source (`library_capabilities(writable=...)` unless given)."""
    return memory_provider(
        capabilities or library_capabilities(writable=writable),
        nodes=nodes,
        records=records,
        events=events,
        **kwargs,
    )
