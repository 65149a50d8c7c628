from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anibridge.provider.base import NumericConstraint, Rating
from anibridge.ratings import (
    convert,
    is_count_scale,
    normalize,
    quantize,
    same_rating,
    scale_for,
)

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


def test_only_a_scale_starting_one_step_above_zero_counts_points():
    assert is_count_scale(TRAKT)
    assert is_count_scale(STARS5)
    # 0 is a real rating on 0-10 and 0-100 (not "unrated"), and 1-5 in halves
    # starts above its step: intervals.
    assert not is_count_scale(P10)
    assert not is_count_scale(P100)
    assert not is_count_scale(STARS)


def test_normalize_clamps_values_above_the_scale_to_one():
    assert normalize(Rating(150, P100)) == 1.0
    assert normalize(Rating(12, TRAKT)) == 1.0
    assert normalize(Rating(-5, P100)) == 0.0


def test_low_scores_on_a_count_scale_are_points_out_of_max():
    # 12/100 is 1.2 points out of 10 (Trakt 1) and 0.6 of 5 stars (1), not the
    # 2 an interval reading (1 + 0.12 * 9 = 2.08) would give.
    assert convert(Rating(12, P100), TRAKT).value == 1
    assert convert(Rating(15, P100), STARS5).value == 1
    assert convert(Rating(25, P100), TRAKT).value == 3


def test_lowest_star_and_lowest_smiley_are_each_others_images():
    smileys = (0.0, 3.0, 1.0)
    # 1 of 5 stars is a fifth (0.6 of 3, nearest 1), but 1 smiley would come back
    # as 2 stars: the bottom of each scale maps to the bottom of the other.
    assert convert(Rating(1, STARS5), smileys).value == 0
    assert convert(Rating(0, smileys), STARS5).value == 1


def test_continuous_scales_are_accepted_and_not_snapped():
    continuous = (0.0, 10.0, 0.0)
    assert convert(Rating(47, P100), continuous).value == pytest.approx(4.7)
    assert convert(Rating(4.7, continuous), P100).value == 47
    assert normalize(Rating(2.5, continuous)) == pytest.approx(0.25)


def test_negative_step_is_refused_with_its_reason():
    with pytest.raises(ValueError, match=r"step must be >= 0"):
        normalize(Rating(5, (0.0, 10.0, -1.0)))
    with pytest.raises(ValueError, match=r"max must be greater than min"):
        convert(Rating(5, P10), (10.0, 0.0, 1.0))


def test_a_constraint_without_step_is_a_continuous_scale():
    assert scale_for(NumericConstraint(0, 10)) == (0, 10, 0.0)
    assert scale_for(NumericConstraint(0, None, 1)) == (0.0, 100.0, 1.0)


def test_one_step_apart_is_a_change():
    assert not same_rating(Rating(0, P100), Rating(1, P100))
    assert not same_rating(Rating(7, P10), Rating(8, P10))
    assert not same_rating(Rating(3, STARS), Rating(3.5, STARS))


def test_quantize_snaps_off_step_values_half_up_and_clamps():
    # Plex keeps a 9.5 a client wrote on its whole-number 0-10 scale.
    assert quantize(9.5, P10) == 10
    assert quantize(9.4, P10) == 9
    assert quantize(3.3, STARS) == 3.5
    assert quantize(3.2, STARS) == 3.0
    assert quantize(11, P10) == 10
    assert quantize(0.2, STARS) == 1
    assert quantize(7, P10) == 7


def test_a_tie_between_two_steps_that_both_round_trip_rounds_half_up():
    # 1.5 of 1-5 stars is 12.5/100: 12 and 13 both come back as 1.5; half up wins.
    assert convert(Rating(1.5, STARS), P100).value == 13
    assert convert(Rating(2, STARS), P10).value == 3
    assert convert(Rating(4, STARS), P10).value == 8
