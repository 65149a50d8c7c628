from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import pytest

from anibridge.http import ManualClock
from anibridge.provider.base import (
    AppendEvent,
    ChangeQuery,
    DeleteEvent,
    DeleteRecord,
    EventChange,
    EventQuery,
    ExternalId,
    FacetName,
    Identifiers,
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
from anibridge.providers.simkl import SimklAuthError, SimklConfigError, SimklProvider
from anibridge.testing.fakes.server import Fault
from anibridge.testing.fakes.simkl import SimklFake

from .conftest import SCALE, T0, MemoryTokenStore, seed

LOG = logging.getLogger("test.simkl")
ALL = frozenset(RecordField)
FACETS = frozenset(FacetName)


def ep(key: str, season: int | None, n: int) -> Ref:
    if season is None:
        return Ref.at(key, ("episode", n))
    return Ref.at(key, ("season", season), ("episode", n))


def status(native: str) -> State:
    return State(native, {"plantowatch": Status.PLANNED, "watching": Status.ACTIVE,
                          "completed": Status.COMPLETED, "hold": Status.PAUSED,
                          "dropped": Status.DROPPED}[native])  # fmt: skip


def paths(fake: SimklFake, method: str | None = None) -> list[str]:
    return [r.path for r in fake.requests if method is None or r.method == method]


# -- reads -----------------------------------------------------------------------------


async def test_the_library_is_read_once_and_only_after_the_activities_gate(
    fake, make_simkl
):
    fake.set_item(100, "watching", episodes={(1, 1): T0, (1, 2): T0})
    fake.set_item(300, "completed", watched_at=T0)
    provider = await make_simkl(refresh_interval=3600)
    fake.reset_counters()
    page = await provider.scan(ScanQuery(facets=FACETS, fields=ALL))
    assert [i.node.ref.key for i in page.items] == ["anime:100", "movie:300"]
    # The activities first; then one pull per type that ever changed (no shows).
    assert paths(fake) == [
        "/sync/activities",
        "/sync/all-items/anime",
        "/sync/all-items/movies",
    ]
    await provider.fetch_events(EventQuery())
    await provider.fetch_records(RecordQuery(fields=ALL))
    assert len(fake.requests) == 3  # fresh for refresh_interval: nothing re-read
    assert fake.ungated_pulls == 0


async def test_later_reads_pull_only_the_delta_since_the_last_activities(
    fake, make_simkl
):
    fake.set_item(100, "watching", episodes={(1, 1): T0})
    fake.set_item(200, "watching", episodes={(1, 1): T0})
    provider = await make_simkl(refresh_interval=0.001)
    await provider.scan(ScanQuery(fields=ALL))
    await asyncio.sleep(0.01)
    fake.reset_counters()
    await provider.scan(ScanQuery(fields=ALL))  # nothing moved: just the gate
    assert paths(fake) == ["/sync/activities"]

    fake.set_item(100, "completed", episodes={(1, 2): T0 + timedelta(days=1)})
    await asyncio.sleep(0.01)
    fake.reset_counters()
    page = await provider.fetch_records(
        RecordQuery(refs=(Ref("anime:100"),), fields=ALL)
    )
    (record,) = page.items
    assert record.values[RecordField.STATUS] == status("completed")
    assert record.values[RecordField.PROGRESS] == Progress(2, 220, "episode")
    assert paths(fake) == ["/sync/activities", "/sync/all-items/anime"]
    (delta,) = [r for r in fake.requests if r.path == "/sync/all-items/anime"]
    assert delta.query.get("date_from")  # only what changed since the last reading
    assert fake.ungated_pulls == 0


async def test_a_rating_change_is_read_from_the_ratings_delta(fake, make_simkl):
    fake.set_item(100, "watching", rating=6)
    provider = await make_simkl(refresh_interval=0.001)
    await provider.scan(ScanQuery(fields=ALL))
    with fake._lock:  # another app re-rates the title (only rated_at moves)
        stamp = fake._stamp()
        fake.items[100].update(rating=9, rated_at=stamp, rated_stamp=stamp)
        fake._bump(fake.titles[100], "rated_at", stamp)
    await asyncio.sleep(0.01)
    fake.reset_counters()
    (record,) = (await provider.fetch_records(RecordQuery(fields=ALL))).items
    assert record.values[RecordField.RATING] == Rating(9.0, (1.0, 10.0, 1.0))
    assert paths(fake) == ["/sync/activities", "/sync/ratings/anime"]


async def test_removals_are_found_by_diffing_ids_and_named_by_the_change_feed(
    fake, make_simkl
):
    fake.set_item(100, "watching", episodes={(1, 1): T0})
    fake.set_item(101, "plantowatch")
    provider = await make_simkl(refresh_interval=0.001)
    await provider.scan(ScanQuery())
    cursor = (await provider.poll_changes(ChangeQuery())).cursor
    with fake._lock:  # the user removed 101 on simkl.com
        stamp = fake._stamp()
        del fake.items[101]
        fake._bump(fake.titles[101], "removed_from_list", stamp)
    await asyncio.sleep(0.01)
    page = await provider.poll_changes(ChangeQuery(cursor=cursor))
    refs = [c.ref for c in page.items]
    assert Ref("anime:101") in refs  # named, because this instance knew it
    assert None in refs  # and "read everything" so deletions can be judged
    scan = await provider.scan(ScanQuery())
    assert [i.node.ref.key for i in scan.items] == ["anime:100"]
    assert fake.ungated_pulls == 0


async def test_change_feed_names_what_moved_and_pages_by_limit(fake, provider):
    cursor = (await provider.poll_changes(ChangeQuery())).cursor
    assert (await provider.poll_changes(ChangeQuery(cursor=cursor))).items == ()
    for n in (100, 101, 200):
        fake.set_item(n, "watching", episodes={(1, 1): T0})
    first = await provider.poll_changes(ChangeQuery(cursor=cursor, limit=4))
    assert len(first.items) == 4
    rest = await provider.poll_changes(ChangeQuery(cursor=first.cursor, limit=4))
    changes = [*first.items, *rest.items]
    assert {c.ref.key for c in changes if c.ref} == {
        "anime:100",
        "anime:101",
        "show:200",
    }
    assert {type(c) for c in changes} == {RecordChange, EventChange}
    # The rest came out of the cursor, not from Simkl again.
    done = await provider.poll_changes(ChangeQuery(cursor=rest.cursor))
    assert done.items == ()
    with pytest.raises(ValueError, match="not a change cursor"):
        await provider.poll_changes(ChangeQuery(cursor="trakt-activities:{}"))


async def test_records_events_and_ids_by_title_type(fake, provider):
    fake.set_item(
        100, "watching", rating=8, memo="arc 2",
        episodes={(1, 1): T0, (1, 2): T0 + timedelta(hours=1)},
    )  # fmt: skip
    fake.set_item(200, "hold", episodes={(2, 3): T0})
    fake.set_item(400, "completed", watched_at=T0)
    page = await provider.scan(ScanQuery(facets=FACETS, fields=ALL))
    items = {i.node.ref.key: i for i in page.items}
    anime = items["anime:100"]
    ids = anime.node.facets[FacetName.IDS]
    assert isinstance(ids, Identifiers)
    # An anime never carries series-wide TVDB/IMDb ids (one Simkl anime = one season).
    assert {i.descriptor for i in ids.ids} == {
        "simkl:100", "mal:20", "anilist:20", "anidb:239:R",
    }  # fmt: skip
    (rec,) = anime.records
    assert rec.values[RecordField.NOTES] == "arc 2"
    assert rec.values[RecordField.RATING] == Rating(8.0, (1.0, 10.0, 1.0))
    show_ids = {i.descriptor for i in items["show:200"].node.facets[FacetName.IDS].ids}
    assert {"tvdb_show:81189", "tvdb_show:81189:s2", "imdb_show:tt0903747"} <= show_ids
    assert items["anime:400"].node.kind == "anime_movie"
    film_ids = {i.descriptor for i in items["anime:400"].node.facets[FacetName.IDS].ids}
    assert {"tmdb_movie:4977", "mal:1943"} <= film_ids
    structure = items["anime:100"].node.facets[FacetName.STRUCTURE]
    assert isinstance(structure, Structure) and len(structure.parts) == 220
    events = (await provider.fetch_events(EventQuery())).items
    assert [(e.ref, e.at) for e in events] == [
        (ep("anime:100", None, 1), T0),
        (ep("anime:100", None, 2), T0 + timedelta(hours=1)),
        (Ref("anime:400"), T0),
        (ep("show:200", 2, 3), T0),
    ]
    only = await provider.fetch_events(EventQuery(refs=(ep("show:200", 2, 3),)))
    assert [e.ref for e in only.items] == [ep("show:200", 2, 3)]


async def test_resolve_never_answers_a_series_wide_id_with_an_anime(fake, provider):
    ids = [
        ExternalId("anilist", "20"),
        ExternalId("tvdb_show", "78857"),  # Naruto's TVDB series: anime on Simkl
        ExternalId("tvdb_show", "78857", "s1"),
        ExternalId("tvdb_show", "81189", "s2"),
        ExternalId("tmdb_movie", "149"),
        ExternalId("tmdb_movie", "4977"),  # an anime film
        ExternalId("simkl", "200"),
        ExternalId("mal", "999999"),
    ]
    matches = {m.external_id.descriptor: m.ref.key for m in await provider.resolve(ids)}
    assert matches == {
        "anilist:20": "anime:100",
        "tvdb_show:81189:s2": "show:200",
        "tmdb_movie:149": "movie:300",
        "tmdb_movie:4977": "anime:400",
        "simkl:200": "show:200",
    }
    searches = len([p for p in paths(fake) if p == "/search/id"])
    await provider.resolve(ids)  # cached: no second lookup
    assert len([p for p in paths(fake) if p == "/search/id"]) == searches


async def test_fetch_nodes_of_titles_not_on_the_list_reads_the_catalog(fake, provider):
    page = await provider.fetch_nodes(
        NodeQuery(
            refs=(Ref("show:200"), Ref("anime:101"), Ref("show:9")), facets=FACETS
        )
    )
    nodes = {n.ref.key: n for n in page.items}
    assert set(nodes) == {"show:200", "anime:101"}
    show = nodes["show:200"].facets[FacetName.STRUCTURE]
    assert len(show.parts) == 20  # the catalog's episodes, season by season
    assert len(nodes["anime:101"].facets[FacetName.STRUCTURE].parts) == 26


# -- writes ----------------------------------------------------------------------------


async def test_plays_are_batched_dated_and_never_sent_twice():
    # Virtual time shared with the client: only the 1 POST/second limit spaces
    # writes, never how fast this machine is.
    with SimklFake(clock=ManualClock()) as fake:
        seed(fake)
        provider = SimklProvider(logger=LOG, config=fake.provider_config())
        await provider.initialize()
        plays = (
            [
                AppendEvent(ep("anime:100", None, n), "watch", T0 + timedelta(hours=n))
                for n in range(1, 41)
            ]
            + [
                AppendEvent(
                    ep("show:200", s, e), "watch", T0 + timedelta(days=s, hours=e)
                )
                for s, e in ((1, 1), (1, 2), (2, 1))
            ]
            + [AppendEvent(Ref("movie:300"), "watch", T0)]
        )
        results = await provider.write_events(plays)
        assert all(r.ok for r in results)
        sent = [r for r in fake.requests if r.kind == "write" and r.status == 200]
        assert len(sent) == 1  # every play of every title in one request
        body = json.loads(sent[0].body)
        assert body["anime"][0]["episodes"][0] == {
            "number": 1, "watched_at": "2024-01-01T21:00:00Z",
        }  # fmt: skip
        assert fake.watched(200)[(2, 1)] == T0 + timedelta(days=2, hours=1)
        assert fake.items[300]["watched_at"] == T0
        # The same plays again, a retry, and a second play of a watched episode:
        again = await provider.write_events(
            [
                *plays,
                AppendEvent(ep("anime:100", None, 1), "watch", T0 + timedelta(days=9)),
            ]
        )
        assert all(r.ok for r in again)
        writes = fake.count("write")
        ok_writes = [r for r in fake.requests if r.kind == "write" and r.status == 200]
        assert len(ok_writes) == 1  # Simkl keeps one watch per episode: none sent
        assert fake.watched(100)[(1, 1)] == T0 + timedelta(hours=1)
        # A new session (nothing cached), a minute later, reads the library, then
        # sends nothing.
        fake.clock.advance(60)
        fresh = SimklProvider(logger=LOG, config=fake.provider_config())
        await fresh.initialize()
        assert all(r.ok for r in await fresh.write_events(plays))
        assert fake.count("write") == writes  # nothing sent by the new session
        assert fake.statuses()[429] == 0
        await provider.close()
        await fresh.close()


async def test_writes_are_spaced_one_per_second():
    with SimklFake(clock=ManualClock()) as fake:
        seed(fake)
        provider = SimklProvider(logger=LOG, config=fake.provider_config())
        await provider.initialize()
        writes = [
            UpsertRecord(
                ref=Ref(key),
                set={
                    RecordField.STATUS: status("watching"),
                    RecordField.RATING: Rating(8, (1, 10, 1)),
                    RecordField.NOTES: f"note {key}",
                },
            )
            for key in ("anime:100", "anime:101", "show:200")
        ]
        results = await provider.write_records(writes)
        assert all(r.ok for r in results)
        # One batched request per endpoint: list, ratings, memos. The client spaces
        # them itself, so the service never has to refuse one.
        posts = [r for r in fake.requests if r.kind == "write" and r.status == 200]
        assert [r.path for r in posts] == [
            "/sync/add-to-list", "/sync/ratings", "/sync/history",
        ]  # fmt: skip
        assert fake.statuses()[429] == 0
        assert provider.client.limiter.waited_seconds > 1.5
        assert fake.items[101]["memo"] == "note anime:101"
        assert fake.items[200]["rating"] == 8
        await provider.close()


async def test_an_append_whose_answer_was_lost_is_not_sent_again(fake, make_simkl):
    provider = await make_simkl(timeout=0.3)
    fake.inject(
        Fault(
            mode="timeout",
            delay=60,  # held until the client gives up, then applied
            match=lambda r: r.method == "POST" and r.path == "/sync/history",
        )
    )
    play = AppendEvent(ep("anime:100", None, 7), "watch", T0, token="t1")
    (lost,) = await provider.write_events([play])
    assert not lost.ok and lost.code is WriteError.TRANSIENT

    def history_posts() -> list[str]:
        return [p for p in paths(fake, "POST") if p == "/sync/history"]

    await asyncio.to_thread(fake.wait_until, history_posts)  # Simkl applied it anyway
    assert fake.watched(100) == {(1, 7): T0}
    assert len(history_posts()) == 1  # not retried blind
    (retried,) = await provider.write_events([play])
    assert retried.ok and retried.token == "t1"
    # The retry re-read the library first and found the play: nothing sent again.
    assert len(history_posts()) == 1
    assert fake.watched(100) == {(1, 7): T0}


async def test_record_writes_report_not_found_and_refuse_what_simkl_cannot_hold(
    fake, provider
):
    fake.set_item(300, "completed", watched_at=T0)
    writes = [
        UpsertRecord(ref=Ref("show:999"), set={RecordField.STATUS: status("watching")}),
        UpsertRecord(ref=Ref("movie:300"), set={RecordField.STATUS: status("hold")}),
        UpsertRecord(ref=Ref("anime:101"), set={RecordField.NOTES: "x" * 141}),
        UpsertRecord(ref=Ref("anime:101"), set={RecordField.NOTES: "no status yet"}),
        UpsertRecord(ref=Ref("anime:101"), set={RecordField.PROGRESS: Progress(3)}),
        UpsertRecord(
            ref=ep("anime:101", None, 1), set={RecordField.STATUS: status("watching")}
        ),
        UpsertRecord(ref=Ref("anime:101"), kind="watchlist"),
        DeleteRecord(ref=Ref("anime:101")),  # not on the list
        UpsertRecord(
            ref=Ref("anime:101"),
            set={
                RecordField.STATUS: status("plantowatch"),
                RecordField.RATING: Rating(75, (0, 100, 1)),
            },
        ),
    ]
    results = await provider.write_records(writes)
    assert [r.code for r in results] == [
        WriteError.NOT_FOUND,
        WriteError.UNSUPPORTED,
        WriteError.INVALID,
        WriteError.INVALID,
        WriteError.UNSUPPORTED,
        WriteError.INVALID,
        WriteError.UNSUPPORTED,
        WriteError.NOT_FOUND,
        None,
    ]
    assert fake.items[101]["status"] == "plantowatch"
    assert fake.items[101]["rating"] == 8  # 75/100 on Simkl's 1-10


async def test_clearing_and_deleting(fake, provider):
    fake.set_item(
        100, "watching", rating=7, memo="m", episodes={(1, 1): T0, (1, 2): T0}
    )
    results = await provider.write_records(
        [
            UpsertRecord(
                ref=Ref("anime:100"),
                clear=frozenset({RecordField.RATING, RecordField.NOTES}),
            )
        ]
    )
    assert results[0].ok
    assert fake.items[100]["rating"] is None and fake.items[100]["memo"] == ""
    (gone,) = await provider.write_events(
        [DeleteEvent(ref=ep("anime:100", None, 2), kind="watch", at=T0)]
    )
    assert gone.ok and set(fake.watched(100)) == {(1, 1)}
    (wrong,) = await provider.write_events(
        [
            DeleteEvent(
                ref=ep("anime:100", None, 1), kind="watch", at=T0 + timedelta(days=1)
            )
        ]
    )
    assert wrong.code is WriteError.NOT_FOUND  # that play is at another time
    (removed,) = await provider.write_records([DeleteRecord(ref=Ref("anime:100"))])
    assert removed.ok and 100 not in fake.items
    assert [i.node.ref for i in (await provider.scan(ScanQuery())).items] == []


@pytest.mark.parametrize(
    ("status_code", "code", "retried"),
    [(500, WriteError.TRANSIENT, True), (400, WriteError.INVALID, False)],
)
async def test_http_failures_fail_every_write_of_the_batch(
    fake, provider, status_code, code, retried
):
    fake.inject(
        Fault(status=status_code, times=10, match=lambda r: r.path == "/sync/ratings")
    )
    writes = [
        UpsertRecord(ref=Ref(k), set={RecordField.RATING: Rating(5, (1, 10, 1))})
        for k in ("anime:100", "show:200")
    ]
    results = await provider.write_records(writes)
    assert [r.code for r in results] == [code, code]
    attempts = paths(fake).count("/sync/ratings")
    assert (attempts > 1) is retried  # ratings are absolute: safe to resend


async def test_a_refused_rate_waits_and_is_resent(fake, provider):
    fake.inject(Fault(status=429, match=lambda r: r.path == "/sync/activities"))
    await provider.scan(ScanQuery())
    assert provider.client.counter.rate_limited == 1


# -- backups ---------------------------------------------------------------------------


async def test_backup_is_simkls_own_shape_and_restores_onto_an_empty_account(
    fake, provider
):
    fake.set_item(
        100, "watching", rating=8, memo="arc", episodes={(1, 1): T0, (1, 2): T0}
    )
    fake.set_item(200, "hold", episodes={(2, 3): T0})
    fake.set_item(300, "completed", watched_at=T0, rating=9)
    artifact = await provider.export_backup()
    data = json.loads(artifact.content)
    assert data["format"] == "anibridge.simkl.backup"
    anime = data["all_items"]["anime"][0]
    assert anime["show"]["ids"]["simkl"] == 100 and anime["status"] == "watching"
    assert anime["memo"] == {"text": "arc", "is_private": False}
    assert anime["seasons"][0]["episodes"][1] == {
        "number": 2, "watched_at": "2024-01-01T20:00:00Z",
    }  # fmt: skip
    with SimklFake(time_scale=SCALE) as empty:
        seed(empty)
        target = SimklProvider(logger=LOG, config=empty.provider_config())
        await target.initialize()
        await target.import_backup(artifact.content)
        assert empty.items[100]["status"] == "watching"
        assert empty.items[100]["rating"] == 8 and empty.items[100]["memo"] == "arc"
        assert empty.watched(100) == {(1, 1): T0, (1, 2): T0}
        assert empty.watched(200) == {(2, 3): T0}
        assert empty.items[200]["status"] == "hold"
        assert empty.items[300]["watched_at"] == T0
        writes = empty.count("write")
        await target.import_backup(artifact.content)  # restoring twice adds nothing
        assert empty.count("write") == writes
        await target.close()


async def test_a_broken_backup_is_refused_with_a_reason(provider):
    with pytest.raises(ValueError, match="format"):
        await provider.import_backup(b'{"format": "other"}')
    with pytest.raises(ValueError, match="has no Simkl id"):
        await provider.import_backup(
            b'{"format": "anibridge.simkl.backup", "version": 1,'
            b' "all_items": {"anime": [{"show": {"ids": {}}}]}}'
        )


# -- config and auth -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "'client_id' is required"),
        ({"client_id": "x", "bogus": 1}, "unknown config key"),
        ({"client_id": "x", "refresh_interval": 0}, "'refresh_interval'"),
    ],
)
def test_bad_config_names_the_key(config, message):
    with pytest.raises(SimklConfigError, match=message):
        SimklProvider(logger=LOG, config=config)


async def test_without_a_token_initialize_says_to_log_in(fake):
    provider = SimklProvider(
        logger=LOG, config={"client_id": fake.client_id, "base_url": fake.base_url}
    )
    with pytest.raises(SimklAuthError, match="anibridge login simkl"):
        await provider.initialize()


async def test_every_request_names_the_app_and_a_revoked_token_is_an_auth_error(
    fake, make_simkl
):
    provider = await make_simkl()
    await provider.scan(ScanQuery())
    fake.tokens.clear()
    fake.set_item(100, "watching")
    await provider.clear_cache()
    with pytest.raises(Exception) as caught:
        await provider.scan(ScanQuery())
    assert getattr(caught.value, "code", None) is WriteError.AUTH
    wrong = SimklProvider(
        logger=LOG, config=fake.provider_config(client_id="someone-else")
    )
    with pytest.raises(Exception, match="412"):
        await wrong.initialize()
    await wrong.close()


async def test_app_identification_is_on_the_query_string(fake, provider):
    await provider.scan(ScanQuery())
    assert fake.requests and all(
        r.query.get("client_id") == [fake.client_id]
        and r.query.get("app-name") == ["anibridge"]
        for r in fake.requests
    )


async def test_the_next_session_starts_from_the_kept_library(fake):
    fake.set_item(100, "watching", episodes={(1, 1): T0})
    fake.set_item(300, "completed", watched_at=T0)
    store = MemoryTokenStore()
    first = SimklProvider(logger=LOG, config=fake.provider_config(token_store=store))
    await first.initialize()
    await first.scan(ScanQuery())
    await first.write_events([AppendEvent(ep("anime:100", None, 2), "watch", T0)])
    await first.close()
    assert "simkl.library" in store.saved
    assert "access_token" not in json.dumps(store.saved["simkl.library"])

    def pulls() -> list:
        return [
            r
            for r in fake.requests
            if r.path.startswith("/sync/all-items")
            and "date_from" not in r.query
            and r.query.get("extended") != ["simkl_ids_only"]
        ]

    fake.reset_counters()
    second = SimklProvider(logger=LOG, config=fake.provider_config(token_store=store))
    await second.initialize()
    page = await second.scan(ScanQuery(fields=ALL))
    assert pulls() == []  # no whole-library pull: the gate, then a delta
    records = {i.node.ref.key: i.records[0] for i in page.items}
    assert records["anime:100"].values[RecordField.PROGRESS].current == 2
    fake.set_item(101, "plantowatch")  # changed by another app meanwhile
    await second.clear_cache()  # (and a kept copy is not reloaded after this)
    await second.close()
    fake.reset_counters()
    third = SimklProvider(logger=LOG, config=fake.provider_config(token_store=store))
    await third.initialize()
    keys = {i.node.ref.key for i in (await third.scan(ScanQuery())).items}
    assert keys == {"anime:100", "anime:101", "movie:300"}
    assert pulls() == []
    await third.close()
    # Another account's kept library is never used.
    other = SimklProvider(logger=LOG, config=fake.provider_config(token_store=store))
    fake.user_id = 99
    await other.initialize()
    fake.reset_counters()
    await other.scan(ScanQuery())
    assert pulls()  # read afresh
    await other.close()
