from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from anibridge.provider.base import (
    AppendEvent,
    ChangeQuery,
    DeleteEvent,
    DeleteRecord,
    EventQuery,
    EventSummaryQuery,
    ExternalId,
    FacetName,
    InboundRequest,
    NodeFlag,
    NodeQuery,
    Progress,
    Rating,
    RecordChange,
    RecordField,
    RecordQuery,
    Ref,
    ScanQuery,
    State,
    Status,
    SupportsEventWrites,
    SupportsRecordWrites,
    SupportsScan,
    UpsertRecord,
    WriteError,
    WriteOp,
)
from anibridge.provider.testing.memory import (
    MemoryProvider,
    episode_ref,
    library_capabilities,
    library_movie,
    library_show,
    list_entry,
    list_record,
    make_library_provider,
    make_list_provider,
    memory_provider,
    mixins_for,
    play,
    watched_record,
)

T0 = datetime(2024, 3, 1, 20, 30, tzinfo=UTC)


def tracker():
    return make_list_provider(
        [
            list_entry("1", "Cowboy Bebop", episodes=26, ids=["anilist:1", "mal:1"]),
            list_entry("20", "Naruto", episodes=220, ids=["anilist:20"]),
        ],
        [list_record("1", status=Status.ACTIVE, progress=3, rating=80.0)],
        clock=lambda: T0,
    )


def library():
    return make_library_provider(
        [
            *library_show("show1", "Bebop", {1: 3, 2: 2}, ids=["tvdb_show:76885"]),
            library_movie("mov1", "Bebop Movie", ids=["tmdb_movie:11299"]),
        ],
        [watched_record(episode_ref("show1", 1, 1), last_viewed=T0, repeat_count=0)],
        [
            play(episode_ref("show1", 1, 1), T0),
            play(episode_ref("show1", 1, 1), T0 + timedelta(days=1)),
        ],
    )


async def test_account_only_after_initialize():
    p = tracker()
    assert p.account() is None
    await p.initialize()
    assert p.account() is not None and p.account().key == "memory-user"


def test_mixins_follow_capabilities():
    lst = tracker()
    assert isinstance(lst, SupportsRecordWrites) and not isinstance(
        lst, SupportsEventWrites
    )
    lib = library()
    assert isinstance(lib, SupportsScan) and not isinstance(lib, SupportsRecordWrites)
    writable = make_library_provider(writable=True)
    assert isinstance(writable, SupportsEventWrites)
    assert isinstance(MemoryProvider(), SupportsEventWrites)
    assert SupportsEventWrites not in mixins_for(library_capabilities())


async def test_projection_and_paging():
    p = library()
    page = await p.fetch_nodes(NodeQuery(facets=frozenset({FacetName.IDS}), limit=4))
    assert len(page.items) == 4 and page.total == 1 + 2 + 5 + 1 and page.cursor
    assert all(set(n.facets) <= {FacetName.IDS} for n in page.items)
    anchor = page.items[0]
    assert ExternalId.parse("tvdb_show:76885:s2") in anchor.facets[FacetName.IDS].ids
    seen = []
    cursor = None
    while True:
        page = await p.fetch_nodes(NodeQuery(cursor=cursor, limit=3))
        seen += [n.ref for n in page.items]
        cursor = page.cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 9
    with pytest.raises(ValueError, match="not a cursor"):
        await p.fetch_nodes(NodeQuery(cursor="bogus"))


async def test_scan_roots_carry_state_below_them():
    p = library()
    page = await p.scan(
        ScanQuery(
            flags=frozenset({NodeFlag.SCAN_ROOT}),
            fields=frozenset({RecordField.STATUS}),
            require_activity=True,
        )
    )
    assert [i.node.ref for i in page.items] == [Ref("show1")]
    (record,) = page.items[0].records
    assert record.ref == episode_ref("show1", 1, 1)
    assert set(record.values) == {RecordField.STATUS}
    everything = await p.scan(ScanQuery(with_records=False))
    assert all(not i.records for i in everything.items) and everything.total == 9


async def test_resolve_and_search():
    p = library()
    matches = await p.resolve(
        [ExternalId.parse("tvdb_show:76885:s1"), ExternalId("x", "1")]
    )
    assert {m.ref for m in matches} == {Ref("show1"), Ref.at("show1", ("season", 1))}
    found = await p.search_nodes("bebop", limit=1)
    assert [n.ref for n in found.items] == [Ref("show1")]


async def test_upsert_normalizes_and_checks_constraints():
    p = tracker()
    rev = p.record(Ref("1")).revision
    results = await p.write_records(
        [
            UpsertRecord(
                Ref("1"),
                token="a",
                expected_revision=rev,
                set={
                    RecordField.STATUS: State(status=Status.COMPLETED),
                    RecordField.FINISHED_AT: datetime(2024, 3, 2, 23, 0, tzinfo=UTC),
                    RecordField.PROGRESS: Progress(26, total=99, unit="ep"),
                },
                clear=frozenset({RecordField.RATING}),
            ),
            UpsertRecord(Ref("1"), token="b", expected_revision=rev),
            UpsertRecord(
                Ref("1"), token="c", set={RecordField.RATING: Rating(7, (0, 10, 1))}
            ),
            UpsertRecord(
                Ref("1"),
                token="d",
                set={RecordField.RATING: Rating(80.5, (0.0, 100.0, 1.0))},
            ),
            UpsertRecord(Ref("1"), token="e", set={RecordField.NOTES: "x" * 2001}),
            UpsertRecord(Ref("1"), token="f", set={RecordField.LAST_ACTIVITY_AT: T0}),
            UpsertRecord(Ref("nope"), token="g"),
            UpsertRecord(Ref("1"), kind="watchlist", token="h"),
            UpsertRecord(
                Ref("1"), token="i", set={RecordField.STATUS: State("WATCHING")}
            ),
            UpsertRecord(Ref("1"), token="j", set={RecordField.REPEAT_COUNT: None}),
            UpsertRecord(
                Ref("1"),
                token="k",
                set={
                    RecordField.STARTED_AT: datetime(
                        2024, 1, 1, tzinfo=timezone(timedelta(hours=-5))
                    )
                },
            ),
        ]
    )
    assert [r.token for r in results] == list("abcdefghijk")
    assert results[0].ok and results[0].revision == str(int(rev) + 1)
    assert [r.code for r in results[1:]] == [
        WriteError.CONFLICT,
        WriteError.INVALID,
        WriteError.INVALID,
        WriteError.INVALID,
        WriteError.UNSUPPORTED,
        WriteError.NOT_FOUND,
        WriteError.UNSUPPORTED,
        WriteError.INVALID,
        WriteError.INVALID,
        WriteError.INVALID,
    ]
    stored = p.record(Ref("1"))
    assert stored.values[RecordField.STATUS] == State("COMPLETED", Status.COMPLETED)
    assert stored.values[RecordField.FINISHED_AT] == datetime(2024, 3, 2, tzinfo=UTC)
    assert stored.values[RecordField.PROGRESS] == Progress(26)
    assert RecordField.RATING not in stored.values
    assert stored.updated_at == T0
    change = p.changes()[-1]
    assert isinstance(change, RecordChange) and RecordField.RATING in change.fields


async def test_delete_and_injected_failures():
    p = tracker()
    p.inject_failure(WriteError.RATE_LIMITED, op=WriteOp.DELETE_RECORD)
    first = await p.write_records([DeleteRecord(Ref("1"), token="x")])
    assert first[0].code == WriteError.RATE_LIMITED and p.record(Ref("1")) is not None
    second = await p.write_records(
        [DeleteRecord(Ref("1"), token="y"), DeleteRecord(Ref("1"))]
    )
    assert second[0].ok and p.record(Ref("1")) is None
    assert second[1].code == WriteError.NOT_FOUND
    p.inject_failure(WriteError.TRANSIENT, ref=Ref("20"), times=None)
    for _ in range(3):
        (r,) = await p.write_records([UpsertRecord(Ref("20"))])
        assert r.code == WriteError.TRANSIENT
    p.clear_failures()
    (r,) = await p.write_records([UpsertRecord(Ref("20"))])
    assert r.ok


async def test_events_idempotent_summaries_and_deletes():
    p = make_library_provider(library_show("s", "S", {1: 2}), writable=True)
    ref = episode_ref("s", 1, 2)
    at = datetime(2024, 1, 1, tzinfo=UTC)
    results = await p.write_events(
        [
            AppendEvent(ref, "play", at, token="1"),
            AppendEvent(ref, "play", at, token="2"),
        ]
    )
    assert results[0].key == results[1].key and len(p.events()) == 1
    naive = await p.write_events([AppendEvent(ref, "play", datetime(2024, 1, 1))])
    assert naive[0].code == WriteError.INVALID
    unsupported = await p.write_events([DeleteEvent(key=results[0].key)])
    assert unsupported[0].code == WriteError.UNSUPPORTED
    full = MemoryProvider(nodes=library_show("s", "S", {1: 2}))
    await full.write_events(
        [
            AppendEvent(ref, "play", at),
            AppendEvent(ref, "play", at + timedelta(hours=1)),
        ]
    )
    summary = (await full.fetch_event_summaries(EventSummaryQuery())).items
    assert (
        len(summary) == 1
        and summary[0].count == 2
        and summary[0].last_at == at + timedelta(hours=1)
    )
    deleted = await full.write_events(
        [DeleteEvent(ref=ref, kind="play", at=at), DeleteEvent(ref=ref)]
    )
    assert deleted[0].ok and deleted[1].code == WriteError.INVALID
    assert len((await full.fetch_events(EventQuery(refs=(ref,)))).items) == 1


async def test_change_feed_cursor():
    p = tracker()
    first = await p.poll_changes(ChangeQuery())
    assert first.items == () and first.cursor == "change:0"
    await p.write_records(
        [UpsertRecord(Ref("20"), set={RecordField.PROGRESS: Progress(1)})]
    )
    page = await p.poll_changes(ChangeQuery(cursor=first.cursor))
    assert len(page.items) == 1 and page.items[0].ref == Ref("20")
    assert (await p.poll_changes(ChangeQuery(cursor=page.cursor))).items == ()


async def test_backup_round_trip():
    p = library()
    full = MemoryProvider(nodes=p.nodes(), records=p.records(), events=p.events())
    artifact = await full.export_backup()
    assert artifact.file_extension == ".json"
    other = MemoryProvider(nodes=p.nodes())
    await other.import_backup(artifact.content)
    assert other.records() == full.records() and other.events() == full.events()
    with pytest.raises(ValueError, match="format"):
        await other.import_backup(b"{}")
    with pytest.raises(ValueError, match="not JSON"):
        await other.import_backup(b"\xff")


async def test_inbound():
    p = tracker()
    body = {
        "provider": "memory",
        "changes": [
            {
                "type": "record",
                "ref": {"key": "1", "path": [["episode", 3]]},
                "at": "2024-01-01T00:00:00Z",
                "fields": ["progress"],
            }
        ],
    }
    result = await p.parse_inbound(
        InboundRequest("POST", "/hook", body=json.dumps(body).encode())
    )
    assert result.matched
    (change,) = result.changes
    assert change.ref == Ref.at("1", ("episode", 3)) and change.at == datetime(
        2024, 1, 1, tzinfo=UTC
    )
    assert not (await p.parse_inbound(InboundRequest("POST", "/", body=b"{}"))).matched
    assert not (
        await p.parse_inbound(InboundRequest("POST", "/", body=b"nope"))
    ).matched
    with pytest.raises(ValueError, match=r"changes\[0\].type"):
        await p.parse_inbound(
            InboundRequest(
                "POST", "/", body=b'{"provider": "memory", "changes": [{"type": "x"}]}'
            )
        )


async def test_fetch_records_filters_and_explicit_mixins():
    p = memory_provider(
        library_capabilities(),
        mixins=[SupportsScan],
        records=[list_record("a"), list_record("b")],
    )
    assert isinstance(p, SupportsScan) and not isinstance(p, SupportsRecordWrites)
    page = await p.fetch_records(RecordQuery(refs=(Ref("b"),)))
    assert [r.ref for r in page.items] == [Ref("b")] and page.items[0].key
    keyed = await p.fetch_records(RecordQuery(keys=(page.items[0].key,), limit=1))
    assert keyed.items == page.items and keyed.total == 1


def test_memory_provider_does_not_need_pytest():
    code = (
        "import sys; import anibridge.provider.testing.memory; "
        "import anibridge.provider.testing as t; "
        "assert 'pytest' not in sys.modules, 'pytest imported'; "
        "assert t.ProviderContractTests.__name__ == 'ProviderContractTests'; "
        "assert 'pytest' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    import anibridge.provider.testing as testing

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        testing.Nope  # noqa: B018


async def test_injected_exceptions():
    p = tracker()
    p.inject_exception(ConnectionError("down"), method="scan", times=2)
    await p.initialize()
    for _ in range(2):
        with pytest.raises(ConnectionError, match="down"):
            await p.scan(ScanQuery())
    assert (await p.scan(ScanQuery())).total == 2
    p.inject_exception(PermissionError("auth"), times=None)
    with pytest.raises(PermissionError):
        await p.fetch_records(RecordQuery())
    with pytest.raises(PermissionError):
        await p.initialize()
    p.clear_failures()
    await p.initialize()
    assert [name for name, _ in p.calls].count("scan") == 3


async def test_backup_errors_name_the_place():
    p = MemoryProvider()
    head = b'{"format": "anibridge-memory-backup", "version": 1, '
    with pytest.raises(ValueError, match=r"events\[0\]: 'at'"):
        await p.import_backup(head + b'"events": [{"ref": "a", "kind": "play"}]}')
    with pytest.raises(
        ValueError, match=r"records\[0\].values has unknown field 'mood'"
    ):
        await p.import_backup(
            head + b'"records": [{"ref": "a", "values": {"mood": 1}}]}'
        )
    with pytest.raises(ValueError, match="unsupported version 2"):
        await p.import_backup(b'{"format": "anibridge-memory-backup", "version": 2}')


async def test_unexpected_write_error_becomes_internal_result():
    class Buggy(MemoryProvider):
        def _upsert_record(self, write):
            raise RuntimeError("boom")

    p = Buggy(nodes=[list_entry("1", "A")])
    results = await p.write_records(
        [UpsertRecord(Ref("1"), token="a"), DeleteRecord(Ref("1"), token="b")]
    )
    assert results[0].code == WriteError.INTERNAL and "boom" in results[0].error
    assert results[1].code == WriteError.NOT_FOUND and results[1].token == "b"
