from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from anibridge.dates import from_epoch
from anibridge.provider.base import (
    ChangeQuery,
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
from anibridge.testing.fakes.media import MediaLibrary
from anibridge.testing.fakes.plex import FakePlex, plex_metadata, plex_webhook
from anibridge.testing.fakes.server import Fault

ALL = frozenset({FacetName.IDS, FacetName.STRUCTURE, FacetName.TITLES})
WATCHED = State("watched", Status.COMPLETED)
FIELDS = frozenset(
    {RecordField.STATUS, RecordField.REPEAT_COUNT, RecordField.LAST_ACTIVITY_AT,
     RecordField.RATING}
)  # fmt: skip


def ep_ref(library: MediaLibrary, title: str, season: int, number: int) -> Ref:
    show = library.find(title)
    return Ref.at(show.key, ("season", season), ("episode", number))


async def scan_all(provider, **kw):
    kw.setdefault("fields", FIELDS)
    items, cursor = [], None
    while True:
        page = await provider.scan(ScanQuery(cursor=cursor, **kw))
        items.extend(page.items)
        cursor = page.cursor
        if cursor is None:
            return items


async def test_initialize_selects_owner_and_show_and_movie_sections(provider, plex):
    assert provider.account().key == "1"
    assert [s.title for s in provider.sections] == ["Anime", "Movies", "TV"]
    tv = next(s for s in provider.sections if s.title == "TV")
    assert tv.ordering == "tmdb_show"


async def test_scan_builds_the_library_shape(provider, library):
    items = {i.node.title: i for i in await scan_all(provider, facets=ALL)}
    assert set(items) == {"Cowboy Bebop", "Haibane Renmei", "Monk", "Akira"}
    bebop = items["Cowboy Bebop"]
    assert bebop.node.kind == "show"
    ids = bebop.node.facets[FacetName.IDS]
    assert isinstance(ids, Identifiers)
    descriptors = [i.descriptor for i in ids.ids]
    assert descriptors[:3] == [
        "tvdb_show:76885",
        "tvdb_show:76885:s0",
        "tvdb_show:76885:s1",
    ]
    assert "tmdb_show:30991:s1" in descriptors and "imdb_show:tt0213338" in descriptors
    structure = bebop.node.facets[FacetName.STRUCTURE]
    assert isinstance(structure, Structure)
    assert structure.axes == ("season", "episode")
    positions = [(p.position[0].value, p.position[1].value) for p in structure.parts]
    assert positions == [(0, 1), (1, 1), (1, 2), (1, 3)]
    assert structure.parts[1].key == library.episode("Cowboy Bebop", 1, 1).key
    records = {r.ref: r for r in bebop.records}
    e1 = records[ep_ref(library, "Cowboy Bebop", 1, 1)]
    assert e1.values[RecordField.STATUS] == WATCHED
    assert e1.values[RecordField.REPEAT_COUNT] == 0
    assert e1.values[RecordField.LAST_ACTIVITY_AT] == from_epoch(1_700_000_000)
    assert e1.values[RecordField.RATING] == Rating(8.0, (0.0, 10.0, 1.0))
    e2 = records[ep_ref(library, "Cowboy Bebop", 1, 2)]
    assert e2.values[RecordField.REPEAT_COUNT] == 1
    assert e2.values[RecordField.LAST_ACTIVITY_AT] == from_epoch(1_700_000_200)
    show_record = records[Ref.anchor(bebop.node.ref.key)]
    assert show_record.values == {RecordField.RATING: Rating(9.0, (0.0, 10.0, 1.0))}
    haibane = items["Haibane Renmei"].node.facets[FacetName.IDS]
    assert [i.descriptor for i in haibane.ids] == ["anidb:69:S", "anidb:69:R"]
    akira = items["Akira"]
    assert akira.node.kind == "movie"
    assert akira.records[0].ref == Ref.anchor(akira.node.ref.key)
    assert akira.records[0].values[RecordField.STATUS] == WATCHED


async def test_scan_projection_and_activity_filter(provider):
    items = await scan_all(provider, with_records=False, require_activity=True)
    assert {i.node.title for i in items} == {"Cowboy Bebop", "Haibane Renmei", "Akira"}
    assert all(i.records == () and i.node.facets == {} for i in items)
    only_rating = await scan_all(provider, fields=frozenset({RecordField.RATING}))
    for item in only_rating:
        for record in item.records:
            assert set(record.values) <= {RecordField.RATING}


async def test_sections_and_genres_filter(make_plex):
    p = make_plex(sections=["TV"])
    await p.initialize()
    assert [i.node.title for i in (await p.scan(ScanQuery())).items] == ["Monk"]
    p = make_plex(genres=["anime"])
    await p.initialize()
    titles = {i.node.title for i in (await p.scan(ScanQuery())).items}
    assert titles == {"Cowboy Bebop", "Haibane Renmei", "Akira"}
    with pytest.raises(ValueError, match="no show/movie section named \\['music'\\]"):
        await make_plex(sections=["Music"]).initialize()


async def test_show_ordering_and_strict(make_plex, library):
    monk = library.find("Monk")
    monk.plex_guids = ["tvdb://78490", "tmdb://1695"]
    p = make_plex(strict=True)
    await p.initialize()
    page = await p.fetch_nodes(
        NodeQuery(refs=(Ref(monk.key),), facets=frozenset({FacetName.IDS}))
    )
    ids = [i.descriptor for i in page.items[0].facets[FacetName.IDS].ids]
    # the TV section is ordered by TMDB: TVDB seasons would be wrong and are dropped
    assert ids == ["tmdb_show:1695", "tmdb_show:1695:s1"]
    p = make_plex()
    await p.initialize()
    page = await p.fetch_nodes(
        NodeQuery(refs=(Ref(monk.key),), facets=frozenset({FacetName.IDS}))
    )
    ids = [i.descriptor for i in page.items[0].facets[FacetName.IDS].ids]
    assert ids[0] == "tmdb_show:1695" and "tvdb_show:78490:s1" in ids
    monk.show_ordering = "aired"  # a per-show setting beats the section's
    page = await p.fetch_nodes(
        NodeQuery(refs=(Ref(monk.key),), facets=frozenset({FacetName.IDS}))
    )
    assert page.items[0].facets[FacetName.IDS].ids[0].descriptor == "tvdb_show:78490"


async def test_events_are_the_accounts_history(provider, library):
    page = await provider.fetch_events(EventQuery())
    got = [(e.ref, e.at) for e in page.items]
    bebop = library.find("Cowboy Bebop")
    akira = library.find("Akira")
    assert (ep_ref(library, "Cowboy Bebop", 1, 2), from_epoch(1_700_000_100)) in got
    assert (ep_ref(library, "Cowboy Bebop", 1, 2), from_epoch(1_700_000_200)) in got
    assert (Ref(akira.key), from_epoch(1_700_000_600)) in got
    assert len(got) == 5  # the kid's play is not the owner's
    one = await provider.fetch_events(
        EventQuery(refs=(ep_ref(library, "Cowboy Bebop", 1, 2),))
    )
    assert len(one.items) == 2
    assert all(e.ref.key == bebop.key for e in one.items)


async def test_event_summaries(provider, library):
    ref = ep_ref(library, "Cowboy Bebop", 1, 2)
    page = await provider.fetch_event_summaries(EventSummaryQuery(refs=(ref,)))
    (summary,) = page.items
    assert (summary.count, summary.last_at) == (2, from_epoch(1_700_000_200))


async def test_resolve(provider, library):
    bebop, haibane = library.find("Cowboy Bebop"), library.find("Haibane Renmei")
    matches = await provider.resolve(
        [
            ExternalId("tvdb_show", "76885", "s1"),
            ExternalId("anidb", "69", "R"),
            ExternalId("tmdb_movie", "149"),
            ExternalId("anilist", "1"),
        ]
    )
    got = {(m.external_id.descriptor, m.ref.key) for m in matches}
    assert got == {
        ("tvdb_show:76885:s1", bebop.key),
        ("anidb:69:R", haibane.key),
        ("tmdb_movie:149", library.find("Akira").key),
    }


async def test_home_user_switch_reads_that_users_state(
    make_plex, plex, plex_tv, library
):
    p = make_plex(user="Kid", pin="1234")
    await p.initialize()
    assert p.account().key == "5000" and p.account().title == "Kid"
    items = {i.node.title: i for i in await scan_all(p, require_activity=True)}
    assert set(items) == {"Haibane Renmei"}
    (record,) = items["Haibane Renmei"].records
    assert record.ref == ep_ref(library, "Haibane Renmei", 1, 2)
    events = await p.fetch_events(EventQuery())
    assert [e.ref for e in events.items] == [record.ref]
    # the kid's writes land on the kid's state only
    ref = ep_ref(library, "Cowboy Bebop", 1, 3)
    (result,) = await p.write_records(
        [UpsertRecord(ref, set={RecordField.STATUS: WATCHED})]
    )
    assert result.ok
    key = library.episode("Cowboy Bebop", 1, 3).key
    assert library.peek("5000", key).view_count == 1
    assert library.peek("1", key) is None
    await p.close()


async def test_home_user_errors_are_clear(make_plex):
    with pytest.raises(ValueError, match="no Plex Home user 'Nobody'"):
        await make_plex(user="Nobody").initialize()
    from anibridge.http import HttpError

    with pytest.raises(HttpError) as info:
        await make_plex(user="Kid", pin="0000").initialize()
    assert info.value.code is WriteError.AUTH


async def test_mark_watched_is_idempotent_and_unwatch(provider, plex, library):
    ref = ep_ref(library, "Cowboy Bebop", 1, 3)
    key = library.episode("Cowboy Bebop", 1, 3).key
    write = UpsertRecord(ref, set={RecordField.STATUS: WATCHED}, token="t1")
    (first,) = await provider.write_records([write])
    assert first.ok and first.token == "t1" and first.key == key
    plex.reset_counters()
    (again,) = await provider.write_records([write])
    assert again.ok
    assert plex.count("write") == 0  # already watched: no second view
    assert library.peek("1", key).view_count == 1
    (clear,) = await provider.write_records(
        [UpsertRecord(ref, clear=frozenset({RecordField.STATUS}))]
    )
    assert clear.ok and library.peek("1", key).view_count == 0
    records = await provider.fetch_records(RecordQuery(refs=(ref,), fields=FIELDS))
    assert records.items == ()


async def test_rate_and_clear_rating(provider, library):
    ref = ep_ref(library, "Cowboy Bebop", 1, 1)
    key = library.episode("Cowboy Bebop", 1, 1).key
    rating = Rating(6.6, (0.0, 10.0, 1.0))
    (ok,) = await provider.write_records(
        [UpsertRecord(ref, set={RecordField.RATING: rating})]
    )
    assert ok.ok and library.peek("1", key).rating == 7.0
    (ok,) = await provider.write_records(
        [UpsertRecord(ref, clear=frozenset({RecordField.RATING}))]
    )
    assert ok.ok and library.peek("1", key).rating is None
    show = library.find("Cowboy Bebop").key
    (ok,) = await provider.write_records(
        [UpsertRecord(Ref(show), set={RecordField.RATING: Rating(4, (0, 10, 1))})]
    )
    assert ok.ok and library.peek("1", show).rating == 4.0


async def test_unwritable_and_invalid_writes_are_refused(provider, plex, library):
    ref = ep_ref(library, "Cowboy Bebop", 1, 3)
    when = datetime(2024, 1, 2, tzinfo=UTC)
    writes = [
        UpsertRecord(
            ref, set={RecordField.STATUS: WATCHED, RecordField.LAST_ACTIVITY_AT: when}
        ),
        UpsertRecord(ref, set={RecordField.REPEAT_COUNT: 3}),
        UpsertRecord(ref, set={RecordField.STATUS: State("dropped", Status.DROPPED)}),
        UpsertRecord(ref, set={RecordField.RATING: Rating(11, (0, 10, 1))}),
        UpsertRecord(ref, set={RecordField.RATING: Rating(4, (0, 5, 1))}),
        UpsertRecord(
            Ref(library.find("Cowboy Bebop").key), set={RecordField.STATUS: WATCHED}
        ),
        UpsertRecord(
            ep_ref(library, "Cowboy Bebop", 9, 9), set={RecordField.STATUS: WATCHED}
        ),
        UpsertRecord(Ref("999999"), set={RecordField.STATUS: WATCHED}),
        DeleteRecord(key="whatever"),
    ]
    plex.reset_counters()
    results = await provider.write_records(writes)
    codes = [r.code for r in results]
    assert codes == [
        WriteError.UNSUPPORTED,
        WriteError.UNSUPPORTED,
        WriteError.INVALID,
        WriteError.INVALID,
        WriteError.INVALID,
        WriteError.UNSUPPORTED,
        WriteError.NOT_FOUND,
        WriteError.NOT_FOUND,
        WriteError.NOT_FOUND,
    ]
    assert all(not r.ok and r.error for r in results)
    assert plex.count("write") == 0


async def test_delete_record_unwatches_and_unrates(provider, library):
    ref = ep_ref(library, "Cowboy Bebop", 1, 1)
    key = library.episode("Cowboy Bebop", 1, 1).key
    (result,) = await provider.write_records([DeleteRecord(ref=ref)])
    assert result.ok
    state = library.peek("1", key)
    assert state.view_count == 0 and state.rating is None


async def test_scrobble_failure_is_not_retried_and_reported(provider, plex, library):
    ref = ep_ref(library, "Cowboy Bebop", 1, 3)
    plex.inject(Fault(status=502, times=1, match=lambda r: r.path == "/:/scrobble"))
    (result,) = await provider.write_records(
        [UpsertRecord(ref, set={RecordField.STATUS: WATCHED})]
    )
    assert not result.ok and result.code is WriteError.TRANSIENT
    assert plex.count("write") == 1
    assert library.peek("1", library.episode("Cowboy Bebop", 1, 3).key) is None


async def test_reads_retry_transient_errors(provider, plex):
    plex.inject(Fault(status=503, times=2))
    items = await scan_all(provider)
    assert len(items) == 4
    assert plex.statuses()[503] == 2


async def test_token_is_redacted_from_logs(make_plex, plex, caplog):
    caplog.set_level(logging.DEBUG)
    p = make_plex(time_scale=0.001)  # retry back-off in milliseconds
    await p.initialize()
    await p.scan(ScanQuery())
    plex.inject(Fault(status=500, times=10))
    from anibridge.http import HttpError

    with pytest.raises(HttpError) as info:
        await p.scan(ScanQuery())
    assert plex.owner_token not in caplog.text
    assert plex.owner_token not in str(info.value)
    await p.close()


# -- change feed -----------------------------------------------------------------------


async def test_poll_changes_after_one_new_play_returns_just_that_show(
    provider, library
):
    first = await provider.poll_changes(ChangeQuery())
    assert first.items == ()
    ep = library.episode("Haibane Renmei", 1, 3)
    library.play("1", ep.key)
    page = await provider.poll_changes(ChangeQuery(cursor=first.cursor))
    assert {c.ref.key for c in page.items} == {ep.show_key}
    kinds = {type(c) for c in page.items}
    assert kinds == {RecordChange, EventChange}
    assert all(c.ref == ep_ref(library, "Haibane Renmei", 1, 3) for c in page.items)
    # the changed record is then read on its own
    records = await provider.fetch_records(
        RecordQuery(refs=(page.items[0].ref,), fields=FIELDS)
    )
    assert records.items[0].values[RecordField.STATUS] == WATCHED


async def test_poll_changes_reports_ratings_and_new_episodes(provider, library):
    first = await provider.poll_changes(ChangeQuery())
    akira = library.find("Akira")
    library.rate("1", akira.key, 10.0)
    monk = library.find("Monk")
    import time

    library.add_episode(monk.key, 1, 3, added_at=int(time.time()))
    page = await provider.poll_changes(ChangeQuery(cursor=first.cursor, limit=1))
    changes = list(page.items)
    while page.cursor and page.items:
        page = await provider.poll_changes(ChangeQuery(cursor=page.cursor, limit=1))
        changes.extend(page.items)
    assert NodeChange(ref=Ref(monk.key), key=monk.key) in changes
    assert any(isinstance(c, RecordChange) and c.ref == Ref(akira.key) for c in changes)


# -- webhooks --------------------------------------------------------------------------


def inbound(headers, body) -> InboundRequest:
    return InboundRequest("POST", "/webhooks/plex", headers=headers, body=body)


@pytest.mark.parametrize("title", ["Cowboy Bebop", "Haibane Renmei"])
async def test_scrobble_webhook_with_modern_and_hama_guids(
    provider, plex, library, title
):
    ep = library.episode(title, 1, 2)
    meta = plex_metadata(library, ep.key) | {"lastViewedAt": 1_700_001_000}
    headers, body = plex_webhook(
        "media.scrobble", account_id=1, server_uuid=plex.machine_id, metadata=meta,
        extra_parts=[("thumb", "thumb.jpg", b"\xff\xd8\xff\xe0 jpeg")],
    )  # fmt: skip
    if title == "Haibane Renmei":
        assert meta["guid"] == "com.plexapp.agents.hama://anidb-69/1/2?lang=en"
    result = await provider.parse_inbound(inbound(headers, body))
    assert result.matched
    ref = ep_ref(library, title, 1, 2)
    record, event = result.changes
    assert isinstance(record, RecordChange) and record.ref == ref
    assert RecordField.STATUS in record.fields
    assert isinstance(event, EventChange) and event.ref == ref
    assert event.at == from_epoch(1_700_001_000)


async def test_rate_stop_and_library_new_webhooks(provider, plex, library):
    ep = library.episode("Cowboy Bebop", 1, 1)
    show = library.find("Cowboy Bebop")
    cases = {
        "media.rate": (ep.key, RecordChange(ref=ep_ref(library, "Cowboy Bebop", 1, 1),
                                            fields=frozenset({RecordField.RATING}))),
        "media.stop": (ep.key, RecordChange(ref=ep_ref(library, "Cowboy Bebop", 1, 1))),
        "library.new": (ep.key, NodeChange(ref=Ref(show.key), key=show.key)),
    }  # fmt: skip
    for event, (key, expected) in cases.items():
        headers, body = plex_webhook(
            event, account_id=1, server_uuid=plex.machine_id,
            metadata=plex_metadata(library, key),
        )  # fmt: skip
        result = await provider.parse_inbound(inbound(headers, body))
        assert result.matched and result.changes == (expected,), event
    headers, body = plex_webhook(
        "media.rate", account_id=1, server_uuid=plex.machine_id,
        metadata=plex_metadata(library, show.key),
    )  # fmt: skip
    result = await provider.parse_inbound(inbound(headers, body))
    assert result.changes == (
        RecordChange(ref=Ref(show.key), fields=frozenset({RecordField.RATING})),
    )


async def test_unhandled_events_match_without_changes(provider, plex, library):
    headers, body = plex_webhook(
        "media.play", account_id=1, server_uuid=plex.machine_id,
        metadata=plex_metadata(library, library.find("Akira").key),
    )  # fmt: skip
    result = await provider.parse_inbound(inbound(headers, body))
    assert result.matched and result.changes == ()


async def test_foreign_and_malformed_webhooks_are_rejected_quietly(
    provider, plex, library, caplog
):
    meta = plex_metadata(library, library.episode("Cowboy Bebop", 1, 1).key)
    foreign_account = plex_webhook(
        "media.scrobble", account_id=5000, server_uuid=plex.machine_id, metadata=meta
    )
    foreign_server = plex_webhook(
        "media.scrobble", account_id=1, server_uuid="other", metadata=meta
    )
    caplog.set_level(logging.WARNING)
    requests = [
        inbound(*foreign_account),
        inbound(*foreign_server),
        inbound(
            {"Content-Type": "multipart/form-data; boundary=x"}, b"--x\r\n\r\n--x--"
        ),
        inbound({"Content-Type": "multipart/form-data; boundary=x"}, b"not multipart"),
        inbound({"Content-Type": "application/json"}, b"{not json"),
        inbound({"Content-Type": "application/json"}, b'{"event": 1}'),
        inbound({"Content-Type": "application/json"}, b"[]"),
        inbound({}, b""),
        inbound({"Content-Type": "text/plain"}, b"hello"),
    ]
    for request in requests:
        result = await provider.parse_inbound(request)
        assert result.matched is False and result.changes == ()
    assert caplog.text == ""


async def test_webhook_outside_selected_sections_has_no_changes(
    make_plex, plex, library
):
    p = make_plex(sections=["TV"])
    await p.initialize()
    headers, body = plex_webhook(
        "media.scrobble", account_id=1, server_uuid=plex.machine_id,
        metadata=plex_metadata(library, library.episode("Cowboy Bebop", 1, 1).key),
    )  # fmt: skip
    result = await p.parse_inbound(inbound(headers, body))
    assert result.matched and result.changes == ()


# -- scale -----------------------------------------------------------------------------


async def test_big_library_scan_is_o_pages(capsys):
    # 400 shows / 10,000 episodes in pages of 400: the same 1 + 25 pages as
    # 2,000 / 50,000 in pages of 2,000, at a fifth of the CPU.
    library = MediaLibrary.generate(400, 25)
    with FakePlex(library) as server:
        from anibridge.providers.plex import PlexProvider

        p = PlexProvider(
            logger=logging.getLogger("test.plex"),
            config={"base_url": server.base_url, "token": server.owner_token,
                    "page_size": 400},
        )  # fmt: skip
        await p.initialize()
        server.reset_counters()
        items = await scan_all(
            p, facets=frozenset({FacetName.IDS, FacetName.STRUCTURE}),
            require_activity=True, limit=250,
        )  # fmt: skip
        scan_requests = server.count()
        events = await p.fetch_events(EventQuery())
        total_requests = server.count()
        await p.close()
    # 1 page of shows + 25 pages of 400 episodes; never one request per episode.
    assert scan_requests == 1 + 25
    assert total_requests - scan_requests == 4  # 1,260 plays, pages of 400
    watched = {
        (r.ref, r.values[RecordField.LAST_ACTIVITY_AT])
        for i in items
        for r in i.records
        if RecordField.STATUS in r.values
    }
    expected = set()
    for h in library.history:
        ep = library.episodes[h.key]
        ref = Ref.at(ep.show_key, ("season", ep.season), ("episode", ep.episode))
        expected.add((ref, from_epoch(h.at)))
    assert watched == expected
    assert {(e.ref, e.at) for e in events.items} == expected
    with capsys.disabled():
        print(
            f"\nplex: 400 shows / 10,000 episodes scanned in {scan_requests} requests"
        )


async def test_many_shows_are_read_by_section_not_one_by_one():
    library = MediaLibrary.generate(60, 5, watched_share=1.0)
    with FakePlex(library) as server:
        from anibridge.providers.plex import PlexProvider

        p = PlexProvider(
            logger=logging.getLogger("test.plex"),
            config={"base_url": server.base_url, "token": server.owner_token},
        )
        await p.initialize()
        shows = [k for k, i in library.items.items() if i.kind == "show"]
        refs = tuple(Ref(k) for k in shows)
        server.reset_counters()
        page = await p.fetch_nodes(
            NodeQuery(refs=refs, facets=frozenset({FacetName.STRUCTURE}))
        )
        assert len(page.items) == 60
        assert all(len(n.facets[FacetName.STRUCTURE].parts) == 5 for n in page.items)
        assert server.count() == 2  # one batched metadata read + one section listing
        await p.close()


async def test_idle_poll_costs_a_few_requests_per_section(provider, plex):
    first = await provider.poll_changes(ChangeQuery())
    plex.reset_counters()
    page = await provider.poll_changes(ChangeQuery(cursor=first.cursor))
    assert page.items == ()
    # shows: episodes x3 filters + shows x2 (Anime, TV); movies x3; history x1
    assert plex.count() == 2 * 5 + 3 + 1


async def test_unreadable_section_prefs_fall_back_to_config(make_plex, plex):
    plex.inject(Fault(status=404, times=5, match=lambda r: r.path.endswith("/prefs")))
    p = make_plex(ordering="tvdb")
    await p.initialize()
    assert {s.ordering for s in p.sections} == {None}
    await p.close()


async def test_poll_reports_fixed_matches_as_catalog_changes(provider, library):
    import time

    first = await provider.poll_changes(ChangeQuery())
    show = library.find("Haibane Renmei")
    show.plex_guid = "com.plexapp.agents.hama://anidb-70?lang=en"
    show.updated_at = int(time.time())
    page = await provider.poll_changes(ChangeQuery(cursor=first.cursor))
    assert page.items == (NodeChange(ref=Ref(show.key), key=show.key),)


async def test_a_write_failing_midway_makes_later_writes_to_that_ref_conflict(
    make_plex, plex, library
):
    provider = make_plex(time_scale=0.001)  # retry back-off in milliseconds
    await provider.initialize()
    ref = ep_ref(library, "Cowboy Bebop", 1, 3)
    plex.inject(Fault(status=500, times=10, match=lambda r: r.path == "/:/rate"))
    both = UpsertRecord(
        ref,
        set={RecordField.STATUS: WATCHED, RecordField.RATING: Rating(5, (0, 10, 1))},
    )
    again = UpsertRecord(ref, set={RecordField.STATUS: WATCHED})
    first, second = await provider.write_records([both, again])
    assert first.code is WriteError.TRANSIENT
    assert second.code is WriteError.CONFLICT
    # the scrobble went through once; nothing was sent twice
    assert library.peek("1", library.episode("Cowboy Bebop", 1, 3).key).view_count == 1
    await provider.close()


async def test_search_nodes_by_title(provider, library):
    page = await provider.search_nodes(
        "cowboy bebob", limit=3, facets=frozenset({FacetName.IDS})
    )
    assert [n.title for n in page.items][:1] == ["Cowboy Bebop"]
    assert FacetName.IDS in page.items[0].facets
    assert (await provider.search_nodes("zzzzqqq")).items == ()


async def test_arbitrary_bodies_never_raise(provider):
    import asyncio  # noqa: F401

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    results = []

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(
        st.sampled_from(["multipart/form-data; boundary=x", "application/json",
                         "text/plain", ""]),
        st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
    )  # fmt: skip
    def check(content_type, body):
        results.append((content_type, body))

    check()
    for content_type, body in results:
        result = await provider.parse_inbound(
            InboundRequest(
                "POST", "/", headers={"Content-Type": content_type}, body=body
            )
        )
        assert result.matched is False


async def test_an_off_step_user_rating_reads_quantized_to_the_declared_step(
    provider, library
):
    # Plex's clients rate in whole points (half stars); another client wrote 9.5
    # through the API. Read on the declared 0-10 step 1 scale, it is 10 (half up),
    # so it converts and compares like every other Plex rating.
    key = library.episode("Cowboy Bebop", 1, 2).key
    library.rate("1", key, 9.5)
    library.rate("1", library.episode("Cowboy Bebop", 1, 3).key, 6.4)
    ref = ep_ref(library, "Cowboy Bebop", 1, 2)
    other = ep_ref(library, "Cowboy Bebop", 1, 3)
    page = await provider.fetch_records(
        RecordQuery(refs=(ref, other), fields=frozenset({RecordField.RATING}))
    )
    got = {r.ref: r.values[RecordField.RATING] for r in page.items}
    assert got[ref] == Rating(10.0, (0.0, 10.0, 1.0))
    assert got[other] == Rating(6.0, (0.0, 10.0, 1.0))
    spec = provider.capabilities().record_fields[RecordField.RATING]
    assert spec.constraints[0].step == 1.0
