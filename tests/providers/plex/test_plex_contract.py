from __future__ import annotations

import logging

import pytest

from anibridge.provider.base import Ref
from anibridge.provider.testing import ProviderContractTests
from anibridge.providers.plex import PlexProvider


class TestPlexContract(ProviderContractTests):
    @pytest.fixture
    def make_provider(self, plex, plex_tv):
        return lambda: PlexProvider(
            logger=logging.getLogger("test.plex"),
            config={"base_url": plex.base_url, "token": plex.owner_token,
                    "plex_tv_url": plex_tv.base_url},
        )  # fmt: skip

    @pytest.fixture
    def writable_ref(self, library):
        show = library.find("Cowboy Bebop")
        return Ref.at(show.key, ("season", 1), ("episode", 3))
