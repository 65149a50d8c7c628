"""Date precision: a compatible extension of the 0.1.0a1 provider contract.

The seed contract knows two temporal precisions (`TemporalPrecision.DATE` and
`DATETIME`), both of them exact. Trackers also keep *partial* dates: AniList's
`FuzzyDate` may lack a day or a month, MyAnimeList returns ``2021`` or ``2020-03``.
Reading those as the first of the period invents a day nobody entered, and a
"March 2020" on one tracker then overwrites an exact 2020-03-04 on the other.

This module carries the precision without changing a single name of the seed's API
(`anibridge.provider.base` stays byte-for-byte the published surface):

- A partial date is still a `datetime` (so `Value`, `Record` and every provider
  written against the seed keep working): `YearDate` / `MonthDate` are `datetime`
  subclasses standing for a whole year or month, valued at the first instant of the
  period (midnight UTC, like the contract's DATE convention). They compare *unequal*
  to a plain datetime of the same instant: "March 2020" is not 2020-03-01.
- `date_precision(value, field_precision)` names a value's precision:
  YEAR / MONTH for those types, DAY for a plain value of a DATE field, INSTANT
  for a plain value of a DATETIME field.
- A provider that stores partial dates says so with `PartialDates()` in the field's
  constraints: a `TemporalConstraint` subclass (DATE precision) that older readers
  still see as DATE. A provider without it never receives a partial date: the
  engine skips the write (reason ``imprecise``) instead of padding it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from anibridge.provider.base import TemporalConstraint, TemporalPrecision

__all__ = [
    "DatePrecision",
    "MonthDate",
    "PartialDates",
    "YearDate",
    "accepts_partial",
    "date_precision",
    "partial_date",
]


class DatePrecision(StrEnum):
    """How much of a date is known, coarsest first (the order is meaningful)."""

    YEAR = "year"
    MONTH = "month"
    DAY = "day"
    INSTANT = "instant"

    @property
    def rank(self) -> int:
        """0 for YEAR up to 3 for INSTANT: a higher rank is more precise."""
        return _RANK[self]


_RANK = {
    DatePrecision.YEAR: 0,
    DatePrecision.MONTH: 1,
    DatePrecision.DAY: 2,
    DatePrecision.INSTANT: 3,
}


class _PeriodDate(datetime):
    """A datetime that stands for a whole period, valued at its first instant."""

    __slots__ = ()
    precision: DatePrecision

    def __new__(cls, *args: Any, **kwargs: Any) -> _PeriodDate:
        """Build and check the value: midnight UTC of the period's first day.

        Raises:
            ValueError: the value is not the first instant of its period in UTC
                (arithmetic on a partial date lands here instead of silently
                producing a wrong "partial" value).
        """
        value = super().__new__(cls, *args, **kwargs)
        if (
            value.tzinfo is None
            or value.utcoffset() != timedelta(0)
            or (value.hour, value.minute, value.second, value.microsecond)
            != (0, 0, 0, 0)
            or value.day != 1
            or (cls.precision is DatePrecision.YEAR and value.month != 1)
        ):
            raise ValueError(
                f"{cls.__name__} must be midnight UTC on the first day of its "
                f"{cls.precision.value}, got {datetime.isoformat(value)}"
            )
        return value

    def __eq__(self, other: object) -> bool:
        """Equal only to the same period at the same precision."""
        if isinstance(other, datetime):
            return type(other) is type(self) and datetime.__eq__(self, other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        """The negation of `__eq__`."""
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        """Hash apart from the plain datetime of the same instant."""
        return hash((self.precision.value, datetime.__hash__(self)))

    def __repr__(self) -> str:
        """``MonthDate(2020-03)``: the period, not a padded day."""
        return f"{type(self).__name__}({self.period_text()})"

    def period_text(self) -> str:
        """The period in ISO-8601 reduced precision: ``2020`` or ``2020-03``."""
        if self.precision is DatePrecision.YEAR:
            return f"{self.year:04d}"
        return f"{self.year:04d}-{self.month:02d}"


class YearDate(_PeriodDate):
    """A date known only to its year (midnight UTC, 1 January)."""

    __slots__ = ()
    precision = DatePrecision.YEAR


class MonthDate(_PeriodDate):
    """A date known only to its month (midnight UTC, the 1st)."""

    __slots__ = ()
    precision = DatePrecision.MONTH


def partial_date(year: int, month: int | None = None) -> YearDate | MonthDate:
    """The partial date for a year, or a year and month.

    Raises:
        ValueError: the year or month is out of range.
    """
    if month is None:
        return YearDate(year, 1, 1, tzinfo=UTC)
    return MonthDate(year, month, 1, tzinfo=UTC)


def date_precision(
    value: datetime, field: TemporalPrecision | None = None
) -> DatePrecision:
    """How precise one contract date value is.

    Args:
        value: A contract datetime (UTC).
        field: The precision the field advertises (`TemporalConstraint`); a plain
            value of a DATE field is a calendar day, of a DATETIME field (or an
            unconstrained one) an instant.
    """
    if isinstance(value, _PeriodDate):
        return value.precision
    if field is TemporalPrecision.DATE:
        return DatePrecision.DAY
    return DatePrecision.INSTANT


@dataclass(frozen=True, slots=True)
class PartialDates(TemporalConstraint):
    """DATE precision that also stores dates known only to the month or the year.

    Put it in a date field's `FieldSpec.constraints` instead of
    `TemporalConstraint(TemporalPrecision.DATE)`: readers of the seed contract still
    see a DATE constraint, and the engine may write `YearDate` / `MonthDate` values.
    """

    precision: TemporalPrecision = TemporalPrecision.DATE


def accepts_partial(constraints: tuple[object, ...] | None) -> bool:
    """Whether a field's constraints declare that it stores partial dates."""
    return any(isinstance(c, PartialDates) for c in constraints or ())
