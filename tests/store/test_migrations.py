from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from anibridge.store import (
    SqlStore,
    StoreError,
    create_store_engine,
    head_revision,
    migrate,
)
from anibridge.store.schema import metadata


def _check_migrated_matches_schema(engine: sa.Engine) -> None:
    migrate(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        assert ctx.get_current_revision() == head_revision()
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_migrates_from_empty_sqlite_and_matches_schema(tmp_path):
    engine = create_store_engine(f"sqlite:///{tmp_path / 'a.db'}")
    _check_migrated_matches_schema(engine)
    # idempotent: a second run is a no-op
    migrate(engine)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {
        "links",
        "baselines",
        "runs",
        "journal",
        "cursors",
        "pins",
        "backups",
    } <= tables
    assert "tokens" in tables


@pytest.mark.postgres
def test_migrates_from_empty_postgres_and_matches_schema(pg_engine):
    _check_migrated_matches_schema(pg_engine)


def test_sqlite_store_uses_wal(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'w.db'}")
    with store.engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"


def test_corrupt_store_file_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError) as err:
        SqlStore(f"sqlite:///{path}")
    assert str(path) in str(err.value)
    assert path.read_bytes().startswith(b"this is not sqlite")


def test_unknown_newer_revision_is_refused(tmp_path):
    path = tmp_path / "newer.db"
    SqlStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'zzzz_future'")
    with pytest.raises(StoreError, match="zzzz_future"):
        SqlStore(f"sqlite:///{path}")


def test_bad_url_is_a_clear_error():
    with pytest.raises(StoreError, match="not a valid SQLAlchemy URL"):
        SqlStore("not a url at all")


def test_head_constant_matches_alembic():
    from anibridge.store.engine import HEAD

    assert head_revision() == HEAD
