"""Simkl through the engine: the real provider and fakes, planning end to end."""

from __future__ import annotations

import logging
from datetime import timedelta

from anibridge.bridge.model import Policy
from anibridge.bridge.stores import MemoryStores
from anibridge.bridge.sync import Pair, run_sync
from anibridge.mappings import load_index
from anibridge.providers.anilist import AniListProvider
from anibridge.providers.simkl import SimklProvider
from anibridge.testing.fakes.anilist import AniListFake
from anibridge.testing.fakes.catalog import FakeMedia

from .conftest import T0


async def _nosleep(_: float) -> None:
    return None


async def test_simkl_watch_history_not_its_count_becomes_anilist_progress(fake):
    # Episodes 1, 2 and 5 watched; Simkl also says "3 watched". Progress is counted
    # from the watched episodes themselves, once: 3, never 4 ("1..3" plus episode 5).
    fake.set_item(
        100, "watching", rating=8,
        episodes={(1, 1): T0, (1, 2): T0 + timedelta(hours=1),
                  (1, 5): T0 + timedelta(days=2)},
    )  # fmt: skip
    naruto = FakeMedia(anilist_id=20, mal_id=20, title="Naruto", episodes=220)
    with AniListFake(media=[naruto], time_scale=0.001) as anilist:
        simkl = SimklProvider(
            logger=logging.getLogger("t"), config=fake.provider_config()
        )
        target = AniListProvider(
            config={"token": "anilist-test-token", "base_url": anilist.base_url,
                    "time_scale": 0.001},
        )  # fmt: skip
        await simkl.initialize()
        await target.initialize()
        result = await run_sync(
            {"simkl": simkl, "anilist": target},
            [Pair("simkl", "anilist")],
            Policy(),
            MemoryStores().bundle(),
            index=load_index(notice=None),
            sleep=_nosleep,
        )
        await simkl.close()
        await target.close()
        assert result.report is not None and not result.report.stopped
        entry = anilist.entry_for(20)
        assert entry is not None
        assert (entry["status"], entry["progress"]) == ("CURRENT", 3)
        assert entry["score"] == 80


async def test_a_hama_library_plays_land_on_the_anime_episodes_and_converge(fake):
    # A Plex library with HAMA's AniDB ids (anidb:239:R stands for season 1)
    # reaches the Simkl anime directly by its AniDB id; its units carry season 1,
    # but a Simkl anime has no season axis: they are its episodes 1..3.
    from anibridge.provider.testing.memory import (
        episode_ref,
        library_capabilities,
        library_show,
        memory_provider,
        play,
    )

    source = memory_provider(
        library_capabilities(),
        nodes=library_show(
            "p", "Naruto", {1: 220}, ids=["anidb:239:R"], scoped_ids=False
        ),
        events=[
            play(episode_ref("p", 1, n), T0 + timedelta(hours=n)) for n in (1, 2, 3)
        ],
    )
    simkl = SimklProvider(logger=logging.getLogger("t"), config=fake.provider_config())
    await simkl.initialize()

    async def sync(stores):
        return await run_sync(
            {"plex": source, "simkl": simkl},
            [Pair("plex", "simkl")],
            Policy(),
            stores.bundle(),
            index=load_index(notice=None),
            sleep=_nosleep,
        )

    first = await sync(MemoryStores())
    assert fake.watched(100) == {(1, n): T0 + timedelta(hours=n) for n in (1, 2, 3)}
    assert len([a for a in first.plan.actions if a.at is not None]) == 3
    # Planned again with no journal to lean on: the plays Simkl now holds are
    # matched on their refs (anime:100 episode=N), so nothing is appended twice.
    again = await sync(MemoryStores())
    assert [a for a in again.plan.actions if a.at is not None] == []
    await simkl.close()
