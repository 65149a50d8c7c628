"""Store writes are batched: one statement per table per call, not one per row.

Counted with SQLAlchemy's cursor events on the real database, so a return to
row-by-row statements (the cost issue 15 measured: 38 % of a 10,000-entry sync)
fails here whatever the machine's speed.
"""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from anibridge.bridge.stores import Baseline, JournalEntry, Link
from anibridge.store import SqlStore, create_store_engine
from anibridge.store.sql import _IN_CHUNK

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
        self.sent_sql: list[str] = []

    def _on_execute(self, conn, cursor, statement, parameters, context, many):
        self.sent.append((statement.split()[0].upper(), many))
        self.sent_sql.append(" ".join(statement.split()))

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


# The variable cap of SQLite builds before 3.32 (newer builds: 32,766; some distros
# raise it). PostgreSQL's wire protocol caps a statement at 65,535 parameters.
SQLITE_OLD_LIMIT = 999
PG_LIMIT = 65_535
LINK_COLUMNS = 11


@pytest.fixture
def capped_sqlite(tmp_path):
    """A SQLite store whose connections allow only 999 variables per statement."""
    engine = create_store_engine(f"sqlite:///{tmp_path / 'capped.db'}")

    @sa.event.listens_for(engine, "connect")
    def _cap(dbapi_connection, _record):
        dbapi_connection.setlimit(
            sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, SQLITE_OLD_LIMIT
        )

    opened = SqlStore(engine)
    yield opened
    opened.close()


def _round_trip(store: SqlStore, n: int) -> None:
    """Write and remove `n` rows of every batched table, checking each step."""
    store.put_links(_links(n))
    store.put_baselines(Baseline("p", f"L{i}", "progress", i, i, "t") for i in range(n))
    store.record(_entries(n))
    assert len(store.links("p", "plex", "anilist")) == n
    assert len(store.baselines("p")) == n
    assert len(store.entries("r1")) == n
    # Rewriting the same rows updates them in place (ON CONFLICT), never duplicates.
    store.put_links(_links(n))
    store.put_baselines(
        Baseline("p", f"L{i}", "progress", i, -i, "t") for i in range(n)
    )
    assert len(store.links("p", "plex", "anilist")) == n
    assert {b.target_value for b in store.baselines("p").values()} == {
        -i for i in range(n)
    }
    store.remove_links(lk.id for lk in _links(n))
    store.remove_baselines("p", [(f"L{i}", "progress") for i in range(n)])
    assert store.links("p", "plex", "anilist") == []
    assert store.baselines("p") == {}


@pytest.mark.parametrize(
    "n",
    [
        SQLITE_OLD_LIMIT // LINK_COLUMNS,  # one multi-row INSERT of links would fit
        SQLITE_OLD_LIMIT // LINK_COLUMNS + 1,  # ... and one more row would not
        _IN_CHUNK,  # one IN list of ids to remove
        _IN_CHUNK + 1,  # ... two
        SQLITE_OLD_LIMIT,  # one IN list of every id would just fit
        SQLITE_OLD_LIMIT + 1,  # ... and here it would not
    ],
)
def test_batches_around_sqlites_variable_cap(capped_sqlite, n):
    with Statements(capped_sqlite.engine) as seen:
        _round_trip(capped_sqlite, n)
    writes = seen.writes()
    assert all(many for op, many in writes if op != "DELETE"), writes
    link_deletes = [s for s in seen.sent_sql if s.startswith("DELETE FROM links")]
    assert len(link_deletes) == -(-n // _IN_CHUNK), link_deletes


def test_the_cap_is_real(capped_sqlite):
    """The fixture's cap bites: a statement with one variable too many fails."""
    marks = ",".join("?" * (SQLITE_OLD_LIMIT + 1))
    with (
        capped_sqlite.engine.connect() as conn,
        pytest.raises(sa.exc.OperationalError),
    ):
        conn.exec_driver_sql(
            f"SELECT 1 WHERE 1 IN ({marks})", (1,) * (SQLITE_OLD_LIMIT + 1)
        )


@pytest.mark.postgres
def test_links_past_postgresqls_parameter_cap(pg_engine):
    """More links than one PostgreSQL statement may bind, removed by their ids.

    Seeded server-side (65,536 single-row inserts would take the suite's time);
    the batched writes themselves are covered above and at 1,000 rows on both.
    """
    store = SqlStore(pg_engine)
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO links (id, profile, source_provider, source_key,"
            " source_part, target_provider, target_ref, via, edge, created_at)"
            " SELECT 'L' || g, 'p', 'plex', 's' || g, '', 'anilist', g::text,"
            " 'mapping', '', 't' FROM generate_series(0, %(last)s) AS g",
            {"last": PG_LIMIT},
        )
        ids = [row[0] for row in conn.exec_driver_sql("SELECT id FROM links")]
    assert len(ids) == PG_LIMIT + 1
    store.remove_links(ids)
    assert store.links("p", "plex", "anilist") == []


def test_chunks_act_like_upserts_one_after_the_other(store, monkeypatch):
    """Keys repeated across chunk boundaries: last values win, kept columns stay."""
    import anibridge.store.sql as sql

    monkeypatch.setattr(sql, "_CHUNK", 3)
    first = _links(1)[0]
    again = Link(*[getattr(first, f) for f in ("profile", "source_provider",
        "source_key", "source_part", "target_provider", "target_ref", "via")],
        edge="later", created_at="later")  # fmt: skip
    links = [first, *_links(7)[1:], again]  # 8 rows: chunks of 3, 3, 2
    with Statements(store.engine) as seen:
        store.put_links(links)
        store.put_baselines(
            Baseline("p", "L", "progress", i, i, f"t{i}") for i in range(7)
        )
    # links: chunks of 3, 3 and 2 rows; baselines (one key): three chunks of one row
    assert seen.writes() == [("INSERT", True)] * 3 + [("INSERT", False)] * 3
    (stored,) = [
        lk for lk in store.links("p", "plex", "anilist") if lk.source_key == "show0"
    ]
    assert (stored.edge, stored.created_at) == ("later", "t")  # first created_at kept
    assert len(store.links("p", "plex", "anilist")) == 7
    (b,) = store.baselines("p").values()
    assert (b.source_value, b.updated_at) == (6, "t6")
