"""Store writes are batched: one statement per table per call, not one per row.

Counted with SQLAlchemy's cursor events on the real database, so a return to
row-by-row statements (the cost issue 15 measured: 38 % of a 10,000-entry sync)
fails here whatever the machine's speed.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from anibridge.bridge.stores import Baseline, JournalEntry, Link
from anibridge.store import SqlStore

ROWS = 1_000


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        opened = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        opened = SqlStore(request.getfixturevalue("pg_engine"))
    yield opened
    opened.close()


class Statements:
    """The statements the store sends while counting (executemany counts once)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.sent: list[tuple[str, bool]] = []

    def _on_execute(self, conn, cursor, statement, parameters, context, many):
        self.sent.append((statement.split()[0].upper(), many))

    def __enter__(self) -> Statements:
        sa.event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._on_execute)

    def writes(self) -> list[tuple[str, bool]]:
        return [s for s in self.sent if s[0] in ("INSERT", "UPDATE", "DELETE")]


def _links(n: int) -> list[Link]:
    return [
        Link("p", "plex", f"show{i}", "", "anilist", str(i), "mapping", created_at="t")
        for i in range(n)
    ]


def _entries(n: int) -> list[JournalEntry]:
    return [
        JournalEntry(
            "r1",
            f"a{i}",
            "list",
            {"key": str(i), "path": []},
            "upsert_record",
            after={"progress": i},
            outcome="applied",
            started_at="t",
        )
        for i in range(n)
    ]


def test_thousands_of_rows_are_one_statement_per_table(store):
    with Statements(store.engine) as seen:
        store.put_links(_links(ROWS))
        store.put_baselines(
            Baseline("p", f"L{i}", "progress", i, i, "t") for i in range(ROWS)
        )
        store.record(_entries(ROWS))
        store.remove_baselines("p", [(f"L{i}", "progress") for i in range(ROWS)])
    writes = seen.writes()
    assert len(writes) <= 4 * 2, writes  # at most a couple per call, never per row
    assert all(many for _, many in writes), writes
    assert len(store.links("p", "plex", "anilist")) == ROWS
    assert len(store.entries("r1")) == ROWS
    assert store.baselines("p") == {}


def test_an_empty_batch_sends_nothing(store):
    with Statements(store.engine) as seen:
        store.put_links([])
        store.put_baselines([])
        store.record([])
        store.remove_baselines("p", [])
    assert seen.writes() == []
