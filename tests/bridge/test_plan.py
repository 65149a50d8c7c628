"""`anibridge.bridge.plan`: which planner runs, and what it is handed.

- a one-way profile never writes its source, even when routes both ways are known;
  a two-way profile without the reverse routes plans one way;
- a pair that was in sync and whose source lost every play is reported (never
  lowered to nothing);
- the journal's "already sent" check reaches both directions of a two-way plan.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from bridge_support import (
    T0,
    custom_index,
    history,
    library,
    plan_between,
    tracker,
    watched,
)

from anibridge.bridge.collect import collect
from anibridge.bridge.identity import identify
from anibridge.bridge.model import Direction, Policy, SkipReason
from anibridge.bridge.plan import make_plan
from anibridge.bridge.stores import MemoryStores
from anibridge.bridge.sync import Pair, run_sync
from anibridge.provider.base import RecordField, Status, WriteOp
from anibridge.provider.testing.memory import episode_ref, list_record, play

SHOW12 = 'anilist:100:\n  tvdb_show:500:s1:\n    "1-12": "1-12"\n'
SHOWS = [("s", "Show", {1: 12}, ["tvdb_show:500"])]
P = RecordField.PROGRESS


@pytest.fixture
def idx12(tmp_path):
    return custom_index(tmp_path, SHOW12)


def _list(progress):
    record = list_record("100", status=Status.ACTIVE, progress=progress, updated_at=T0)
    return tracker([("100", "Show", 12, ["anilist:100"])], [record])


async def test_one_way_never_writes_the_source_even_with_routes_both_ways(idx12):
    # a has progress 4, b has 8: one way a -> b is a regression (skipped), and a is
    # never written, although the reverse routes were computed.
    plan = await plan_between(_list(4), _list(8), Policy(), index=idx12, reverse=True)
    assert [a for a in plan.actions if a.provider == "src"] == []
    two = await plan_between(_list(4), _list(8),
                             Policy(direction=Direction.TWO_WAY), index=idx12,
                             reverse=True)  # fmt: skip
    assert [a.provider for a in two.actions] == ["src"]


async def test_two_way_without_reverse_routes_plans_one_way_with_field_baselines(idx12):
    policy = Policy(direction=Direction.TWO_WAY)
    plan = await plan_between(_list(4), _list(4), policy, index=idx12)
    assert plan.actions == ()
    fields = {b.field for b in plan.in_sync}
    assert "@entry" in fields
    assert P.value in fields  # two-way keeps per-field baselines


async def test_plays_removed_on_the_source_are_reported_not_written(idx12):
    stores = MemoryStores().bundle()
    tgt = tracker([("100", "Show", 12, ["anilist:100"])])
    policy = Policy()
    await run_sync({"src": library(SHOWS, watched("s", 1, range(1, 5))), "tgt": tgt},
                   [Pair("src", "tgt")], policy, stores, index=idx12)  # fmt: skip
    empty = library(SHOWS)  # every play removed on the source
    result = await run_sync({"src": empty, "tgt": tgt}, [Pair("src", "tgt")], policy,
                            stores, index=idx12, dry_run=True)  # fmt: skip
    assert result.plan.actions == ()
    (skip,) = [s for s in result.plan.skipped if s.field is P]
    assert skip.reason is SkipReason.DELETES_OFF
    assert (
        skip.detail == "nothing left on the source (plays removed); deletes not allowed"
    )
    allowed = Policy(allow_deletes=True)
    result = await run_sync({"src": empty, "tgt": tgt}, [Pair("src", "tgt")], allowed,
                            stores, index=idx12, dry_run=True)  # fmt: skip
    (skip,) = [s for s in result.plan.skipped if s.field is P]
    assert skip.reason is SkipReason.REGRESSION
    assert skip.detail == "nothing left on the source (plays removed); progress kept"


async def test_a_pair_never_in_sync_is_not_reported_as_plays_removed(idx12):
    plan = await plan_between(library(SHOWS), _list(4), index=idx12)
    assert not [s for s in plan.skipped if "plays removed" in s.detail]


async def test_the_already_sent_check_reaches_a_two_way_plan(idx12):
    later = T0 + timedelta(hours=1)
    plays = [play(episode_ref("s", 1, 1), T0), play(episode_ref("s", 1, 2), later)]
    src = library(SHOWS, events=plays)
    dst = history([("h", "Show", {1: 12}, ["tvdb_show:500"])])
    a, b = await collect(src, "src"), await collect(dst, "tgt")
    ab = await identify(a, b, idx12, provider=dst)
    ba = await identify(b, a, idx12, provider=src)
    policy = Policy(direction=Direction.TWO_WAY)
    fresh = make_plan(a, b, ab, policy, identity_ba=ba, sent=lambda *_: False)
    assert len([x for x in fresh.actions if x.op is WriteOp.APPEND_EVENT]) == 2
    sent = make_plan(a, b, ab, policy, identity_ba=ba, sent=lambda *_: True)
    assert [x for x in sent.actions if x.op is WriteOp.APPEND_EVENT] == []
    assert [s.detail for s in sent.skipped if s.detail == "play already sent"]


async def test_the_already_sent_check_reaches_the_backward_direction_too(idx12):
    # The history is the first side now: the library's plays reach it only through
    # the backward planner, which must ask the journal as well.
    plays = [play(episode_ref("s", 1, 1), T0)]
    hist = history([("h", "Show", {1: 12}, ["tvdb_show:500"])])
    lib = library(SHOWS, events=plays)
    a, b = await collect(hist, "hist"), await collect(lib, "lib")
    ab = await identify(a, b, idx12, provider=lib)
    ba = await identify(b, a, idx12, provider=hist)
    policy = Policy(direction=Direction.TWO_WAY)
    asked: list[tuple[str, str, str, str]] = []

    def journal(*event: str) -> bool:
        asked.append(event)
        return True

    fresh = make_plan(a, b, ab, policy, identity_ba=ba, sent=lambda *_: False)
    assert [(x.provider, x.op) for x in fresh.actions] == [
        ("hist", WriteOp.APPEND_EVENT)
    ]
    sent = make_plan(a, b, ab, policy, identity_ba=ba, sent=journal)
    assert sent.actions == ()
    assert asked == [("hist", "h/season=1/episode=1", "watch", T0.isoformat())]
    [skip] = [s for s in sent.skipped if s.detail == "play already sent"]
    assert (skip.provider, skip.reason) == ("hist", SkipReason.UNCHANGED)


async def test_a_pair_found_in_sync_without_a_write_is_reported_too(idx12):
    # The first sync wrote nothing (both sides agreed): the pair has only its
    # "@entry" baseline, and losing every play is still reported.
    first = await plan_between(library(SHOWS, watched("s", 1, range(1, 5))), _list(4),
                               index=idx12)  # fmt: skip
    entry_only = MemoryStores()
    entry_only.put_baselines([b for b in first.in_sync if b.field == "@entry"])
    plan = await plan_between(library(SHOWS), _list(4), index=idx12, stores=entry_only)
    (skip,) = [s for s in plan.skipped if s.field is P]
    assert skip.reason is SkipReason.DELETES_OFF
