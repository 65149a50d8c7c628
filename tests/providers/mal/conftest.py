from __future__ import annotations

import pytest

from anibridge.http import ManualClock
from anibridge.providers.mal import MalProvider
from anibridge.testing.fakes.catalog import sample_media
from anibridge.testing.fakes.mal import MalFake

SCALE = 0.002  # for fakes shared with a subprocess (no virtual clock there)


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
def catalog():
    return sample_media(120)


@pytest.fixture
def fake(catalog):
    with MalFake(media=catalog, clock=ManualClock()) as service:
        yield service


def make_provider(fake: MalFake, **config) -> MalProvider:
    config.setdefault("client_id", fake.client_id)
    config.setdefault("client_secret", fake.client_secret)
    config.setdefault("access_token", "mal-access-0")
    config.setdefault("refresh_token", "mal-refresh-0")
    return MalProvider(
        config={"base_url": fake.base_url + "/v2", "clock": fake.clock, **config}
    )


@pytest.fixture
async def provider(fake):
    instance = make_provider(fake)
    await instance.initialize()
    yield instance
    await instance.close()
