from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

import pytest

from anibridge.provider.base import (
    ChangeQuery,
    DeleteRecord,
    ExternalId,
    FacetName,
    NodeQuery,
    Progress,
    Rating,
    RecordField,
    RecordQuery,
    Ref,
    ScanQuery,
    State,
    Status,
    UpsertRecord,
    WriteError,
)
from anibridge.providers.kitsu import KitsuAuthError, KitsuConfigError, KitsuProvider
from anibridge.testing.fakes.kitsu import KitsuFake
from anibridge.testing.fakes.server import Fault

from .conftest import MEDIA, SCALE, MemoryTokenStore

LOG = logging.getLogger("test.kitsu")
ALL = frozenset(RecordField)


def state(native: str) -> State:
    return State(native, {"current": Status.ACTIVE, "planned": Status.PLANNED,
                          "completed": Status.COMPLETED, "on_hold": Status.PAUSED,
                          "dropped": Status.DROPPED,
                          "reconsuming": Status.REPEATING}[native])  # fmt: skip


def requests(fake: KitsuFake, path: str) -> list:
    return [r for r in fake.requests if r.path.endswith(path)]


async def test_entries_read_with_their_anime_and_mapped_ids(fake, provider):
    fake.add_entry(
        11, status="current", reconsuming=True, progress=5, ratingTwenty=17,
        reconsumeCount=2, notes="arc", startedAt="2024-01-02T00:00:00.000Z",
    )  # fmt: skip
    fake.add_entry(2069, status="planned")
    page = await provider.scan(ScanQuery(facets=frozenset(FacetName), fields=ALL))
    items = {i.node.ref.key: i for i in page.items}
    naruto = items["11"]
    assert {i.descriptor for i in naruto.node.facets[FacetName.IDS].ids} == {
        "kitsu:11", "mal:20", "anilist:20", "anidb:239:R", "tvdb_show:78857:s1",
    }  # fmt: skip  # the bare series mapping (thetvdb/series) is not emitted
    (record,) = naruto.records
    assert record.values[RecordField.STATUS] == state("reconsuming")
    assert record.values[RecordField.PROGRESS] == Progress(5, 220, "episode")
    assert record.values[RecordField.RATING] == Rating(17.0, (1.0, 20.0, 1.0))
    assert record.values[RecordField.REPEAT_COUNT] == 2
    assert record.values[RecordField.STARTED_AT] == datetime(2024, 1, 2, tzinfo=UTC)
    assert record.key == str(next(iter(fake.entries)))  # the library entry's id
    assert items["2069"].node.kind == "movie"
    assert RecordField.RATING not in items["2069"].records[0].values  # null: unrated
    # One request for the library: entries, anime and mappings side-loaded.
    assert len(requests(fake, "/library-entries")) == 1
    (library,) = requests(fake, "/library-entries")
    assert library.query["page[limit]"] == ["500"]
    assert "anime.mappings" in library.query["include"][0]


async def test_large_libraries_page_by_500_and_other_routes_by_20(fake, make_kitsu):
    for n in range(30):
        fake.add_entry(9000 + n, status="planned")
    provider = await make_kitsu(page_size=7)
    seen, cursor = [], None
    while True:
        page = await provider.scan(ScanQuery(cursor=cursor))
        seen += [i.node.ref.key for i in page.items]
        cursor = page.cursor
        if cursor is None:
            break
    assert len(seen) == 30 == len(set(seen))
    await provider.clear_cache()  # anime not side-loaded yet: looked up by id
    nodes = await provider.fetch_nodes(
        NodeQuery(refs=tuple(Ref(str(9000 + n)) for n in range(30)))
    )
    assert len(nodes.items) == 30
    anime_calls = requests(fake, "/anime")
    assert len(anime_calls) == 2  # 20 + 10: the documented maximum page
    assert all(int(c.query["page[limit]"][0]) <= 20 for c in anime_calls)
    assert fake.statuses()[400] == 0


async def test_resolve_through_mappings_batched_per_site(fake, provider):
    ids = [
        ExternalId("mal", "20"),
        ExternalId("mal", "1"),
        ExternalId("anilist", "21"),
        ExternalId("anidb", "23", "R"),
        ExternalId("tvdb_show", "78857", "s1"),
        ExternalId("tvdb_show", "78857"),  # a whole series: never one Kitsu anime
        ExternalId("kitsu", "2069"),
        ExternalId("mal", "999999"),
    ]
    matches = {m.external_id.descriptor: m.ref.key for m in await provider.resolve(ids)}
    assert matches == {
        "mal:20": "11",
        "mal:1": "1",
        "anilist:21": "12",
        "anidb:23:R": "1",
        "tvdb_show:78857:s1": "11",
        "kitsu:2069": "2069",
    }
    calls = requests(fake, "/mappings")
    assert len(calls) == 4  # one per mapping site, not one per id
    mal = next(
        c for c in calls if c.query["filter[externalSite]"] == ["myanimelist/anime"]
    )
    assert set(mal.query["filter[externalId]"][0].split(",")) == {"20", "1", "999999"}


async def test_writes_create_patch_and_delete_entries(fake, provider):
    fake.add_entry(11, status="current", progress=3)
    results = await provider.write_records(
        [
            UpsertRecord(
                ref=Ref("1"),
                set={
                    RecordField.STATUS: state("reconsuming"),
                    RecordField.PROGRESS: Progress(4),
                    RecordField.RATING: Rating(8, (1, 10, 1)),
                    RecordField.REPEAT_COUNT: 1,
                    RecordField.NOTES: "again",
                    RecordField.FINISHED_AT: datetime(2023, 5, 1, tzinfo=UTC),
                },
            ),
            UpsertRecord(
                ref=Ref("11"), set={RecordField.RATING: Rating(1, (0, 100, 1))}
            ),
            UpsertRecord(ref=Ref("11"), clear=frozenset({RecordField.NOTES})),
            UpsertRecord(ref=Ref("424242"), set={RecordField.STATUS: state("planned")}),
            UpsertRecord(ref=Ref("11"), set={RecordField.PROGRESS: Progress(999)}),
            UpsertRecord(
                ref=Ref("11"), set={RecordField.LAST_ACTIVITY_AT: datetime.now(UTC)}
            ),
        ]
    )
    assert [r.code for r in results] == [
        None,
        None,
        None,
        WriteError.INVALID,  # Kitsu: the anime must exist
        WriteError.INVALID,  # progress beyond the episode count
        WriteError.UNSUPPORTED,
    ]
    bebop = fake.entry_for(1)
    assert bebop["status"] == "current" and bebop["reconsuming"] is True
    assert bebop["ratingTwenty"] == 16  # 8/10 is 16 of 20
    assert bebop["finishedAt"] == "2023-05-01T00:00:00.000Z"
    assert fake.entry_for(11)["ratingTwenty"] == 2  # the lowest Kitsu rating
    assert results[0].key is not None
    (gone,) = await provider.write_records([DeleteRecord(ref=Ref("1"))])
    assert gone.ok and fake.entry_for(1) is None
    (again,) = await provider.write_records([DeleteRecord(key=gone.key)])
    assert again.code is WriteError.NOT_FOUND


async def test_a_create_whose_answer_was_lost_becomes_an_update(fake, make_kitsu):
    provider = await make_kitsu(timeout=0.3)
    fake.inject(
        Fault(
            mode="timeout",
            delay=60,  # held until the client gives up, then applied
            match=lambda r: r.method == "POST" and r.path.endswith("/library-entries"),
        )
    )
    write = UpsertRecord(ref=Ref("12"), set={RecordField.STATUS: state("current")})
    (lost,) = await provider.write_records([write])
    assert not lost.ok and lost.code is WriteError.TRANSIENT
    await asyncio.to_thread(
        fake.wait_until, lambda: fake.entry_for(12) is not None
    )  # created anyway
    retry = UpsertRecord(ref=Ref("12"), set={RecordField.PROGRESS: Progress(7)})
    (ok,) = await provider.write_records([retry])
    assert ok.ok
    assert fake.entry_for(12)["progress"] == 7
    assert len([e for e in fake.entries.values() if e["anime"] == 12]) == 1


async def test_completing_sets_progress_to_the_episode_count_as_kitsu_does(
    fake, provider
):
    (result,) = await provider.write_records(
        [UpsertRecord(ref=Ref("1"), set={RecordField.STATUS: state("completed")})]
    )
    assert result.ok
    (record,) = (
        await provider.fetch_records(RecordQuery(refs=(Ref("1"),), fields=ALL))
    ).items
    assert record.values[RecordField.PROGRESS] == Progress(26, 26, "episode")


async def test_change_feed_reports_entries_updated_since(fake, provider):
    fake.add_entry(11, status="current")
    cursor = (await provider.poll_changes(ChangeQuery())).cursor
    assert (await provider.poll_changes(ChangeQuery(cursor=cursor))).items == ()
    await provider.write_records(
        [
            UpsertRecord(ref=Ref(k), set={RecordField.STATUS: state("planned")})
            for k in ("1", "12")
        ]
    )
    page = await provider.poll_changes(ChangeQuery(cursor=cursor, limit=1))
    assert [c.ref.key for c in page.items] == ["1"]
    page2 = await provider.poll_changes(ChangeQuery(cursor=page.cursor))
    assert [c.ref.key for c in page2.items] == ["12"]
    assert (await provider.poll_changes(ChangeQuery(cursor=page2.cursor))).items == ()
    since = [
        r for r in requests(fake, "/library-entries") if "filter[since]" in r.query
    ]
    assert since  # only what changed since the position is asked for


async def test_backup_is_kitsus_json_api_and_restores_onto_an_empty_library(
    fake, provider
):
    fake.add_entry(11, status="current", progress=5, ratingTwenty=14, notes="n")
    fake.add_entry(2069, status="completed", progress=1, reconsumeCount=3)
    artifact = await provider.export_backup()
    data = json.loads(artifact.content)
    assert data["format"] == "anibridge.kitsu.backup"
    assert {e["type"] for e in data["data"]} == {"libraryEntries"}
    assert {a["id"] for a in data["included"]} == {"11", "2069"}
    with KitsuFake(media=MEDIA, time_scale=SCALE) as empty:
        target = KitsuProvider(logger=LOG, config=empty.provider_config())
        await target.initialize()
        await target.import_backup(artifact.content)
        assert empty.entry_for(11)["progress"] == 5
        assert empty.entry_for(11)["ratingTwenty"] == 14
        assert empty.entry_for(2069)["reconsumeCount"] == 3
        entries = len(empty.entries)
        await target.import_backup(artifact.content)  # again: updates, no duplicates
        assert len(empty.entries) == entries
        await target.close()
    with pytest.raises(ValueError, match="format"):
        await provider.import_backup(b'{"format": "anibridge.mal.backup"}')


async def test_tokens_are_renewed_before_expiry_and_after_a_401(fake):
    store = MemoryTokenStore()
    config = fake.provider_config(token_store=store, expires_at=1)  # already due
    provider = KitsuProvider(logger=LOG, config=config)
    await provider.initialize()
    assert fake.refreshes == 1 and store.saves  # renewed and saved at once
    fake.expire_access_tokens()
    (write,) = await provider.write_records(
        [UpsertRecord(ref=Ref("1"), set={RecordField.STATUS: state("planned")})]
    )
    assert write.ok and fake.refreshes == 2  # a 401, renewed once, sent again
    saved = store.saved["kitsu"]
    later = KitsuProvider(logger=LOG, config={"base_url": config["base_url"],
                                               "clock": fake.clock,
                                               "token_store": store})  # fmt: skip
    await later.initialize()  # the saved, rotated tokens work
    assert later.keeper.tokens.refresh_token == saved["refresh_token"]
    await provider.close()
    await later.close()


async def test_password_grant_signs_in_and_keeps_only_tokens(fake):
    store = MemoryTokenStore()
    provider = KitsuProvider(
        logger=LOG,
        config={
            "base_url": fake.base_url + "/api/edge",
            "clock": fake.clock,
            "username": fake.email,
            "password": fake.password,
            "token_store": store,
        },
    )
    await provider.initialize()
    assert provider.account().key == str(fake.user_id)
    assert fake.password not in json.dumps(store.saved)
    wrong = KitsuProvider(
        logger=LOG,
        config={
            "base_url": fake.base_url + "/api/edge",
            "clock": fake.clock,
            "username": fake.email,
            "password": "nope",
        },
    )
    with pytest.raises(KitsuAuthError, match="refused"):
        await wrong.initialize()
    await provider.close()
    await wrong.close()


async def test_without_credentials_initialize_says_to_log_in(fake):
    provider = KitsuProvider(
        logger=LOG, config={"base_url": fake.base_url + "/api/edge"}
    )
    with pytest.raises(KitsuAuthError, match="anibridge login kitsu"):
        await provider.initialize()
    await provider.close()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"bogus": 1}, "unknown config key"),
        ({"page_size": 501}, "'page_size'"),
        ({"username": "x"}, "go together"),
    ],
)
def test_bad_config_names_the_key(config, message):
    with pytest.raises(KitsuConfigError, match=message):
        KitsuProvider(logger=LOG, config=config)


async def test_rate_limited_requests_wait_and_go_through(fake, provider):
    fake.inject(Fault(status=429, match=lambda r: r.path.endswith("/library-entries")))
    page = await provider.scan(ScanQuery())
    assert page.items == ()
    assert provider.http.counter.rate_limited == 1
