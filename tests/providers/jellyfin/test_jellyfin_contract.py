from __future__ import annotations

import logging

import pytest

from anibridge.provider.base import Ref
from anibridge.provider.testing import ProviderContractTests
from anibridge.providers.jellyfin import JellyfinProvider
from anibridge.testing.fakes.jellyfin import FakeJellyfin
from anibridge.testing.fakes.media import MediaLibrary


class TestJellyfinContract(ProviderContractTests):
    @pytest.fixture
    def server(self):
        with FakeJellyfin(MediaLibrary.sample()) as fake:
            yield fake

    @pytest.fixture
    def make_provider(self, server):
        return lambda: JellyfinProvider(
            logger=logging.getLogger("test.jellyfin"),
            config={"base_url": server.base_url, "token": server.api_key,
                    "user": "Owner"},
        )  # fmt: skip

    @pytest.fixture
    def writable_ref(self, server):
        show = server.library.find("Cowboy Bebop")
        return Ref.at(server.item_id(show.key), ("season", 1), ("episode", 3))
