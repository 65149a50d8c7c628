"""`LocalProvider`: the embedded provider over a local SQLite file.

It implements the whole contract against a file on disk, so a new user can watch
AniBridge work without accounts or servers, the service can be tested end to end, and
provider authors have a complete reference. One file can hold an episode-level
*library* (shows → seasons → episodes and movies, with plays) and an aggregate *list*
(titles keyed by an authority such as AniList, with status/progress/rating/dates).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from logging import Logger
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from rapidfuzz import fuzz

from anibridge.dates import utcnow
from anibridge.faults import checkpoint
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
    Node,
    NodeChange,
    NodeFlag,
    NodeQuery,
    NumericConstraint,
    Page,
    Part,
    ProgressConstraint,
    Provider,
    Record,
    RecordChange,
    RecordField,
    RecordQuery,
    RecordWrite,
    Ref,
    Role,
    ScanItem,
    ScanQuery,
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
    WriteError,
    WriteOp,
    WriteResult,
)
from anibridge.provider.config_keys import ConfigKey
from anibridge.provider.precision import PartialDates
from anibridge.providers.local.database import (
    LocalDatabase,
    NodeRow,
    RecordRow,
    check_file,
    decode_path,
    encode_path,
    record_key,
)
from anibridge.providers.local.document import (
    DocumentError,
    ParsedDocument,
    canonical_at,
    dump_document,
    load_document_bytes,
    parse_document,
)
from anibridge.providers.local.inbound import parse_inbound_payload
from anibridge.providers.local.render import render_document
from anibridge.providers.local.settings import (
    CONFIG_KEYS,
    LocalSettings,
    parse_settings,
)
from anibridge.providers.local.vocabulary import (
    COORDINATE_AXES,
    EVENT_KINDS,
    NODE_KINDS,
    PLAY,
    RECORD_KINDS,
    STATUS_LABELS,
    InvalidValue,
    flags_for,
    stored_fields_to_values,
    value_to_stored,
)

__all__ = ["LocalProvider"]

_DEFAULT_PAGE = 200
_NO_METADATA: Mapping[str, Any] = MappingProxyType({})
"""Shared by every play without metadata (most): one immutable empty mapping."""
_ALL_FACETS = frozenset(FacetName)


class _Rejected(Exception):
    def __init__(self, code: WriteError, message: str) -> None:
        super().__init__(message)
        self.code = code


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise ValueError(f"local provider: invalid cursor {cursor!r}")
    return int(cursor)


def _size(limit: int | None) -> int:
    return limit if limit and limit > 0 else _DEFAULT_PAGE


def _keyset(cursor: str | None, shape: tuple[type, ...]) -> tuple[Any, ...] | None:
    """Decode a keyset cursor (a JSON array of `shape`); None starts at the top.

    Raises:
        ValueError: the cursor is not one this provider handed out.
    """
    if cursor is None:
        return None
    try:
        values = json.loads(cursor)
    except ValueError:
        values = None
    if (
        not isinstance(values, list)
        or len(values) != len(shape)
        or not all(type(v) is t for v, t in zip(values, shape, strict=True))
    ):
        raise ValueError(f"local provider: invalid cursor {cursor!r}")
    return tuple(values)


def _keyset_cursor(*values: object) -> str:
    return json.dumps(list(values), separators=(",", ":"))


def _grouped_page[T](
    keys: Callable[[str | None], Iterable[str]],
    load: Callable[[str], list[T]],
    cursor: str | None,
    limit: int | None,
) -> Page[T]:
    """Page over items grouped by anchor key (groups in key order).

    The cursor is (key, position in that key's group): a page reads only the
    groups it returns items from, never the ones before.
    """
    start = _keyset(cursor, (str, int))
    start_key, skip = start if start is not None else (None, 0)
    size = _size(limit)
    items: list[T] = []
    for key in keys(start_key):
        group = load(key)
        for position in range(skip if key == start_key else 0, len(group)):
            if len(items) == size:
                return Page(tuple(items), _keyset_cursor(key, position))
            items.append(group[position])
    return Page(tuple(items), None)


def _page[T](items: Sequence[T], cursor: str | None, limit: int | None) -> Page[T]:
    start = _offset(cursor)
    size = limit if limit and limit > 0 else _DEFAULT_PAGE
    chunk = tuple(items[start : start + size])
    end = start + len(chunk)
    return Page(chunk, str(end) if end < len(items) else None, len(items))


def _meta_value(value: object) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return tuple(v for v in value if isinstance(v, (str, int, float, bool)))
    return json.dumps(value, sort_keys=True)


def _read_seed(seed: Path) -> bytes:
    """The seed document's bytes.

    Raises:
        DocumentError: the seed file cannot be read (path and reason named).
    """
    try:
        return seed.read_bytes()
    except OSError as exc:
        raise DocumentError(
            f"seed document {seed} cannot be read ({exc.strerror or exc})"
        ) from exc


class LocalProvider(
    Provider,
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
    """A library and/or list kept in a local SQLite file (see docs/local-format.md).

    Config keys: ``path`` (required), ``create``, ``account``, ``title``,
    ``authorities`` (ids of these authorities always resolve, so the file can be a
    sync target for titles it does not hold yet), ``rating_scale``,
    ``date_precision`` (``date`` or ``datetime``), ``notes_max_length``, ``seed`` (a
    document imported when the file is created), ``instance`` (webhook routing),
    ``write_batch_size`` (writes the engine sends per call, default 50).
    """

    DISPLAY_NAME: ClassVar[str] = "Local file"
    NAMESPACE: ClassVar[str] = "local"
    CONFIG_KEYS: ClassVar[Mapping[str, ConfigKey]] = CONFIG_KEYS
    SIGN_IN: ClassVar[str] = "none (a file on this machine)"

    def __init__(
        self, *, logger: Logger, config: dict[str, object] | None = None
    ) -> None:
        """Validate the config; no file is touched before `initialize`.

        Raises:
            ValueError: the config is malformed (the message names the key).
        """
        super().__init__(logger=logger, config=config)
        self.settings: LocalSettings = parse_settings(self.config)
        self._db: LocalDatabase | None = None
        self._account: Account | None = None
        self._authorities: frozenset[str] = frozenset(self.settings.authorities)

    # --- lifecycle -----------------------------------------------------------

    async def initialize(self) -> None:
        """Open (or create and optionally seed) the file.

        Raises:
            LocalFileError: the file is unusable (named in the message).
            DocumentError: the configured seed document is malformed.
        """
        if self._db is not None:
            return
        seed = self.settings.seed
        self._db = LocalDatabase(
            self.settings.path,
            create=self.settings.create,
            fill=None if seed is None else functools.partial(self._plant, seed),
        )
        self._refresh_account()
        self._refresh_authorities()

    def _plant(self, seed: Path, db: LocalDatabase) -> None:
        """Seed a file being created, before it is moved into place.

        The seed and its ``seeded_from`` marker arrive with the file or not at all;
        an existing file (even one emptied on purpose by import or restore) is
        never seeded.
        """
        self._db = db
        try:
            self._import(_read_seed(seed), where=str(seed))
            with db.transaction():
                db.set_meta("seeded_from", str(seed))
        finally:
            self._db = None

    def preflight(self) -> None:
        """Check the file, and the seed it would be created from, writing nothing.

        The app runs this for every provider of a profile before it creates any
        file, so one unusable file leaves the workspace exactly as it was.

        Raises:
            LocalFileError: the file is unusable (named in the message).
            DocumentError: the file would be created and its seed is malformed.
        """
        exists = check_file(self.settings.path, create=self.settings.create)
        seed = self.settings.seed
        if not exists and seed is not None:
            where = str(seed)
            parse_document(
                load_document_bytes(_read_seed(seed), where), self.settings, where=where
            )

    def _refresh_account(self) -> None:
        """The account: config first, then the file's (imported) one, then its name."""
        stored_account = self.db.meta("account")
        account = json.loads(stored_account) if stored_account else {}
        key = self.settings.account or account.get("key") or self.settings.path.stem
        title = self.settings.title or account.get("title") or key
        self._account = Account(key=key, title=title)

    async def close(self) -> None:
        """Close the file."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def account(self) -> Account | None:
        """The account named in the config or the file (None before initialize)."""
        return self._account

    @property
    def db(self) -> LocalDatabase:
        """The open file.

        Raises:
            RuntimeError: `initialize` has not run.
        """
        if self._db is None:
            raise RuntimeError("LocalProvider: call initialize() before using it")
        return self._db

    def _refresh_authorities(self) -> None:
        """Configured authorities plus those of every stored id.

        The file keeps the second set itself (a trigger-maintained table), so
        opening a big library reads a few rows instead of decoding every node.
        """
        self._authorities = frozenset(self.settings.authorities) | frozenset(
            self.db.authorities()
        )

    # --- capabilities --------------------------------------------------------

    def capabilities(self) -> Capabilities:
        """Everything the file supports, with the configured limits."""
        lo, hi, step = self.settings.rating_scale
        # A date-precision file keeps calendar dates, partial ones (a year, a year
        # and month) as such; a datetime file keeps instants only.
        calendar: tuple[TemporalConstraint, ...] = (
            (PartialDates(),)
            if self.settings.date_precision is TemporalPrecision.DATE
            else (TemporalConstraint(TemporalPrecision.DATETIME),)
        )
        fields = {
            RecordField.STATUS: FieldSpec(
                RecordField.STATUS,
                writable=True,
                values=tuple(Descriptor(n, s) for n, s in STATUS_LABELS.items()),
            ),
            RecordField.PROGRESS: FieldSpec(
                RecordField.PROGRESS,
                writable=True,
                constraints=(
                    ProgressConstraint(
                        current=NumericConstraint(minimum=0, step=1),
                        total=False,
                        unit=False,
                    ),
                ),
                description="episodes completed; the total is the title's length",
            ),
            RecordField.RATING: FieldSpec(
                RecordField.RATING,
                writable=True,
                constraints=(NumericConstraint(lo, hi, step),),
            ),
            RecordField.STARTED_AT: FieldSpec(
                RecordField.STARTED_AT, writable=True, constraints=calendar
            ),
            RecordField.FINISHED_AT: FieldSpec(
                RecordField.FINISHED_AT, writable=True, constraints=calendar
            ),
            RecordField.LAST_ACTIVITY_AT: FieldSpec(
                RecordField.LAST_ACTIVITY_AT,
                writable=True,
                constraints=(TemporalConstraint(TemporalPrecision.DATETIME),),
            ),
            RecordField.REPEAT_COUNT: FieldSpec(
                RecordField.REPEAT_COUNT,
                writable=True,
                constraints=(NumericConstraint(minimum=0, step=1),),
            ),
            RecordField.NOTES: FieldSpec(
                RecordField.NOTES,
                writable=True,
                constraints=(TextConstraint(self.settings.notes_max_length),),
            ),
        }
        return Capabilities(
            roles=frozenset({Role.SOURCE, Role.TARGET}),
            facets=_ALL_FACETS,
            node_kinds=NODE_KINDS,
            coordinate_axes=dict(COORDINATE_AXES),
            record_kinds=RECORD_KINDS,
            record_fields=fields,
            event_kinds=EVENT_KINDS,
            write_ops=frozenset(WriteOp),
            change_kinds=frozenset(ChangeKind),
            external_authorities=self._authorities,
        )

    # --- nodes ---------------------------------------------------------------

    def _node(
        self,
        row: NodeRow,
        facets: frozenset[FacetName],
        group: Sequence[NodeRow] | None = None,
    ) -> Node:
        built: dict[FacetName, Any] = {}
        if group is None and FacetName.STRUCTURE in facets:
            group = self.db.nodes_of(row.key)
        elif group is None and FacetName.IDS in facets:
            group = self.db.id_nodes_of(row.key)
        if FacetName.TITLES in facets:
            built[FacetName.TITLES] = Titles(row.title or row.key)
        if FacetName.ARTWORK in facets:
            images = {
                k: v
                for k, v in row.metadata.items()
                if k in ("poster", "banner", "background") and isinstance(v, str)
            }
            built[FacetName.ARTWORK] = Artwork(images)
        if FacetName.IDS in facets:
            built[FacetName.IDS] = Identifiers(self._ids(row, group or ()))
        if FacetName.STRUCTURE in facets:
            built[FacetName.STRUCTURE] = self._structure(row, group or ())
        if FacetName.METADATA in facets:
            built[FacetName.METADATA] = Metadata(
                {k: _meta_value(v) for k, v in sorted(row.metadata.items())}
            )
        return Node(
            ref=row.ref,
            kind=row.kind,
            title=row.title,
            flags=flags_for(row.kind),
            facets=built,
        )

    @staticmethod
    def _ids(row: NodeRow, group: Sequence[NodeRow]) -> tuple[ExternalId, ...]:
        descriptors = list(row.ids)
        if row.kind == "show" and not row.path:
            for season in group:
                if len(season.path) == 1:
                    descriptors.extend(d for d in season.ids if d not in descriptors)
        return tuple(ExternalId.parse(d) for d in descriptors)

    @staticmethod
    def _structure(row: NodeRow, group: Sequence[NodeRow]) -> Structure:
        if row.kind in ("series", "film"):
            count = row.extent or 0
            return Structure(
                ("episode",),
                tuple(Part((Step("episode", n),)) for n in range(1, count + 1)),
            )
        if row.kind == "movie":
            return Structure()
        prefix = row.path
        parts = tuple(
            Part(n.path, n.title, _part_key(n))
            for n in group
            if len(n.path) == 2 and n.path[: len(prefix)] == prefix
        )
        return Structure(("season", "episode"), parts)

    def _lookup_node(self, ref: Ref) -> NodeRow | None:
        row = self.db.node(ref.key, ref.path)
        if row is not None or not ref.path:
            return row
        anchor = self.db.node(ref.key)
        if (
            anchor is not None
            and anchor.kind in ("series", "film")
            and len(ref.path) == 1
            and ref.path[0].axis == "episode"
            and isinstance(ref.path[0].value, int)
            and 1 <= ref.path[0].value <= (anchor.extent or 0)
        ):
            return NodeRow(ref.key, ref.path, "episode", None, (), {}, None)
        return None

    @staticmethod
    def _keep(row: NodeRow, kinds: Iterable[str], flags: frozenset[NodeFlag]) -> bool:
        kinds = tuple(kinds)
        if kinds and row.kind not in kinds:
            return False
        return flags <= flags_for(row.kind)

    async def fetch_nodes(self, query: NodeQuery) -> Page[Node]:
        """Nodes by ref (anchors, seasons, episodes), or all nodes matching filters."""
        kinds, flags = query.native_node_kinds, query.flags
        if query.refs:
            rows = [r for r in map(self._lookup_node, query.refs) if r is not None]
            rows = [r for r in rows if self._keep(r, kinds, flags)]
            page = _page(rows, query.cursor, query.limit)
        else:
            page = _grouped_page(
                lambda start: self.db.keys_from("nodes", start),
                lambda key: [
                    r for r in self.db.nodes_of(key) if self._keep(r, kinds, flags)
                ],
                query.cursor,
                query.limit,
            )
        return Page(
            tuple(self._node(r, query.facets) for r in page.items),
            page.cursor,
            page.total,
        )

    async def search_nodes(
        self,
        query: str,
        *,
        limit: int = 10,
        facets: frozenset[FacetName] = frozenset(),
    ) -> Page[Node]:
        """Anchors whose title or ids match `query` (fuzzy, best first)."""
        needle = query.strip().lower()
        scored: list[tuple[float, str, NodeRow]] = []
        if needle:
            for row in self.db.anchor_rows():
                key = row.key
                title = (row.title or "").lower()
                if needle in title or any(needle == d.lower() for d in row.ids):
                    score = 100.0
                else:
                    score = float(fuzz.WRatio(needle, title)) if title else 0.0
                if score >= 75:
                    scored.append((score, key, row))
        scored.sort(key=lambda t: (-t[0], t[1]))
        chosen = scored[: max(limit, 0)]
        return Page(
            tuple(self._node(r, facets) for _, _, r in chosen), None, len(scored)
        )

    async def scan(self, query: ScanQuery) -> Page[ScanItem]:
        """Anchors (optionally with their records), sorted by key, paged.

        A full scan pages in SQL by key (keyset), so each page reads only its own
        anchors, their parts and records; `sources` scans read just those keys.
        """
        prefixes: dict[str, tuple[Step, ...]] = {}
        if query.sources:
            keys = sorted({ref.key for ref in query.sources})
            prefixes = {ref.key: ref.path for ref in query.sources}
            anchors = [
                row
                for row in self.db.anchors(keys)
                if self._keep(row, query.native_node_kinds, query.flags)
                and (not query.require_activity or self.db.has_activity(row.key))
            ]
            page = _page(anchors, query.cursor, query.limit)
        else:
            after = _keyset(query.cursor, (str,))
            size = _size(query.limit)
            rows = self.db.anchors_after(
                None if after is None else after[0],
                size + 1,
                kinds=self._kinds(query.native_node_kinds, query.flags),
                require_activity=query.require_activity,
            )
            more = len(rows) > size
            rows = rows[:size]
            page = Page(
                tuple(rows), _keyset_cursor(rows[-1].key) if more and rows else None
            )
        items = []
        wanted = query.fields
        kinds = query.native_record_kinds
        for row in page.items:
            records: tuple[Record, ...] = ()
            if query.with_records:
                prefix = prefixes.get(row.key, ())
                records = tuple(
                    self._record(r, wanted, row)
                    for r in self.db.records_of(row.key)
                    if r.path[: len(prefix)] == prefix
                    and (not kinds or r.kind in kinds)
                )
            items.append(ScanItem(self._node(row, query.facets), records))
        return Page(tuple(items), page.cursor, page.total)

    @staticmethod
    def _kinds(
        kinds: Iterable[str], flags: frozenset[NodeFlag]
    ) -> tuple[str, ...] | None:
        """The native kinds a (kinds, flags) filter admits; None admits all."""
        kinds = tuple(kinds)
        if not kinds and not flags:
            return None
        return tuple(
            d.native
            for d in NODE_KINDS
            if (not kinds or d.native in kinds) and flags <= flags_for(d.native)
        )

    # --- mapping -------------------------------------------------------------

    async def resolve(self, ids: Sequence[ExternalId]) -> Sequence[Match]:
        """Refs of nodes carrying each id; open authorities always resolve."""
        matches: list[Match] = []
        for ext in ids:
            found = self.db.nodes_with_id(ext.descriptor)
            for row in found:
                matches.append(Match(ext, row.ref))
            if (
                not found
                and ext.scope is None
                and ext.authority in self.settings.authorities
            ):
                matches.append(Match(ext, Ref(ext.descriptor)))
        return matches

    # --- records -------------------------------------------------------------

    def _record(
        self,
        row: RecordRow,
        wanted: frozenset[RecordField],
        anchor: NodeRow | None,
    ) -> Record:
        anchor = anchor if anchor is not None else self.db.node(row.key)
        total = anchor.extent if anchor is not None and not row.path else None
        ids: tuple[ExternalId, ...] = ()
        if anchor is not None and not row.path:
            ids = tuple(ExternalId.parse(d) for d in anchor.ids)
        return Record(
            ref=row.ref,
            kind=row.kind,
            key=row.record_key,
            updated_at=datetime.fromisoformat(row.updated_at),
            revision=str(row.revision),
            ids=ids,
            values=stored_fields_to_values(
                row.fields, self.settings, wanted, total=total
            ),
        )

    async def fetch_records(self, query: RecordQuery) -> Page[Record]:
        """Records at exactly the given refs and/or with the given keys."""
        rows: list[RecordRow] = []
        seen: set[str] = set()
        if query.refs or query.keys:
            for ref in query.refs:
                for kind in [d.native for d in RECORD_KINDS]:
                    row = self.db.record(ref, kind)
                    if row is not None and row.record_key not in seen:
                        rows.append(row)
                        seen.add(row.record_key)
            for key in query.keys:
                row = self.db.record_by_key(key)
                if row is not None and row.record_key not in seen:
                    rows.append(row)
                    seen.add(row.record_key)
        kinds = query.native_record_kinds
        if query.refs or query.keys:
            rows = [r for r in rows if not kinds or r.kind in kinds]
            page = _page(rows, query.cursor, query.limit)
        else:
            page = _grouped_page(
                lambda start: self.db.keys_from("records", start),
                lambda key: [
                    r for r in self.db.records_of(key) if not kinds or r.kind in kinds
                ],
                query.cursor,
                query.limit,
            )
        wanted = query.fields
        return Page(
            tuple(self._record(r, wanted, None) for r in page.items),
            page.cursor,
            page.total,
        )

    def _writable_node(self, ref: Ref, *, create: bool) -> NodeRow:
        row = self.db.node(ref.key, ref.path)
        if row is not None:
            return row
        if ref.path:
            anchor = self.db.node(ref.key)
            if anchor is not None and anchor.kind in ("series", "film"):
                raise _Rejected(
                    WriteError.UNSUPPORTED,
                    f"{ref!r}: a {anchor.kind} keeps state on the title, not per part",
                )
            raise _Rejected(WriteError.NOT_FOUND, f"{ref!r}: no such part in this file")
        try:
            ext = ExternalId.parse(ref.key)
        except ValueError:
            ext = None
        if (
            create
            and ext is not None
            and ext.scope is None
            and ext.authority in self.settings.authorities
        ):
            row = NodeRow(ref.key, (), "series", None, (ref.key,), {}, None, auto=True)
            self.db.put_node(row)
            self.db.add_change("node", ref, "", canonical_at(utcnow()))
            return row
        raise _Rejected(WriteError.NOT_FOUND, f"{ref!r}: no such title in this file")

    def _upsert(self, write: UpsertRecord, now: str) -> WriteResult:
        if write.kind != "":
            raise _Rejected(
                WriteError.UNSUPPORTED, f"record kind {write.kind!r} is not kept here"
            )
        ref = write.ref
        existing = self.db.record_by_key(write.key) if write.key else None
        if write.key and existing is None:
            raise _Rejected(WriteError.NOT_FOUND, f"no record with key {write.key!r}")
        if existing is not None:
            ref = existing.ref
        else:
            existing = self.db.record(ref, write.kind)
        if write.expected_revision is not None and (
            existing is None or str(existing.revision) != write.expected_revision
        ):
            have = None if existing is None else str(existing.revision)
            raise _Rejected(
                WriteError.CONFLICT,
                f"{ref!r}: expected revision {write.expected_revision}, found {have}",
            )
        node = self._writable_node(ref, create=True)
        fields = dict(existing.fields) if existing else {}
        for rf, value in write.set.items():
            try:
                fields[RecordField(rf).value] = value_to_stored(
                    RecordField(rf), value, self.settings
                )
            except InvalidValue as exc:
                raise _Rejected(WriteError.INVALID, f"{ref!r}: {exc}") from None
        for rf in write.clear:
            fields.pop(RecordField(rf).value, None)
        progress = fields.get(RecordField.PROGRESS.value)
        if (
            isinstance(progress, int)
            and not ref.path
            and node.extent is not None
            and progress > node.extent
        ):
            raise _Rejected(
                WriteError.INVALID,
                f"{ref!r}: progress {progress} exceeds the title's "
                f"{node.extent} episodes",
            )
        rkey = record_key(ref, write.kind)
        if existing is not None and existing.fields == fields:
            return WriteResult(
                True,
                WriteOp.UPSERT_RECORD,
                write.token,
                rkey,
                ref,
                str(existing.revision),
            )
        changed = {
            k
            for k in set(fields) | set(existing.fields if existing else {})
            if fields.get(k) != (existing.fields.get(k) if existing else None)
        }
        revision = (existing.revision if existing else 0) + 1
        row = RecordRow(rkey, ref.key, ref.path, write.kind, fields, now, revision)
        self.db.put_record(row)
        self.db.add_change("record", ref, write.kind, now, sorted(changed))
        return WriteResult(
            True, WriteOp.UPSERT_RECORD, write.token, rkey, ref, str(revision)
        )

    def _delete_record(self, write: DeleteRecord, now: str) -> WriteResult:
        if write.key is not None:
            row = self.db.record_by_key(write.key)
        elif write.ref is not None:
            row = self.db.record(write.ref, write.kind)
        else:
            raise _Rejected(WriteError.INVALID, "DeleteRecord needs a key or a ref")
        if row is None:
            raise _Rejected(
                WriteError.NOT_FOUND,
                f"no record {write.key or (repr(write.ref) + '#' + write.kind)!r}",
            )
        self.db.delete_record(row.record_key)
        self.db.add_change("record", row.ref, row.kind, now, sorted(row.fields))
        self._drop_if_auto(row.key, now)
        return WriteResult(
            True, WriteOp.DELETE_RECORD, write.token, row.record_key, row.ref
        )

    def _drop_if_auto(self, key: str, now: str) -> None:
        """Forget a title a write created once nothing refers to it any more.

        Undoing a run that created an entry must leave the file as it was, not with
        an empty catalog row the run happened to add.
        """
        anchor = self.db.node(key)
        if anchor is not None and anchor.auto and not self.db.has_activity(key):
            self.db.delete_anchor(key)
            self.db.add_change("node", Ref(key), "", now)

    async def write_records(
        self, writes: Sequence[RecordWrite]
    ) -> Sequence[WriteResult]:
        """Apply each write atomically on its own; failures do not affect others."""
        results: list[WriteResult] = []
        with self.db.transaction():
            for write in writes:
                results.append(self._apply_one(write))
                checkpoint("local.write")  # a kill here rolls the batch back
        return results

    def _apply_one(self, write: RecordWrite | EventWrite) -> WriteResult:
        op = {
            UpsertRecord: WriteOp.UPSERT_RECORD,
            DeleteRecord: WriteOp.DELETE_RECORD,
            AppendEvent: WriteOp.APPEND_EVENT,
            DeleteEvent: WriteOp.DELETE_EVENT,
        }.get(type(write))
        if op is None:
            return WriteResult(
                False,
                WriteOp.UPSERT_RECORD,
                None,
                code=WriteError.INVALID,
                error=f"not a write: {type(write).__name__}",
            )
        now = canonical_at(utcnow())
        try:
            with self.db.transaction():
                if isinstance(write, UpsertRecord):
                    return self._upsert(write, now)
                if isinstance(write, DeleteRecord):
                    return self._delete_record(write, now)
                if isinstance(write, AppendEvent):
                    return self._append(write, now)
                return self._delete_event(write, now)
        except _Rejected as exc:
            ref = getattr(write, "ref", None)
            return WriteResult(
                False,
                op,
                write.token,
                getattr(write, "key", None),
                ref,
                code=exc.code,
                error=str(exc),
            )
        except Exception as exc:
            self.log.exception("local provider: write failed")
            return WriteResult(
                False, op, write.token, code=WriteError.INTERNAL, error=str(exc)
            )

    # --- events --------------------------------------------------------------

    def _event(self, row: Any) -> Event:
        metadata = row.metadata
        return Event(
            ref=row.ref,
            kind=row.kind,
            at=datetime.fromisoformat(row.at),
            key=str(row.id),
            metadata=(
                {k: _meta_value(v) for k, v in sorted(metadata.items())}
                if metadata
                else _NO_METADATA
            ),
        )

    def _events_for(self, refs: Sequence[Ref], kinds: Sequence[str]) -> list[Any]:
        rows = []
        wanted = set(refs)
        for key in dict.fromkeys(r.key for r in refs):
            rows.extend(e for e in self.db.events_of(key) if e.ref in wanted)
        return [e for e in rows if not kinds or e.kind in kinds]

    async def fetch_events(self, query: EventQuery) -> Page[Event]:
        """Plays at exactly the given refs (all plays when none are given).

        All plays are paged in SQL by (anchor, time, id): a page reads and decodes
        only its own events, so reading a whole history is linear in its size.
        """
        if query.refs:
            rows = self._events_for(query.refs, query.native_event_kinds)
            page = _page(rows, query.cursor, query.limit)
            return Page(tuple(map(self._event, page.items)), page.cursor, page.total)
        after = _keyset(query.cursor, (str, str, int))
        size = _size(query.limit)
        found = self.db.events_after(after, size + 1, query.native_event_kinds)
        more = len(found) > size
        found = found[:size]
        cursor = None
        if more and found:
            last = found[-1]
            cursor = _keyset_cursor(last.key, last.at, last.id)
        return Page(tuple(map(self._event, found)), cursor)

    async def fetch_event_summaries(
        self, query: EventSummaryQuery
    ) -> Page[EventSummary]:
        """Play counts with first/last times per (ref, kind).

        Without refs SQLite counts them (grouped, keyset-paged); no play is
        decoded.
        """
        if query.refs:
            groups: dict[tuple[Ref, str], list[datetime]] = {}
            for row in self._events_for(query.refs, query.native_event_kinds):
                groups.setdefault((row.ref, row.kind), []).append(
                    datetime.fromisoformat(row.at)
                )
            summaries = [
                EventSummary(ref, kind, len(times), min(times), max(times))
                for (ref, kind), times in groups.items()
            ]
            return _page(summaries, query.cursor, query.limit)
        after = _keyset(query.cursor, (str, str, str))
        size = _size(query.limit)
        found = self.db.summaries_after(after, size + 1, query.native_event_kinds)
        more = len(found) > size
        found = found[:size]
        cursor = None
        if more and found:
            key, path, kind = found[-1][:3]
            cursor = _keyset_cursor(key, encode_path(path), kind)
        return Page(
            tuple(
                EventSummary(
                    Ref(key, path),
                    kind,
                    count,
                    datetime.fromisoformat(first),
                    datetime.fromisoformat(last),
                )
                for key, path, kind, count, first, last in found
            ),
            cursor,
        )

    def _append(self, write: AppendEvent, now: str) -> WriteResult:
        if write.kind != PLAY:
            raise _Rejected(
                WriteError.UNSUPPORTED, f"event kind {write.kind!r} is not kept here"
            )
        if write.at.tzinfo is None or write.at.utcoffset() is None:
            raise _Rejected(
                WriteError.INVALID, f"naive event time {write.at.isoformat()}"
            )
        node = self._writable_node(write.ref, create=True)
        if node.kind in ("show", "season"):
            raise _Rejected(
                WriteError.UNSUPPORTED, f"{write.ref!r}: plays belong on episodes"
            )
        at = canonical_at(write.at)
        found = self.db.find_event(write.ref, write.kind, at)
        if found is not None:
            return WriteResult(
                True, WriteOp.APPEND_EVENT, write.token, str(found.id), write.ref
            )
        metadata = {k: v for k, v in write.metadata.items()}
        event_id = self.db.add_event(write.ref, write.kind, at, metadata)
        self.db.add_change("event", write.ref, write.kind, now)
        return WriteResult(
            True, WriteOp.APPEND_EVENT, write.token, str(event_id), write.ref
        )

    def _delete_event(self, write: DeleteEvent, now: str) -> WriteResult:
        row = None
        if write.key is not None:
            if not write.key.isdigit():
                raise _Rejected(
                    WriteError.NOT_FOUND, f"no event with key {write.key!r}"
                )
            row = self.db.event_by_id(int(write.key))
        elif write.ref is not None and write.kind is not None and write.at is not None:
            if write.at.tzinfo is None:
                raise _Rejected(WriteError.INVALID, "naive event time")
            row = self.db.find_event(write.ref, write.kind, canonical_at(write.at))
        else:
            raise _Rejected(
                WriteError.INVALID, "DeleteEvent needs a key or (ref, kind, at)"
            )
        if row is None:
            raise _Rejected(WriteError.NOT_FOUND, "no such event")
        self.db.delete_event(row.id)
        self.db.add_change("event", row.ref, row.kind, now)
        self._drop_if_auto(row.key, now)
        return WriteResult(
            True, WriteOp.DELETE_EVENT, write.token, str(row.id), row.ref
        )

    async def write_events(self, writes: Sequence[EventWrite]) -> Sequence[WriteResult]:
        """Append/delete plays; a repeated (ref, kind, at) append is the same play."""
        results: list[WriteResult] = []
        with self.db.transaction():
            for write in writes:
                results.append(self._apply_one(write))
                checkpoint("local.write")  # a kill here rolls the batch back
        return results

    # --- change feed ---------------------------------------------------------

    async def poll_changes(self, query: ChangeQuery) -> Page[Change]:
        """Changes after `cursor` (all retained changes when it is None).

        The returned cursor is always the position to resume from, so a caller can
        store it even when nothing changed.
        """
        after = _offset(query.cursor)
        size = query.limit if query.limit and query.limit > 0 else 500
        rows = self.db.changes_after(after, size)
        changes: list[Change] = []
        for row in rows:
            ref = Ref(row["key"], decode_path(row["path"]))
            at = datetime.fromisoformat(row["at"])
            detail = json.loads(row["detail"])
            if row["type"] == "record":
                changes.append(
                    RecordChange(
                        ref,
                        record_key(ref, row["kind"]),
                        row["kind"],
                        at,
                        frozenset(RecordField(d) for d in detail),
                    )
                )
            elif row["type"] == "event":
                changes.append(EventChange(ref, None, row["kind"], at))
            else:
                changes.append(NodeChange(ref, None, at, frozenset()))
        position = rows[-1]["seq"] if rows else max(after, 0)
        return Page(tuple(changes), str(position))

    # --- backups and documents -----------------------------------------------

    def export_document(self) -> dict[str, Any]:
        """The file's whole state as a document (docs/local-format.md)."""
        account = {}
        if self._account is not None:
            account = {"key": self._account.key, "title": self._account.title}
        return render_document(self.db, self.settings, account)

    async def export_backup(self) -> BackupArtifact | None:
        """The whole file as a JSON document (the portable backup format)."""
        content = dump_document(self.export_document(), fmt="json")
        return BackupArtifact(content, ".json", "application/json")

    def check_backup(self, payload: bytes, *, where: str = "backup payload") -> None:
        """Parse and validate the whole document as an import would; write nothing.

        Raises:
            DocumentError: the payload is malformed (where and key path named).
        """
        parse_document(load_document_bytes(payload, where), self.settings, where=where)

    async def import_backup(self, payload: bytes) -> None:
        """Replace the file's state with a document (YAML or JSON).

        Raises:
            DocumentError: the payload is malformed; nothing is changed.
        """
        self._import(payload, where="backup payload")

    def import_document(self, data: bytes, *, where: str) -> int:
        """Replace the file's state with a document; returns the number of items.

        Raises:
            DocumentError: malformed document (file and key path named); nothing
                is changed.
        """
        return self._import(data, where=where)

    def _import(self, data: bytes, *, where: str) -> int:
        parsed = parse_document(
            load_document_bytes(data, where), self.settings, where=where
        )
        now = canonical_at(utcnow())
        db = self.db
        with db.transaction():
            before_records = db.all_records()
            before_anchors = set(db.anchor_keys())
            db.clear_catalog()
            self._store(parsed, now)
            checkpoint("local.import")  # a kill here rolls the whole import back
            after_anchors = set(db.anchor_keys())
            for key in sorted(before_anchors | after_anchors):
                db.add_change("node", Ref(key), "", now)
            touched = {(r.ref, r.kind) for r in before_records}
            touched |= {(r.ref, r.kind) for r in db.all_records()}
            for ref, kind in sorted(touched, key=lambda t: (t[0].key, repr(t[0].path))):
                db.add_change("record", ref, kind, now)
            if parsed.account:
                db.set_meta("account", json.dumps(parsed.account, sort_keys=True))
        self._refresh_authorities()
        if self._account is not None:
            self._refresh_account()
        return len(after_anchors)

    def _store(self, parsed: ParsedDocument, now: str) -> None:
        db = self.db
        for node in parsed.nodes:
            db.put_node(node)
        for rec in parsed.records:
            db.put_record(
                RecordRow(
                    record_key(rec.ref, ""),
                    rec.ref.key,
                    rec.ref.path,
                    "",
                    rec.fields,
                    rec.updated_at or now,
                    rec.revision or 1,
                )
            )
        for ev in parsed.events:
            db.add_event(ev.ref, PLAY, ev.at, ev.metadata)

    # --- inbound -------------------------------------------------------------

    async def parse_inbound(self, request: InboundRequest) -> InboundResult:
        """Changes announced by a local-change webhook (docs/local-format.md)."""
        instance = self.settings.instance or self.settings.path.stem
        return parse_inbound_payload(request, instance=instance)


def _part_key(row: NodeRow) -> str:
    return row.key + "/" + "/".join(f"{s.axis}={s.value}" for s in row.path)
