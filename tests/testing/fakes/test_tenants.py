"""`Tenants`: many accounts of one service behind one address."""

from __future__ import annotations

from anibridge.http import ManualClock
from anibridge.provider.base import RecordField, RecordQuery, Ref
from anibridge.providers.anilist import AniListProvider
from anibridge.testing.fakes.anilist import AniListFake
from anibridge.testing.fakes.catalog import sample_media
from anibridge.testing.fakes.server import FakeLimit
from anibridge.testing.fakes.tenants import Tenants


def _account(token: str, user_id: int, clock) -> AniListFake:
    return AniListFake(
        media=sample_media(5),
        clock=clock,
        per_minute=None,
        token=token,
        user_id=user_id,
        user_name=f"user{user_id}",
    )


async def test_each_token_reaches_its_own_account_under_one_shared_limit():
    clock = ManualClock()
    alice, bob = _account("a", 1, clock), _account("b", 2, clock)
    alice.add_entry(sample_media(1)[0].anilist_id, status="CURRENT", progress=3)
    with Tenants(
        {"a": alice, "b": bob}, clock=clock, limits=[FakeLimit(3, 60.0)]
    ) as service:
        providers = {
            token: AniListProvider(
                config={
                    "base_url": service.base_url,
                    "clock": clock,
                    "token": token,
                    "rate_limit": 100,
                }
            )
            for token in ("a", "b")
        }
        for provider in providers.values():
            await provider.initialize()
        ref = Ref.anchor(str(sample_media(1)[0].anilist_id))
        query = RecordQuery(refs=(ref,), fields=frozenset({RecordField.PROGRESS}))
        seen_a = (await providers["a"].fetch_records(query)).items
        seen_b = (await providers["b"].fetch_records(query)).items
        for provider in providers.values():
            await provider.close()
    assert [r.ref for r in seen_a] == [ref]
    assert seen_b == ()
    # Four requests from two accounts in one minute: the shared limit of 3 answered
    # one of them 429 (the client waited and retried).
    assert service.statuses()[429] == 1
    assert service.peak(60.0) == 3
