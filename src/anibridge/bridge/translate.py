"""Semantic values → a target's native values, and "is this a change?".

Each field is normalized under the target's `FieldSpec` before it is compared with the
target's current value, so a value the target would store differently (rounded rating,
date-only timestamp, truncated note, clamped progress) never causes a write by itself:

- STATUS picks the target's native label for the semantic. A target without that
  semantic gets the next one along `STATUS_FALLBACK` (REPEATING → COMPLETED → ACTIVE:
  a tracker without a rewatch status keeps the entry completed — the rewatch shows in
  the repeat count — instead of demoting it to watching, upstream #263), and the
  action's reason says so.
- RATING converts through `anibridge.ratings` on the target's scale.
- Dates compare at the coarser precision of the two sides (year, month, day,
  instant; `anibridge.dates.compare_dates`); a DATE side meets an instant on its
  calendar day in the user's timezone (upstream #207). Equal there means in sync,
  so a less precise date never replaces a more precise one inside its period. A
  partial date is written as partial where the target declares
  `anibridge.provider.precision.PartialDates`, otherwise not at all (`imprecise`).
- NOTES are truncated to `TextConstraint.max_length` (reported).
- PROGRESS/REPEAT_COUNT floor to the step and clamp to the range; PROGRESS compares
  `current` only, keeping the target's own total/unit when it owns them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo
from typing import Any

from anibridge import ratings
from anibridge.dates import calendar_date, compare_dates, date_text, date_to_utc
from anibridge.provider.base import (
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
    Value,
)
from anibridge.provider.precision import DatePrecision, accepts_partial, date_precision

__all__ = ["STATUS_FALLBACK", "Translated", "precision", "translate"]

STATUS_FALLBACK: Mapping[Status, tuple[Status, ...]] = {
    Status.REPEATING: (Status.COMPLETED, Status.ACTIVE),
    Status.PAUSED: (Status.ACTIVE,),
    Status.DROPPED: (),
    Status.PLANNED: (),
    Status.ACTIVE: (),
    Status.COMPLETED: (),
}

_DATES = frozenset(
    {RecordField.STARTED_AT, RecordField.FINISHED_AT, RecordField.LAST_ACTIVITY_AT}
)


@dataclass(frozen=True, slots=True)
class Translated:
    """A native value for the target, whether it equals the current one, and notes.

    `value` None means the target cannot represent the desired value at all;
    `imprecise` says why: a partial date the target would have to pad.
    """

    value: Value | None
    equal: bool = False
    note: str = ""
    imprecise: bool = False


def _constraint[C](spec: FieldSpec | None, kind: type[C]) -> C | None:
    if spec is None:
        return None
    for c in spec.constraints:
        if isinstance(c, kind):
            return c
    return None


def precision(spec: FieldSpec | None) -> TemporalPrecision:
    """The temporal precision a field advertises (DATETIME when unstated)."""
    c = _constraint(spec, TemporalConstraint)
    return c.precision if c else TemporalPrecision.DATETIME


def _quantize(value: float, c: NumericConstraint | None) -> float:
    """`value` floored to the constraint's step (counts: a partial unit is not one)."""
    if c is None:
        return value
    if c.step:
        origin = c.minimum or 0.0
        n = math.floor((value - origin) / c.step + 1e-9)  # float noise below a step
        value = origin + n * c.step
    if c.minimum is not None:
        value = max(value, c.minimum)
    if c.maximum is not None:
        value = min(value, c.maximum)
    return value


def _status(desired: Status, spec: FieldSpec, current: Any) -> Translated:
    labels = {}
    for d in spec.values:
        if d.semantic is not None:
            labels.setdefault(d.semantic, d.native)
    note = ""
    chosen = desired
    if desired not in labels:
        for alt in STATUS_FALLBACK[desired]:  # every Status has an entry
            if alt in labels:
                chosen = alt
                note = (
                    f"target has no {desired.value} status; wrote {alt.value} "
                    "(fallback)"
                )
                break
        else:
            return Translated(None, note=f"target has no {desired.value} status")
    value = State(labels[chosen], chosen)
    equal = isinstance(current, State) and (
        current.status is chosen
        or (current.status is None and current.native == value.native)
    )
    return Translated(value, equal, note)


def _progress(n: int, spec: FieldSpec, current: Any, total: int | None) -> Translated:
    pc = _constraint(spec, ProgressConstraint)
    amount = _quantize(float(n), pc.current if pc else None)
    value_n: int | float = int(amount) if float(amount).is_integer() else amount
    if isinstance(current, Progress):
        new_total = current.total
        if new_total is None and total and (pc is None or pc.total):
            new_total = total
        value = Progress(value_n, new_total, current.unit)
        equal = current.current is not None and float(current.current) == amount
        return Translated(value, equal)
    owns_total = pc is None or pc.total
    owns_unit = pc is None or pc.unit
    value = Progress(
        value_n,
        total if owns_total and total else None,
        "episode" if owns_unit else None,
    )
    return Translated(value)


def _rating(r: Rating, spec: FieldSpec, current: Any) -> Translated:
    existing = current if isinstance(current, Rating) else None
    scale = ratings.scale_for(_constraint(spec, NumericConstraint), existing, r.scale)
    value = ratings.convert(r, scale)
    equal = existing is not None and ratings.same_rating(r, existing)
    return Translated(value, equal)


def _date(
    value: datetime,
    src: TemporalPrecision,
    spec: FieldSpec,
    current: Any,
    tz: tzinfo,
) -> Translated:
    dst = precision(spec)
    have = date_precision(value, src)
    if isinstance(current, datetime) and (
        compare_dates(value, have, current, date_precision(current, dst), tz) == 0
    ):
        # Equal at the coarser precision: a partial date inside the other's period,
        # a datetime on the other's calendar day. Neither replaces the other.
        return Translated(current, True)
    if have in (DatePrecision.YEAR, DatePrecision.MONTH):
        if accepts_partial(spec.constraints):
            return Translated(value)
        return Translated(
            None,
            note=(
                f"only the {have.value} is known ({date_text(value)}) and the target "
                "stores full dates: not padded to an invented day"
            ),
            imprecise=True,
        )
    if dst is TemporalPrecision.DATE:
        return Translated(date_to_utc(calendar_date(value, _exact(have), tz)))
    if have is DatePrecision.DAY:
        day = calendar_date(value, TemporalPrecision.DATE)
        return Translated(datetime.combine(day, time(), tzinfo=tz).astimezone(UTC))
    return Translated(value)


def _exact(have: DatePrecision) -> TemporalPrecision:
    return (
        TemporalPrecision.DATETIME
        if have is DatePrecision.INSTANT
        else TemporalPrecision.DATE
    )


def _text(text: str, spec: FieldSpec, current: Any) -> Translated:
    c = _constraint(spec, TextConstraint)
    note = ""
    if c and c.max_length is not None and len(text) > c.max_length:
        note = f"notes truncated from {len(text)} to {c.max_length} characters"
        text = text[: c.max_length]
    return Translated(text, current == text, note)


def _count(n: int, spec: FieldSpec, current: Any) -> Translated:
    value = int(_quantize(float(n), _constraint(spec, NumericConstraint)))
    if current is None:
        return Translated(value, value == 0)  # no rewatches == none recorded
    equal = isinstance(current, int) and not isinstance(current, bool)
    return Translated(value, equal and current == value)


def translate(
    field: RecordField,
    desired: Any,
    spec: FieldSpec,
    current: Value | None,
    *,
    source_spec: FieldSpec | None = None,
    tz: tzinfo = UTC,
    total: int | None = None,
) -> Translated:
    """The target-native form of a semantic value, compared with `current`.

    Args:
        field: The record field.
        desired: The semantic value (see `derive.Desired`).
        spec: The target's field spec.
        current: The target's current value (None = unset).
        source_spec: The source's spec of the same field (its date precision).
        tz: The user's timezone for date-only sides.
        total: The target's unit total, written with new progress when owned.

    Returns:
        The native value, whether it equals `current`, and any note.
    """
    if field is RecordField.STATUS:
        return _status(desired, spec, current)
    if field is RecordField.PROGRESS:
        return _progress(desired, spec, current, total)
    if field is RecordField.RATING:
        return _rating(desired, spec, current)
    if field in _DATES:
        return _date(desired, precision(source_spec), spec, current, tz)
    if field is RecordField.NOTES:
        return _text(desired, spec, current)
    return _count(desired, spec, current)
