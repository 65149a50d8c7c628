"""The SQLite file behind a local provider: schema, opening, and row access.

Plain `sqlite3` on purpose: the file is a small, portable document that a person may
copy around, and every operation is a short local statement. A file that is not an
AniBridge local file (or not SQLite at all) is refused with its path in the message
instead of being "repaired" by creating tables in it.

A new file is made atomically: schema, seed data and the ``seeded_from`` marker are
written to a temporary sibling, which is then linked into place. A process killed
while creating or seeding leaves no file (only a temporary one the next start
removes), so there is never a half-made file; an existing file that is empty (zero
bytes), or an SQLite database without the format's tables, is refused as foreign,
never silently treated as new.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from anibridge.faults import checkpoint
from anibridge.provider.base import Ref, Step

__all__ = [
    "FORMAT_VERSION",
    "EventRow",
    "LocalDatabase",
    "LocalFileError",
    "NodeRow",
    "RecordRow",
    "check_file",
    "decode_path",
    "encode_path",
    "record_key",
    "ref_string",
]

FORMAT_VERSION = "1"
_IN_BATCH = 500  # keys per `IN (...)` query, far below SQLite's variable limit
_MAGIC = "anibridge-local"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE nodes (
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT,
    ids TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    extent INTEGER,
    auto INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, path)
);
CREATE TABLE node_ids (
    descriptor TEXT NOT NULL,
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (descriptor, key, path)
);
CREATE INDEX node_ids_by_node ON node_ids (key, path);
CREATE TABLE records (
    record_key TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    fields TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    revision INTEGER NOT NULL,
    UNIQUE (key, path, kind)
);
CREATE INDEX records_by_anchor ON records (key);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    UNIQUE (key, path, kind, at)
);
CREATE INDEX events_by_anchor ON events (key);
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '[]'
);
"""

# Added after the first release of format 1, in a backward-compatible way: an older
# AniBridge ignores them (and its writes still keep `authorities` right, because
# the triggers live in the file). `LocalDatabase` adds them to older files once.
_UPGRADE: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS events_in_order ON events (key, at, id)",
    "CREATE TABLE IF NOT EXISTS authorities "
    "(name TEXT PRIMARY KEY, ids INTEGER NOT NULL)",
    """CREATE TRIGGER IF NOT EXISTS node_ids_counted AFTER INSERT ON node_ids BEGIN
        INSERT OR IGNORE INTO authorities (name, ids)
            VALUES (substr(NEW.descriptor, 1, instr(NEW.descriptor, ':') - 1), 0);
        UPDATE authorities SET ids = ids + 1
            WHERE name = substr(NEW.descriptor, 1, instr(NEW.descriptor, ':') - 1);
    END""",
    """CREATE TRIGGER IF NOT EXISTS node_ids_uncounted AFTER DELETE ON node_ids BEGIN
        UPDATE authorities SET ids = ids - 1
            WHERE name = substr(OLD.descriptor, 1, instr(OLD.descriptor, ':') - 1);
        DELETE FROM authorities WHERE ids <= 0;
    END""",
)
_UPGRADE_MARK = "authorities"
"""The table whose absence says a file predates `_UPGRADE`."""


class LocalFileError(RuntimeError):
    """The local SQLite file cannot be used; the message names the file and why."""


def encode_path(path: Sequence[Step]) -> str:
    """Canonical text of a ref path (``[["season",1],["episode",3]]``)."""
    return json.dumps([[s.axis, s.value] for s in path], separators=(",", ":"))


@functools.lru_cache(maxsize=4096)
def decode_path(text: str) -> tuple[Step, ...]:
    """Inverse of `encode_path` (cached: a library repeats the same few paths).

    Steps are frozen, so every row with the same path can share one tuple.
    """
    return tuple(Step(str(axis), value) for axis, value in json.loads(text))


def ref_string(ref: Ref) -> str:
    """Readable, stable text of a ref (``key/season=1/episode=3``)."""
    if not ref.path:
        return ref.key
    return ref.key + "/" + "/".join(f"{s.axis}={s.value}" for s in ref.path)


def record_key(ref: Ref, kind: str) -> str:
    """The stable record id the file gives a (ref, kind) pair."""
    return ref_string(ref) + (f"#{kind}" if kind else "")


@dataclass(frozen=True, slots=True)
class NodeRow:
    """One stored catalog node (an anchor when `path` is empty)."""

    key: str
    path: tuple[Step, ...]
    kind: str
    title: str | None
    ids: tuple[str, ...]
    metadata: dict[str, object]
    extent: int | None
    auto: bool = False

    @property
    def ref(self) -> Ref:
        """The node's contract ref."""
        return Ref(self.key, self.path)


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One stored record in its plain field form."""

    record_key: str
    key: str
    path: tuple[Step, ...]
    kind: str
    fields: dict[str, object]
    updated_at: str
    revision: int

    @property
    def ref(self) -> Ref:
        """The record's contract ref."""
        return Ref(self.key, self.path)


@dataclass(frozen=True, slots=True)
class EventRow:
    """One stored event."""

    id: int
    key: str
    path: tuple[Step, ...]
    kind: str
    at: str
    metadata: dict[str, object]

    @property
    def ref(self) -> Ref:
        """The event's contract ref."""
        return Ref(self.key, self.path)


def _ids(text: str) -> tuple[str, ...]:
    # Most rows are episodes without ids or metadata: skip the JSON decoder.
    return () if text == "[]" else tuple(json.loads(text))


_EMPTY: dict[str, object] = {}
"""Shared by every row without metadata; rows are read-only values."""


def _object(text: str) -> dict[str, object]:
    return _EMPTY if text == "{}" else json.loads(text)


@functools.lru_cache(maxsize=4096)
def _shared(text: str) -> str:
    """One object for equal texts read from the file (key, kind, episode title).

    A snapshot of 50,000 shows would otherwise hold one copy per episode and play,
    about a fifth of its memory. Reads are ordered by anchor, so a small cache
    catches a key's rows and the titles every show repeats, and it keeps nothing
    much alive after the run.
    """
    return text


def _node(row: sqlite3.Row) -> NodeRow:
    title = row["title"]
    return NodeRow(
        key=_shared(row["key"]),
        path=decode_path(row["path"]),
        kind=_shared(row["kind"]),
        title=None if title is None else _shared(title),
        ids=_ids(row["ids"]),
        metadata=_object(row["metadata"]),
        extent=row["extent"],
        auto=bool(row["auto"]),
    )


def _record(row: sqlite3.Row) -> RecordRow:
    return RecordRow(
        record_key=row["record_key"],
        key=row["key"],
        path=decode_path(row["path"]),
        kind=row["kind"],
        fields=json.loads(row["fields"]),
        updated_at=row["updated_at"],
        revision=row["revision"],
    )


def _event(row: sqlite3.Row) -> EventRow:
    return EventRow(
        id=row["id"],
        key=_shared(row["key"]),
        path=decode_path(row["path"]),
        kind=_shared(row["kind"]),
        at=row["at"],
        metadata=_object(row["metadata"]),
    )


def _format_problem(conn: sqlite3.Connection, tables: set[str]) -> str | None:
    """Why an existing SQLite file is not a local file (None: it is)."""
    if not tables:
        return (
            "it is an SQLite database without tables (AniBridge creates its files "
            "whole, so this one is someone else's or was emptied); delete it to "
            "start a new one"
        )
    if "meta" not in tables:
        return "it has no 'meta' table"
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if meta.get("format") != _MAGIC:
        return "its meta table does not say format=anibridge-local"
    if meta.get("version") != FORMAT_VERSION:
        return (
            f"it has format version {meta.get('version')!r}; this AniBridge "
            f"reads version {FORMAT_VERSION}"
        )
    return None


def _unreadable(path: Path, exc: sqlite3.DatabaseError) -> LocalFileError:
    return LocalFileError(
        f"local provider file {path} is not a readable SQLite database "
        f"({exc}); point 'path' at an AniBridge local file or move it away"
    )


def _not_local(path: Path, problem: str) -> LocalFileError:
    return LocalFileError(
        f"local provider file {path} is not an AniBridge local file: {problem}"
    )


def check_file(path: Path, *, create: bool) -> bool:
    """Whether `path` exists, after checking it is usable — without writing anything.

    Run before any file is created, so a profile whose second provider's file is
    corrupt fails before the first one's file (or the store) appears.

    Raises:
        LocalFileError: missing with `create` off, not SQLite, or not a local file.
    """
    if not path.exists():
        if not create:
            raise LocalFileError(
                f"local provider file {path} does not exist (set 'create: true' "
                "in its config to start an empty one)"
            )
        return False
    try:
        empty = path.is_file() and path.stat().st_size == 0
    except OSError as exc:
        raise LocalFileError(
            f"local provider file {path} cannot be read ({exc.strerror or exc})"
        ) from exc
    if empty:
        raise LocalFileError(
            f"local provider file {path} is empty (0 bytes), not an AniBridge local "
            "file; delete it to start a new one, or point 'path' elsewhere"
        )
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            tables = {
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
            }
            problem = _format_problem(conn, tables)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _unreadable(path, exc) from exc
    if problem:
        raise _not_local(path, problem)
    return True


def _sync_folder(folder: Path) -> None:
    """Make a rename/link in `folder` durable (best effort where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class LocalDatabase:
    """Row-level access to one local file; the provider owns the semantics."""

    def __init__(
        self,
        path: Path,
        *,
        create: bool,
        fill: Callable[[LocalDatabase], None] | None = None,
    ) -> None:
        """Open the file at `path`, or create it (then `fill` it) atomically.

        Args:
            path: The file.
            create: Create the file when it does not exist.
            fill: Called with the new database before it is moved into place
                (seeding); never called for an existing file.

        Raises:
            LocalFileError: missing with `create` off, empty, unreadable, not
                SQLite, or a SQLite file that is not an AniBridge local file.
        """
        self.path = path
        self.created = False
        if not check_file(path, create=create):
            self._create(fill)
            self.created = True
            return
        try:
            self._conn = self._connect(path)
            tables = {
                row[0]
                for row in self._conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
            }
        except sqlite3.DatabaseError as exc:
            raise _unreadable(path, exc) from exc
        problem = _format_problem(self._conn, tables)
        if problem:
            self._conn.close()
            raise _not_local(path, problem)
        if _UPGRADE_MARK not in tables:
            self._upgrade()

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn

    def _create(self, fill: Callable[[LocalDatabase], None] | None) -> None:
        """Build the file beside its place, then link it there in one step.

        A kill at any point leaves either no file or the whole one: schema, data
        and markers never appear half-made under `path`.
        """
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.creating")
        for leftover in (temp, temp.with_name(temp.name + "-journal")):
            leftover.unlink(missing_ok=True)  # from a process killed while creating
        self._conn = self._connect(temp)
        try:
            with self.transaction():
                self._create_schema()
            checkpoint("local.create")
            if fill is not None:
                fill(self)
            checkpoint("local.seeded")
            self._conn.close()
            with open(temp, "rb") as fh:
                os.fsync(fh.fileno())
            try:
                os.link(temp, path)  # fails, unlike a rename, if `path` appeared
            except FileExistsError:
                raise LocalFileError(
                    f"local provider file {path} appeared while AniBridge was "
                    "creating it (another process?); nothing was overwritten"
                ) from None
            temp.unlink()
            _sync_folder(path.parent)
        except BaseException:
            with contextlib.suppress(Exception):
                self._conn.close()
            temp.unlink(missing_ok=True)
            raise
        self._conn = self._connect(path)

    def _create_schema(self) -> None:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                self._conn.execute(statement)
        for statement in _UPGRADE:
            self._conn.execute(statement)
        self._conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("format", _MAGIC), ("version", FORMAT_VERSION)],
        )

    def _upgrade(self) -> None:
        """Add `_UPGRADE` to a file made before it, in one transaction.

        Either the index, the authorities table (filled from the ids already
        there) and its triggers all appear, or — on any error, or a crash — none
        does and the next open tries again; the data itself is never touched.
        """
        try:
            with self.transaction():
                for statement in _UPGRADE:
                    self._conn.execute(statement)
                self._conn.execute(
                    "INSERT INTO authorities (name, ids) "
                    "SELECT substr(descriptor, 1, instr(descriptor, ':') - 1), "
                    "count(*) FROM node_ids GROUP BY 1"
                )
        except sqlite3.DatabaseError as exc:
            raise LocalFileError(
                f"local provider file {self.path} could not be upgraded ({exc}); "
                "it is unchanged"
            ) from exc

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work (nested calls become savepoints)."""
        if self._conn.in_transaction:
            name = f"sp{id(object())}"
            self._conn.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                self._conn.execute(f"ROLLBACK TO {name}")
                self._conn.execute(f"RELEASE {name}")
                raise
            self._conn.execute(f"RELEASE {name}")
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # --- meta -------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        """A meta value, or None."""
        row = self._conn.execute(
            "SELECT value FROM meta WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        """Set a meta value."""
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # --- nodes ------------------------------------------------------------------

    def put_node(self, node: NodeRow) -> None:
        """Insert or replace a node (and its id index rows)."""
        path = encode_path(node.path)
        self._conn.execute(
            "DELETE FROM node_ids WHERE key = ? AND path = ?", (node.key, path)
        )
        self._conn.executemany(
            "INSERT OR IGNORE INTO node_ids (descriptor, key, path) VALUES (?, ?, ?)",
            [(d, node.key, path) for d in node.ids],
        )
        self._conn.execute(
            "INSERT OR REPLACE INTO nodes "
            "(key, path, kind, title, ids, metadata, extent, auto) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                node.key,
                encode_path(node.path),
                node.kind,
                node.title,
                json.dumps(list(node.ids)),
                json.dumps(node.metadata, sort_keys=True),
                node.extent,
                int(node.auto),
            ),
        )

    def node(self, key: str, path: Sequence[Step] = ()) -> NodeRow | None:
        """One node, or None."""
        row = self._conn.execute(
            "SELECT * FROM nodes WHERE key = ? AND path = ?", (key, encode_path(path))
        ).fetchone()
        return None if row is None else _node(row)

    def anchor_keys(self) -> list[str]:
        """Every anchor key, sorted (the scan order)."""
        rows = self._conn.execute(
            "SELECT key FROM nodes WHERE path = '[]' ORDER BY key"
        ).fetchall()
        return [row[0] for row in rows]

    def nodes_of(self, key: str) -> list[NodeRow]:
        """The anchor and all its materialized parts, in coordinate order."""
        rows = [
            _node(r)
            for r in self._conn.execute("SELECT * FROM nodes WHERE key = ?", (key,))
        ]
        return sorted(rows, key=lambda n: _path_sort_key(n.path))

    def all_nodes(self) -> list[NodeRow]:
        """Every node, anchors first within each key, keys sorted."""
        rows = [_node(r) for r in self._conn.execute("SELECT * FROM nodes")]
        return sorted(rows, key=lambda n: (n.key, _path_sort_key(n.path)))

    def id_nodes_of(self, key: str) -> list[NodeRow]:
        """The anchor and its seasons (what an `IDS` facet needs), not episodes."""
        rows = [
            _node(r)
            for r in self._conn.execute(
                "SELECT * FROM nodes WHERE key = ? AND path NOT LIKE '%],[%'", (key,)
            )
        ]
        return sorted(rows, key=lambda n: _path_sort_key(n.path))

    def anchors(self, keys: Sequence[str]) -> list[NodeRow]:
        """The anchors among `keys` that exist, sorted by key."""
        rows: list[NodeRow] = []
        for start in range(0, len(keys), _IN_BATCH):
            chunk = keys[start : start + _IN_BATCH]
            marks = ",".join("?" * len(chunk))
            rows.extend(
                _node(r)
                for r in self._conn.execute(
                    f"SELECT * FROM nodes WHERE path = '[]' AND key IN ({marks})",
                    tuple(chunk),
                )
            )
        return sorted(rows, key=lambda n: n.key)

    def anchors_after(
        self,
        after: str | None,
        limit: int,
        *,
        kinds: Sequence[str] | None = None,
        require_activity: bool = False,
    ) -> list[NodeRow]:
        """Up to `limit` anchors with a key above `after`, in key order (keyset).

        Each page costs what it returns: the primary key walks from `after`, and
        the activity test is two indexed probes per candidate.
        """
        where = ["path = '[]'"]
        params: list[object] = []
        if after is not None:
            where.append("key > ?")
            params.append(after)
        if kinds is not None:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(kinds)
        if require_activity:
            where.append(
                "(EXISTS (SELECT 1 FROM records r WHERE r.key = nodes.key) "
                "OR EXISTS (SELECT 1 FROM events e WHERE e.key = nodes.key))"
            )
        params.append(limit)
        rows = self._conn.execute(
            f"SELECT * FROM nodes WHERE {' AND '.join(where)} ORDER BY key LIMIT ?",
            params,
        )
        return [_node(r) for r in rows]

    def anchor_rows(self) -> list[NodeRow]:
        """Every anchor, sorted by key (one query)."""
        rows = self._conn.execute(
            "SELECT * FROM nodes WHERE path = '[]' ORDER BY key"
        ).fetchall()
        return [_node(r) for r in rows]

    def keys_from(self, table: str, start: str | None) -> Iterator[str]:
        """Distinct anchor keys of `table` from `start` on (inclusive), in order.

        Read lazily, so a page that stops early never walks the rest.
        """
        if table not in ("nodes", "records"):
            raise ValueError(f"no anchor keys in table {table!r}")
        cursor = self._conn.execute(
            f"SELECT DISTINCT key FROM {table} WHERE key >= ? ORDER BY key",
            ("" if start is None else start,),
        )
        for (key,) in cursor:
            yield key

    def authorities(self) -> set[str]:
        """Authorities of every id the file's nodes carry (kept by triggers)."""
        return {r[0] for r in self._conn.execute("SELECT name FROM authorities")}

    def nodes_with_id(self, descriptor: str) -> list[NodeRow]:
        """Nodes whose stored ids include `descriptor` exactly (indexed lookup)."""
        rows = self._conn.execute(
            "SELECT nodes.* FROM node_ids JOIN nodes "
            "ON nodes.key = node_ids.key AND nodes.path = node_ids.path "
            "WHERE node_ids.descriptor = ? ORDER BY nodes.key, nodes.path",
            (descriptor,),
        ).fetchall()
        return [_node(r) for r in rows]

    def delete_anchor(self, key: str) -> None:
        """Remove an anchor with its parts, records and events."""
        for table in ("nodes", "node_ids", "records", "events"):
            self._conn.execute(f"DELETE FROM {table} WHERE key = ?", (key,))

    def has_activity(self, key: str) -> bool:
        """Whether an anchor or any of its parts holds a record or a play."""
        row = self._conn.execute(
            "SELECT EXISTS (SELECT 1 FROM records WHERE key = ?) "
            "OR EXISTS (SELECT 1 FROM events WHERE key = ?)",
            (key, key),
        ).fetchone()
        return bool(row[0])

    # --- records ----------------------------------------------------------------

    def record(self, ref: Ref, kind: str) -> RecordRow | None:
        """The record on (ref, kind), or None."""
        row = self._conn.execute(
            "SELECT * FROM records WHERE key = ? AND path = ? AND kind = ?",
            (ref.key, encode_path(ref.path), kind),
        ).fetchone()
        return None if row is None else _record(row)

    def record_by_key(self, record_key_: str) -> RecordRow | None:
        """The record with this id, or None."""
        row = self._conn.execute(
            "SELECT * FROM records WHERE record_key = ?", (record_key_,)
        ).fetchone()
        return None if row is None else _record(row)

    def records_of(self, key: str) -> list[RecordRow]:
        """All records on an anchor and its parts, in coordinate order."""
        rows = [
            _record(r)
            for r in self._conn.execute("SELECT * FROM records WHERE key = ?", (key,))
        ]
        return sorted(rows, key=lambda r: (_path_sort_key(r.path), r.kind))

    def all_records(self) -> list[RecordRow]:
        """Every record, sorted by anchor then coordinate."""
        rows = [_record(r) for r in self._conn.execute("SELECT * FROM records")]
        return sorted(rows, key=lambda r: (r.key, _path_sort_key(r.path), r.kind))

    def put_record(self, row: RecordRow) -> None:
        """Insert or replace a record."""
        self._conn.execute(
            "INSERT OR REPLACE INTO records "
            "(record_key, key, path, kind, fields, updated_at, revision) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                row.record_key,
                row.key,
                encode_path(row.path),
                row.kind,
                json.dumps(row.fields, sort_keys=True),
                row.updated_at,
                row.revision,
            ),
        )

    def delete_record(self, record_key_: str) -> None:
        """Remove a record by id."""
        self._conn.execute("DELETE FROM records WHERE record_key = ?", (record_key_,))

    # --- events -----------------------------------------------------------------

    def events_of(self, key: str) -> list[EventRow]:
        """All events on an anchor and its parts, oldest first."""
        rows = self._conn.execute(
            "SELECT * FROM events WHERE key = ? ORDER BY at, id", (key,)
        ).fetchall()
        return [_event(r) for r in rows]

    def events_after(
        self,
        after: tuple[str, str, int] | None,
        limit: int,
        kinds: Sequence[str] = (),
    ) -> list[EventRow]:
        """Up to `limit` events after (key, at, id), in that order (keyset).

        The `events_in_order` index serves the order and the seek, so every page
        costs what it returns, however long the history.
        """
        where, params = [], []
        if after is not None:
            where.append("(key, at, id) > (?, ?, ?)")
            params.extend(after)
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(kinds)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._conn.execute(
            f"SELECT * FROM events {clause}ORDER BY key, at, id LIMIT ?",
            (*params, limit),
        )
        return [_event(r) for r in rows]

    def summaries_after(
        self,
        after: tuple[str, str, str] | None,
        limit: int,
        kinds: Sequence[str] = (),
    ) -> list[tuple[str, tuple[Step, ...], str, int, str, str]]:
        """Play counts with first/last time per (key, path, kind), keyset-paged.

        Counted by SQLite over the `events` indexes; no event is decoded.
        """
        where, params = [], []
        if after is not None:
            where.append("(key, path, kind) > (?, ?, ?)")
            params.extend(after)
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(kinds)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._conn.execute(
            "SELECT key, path, kind, count(*), min(at), max(at) FROM events "
            f"{clause}GROUP BY key, path, kind ORDER BY key, path, kind LIMIT ?",
            (*params, limit),
        )
        return [
            (key, decode_path(path), kind, count, first, last)
            for key, path, kind, count, first, last in rows
        ]

    def all_events(self) -> list[EventRow]:
        """Every event, by anchor then time."""
        rows = self._conn.execute(
            "SELECT * FROM events ORDER BY key, at, id"
        ).fetchall()
        return [_event(r) for r in rows]

    def find_event(self, ref: Ref, kind: str, at: str) -> EventRow | None:
        """The event with this exact signature, or None."""
        row = self._conn.execute(
            "SELECT * FROM events WHERE key = ? AND path = ? AND kind = ? AND at = ?",
            (ref.key, encode_path(ref.path), kind, at),
        ).fetchone()
        return None if row is None else _event(row)

    def event_by_id(self, event_id: int) -> EventRow | None:
        """The event with this id, or None."""
        row = self._conn.execute(
            "SELECT * FROM events WHERE id = ?", (event_id,)
        ).fetchone()
        return None if row is None else _event(row)

    def add_event(
        self, ref: Ref, kind: str, at: str, metadata: dict[str, object]
    ) -> int:
        """Insert an event and return its id."""
        cursor = self._conn.execute(
            "INSERT INTO events (key, path, kind, at, metadata) VALUES (?, ?, ?, ?, ?)",
            (
                ref.key,
                encode_path(ref.path),
                kind,
                at,
                json.dumps(metadata, sort_keys=True),
            ),
        )
        return int(cursor.lastrowid or 0)

    def delete_event(self, event_id: int) -> None:
        """Remove an event by id."""
        self._conn.execute("DELETE FROM events WHERE id = ?", (event_id,))

    # --- change feed --------------------------------------------------------------

    def add_change(
        self, type_: str, ref: Ref, kind: str, at: str, detail: Sequence[str] = ()
    ) -> None:
        """Append one entry to the change feed."""
        self._conn.execute(
            "INSERT INTO changes (type, key, path, kind, at, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                type_,
                ref.key,
                encode_path(ref.path),
                kind,
                at,
                json.dumps(sorted(detail)),
            ),
        )

    def changes_after(self, seq: int, limit: int) -> list[sqlite3.Row]:
        """Change rows with a sequence number above `seq`."""
        return self._conn.execute(
            "SELECT * FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        ).fetchall()

    def last_change(self) -> int:
        """The newest change sequence number (0 when the feed is empty)."""
        row = self._conn.execute("SELECT max(seq) FROM changes").fetchone()
        return int(row[0] or 0)

    def clear_catalog(self) -> None:
        """Remove every node, record and event (the change feed is kept)."""
        for table in ("nodes", "node_ids", "records", "events"):
            self._conn.execute(f"DELETE FROM {table}")


@functools.lru_cache(maxsize=4096)
def _path_sort_key(path: tuple[Step, ...]) -> tuple[tuple[int, int, str], ...]:
    """Order coordinates numerically where they are numbers (cached, like paths)."""
    return tuple(
        (0, s.value, "") if isinstance(s.value, int) else (1, 0, str(s.value))
        for s in path
    )
