"""Rating-scale conversion: every scale meets through a 0-1 normalized value.

Trackers use 0-100, 0-10 with halves, 1-5 stars, 3-point smileys; servers 0-10. A
rating is converted by normalizing it on its own scale, placing it on the target scale
and snapping to the target step.

Two kinds of scale normalize differently. A *count* scale starts one step above zero
(0 < min <= step: Trakt's 1-10, where 0 means "unrated"): its value is a count of
points out of max, so 8/10 is 0.8 and lands on 80/100 as users expect. Any other scale
is an *interval* (0-100, 0-3 smileys, 1-5 stars in halves) and normalizes as
(v - min) / (max - min). Placing a fraction on a scale inverts the same
rule, snaps to the step (count scales from 0, intervals from min) and clamps into
[min, max]. Snapping loses information, so "is this a change?" is
answered on the target's scale: if the existing target rating is what the source
rating converts to, a write would be rounding noise and is not planned.
"""

from __future__ import annotations

import math

from anibridge.provider.base import NumericConstraint, Rating

__all__ = [
    "convert",
    "is_count_scale",
    "normalize",
    "quantize",
    "same_rating",
    "scale_for",
]


def _check_scale(scale: tuple[float, float, float]) -> None:
    lo, hi, step = scale
    if not hi > lo:
        raise ValueError(f"rating scale {scale!r}: max must be greater than min")
    if step < 0:
        raise ValueError(f"rating scale {scale!r}: step must be >= 0")


def is_count_scale(scale: tuple[float, float, float]) -> bool:
    """Whether `scale` counts points out of max (0 < min <= step; 0 = unrated)."""
    lo, _, step = scale
    return 0 < lo <= step


def normalize(rating: Rating) -> float:
    """The rating as a fraction of its scale, clamped to 0-1.

    Raises:
        ValueError: the rating's scale is empty or inverted.
    """
    _check_scale(rating.scale)
    lo, hi, _ = rating.scale
    if is_count_scale(rating.scale):
        return min(1.0, max(0.0, rating.value / hi))
    return min(1.0, max(0.0, (rating.value - lo) / (hi - lo)))


def _snap(value: float, lo: float, hi: float, step: float, origin: float) -> float:
    if step > 0:
        # Round half up from the scale origin; tolerate float noise at .5.
        n = math.floor((value - origin) / step + 0.5 + 1e-9)
        value = origin + n * step
        digits = max(0, -math.floor(math.log10(step)) + 1) if step < 1 else 0
        value = round(value, digits + 6)
    return min(hi, max(lo, value))


def _place(rating: Rating, scale: tuple[float, float, float]) -> tuple[float, float]:
    """The unsnapped position of `rating` on `scale`, and the nearest step on it."""
    lo, hi, step = scale
    origin = 0.0 if is_count_scale(scale) else lo
    if tuple(rating.scale) == tuple(scale):
        raw = rating.value
    else:
        fraction = normalize(rating)
        raw = fraction * hi if origin == 0.0 else lo + fraction * (hi - lo)
    return raw, _snap(raw, lo, hi, step, origin)


def _nearest(rating: Rating, scale: tuple[float, float, float]) -> float:
    return _place(rating, scale)[1]


def convert(rating: Rating, scale: tuple[float, float, float]) -> Rating:
    """Place `rating` on `scale` (min, max, step), snapped to the step.

    Of the steps next to the exact position, the nearest one that converts back to
    the original value is preferred, so a value synced there and back settles at
    once instead of drifting one step per round trip (0 on a 0-3 scale and 1 on a
    1-5 scale are each other's images).

    Raises:
        ValueError: either scale is empty or inverted.
    """
    _check_scale(scale)
    _check_scale(rating.scale)
    lo, hi, step = scale
    raw, nearest = _place(rating, scale)
    if step <= 0 or tuple(rating.scale) == tuple(scale):
        return Rating(nearest, scale)
    origin = 0.0 if is_count_scale(scale) else lo
    candidates = sorted(
        {
            _snap(nearest + offset, lo, hi, step, origin)
            for offset in (-step, 0.0, step)
        },
        key=lambda value: (abs(value - raw), value != nearest),
    )
    own = _nearest(rating, rating.scale)
    for value in candidates:
        if math.isclose(
            _nearest(Rating(value, scale), rating.scale), own, abs_tol=1e-9
        ):
            return Rating(value, scale)
    return Rating(nearest, scale)


def scale_for(
    constraint: NumericConstraint | None,
    existing: Rating | None = None,
    fallback: tuple[float, float, float] = (0.0, 100.0, 1.0),
) -> tuple[float, float, float]:
    """The scale to write a rating on: the target's current one, else its constraint.

    A target that rates on a user-chosen scale (AniList score formats) reports it on
    the existing rating; otherwise the field's `NumericConstraint` describes it.
    """
    if existing is not None:
        return existing.scale
    if constraint and constraint.minimum is not None and constraint.maximum is not None:
        return (constraint.minimum, constraint.maximum, constraint.step or 0.0)
    return fallback


def same_rating(source: Rating, target: Rating) -> bool:
    """Whether writing `source` onto `target`'s scale would leave it unchanged."""
    return math.isclose(
        convert(source, target.scale).value, target.value, abs_tol=1e-6
    ) or math.isclose(normalize(source), normalize(target), abs_tol=1e-9)


def quantize(value: float, scale: tuple[float, float, float]) -> float:
    """`value` snapped to the nearest step of its own `scale` (half up), clamped.

    For services that store values off the step they use (Plex keeps a 9.5 a
    client wrote on its whole-number 0-10 scale): read as the value the scale can
    hold, so it compares and converts like any other rating.

    Raises:
        ValueError: the scale is empty or inverted.
    """
    return convert(Rating(value, scale), scale).value
