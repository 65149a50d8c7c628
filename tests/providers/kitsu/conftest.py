from __future__ import annotations

import logging

import pytest

from anibridge.providers.kitsu import KitsuProvider
from anibridge.testing.fakes.catalog import FakeMedia
from anibridge.testing.fakes.kitsu import KitsuFake

SCALE = 0.001

MEDIA = [
    FakeMedia(20, 20, "Naruto", 220, kitsu_id=11, anidb_id=239, tvdb=(78857, 1)),
    FakeMedia(1, 1, "Cowboy Bebop", 26, kitsu_id=1, anidb_id=23, tvdb=(76885, 1)),
    FakeMedia(21, 21, "One Piece", None, kitsu_id=12),
    FakeMedia(1943, 1943, "Paprika", 1, format="MOVIE", kitsu_id=2069),
    *(
        FakeMedia(500 + n, 600 + n, f"Sample {n}", 12, kitsu_id=9000 + n)
        for n in range(30)
    ),
]


class MemoryTokenStore:
    def __init__(self, saved=None):
        self.saved = dict(saved or {})
        self.saves = []

    async def load(self, key):
        return self.saved.get(key)

    async def save(self, key, tokens):
        self.saves.append((key, dict(tokens)))
        self.saved[key] = dict(tokens)


@pytest.fixture
def fake():
    with KitsuFake(media=MEDIA, time_scale=SCALE) as service:
        yield service


@pytest.fixture
async def make_kitsu(fake):
    made: list[KitsuProvider] = []

    async def make(**extra) -> KitsuProvider:
        provider = KitsuProvider(
            logger=logging.getLogger("test.kitsu"), config=fake.provider_config(**extra)
        )
        await provider.initialize()
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.close()


@pytest.fixture
async def provider(make_kitsu):
    return await make_kitsu()
