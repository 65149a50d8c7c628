"""`anibridge.bridge.translate`: semantic values into a target's native ones.

Each rule is asked directly of `translate` with a target `FieldSpec`, so a broken
rule fails here at once instead of somewhere in a whole sync run.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from anibridge.bridge.translate import STATUS_FALLBACK, Translated, precision, translate
from anibridge.provider.base import (
    Descriptor,
    FieldSpec,
    NumericConstraint,
    Progress,
    ProgressConstraint,
    Rating,
    RecordField,
    State,
    Status,
    TemporalConstraint,
    TemporalPrecision,
    TextConstraint,
)
from anibridge.provider.precision import MonthDate, PartialDates, partial_date

F = RecordField
PLUS1 = timezone(timedelta(hours=1))
MINUS5 = timezone(timedelta(hours=-5))


def status_spec(*pairs: tuple[str, Status | None]) -> FieldSpec:
    return FieldSpec(
        F.STATUS,
        writable=True,
        values=tuple(Descriptor(native, semantic) for native, semantic in pairs),
    )


FULL = status_spec(
    ("PLANNING", Status.PLANNED),
    ("CURRENT", Status.ACTIVE),
    ("PAUSED", Status.PAUSED),
    ("COMPLETED", Status.COMPLETED),
    ("DROPPED", Status.DROPPED),
    ("REPEATING", Status.REPEATING),
)


def date_spec(field: RecordField = F.STARTED_AT, *constraints) -> FieldSpec:
    return FieldSpec(field, writable=True, constraints=tuple(constraints))


DATE = date_spec(F.STARTED_AT, TemporalConstraint(TemporalPrecision.DATE))
DATETIME = date_spec(F.STARTED_AT, TemporalConstraint(TemporalPrecision.DATETIME))
PARTIAL = date_spec(F.STARTED_AT, PartialDates())


# -- precision ---------------------------------------------------------------


def test_precision_is_the_fields_temporal_constraint_else_datetime():
    assert precision(None) is TemporalPrecision.DATETIME
    assert precision(date_spec()) is TemporalPrecision.DATETIME
    # the temporal constraint counts, whatever comes before it
    spec = date_spec(
        F.STARTED_AT,
        TextConstraint(3),
        TemporalConstraint(TemporalPrecision.DATE),
    )
    assert precision(spec) is TemporalPrecision.DATE
    assert precision(PARTIAL) is TemporalPrecision.DATE


# -- status ------------------------------------------------------------------


def test_status_takes_the_targets_native_label_and_compares_by_semantic():
    got = translate(F.STATUS, Status.ACTIVE, FULL, None)
    assert got == Translated(State("CURRENT", Status.ACTIVE), False, "")
    same = translate(F.STATUS, Status.ACTIVE, FULL, State("CURRENT", Status.ACTIVE))
    assert same.equal
    # another semantic under the same native label is a change
    other = translate(F.STATUS, Status.ACTIVE, FULL, State("CURRENT", Status.PAUSED))
    assert not other.equal
    # a value the target reported without a semantic compares by its native label
    assert translate(F.STATUS, Status.ACTIVE, FULL, State("CURRENT")).equal
    assert not translate(F.STATUS, Status.ACTIVE, FULL, State("WATCHING")).equal
    # a non-State current value is never equal
    assert not translate(F.STATUS, Status.ACTIVE, FULL, "CURRENT").equal


def test_status_without_the_semantic_falls_back_along_the_chain_with_a_note():
    assert STATUS_FALLBACK[Status.REPEATING] == (Status.COMPLETED, Status.ACTIVE)
    no_repeat = status_spec(("watching", Status.ACTIVE), ("done", Status.COMPLETED))
    got = translate(F.STATUS, Status.REPEATING, no_repeat, State("done", None))
    assert got == Translated(
        State("done", Status.COMPLETED),
        True,
        "target has no repeating status; wrote completed (fallback)",
    )
    # the next one along when the first fallback is missing too
    only_active = status_spec(("watching", Status.ACTIVE), ("plan", Status.PLANNED))
    got = translate(F.STATUS, Status.REPEATING, only_active, None)
    assert got.value == State("watching", Status.ACTIVE)
    assert got.note == "target has no repeating status; wrote active (fallback)"
    paused = translate(F.STATUS, Status.PAUSED, only_active, None)
    assert paused.value == State("watching", Status.ACTIVE)
    assert paused.note == "target has no paused status; wrote active (fallback)"


def test_status_without_the_semantic_or_a_fallback_is_not_representable():
    only_active = status_spec(("watching", Status.ACTIVE))
    got = translate(F.STATUS, Status.DROPPED, only_active, State("watching"))
    assert got == Translated(None, False, "target has no dropped status")
    no_chain = status_spec(("plan", Status.PLANNED))
    got = translate(F.STATUS, Status.REPEATING, no_chain, None)
    assert got == Translated(None, False, "target has no repeating status")


# -- progress ----------------------------------------------------------------


def progress_spec(**kw) -> FieldSpec:
    return FieldSpec(F.PROGRESS, writable=True, constraints=(ProgressConstraint(**kw),))


def test_progress_floors_to_the_step_from_the_minimum_and_clamps():
    spec = progress_spec(current=NumericConstraint(minimum=1, maximum=9, step=2))
    # 4 is between the steps 3 and 5 counted from 1: floored, never rounded up
    assert translate(F.PROGRESS, 4, spec, None).value.current == 3
    assert translate(F.PROGRESS, 12, spec, None).value.current == 9
    assert translate(F.PROGRESS, 0, spec, None).value.current == 1
    # from 0 when there is no minimum
    spec = progress_spec(current=NumericConstraint(maximum=12, step=5))
    assert translate(F.PROGRESS, 9, spec, None).value.current == 5
    # a whole number of units stays an int; a fraction stays a float
    got = translate(F.PROGRESS, 12, progress_spec(current=NumericConstraint()), None)
    assert got.value.current == 12
    assert type(got.value.current) is int
    spec = progress_spec(current=NumericConstraint(minimum=0.25, step=0.5))
    got = translate(F.PROGRESS, 1, spec, None)
    assert got.value.current == 0.75


def test_progress_floor_absorbs_float_noise_at_a_step():
    spec = progress_spec(current=NumericConstraint(step=0.1))
    # 3 / 0.1 is 29.999999999999996 in floats: still 3, not floored to 2.9
    got = translate(F.PROGRESS, 3, spec, None)
    assert got.value.current == pytest.approx(3.0)


def test_new_progress_carries_the_total_and_unit_the_target_owns():
    got = translate(F.PROGRESS, 5, FieldSpec(F.PROGRESS, writable=True), None, total=12)
    assert got == Translated(Progress(5, 12, "episode"), False)
    # no total known, or 0: none written
    assert translate(F.PROGRESS, 5, progress_spec(), None, total=0).value == Progress(
        5, None, "episode"
    )
    # total and unit that are the target's own metadata are not written
    got = translate(F.PROGRESS, 5, progress_spec(total=False), None, total=12)
    assert got.value == Progress(5, None, "episode")
    got = translate(F.PROGRESS, 5, progress_spec(unit=False), None, total=12)
    assert got.value == Progress(5, 12, None)


def test_progress_compares_current_only_and_keeps_the_targets_total_and_unit():
    spec = progress_spec()
    got = translate(F.PROGRESS, 5, spec, Progress(5, 24, "chapter"), total=12)
    assert got == Translated(Progress(5, 24, "chapter"), True)
    got = translate(F.PROGRESS, 6, spec, Progress(5, 24, "chapter"), total=12)
    assert got == Translated(Progress(6, 24, "chapter"), False)
    # a current value without a count is not "equal to 0"
    assert not translate(F.PROGRESS, 0, spec, Progress(None, 12)).equal
    # equal after quantizing: the target cannot store more than its maximum
    capped = progress_spec(current=NumericConstraint(maximum=10))
    assert translate(F.PROGRESS, 12, capped, Progress(10)).equal


def test_progress_fills_a_missing_total_only_when_the_target_owns_it():
    got = translate(F.PROGRESS, 3, progress_spec(), Progress(2, None, "ep"), total=12)
    assert got.value == Progress(3, 12, "ep")
    got = translate(
        F.PROGRESS, 3, progress_spec(total=False), Progress(2, None), total=12
    )
    assert got.value == Progress(3, None, None)
    no_spec = FieldSpec(F.PROGRESS, writable=True)
    assert translate(F.PROGRESS, 3, no_spec, Progress(2), total=12).value.total == 12
    got = translate(F.PROGRESS, 3, no_spec, Progress(2), total=None)
    assert got.value.total is None


# -- rating ------------------------------------------------------------------


def test_rating_converts_onto_the_targets_scale():
    spec = FieldSpec(
        F.RATING,
        writable=True,
        constraints=(NumericConstraint(minimum=1, maximum=10, step=1),),
    )
    got = translate(F.RATING, Rating(85, (0, 100, 1)), spec, None)
    assert got == Translated(Rating(9, (1, 10, 1)), False)
    # an existing rating names the scale the user chose on the target
    got = translate(F.RATING, Rating(85, (0, 100, 1)), spec, Rating(4, (0, 5, 0.5)))
    assert got == Translated(Rating(4.5, (0, 5, 0.5)), False)
    got = translate(F.RATING, Rating(90, (0, 100, 1)), spec, Rating(4.5, (0, 5, 0.5)))
    assert got.equal
    # without a scale on either side the rating keeps the source's own
    free = FieldSpec(F.RATING, writable=True)
    got = translate(F.RATING, Rating(7.5, (0, 10, 0.5)), free, None)
    assert got == Translated(Rating(7.5, (0, 10, 0.5)), False)
    # a non-rating current value is ignored (never equal)
    assert not translate(F.RATING, Rating(90, (0, 100, 1)), spec, 9).equal


# -- dates -------------------------------------------------------------------


def at(*args, tz=UTC) -> datetime:
    return datetime(*args, tzinfo=tz)


def test_dates_equal_at_the_coarser_precision_keep_the_targets_value():
    # a partial date inside the target's day
    got = translate(F.STARTED_AT, partial_date(2020, 3), DATE, at(2020, 3, 4))
    assert got == Translated(at(2020, 3, 4), True)
    # an instant on the target's calendar day in the user's timezone
    got = translate(
        F.STARTED_AT, at(2020, 3, 4, 23, 30), DATE, at(2020, 3, 5), tz=PLUS1
    )
    assert got == Translated(at(2020, 3, 5), True)
    # in UTC that instant is the day before: a change, written as its day
    got = translate(F.STARTED_AT, at(2020, 3, 4, 23, 30), DATE, at(2020, 3, 5))
    assert got == Translated(at(2020, 3, 4), False)
    # a non-date current value is never equal
    got = translate(F.STARTED_AT, at(2020, 3, 4), DATE, "2020-03-04", source_spec=DATE)
    assert got == Translated(at(2020, 3, 4), False)


def test_an_exact_date_inside_a_partial_one_on_the_target_is_in_sync():
    march = partial_date(2020, 3)
    got = translate(F.STARTED_AT, at(2020, 3, 4), PARTIAL, march, source_spec=DATE)
    assert got == Translated(march, True)
    got = translate(F.STARTED_AT, at(2020, 4, 4), PARTIAL, march, source_spec=DATE)
    assert got == Translated(at(2020, 4, 4), False)


def test_a_day_source_compares_as_a_day_against_an_instant_target():
    # the source's DATE precision makes 2020-03-04 a day; the target's instant late
    # on 2020-03-04 in New York (03-05 in UTC) is on that day
    current = at(2020, 3, 5, 2, 0)
    got = translate(
        F.STARTED_AT, at(2020, 3, 4), DATETIME, current, source_spec=DATE, tz=MINUS5
    )
    assert got == Translated(current, True)
    # read as an instant (no source spec) it is 26 hours off: a change
    got = translate(F.STARTED_AT, at(2020, 3, 4), DATETIME, current, tz=MINUS5)
    assert got == Translated(at(2020, 3, 4), False)


def test_instants_within_a_second_are_equal():
    now = at(2024, 1, 2, 3, 4, 5)
    got = translate(F.FINISHED_AT, now + timedelta(microseconds=999), DATETIME, now)
    assert got == Translated(now, True)
    later = now + timedelta(seconds=2)
    assert translate(F.FINISHED_AT, later, DATETIME, now) == Translated(later, False)


def test_a_partial_date_is_written_as_partial_only_where_the_target_stores_it():
    march = partial_date(2020, 3)
    got = translate(F.STARTED_AT, march, PARTIAL, None)
    assert got == Translated(march, False)
    assert isinstance(got.value, MonthDate)
    got = translate(F.STARTED_AT, march, DATE, at(2019, 5, 6))
    assert got == Translated(
        None,
        False,
        "only the month is known (2020-03) and the target stores full dates: "
        "not padded to an invented day",
        imprecise=True,
    )
    got = translate(F.FINISHED_AT, partial_date(2021), DATETIME, None)
    assert got.value is None
    assert got.imprecise
    assert got.note.startswith("only the year is known (2021) ")


def test_a_date_target_gets_the_calendar_day_of_the_value():
    # an instant: its day in the user's timezone
    got = translate(F.STARTED_AT, at(2020, 3, 4, 23, 30), DATE, None, tz=PLUS1)
    assert got == Translated(at(2020, 3, 5), False)
    # a day from a DATE source stays that day whatever the timezone
    got = translate(
        F.STARTED_AT, at(2020, 3, 4), DATE, None, source_spec=DATE, tz=MINUS5
    )
    assert got == Translated(at(2020, 3, 4), False)


def test_a_day_written_to_an_instant_target_is_its_local_midnight():
    got = translate(
        F.STARTED_AT, at(2020, 3, 4), DATETIME, None, source_spec=DATE, tz=PLUS1
    )
    assert got == Translated(at(2020, 3, 3, 23, 0), False)
    # west of UTC the day (midnight UTC) is still that day, not the evening before
    got = translate(
        F.STARTED_AT, at(2020, 3, 4), DATETIME, None, source_spec=DATE, tz=MINUS5
    )
    assert got == Translated(at(2020, 3, 4, 5, 0), False)
    # an instant onto an instant target is written as it is
    instant = at(2020, 3, 4, 7, 8, 9)
    assert translate(F.STARTED_AT, instant, DATETIME, None, tz=PLUS1) == Translated(
        instant
    )


def test_a_local_midnight_is_written_in_utc_whatever_the_machines_timezone(
    monkeypatch,
):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        got = translate(
            F.STARTED_AT, at(2020, 3, 4), DATETIME, None, source_spec=DATE, tz=PLUS1
        )
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got.value.utcoffset() == timedelta(0)


@pytest.mark.parametrize("field", [F.STARTED_AT, F.FINISHED_AT, F.LAST_ACTIVITY_AT])
def test_every_date_field_is_translated_as_a_date(field):
    spec = date_spec(field, TemporalConstraint(TemporalPrecision.DATE))
    got = translate(field, at(2020, 3, 4, 23, 30), spec, None, tz=PLUS1)
    assert got.value == at(2020, 3, 5)


# -- notes and counts --------------------------------------------------------


def test_notes_are_truncated_to_the_targets_limit_with_a_note():
    spec = FieldSpec(F.NOTES, writable=True, constraints=(TextConstraint(5),))
    got = translate(F.NOTES, "abcdefg", spec, None)
    assert got == Translated("abcde", False, "notes truncated from 7 to 5 characters")
    # equal to what the target already holds once truncated: no write
    assert translate(F.NOTES, "abcdefg", spec, "abcde").equal
    # at the limit: untouched, no note
    assert translate(F.NOTES, "abcde", spec, "abcd") == Translated("abcde", False, "")
    unlimited = FieldSpec(F.NOTES, writable=True, constraints=(TextConstraint(),))
    assert translate(F.NOTES, "abcdefg", unlimited, "abcdefg") == Translated(
        "abcdefg", True, ""
    )
    assert translate(F.NOTES, "x", FieldSpec(F.NOTES, writable=True), None) == (
        Translated("x", False, "")
    )


def test_repeat_count_floors_clamps_and_compares_ints_only():
    spec = FieldSpec(
        F.REPEAT_COUNT,
        writable=True,
        constraints=(NumericConstraint(minimum=0, maximum=10, step=2),),
    )
    assert translate(F.REPEAT_COUNT, 3, spec, 0) == Translated(2, False)
    assert translate(F.REPEAT_COUNT, 12, spec, 10) == Translated(10, True)
    plain = FieldSpec(F.REPEAT_COUNT, writable=True)
    assert translate(F.REPEAT_COUNT, 3, plain, 3) == Translated(3, True)
    assert translate(F.REPEAT_COUNT, 3, plain, 2) == Translated(3, False)
    # True == 1 in Python, but a flag is not a count
    assert translate(F.REPEAT_COUNT, 1, plain, True) == Translated(1, False)
    assert translate(F.REPEAT_COUNT, 1, plain, "1") == Translated(1, False)


def test_no_rewatches_equal_none_recorded():
    plain = FieldSpec(F.REPEAT_COUNT, writable=True)
    assert translate(F.REPEAT_COUNT, 0, plain, None) == Translated(0, True)
    assert translate(F.REPEAT_COUNT, 2, plain, None) == Translated(2, False)
