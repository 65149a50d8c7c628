from __future__ import annotations

import pytest

from anibridge.provider.base import Ref
from anibridge.provider.testing import ProviderContractTests


class TestLocalLibraryContract(ProviderContractTests):
    @pytest.fixture
    def make_provider(self, tmp_path, library_seed, make_local):
        return lambda: make_local(tmp_path / "lib.sqlite", seed=str(library_seed))

    @pytest.fixture
    def writable_ref(self):
        return Ref.at("bebop", ("season", 1), ("episode", 3))


class TestLocalListContract(ProviderContractTests):
    @pytest.fixture
    def make_provider(self, tmp_path, list_seed, make_local):
        return lambda: make_local(
            tmp_path / "list.sqlite",
            seed=str(list_seed),
            authorities=["anilist"],
            rating_scale=[0, 100, 1],
            date_precision="date",
        )

    @pytest.fixture
    def writable_ref(self):
        return Ref("anilist:1")


class TestLocalEmptyOpenListContract(ProviderContractTests):
    """A brand-new empty file that accepts any AniList id (the demo's target)."""

    @pytest.fixture
    def make_provider(self, tmp_path, make_local):
        return lambda: make_local(tmp_path / "empty.sqlite", authorities=["anilist"])

    @pytest.fixture
    def writable_ref(self):
        return Ref("anilist:21")
