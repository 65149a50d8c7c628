from __future__ import annotations

import logging

import pytest

from anibridge.http import ManualClock
from anibridge.provider.base import Ref
from anibridge.provider.testing import ProviderContractTests
from anibridge.providers.anilist import AniListProvider
from anibridge.testing.fakes.anilist import AniListFake
from anibridge.testing.fakes.catalog import sample_media

from .conftest import TOKEN

MEDIA = sample_media(12)


class TestAniListContract(ProviderContractTests):
    @pytest.fixture
    def fake(self):
        with AniListFake(
            media=MEDIA, clock=ManualClock(), custom_lists=["Favourites"]
        ) as service:
            for n, item in enumerate(MEDIA[:7]):
                service.add_entry(
                    item.anilist_id,
                    status=("CURRENT", "COMPLETED", "PAUSED", "REPEATING")[n % 4],
                    score=10 * n,
                    progress=n,
                    repeat=n % 2,
                    notes=f"note {n}" if n % 2 else None,
                    startedAt={"year": 2020, "month": 1 + n, "day": None},
                    hiddenFromStatusLists=n == 3,
                    customLists=["Favourites"] if n in (3, 4) else [],
                    updatedAt=1_700_000_000 + n,
                )
            yield service

    @pytest.fixture
    def make_provider(self, fake):
        return lambda: AniListProvider(
            logger=logging.getLogger("test.anilist"),
            config={"token": TOKEN, "base_url": fake.base_url, "clock": fake.clock},
        )

    @pytest.fixture
    def writable_ref(self):
        return Ref.anchor(str(MEDIA[10].anilist_id))
