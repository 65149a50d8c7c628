from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from anibridge.providers.trakt import TraktProvider
from anibridge.testing.fakes.trakt import FakeTrakt

SCALE = 0.001  # one service second lasts a millisecond
T0 = datetime(2024, 1, 1, 20, 0, tzinfo=UTC)


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
    with FakeTrakt(time_scale=SCALE) as service:
        yield seed(service)


def config_for(fake: FakeTrakt, **extra) -> dict:
    tokens = fake.issue_tokens()
    config = {
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_at": tokens["created_at"] + tokens["expires_in"],
        "base_url": fake.base_url,
        "clock": fake.clock,
    }
    config.update(extra)
    return config


@pytest.fixture
async def provider(fake):
    p = TraktProvider(logger=logging.getLogger("test.trakt"), config=config_for(fake))
    await p.initialize()
    yield p
    await p.close()
