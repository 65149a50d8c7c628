from __future__ import annotations

import logging

import pytest

from anibridge.http import ManualClock
from anibridge.providers.trakt import TraktProvider
from anibridge.testing.fakes.trakt import FakeTrakt

SCALE = 0.001  # one service second lasts a millisecond


def seed(fake: FakeTrakt) -> FakeTrakt:
    """A small catalog where show 1 and movie 1 share a Trakt id on purpose."""
    fake.add_show(1, "Cowboy Bebop", {0: 2, 1: 26}, tvdb=76885, tmdb=30991,
                  imdb="tt0213338")  # fmt: skip
    fake.add_show(2, "One Piece", {1: 61, 2: 16}, tvdb=81797, tmdb=37854)
    fake.add_movie(1, "Akira", year=1988, imdb="tt0094625", tmdb=149)
    fake.add_movie(2, "Paprika", year=2006, imdb="tt0851578", tmdb=4977)
    return fake


@pytest.fixture
def fake():
    with FakeTrakt(clock=ManualClock()) as service:
        yield seed(service)


@pytest.fixture
async def make_trakt(fake):
    made: list[TraktProvider] = []

    async def make(**extra) -> TraktProvider:
        provider = TraktProvider(
            logger=logging.getLogger("test.trakt"),
            config=fake.provider_config(**extra),
        )
        await provider.initialize()
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.close()


@pytest.fixture
async def provider(make_trakt):
    return await make_trakt()
