from __future__ import annotations

import json
import math
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
from anibridge.providers.anilist import AniListProvider
from anibridge.providers.anilist.provider import DEFAULT_BATCH_SIZE, AniListError
from anibridge.testing.fakes.anilist import AniListFake
from anibridge.testing.fakes.catalog import sample_media
from anibridge.testing.fakes.server import Fault

from .conftest import TOKEN, make_provider

ALL = frozenset(RecordField)


async def scan_all(provider, **kwargs):
    items, cursor = [], None
    while True:
        page = await provider.scan(ScanQuery(cursor=cursor, **kwargs))
        items.extend(page.items)
        cursor = page.cursor
        if cursor is None:
            return items


async def test_initialize_is_one_identity_call(fake, provider):
    assert fake.count("identity") == 1
    assert fake.count("data") == 0
    account = provider.account()
    assert account is not None and account.key == str(fake.user_id)
    assert account.title == fake.user_name


async def test_reading_1500_entries_takes_three_data_requests():
    media = sample_media(1500)
    with AniListFake(media=media, clock=ManualClock(), custom_lists=["Fav"]) as fake:
        for n, item in enumerate(media):
            fake.add_entry(
                item.anilist_id,
                status="COMPLETED" if n % 2 else "CURRENT",
                progress=n % 12,
                customLists=["Fav"] if n % 5 == 0 else [],
                hiddenFromStatusLists=n % 10 == 0,
            )
        provider = make_provider(fake)
        await provider.initialize()
        fake.reset_counters()
        items = await scan_all(provider, facets=frozenset({FacetName.IDS}))
        await provider.close()
        assert fake.count("data") <= math.ceil(1500 / 500)
        assert fake.count("identity") == 0
    keys = [item.node.ref.key for item in items]
    assert len(keys) == 1500 and len(set(keys)) == 1500


async def test_hidden_and_custom_list_entries_are_read_once(fake, provider, catalog):
    hidden, both, plain = (m.anilist_id for m in catalog[:3])
    fake.add_entry(
        hidden, status="PAUSED", hiddenFromStatusLists=True, customLists=["Later"]
    )
    fake.add_entry(both, status="CURRENT", customLists=["Favourites", "Later"])
    fake.add_entry(plain, status="PLANNING")
    items = await scan_all(provider, fields=ALL)
    by_key = {i.node.ref.key: i for i in items}
    assert sorted(by_key) == sorted(str(k) for k in (hidden, both, plain))
    assert len(items) == 3
    record = by_key[str(hidden)].records[0]
    assert record.values[RecordField.STATUS] == State("PAUSED", Status.PAUSED)


@pytest.mark.parametrize(
    ("native", "status"),
    [
        ("CURRENT", Status.ACTIVE),
        ("PLANNING", Status.PLANNED),
        ("COMPLETED", Status.COMPLETED),
        ("DROPPED", Status.DROPPED),
        ("PAUSED", Status.PAUSED),
        ("REPEATING", Status.REPEATING),
    ],
)
async def test_every_status_round_trips(fake, provider, catalog, native, status):
    media_id = catalog[0].anilist_id
    [result] = await provider.write_records(
        [
            UpsertRecord(
                Ref.anchor(str(media_id)),
                set={RecordField.STATUS: State(status=status)},
            )
        ]
    )
    assert result.ok, result
    assert fake.entry_for(media_id)["status"] == native
    page = await provider.fetch_records(
        RecordQuery(fields=ALL, refs=(Ref.anchor(str(media_id)),))
    )
    assert page.items[0].values[RecordField.STATUS] == State(native, status)


async def test_record_fields_are_read_faithfully(fake, provider, catalog):
    item = catalog[1]
    fake.add_entry(
        item.anilist_id,
        status="REPEATING",
        score=85,
        progress=4,
        repeat=2,
        notes="second time",
        startedAt={"year": 2021, "month": 3, "day": 9},
        completedAt={"year": 2022, "month": None, "day": None},
    )
    page = await provider.fetch_records(
        RecordQuery(fields=ALL, refs=(Ref.anchor(str(item.anilist_id)),))
    )
    [record] = page.items
    values = record.values
    assert values[RecordField.PROGRESS] == Progress(4, item.episodes, "episode")
    assert values[RecordField.RATING] == Rating(85, (0, 100, 1))
    assert values[RecordField.REPEAT_COUNT] == 2
    assert values[RecordField.NOTES] == "second time"
    assert values[RecordField.STARTED_AT] == datetime(2021, 3, 9, tzinfo=UTC)
    # A year-only date reads as the year, never padded to January 1st.
    assert values[RecordField.FINISHED_AT] == partial_date(2022)
    assert values[RecordField.FINISHED_AT] != datetime(2022, 1, 1, tzinfo=UTC)
    entry = fake.entry_for(item.anilist_id)
    assert record.updated_at == datetime.fromtimestamp(entry["updatedAt"], UTC)
    assert record.key == str(entry["id"])
    assert ExternalId("mal", str(item.mal_id)) in record.ids


async def test_only_requested_fields_are_hydrated(fake, provider, catalog):
    fake.add_entry(catalog[0].anilist_id, status="CURRENT", score=50, notes="x")
    page = await provider.fetch_records(
        RecordQuery(
            refs=(Ref.anchor(str(catalog[0].anilist_id)),),
            fields=frozenset({RecordField.STATUS}),
        )
    )
    assert set(page.items[0].values) == {RecordField.STATUS}


@pytest.mark.parametrize(
    ("score_format", "scale", "written", "expected"),
    [
        ("POINT_100", (0, 100, 1), Rating(7, (0, 10, 1)), 70),
        ("POINT_10_DECIMAL", (0, 10, 0.1), Rating(77, (0, 100, 1)), 7.7),
        ("POINT_10", (0, 10, 1), Rating(77, (0, 100, 1)), 8),
        ("POINT_5", (0, 5, 1), Rating(8, (0, 10, 1)), 4),
        ("POINT_3", (0, 3, 1), Rating(10, (0, 10, 1)), 3),
        ("POINT_3", (0, 3, 1), Rating(1, (0, 100, 1)), 1),  # never "no score"
    ],
)
async def test_score_formats_drive_the_rating_scale(
    catalog, score_format, scale, written, expected
):
    with AniListFake(
        media=catalog, clock=ManualClock(), score_format=score_format
    ) as fake:
        provider = make_provider(fake)
        await provider.initialize()
        spec = provider.capabilities().record_fields[RecordField.RATING]
        constraint = spec.constraints[0]
        assert (constraint.minimum, constraint.maximum, constraint.step) == scale
        ref = Ref.anchor(str(catalog[0].anilist_id))
        [result] = await provider.write_records(
            [UpsertRecord(ref, set={RecordField.RATING: written})]
        )
        assert result.ok, result
        page = await provider.fetch_records(RecordQuery(fields=ALL, refs=(ref,)))
        await provider.close()
    assert page.items[0].values[RecordField.RATING] == Rating(expected, scale)


def full_write(media_id: int, n: int) -> UpsertRecord:
    return UpsertRecord(
        Ref.anchor(str(media_id)),
        token=f"t{n}",
        set={
            RecordField.STATUS: State(
                status=Status.COMPLETED if n % 2 else Status.ACTIVE
            ),
            RecordField.PROGRESS: Progress(n % 12),
            RecordField.RATING: Rating(1 + n % 10, (0, 10, 1)),
            RecordField.STARTED_AT: datetime(2020, 1 + n % 12, 1 + n % 28, tzinfo=UTC),
            RecordField.REPEAT_COUNT: n % 3,
            RecordField.NOTES: f"note {n}",
        },
    )


async def test_100_writes_take_ceil_100_over_batch_requests():
    media = sample_media(100)
    with AniListFake(media=media, clock=ManualClock()) as fake:
        for batch in (DEFAULT_BATCH_SIZE, 10):
            provider = make_provider(fake, batch_size=batch)
            await provider.initialize()
            fake.reset_counters()
            writes = [full_write(m.anilist_id, n) for n, m in enumerate(media)]
            results = await provider.write_records(writes)
            await provider.close()
            assert fake.count("data") <= math.ceil(100 / batch)
            assert [r.token for r in results] == [w.token for w in writes]
            assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
        entry = fake.entry_for(media[3].anilist_id)
        assert entry["status"] == "COMPLETED" and entry["progress"] == 3
        assert entry["notes"] == "note 3" and entry["repeat"] == 0
        assert entry["startedAt"] == {"year": 2020, "month": 4, "day": 4}


async def test_300_writes_under_30_per_minute_without_failures_or_429():
    media = sample_media(300)
    # No X-RateLimit hints: only the client's own limiter can keep it under the
    # limit. batch_size 8 makes it 38 requests, more than one minute's allowance;
    # on virtual time no request takes any time, so only the limiter spaces them.
    with AniListFake(
        media=media, clock=ManualClock(), per_minute=30, limit_headers=False
    ) as fake:
        provider = make_provider(fake, batch_size=8)
        await provider.initialize()
        results = await provider.write_records(
            [full_write(m.anilist_id, n) for n, m in enumerate(media)]
        )
        await provider.close()
        assert all(r.ok for r in results)
        assert len(fake.entries) == 300
        assert fake.count("data") == 38
        assert fake.statuses()[429] == 0


@pytest.mark.parametrize("limit_headers", [True, False])
async def test_server_limits_are_honoured_when_the_client_limit_is_too_generous(
    limit_headers,
):
    media = sample_media(10)
    with AniListFake(
        media=media, clock=ManualClock(), per_minute=4, limit_headers=limit_headers
    ) as fake:
        provider = make_provider(fake, batch_size=1, rate_limit=1000)
        await provider.initialize()
        results = await provider.write_records(
            [full_write(m.anilist_id, n) for n, m in enumerate(media)]
        )
        await provider.close()
        assert all(r.ok for r in results)
        assert len(fake.entries) == 10
        if limit_headers:
            # X-RateLimit-Remaining: 0 + Retry-After make the client pause early.
            assert fake.statuses()[429] == 0
        else:
            # Without them the client learns from 429 + Retry-After and resends.
            assert fake.statuses()[429] >= 1


async def test_clearing_fields(fake, provider, catalog):
    media_id = catalog[0].anilist_id
    fake.add_entry(
        media_id,
        status="COMPLETED",
        score=70,
        progress=5,
        repeat=1,
        notes="x",
        startedAt={"year": 2020, "month": 1, "day": 1},
        completedAt={"year": 2020, "month": 2, "day": 1},
    )
    cleared = frozenset(
        {
            RecordField.RATING,
            RecordField.NOTES,
            RecordField.STARTED_AT,
            RecordField.FINISHED_AT,
            RecordField.REPEAT_COUNT,
            RecordField.PROGRESS,
        }
    )
    [result] = await provider.write_records(
        [UpsertRecord(Ref.anchor(str(media_id)), clear=cleared)]
    )
    assert result.ok, result
    page = await provider.fetch_records(
        RecordQuery(fields=ALL, refs=(Ref.anchor(str(media_id)),))
    )
    values = page.items[0].values
    assert RecordField.RATING not in values and RecordField.NOTES not in values
    assert (
        RecordField.STARTED_AT not in values and RecordField.FINISHED_AT not in values
    )
    assert values[RecordField.REPEAT_COUNT] == 0
    assert values[RecordField.PROGRESS].current == 0
    [refused] = await provider.write_records(
        [UpsertRecord(Ref.anchor(str(media_id)), clear=frozenset({RecordField.STATUS}))]
    )
    assert not refused.ok and refused.code is WriteError.UNSUPPORTED


async def test_one_bad_write_does_not_sink_its_batch(fake, provider, catalog):
    writes = [
        UpsertRecord(
            Ref.anchor(str(catalog[0].anilist_id)),
            set={RecordField.PROGRESS: Progress(2)},
        ),
        UpsertRecord(Ref.anchor("999999999"), set={RecordField.PROGRESS: Progress(2)}),
        UpsertRecord(
            Ref.anchor(str(catalog[1].anilist_id)), set={RecordField.NOTES: "ok"}
        ),
        UpsertRecord(Ref.anchor("abc"), set={RecordField.NOTES: "bad ref"}),
        UpsertRecord(
            Ref.anchor(str(catalog[2].anilist_id)), set={RecordField.NOTES: 5}
        ),
    ]
    results = await provider.write_records(writes)
    assert [r.ok for r in results] == [True, False, True, False, False]
    assert results[1].code is WriteError.NOT_FOUND
    assert results[3].code is WriteError.INVALID
    assert results[4].code is WriteError.INVALID
    assert (
        fake.count("data") == 1
    )  # both valid writes and the unknown id in one request


async def test_delete_by_ref_and_by_key(fake, provider, catalog):
    a, b, c = (m.anilist_id for m in catalog[:3])
    fake.add_entry(a, status="CURRENT")
    entry_b = fake.add_entry(b, status="CURRENT")
    results = await provider.write_records(
        [
            DeleteRecord(ref=Ref.anchor(str(a))),
            DeleteRecord(key=str(entry_b["id"])),
            DeleteRecord(ref=Ref.anchor(str(c))),
        ]
    )
    assert [r.ok for r in results] == [True, True, False]
    assert results[2].code is WriteError.NOT_FOUND
    assert fake.entries == {}


async def test_change_feed_reports_updates_once(fake, provider, catalog):
    fake.add_entry(catalog[0].anilist_id, status="CURRENT", updatedAt=1_000)
    first = await provider.poll_changes(ChangeQuery())
    assert first.items == ()
    fake.add_entry(catalog[1].anilist_id, status="CURRENT", updatedAt=2_000)
    fake.add_entry(catalog[2].anilist_id, status="CURRENT", updatedAt=2_000)
    second = await provider.poll_changes(ChangeQuery(cursor=first.cursor))
    assert sorted(c.ref.key for c in second.items) == sorted(
        str(m.anilist_id) for m in catalog[1:3]
    )
    third = await provider.poll_changes(ChangeQuery(cursor=second.cursor))
    assert third.items == ()
    await provider.write_records(
        [
            UpsertRecord(
                Ref.anchor(str(catalog[0].anilist_id)), set={RecordField.NOTES: "n"}
            )
        ]
    )
    fourth = await provider.poll_changes(ChangeQuery(cursor=third.cursor))
    assert [c.ref.key for c in fourth.items] == [str(catalog[0].anilist_id)]


async def test_resolve_batches_both_authorities(fake, provider, catalog):
    ids = [ExternalId("anilist", str(m.anilist_id)) for m in catalog[:60]]
    ids += [ExternalId("mal", str(m.mal_id)) for m in catalog[:60]]
    ids += [ExternalId("anilist", "424242424"), ExternalId("tvdb_show", "1")]
    fake.reset_counters()
    matches = await provider.resolve(ids)
    assert fake.count("data") == 1  # 60 of each: four aliased pages of 50
    by_id = {m.external_id: m.ref.key for m in matches}
    for m in catalog[:60]:
        assert by_id[ExternalId("anilist", str(m.anilist_id))] == str(m.anilist_id)
        assert by_id[ExternalId("mal", str(m.mal_id))] == str(m.anilist_id)
    assert ExternalId("anilist", "424242424") not in by_id


async def test_fetch_nodes_with_facets(fake, provider, catalog):
    item = catalog[4]
    page = await provider.fetch_nodes(
        NodeQuery(
            refs=(Ref.anchor(str(item.anilist_id)),),
            facets=frozenset({FacetName.IDS, FacetName.STRUCTURE, FacetName.TITLES}),
        )
    )
    [node] = page.items
    assert node.kind == item.format.lower()
    ids = node.facets[FacetName.IDS].ids
    assert ExternalId("mal", str(item.mal_id)) in ids
    assert len(node.facets[FacetName.STRUCTURE].parts) == (item.episodes or 0)


async def test_backup_round_trip_restores_every_field(fake, provider, catalog):
    fake.add_entry(
        catalog[0].anilist_id,
        status="COMPLETED",
        score=73,
        progress=12,
        repeat=1,
        priority=2,
        private=True,
        notes="loved it",
        customLists=["Favourites"],
        startedAt={"year": 2020, "month": 5, "day": None},
        completedAt={"year": 2020, "month": 6, "day": 30},
    )
    fake.add_entry(
        catalog[1].anilist_id,
        status="PAUSED",
        hiddenFromStatusLists=True,
        customLists=["Later"],
    )
    fake.add_entry(catalog[2].anilist_id, status="PLANNING")
    before = fake.snapshot()
    artifact = await provider.export_backup()
    assert artifact is not None and artifact.file_extension == ".json"
    assert len(json.loads(artifact.content)["entries"]) == 3
    fake.wipe()
    await provider.import_backup(artifact.content)
    assert fake.snapshot() == before


async def test_import_rejects_foreign_payloads(provider):
    with pytest.raises(ValueError, match="format"):
        await provider.import_backup(b'{"format": "something else"}')
    with pytest.raises(ValueError, match="JSON"):
        await provider.import_backup(b"not json")


# -- faults ----------------------------------------------------------------------


async def test_server_errors_are_retried(fake, provider, catalog):
    fake.inject(Fault(status=502, times=2))
    [result] = await provider.write_records([full_write(catalog[0].anilist_id, 1)])
    assert result.ok
    assert fake.entry_for(catalog[0].anilist_id)["notes"] == "note 1"


async def test_persistent_server_errors_are_transient(fake, catalog):
    provider = make_provider(fake)
    await provider.initialize()
    fake.inject(Fault(status=500, times=20))
    results = await provider.write_records(
        [full_write(catalog[0].anilist_id, 1), full_write(catalog[1].anilist_id, 2)]
    )
    await provider.close()
    assert [r.code for r in results] == [WriteError.TRANSIENT] * 2


async def test_timeouts_are_retried_then_transient(fake, catalog):
    provider = make_provider(fake, timeout=0.4)
    await provider.initialize()
    fake.inject(Fault(mode="timeout", delay=60, times=1))
    [ok] = await provider.write_records([full_write(catalog[0].anilist_id, 1)])
    assert ok.ok
    fake.inject(Fault(mode="timeout", delay=60, times=10))
    [failed] = await provider.write_records([full_write(catalog[1].anilist_id, 1)])
    await provider.close()
    assert failed.code is WriteError.TRANSIENT


async def test_malformed_bodies(fake, provider, catalog):
    fake.inject(Fault(mode="malformed", times=1))
    [result] = await provider.write_records([full_write(catalog[0].anilist_id, 1)])
    assert result.ok  # one malformed answer is re-asked (the upsert is absolute)
    fake.inject(Fault(mode="malformed", times=2))
    [failed] = await provider.write_records([full_write(catalog[1].anilist_id, 1)])
    assert failed.code is WriteError.TRANSIENT


async def test_revoked_token_is_auth_error(fake, provider, catalog):
    fake.revoke_tokens()
    [result] = await provider.write_records([full_write(catalog[0].anilist_id, 1)])
    assert result.code is WriteError.AUTH
    with pytest.raises(Exception) as info:
        await provider.scan(ScanQuery())
    assert getattr(info.value, "code", None) is WriteError.AUTH
    fake.inject(Fault(status=401, times=1))
    with pytest.raises(Exception) as info:
        await provider.scan(ScanQuery())
    assert getattr(info.value, "code", None) is WriteError.AUTH


async def test_initialize_needs_a_token(fake):
    provider = AniListProvider(config={"base_url": fake.base_url, "clock": fake.clock})
    with pytest.raises(ValueError, match="token"):
        await provider.initialize()
    await provider.close()


async def test_token_from_store(fake):
    class Store:
        async def load(self, key):
            assert key == "anilist"
            return {"token": TOKEN}

        async def save(self, key, tokens):
            raise AssertionError("AniList tokens are never refreshed")

    provider = AniListProvider(
        config={"base_url": fake.base_url, "clock": fake.clock, "token_store": Store()}
    )
    await provider.initialize()
    assert provider.account() is not None
    await provider.close()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"batch_size": 500}, "anilist.batch_size must be an integer 1-50"),
        ({"batch_size": "x"}, "anilist.batch_size"),
        ({"rate_limit": 0}, "anilist.rate_limit"),
        ({"timeout": "slow"}, "anilist.timeout"),
        ({"time_scale": "fast"}, "time_scale"),
    ],
)
def test_bad_config_is_refused_with_the_key(config, message):
    with pytest.raises(ValueError, match=message):
        AniListProvider(config={"token": "x", **config})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "WATCHING"}, "status"),
        ({"scoreRaw": -1}, "scoreRaw"),
        ({"customLists": "Fav"}, "customLists"),
        ({"startedAt": {"year": "2020"}}, "startedAt"),
        ({"private": "yes"}, "private"),
    ],
)
async def test_import_names_the_bad_entry_and_field(
    fake, provider, catalog, change, field
):
    fake.add_entry(catalog[0].anilist_id, status="CURRENT")
    artifact = await provider.export_backup()
    data = json.loads(artifact.content)
    data["entries"][0].update(change)
    with pytest.raises(ValueError, match=rf"entries\[0\]\.{field}"):
        await provider.import_backup(json.dumps(data).encode())


async def test_search_nodes(fake, provider, catalog):
    page = await provider.search_nodes(
        "sample show 1", limit=3, facets=frozenset({FacetName.IDS})
    )
    assert 1 <= len(page.items) <= 3
    assert all("Sample Show 1" in n.title for n in page.items)
    assert (await provider.search_nodes("   ")).items == ()


async def test_ref_reads_take_200_refs_per_request():
    media = sample_media(250)
    with AniListFake(media=media, clock=ManualClock()) as fake:
        for item in media:
            fake.add_entry(item.anilist_id, status="CURRENT")
        provider = make_provider(fake)
        await provider.initialize()
        refs = tuple(Ref.anchor(str(m.anilist_id)) for m in media)
        fake.reset_counters()
        records = await provider.fetch_records(RecordQuery(fields=ALL, refs=refs))
        assert len(records.items) == 250
        assert fake.count("data") == 2  # 4 aliased pages of 50, then 1
        fake.reset_counters()
        nodes = await provider.fetch_nodes(NodeQuery(refs=refs))
        assert len(nodes.items) == 250
        assert fake.count("data") == 2
        await provider.close()


async def test_refused_token_at_start_says_what_to_do(fake):
    provider = make_provider(fake, token="wrong")
    with pytest.raises(Exception, match="personal access token") as info:
        await provider.initialize()
    assert getattr(info.value, "code", None) is WriteError.AUTH
    assert "wrong" not in str(info.value)
    await provider.close()


async def test_an_unknown_score_format_is_an_error_naming_it(catalog):
    # A format AniList adds later must not be read as POINT_100: every score on
    # the list would be misread and then rewritten.
    with AniListFake(
        media=catalog, clock=ManualClock(), score_format="POINT_20"
    ) as fake:
        provider = make_provider(fake)
        with pytest.raises(AniListError, match="unknown scoreFormat 'POINT_20'") as e:
            await provider.initialize()
        assert "POINT_100" in str(e.value)  # lists the formats it knows
        await provider.close()
