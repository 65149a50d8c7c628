"""Date precision through the engine (issue 14 point 3): partial dates stay partial."""

from __future__ import annotations

import os
from datetime import UTC, date, timedelta, timezone

import pytest
from bridge_support import T0, by_field, custom_index, plan_between, tracker
from hypothesis import given, settings
from hypothesis import strategies as st

from anibridge.bridge.codec import decode_value, encode_value
from anibridge.bridge.model import Direction, Policy, SkipReason
from anibridge.bridge.stores import MemoryStores
from anibridge.bridge.sync import Pair, run_sync
from anibridge.dates import compare_dates, date_text, date_to_utc, parse_date_text
from anibridge.provider.base import RecordField, Status, TemporalPrecision
from anibridge.provider.precision import (
    DatePrecision,
    MonthDate,
    YearDate,
    date_precision,
    partial_date,
)
from anibridge.provider.testing.memory import list_record

ST, FIN = RecordField.STARTED_AT, RecordField.FINISHED_AT
PROPS = settings(max_examples=int(os.environ.get("BRIDGE_EXAMPLES", "60")))
SHOW = 'anilist:100:\n  mal:900:\n    "1-12": "1-12"\n'


@pytest.fixture
def idx(tmp_path):
    return custom_index(tmp_path, SHOW)


def source(started=None, finished=None, *, partial=True):
    record = list_record(
        "100",
        status=Status.COMPLETED,
        progress=12,
        started=started,
        finished=finished,
        updated_at=T0,
    )
    return tracker(
        [("100", "Show", 12, ["anilist:100"])], [record], partial_dates=partial
    )


def target(started=None, finished=None, *, partial=True, **caps):
    record = list_record(
        "900",
        status=Status.COMPLETED,
        progress=12,
        started=started,
        finished=finished,
        updated_at=T0,
    )
    return tracker(
        [("900", "Show", 12, ["mal:900"])],
        [record],
        partial_dates=partial,
        authorities=("mal",),
        **caps,
    )


def day(y, m, d):
    return date_to_utc(date(y, m, d))


# -- the comparison rule (properties) --------------------------------------------------

years = st.integers(1990, 2030)
months = st.integers(1, 12)
days = st.integers(1, 28)
zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=9)), timezone(-timedelta(hours=5))]
)


@st.composite
def dated(draw):
    """(value, precision) of any precision."""
    p = draw(st.sampled_from(list(DatePrecision)))
    y, m, d = draw(years), draw(months), draw(days)
    if p is DatePrecision.YEAR:
        return partial_date(y), p
    if p is DatePrecision.MONTH:
        return partial_date(y, m), p
    if p is DatePrecision.DAY:
        return day(y, m, d), p
    minute = draw(st.integers(0, 24 * 60 - 1))
    return day(y, m, d) + timedelta(minutes=minute), p


@PROPS
@given(dated(), dated(), zones)
def test_comparison_is_antisymmetric(a, b, tz):
    assert compare_dates(*a, *b, tz) == -compare_dates(*b, *a, tz)
    assert compare_dates(*a, *a, tz) == 0


@PROPS
@given(dated(), zones, st.integers(0, 27), st.integers(0, 11))
def test_a_date_inside_a_partial_period_is_the_same_date(a, tz, dd, mm):
    value, p = a
    # Any more precise date inside `value`'s year / month compares equal to it.
    on = value.astimezone(tz) if p is DatePrecision.INSTANT else value
    inside_month = day(on.year, on.month, 1 + dd)
    inside_year = day(on.year, 1 + mm, 1 + dd)
    month, year = partial_date(on.year, on.month), partial_date(on.year)
    assert compare_dates(month, DatePrecision.MONTH, value, p, tz) == 0
    assert compare_dates(year, DatePrecision.YEAR, value, p, tz) == 0
    assert (
        compare_dates(inside_month, DatePrecision.DAY, month, DatePrecision.MONTH) == 0
    )
    assert compare_dates(inside_year, DatePrecision.DAY, year, DatePrecision.YEAR) == 0


@PROPS
@given(dated(), dated(), zones)
def test_comparison_agrees_with_the_order_of_periods(a, b, tz):
    (va, pa), (vb, pb) = a, b
    got = compare_dates(va, pa, vb, pb, tz)
    if got == 0:
        return

    if pa is pb is DatePrecision.INSTANT:
        assert (va > vb) == (got > 0)
        return

    # Periods that differ at the coarser precision do not overlap: their first
    # calendar days are ordered the same way.
    def first(v, p):
        return (v.astimezone(tz) if p is DatePrecision.INSTANT else v).date()

    assert first(va, pa) != first(vb, pb)
    assert (first(va, pa) > first(vb, pb)) == (got > 0)


@PROPS
@given(dated())
def test_text_and_codec_round_trip_keep_the_precision(a):
    value, p = a
    field_precision = TemporalPrecision.DATE if p is DatePrecision.DAY else None
    text = date_text(value, field_precision)
    back = parse_date_text(text)
    assert date_precision(back, field_precision) is p
    assert back == value
    assert decode_value(ST, encode_value(ST, value)) == value


def test_partial_dates_are_not_their_padded_day():
    assert partial_date(2020, 3) != day(2020, 3, 1)
    assert day(2020, 3, 1) != partial_date(2020, 3)
    assert len({partial_date(2020), day(2020, 1, 1), partial_date(2020, 1)}) == 3
    assert encode_value(ST, partial_date(2020, 3)) == "2020-03"
    assert encode_value(ST, partial_date(2021)) == "2021"
    assert encode_value(ST, day(2020, 3, 4)) == "2020-03-04T00:00:00+00:00"
    with pytest.raises(ValueError, match="first day of its month"):
        MonthDate(2020, 3, 4, tzinfo=UTC)
    with pytest.raises(ValueError, match="midnight UTC"):
        YearDate(2020, 1, 1)


# -- through the planner ---------------------------------------------------------------


async def test_a_partial_month_never_overwrites_the_exact_day_inside_it(idx):
    src = source(started=partial_date(2020, 3))
    plan = await plan_between(src, target(started=day(2020, 3, 4)), index=idx)
    assert ("900", ST) not in by_field(plan)


async def test_an_exact_day_and_a_partial_month_around_it_are_in_sync(idx):
    src = source(started=day(2020, 3, 4))
    plan = await plan_between(src, target(started=partial_date(2020, 3)), index=idx)
    assert ("900", ST) not in by_field(plan)


async def test_a_partial_date_is_written_as_partial_where_the_target_keeps_them(idx):
    src = source(started=partial_date(2019), finished=partial_date(2020, 3))
    fields = by_field(await plan_between(src, target(), index=idx))
    assert fields[("900", ST)] == partial_date(2019)
    assert isinstance(fields[("900", FIN)], MonthDate)


async def test_a_partial_date_is_skipped_not_padded_where_the_target_cannot(idx):
    src = source(started=partial_date(2019), finished=day(2020, 3, 4))
    plan = await plan_between(src, target(partial=False), index=idx)
    fields = by_field(plan)
    assert ("900", ST) not in fields
    assert fields[("900", FIN)] == day(2020, 3, 4)
    [skip] = [s for s in plan.skipped if s.field is ST]
    assert skip.reason is SkipReason.IMPRECISE and "2019" in skip.detail


async def test_a_different_partial_period_is_a_real_change(idx):
    # 2019 vs 2020-03-04: different at the coarser precision, earlier start wins.
    src = source(started=partial_date(2019))
    plan = await plan_between(src, target(started=day(2020, 3, 4)), index=idx)
    assert by_field(plan)[("900", ST)] == partial_date(2019)


async def test_an_exact_source_day_refines_nothing_outside_its_period(idx):
    # Started 2021-05-06 vs a target's 2020 (a different year): later, a regression.
    src = source(started=day(2021, 5, 6))
    plan = await plan_between(src, target(started=partial_date(2020)), index=idx)
    assert ("900", ST) not in by_field(plan)
    assert next(s for s in plan.skipped if s.field is ST).reason is (
        SkipReason.REGRESSION
    )


async def test_two_way_partial_and_exact_sides_settle_without_ping_pong(idx):
    a = source(started=partial_date(2020, 3), finished=partial_date(2021))
    b = target(started=day(2020, 3, 4))
    stores = MemoryStores().bundle()
    policy = Policy(direction=Direction.TWO_WAY)
    pair = [Pair("a", "b", Direction.TWO_WAY)]
    first = await run_sync({"a": a, "b": b}, pair, policy, stores, index=idx)
    writes = {(x.provider, f) for x in first.plan.actions for f in x.after}
    assert ("b", ST) not in writes and ("a", ST) not in writes  # in sync
    assert ("b", FIN) in writes  # b had none: gets the partial year
    second = await run_sync({"a": a, "b": b}, pair, policy, stores, index=idx)
    assert second.plan.actions == ()
    [rec] = [r for r in b.records() if r.ref.key == "900"]
    assert rec.values[FIN] == partial_date(2021)
    assert rec.values[ST] == day(2020, 3, 4)
