from __future__ import annotations

import pytest

from anibridge.http import ManualClock
from anibridge.providers.anilist import AniListProvider
from anibridge.testing.fakes.anilist import AniListFake
from anibridge.testing.fakes.catalog import sample_media

SCALE = 0.002  # one service minute lasts 0.12 real seconds
TOKEN = "anilist-test-token"


@pytest.fixture
def catalog():
    return sample_media(80)


@pytest.fixture
def fake(catalog):
    with AniListFake(
        media=catalog, clock=ManualClock(), custom_lists=["Favourites", "Later"]
    ) as service:
        yield service


def make_provider(fake: AniListFake, **config) -> AniListProvider:
    config.setdefault("token", TOKEN)
    return AniListProvider(
        config={"base_url": fake.base_url, "clock": fake.clock, **config}
    )


@pytest.fixture
async def provider(fake):
    instance = make_provider(fake)
    await instance.initialize()
    yield instance
    await instance.close()
