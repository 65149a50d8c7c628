"""Reads proportional to what is read: SQL keyset paging, no whole-table decoding.

Issue 15 measured a local → local sync growing with the square of the plays,
because every page of `fetch_events` re-read and decoded the whole history. These
tests count the rows each page decodes (through the module's row decoders), so a
return to "read everything, then slice" fails here whatever the machine's speed,
and check that paging at any size yields exactly the unpaged order.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anibridge.provider.base import (
    EventQuery,
    EventSummaryQuery,
    FacetName,
    NodeFlag,
    NodeQuery,
    RecordField,
    RecordQuery,
    ScanQuery,
)
from anibridge.providers.local import LocalProvider, dump_document
from anibridge.providers.local import database as db_module
from anibridge.providers.local.database import LocalFileError

from .conftest import make

SHOWS = 60
EPISODES = 6
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def library_document(shows: int = SHOWS, episodes: int = EPISODES) -> bytes:
    items = []
    for i in range(shows):
        eps = [
            {
                "episode": e,
                "plays": [
                    (T0 + timedelta(days=i, hours=e)).isoformat(),
                    (T0 + timedelta(days=i + 400, hours=e)).isoformat(),
                ],
                **({"record": {"status": "completed"}} if e % 2 else {}),
            }
            for e in range(1, episodes + 1)
        ]
        items.append(
            {
                "key": f"show{i:03}",
                "kind": "show",
                "title": f"Show {i}",
                "ids": [f"tvdb_show:{1000 + i}"],
                "seasons": [{"season": 1, "episodes": eps}],
            }
        )
    items.append({"key": "zz-unwatched", "kind": "show", "title": "Nothing", "ids": []})
    return dump_document({"anibridge_local": 1, "items": items}, fmt="json")


@pytest.fixture
async def small(tmp_path):
    provider = make(tmp_path / "small.sqlite", create=True)
    await provider.initialize()
    provider.import_document(library_document(shows=7, episodes=3), where="test")
    yield provider
    await provider.close()


@pytest.fixture
async def big(tmp_path):
    provider = make(tmp_path / "big.sqlite", create=True)
    await provider.initialize()
    provider.import_document(library_document(), where="test")
    yield provider
    await provider.close()


class Decoded:
    """Counts rows turned into Python objects by the database module."""

    def __init__(self, monkeypatch) -> None:
        self.counts = {"_event": 0, "_node": 0, "_record": 0}
        for name in self.counts:
            original = getattr(db_module, name)

            def counting(row, _name=name, _original=original):
                self.counts[_name] += 1
                return _original(row)

            monkeypatch.setattr(db_module, name, counting)

    def take(self) -> dict[str, int]:
        out = dict(self.counts)
        for name in self.counts:
            self.counts[name] = 0
        return out


async def walk(call, limit):
    items, cursor, seen = [], None, set()
    while True:
        page = await call(cursor, limit)
        assert len(page.items) <= limit
        items.extend(page.items)
        if page.cursor is None:
            return items
        assert page.cursor not in seen
        seen.add(page.cursor)
        cursor = page.cursor


async def test_each_events_page_decodes_only_its_own_rows(big, monkeypatch):
    decoded = Decoded(monkeypatch)
    cursor, pages = None, 0
    while True:
        page = await big.fetch_events(EventQuery(cursor=cursor, limit=25))
        assert decoded.take()["_event"] <= 25 + 1  # the page plus one look-ahead
        pages += 1
        cursor = page.cursor
        if cursor is None:
            break
    assert pages == SHOWS * EPISODES * 2 // 25 + 1


async def test_each_scan_page_reads_only_its_anchors(big, monkeypatch):
    decoded = Decoded(monkeypatch)
    query = ScanQuery(
        facets=frozenset({FacetName.IDS}),
        fields=frozenset(RecordField),
        require_activity=True,
        with_records=True,
        limit=10,
    )
    cursor, anchors = None, []
    while True:
        page = await big.scan(replace(query, cursor=cursor))
        counts = decoded.take()
        anchors.extend(item.node.ref.key for item in page.items)
        # 10 anchors (+1 look-ahead), each read again with its season for the IDS
        # facet, and only their own records: never the other shows' episodes.
        assert counts["_node"] <= 11 + 2 * 10
        assert counts["_record"] == sum(len(item.records) for item in page.items)
        cursor = page.cursor
        if cursor is None:
            break
    assert anchors == [f"show{i:03}" for i in range(SHOWS)]  # unwatched left out


async def test_opening_a_big_file_decodes_no_node(tmp_path, monkeypatch):
    path = tmp_path / "big.sqlite"
    first = make(path, create=True)
    await first.initialize()
    first.import_document(library_document(), where="test")
    await first.close()
    decoded = Decoded(monkeypatch)
    again = make(path)
    await again.initialize()
    assert decoded.take() == {"_event": 0, "_node": 0, "_record": 0}
    assert again.capabilities().external_authorities == {"tvdb_show"}
    await again.close()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(limit=st.integers(min_value=1, max_value=50))
async def test_any_page_size_yields_the_unpaged_order(small, limit):
    everything = 10_000

    async def events(cursor, size):
        return await small.fetch_events(EventQuery(cursor=cursor, limit=size))

    async def summaries(cursor, size):
        return await small.fetch_event_summaries(
            EventSummaryQuery(cursor=cursor, limit=size)
        )

    async def nodes(cursor, size):
        return await small.fetch_nodes(
            NodeQuery(cursor=cursor, limit=size, flags=frozenset())
        )

    async def records(cursor, size):
        return await small.fetch_records(
            RecordQuery(cursor=cursor, limit=size, fields=frozenset(RecordField))
        )

    async def anchors(cursor, size):
        return await small.scan(
            ScanQuery(cursor=cursor, limit=size, flags=frozenset({NodeFlag.ANCHOR}))
        )

    for call in (events, summaries, nodes, records, anchors):
        whole = await walk(call, everything)
        assert await walk(call, limit) == whole, call.__name__
    all_events = await walk(events, everything)
    assert len(all_events) == 7 * 3 * 2
    order = [(e.ref.key, e.at) for e in all_events]
    assert order == sorted(order)
    sums = await walk(summaries, everything)
    assert len(sums) == 7 * 3 and {s.count for s in sums} == {2}
    assert all(s.first_at < s.last_at for s in sums)


async def test_kind_filters_are_applied_in_sql(big):
    page = await big.fetch_events(EventQuery(native_event_kinds=("nope",)))
    assert page.items == () and page.cursor is None
    movies = await big.scan(ScanQuery(native_node_kinds=("movie",)))
    assert movies.items == ()


@pytest.mark.parametrize(
    "cursor", ["7", "[]", '["a"]', '["a", "b", "c"]', '["a", "b", true]', "{"]
)
async def test_foreign_cursors_are_refused(big, cursor):
    with pytest.raises(ValueError, match="invalid cursor"):
        await big.fetch_events(EventQuery(cursor=cursor))


# -- the file upgrade -----------------------------------------------------------------


def _downgrade(path) -> None:
    """Make `path` look like a file written before the authorities table existed."""
    conn = sqlite3.connect(path)
    conn.executescript(
        "DROP TRIGGER node_ids_counted; DROP TRIGGER node_ids_uncounted;"
        "DROP TABLE authorities; DROP INDEX events_in_order;"
    )
    conn.close()


async def test_an_older_file_is_upgraded_once_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.sqlite"
    first = make(path, create=True)
    await first.initialize()
    first.import_document(library_document(shows=5), where="test")
    before = first.export_document()
    await first.close()
    _downgrade(path)
    again = make(path)
    await again.initialize()
    assert again.capabilities().external_authorities == {"tvdb_show"}
    assert again.export_document() == before
    conn = sqlite3.connect(path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"authorities", "events_in_order", "node_ids_counted"} <= names
    assert conn.execute("SELECT name, ids FROM authorities").fetchall() == [
        ("tvdb_show", 10)  # 5 shows x (show id + its season id)
    ]
    conn.close()
    await again.close()


async def test_a_failed_upgrade_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "old.sqlite"
    first = make(path, create=True)
    await first.initialize()
    first.import_document(library_document(shows=3), where="test")
    await first.close()
    _downgrade(path)
    broken = (*db_module._UPGRADE, "CREATE TABLE nodes (x)")  # fails last
    monkeypatch.setattr(db_module, "_UPGRADE", broken)
    with pytest.raises(LocalFileError, match=r"could not be upgraded.*unchanged"):
        await make(path).initialize()
    conn = sqlite3.connect(path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "authorities" not in names and "events_in_order" not in names
    monkeypatch.undo()
    fixed = make(path)
    await fixed.initialize()
    assert fixed.capabilities().external_authorities == {"tvdb_show"}
    await fixed.close()


async def test_authorities_follow_writes_deletes_and_imports(tmp_path):
    provider: LocalProvider = make(tmp_path / "l.sqlite", create=True)
    await provider.initialize()
    provider.import_document(library_document(shows=2), where="test")
    db = provider.db
    assert db.authorities() == {"tvdb_show"}
    doc = {
        "anibridge_local": 1,
        "items": [{"key": "m", "kind": "movie", "title": "M", "ids": ["tmdb_movie:1"]}],
    }
    provider.import_document(dump_document(doc, fmt="json"), where="test")
    assert db.authorities() == {"tmdb_movie"}
    with db.transaction():
        db.delete_anchor("m")
    assert db.authorities() == set()
    await provider.close()
