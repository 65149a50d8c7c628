from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from anibridge.store import SqlStore, create_store_engine

PG_URL = os.environ.get("ANIBRIDGE_TEST_POSTGRES_URL")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def pg_engine() -> Iterator[sa.Engine]:
    """A PostgreSQL engine bound to a fresh schema, dropped afterwards."""
    if not PG_URL:
        pytest.skip("ANIBRIDGE_TEST_POSTGRES_URL not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = create_store_engine(
        PG_URL, connect_args={"options": f"-csearch_path={schema}"}
    )
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _sqlite_store(tmp_path) -> SqlStore:
    return SqlStore(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def stores(request, tmp_path):
    """Every implementation of the engine's store protocols."""
    if request.param == "memory":
        from anibridge.bridge.stores import MemoryStores

        yield MemoryStores()
    elif request.param == "sqlite":
        store = _sqlite_store(tmp_path)
        yield store
        store.close()
    else:
        engine = request.getfixturevalue("pg_engine")
        store = SqlStore(engine)
        yield store
