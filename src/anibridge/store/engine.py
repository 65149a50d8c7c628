"""Opening a store database: URL → engine, SQLite pragmas, automatic migrations.

SQLite gets WAL (readers never block the single writer: the web UI can read history
while a sync runs), `synchronous=NORMAL` and a busy timeout. Any other SQLAlchemy URL
(PostgreSQL for hosted use) works unchanged. A database that cannot be opened or
migrated is reported once, with its location, as `StoreError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

__all__ = [
    "StoreError",
    "create_store_engine",
    "default_url",
    "head_revision",
    "migrate",
]

_MIGRATIONS = Path(__file__).with_name("migrations")
# The newest shipped revision; `tests/store` checks it against Alembic's head. Knowing
# it lets an up-to-date store open without importing Alembic (slow to import).
HEAD = "0007_shared_texts"
#: PostgreSQL advisory lock held by whoever migrates a database (store or queue).
MIGRATION_LOCK = 0x616E6962


class StoreError(RuntimeError):
    """The store database is unusable; the message says which one and why."""


def default_url(data_dir: Path) -> str:
    """The default store: ``anibridge.db`` (SQLite) in the data directory."""
    return f"sqlite:///{(data_dir / 'anibridge.db').resolve()}"


def _redact(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def create_store_engine(url: str, **kwargs: Any) -> sa.Engine:
    """An engine for `url`, with SQLite tuned for one writer and many readers.

    Raises:
        StoreError: the URL is malformed or names an unknown database driver.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"store URL {url!r} is not a valid SQLAlchemy URL") from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            parent = Path(database).expanduser().parent
            if not parent.is_dir():
                try:
                    parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(
                        f"store at {database}: cannot create its folder ({exc})"
                    ) from exc
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"store URL {_redact(url)}: {exc}") from exc
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if parsed.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


def _config(connection: sa.Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration shipped with this AniBridge."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(_MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The revision a database is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: sa.Engine) -> None:
    """Bring the database to the newest revision (a no-op when it is already there).

    Raises:
        StoreError: the database cannot be read or written (corrupt file, no
            permission, server down), or it is newer than this AniBridge.
    """
    try:
        with engine.connect() as connection:
            if sa.inspect(connection).has_table("alembic_version"):
                current = connection.execute(
                    sa.text("SELECT version_num FROM alembic_version")
                ).scalar_one_or_none()
                if current == HEAD:
                    return
    except sa.exc.SQLAlchemyError:
        pass  # reported with its location by the full path below
    # Alembic is imported here, not at module level: most commands never migrate
    # (the store is already at head) and the import is slow.
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    where = _redact(engine.url.render_as_string(hide_password=False))
    try:
        known = {
            rev.revision for rev in ScriptDirectory(str(_MIGRATIONS)).walk_revisions()
        }
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Processes starting together migrate one after the other; the
                # later ones find the schema current and do nothing.
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK}
                )
            current = MigrationContext.configure(connection).get_current_revision()
            if current is not None and current not in known:
                raise StoreError(
                    f"store at {where} is at schema revision {current!r}, which this "
                    "AniBridge does not know (was it created by a newer version?)"
                )
            command.upgrade(_config(connection), "head")
    except StoreError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StoreError(
            f"store at {where} cannot be opened or migrated: {detail}. Check that "
            "the file is an AniBridge store (not corrupt) and readable/writable, or "
            "that the database server is reachable."
        ) from exc
