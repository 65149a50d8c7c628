from __future__ import annotations

import logging

import pytest

from anibridge.providers.plex import PlexProvider
from anibridge.testing.fakes.media import MediaLibrary
from anibridge.testing.fakes.plex import FakePlex, FakePlexTv


@pytest.fixture
def library() -> MediaLibrary:
    return MediaLibrary.sample()


@pytest.fixture
def plex(library):
    with FakePlex(library) as server:
        yield server


@pytest.fixture
def plex_tv(plex):
    with FakePlexTv(plex) as service:
        yield service


@pytest.fixture
def make_plex(plex, plex_tv):
    made: list[PlexProvider] = []

    def make(**config) -> PlexProvider:
        config = {
            "base_url": plex.base_url,
            "token": plex.owner_token,
            "plex_tv_url": plex_tv.base_url,
            **config,
        }
        provider = PlexProvider(logger=logging.getLogger("test.plex"), config=config)
        made.append(provider)
        return provider

    yield make


@pytest.fixture
async def provider(make_plex):
    p = make_plex()
    await p.initialize()
    yield p
    await p.close()
