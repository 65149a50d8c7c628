from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pytest

from anibridge.provider.base import (
    AppendEvent,
    ChangeQuery,
    DeleteEvent,
    DeleteRecord,
    EventChange,
    EventQuery,
    EventSummaryQuery,
    ExternalId,
    FacetName,
    Identifiers,
    InboundRequest,
    NodeChange,
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
    Structure,
    UpsertRecord,
    WriteError,
)
from anibridge.providers.local import (
    PAYLOAD_TYPE,
    DocumentError,
    InboundPayloadError,
    LocalFileError,
)

ALL = frozenset(RecordField)
EP1 = Ref.at("bebop", ("season", 1), ("episode", 1))


async def test_library_shape_ids_structure_records_and_events(library):
    page = await library.scan(
        ScanQuery(facets=frozenset(FacetName), fields=ALL, require_activity=True)
    )
    keys = [item.node.ref.key for item in page.items]
    assert keys == ["akira", "bebop"]  # frieren has no activity
    bebop = page.items[1]
    ids = bebop.node.facets[FacetName.IDS]
    assert isinstance(ids, Identifiers)
    assert [i.descriptor for i in ids.ids] == [
        "tvdb_show:76885",
        "tmdb_show:30991",
        "tvdb_show:76885:s0",
        "tmdb_show:30991:s0",
        "tvdb_show:76885:s1",
        "tmdb_show:30991:s1",
    ]
    structure = bebop.node.facets[FacetName.STRUCTURE]
    assert isinstance(structure, Structure)
    assert structure.axes == ("season", "episode")
    assert [tuple(s.value for s in p.position) for p in structure.parts] == [
        (0, 1),
        (1, 1),
        (1, 2),
        (1, 3),
    ]
    (record,) = bebop.records
    assert record.ref == EP1
    assert record.values[RecordField.STATUS] == State("completed", Status.COMPLETED)
    assert record.values[RecordField.REPEAT_COUNT] == 1
    events = await library.fetch_events(EventQuery(refs=(EP1,)))
    assert [e.at for e in events.items] == [
        datetime(2024, 1, 1, 20, tzinfo=UTC),
        datetime(2024, 5, 1, 20, tzinfo=UTC),
    ]
    summaries = await library.fetch_event_summaries(EventSummaryQuery())
    by_ref = {s.ref: s for s in summaries.items}
    assert by_ref[EP1].count == 2
    assert by_ref[Ref("akira")].first_at == datetime(2023, 6, 1, 16, tzinfo=UTC)


async def test_resolve_maps_season_scopes_to_season_refs(library):
    matches = await library.resolve(
        [
            ExternalId.parse("tvdb_show:76885:s1"),
            ExternalId.parse("tmdb_movie:149"),
            ExternalId.parse("tvdb_show:76885:s7"),
        ]
    )
    assert {(m.external_id.descriptor, m.ref) for m in matches} == {
        ("tvdb_show:76885:s1", Ref.at("bebop", ("season", 1))),
        ("tmdb_movie:149", Ref("akira")),
    }


async def test_open_authority_resolves_unknown_titles_and_delete_forgets_them(alist):
    (match,) = await alist.resolve([ExternalId("anilist", "5114")])
    assert match.ref == Ref("anilist:5114")
    assert not await alist.resolve([ExternalId("mal", "5114")])
    before = alist.export_document()
    (created,) = await alist.write_records(
        [
            UpsertRecord(
                match.ref,
                set={
                    RecordField.STATUS: State(None, Status.COMPLETED),
                    RecordField.PROGRESS: Progress(64),
                },
            )
        ]
    )
    assert created.ok, created
    (deleted,) = await alist.write_records([DeleteRecord(key=created.key)])
    assert deleted.ok
    assert alist.export_document() == before


async def test_list_values_scale_and_date_precision(alist):
    page = await alist.fetch_records(RecordQuery(refs=(Ref("anilist:1"),), fields=ALL))
    (record,) = page.items
    assert record.values[RecordField.PROGRESS] == Progress(3, 26, "episode")
    assert record.values[RecordField.RATING] == Rating(85.0, (0.0, 100.0, 1.0))
    assert record.values[RecordField.STARTED_AT] == datetime(2024, 1, 1, tzinfo=UTC)
    (result,) = await alist.write_records(
        [
            UpsertRecord(
                Ref("anilist:1"),
                set={
                    RecordField.RATING: Rating(4.5, (0, 5, 0.5)),
                    RecordField.FINISHED_AT: datetime(2024, 3, 4, 23, 30, tzinfo=UTC),
                },
                clear=frozenset({RecordField.NOTES}),
            )
        ]
    )
    assert result.ok and result.revision == "2"
    page = await alist.fetch_records(
        RecordQuery(refs=(Ref("anilist:1"),), fields=frozenset({RecordField.RATING}))
    )
    assert set(page.items[0].values) == {RecordField.RATING}
    assert page.items[0].values[RecordField.RATING].value == 90.0
    item = alist.export_document()["items"][0]
    assert item["record"]["finished_at"] == "2024-03-04"
    assert "notes" not in item["record"]


async def test_write_errors_have_codes_and_leave_state_alone(alist):
    ref = Ref("anilist:1")
    before = alist.export_document()
    results = await alist.write_records(
        [
            UpsertRecord(ref, set={RecordField.PROGRESS: Progress(27)}),
            UpsertRecord(ref, set={RecordField.STATUS: State("bogus", None)}),
            UpsertRecord(ref, expected_revision="99", set={RecordField.NOTES: "x"}),
            UpsertRecord(ref, kind="watchlist", set={RecordField.NOTES: "x"}),
            UpsertRecord(Ref("mal:1"), set={RecordField.NOTES: "x"}),
            UpsertRecord(ref.child("episode", 3), set={RecordField.NOTES: "x"}),
            DeleteRecord(key="nope"),
            UpsertRecord(ref, set={RecordField.NOTES: "x" * 20_000}),
        ]
    )
    assert [r.code for r in results] == [
        WriteError.INVALID,
        WriteError.INVALID,
        WriteError.CONFLICT,
        WriteError.UNSUPPORTED,
        WriteError.NOT_FOUND,
        WriteError.UNSUPPORTED,
        WriteError.NOT_FOUND,
        WriteError.INVALID,
    ]
    assert all(not r.ok and r.error for r in results)
    assert alist.export_document() == before


async def test_unchanged_upsert_keeps_revision_and_writes_no_change(alist):
    feed = await alist.poll_changes(ChangeQuery())
    write = UpsertRecord(Ref("anilist:1"), set={RecordField.PROGRESS: Progress(3)})
    (result,) = await alist.write_records([write])
    assert result.ok and result.revision == "1"
    again = await alist.poll_changes(ChangeQuery(cursor=feed.cursor))
    assert again.items == () and again.cursor == feed.cursor


async def test_change_feed_reports_writes_after_cursor(library):
    head = (await library.poll_changes(ChangeQuery(limit=10_000))).cursor
    await library.write_records([UpsertRecord(EP1, set={RecordField.REPEAT_COUNT: 2})])
    ep3 = Ref.at("bebop", ("season", 1), ("episode", 3))
    at = datetime(2024, 6, 1, 12, tzinfo=UTC)
    await library.write_events([AppendEvent(ep3, "play", at)])
    await library.write_events([DeleteEvent(ref=ep3, kind="play", at=at)])
    page = await library.poll_changes(ChangeQuery(cursor=head))
    assert [type(c) for c in page.items] == [RecordChange, EventChange, EventChange]
    assert page.items[0].fields == frozenset({RecordField.REPEAT_COUNT})
    assert page.items[1].ref == ep3
    rest = await library.poll_changes(ChangeQuery(cursor=page.cursor))
    assert rest.items == ()


async def test_events_rules(library):
    season = Ref.at("bebop", ("season", 1))
    at = datetime(2024, 6, 1, 12, tzinfo=UTC)
    results = await library.write_events(
        [
            AppendEvent(season, "play", at),
            AppendEvent(EP1, "checkin", at),
            AppendEvent(EP1, "play", datetime(2024, 6, 1, 12)),
            AppendEvent(Ref.at("bebop", ("season", 9), ("episode", 1)), "play", at),
            DeleteEvent(key="12345"),
        ]
    )
    assert [r.code for r in results] == [
        WriteError.UNSUPPORTED,
        WriteError.UNSUPPORTED,
        WriteError.INVALID,
        WriteError.NOT_FOUND,
        WriteError.NOT_FOUND,
    ]


async def test_backup_round_trip_restores_exact_state(library):
    artifact = await library.export_backup()
    assert artifact is not None and artifact.file_extension == ".json"
    before = library.export_document()
    await library.write_records([DeleteRecord(ref=EP1)])
    await library.write_events(
        [AppendEvent(Ref("akira"), "play", datetime(2025, 1, 1, tzinfo=UTC))]
    )
    assert library.export_document() != before
    await library.import_backup(artifact.content)
    assert library.export_document() == before
    assert json.loads(artifact.content) == before


async def test_fetch_nodes_parts_and_search(library):
    page = await library.fetch_nodes(
        NodeQuery(
            refs=(EP1, Ref.at("bebop", ("season", 1)), Ref("missing")),
            facets=frozenset({FacetName.TITLES}),
        )
    )
    assert [(n.kind, n.title) for n in page.items] == [
        ("episode", "Asteroid Blues"),
        ("season", "Season 1"),
    ]
    found = await library.search_nodes("bebop")
    assert [n.ref for n in found.items] == [Ref("bebop")]
    assert (await library.search_nodes("zzzzzz")).items == ()


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ("anibridge_local: 2\nitems: []\n", "anibridge_local: expected 1"),
        (
            "anibridge_local: 1\nitems:\n  - {key: a, kind: tv}\n",
            "items[0].kind: expected one of",
        ),
        (
            "anibridge_local: 1\nitems:\n  - key: a\n    kind: show\n    seasons:\n"
            "      - season: 1\n        episodes:\n          - episode: 1\n"
            "            record: {status: watched}\n",
            "items[0].seasons[0].episodes[0].record.status",
        ),
        (
            "anibridge_local: 1\nitems:\n"
            "  - {key: a, kind: movie, plays: [yesterday]}\n",
            "items[0].plays[0]: expected an ISO-8601 datetime",
        ),
        (
            "anibridge_local: 1\nitems:\n  - {key: a, kind: movie, colour: red}\n",
            "unknown key(s) colour",
        ),
        ("{not json", "not valid YAML/JSON"),
    ],
)
async def test_document_errors_name_the_key_path(library, doc, where):
    before = library.export_document()
    with pytest.raises(DocumentError) as err:
        library.import_document(doc.encode(), where="my.yaml")
    assert "my.yaml" in str(err.value)
    assert where in str(err.value)
    assert library.export_document() == before


async def test_corrupt_and_foreign_files_are_refused(tmp_path, make_local):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"\x00garbage" * 500)
    provider = make_local(junk)
    with pytest.raises(LocalFileError, match=r"junk\.sqlite"):
        await provider.initialize()
    assert junk.read_bytes() == b"\x00garbage" * 500
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE x (y)")
    with pytest.raises(LocalFileError, match="not an AniBridge local file"):
        await make_local(foreign).initialize()
    with pytest.raises(LocalFileError, match="does not exist"):
        await make_local(tmp_path / "none.sqlite", create=False).initialize()


def test_bad_config_names_the_key(tmp_path, make_local):
    with pytest.raises(ValueError, match="rating_scale"):
        make_local(tmp_path / "x.sqlite", rating_scale=[10, 0, 1])
    with pytest.raises(ValueError, match="unknown config key"):
        make_local(tmp_path / "x.sqlite", colour="red")
    with pytest.raises(ValueError, match="'date_precision'"):
        make_local(tmp_path / "x.sqlite", date_precision="week")


async def test_inbound_payload(library):
    body = {
        "type": PAYLOAD_TYPE,
        "instance": "library",
        "changes": [
            {
                "kind": "record",
                "ref": {"key": "bebop", "path": {"season": 1, "episode": 2}},
                "at": "2024-01-01T00:00:00Z",
                "fields": ["status"],
            },
            {"kind": "event", "ref": "akira"},
            {"kind": "node", "ref": "bebop", "facets": ["ids"]},
        ],
    }
    result = await library.parse_inbound(
        InboundRequest("POST", "/webhook/local", body=json.dumps(body).encode())
    )
    assert result.matched
    first, second, third = result.changes
    assert isinstance(first, RecordChange)
    assert first.ref == Ref.at("bebop", ("season", 1), ("episode", 2))
    assert first.fields == frozenset({RecordField.STATUS})
    assert isinstance(second, EventChange) and second.ref == Ref("akira")
    assert isinstance(third, NodeChange) and third.facets == frozenset({FacetName.IDS})
    other = dict(body, instance="someone-else")
    miss = await library.parse_inbound(
        InboundRequest("POST", "/webhook/local", body=json.dumps(other).encode())
    )
    assert not miss.matched
    assert not (
        await library.parse_inbound(InboundRequest("POST", "/", body=b"x"))
    ).matched
    bad = dict(body, changes=[{"kind": "record", "ref": {"path": []}}])
    with pytest.raises(InboundPayloadError, match=r"changes\[0\]\.ref"):
        await library.parse_inbound(
            InboundRequest("POST", "/", body=json.dumps(bad).encode())
        )


async def test_resolve_index_follows_imports_and_auto_titles(alist):
    assert await alist.resolve([ExternalId("mal", "1")])  # from the seed document
    alist.import_document(
        b"anibridge_local: 1\nitems:\n  - {key: x, kind: series, ids: ['mal:99']}\n",
        where="doc",
    )
    assert not await alist.resolve([ExternalId("mal", "1")])
    (match,) = await alist.resolve([ExternalId("mal", "99")])
    assert match.ref == Ref("x")
