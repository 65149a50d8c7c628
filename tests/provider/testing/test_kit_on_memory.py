"""The kit passes on the reference provider in each of its shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from anibridge.provider.base import Ref, Status
from anibridge.provider.testing import ProviderContractTests
from anibridge.provider.testing.memory import (
    MemoryProvider,
    episode_ref,
    library_movie,
    library_show,
    list_entry,
    list_record,
    make_library_provider,
    make_list_provider,
    play,
    watched_record,
)

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def list_data():
    nodes = [
        list_entry(
            "1", "Cowboy Bebop", episodes=26, ids=["anilist:1", "mal:1"], poster="p.jpg"
        ),
        list_entry("20", "Naruto", episodes=220, ids=["anilist:20", "mal:20"]),
        list_entry(
            "21", "One Piece", ids=["anilist:21"], alternates={"ja": "ワンピース"}
        ),
        list_entry("30", "Evangelion", episodes=26, ids=["anilist:30"]),
    ]
    records = [
        list_record(
            "1",
            status=Status.COMPLETED,
            progress=26,
            rating=90.0,
            started=datetime(2020, 1, 1, tzinfo=UTC),
            finished=datetime(2020, 2, 1, tzinfo=UTC),
            repeat=1,
            notes="great",
            updated_at=T0,
        ),
        list_record("20", status=Status.PAUSED, progress=100, updated_at=T0),
        list_record("21", status=Status.ACTIVE, progress=1000, updated_at=T0),
    ]
    return nodes, records


def library_data():
    ep = episode_ref("bebop", 1, 1)
    nodes = [
        *library_show(
            "bebop",
            "Cowboy Bebop",
            {1: 3, 2: 2},
            ids=["tvdb_show:76885", "tmdb_show:30991"],
        ),
        *library_show(
            "nge", "Neon Genesis Evangelion", {1: 2}, ids=["tvdb_show:70350"]
        ),
        library_movie("movie", "Cowboy Bebop: The Movie", ids=["tmdb_movie:11299"]),
    ]
    records = [
        watched_record(ep, last_viewed=T0, repeat_count=1, rating=8.0),
        watched_record(episode_ref("bebop", 1, 2), last_viewed=T0 + timedelta(hours=1)),
        watched_record(Ref("movie"), last_viewed=T0, in_progress=True),
    ]
    events = [
        play(ep, T0 - timedelta(days=3)),
        play(ep, T0),
        play(episode_ref("bebop", 1, 2), T0),
    ]
    return nodes, records, events


class TestFullMemoryProviderContract(ProviderContractTests):
    @pytest.fixture
    def make_provider(self):
        lst_nodes, lst_records = list_data()
        lib_nodes, _lib_records, events = library_data()

        def make():
            return MemoryProvider(
                nodes=[*lst_nodes, *lib_nodes],
                # Library records use library STATUS labels; the full shape uses the
                # list's labels, so only list records go in.
                records=lst_records,
                events=events,
                page_size=3,
            )

        return make

    @pytest.fixture
    def writable_ref(self):
        return Ref("30")


class TestListMemoryProviderContract(ProviderContractTests):
    @pytest.fixture
    def make_provider(self):
        nodes, records = list_data()
        return lambda: make_list_provider(nodes, records)

    @pytest.fixture
    def writable_ref(self):
        return Ref("30")


class TestLibrarySourceContract(ProviderContractTests):
    @pytest.fixture
    def make_provider(self):
        nodes, records, events = library_data()
        return lambda: make_library_provider(nodes, records, events)


class TestWritableLibraryContract(ProviderContractTests):
    @pytest.fixture
    def make_provider(self):
        nodes, records, events = library_data()
        return lambda: make_library_provider(nodes, records, events, writable=True)

    @pytest.fixture
    def writable_ref(self):
        return episode_ref("nge", 1, 2)

    @pytest.fixture
    def sample_refs(self):
        return (Ref("bebop"), Ref("movie"), episode_ref("bebop", 1, 1))


async def test_library_source_skips_write_checks(tmp_path):
    kit = TestLibrarySourceContract()
    nodes, records, events = library_data()
    provider = make_library_provider(nodes, records, events)
    await provider.initialize()
    with pytest.raises(pytest.skip.Exception, match="SupportsRecordWrites"):
        await kit.test_record_write_results(provider=provider, sample_record_write=None)
