from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from anibridge.providers.simkl import SimklProvider
from anibridge.testing.fakes.simkl import SimklFake

SCALE = 0.001  # one service second lasts a millisecond
T0 = datetime(2024, 1, 1, 20, 0, tzinfo=UTC)


class MemoryTokenStore:
    def __init__(self):
        self.saved = {}

    async def load(self, key):
        return self.saved.get(key)

    async def save(self, key, data):
        self.saved[key] = dict(data)


def seed(fake: SimklFake) -> SimklFake:
    """A small catalog: an anime, a TV show, a movie and an anime film."""
    fake.add_anime(
        100, "Naruto", 220, ids={"mal": 20, "anilist": 20, "anidb": 239,
                                 "tvdb": 78857, "imdb": "tt0409591"},
    )  # fmt: skip
    fake.add_anime(101, "Cowboy Bebop", 26, ids={"mal": 1, "anilist": 1, "tvdb": 76885})
    fake.add_show(
        200, "Breaking Bad", {1: 7, 2: 13}, ids={"tvdb": 81189, "tmdb": 1396,
                                                 "imdb": "tt0903747"},
    )  # fmt: skip
    fake.add_movie(300, "Akira", ids={"tmdb": 149, "imdb": "tt0094625"})
    fake.add_anime(
        400, "Paprika", 1, anime_type="movie",
        ids={"mal": 1943, "anilist": 1943, "tmdb": 4977, "imdb": "tt0851578"},
    )  # fmt: skip
    return fake


@pytest.fixture
def fake():
    with SimklFake(time_scale=SCALE) as service:
        yield seed(service)


@pytest.fixture
async def make_simkl(fake):
    made: list[SimklProvider] = []

    async def make(**extra) -> SimklProvider:
        provider = SimklProvider(
            logger=logging.getLogger("test.simkl"),
            config=fake.provider_config(**extra),
        )
        await provider.initialize()
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.close()


@pytest.fixture
async def provider(make_simkl):
    return await make_simkl()
