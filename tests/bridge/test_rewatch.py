"""Rewatches decided by play order (issue 14 points 1-2, 7), through the planner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bridge_support import T0, by_field, custom_index, library, plan_between, tracker

from anibridge.bridge.model import Policy, ProgressMode, SkipReason
from anibridge.provider.base import Descriptor, RecordField, Status
from anibridge.provider.testing.memory import (
    LIST_STATUSES,
    episode_ref,
    list_record,
    play,
    watched_record,
)

S, P, R = RecordField.STATUS, RecordField.PROGRESS, RecordField.REPEAT_COUNT
SHOW12 = 'anilist:100:\n  tvdb_show:500:s1:\n    "1-12": "1-12"\n'


@pytest.fixture
def idx12(tmp_path):
    return custom_index(tmp_path, SHOW12)


def plays(episodes, *, start=T0, minutes=30):
    """Plays of season-1 episodes of show "s", in the given order, `minutes` apart."""
    return [
        play(episode_ref("s", 1, e), start + timedelta(minutes=minutes * i))
        for i, e in enumerate(episodes)
    ]


def show(events=(), records=()):
    return library([("s", "Show", {1: 12}, ["tvdb_show:500"])], records, events)


def target(record=None, statuses=LIST_STATUSES):
    return tracker(
        [("100", "Show", 12, ["anilist:100"])],
        [record] if record else [],
        statuses=statuses,
    )


def skipped(plan, field, reason):
    return [s for s in plan.skipped if s.field is field and s.reason is reason]


FIRST = list(range(1, 13))


async def test_replays_inside_the_first_pass_are_not_a_rewatch(idx12):
    # Episode 7 three times in one evening, before 8-12 were seen for the first time.
    src = show(plays([1, 2, 3, 4, 5, 6, 7, 7, 7, 8, 9, 10, 11, 12]))
    fields = by_field(await plan_between(src, target(), index=idx12))
    assert fields[("100", S)].status is Status.COMPLETED
    assert fields[("100", P)].current == 12
    assert fields.get(("100", R), 0) == 0  # 0 on a new entry is "none recorded"


async def test_a_new_pass_after_completion_is_a_rewatch_at_its_position(idx12):
    done = list_record(
        "100", status=Status.COMPLETED, progress=12, repeat=0, updated_at=T0
    )
    src = show(plays([*FIRST, 1, 2, 3]))
    plan = await plan_between(src, target(done), index=idx12)
    fields = by_field(plan)
    assert fields[("100", S)].status is Status.REPEATING
    # the position in the new pass: 12 -> 3 is a new pass, not a regression
    assert fields[("100", P)].current == 3
    assert ("100", R) not in fields  # still 0 completed rewatches
    assert not skipped(plan, P, SkipReason.REGRESSION)


async def test_index_mode_position_is_the_highest_episode_of_the_pass(idx12):
    src = show(plays([*FIRST, 1, 2, 5]))
    policy = Policy(progress_mode=ProgressMode.INDEX)
    fields = by_field(await plan_between(src, target(), policy, index=idx12))
    assert fields[("100", S)].status is Status.REPEATING
    assert fields[("100", P)].current == 5


async def test_a_lower_position_inside_the_same_pass_is_a_regression(idx12):
    # The target is already 8 episodes into this same rewatch (pass 2, repeat 0).
    ahead = list_record(
        "100", status=Status.REPEATING, progress=8, repeat=0, updated_at=T0
    )
    src = show(plays([*FIRST, 1, 2, 3]))
    plan = await plan_between(src, target(ahead), index=idx12)
    assert ("100", P) not in by_field(plan)
    assert skipped(plan, P, SkipReason.REGRESSION)


async def test_the_completed_pass_returns_to_completed_with_one_more_repeat(idx12):
    mid = list_record(
        "100", status=Status.REPEATING, progress=3, repeat=0, updated_at=T0
    )
    src = show(plays([*FIRST, *FIRST]))
    fields = by_field(await plan_between(src, target(mid), index=idx12))
    assert fields[("100", S)].status is Status.COMPLETED
    assert fields[("100", P)].current == 12
    assert fields[("100", R)] == 1


async def test_a_later_rewatch_pass_moves_past_the_previous_one(idx12):
    # Target in pass 2 at 10; the source finished pass 2 and started pass 3.
    mid = list_record(
        "100", status=Status.REPEATING, progress=10, repeat=0, updated_at=T0
    )
    src = show(plays([*FIRST, *FIRST, 1, 2]))
    fields = by_field(await plan_between(src, target(mid), index=idx12))
    assert ("100", S) not in fields  # REPEATING already
    assert fields[("100", P)].current == 2
    assert fields[("100", R)] == 1


async def test_without_a_rewatch_status_the_entry_stays_completed_at_full_count(idx12):
    statuses = tuple(d for d in LIST_STATUSES if d.semantic is not Status.REPEATING)
    src = show(plays([*FIRST, 1, 2, 3]))
    plan = await plan_between(src, target(statuses=statuses), index=idx12)
    fields = by_field(plan)
    assert fields[("100", S)].status is Status.COMPLETED
    assert fields[("100", P)].current == 12


async def test_counts_without_times_never_make_a_rewatch(idx12):
    # Every episode twice and episode 1 three times: how often, not when.
    recs = [
        watched_record(episode_ref("s", 1, e), last_viewed=T0, repeat_count=1)
        for e in FIRST
    ]
    recs[0] = watched_record(episode_ref("s", 1, 1), last_viewed=T0, repeat_count=2)
    fields = by_field(await plan_between(show(records=recs), target(), index=idx12))
    assert fields[("100", S)].status is Status.COMPLETED
    assert fields[("100", R)] == 1  # two full rounds


async def test_completed_plus_an_episode_in_progress_is_not_repeating(idx12):
    # #122 where the source holds both: plays of every episode, and episode 1
    # started again (in progress) without a new play.
    recs = [
        watched_record(
            episode_ref("s", 1, 1), last_viewed=T0 + timedelta(days=9), in_progress=True
        )
    ]
    done = list_record("100", status=Status.COMPLETED, progress=12, updated_at=T0)
    plan = await plan_between(show(plays(FIRST), recs), target(done), index=idx12)
    assert ("100", S) not in by_field(plan)


async def test_a_single_episode_in_progress_makes_the_entry_active(idx12):
    recs = [watched_record(episode_ref("s", 1, 1), last_viewed=T0, in_progress=True)]
    fields = by_field(await plan_between(show(records=recs), target(), index=idx12))
    assert fields[("100", S)].status is Status.ACTIVE
    assert ("100", P) not in fields  # nothing finished yet


async def test_in_progress_evidence_stays_inside_its_range():
    # TVDB 246381 season 2 is AniList 117197 (1-13) and 151803 (14-25): an episode
    # of Part 2 in progress says nothing about Part 1 (PLANNED on the target).
    planned = list_record("117197", status=Status.PLANNED, progress=0, updated_at=T0)
    dst = tracker(
        [
            ("117197", "Part 1", 13, ["anilist:117197"]),
            ("151803", "Part 2", 12, ["anilist:151803"]),
        ],
        [planned],
    )
    recs = [watched_record(episode_ref("p", 2, 17), last_viewed=T0, in_progress=True)]
    src = library([("p", "Split", {2: 25}, ["tvdb_show:246381"])], recs)
    fields = by_field(await plan_between(src, dst))
    assert not [k for k in fields if k[0] == "117197"]
    assert fields[("151803", S)].status is Status.ACTIVE


async def test_an_explicit_rewatch_on_a_tracker_is_not_blocked_by_progress(idx12):
    # AniList REPEATING at 3 (pass 2) onto a completed entry at 12.
    src = tracker(
        [("100", "Show", 12, ["anilist:100"])],
        [list_record("100", status=Status.REPEATING, progress=3, repeat=0,
                     updated_at=T0)],
    )  # fmt: skip
    done = list_record(
        "100", status=Status.COMPLETED, progress=12, repeat=0, updated_at=T0
    )
    fields = by_field(await plan_between(src, target(done), index=idx12))
    assert fields[("100", S)].status is Status.REPEATING
    assert fields[("100", P)].current == 3


def test_list_statuses_have_a_rewatch_label():
    assert Descriptor("REPEATING", Status.REPEATING) in LIST_STATUSES
