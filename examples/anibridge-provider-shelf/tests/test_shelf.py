"""The Shelf provider against its fake server: the conformance kit and a write."""

from __future__ import annotations

import logging

import pytest
from anibridge.providers.shelf import ShelfProvider
from shelf_fake import ShelfFake

from anibridge.provider.base import (
    Progress,
    RecordField,
    Ref,
    State,
    Status,
    UpsertRecord,
)
from anibridge.provider.testing import ProviderContractTests


@pytest.fixture
def fake():
    with ShelfFake(time_scale=0.001) as service:  # a minute lasts 60 ms
        service.add(20, "watching", 3)
        service.add(1, "completed", 26)
        yield service


def make(fake: ShelfFake) -> ShelfProvider:
    return ShelfProvider(
        logger=logging.getLogger("shelf"),
        config={"base_url": fake.base_url, "token": fake.token, "time_scale": 0.001},
    )


class TestShelfContract(ProviderContractTests):
    """Every contract rule the provider's mixins call for, checked by the kit."""

    @pytest.fixture
    def make_provider(self, fake):
        return lambda: make(fake)

    @pytest.fixture
    def writable_ref(self):
        return Ref.anchor("21")  # in the catalog, not on the list yet


async def test_an_upsert_creates_the_entry(fake):
    provider = make(fake)
    await provider.initialize()
    write = UpsertRecord(
        ref=Ref.anchor("21"),
        set={
            RecordField.STATUS: State(None, Status.ACTIVE),
            RecordField.PROGRESS: Progress(5),
        },
    )
    (result,) = await provider.write_records([write])
    await provider.close()
    assert result.ok
    assert fake.items[21]["status"] == "watching" and fake.items[21]["progress"] == 5
