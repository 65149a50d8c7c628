from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from anibridge.store import SqlStore, create_store_engine

PG_URL = os.environ.get("ANIBRIDGE_TEST_POSTGRES_URL")


def pytest_collection_modifyitems(items):
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.hosted)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A store URL on a fresh PostgreSQL schema (dropped afterwards).

    The schema travels inside the URL (``options=-csearch_path=…``), so worker
    processes started with it land in the same schema.
    """
    if not PG_URL:
        pytest.skip("ANIBRIDGE_TEST_POSTGRES_URL not set")
    schema = f"h_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield (
            f"{PG_URL}{sep}application_name={schema}"
            f"&options={quote(f'-csearch_path={schema}')}"
        )
    finally:
        with admin.begin() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE pid <> pg_backend_pid() AND application_name = :name"
                ),
                {"name": schema},
            )
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(pg_url) -> Iterator[SqlStore]:
    """The migrated store on the fresh schema."""
    store = SqlStore(create_store_engine(pg_url))
    yield store
    store.close()
