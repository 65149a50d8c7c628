"""The job queue's tables: created and upgraded once, checked by every process.

procrastinate ships its schema as SQL (`schema.sql` for a fresh database, one file
per change in ``sql/migrations`` for upgrades), not as Alembic revisions, and the
store's migrations must stay usable without it. So `anibridge migrate` applies the
store's Alembic revisions and then, for a hosted deployment, the queue schema:
the whole schema on a fresh database, else the migration files newer than the
version recorded in ``queue_schema``. Web and worker processes never migrate: they
`check` and refuse to start on a schema that is missing or from another version,
so an upgrade is "drain the workers, run `anibridge migrate` once, start the new
version".
"""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from anibridge.store import schema as t
from anibridge.store.engine import MIGRATION_LOCK

__all__ = [
    "QueueSchemaError",
    "QueueSchemaState",
    "check",
    "installed_version",
    "migrate_queue",
    "state",
]

_NAME = "procrastinate"
_FILE = re.compile(r"^(\d+)\.(\d+)\.(\d+)_(\d+)_.*\.sql$")


class QueueSchemaError(RuntimeError):
    """The queue's tables are missing or at another version; says what to run."""


@dataclass(frozen=True, slots=True)
class QueueSchemaState:
    """Where the queue schema of a database stands."""

    applied: str | None  # version recorded by `migrate_queue`, None = never
    installed: str  # the procrastinate version this AniBridge runs with

    @property
    def current(self) -> bool:
        """Whether the tables match the installed procrastinate."""
        return self.applied == self.installed


def installed_version() -> str:
    """The installed procrastinate version."""
    return importlib.metadata.version(_NAME)


def _version(text: str) -> tuple[int, int, int]:
    major, minor, patch = ([int(p) for p in re.findall(r"\d+", text)] + [0, 0, 0])[:3]
    return major, minor, patch


def _sql_dir() -> Path:
    import procrastinate

    return Path(procrastinate.__file__).with_name("sql")


def pending_migrations(applied: str) -> list[Path]:
    """The procrastinate migration files newer than version `applied`, in order."""
    found = []
    for path in (_sql_dir() / "migrations").iterdir():
        match = _FILE.match(path.name)
        if match is None:
            continue
        major, minor, patch, step = (int(g) for g in match.groups())
        if (major, minor, patch) > _version(applied):
            found.append(((major, minor, patch, step, path.name), path))
    return [path for _, path in sorted(found)]


def state(engine: sa.Engine) -> QueueSchemaState:
    """What `engine`'s database holds (the store must be migrated)."""
    with engine.connect() as conn:
        applied = conn.execute(
            sa.select(t.queue_schema.c.version).where(t.queue_schema.c.name == _NAME)
        ).scalar_one_or_none()
    return QueueSchemaState(applied, installed_version())


def check(engine: sa.Engine) -> None:
    """Refuse to run on a queue schema that is missing or from another version.

    Raises:
        QueueSchemaError: says what was found and to run ``anibridge migrate``.
    """
    try:
        found = state(engine)
    except sa.exc.ProgrammingError as exc:
        raise QueueSchemaError(
            "the hosted job queue has no tables in this database yet: run "
            "'anibridge migrate' once (with the same config) before starting"
        ) from exc
    if found.applied is None:
        raise QueueSchemaError(
            "the hosted job queue has no tables in this database yet: run "
            "'anibridge migrate' once (with the same config) before starting"
        )
    if not found.current:
        raise QueueSchemaError(
            f"the job queue's tables are at procrastinate {found.applied} but this "
            f"AniBridge runs {found.installed}: stop the workers, run 'anibridge "
            "migrate' once, then start them again"
        )


def migrate_queue(engine: sa.Engine) -> str:
    """Create or upgrade the queue's tables (idempotent; safe to run concurrently).

    Returns:
        What was done: ``created``, ``upgraded from X`` or ``current``.

    Raises:
        ValueError: the store is not PostgreSQL.
    """
    if engine.dialect.name != "postgresql":
        raise ValueError("the hosted job queue needs the PostgreSQL store")
    installed = installed_version()
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        applied = conn.execute(
            sa.select(t.queue_schema.c.version).where(t.queue_schema.c.name == _NAME)
        ).scalar_one_or_none()
        if applied == installed:
            return "current"
        raw = conn.connection.driver_connection
        assert raw is not None
        if applied is None:
            raw.execute((_sql_dir() / "schema.sql").read_text(encoding="utf-8"))
            done = "created"
        else:
            for path in pending_migrations(applied):
                raw.execute(path.read_text(encoding="utf-8"))
            done = f"upgraded from {applied}"
        values = {"version": installed, "applied_at": datetime.now(UTC).isoformat()}
        if applied is None:
            conn.execute(sa.insert(t.queue_schema).values(name=_NAME, **values))
        else:
            conn.execute(
                sa.update(t.queue_schema)
                .where(t.queue_schema.c.name == _NAME)
                .values(**values)
            )
    return done
