"""Rating-scale conversion: every scale meets through a 0-1 normalized value.

Trackers use 0-100, 0-10 with halves, 1-5 stars, 3-point smileys; servers 0-10. A
rating is converted by normalizing it on its own scale, placing it on the target scale
and snapping to the target step. Snapping loses information, so "is this a change?" is
answered on the target's scale: if the existing target rating is what the source
rating converts to, a write would be rounding noise and is not planned.
"""

from __future__ import annotations

import math

from anibridge.provider.base import NumericConstraint, Rating

__all__ = ["convert", "normalize", "same_rating", "scale_for"]


def _check_scale(scale: tuple[float, float, float]) -> None:
    lo, hi, step = scale
    if not hi > lo:
        raise ValueError(f"rating scale {scale!r}: max must be greater than min")
    if step < 0:
        raise ValueError(f"rating scale {scale!r}: step must be >= 0")


def normalize(rating: Rating) -> float:
    """The rating as a fraction of its scale, clamped to 0-1.

    Raises:
        ValueError: the rating's scale is empty or inverted.
    """
    _check_scale(rating.scale)
    lo, hi, _ = rating.scale
    return min(1.0, max(0.0, (rating.value - lo) / (hi - lo)))


def _snap(value: float, lo: float, hi: float, step: float) -> float:
    if step > 0:
        # Round half up from the scale origin; tolerate float noise at .5.
        n = math.floor((value - lo) / step + 0.5 + 1e-9)
        value = lo + n * step
        digits = max(0, -math.floor(math.log10(step)) + 1) if step < 1 else 0
        value = round(value, digits + 6)
    return min(hi, max(lo, value))


def convert(rating: Rating, scale: tuple[float, float, float]) -> Rating:
    """Place `rating` on `scale` (min, max, step), snapped to the step.

    Raises:
        ValueError: either scale is empty or inverted.
    """
    _check_scale(scale)
    lo, hi, step = scale
    if tuple(rating.scale) == tuple(scale):
        return Rating(_snap(rating.value, lo, hi, step), scale)
    value = lo + normalize(rating) * (hi - lo)
    return Rating(_snap(value, lo, hi, step), scale)


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
