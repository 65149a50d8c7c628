"""`anibridge.bridge.oneway`: one direction's candidate writes, rule by rule.

The helpers are asked directly; the planner through `plan_between` (real memory
providers, real mappings, no stores or writes), so a broken rule fails here in
milliseconds.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from anibridge.bridge.derive import Desired
from anibridge.bridge.model import Entry, Snapshot
from anibridge.bridge.oneway import (
    anchor_record,
    encoded,
    later_pass,
    native_kind,
    pass_index,
    pin_map,
    regresses,
)
from anibridge.bridge.stores import Pin
from anibridge.provider.base import (
    Descriptor,
    Progress,
    Rating,
    Record,
    RecordField,
    RecordKind,
    Ref,
    State,
    Status,
)
from anibridge.provider.testing.memory import list_capabilities, list_record

F = RecordField
T = datetime(2024, 3, 1, tzinfo=UTC)


def st(s: Status | None, native: str = "x") -> State:
    return State(native, s)


# -- regresses -----------------------------------------------------------------


def test_nothing_regresses_from_or_to_unset():
    assert not regresses(F.PROGRESS, None, Progress(1))
    assert not regresses(F.PROGRESS, Progress(5), None)
    assert not regresses(F.STATUS, None, st(Status.PLANNED))


@pytest.mark.parametrize(
    ("before", "after", "back"),
    [
        (Status.COMPLETED, Status.ACTIVE, True),
        (Status.REPEATING, Status.PAUSED, True),
        (Status.ACTIVE, Status.PLANNED, True),
        (Status.DROPPED, Status.PLANNED, True),
        (Status.PAUSED, Status.PLANNED, True),
        (Status.ACTIVE, Status.COMPLETED, False),
        (Status.PLANNED, Status.ACTIVE, False),
        # the same rank is a sideways move, not backwards
        (Status.ACTIVE, Status.PAUSED, False),
        (Status.ACTIVE, Status.DROPPED, False),
        (Status.REPEATING, Status.COMPLETED, False),
        (Status.COMPLETED, Status.REPEATING, False),
    ],
)
def test_status_regresses_down_its_rank(before, after, back):
    assert regresses(F.STATUS, st(before), st(after)) is back


def test_status_without_a_semantic_never_regresses():
    assert not regresses(F.STATUS, st(None), st(Status.PLANNED))
    assert not regresses(F.STATUS, st(Status.COMPLETED), st(None))
    assert not regresses(F.STATUS, "COMPLETED", st(Status.PLANNED))
    assert not regresses(F.STATUS, st(Status.COMPLETED), "PLANNING")


def test_progress_regresses_when_the_position_goes_down():
    assert regresses(F.PROGRESS, Progress(5, 12), Progress(4, 12))
    assert not regresses(F.PROGRESS, Progress(5, 12), Progress(5, 24))
    assert not regresses(F.PROGRESS, Progress(5), Progress(6))
    assert not regresses(F.PROGRESS, Progress(None), Progress(1))
    assert not regresses(F.PROGRESS, Progress(3), Progress(None))


@pytest.mark.parametrize("f", [F.STARTED_AT, F.FINISHED_AT])
def test_start_and_finish_dates_regress_when_they_move_later(f):
    assert regresses(f, T, T + timedelta(days=1))
    assert not regresses(f, T, T)
    assert not regresses(f, T, T - timedelta(days=1))


@pytest.mark.parametrize("f", [F.LAST_ACTIVITY_AT, F.REPEAT_COUNT])
def test_activity_and_repeat_count_regress_when_they_go_down(f):
    lo, hi = (T, T + timedelta(days=1)) if f is F.LAST_ACTIVITY_AT else (1, 2)
    assert regresses(f, hi, lo)
    assert not regresses(f, lo, lo)
    assert not regresses(f, lo, hi)


def test_ratings_and_notes_never_regress():
    assert not regresses(F.RATING, Rating(9, (1, 10, 1)), Rating(1, (1, 10, 1)))
    assert not regresses(F.NOTES, "b", "a")


# -- passes ----------------------------------------------------------------------


def test_pass_index_counts_completed_passes():
    assert pass_index(Status.REPEATING, 0) == 1
    assert pass_index(Status.REPEATING, 2) == 3
    assert pass_index(Status.COMPLETED, 0) == 0
    assert pass_index(Status.COMPLETED, 2) == 2
    assert pass_index(Status.ACTIVE, 3) == 0
    assert pass_index(None, 3) == 0


def desired(repeat=None) -> Desired:
    d = Desired()
    if repeat is not None:
        d.set(F.REPEAT_COUNT, repeat, "")
    return d


def rec(status=None, repeat=None) -> Record:
    return list_record("1", status=status, repeat=repeat)


def test_a_rewatch_starting_on_a_completed_entry_is_a_later_pass():
    repeating = st(Status.REPEATING)
    assert later_pass(desired(), repeating, rec(Status.COMPLETED))
    assert later_pass(desired(1), repeating, rec(Status.COMPLETED, 1))
    # REPEATING with no rewatch counted is the second pass; the target's COMPLETED
    # with one rewatch finished that one already
    assert not later_pass(desired(0), repeating, rec(Status.COMPLETED, 1))
    # a new entry written as REPEATING is past its first pass
    assert later_pass(desired(), repeating, None)


def test_the_same_rewatch_is_not_a_later_pass_until_its_count_moves():
    kept = None  # status already REPEATING on the target: not written again
    assert not later_pass(desired(1), kept, rec(Status.REPEATING, 1))
    assert later_pass(desired(2), kept, rec(Status.REPEATING, 1))
    assert not later_pass(desired(), kept, rec(Status.REPEATING, 1))


def test_only_repeating_makes_a_later_pass():
    assert not later_pass(desired(3), st(Status.COMPLETED), rec(Status.ACTIVE))
    assert not later_pass(desired(3), None, rec(Status.COMPLETED))
    assert not later_pass(desired(3), st(None), rec(Status.REPEATING, 0))


def test_odd_repeat_values_count_as_the_targets_own():
    # a repeat count that is not an int on either side is "no change in count"
    weird = Record(Ref("1"), values={F.STATUS: st(Status.REPEATING),
                                     F.REPEAT_COUNT: "2"})  # fmt: skip
    assert not later_pass(desired(), None, weird)
    assert later_pass(desired(1), None, weird)
    d = Desired()
    d.set(F.REPEAT_COUNT, "3", "")
    assert not later_pass(d, None, rec(Status.REPEATING, 1))
    assert later_pass(d, st(Status.REPEATING), rec(Status.COMPLETED, 1))


# -- kinds, records, pins ----------------------------------------------------------


def snapshot(*kinds: tuple[str, RecordKind | None]) -> Snapshot:
    kinds_ = tuple(Descriptor(n, s) for n, s in kinds)
    return Snapshot("p", replace(list_capabilities(), record_kinds=kinds_))


def test_native_kind_names_the_declared_kind_of_a_semantic():
    snap = snapshot(("watchlist", RecordKind.PLANNED), ("ratings", RecordKind.RATINGS))
    assert native_kind(snap, RecordKind.PLANNED) == "watchlist"
    assert native_kind(snap, RecordKind.RATINGS) == "ratings"
    assert native_kind(snap, RecordKind.COLLECTION) is None
    # declared kinds without "": the default kind is not a progress record there
    assert native_kind(snap, RecordKind.PROGRESS) is None


def test_the_default_kind_is_progress_unless_other_kinds_leave_it_out():
    assert native_kind(snapshot(), RecordKind.PROGRESS) == ""
    with_default = snapshot(("", RecordKind.PROGRESS), ("ratings", RecordKind.RATINGS))
    assert native_kind(with_default, RecordKind.PROGRESS) == ""
    named = snapshot(("list", RecordKind.PROGRESS), ("ratings", RecordKind.RATINGS))
    assert native_kind(named, RecordKind.PROGRESS) == "list"
    # an unnamed kind only ever stands for PROGRESS
    assert native_kind(snapshot(("", RecordKind.RATINGS)), RecordKind.RATINGS) is None


def test_anchor_record_is_the_anchors_own_record_of_that_kind():
    part = Record(Ref.at("1", ("episode", 1)), kind="")
    rating = Record(Ref("1"), kind="ratings")
    main = Record(Ref("1"), kind="")
    entry = Entry("1", records=[part, rating, main])
    assert anchor_record(entry, "") is main
    assert anchor_record(entry, "ratings") is rating
    assert anchor_record(entry, "watchlist") is None
    assert anchor_record(None, "") is None
    assert anchor_record(Entry("1", records=[part]), "") is None


def test_encoded_is_the_json_form_or_none():
    assert encoded(F.PROGRESS, None) is None
    assert encoded(F.PROGRESS, Progress(3, 12)) == {
        "current": 3,
        "total": 12,
        "unit": None,
    }


def test_pin_map_unions_the_fields_pinned_per_target_ref():
    pins = [
        Pin("p", "al", "1", frozenset({"status"})),
        Pin("p", "al", "1", frozenset({"rating"})),
        Pin("p", "al", "2", frozenset({"notes"})),
        Pin("p", "mal", "1", frozenset({"progress"})),
    ]
    assert pin_map(pins) == {
        ("al", "1"): frozenset({"status", "rating"}),
        ("al", "2"): frozenset({"notes"}),
        ("mal", "1"): frozenset({"progress"}),
    }
