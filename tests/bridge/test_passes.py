"""Pass segmentation (`anibridge.bridge.passes`): properties over random play logs."""

from __future__ import annotations

import os
from datetime import timedelta

from bridge_support import T0
from hypothesis import given, settings
from hypothesis import strategies as st

from anibridge.bridge.passes import Passes, segment

PROPS = settings(
    max_examples=int(os.environ.get("BRIDGE_EXAMPLES", "30")), deadline=None
)


def timed(units):
    """Plays of `units` one minute apart, in the given order."""
    return [(T0 + timedelta(minutes=i), u) for i, u in enumerate(units)]


@st.composite
def one_pass(draw, total):
    """One full pass: every unit once in some order, with replays of units already
    seen in it sprinkled in, ending on the play that completes it."""
    order = draw(st.permutations(range(1, total + 1)))
    out: list[int] = []
    for i, unit in enumerate(order):
        seen = order[:i]
        if seen:
            out += draw(st.lists(st.sampled_from(seen), max_size=3))
        out.append(unit)
    return out


@st.composite
def log(draw):
    total = draw(st.integers(1, 8))
    full = draw(st.integers(0, 3))
    passes = [draw(one_pass(total)) for _ in range(full)]
    tail = draw(st.lists(st.integers(1, total), unique=True, max_size=total - 1))
    return total, full, passes, tail


@PROPS
@given(log())
def test_full_passes_then_a_partial_one(case):
    total, full, passes, tail = case
    units = [u for p in passes for u in p] + tail
    got = segment(timed(units), total)
    assert got.completed == full
    # a pass under way exists only after a completed one; inside the first pass
    # replays never make a rewatch
    assert got.current == (frozenset(tail) if tail else frozenset())
    assert got.rewatching == (full >= 1 and bool(tail))
    assert got.repeat == max(full - 1, 0)


@PROPS
@given(log(), st.randoms(use_true_random=False))
def test_the_result_depends_on_times_not_on_input_order(case, rnd):
    total, _, passes, tail = case
    plays = timed([u for p in passes for u in p] + tail)
    shuffled = list(plays)
    rnd.shuffle(shuffled)
    assert segment(shuffled, total) == segment(plays, total)


@PROPS
@given(log())
def test_passes_never_exceed_what_the_play_counts_allow(case):
    total, _, passes, tail = case
    units = [u for p in passes for u in p] + tail
    got = segment(timed(units), total)
    least = min(units.count(u) for u in range(1, total + 1))
    assert got.completed <= least  # each completed pass played every unit once
    assert got.completed * total + len(got.current) <= len(units)


@PROPS
@given(st.integers(1, 12), st.data())
def test_replays_before_the_last_new_episode_stay_in_the_first_pass(total, data):
    # The issue's case generalised: any replays while some episode is still unseen.
    first = data.draw(one_pass(total))
    got = segment(timed(first), total)
    assert got == Passes(1, frozenset())
    assert not got.rewatching and got.index == 0


def test_the_issue_example_episode_7_three_times_in_one_evening():
    units = [1, 2, 3, 4, 5, 6, 7, 7, 7, 8, 9, 10, 11, 12]
    assert segment(timed(units), 12) == Passes(1, frozenset())


def test_a_new_pass_starts_only_after_the_previous_one_completed():
    first = list(range(1, 13))
    assert segment(timed([*first, 1, 2, 3]), 12) == Passes(1, frozenset({1, 2, 3}))
    # the finale replayed right away is a (short) new pass, seen as such
    assert segment(timed([*first, 12]), 12).rewatching
    # a replay before the finale is not
    assert not segment(timed([*first[:-1], 1, 12]), 12).rewatching


def test_units_outside_the_title_and_empty_titles_are_ignored():
    assert segment(timed([0, 13, 1]), 1) == Passes(1, frozenset())
    assert segment(timed([1, 2]), 0) == Passes()
    assert Passes(2, frozenset({4})).index == 2
    assert Passes(2, frozenset()).index == 1
    assert Passes().index == 0
