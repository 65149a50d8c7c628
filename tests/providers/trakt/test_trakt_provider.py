from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime, timedelta

import pytest

from anibridge.http import HttpError, ManualClock
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
    NodeQuery,
    Progress,
    Rating,
    RecordChange,
    RecordField,
    RecordQuery,
    Ref,
    ScanQuery,
    Status,
    Structure,
    UpsertRecord,
    WriteError,
)
from anibridge.providers.trakt import TraktConfigError, TraktProvider
from anibridge.providers.trakt.vocabulary import (
    episode_ref,
    movie_ref,
    season_ref,
    show_ref,
)
from anibridge.testing.fakes.server import Fault
from anibridge.testing.fakes.trakt import FakeTrakt

T0 = datetime(2024, 1, 1, 20, 0, tzinfo=UTC)
LOG = logging.getLogger("test.trakt")


def rate(ref, value, scale=(1, 10, 1)) -> UpsertRecord:
    return UpsertRecord(ref, "ratings", set={RecordField.RATING: Rating(value, scale)})


def history_gets(fake) -> int:
    return sum(
        1 for r in fake.requests if r.method == "GET" and r.path == "/sync/history"
    )


# -- identity and catalog --------------------------------------------------------------


async def test_movie_and_show_with_the_same_trakt_id_never_collide(fake, provider):
    fake.add_play(("movie", 1), T0)
    fake.add_play(("episode", 1, 1, 1), T0)
    fake.rate(("movie", 1), 4)
    fake.rate(("show", 1), 9)
    page = await provider.scan(
        ScanQuery(facets=frozenset({FacetName.IDS}), fields=frozenset(RecordField))
    )
    by_ref = {item.node.ref: item for item in page.items}
    assert set(by_ref) == {movie_ref(1), show_ref(1)}
    assert by_ref[movie_ref(1)].node.kind == "movie"
    assert by_ref[show_ref(1)].node.kind == "show"
    ratings = {
        r.ref: r.values[RecordField.RATING].value
        for item in page.items
        for r in item.records
        if r.kind == "ratings"
    }
    assert ratings == {movie_ref(1): 4.0, show_ref(1): 9.0}
    movie_ids = by_ref[movie_ref(1)].node.facets[FacetName.IDS].ids
    assert ExternalId("trakt_movie", "1") in movie_ids
    assert ExternalId("trakt_show", "1") not in movie_ids


async def test_ids_facet_has_season_scopes_and_structure_has_episode_keys(
    fake, provider
):
    fake.add_play(("episode", 1, 1, 3), T0)
    fake.add_play(("episode", 1, 0, 1), T0)
    page = await provider.fetch_nodes(
        NodeQuery(
            refs=(show_ref(1),),
            facets=frozenset({FacetName.IDS, FacetName.STRUCTURE}),
        )
    )
    (node,) = page.items
    ids = {i.descriptor for i in node.facets[FacetName.IDS].ids}
    assert {"tvdb_show:76885", "tvdb_show:76885:s0", "tvdb_show:76885:s1"} <= ids
    assert {"tmdb_show:30991:s1", "imdb_show:tt0213338", "trakt_show:1"} <= ids
    structure = node.facets[FacetName.STRUCTURE]
    assert isinstance(structure, Structure)
    assert structure.axes == ("season", "episode")
    assert len(structure.parts) == 28  # 2 specials + 26 episodes
    first = structure.parts[0]
    assert [(s.axis, s.value) for s in first.position] == [
        ("season", 0),
        ("episode", 1),
    ]
    assert first.key == "episode:100001"


async def test_scan_structure_is_the_known_episodes_unless_full_is_asked(
    fake, make_trakt
):
    fake.add_play(("episode", 2, 1, 3), T0)
    fake.add_play(("episode", 2, 2, 1), T0)
    query = ScanQuery(facets=frozenset({FacetName.STRUCTURE}), with_records=False)
    cheap = await make_trakt()
    (item,) = (await cheap.scan(query)).items
    positions = [
        tuple(s.value for s in p.position)
        for p in item.node.facets[FacetName.STRUCTURE].parts
    ]
    assert positions == [(1, 3), (2, 1)]
    assert not any("/seasons" in r.path for r in fake.requests)
    full = await make_trakt(full_structure=True)
    (item,) = (await full.scan(query)).items
    assert len(item.node.facets[FacetName.STRUCTURE].parts) == 61 + 16
    assert sum("/seasons" in r.path for r in fake.requests) == 1


async def test_fetch_nodes_of_items_without_user_state_reads_the_catalog(
    fake, provider
):
    page = await provider.fetch_nodes(
        NodeQuery(
            refs=(movie_ref(2), show_ref(99), Ref("nonsense")),
            facets=frozenset({FacetName.TITLES}),
        )
    )
    assert [n.ref for n in page.items] == [movie_ref(2)]
    assert page.items[0].title == "Paprika"


async def test_resolve_uses_search_by_id_once_per_id(fake, provider):
    ids = [
        ExternalId("tvdb_show", "81797", "s1"),
        ExternalId("tvdb_show", "81797", "s2"),
        ExternalId("imdb_movie", "tt0851578"),
        ExternalId("tmdb_show", "424242"),
        ExternalId("anilist", "21"),
    ]
    matches = await provider.resolve(ids)
    got = {(m.external_id.descriptor, m.ref) for m in matches}
    assert got == {
        ("tvdb_show:81797:s1", show_ref(2)),
        ("tvdb_show:81797:s2", show_ref(2)),
        ("imdb_movie:tt0851578", movie_ref(2)),
    }
    searches = sum(1 for r in fake.requests if r.path.startswith("/search/"))
    assert searches == 3  # one per unscoped id the provider can resolve
    await provider.resolve(ids)
    assert sum(1 for r in fake.requests if r.path.startswith("/search/")) == 3


# -- state -----------------------------------------------------------------------------


async def test_watched_records_carry_plays_progress_and_last_watched(fake, provider):
    fake.add_play(("episode", 1, 1, 1), T0)
    fake.add_play(("episode", 1, 1, 1), T0 + timedelta(days=2))
    fake.add_play(("episode", 1, 1, 2), T0 + timedelta(days=1))
    fake.add_play(("episode", 1, 0, 1), T0)
    page = await provider.fetch_records(
        RecordQuery(
            refs=(episode_ref(1, 1, 1), season_ref(1, 1), show_ref(1)),
            native_record_kinds=("watched", "progress"),
            fields=frozenset(RecordField),
        )
    )
    by_ref = {r.ref: r.values for r in page.items}
    assert {(r.kind, r.ref) for r in page.items} == {
        ("watched", episode_ref(1, 1, 1)),
        ("progress", season_ref(1, 1)),
        ("progress", show_ref(1)),
    }
    episode = by_ref[episode_ref(1, 1, 1)]
    assert episode[RecordField.STATUS].status is Status.COMPLETED
    assert episode[RecordField.REPEAT_COUNT] == 1
    assert episode[RecordField.LAST_ACTIVITY_AT] == T0 + timedelta(days=2)
    assert by_ref[season_ref(1, 1)][RecordField.PROGRESS] == Progress(
        2, None, "episode"
    )
    # Specials are not counted into the show's progress.
    assert by_ref[show_ref(1)][RecordField.PROGRESS] == Progress(2, None, "episode")


async def test_event_summaries_come_from_watched_without_paging_history(fake, provider):
    for day in range(3):
        fake.add_play(("episode", 2, 1, 1), T0 + timedelta(days=day))
    fake.add_play(("movie", 2), T0)
    page = await provider.fetch_event_summaries(EventSummaryQuery())
    counts = {s.ref: (s.count, s.last_at) for s in page.items}
    assert counts == {
        episode_ref(2, 1, 1): (3, T0 + timedelta(days=2)),
        movie_ref(2): (1, T0),
    }
    assert history_gets(fake) == 0
    assert fake.count("data") == 2  # /sync/watched/movies and /shows


async def test_reading_a_20000_event_history_pages_through_all_of_it(fake, provider):
    fake.add_show(3, "Long Runner", {1: 1000})
    for n in range(20_000):
        fake.add_play(("episode", 3, 1, n % 1000 + 1), T0 + timedelta(minutes=n))
    keys: set[str] = set()
    cursor = None
    pages = 0
    while True:
        page = await provider.fetch_events(EventQuery(cursor=cursor))
        pages += 1
        keys.update(e.key for e in page.items)
        assert page.total == 20_000
        if page.cursor is None:
            break
        cursor = page.cursor
    assert len(keys) == 20_000
    expected = math.ceil(20_000 / fake.max_page_size)  # the fake clamps our limit
    assert pages == expected == history_gets(fake)


async def test_ratings_watchlist_and_collection_records(fake, provider):
    fake.rate(("season", 2, 1), 6)
    fake.list_item(("movie", 2), "with friends")
    fake.collect(("episode", 1, 1, 4), T0)
    page = await provider.fetch_records(RecordQuery(fields=frozenset(RecordField)))
    kinds = {(r.kind, r.ref): r.values for r in page.items}
    assert kinds[("ratings", season_ref(2, 1))][RecordField.RATING] == Rating(
        6.0, (1.0, 10.0, 1.0)
    )
    assert kinds[("watchlist", movie_ref(2))] == {RecordField.NOTES: "with friends"}
    assert kinds[("collection", episode_ref(1, 1, 4))] == {
        RecordField.LAST_ACTIVITY_AT: T0
    }


# -- writes ----------------------------------------------------------------------------


async def test_importing_5000_plays_batches_respects_the_write_rate_and_is_idempotent():
    # Virtual time shared with the fake: only the 1 write/second limit spaces the
    # batches, never how fast this machine processes them.
    with FakeTrakt(clock=ManualClock()) as fake:
        fake.add_show(3, "Long Runner", {1: 1000})
        plays = [
            AppendEvent(
                episode_ref(3, 1, n % 1000 + 1), "watch", T0 + timedelta(minutes=n)
            )
            for n in range(5000)
        ]
        first = TraktProvider(logger=LOG, config=fake.provider_config())
        await first.initialize()
        results = await first.write_events(plays)
        waited = first.client.limiter.waited_seconds
        await first.close()
        assert all(r.ok for r in results) and len(results) == 5000
        writes = fake.count("write")
        refused = fake.statuses()[429]
        # One request per 1,000 plays; the client spaces writes itself (it
        # waited), so the fake never has to refuse one.
        assert writes == math.ceil(5000 / 1000)
        assert refused == 0
        assert waited > 0
        assert len(fake.history) == 5000
        for request in fake.requests:
            if request.kind == "write":
                assert (
                    len(json.loads(request.body)["shows"][0]["seasons"][0]["episodes"])
                    <= 1000
                )

        # A second import (a new session, nothing cached) sends no writes at all.
        second = TraktProvider(logger=LOG, config=fake.provider_config())
        await second.initialize()
        again = await second.write_events(plays)
        await second.close()
        assert all(r.ok for r in again)
        assert fake.count("write") == writes
        assert len(fake.history) == 5000


async def test_history_appends_survive_a_lost_response_without_duplicates(
    fake, make_trakt
):
    provider = await make_trakt(timeout=1.0)
    fake.inject(
        Fault(
            mode="timeout",
            delay=60,  # held until the client gives up, then applied
            match=lambda r: r.method == "POST" and r.path == "/sync/history",
        )
    )
    play = AppendEvent(episode_ref(1, 1, 7), "watch", T0, token="t1")
    (lost,) = await provider.write_events([play])
    assert not lost.ok and lost.code is WriteError.TRANSIENT
    await _eventually(lambda: len(fake.history) == 1)  # Trakt applied it anyway
    (retried,) = await provider.write_events([play])
    assert retried.ok and retried.token == "t1"
    assert len(fake.plays_of(("episode", 1, 1, 7))) == 1


async def _eventually(check, timeout: float = 60.0) -> None:
    """Wait for a state the fake reaches on its own thread (the deadline only
    turns a hang into a failure)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.01)


async def test_write_results_are_positional_with_not_found_from_the_envelope(
    fake, provider
):
    writes = [
        AppendEvent(episode_ref(1, 1, 1), "watch", T0, token="a"),
        AppendEvent(episode_ref(1, 1, 99), "watch", T0, token="b"),  # no such ep
        AppendEvent(movie_ref(77), "watch", T0, token="c"),  # no such movie
        AppendEvent(show_ref(1), "watch", T0, token="d"),  # not a playable ref
        AppendEvent(movie_ref(2), "checkin", T0, token="e"),  # live only
        AppendEvent(episode_ref(55, 1, 1), "watch", T0, token="f"),  # no such show
        AppendEvent(movie_ref(2), "watch", T0, token="g"),
    ]
    results = await provider.write_events(writes)
    assert [r.token for r in results] == list("abcdefg")
    assert [r.ok for r in results] == [True, False, False, False, False, False, True]
    assert [r.code for r in results] == [
        None,
        WriteError.NOT_FOUND,
        WriteError.NOT_FOUND,
        WriteError.INVALID,
        WriteError.UNSUPPORTED,
        WriteError.NOT_FOUND,
        None,
    ]
    assert fake.count("write") == 1  # one batched request for the valid-looking ones
    assert sorted(e["key"] for e in fake.history) == [
        ("episode", 1, 1, 1),
        ("movie", 2),
    ]


async def test_ratings_and_watchlist_writes_are_batched_and_read_back(fake, provider):
    writes = [
        rate(movie_ref(1), 8),
        rate(show_ref(1), 0.9, (0, 1, 0)),  # converted onto 1-10
        rate(season_ref(1, 1), 5),
        rate(episode_ref(1, 1, 3), 7),
        UpsertRecord(show_ref(2), "watchlist", set={RecordField.NOTES: "after Bebop"}),
        UpsertRecord(movie_ref(2), "watchlist"),
        rate(movie_ref(1), 11),
        UpsertRecord(movie_ref(1), "watched", set={RecordField.REPEAT_COUNT: 2}),
    ]
    results = await provider.write_records(writes)
    assert [r.ok for r in results] == [True] * 6 + [False, False]
    assert results[6].code is WriteError.INVALID
    assert results[7].code is WriteError.UNSUPPORTED
    assert fake.count("write") == 2  # one /sync/ratings, one /sync/watchlist
    assert {k: v[0] for k, v in fake.ratings.items()} == {
        ("movie", 1): 8,
        ("show", 1): 9,
        ("season", 1, 1): 5,
        ("episode", 1, 1, 3): 7,
    }
    assert fake.watchlist[("show", 2)]["notes"] == "after Bebop"

    removals = [
        DeleteRecord(ref=season_ref(1, 1), kind="ratings"),
        UpsertRecord(show_ref(1), "ratings", clear=frozenset({RecordField.RATING})),
        DeleteRecord(key="watchlist|movie:2"),
        DeleteRecord(ref=episode_ref(1, 1, 9), kind="ratings"),  # never rated: ok
    ]
    results = await provider.write_records(removals)
    assert all(r.ok for r in results)
    assert set(fake.ratings) == {("movie", 1), ("episode", 1, 1, 3)}
    assert set(fake.watchlist) == {("show", 2)}

    fresh = await provider.fetch_records(
        RecordQuery(refs=(movie_ref(1),), fields=frozenset({RecordField.RATING}))
    )
    assert [r.values[RecordField.RATING].value for r in fresh.items] == [8.0]


async def test_unwatching_and_deleting_plays(fake, provider):
    fake.add_play(("episode", 1, 1, 1), T0)
    fake.add_play(("episode", 1, 1, 1), T0 + timedelta(days=1))
    keep = fake.add_play(("episode", 1, 1, 2), T0)
    gone = fake.add_play(("movie", 1), T0)
    results = await provider.write_events(
        [
            DeleteEvent(key=str(gone["id"]), token="by-key"),
            DeleteEvent(ref=episode_ref(1, 1, 1), kind="watch", at=T0, token="sig"),
            DeleteEvent(ref=episode_ref(1, 1, 3), kind="watch", at=T0, token="none"),
            DeleteEvent(key="123456789", token="missing"),
        ]
    )
    assert [r.ok for r in results] == [True, True, False, False]
    assert [r.code for r in results[2:]] == [WriteError.NOT_FOUND] * 2
    assert fake.plays_of(("episode", 1, 1, 1)) == [T0 + timedelta(days=1)]
    assert fake.plays_of(("movie", 1)) == []
    (unwatch,) = await provider.write_records(
        [DeleteRecord(ref=episode_ref(1, 1, 1), kind="watched")]
    )
    assert unwatch.ok
    assert [e["id"] for e in fake.history] == [keep["id"]]


@pytest.mark.parametrize(
    ("status", "code", "retried"),
    [
        (422, WriteError.INVALID, False),
        (404, WriteError.NOT_FOUND, False),
        (503, WriteError.TRANSIENT, True),
        (426, WriteError.UNSUPPORTED, False),  # VIP only
        (420, WriteError.INVALID, False),  # account limit exceeded
        (423, WriteError.AUTH, False),  # locked account
    ],
)
async def test_http_failures_map_to_codes_for_every_item_of_the_batch(
    fake, provider, status, code, retried
):
    fake.inject(
        Fault(status=status, times=10, match=lambda r: r.path == "/sync/ratings")
    )
    writes = [rate(movie_ref(n), 5) for n in (1, 2)]
    results = await provider.write_records(writes)
    assert [r.code for r in results] == [code, code]
    # Ratings are absolute values: safe to resend after a 5xx; 4xx are final.
    attempts = sum(1 for r in fake.requests if r.path == "/sync/ratings")
    assert (attempts > 1) is retried


async def test_rate_limited_reads_wait_for_retry_after(fake, provider):
    fake.inject(
        Fault(
            status=429,
            match=lambda r: r.path == "/sync/watched/movies",
        )
    )
    page = await provider.fetch_event_summaries(EventSummaryQuery())
    assert page.items == ()
    assert provider.client.counter.rate_limited == 1


# -- change feed -----------------------------------------------------------------------


async def test_change_feed_reports_only_what_moved(fake, provider):
    fake.add_play(("episode", 1, 1, 1), T0)
    await provider.scan(ScanQuery())
    baseline = await provider.poll_changes(ChangeQuery())
    assert baseline.items == () and baseline.cursor
    quiet = await provider.poll_changes(ChangeQuery(cursor=baseline.cursor))
    assert quiet.items == ()

    fake.add_play(("episode", 1, 1, 2), T0 - timedelta(days=400))  # backdated
    fake.rate(("movie", 2), 3)
    before = fake.count("data")
    page = await provider.poll_changes(ChangeQuery(cursor=baseline.cursor))
    changed = {(type(c).__name__, c.kind, c.ref) for c in page.items}
    assert changed == {
        ("RecordChange", "watched", episode_ref(1, 1, 2)),
        ("EventChange", "watch", episode_ref(1, 1, 2)),
        ("RecordChange", "ratings", movie_ref(2)),
    }
    # last_activities + watched (movies, shows) + ratings; not the watchlist etc.
    assert fake.count("data") - before == 4
    done = await provider.poll_changes(ChangeQuery(cursor=page.cursor))
    assert done.items == ()

    fake.watchlist.clear()
    fake.list_item(("movie", 1))
    del fake.watchlist[("movie", 1)]
    fake._touch(("movie", 1), "watchlisted_at")
    removed = await provider.poll_changes(ChangeQuery(cursor=done.cursor))
    assert [(type(c), c.kind, c.ref) for c in removed.items] == [
        (RecordChange, "watchlist", None)
    ]
    assert not any(isinstance(c, EventChange) for c in removed.items)


async def test_a_foreign_cursor_is_refused(provider):
    with pytest.raises(ValueError, match="not a change cursor"):
        await provider.poll_changes(ChangeQuery(cursor="change:3"))


# -- backups ---------------------------------------------------------------------------


async def test_backup_round_trip_restores_onto_an_empty_account(fake, make_trakt):
    fake.add_play(("episode", 1, 1, 1), T0)
    fake.add_play(("episode", 1, 1, 1), T0 + timedelta(days=1))
    fake.add_play(("movie", 2), T0)
    fake.rate(("season", 1, 1), 8)
    fake.list_item(("show", 2), "soon")
    source = await make_trakt()
    artifact = await source.export_backup()
    assert artifact is not None and artifact.file_extension == ".json"

    history, ratings, watchlist = (
        list(fake.history),
        dict(fake.ratings),
        dict(fake.watchlist),
    )
    fake.history.clear()
    fake.ratings.clear()
    fake.watchlist.clear()
    target = await make_trakt()
    await target.import_backup(artifact.content)
    assert sorted((e["key"], e["watched_at"]) for e in fake.history) == sorted(
        (e["key"], e["watched_at"]) for e in history
    )
    assert {k: v[0] for k, v in fake.ratings.items()} == {
        k: v[0] for k, v in ratings.items()
    }
    assert {k: v["notes"] for k, v in fake.watchlist.items()} == {
        k: v["notes"] for k, v in watchlist.items()
    }
    writes = fake.count("write")
    again = await make_trakt()
    await again.import_backup(artifact.content)
    assert fake.count("write") == writes


async def test_a_broken_backup_is_refused_with_a_reason(provider):
    with pytest.raises(ValueError, match=r"not a anibridge\.trakt\.backup file"):
        await provider.import_backup(b'{"format": "other"}')
    with pytest.raises(ValueError, match=r"history\[0\]: needs 'at'"):
        await provider.import_backup(
            b'{"format": "anibridge.trakt.backup", "version": 1, "history": [{}]}'
        )


# -- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "'client_id' is required"),
        ({"client_id": "x", "colour": "blue"}, "unknown config key"),
        ({"client_id": "x", "page_size": 0}, "'page_size' must be a positive"),
        ({"client_id": "x", "token_store": object()}, "'token_store' needs"),
    ],
)
def test_bad_config_names_the_key(config, message):
    import logging

    with pytest.raises(TraktConfigError, match=message):
        TraktProvider(logger=logging.getLogger("t"), config=config)


async def test_without_tokens_initialize_says_to_log_in(fake):
    import logging

    from anibridge.providers.trakt import TraktAuthError

    provider = TraktProvider(
        logger=logging.getLogger("t"),
        config={"client_id": fake.client_id, "base_url": fake.base_url},
    )
    with pytest.raises(TraktAuthError, match="anibridge login trakt"):
        await provider.initialize()
    await provider.close()


async def test_every_request_carries_the_trakt_headers(fake, provider):
    await provider.fetch_event_summaries(EventSummaryQuery())
    # The fake answers 403/400 without trakt-api-key / trakt-api-version: 2.
    assert fake.statuses()[403] == 0 and fake.statuses()[400] == 0
    assert fake.count("identity") == 1


async def test_wrong_api_key_is_an_auth_error(fake, make_trakt):
    with pytest.raises(HttpError) as info:
        await make_trakt(client_id="someone-else")
    assert info.value.code is WriteError.AUTH


async def test_more_changes_than_the_limit_are_handed_out_over_several_polls(
    fake, make_trakt
):
    provider = await make_trakt()
    await provider.scan(ScanQuery())
    baseline = await provider.poll_changes(ChangeQuery())
    for n in range(1, 6):
        fake.rate(("episode", 1, 1, n), n + 1)
    seen = []
    cursor = baseline.cursor
    for _ in range(10):
        page = await provider.poll_changes(ChangeQuery(cursor=cursor, limit=2))
        assert len(page.items) <= 2
        if not page.items:
            break
        seen.extend(page.items)
        cursor = page.cursor
    assert sorted(map(repr, (c.ref for c in seen))) == sorted(
        repr(episode_ref(1, 1, n)) for n in range(1, 6)
    )

    # A new process cannot hand out another's remainder: it restarts from the
    # cursor's baseline, so changes may repeat but are never lost.
    for n in range(6, 9):
        fake.rate(("episode", 1, 1, n), 5)
    first = await provider.poll_changes(ChangeQuery(cursor=cursor, limit=1))
    assert len(first.items) == 1
    fresh = await make_trakt()
    rest = await fresh.poll_changes(ChangeQuery(cursor=first.cursor))
    assert {c.ref for c in rest.items} >= {episode_ref(1, 1, n) for n in (7, 8)}


async def test_collection_writes_collect_and_remove_items(fake, provider, make_trakt):
    results = await provider.write_records(
        [
            UpsertRecord(movie_ref(2), "collection"),
            UpsertRecord(season_ref(1, 0), "collection"),  # both specials
            UpsertRecord(movie_ref(77), "collection"),
            UpsertRecord(
                movie_ref(1), "collection", set={RecordField.LAST_ACTIVITY_AT: T0}
            ),
        ]
    )
    assert [r.code for r in results] == [
        None,
        None,
        WriteError.NOT_FOUND,
        WriteError.UNSUPPORTED,
    ]
    assert set(fake.collection) == {
        ("movie", 2),
        ("episode", 1, 0, 1),
        ("episode", 1, 0, 2),
    }
    fake.clock.advance(60)  # a later session: the write window has moved on
    fresh = await make_trakt()
    page = await fresh.fetch_records(RecordQuery(native_record_kinds=("collection",)))
    assert {r.ref for r in page.items} == {
        movie_ref(2),
        show_ref(1),  # the show itself is "in the collection"
        episode_ref(1, 0, 1),
        episode_ref(1, 0, 2),
    }
    (removed,) = await fresh.write_records(
        [DeleteRecord(ref=show_ref(1), kind="collection")]
    )
    assert removed.ok
    assert set(fake.collection) == {("movie", 2)}
    assert fake.count("write") == 2
