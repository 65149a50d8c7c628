from __future__ import annotations

import logging

import pytest

from anibridge.http import ManualClock
from anibridge.provider.base import Ref
from anibridge.provider.testing import ProviderContractTests
from anibridge.providers.mal import MalProvider
from anibridge.testing.fakes.catalog import sample_media
from anibridge.testing.fakes.mal import MalFake

MEDIA = sample_media(12)


class TestMalContract(ProviderContractTests):
    @pytest.fixture
    def fake(self):
        with MalFake(media=MEDIA, clock=ManualClock()) as service:
            for n, item in enumerate(MEDIA[:7]):
                service.add_entry(
                    item.mal_id,
                    status=("watching", "completed", "on_hold", "plan_to_watch")[n % 4],
                    is_rewatching=n == 5,
                    score=n,
                    num_episodes_watched=n,
                    num_times_rewatched=n % 2,
                    comments=f"note {n}" if n % 2 else "",
                    start_date=f"2020-0{1 + n}" if n else None,
                    updated_at=f"2024-01-0{1 + n}T00:00:00+00:00",
                )
            yield service

    @pytest.fixture
    def make_provider(self, fake):
        return lambda: MalProvider(
            logger=logging.getLogger("test.mal"),
            config={
                "base_url": fake.base_url + "/v2",
                "clock": fake.clock,
                "client_id": fake.client_id,
                "client_secret": fake.client_secret,
                "access_token": "mal-access-0",
                "refresh_token": "mal-refresh-0",
            },
        )

    @pytest.fixture
    def writable_ref(self):
        return Ref.anchor(str(MEDIA[10].mal_id))
