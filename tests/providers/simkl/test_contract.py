from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from anibridge.provider.base import (
    AppendEvent,
    Rating,
    RecordField,
    Ref,
    State,
    Status,
    UpsertRecord,
)
from anibridge.provider.testing import ProviderContractTests
from anibridge.provider.testing.contract import KIT_TIME
from anibridge.providers.simkl import SimklProvider

from .conftest import T0


def _seeded(fake):
    fake.set_item(
        100, "watching", rating=8, memo="rewatch the arc",
        episodes={(1, 1): T0, (1, 2): T0 + timedelta(hours=1)},
    )  # fmt: skip
    fake.set_item(200, "hold", episodes={(1, 1): T0, (2, 3): T0})
    fake.set_item(300, "completed", watched_at=T0, rating=9)
    fake.set_item(101, "plantowatch")
    config = fake.provider_config()
    return lambda: SimklProvider(logger=logging.getLogger("test.simkl"), config=config)


class TestSimklShowEpisodesContract(ProviderContractTests):
    """Plays on a TV episode; the list entry on its show."""

    @pytest.fixture
    def make_provider(self, fake):
        return _seeded(fake)

    @pytest.fixture
    def writable_ref(self):
        return Ref.at("show:200", ("season", 2), ("episode", 5))

    @pytest.fixture
    def sample_record_write(self):
        return UpsertRecord(
            ref=Ref("show:200"),
            set={
                RecordField.STATUS: State("watching", Status.ACTIVE),
                RecordField.RATING: Rating(7, (1, 10, 1)),
                RecordField.NOTES: "AniBridge conformance kit",
            },
        )


class TestSimklFilmContract(ProviderContractTests):
    """A film not on the list yet: its play and its entry are both on the anchor."""

    @pytest.fixture
    def make_provider(self, fake):
        return _seeded(fake)

    @pytest.fixture
    def writable_ref(self):
        return Ref("anime:400")


class TestSimklAnimeContract(ProviderContractTests):
    """An anime episode (one sequence, no season step)."""

    @pytest.fixture
    def make_provider(self, fake):
        return _seeded(fake)

    @pytest.fixture
    def writable_ref(self):
        return Ref.at("anime:101", ("episode", 3))

    @pytest.fixture
    def sample_record_write(self):
        return UpsertRecord(
            ref=Ref("anime:101"),
            set={RecordField.STATUS: State("watching", Status.ACTIVE)},
        )

    @pytest.fixture
    def sample_event(self, writable_ref):
        return AppendEvent(ref=writable_ref, kind="watch", at=KIT_TIME)
