from __future__ import annotations

import logging

import pytest

from anibridge.provider.base import Ref
from anibridge.provider.testing import ProviderContractTests
from anibridge.providers.kitsu import KitsuProvider


class TestKitsuContract(ProviderContractTests):
    @pytest.fixture
    def make_provider(self, fake):
        for n, anime in enumerate((11, 1, 12, 2069, 9000, 9001, 9002)):
            fake.add_entry(
                anime,
                status=("current", "completed", "on_hold", "planned")[n % 4],
                reconsuming=n == 4,
                progress=n,
                ratingTwenty=None if n % 3 == 0 else 2 + n,
                reconsumeCount=n % 2,
                notes=f"note {n}" if n % 2 else None,
                startedAt=f"2020-0{1 + n}-01T00:00:00.000Z" if n else None,
            )
        config = fake.provider_config()
        return lambda: KitsuProvider(
            logger=logging.getLogger("test.kitsu"), config=config
        )

    @pytest.fixture
    def writable_ref(self):
        return Ref.anchor("9010")
