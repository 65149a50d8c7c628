from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anibridge.provider.base import NumericConstraint, Rating
from anibridge.ratings import convert, normalize, same_rating, scale_for

P100 = (0.0, 100.0, 1.0)
P10 = (0.0, 10.0, 1.0)
STARS = (1.0, 5.0, 0.5)


def test_normalize_and_convert_through_fraction():
    assert normalize(Rating(85, P100)) == pytest.approx(0.85)
    assert convert(Rating(85, P100), P10).value == 9  # 8.5 rounds half up
    assert convert(Rating(84, P100), P10).value == 8
    assert convert(Rating(5, STARS), P100).value == 100
    assert convert(Rating(3, STARS), P100).value == 50


def test_snaps_to_step_from_minimum():
    assert convert(Rating(62, P100), STARS).value == pytest.approx(3.5)


def test_rounding_noise_is_not_a_change():
    # 85/100 stored on a 10-point target as 9; 9 back is 90, but nothing changed.
    assert same_rating(Rating(85, P100), Rating(9, P10))
    assert not same_rating(Rating(70, P100), Rating(9, P10))


def test_bad_scale_is_refused_with_the_scale_named():
    with pytest.raises(ValueError, match=r"\(5.0, 5.0, 1.0\)"):
        normalize(Rating(5, (5.0, 5.0, 1.0)))


def test_scale_for_prefers_existing_then_constraint():
    assert scale_for(NumericConstraint(0, 10, 0.5)) == (0, 10, 0.5)
    assert scale_for(None, Rating(3, STARS)) == STARS
    assert scale_for(None, fallback=P10) == P10


@given(st.floats(0, 100), st.sampled_from([P100, P10, STARS, (0.0, 3.0, 1.0)]))
def test_convert_is_stable(value, scale):
    once = convert(Rating(value, P100), scale)
    assert scale[0] <= once.value <= scale[1]
    assert convert(once, scale).value == pytest.approx(once.value)
    assert same_rating(Rating(value, P100), once)


TRAKT = (1.0, 10.0, 1.0)
STARS5 = (1.0, 5.0, 1.0)


def test_count_scale_is_points_out_of_max():
    # Trakt 8/10 is 80/100, not (8-1)/(10-1) = 78.
    assert convert(Rating(8, TRAKT), P100).value == 80
    assert convert(Rating(10, TRAKT), P100).value == 100
    assert convert(Rating(1, TRAKT), P100).value == 10
    assert convert(Rating(80, P100), TRAKT).value == 8
    assert convert(Rating(3, STARS5), P100).value == 60
    assert convert(Rating(8, TRAKT), (0.0, 5.0, 0.5)).value == 4


def test_count_scale_clamps_unrated_zero_up_to_its_minimum():
    assert convert(Rating(2, P100), TRAKT).value == 1
    assert convert(Rating(0, P100), STARS5).value == 1


def test_interval_scales_keep_min_to_max():
    # 1-5 in halves starts above one step: an interval (1 is the bottom, 5 the top).
    assert convert(Rating(1, STARS), P100).value == 0
    assert convert(Rating(3, STARS), P100).value == 50
    assert convert(Rating(0, P100), STARS).value == 1


SCALES = [P100, P10, STARS, TRAKT, STARS5, (0.0, 3.0, 1.0), (0.0, 10.0, 0.5)]


def _on(scale):
    lo, hi, step = scale
    n = round((hi - lo) / step)
    return st.integers(0, n).map(lambda i: lo + i * step)


@given(st.data(), st.sampled_from(SCALES))
def test_round_trip_through_0_100_is_exact(data, scale):
    value = data.draw(_on(scale))
    there = convert(Rating(value, scale), P100)
    assert convert(there, scale).value == pytest.approx(value)


@given(st.data(), st.sampled_from(SCALES), st.sampled_from(SCALES))
def test_round_trips_settle_and_are_never_a_change(data, a, b):
    value = data.draw(_on(a))
    there = convert(Rating(value, a), b)
    assert b[0] <= there.value <= b[1]
    back = convert(there, a)
    assert a[0] <= back.value <= a[1]
    # One hop there and back settles: repeating it changes nothing.
    assert convert(back, b).value == pytest.approx(there.value)
    # Rounding noise is never a change.
    assert same_rating(Rating(value, a), there)
