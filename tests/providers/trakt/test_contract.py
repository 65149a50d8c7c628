from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from anibridge.provider.base import AppendEvent, Rating, RecordField, UpsertRecord
from anibridge.provider.testing import ProviderContractTests
from anibridge.provider.testing.contract import KIT_TIME
from anibridge.providers.trakt import TraktProvider
from anibridge.providers.trakt.vocabulary import episode_ref, movie_ref

T0 = datetime(2024, 1, 1, 20, 0, tzinfo=UTC)


class TestTraktContract(ProviderContractTests):
    @pytest.fixture
    def make_provider(self, fake):
        fake.add_play(("episode", 1, 1, 1), T0)
        fake.add_play(("episode", 1, 1, 2), T0 + timedelta(hours=1))
        fake.add_play(("episode", 1, 1, 2), T0 + timedelta(days=3))
        fake.add_play(("movie", 1), T0)
        fake.rate(("show", 1), 9)
        fake.rate(("episode", 1, 1, 1), 8)
        fake.list_item(("show", 2), "start after the arc")
        fake.list_item(("movie", 2))
        fake.collect(("movie", 1))
        config = fake.provider_config()
        return lambda: TraktProvider(
            logger=logging.getLogger("test.trakt"), config=config
        )

    @pytest.fixture
    def writable_ref(self):
        return episode_ref(1, 1, 5)

    @pytest.fixture
    def sample_record_write(self, writable_ref):
        # Ratings are the record kind Trakt writes values on (watched is read-only).
        return UpsertRecord(
            ref=writable_ref,
            kind="ratings",
            set={RecordField.RATING: Rating(7, (1, 10, 1))},
        )


class TestTraktMovieEventsContract(ProviderContractTests):
    """Plays on a movie anchor, the other ref shape plays live on."""

    @pytest.fixture
    def make_provider(self, fake):
        fake.add_play(("movie", 2), T0)
        config = fake.provider_config()
        return lambda: TraktProvider(
            logger=logging.getLogger("test.trakt"), config=config
        )

    @pytest.fixture
    def writable_ref(self):
        return movie_ref(1)

    @pytest.fixture
    def sample_record_write(self, writable_ref):
        return UpsertRecord(
            ref=writable_ref,
            kind="watchlist",
            set={RecordField.NOTES: "AniBridge conformance kit"},
        )

    @pytest.fixture
    def sample_event(self, writable_ref):
        return AppendEvent(ref=writable_ref, kind="watch", at=KIT_TIME)
