"""`SqlStore`: the engine's persistence protocols on SQLAlchemy (SQLite, PostgreSQL).

Implements every protocol of `anibridge.bridge.stores` (links, baselines, runs,
journal, cursors, pins) with the same semantics as `MemoryStores` — the shared tests
in `tests/store` run the same assertions against both — plus what only the app needs:
the backups index and encrypted token blobs. Each method is one short transaction, so
a run interrupted between calls leaves every table consistent.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from anibridge.bridge.codec import ref_from_json, ref_id
from anibridge.bridge.stores import (
    UNRESOLVED,
    Baseline,
    JournalEntry,
    Link,
    Override,
    Pin,
    RunRecord,
    Stores,
)
from anibridge.store import schema as t
from anibridge.store.engine import create_store_engine, migrate
from anibridge.store.lock import ProfileLock, profile_lock

__all__ = ["BackupEntry", "SqlStore"]

#: Most ids bound in one ``IN`` list: under every database's variable cap.
_IN_CHUNK = 500
#: Rows per `executemany` of a batched upsert (bounds the memory of one call).
_CHUNK = 5_000


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class BackupEntry:
    """One backup file AniBridge wrote (the file itself lives on disk)."""

    id: int
    profile: str
    provider: str
    path: str
    created_at: str
    size: int
    sha256: str
    run_id: str | None = None


class SqlStore:
    """All store protocols on one SQLAlchemy engine; migrates on open."""

    def __init__(
        self, url_or_engine: str | sa.Engine, *, auto_migrate: bool = True
    ) -> None:
        """Open the store at a URL (or on an engine) and bring its schema up to date.

        Raises:
            StoreError: the database cannot be opened or migrated.
        """
        self.engine = (
            url_or_engine
            if isinstance(url_or_engine, sa.Engine)
            else create_store_engine(url_or_engine)
        )
        if auto_migrate:
            migrate(self.engine)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    def bundle(self) -> Stores:
        """This store as the engine's `Stores` bundle."""
        return Stores(self, self, self, self, self, self)

    def profile_lock(self, profile: str, *, purpose: str = "") -> ProfileLock:
        """The cross-process lock of one profile (see `anibridge.store.lock`)."""
        return profile_lock(self.engine, profile, purpose=purpose)

    # --- helpers -------------------------------------------------------------

    def _upsert(
        self,
        conn: sa.Connection,
        table: sa.Table,
        values: Mapping[str, Any],
        keys: Sequence[str],
        *,
        keep: Sequence[str] = (),
    ) -> None:
        """Insert or update one row by `keys` (see `_upsert_many`)."""
        self._upsert_many(conn, table, [values], keys, keep=keep)

    def _upsert_many(
        self,
        conn: sa.Connection,
        table: sa.Table,
        rows: Iterable[Mapping[str, Any]],
        keys: Sequence[str],
        *,
        keep: Sequence[str] = (),
    ) -> None:
        """Insert or update many rows by `keys`; columns in `keep` keep old values.

        On SQLite and PostgreSQL this is one prepared ``INSERT … ON CONFLICT``
        executed with the batch (`executemany`, `_CHUNK` rows at a time), so a
        run's thousands of baselines or journal rows cost one statement
        compilation, not one per row. Rows repeating a key within a chunk are
        folded first, exactly as if they had been upserted one after the other
        (the last values win, `keep` columns keep the first), because one
        execution may not touch the same row twice; chunks run in order, so a key
        repeated across chunks is upserted again, with the same result. Each
        execution binds one row's values, so no batch size meets a database's cap
        on variables per statement (tested at SQLite's old 999 in
        `tests/store/test_batching.py`).
        """
        if conn.dialect.name in ("sqlite", "postgresql"):
            # In chunks: the whole batch as folded dicts plus the driver's copy of
            # its parameters would be the run's peak memory (a first sync of
            # 50,000 shows writes about half a million baselines at its end).
            # Chunks executed one after the other act as sequential upserts too.
            for chunk in itertools.batched(rows, _CHUNK):
                batch = _fold(chunk, keys, keep)
                stmt = _upsert_statement(
                    conn.dialect.name, table, tuple(batch[0]), tuple(keys), tuple(keep)
                )
                conn.execute(stmt, batch)
            return
        batch = _fold(rows, keys, keep)
        for values in batch:
            where = sa.and_(*(table.c[k] == values[k] for k in keys))
            exists = conn.execute(
                sa.select(sa.func.count()).select_from(table).where(where)
            )
            if exists.scalar_one():
                update = {
                    c: v for c, v in values.items() if c not in keys and c not in keep
                }
                if update:
                    conn.execute(table.update().where(where).values(**update))
            else:
                conn.execute(table.insert().values(**values))

    # --- LinkStore -----------------------------------------------------------

    def links(
        self, profile: str, source_provider: str, target_provider: str
    ) -> list[Link]:
        """See `LinkStore.links`."""
        query = sa.select(t.links).where(
            t.links.c.profile == profile,
            t.links.c.source_provider == source_provider,
            t.links.c.target_provider == target_provider,
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(t.links.c.id)).mappings().all()
        return [
            Link(
                profile=r["profile"],
                source_provider=r["source_provider"],
                source_key=r["source_key"],
                source_part=r["source_part"],
                target_provider=r["target_provider"],
                target_ref=r["target_ref"],
                via=r["via"],
                edge=r["edge"],
                score=r["score"],
                created_at=r["created_at"],
            )
            for r in rows
        ]

    def put_links(self, links: Iterable[Link]) -> None:
        """See `LinkStore.put_links` (the first `created_at` is kept)."""
        with self.engine.begin() as conn:
            self._upsert_many(
                conn,
                t.links,
                (
                    {
                        "id": lk.id,
                        "profile": lk.profile,
                        "source_provider": lk.source_provider,
                        "source_key": lk.source_key,
                        "source_part": lk.source_part,
                        "target_provider": lk.target_provider,
                        "target_ref": lk.target_ref,
                        "via": lk.via,
                        "edge": lk.edge,
                        "score": lk.score,
                        "created_at": lk.created_at or _now(),
                    }
                    for lk in links
                ),
                ["id"],
                keep=["created_at"],
            )

    def remove_links(self, ids: Iterable[str]) -> None:
        """See `LinkStore.remove_links`.

        Ids go in ``IN`` lists of at most `_IN_CHUNK`: one list of every id binds a
        variable per id, and databases cap those (SQLite builds at 999 or 32,766,
        PostgreSQL's protocol at 65,535), so removing a large library's links would
        fail exactly when it matters; one statement per id would cost a round trip
        each on PostgreSQL.
        """
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return
        with self.engine.begin() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                conn.execute(t.links.delete().where(t.links.c.id.in_(chunk)))

    def overrides(
        self, profile: str, source_provider: str, target_provider: str
    ) -> list[Override]:
        """See `LinkStore.overrides`."""
        query = sa.select(t.overrides).where(
            t.overrides.c.profile == profile,
            t.overrides.c.source_provider == source_provider,
            t.overrides.c.target_provider == target_provider,
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            Override(
                profile=r["profile"],
                source_provider=r["source_provider"],
                source_key=r["source_key"],
                target_provider=r["target_provider"],
                target_ref=r["target_ref"],
                source_part=r["source_part"],
            )
            for r in rows
        ]

    def put_override(self, override: Override) -> None:
        """See `LinkStore.put_override`."""
        o = override
        with self.engine.begin() as conn:
            self._upsert(
                conn,
                t.overrides,
                {
                    "profile": o.profile,
                    "source_provider": o.source_provider,
                    "source_key": o.source_key,
                    "source_part": o.source_part,
                    "target_provider": o.target_provider,
                    "target_key": o.target_ref or "",
                    "target_ref": o.target_ref,
                },
                [
                    "profile",
                    "source_provider",
                    "source_key",
                    "source_part",
                    "target_provider",
                    "target_key",
                ],
            )

    # --- BaselineStore -------------------------------------------------------

    def baselines(self, profile: str) -> dict[tuple[str, str], Baseline]:
        """See `BaselineStore.baselines`.

        A profile holds about ten baselines per linked entry, held for the whole
        run: rows are streamed, not listed, and their repeated texts (link, field,
        update time, text values) share one object each, so 50,000 entries' half a
        million baselines cost their distinct texts once, not per row.
        """
        query = sa.select(
            t.baselines.c.link,
            t.baselines.c.field,
            t.baselines.c.source_value,
            t.baselines.c.target_value,
            t.baselines.c.updated_at,
        ).where(t.baselines.c.profile == profile)
        texts: dict[Any, Any] = {}
        share = texts.setdefault
        found: dict[tuple[str, str], Baseline] = {}
        with self.engine.connect() as conn:
            for link, fld, source, target, updated in conn.execute(query):
                link, fld = share(link, link), share(fld, fld)
                if source.__class__ is str:
                    source = share(source, source)
                if target.__class__ is str:
                    target = share(target, target)
                found[link, fld] = Baseline(
                    profile, link, fld, source, target, share(updated, updated)
                )
        return found

    def put_baselines(self, baselines: Iterable[Baseline]) -> None:
        """See `BaselineStore.put_baselines`."""
        now = _now()
        with self.engine.begin() as conn:
            self._upsert_many(
                conn,
                t.baselines,
                (
                    {
                        "profile": b.profile,
                        "link": b.link,
                        "field": b.field,
                        "source_value": b.source_value,
                        "target_value": b.target_value,
                        "updated_at": b.updated_at or now,
                    }
                    for b in baselines
                ),
                ["profile", "link", "field"],
            )

    def remove_baselines(self, profile: str, keys: Iterable[tuple[str, str]]) -> None:
        """See `BaselineStore.remove_baselines`."""
        rows = [{"p": profile, "l": link, "f": fld} for link, fld in keys]
        if not rows:
            return
        stmt = t.baselines.delete().where(
            t.baselines.c.profile == sa.bindparam("p"),
            t.baselines.c.link == sa.bindparam("l"),
            t.baselines.c.field == sa.bindparam("f"),
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)

    # --- RunStore ------------------------------------------------------------

    @staticmethod
    def _run_values(run: RunRecord) -> dict[str, Any]:
        return {
            "id": run.id,
            "profile": run.profile,
            "kind": run.kind,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "status": run.status,
            "plan_id": run.plan_id,
            "summary": dict(run.summary),
            "error": run.error,
            "owner": run.owner or None,
        }

    @staticmethod
    def _run(row: Mapping[str, Any]) -> RunRecord:
        return RunRecord(
            id=row["id"],
            profile=row["profile"],
            started_at=row["started_at"],
            kind=row["kind"],
            finished_at=row["finished_at"],
            status=row["status"],
            plan_id=row["plan_id"],
            summary=row["summary"] or {},
            error=row["error"],
            owner=row["owner"] or "",
        )

    def start_run(self, run: RunRecord) -> None:
        """See `RunStore.start_run`."""
        with self.engine.begin() as conn:
            self._upsert(conn, t.runs, self._run_values(run), ["id"])

    def finish_run(self, run: RunRecord) -> None:
        """See `RunStore.finish_run`."""
        with self.engine.begin() as conn:
            self._upsert(conn, t.runs, self._run_values(run), ["id"])

    def run(self, run_id: str) -> RunRecord | None:
        """See `RunStore.run`."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id))
                .mappings()
                .first()
            )
        return None if row is None else self._run(row)

    def runs(self, profile: str, limit: int = 50) -> list[RunRecord]:
        """See `RunStore.runs`."""
        query = (
            sa.select(t.runs)
            .where(t.runs.c.profile == profile)
            .order_by(t.runs.c.started_at.desc(), t.runs.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [self._run(r) for r in conn.execute(query).mappings().all()]

    def interrupt_stale(self, profile: str, *, now: str, error: str) -> list[str]:
        """See `RunStore.interrupt_stale`."""
        where = sa.and_(t.runs.c.profile == profile, t.runs.c.status == "running")
        with self.engine.begin() as conn:
            ids = list(conn.execute(sa.select(t.runs.c.id).where(where)).scalars())
            if ids:
                conn.execute(
                    t.runs.update()
                    .where(where)
                    .values(
                        status="interrupted",
                        finished_at=now,
                        error=sa.func.coalesce(t.runs.c.error, error),
                    )
                )
        return ids

    def running_profiles(self) -> list[str]:
        """Profiles with a run still marked ``running`` (live or left by a crash)."""
        query = (
            sa.select(t.runs.c.profile).where(t.runs.c.status == "running").distinct()
        )
        with self.engine.connect() as conn:
            return sorted(conn.execute(query).scalars())

    def all_runs(self, limit: int = 50) -> list[RunRecord]:
        """Most recent runs of every profile (for `anibridge history`)."""
        query = (
            sa.select(t.runs)
            .order_by(t.runs.c.started_at.desc(), t.runs.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [self._run(r) for r in conn.execute(query).mappings().all()]

    def runs_starting_with(self, prefix: str, limit: int = 10) -> list[RunRecord]:
        """Runs whose id starts with `prefix`, newest first (short ids, `undo abc1`).

        Percent signs, underscores and backslashes in `prefix` match themselves.
        """
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = (
            sa.select(t.runs)
            .where(t.runs.c.id.like(f"{escaped}%", escape="\\"))
            .order_by(t.runs.c.started_at.desc(), t.runs.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [self._run(r) for r in conn.execute(query).mappings().all()]

    # --- JournalStore --------------------------------------------------------

    @staticmethod
    def _entry(row: Mapping[str, Any]) -> JournalEntry:
        return JournalEntry(
            run_id=row["run_id"],
            action_id=row["action_id"],
            provider=row["provider"],
            ref=row["ref"],
            op=row["op"],
            kind=row["kind"],
            before=row["before"] or {},
            after=row["after"] or {},
            clear=tuple(row["clear"] or ()),
            at=row["at"],
            outcome=row["outcome"],
            error_code=row["error_code"],
            error_text=row["error_text"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            link=row["link"],
            created=bool(row["created"]),
            reason=row["reason"],
            attempts=row["attempts"],
            undoes=row["undoes"],
        )

    def record(self, entries: Iterable[JournalEntry]) -> None:
        """See `JournalStore.record` (a rewritten entry keeps its position)."""
        now = _now()
        with self.engine.begin() as conn:
            self._upsert_many(
                conn,
                t.journal,
                (self._journal_values(e, now) for e in entries),
                ["run_id", "action_id"],
            )

    @staticmethod
    def _journal_values(e: JournalEntry, now: str) -> dict[str, Any]:
        return {
            "run_id": e.run_id,
            "action_id": e.action_id,
            "provider": e.provider,
            "ref": dict(e.ref),
            "ref_id": ref_id(ref_from_json(e.ref)),
            "op": e.op,
            "kind": e.kind,
            "before": dict(e.before),
            "after": dict(e.after),
            "clear": list(e.clear),
            "at": e.at,
            "outcome": e.outcome,
            "error_code": e.error_code,
            "error_text": e.error_text,
            "started_at": e.started_at or now,
            "finished_at": e.finished_at,
            "link": e.link,
            "created": e.created,
            "reason": e.reason,
            "attempts": e.attempts,
            "undoes": e.undoes,
        }

    def entries(self, run_id: str) -> list[JournalEntry]:
        """See `JournalStore.entries`."""
        query = (
            sa.select(t.journal)
            .where(t.journal.c.run_id == run_id)
            .order_by(t.journal.c.seq)
        )
        with self.engine.connect() as conn:
            return [self._entry(r) for r in conn.execute(query).mappings().all()]

    def profile_journal(
        self, profile: str
    ) -> tuple[list[RunRecord], list[tuple[int, JournalEntry]]]:
        """A profile's runs and its journal as (seq, entry), oldest entry first.

        The journal's seq is its write order and a stable position for pages (a
        rewritten entry keeps its seq); the timeline pages and filters on it.
        """
        mine = sa.select(t.runs.c.id).where(t.runs.c.profile == profile)
        with self.engine.connect() as conn:
            runs = [
                self._run(r)
                for r in conn.execute(
                    sa.select(t.runs).where(t.runs.c.profile == profile)
                ).mappings()
            ]
            rows = conn.execute(
                sa.select(t.journal)
                .where(t.journal.c.run_id.in_(mine))
                .order_by(t.journal.c.seq)
            ).mappings()
            return runs, [(r["seq"], self._entry(r)) for r in rows]

    def entries_for_action(self, action_id: str) -> list[JournalEntry]:
        """See `JournalStore.entries_for_action`."""
        query = (
            sa.select(t.journal)
            .where(t.journal.c.action_id == action_id)
            .order_by(t.journal.c.seq)
        )
        with self.engine.connect() as conn:
            return [self._entry(r) for r in conn.execute(query).mappings().all()]

    def event_sent(
        self, profile: str, provider: str, ref_id: str, kind: str, at: str
    ) -> bool:
        """See `JournalStore.event_sent`."""
        j = t.journal
        query = (
            sa.select(j.c.op)
            .select_from(j.join(t.runs, t.runs.c.id == j.c.run_id))
            .where(
                t.runs.c.profile == profile,
                j.c.provider == provider,
                j.c.kind == kind,
                j.c.at == at,
                j.c.ref_id == ref_id,
                sa.or_(
                    sa.and_(
                        j.c.op == "append_event",
                        j.c.outcome.in_(("applied", *UNRESOLVED)),
                    ),
                    sa.and_(j.c.op == "delete_event", j.c.outcome == "applied"),
                ),
            )
            .order_by(j.c.seq.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none() == "append_event"

    def unresolved(self, profile: str) -> list[JournalEntry]:
        """See `JournalStore.unresolved`."""
        query = (
            sa.select(t.journal)
            .join(t.runs, t.runs.c.id == t.journal.c.run_id)
            .where(t.runs.c.profile == profile, t.journal.c.outcome.in_(UNRESOLVED))
            .order_by(t.journal.c.seq)
        )
        with self.engine.connect() as conn:
            return [self._entry(r) for r in conn.execute(query).mappings().all()]

    # --- CursorStore ---------------------------------------------------------

    def cursor(self, profile: str, provider: str) -> str | None:
        """See `CursorStore.cursor`."""
        query = sa.select(t.cursors.c.cursor).where(
            t.cursors.c.profile == profile, t.cursors.c.provider == provider
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def set_cursor(self, profile: str, provider: str, cursor: str | None) -> None:
        """See `CursorStore.set_cursor`."""
        with self.engine.begin() as conn:
            if cursor is None:
                conn.execute(
                    t.cursors.delete().where(
                        t.cursors.c.profile == profile, t.cursors.c.provider == provider
                    )
                )
            else:
                self._upsert(
                    conn,
                    t.cursors,
                    {"profile": profile, "provider": provider, "cursor": cursor},
                    ["profile", "provider"],
                )

    # --- PinStore ------------------------------------------------------------

    def pins(self, profile: str) -> list[Pin]:
        """See `PinStore.pins`."""
        query = (
            sa.select(t.pins)
            .where(t.pins.c.profile == profile)
            .order_by(t.pins.c.provider, t.pins.c.ref)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            Pin(r["profile"], r["provider"], r["ref"], frozenset(r["fields"]))
            for r in rows
        ]

    def set_pin(self, pin: Pin) -> None:
        """See `PinStore.set_pin` (empty fields remove the pin)."""
        with self.engine.begin() as conn:
            if not pin.fields:
                conn.execute(
                    t.pins.delete().where(
                        t.pins.c.profile == pin.profile,
                        t.pins.c.provider == pin.provider,
                        t.pins.c.ref == pin.ref,
                    )
                )
                return
            self._upsert(
                conn,
                t.pins,
                {
                    "profile": pin.profile,
                    "provider": pin.provider,
                    "ref": pin.ref,
                    "fields": sorted(pin.fields),
                },
                ["profile", "provider", "ref"],
            )

    # --- backups index -------------------------------------------------------

    def add_backup(
        self,
        *,
        profile: str,
        provider: str,
        path: str,
        size: int,
        sha256: str,
        run_id: str | None = None,
        created_at: str | None = None,
    ) -> BackupEntry:
        """Index a backup file that was just written."""
        values = {
            "profile": profile,
            "provider": provider,
            "path": path,
            "created_at": created_at or _now(),
            "size": size,
            "sha256": sha256,
            "run_id": run_id,
        }
        with self.engine.begin() as conn:
            result = conn.execute(t.backups.insert().values(**values))
            new_id = int(result.inserted_primary_key[0])
        return BackupEntry(id=new_id, **values)  # type: ignore[arg-type]

    def backups(
        self, profile: str | None = None, provider: str | None = None
    ) -> list[BackupEntry]:
        """Indexed backups, newest first, optionally for one profile/provider."""
        query = sa.select(t.backups)
        if profile is not None:
            query = query.where(t.backups.c.profile == profile)
        if provider is not None:
            query = query.where(t.backups.c.provider == provider)
        query = query.order_by(t.backups.c.created_at.desc(), t.backups.c.id.desc())
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [BackupEntry(**dict(r)) for r in rows]

    def remove_backup(self, backup_id: int) -> None:
        """Drop a backup from the index (the caller deletes the file)."""
        with self.engine.begin() as conn:
            conn.execute(t.backups.delete().where(t.backups.c.id == backup_id))

    # --- token blobs (encrypted by `anibridge.store.tokens`) -----------------

    def token_blob(self, key: str) -> bytes | None:
        """The encrypted token blob under `key`, or None."""
        query = sa.select(t.tokens.c.ciphertext).where(t.tokens.c.key == key)
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return None if value is None else bytes(value)

    def put_token_blob(self, key: str, blob: bytes) -> None:
        """Store an encrypted token blob."""
        with self.engine.begin() as conn:
            self._upsert(
                conn,
                t.tokens,
                {"key": key, "ciphertext": blob, "updated_at": _now()},
                ["key"],
            )

    def delete_token_blob(self, key: str) -> None:
        """Remove a token blob."""
        with self.engine.begin() as conn:
            conn.execute(t.tokens.delete().where(t.tokens.c.key == key))


def _fold(
    rows: Iterable[Mapping[str, Any]], keys: Sequence[str], keep: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per key, as sequential upserts would leave it (see `_upsert_many`)."""
    folded: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        first = folded.get(key)
        if first is None:
            folded[key] = dict(row)
        else:
            folded[key] = {**row, **{c: first[c] for c in keep if c in first}}
    return list(folded.values())


@functools.lru_cache(maxsize=256)
def _upsert_statement(
    dialect: str,
    table: sa.Table,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    keep: tuple[str, ...],
) -> sa.Insert:
    """The ``INSERT … ON CONFLICT`` for one table and column set (built once)."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    stmt = insert(table)
    update = {c: stmt.excluded[c] for c in columns if c not in keys and c not in keep}
    if update:
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=update)
    return stmt.on_conflict_do_nothing(index_elements=list(keys))
