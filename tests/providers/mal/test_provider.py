from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime

import pytest

from anibridge.http import ManualClock
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
from anibridge.provider.precision import partial_date
from anibridge.testing.fakes.catalog import sample_media
from anibridge.testing.fakes.mal import MalFake
from anibridge.testing.fakes.server import Fault

from .conftest import MemoryTokenStore, make_provider

ALL = frozenset(RecordField)


async def scan_all(provider, **kwargs):
    items, cursor = [], None
    while True:
        page = await provider.scan(ScanQuery(cursor=cursor, **kwargs))
        items.extend(page.items)
        cursor = page.cursor
        if cursor is None:
            return items


async def read(provider, anime_id):
    page = await provider.fetch_records(
        RecordQuery(fields=ALL, refs=(Ref.anchor(str(anime_id)),))
    )
    return page.items[0].values if page.items else None


async def test_initialize_is_one_identity_call(fake, provider):
    assert fake.count("identity") == 1 and fake.count("data") == 0
    assert provider.account().title == fake.user_name


async def test_reading_1500_entries_takes_two_data_requests():
    media = sample_media(1500)
    with MalFake(media=media, clock=ManualClock()) as fake:
        for n, item in enumerate(media):
            fake.add_entry(item.mal_id, status="completed", num_episodes_watched=n % 12)
        provider = make_provider(fake)
        await provider.initialize()
        fake.reset_counters()
        items = await scan_all(provider, fields=ALL, facets=frozenset({FacetName.IDS}))
        await provider.close()
        assert fake.count("data") <= math.ceil(1500 / 1000)
    assert len({i.node.ref.key for i in items}) == 1500  # nsfw entries included


async def test_nsfw_entries_need_nsfw_true(fake, provider, catalog):
    nsfw = next(m for m in catalog if m.nsfw != "white")
    fake.add_entry(nsfw.mal_id, status="watching")
    items = await scan_all(provider)
    assert [i.node.ref.key for i in items] == [str(nsfw.mal_id)]


@pytest.mark.parametrize(
    ("status", "native", "rewatching"),
    [
        (Status.ACTIVE, "watching", False),
        (Status.COMPLETED, "completed", False),
        (Status.PAUSED, "on_hold", False),
        (Status.DROPPED, "dropped", False),
        (Status.PLANNED, "plan_to_watch", False),
        (Status.REPEATING, "completed", True),
    ],
)
async def test_statuses_round_trip(fake, provider, catalog, status, native, rewatching):
    anime_id = catalog[0].mal_id
    fake.add_entry(anime_id, status="completed", is_rewatching=not rewatching)
    [result] = await provider.write_records(
        [
            UpsertRecord(
                Ref.anchor(str(anime_id)),
                set={RecordField.STATUS: State(status=status)},
            )
        ]
    )
    assert result.ok, result
    assert fake.entries[anime_id]["status"] == native
    assert fake.entries[anime_id]["is_rewatching"] is rewatching
    values = await read(provider, anime_id)
    assert values[RecordField.STATUS].status is status


async def test_write_uses_write_names_and_reads_back(fake, provider, catalog):
    item = catalog[2]
    write = UpsertRecord(
        Ref.anchor(str(item.mal_id)),
        token="w",
        set={
            RecordField.STATUS: State(status=Status.COMPLETED),
            RecordField.PROGRESS: Progress(7),
            RecordField.RATING: Rating(85, (0, 100, 1)),
            RecordField.STARTED_AT: datetime(2021, 4, 5, tzinfo=UTC),
            RecordField.FINISHED_AT: datetime(2021, 6, 7, tzinfo=UTC),
            RecordField.REPEAT_COUNT: 2,
            RecordField.NOTES: "great",
        },
    )
    [result] = await provider.write_records([write])
    assert result.ok and result.token == "w"
    form = fake.forms[-1]
    assert form["num_watched_episodes"] == "7" and "num_episodes_watched" not in form
    assert form["score"] == "9"  # 85/100 on 0-10 with step 1
    values = await read(provider, item.mal_id)
    assert values[RecordField.PROGRESS] == Progress(7, item.episodes, "episode")
    assert values[RecordField.RATING] == Rating(9, (0, 10, 1))
    assert values[RecordField.STARTED_AT] == datetime(2021, 4, 5, tzinfo=UTC)
    assert values[RecordField.FINISHED_AT] == datetime(2021, 6, 7, tzinfo=UTC)
    assert values[RecordField.REPEAT_COUNT] == 2
    assert values[RecordField.NOTES] == "great"


async def test_partial_dates_keep_their_precision_both_ways(fake, provider, catalog):
    fake.add_entry(
        catalog[0].mal_id, status="completed", start_date="2017", finish_date="2017-10"
    )
    values = await read(provider, catalog[0].mal_id)
    assert values[RecordField.STARTED_AT] == partial_date(2017)
    assert values[RecordField.FINISHED_AT] == partial_date(2017, 10)
    assert values[RecordField.FINISHED_AT] != datetime(2017, 10, 1, tzinfo=UTC)
    [result] = await provider.write_records(
        [
            UpsertRecord(
                Ref.anchor(str(catalog[0].mal_id)),
                set={
                    RecordField.STARTED_AT: partial_date(2016, 12),
                    RecordField.FINISHED_AT: partial_date(2018),
                },
            )
        ]
    )
    assert result.ok, result.error
    entry = fake.entries[catalog[0].mal_id]
    assert (entry["start_date"], entry["finish_date"]) == ("2016-12", "2018")
    values = await read(provider, catalog[0].mal_id)
    assert values[RecordField.STARTED_AT] == partial_date(2016, 12)


async def test_clearing_dates_is_refused_not_dropped(fake, provider, catalog):
    anime_id = catalog[0].mal_id
    fake.add_entry(anime_id, status="completed", start_date="2020-01-01", score=5)
    fake.reset_counters()
    [result] = await provider.write_records(
        [
            UpsertRecord(
                Ref.anchor(str(anime_id)),
                set={RecordField.NOTES: "x"},
                clear=frozenset({RecordField.STARTED_AT, RecordField.RATING}),
            )
        ]
    )
    assert not result.ok and result.code is WriteError.UNSUPPORTED
    assert "clear" in result.error
    assert fake.count() == 0  # nothing half-applied
    assert fake.entries[anime_id]["start_date"] == "2020-01-01"


async def test_clearing_other_fields(fake, provider, catalog):
    anime_id = catalog[0].mal_id
    fake.add_entry(
        anime_id,
        status="completed",
        score=5,
        comments="c",
        num_times_rewatched=1,
        num_episodes_watched=4,
    )
    cleared = frozenset(
        {
            RecordField.RATING,
            RecordField.NOTES,
            RecordField.REPEAT_COUNT,
            RecordField.PROGRESS,
        }
    )
    [result] = await provider.write_records(
        [UpsertRecord(Ref.anchor(str(anime_id)), clear=cleared)]
    )
    assert result.ok
    values = await read(provider, anime_id)
    assert RecordField.RATING not in values and RecordField.NOTES not in values
    assert (
        values[RecordField.REPEAT_COUNT] == 0
        and values[RecordField.PROGRESS].current == 0
    )


async def test_delete_and_missing(fake, provider, catalog):
    fake.add_entry(catalog[0].mal_id, status="watching")
    results = await provider.write_records(
        [
            DeleteRecord(ref=Ref.anchor(str(catalog[0].mal_id)), token="a"),
            DeleteRecord(key=str(catalog[1].mal_id), token="b"),
            UpsertRecord(Ref.anchor("999999999"), set={RecordField.NOTES: "n"}),
        ]
    )
    assert [r.ok for r in results] == [True, False, False]
    assert results[1].code is WriteError.NOT_FOUND
    assert results[2].code is WriteError.NOT_FOUND
    assert fake.entries == {}


async def test_resolve_needs_no_request(fake, provider):
    fake.reset_counters()
    matches = await provider.resolve(
        [ExternalId("mal", "21"), ExternalId("anilist", "21")]
    )
    assert [(m.external_id.descriptor, m.ref.key) for m in matches] == [
        ("mal:21", "21")
    ]
    assert fake.count() == 0


async def test_fetch_nodes(fake, provider, catalog):
    item = next(m for m in catalog if m.format == "MOVIE")
    page = await provider.fetch_nodes(
        NodeQuery(
            refs=(Ref.anchor(str(item.mal_id)), Ref.anchor("999999")),
            facets=frozenset({FacetName.IDS, FacetName.STRUCTURE}),
        )
    )
    [node] = page.items
    assert node.kind == "movie"
    assert node.facets[FacetName.IDS].ids == (ExternalId("mal", str(item.mal_id)),)


async def test_many_refs_read_the_list_instead(fake, provider, catalog):
    for item in catalog[:40]:
        fake.add_entry(item.mal_id, status="watching")
    fake.reset_counters()
    page = await provider.fetch_records(
        RecordQuery(
            fields=ALL, refs=tuple(Ref.anchor(str(m.mal_id)) for m in catalog[:40])
        )
    )
    assert len(page.items) == 40
    assert fake.count("data") == 1


async def test_change_feed(fake, provider, catalog):
    fake.add_entry(
        catalog[0].mal_id, status="watching", updated_at="2024-01-01T00:00:00+00:00"
    )
    first = await provider.poll_changes(ChangeQuery())
    assert first.items == ()
    fake.add_entry(
        catalog[1].mal_id, status="watching", updated_at="2024-02-01T00:00:00+00:00"
    )
    fake.add_entry(
        catalog[2].mal_id, status="watching", updated_at="2024-02-01T00:00:00+00:00"
    )
    second = await provider.poll_changes(ChangeQuery(cursor=first.cursor))
    assert sorted(c.ref.key for c in second.items) == sorted(
        str(m.mal_id) for m in catalog[1:3]
    )
    third = await provider.poll_changes(ChangeQuery(cursor=second.cursor))
    assert third.items == ()
    await provider.write_records(
        [UpsertRecord(Ref.anchor(str(catalog[0].mal_id)), set={RecordField.NOTES: "n"})]
    )
    fourth = await provider.poll_changes(ChangeQuery(cursor=third.cursor))
    assert [c.ref.key for c in fourth.items] == [str(catalog[0].mal_id)]


async def test_backup_round_trip_restores_every_field(fake, provider, catalog):
    fake.add_entry(
        catalog[0].mal_id,
        status="completed",
        score=8,
        num_episodes_watched=12,
        is_rewatching=True,
        start_date="2020-05",
        finish_date="2020-06-30",
        priority=2,
        num_times_rewatched=3,
        rewatch_value=4,
        tags=["a", "b"],
        comments="loved it",
    )
    fake.add_entry(catalog[1].mal_id, status="plan_to_watch")
    nsfw = next(m for m in catalog if m.nsfw != "white")
    fake.add_entry(nsfw.mal_id, status="dropped", score=2)
    before = fake.snapshot()
    artifact = await provider.export_backup()
    assert len(json.loads(artifact.content)["entries"]) == 3
    fake.wipe()
    await provider.import_backup(artifact.content)
    assert fake.snapshot() == before


# -- OAuth --------------------------------------------------------------------------


async def test_refresh_on_401_persists_new_tokens(fake):
    store = MemoryTokenStore()
    provider = make_provider(fake, token_store=store, expires_at=time.time() + 10**6)
    await provider.initialize()
    fake.expire_access_tokens()
    fake.add_entry(fake_id := next(iter(fake.media)), status="watching")
    page = await provider.fetch_records(
        RecordQuery(fields=ALL, refs=(Ref.anchor(str(fake_id)),))
    )
    assert len(page.items) == 1
    assert fake.refreshes == 1
    assert fake.statuses()[401] == 1
    [(key, tokens)] = store.saves
    assert key == "mal" and tokens["refresh_token"] in fake.refresh_tokens
    assert tokens["expires_at"] > time.time()
    await provider.close()
    # The next run starts from the saved pair (the configured refresh token is dead).
    again = make_provider(fake, token_store=store)
    await again.initialize()
    assert again.account() is not None
    await again.close()


async def test_refresh_before_expiry_avoids_the_401(fake):
    store = MemoryTokenStore()
    provider = make_provider(fake, token_store=store, expires_at=time.time() + 30)
    await provider.initialize()
    await provider.close()
    assert fake.refreshes == 1
    assert fake.statuses()[401] == 0
    assert len(store.saves) == 1


async def test_revoked_refresh_token_is_auth_error(fake, catalog):
    provider = make_provider(fake)
    await provider.initialize()
    fake.expire_access_tokens()
    fake.revoke_refresh_tokens()
    [result] = await provider.write_records(
        [UpsertRecord(Ref.anchor(str(catalog[0].mal_id)), set={RecordField.NOTES: "n"})]
    )
    await provider.close()
    assert result.code is WriteError.AUTH


async def test_expires_at_accepts_iso(fake):
    provider = make_provider(fake, expires_at="2999-01-01T00:00:00Z")
    await provider.initialize()
    assert fake.refreshes == 0
    await provider.close()


# -- faults ---------------------------------------------------------------------


async def test_server_errors_retried_then_transient(fake, provider, catalog):
    fake.inject(Fault(status=503, times=2))
    write = UpsertRecord(
        Ref.anchor(str(catalog[0].mal_id)), set={RecordField.NOTES: "n"}
    )
    [ok] = await provider.write_records([write])
    assert ok.ok
    fake.inject(Fault(status=500, times=20))
    [failed] = await provider.write_records([write])
    assert failed.code is WriteError.TRANSIENT


async def test_timeouts_and_malformed_bodies(fake, catalog):
    provider = make_provider(fake, timeout=0.4)
    await provider.initialize()
    fake.add_entry(catalog[0].mal_id, status="watching")
    fake.inject(Fault(mode="timeout", delay=60, times=1))
    assert len((await provider.scan(ScanQuery())).items) == 1
    fake.inject(Fault(mode="malformed", times=1))
    assert len((await provider.scan(ScanQuery())).items) == 1
    fake.inject(Fault(mode="malformed", times=2))
    with pytest.raises(Exception) as info:
        await provider.scan(ScanQuery())
    assert getattr(info.value, "code", None) is WriteError.TRANSIENT
    fake.inject(Fault(mode="timeout", delay=60, times=10))
    [failed] = await provider.write_records(
        [UpsertRecord(Ref.anchor(str(catalog[0].mal_id)), set={RecordField.NOTES: "n"})]
    )
    assert failed.code is WriteError.TRANSIENT
    await provider.close()


async def test_needs_credentials(fake):
    provider = make_provider(fake, access_token="", refresh_token="")
    with pytest.raises(ValueError, match="token"):
        await provider.initialize()
    await provider.close()


async def test_forbidden_means_back_off(fake, provider, catalog):
    fake.inject(
        Fault(status=403, body={"error": "forbidden", "message": "DoS detected"})
    )
    [result] = await provider.write_records(
        [UpsertRecord(Ref.anchor(str(catalog[0].mal_id)), set={RecordField.NOTES: "n"})]
    )
    assert result.code is WriteError.RATE_LIMITED
    assert "DoS" in result.error


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"rate_limit": 0}, "mal.rate_limit"),
        ({"expires_at": [1]}, "expires_at"),
    ],
)
def test_bad_config_is_refused_with_the_key(config, message):
    from anibridge.providers.mal import MalProvider

    with pytest.raises(ValueError, match=message):
        MalProvider(config={"access_token": "a", **config})


async def test_tokens_never_reach_logs_or_errors(fake, catalog, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    store = MemoryTokenStore()
    provider = make_provider(fake, token_store=store, expires_at=1)
    await provider.initialize()
    fake.inject(Fault(status=500, times=20, body={"error": "boom"}))
    [failed] = await provider.write_records(
        [UpsertRecord(Ref.anchor(str(catalog[0].mal_id)), set={RecordField.NOTES: "n"})]
    )
    await provider.close()
    [(_, tokens)] = store.saves
    secrets = {
        "mal-access-0",
        "mal-refresh-0",
        fake.client_secret,
        tokens["access_token"],
        tokens["refresh_token"],
    }
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in (failed.error or "")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "reading"}, "status"),
        ({"score": -1}, "score"),
        ({"tags": "a,b"}, "tags"),
        ({"start_date": "01/02/2020"}, "start_date"),
        ({"anime_id": "5"}, "anime_id"),
    ],
)
async def test_import_names_the_bad_entry_and_field(
    fake, provider, catalog, change, field
):
    fake.add_entry(catalog[0].mal_id, status="watching")
    artifact = await provider.export_backup()
    data = json.loads(artifact.content)
    data["entries"][0].update(change)
    with pytest.raises(ValueError, match=rf"entries\[0\]\.{field}"):
        await provider.import_backup(json.dumps(data).encode())
    with pytest.raises(ValueError, match="format"):
        await provider.import_backup(b'{"format": "x"}')


async def test_search_nodes(fake, provider, catalog):
    page = await provider.search_nodes(
        "sample show 1", limit=3, facets=frozenset({FacetName.IDS})
    )
    assert 1 <= len(page.items) <= 3
    assert all("Sample Show 1" in n.title for n in page.items)
    assert page.items[0].facets[FacetName.IDS].ids[0].authority == "mal"
    assert (await provider.search_nodes("")).items == ()


async def test_abuse_403_is_rate_limited_and_the_client_limit_avoids_it(catalog):
    with MalFake(media=catalog, clock=ManualClock(), per_minute=5) as fake:
        fast = make_provider(fake, rate_limit=1000)
        await fast.initialize()
        writes = [
            UpsertRecord(Ref.anchor(str(m.mal_id)), set={RecordField.NOTES: "n"})
            for m in catalog[:8]
        ]
        results = await fast.write_records(writes)
        assert WriteError.RATE_LIMITED in {r.code for r in results}
        with pytest.raises(Exception) as info:
            await fast.scan(ScanQuery())
        assert getattr(info.value, "code", None) is WriteError.RATE_LIMITED
        await fast.close()
    with MalFake(media=catalog, clock=ManualClock(), per_minute=5) as fake:
        polite = make_provider(fake, rate_limit=5)
        await polite.initialize()
        results = await polite.write_records(writes)
        await polite.close()
        assert all(r.ok for r in results)
        assert fake.statuses()[403] == 0


async def test_few_refs_use_the_cheaper_path(fake, provider, catalog):
    for item in catalog[:3]:
        fake.add_entry(item.mal_id, status="watching")
    fake.reset_counters()
    one = await provider.fetch_records(
        RecordQuery(fields=ALL, refs=(Ref.anchor(str(catalog[0].mal_id)),))
    )
    assert len(one.items) == 1 and fake.count("data") == 1  # GET anime/{id}
    await scan_all(provider)  # now the list size (one page) is known
    fake.reset_counters()
    three = await provider.fetch_records(
        RecordQuery(
            fields=ALL, refs=tuple(Ref.anchor(str(m.mal_id)) for m in catalog[:3])
        )
    )
    assert len(three.items) == 3 and fake.count("data") == 1  # one list page
