"""Time and date rules shared by every provider and the engine.

Every datetime crossing the provider contract is timezone-aware UTC. A field advertised
with `TemporalPrecision.DATE` carries a *calendar date*; by convention it crosses the
contract as midnight UTC of that date, and the engine reads it back with
`calendar_date(..., precision=DATE)`, which never shifts it through a timezone (so a
date written on one side compares equal when read back on the other). A DATETIME value
becomes a calendar date in the user's timezone.

Dates also come *partial* (a year, or a year and month: AniList FuzzyDates, MAL's
``2021`` / ``2020-03``), carried as `anibridge.provider.precision.YearDate` /
`MonthDate`. Two dates compare at the coarser of their precisions
(`compare_dates`): "March 2020" and 2020-03-04 are the same date as far as anyone
knows, so neither replaces the other; 2019 and 2020-03-04 differ.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo

from anibridge.messages import quote
from anibridge.provider.base import TemporalPrecision
from anibridge.provider.precision import DatePrecision, date_precision, partial_date

__all__ = [
    "as_utc",
    "calendar_date",
    "compare_dates",
    "date_text",
    "date_to_utc",
    "from_epoch",
    "parse_date_text",
    "parse_iso",
    "resolve_timezone",
    "to_epoch",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Convert an aware datetime to UTC; refuse naive ones loudly.

    Raises:
        ValueError: `value` is naive, so its instant is unknown.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no timezone")
    return value.astimezone(UTC)


def from_epoch(seconds: float | int) -> datetime:
    """A UTC datetime from POSIX epoch seconds (as Plex and many APIs send)."""
    return datetime.fromtimestamp(seconds, UTC)


def to_epoch(value: datetime) -> int:
    """Whole POSIX epoch seconds of an aware datetime."""
    return int(as_utc(value).timestamp())


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 timestamp (``Z`` allowed) into UTC.

    A timestamp without an offset is taken as UTC, which is what every supported
    service means by one.

    Raises:
        ValueError: `text` is not an ISO-8601 timestamp.
    """
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    parsed = datetime.fromisoformat(cleaned)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def date_to_utc(value: date) -> datetime:
    """The contract form of a calendar date: midnight UTC of that date."""
    return datetime.combine(value, time(0, 0), tzinfo=UTC)


def resolve_timezone(name: str | None) -> tzinfo:
    """The user's timezone by IANA name; ``None``/empty means UTC.

    Raises:
        ValueError: the name is not a known IANA timezone.
    """
    if not name or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as exc:
        raise ValueError(
            f"unknown timezone {quote(name)} (use an IANA name such as 'Europe/Berlin')"
        ) from exc


def calendar_date(
    value: datetime,
    precision: TemporalPrecision = TemporalPrecision.DATETIME,
    tz: tzinfo = UTC,
) -> date:
    """The calendar date a contract datetime stands for.

    DATE-precision values are already calendar dates (midnight UTC) and are read in
    UTC; DATETIME values are instants and are read in the user's timezone `tz`.
    """
    if precision is TemporalPrecision.DATE:
        return as_utc(value).date()
    return as_utc(value).astimezone(tz).date()


def _day(value: datetime, precision: DatePrecision, tz: tzinfo) -> date:
    """The calendar day a value falls on: instants in `tz`, dates as they are."""
    if precision is DatePrecision.INSTANT:
        return as_utc(value).astimezone(tz).date()
    return as_utc(value).date()


def compare_dates(
    a: datetime,
    a_precision: DatePrecision,
    b: datetime,
    b_precision: DatePrecision,
    tz: tzinfo = UTC,
) -> int:
    """-1, 0 or 1 as `a` is before, the same as, or after `b` at the coarser precision.

    Two instants are the same within a second (services store no finer); an instant
    meets a date in the user's timezone `tz`; dates (day, month, year) are read as
    they are. 0 means "no evidence they differ": a less precise date inside the
    other's period.
    """
    coarse = min(a_precision, b_precision, key=lambda p: p.rank)
    if coarse is DatePrecision.INSTANT:
        delta = (as_utc(a) - as_utc(b)).total_seconds()
        return 0 if abs(delta) < 1.0 else (1 if delta > 0 else -1)
    da, db = _day(a, a_precision, tz), _day(b, b_precision, tz)
    if coarse is DatePrecision.YEAR:
        ka: tuple[int, ...] = (da.year,)
        kb: tuple[int, ...] = (db.year,)
    elif coarse is DatePrecision.MONTH:
        ka, kb = (da.year, da.month), (db.year, db.month)
    else:
        ka, kb = (da.year, da.month, da.day), (db.year, db.month, db.day)
    return (ka > kb) - (ka < kb)


def date_text(value: datetime, precision: TemporalPrecision | None = None) -> str:
    """A date as text at its own precision: ``2020``, ``2020-03``, ``2020-03-04``.

    An instant (a plain value of a DATETIME field) is its ISO-8601 UTC timestamp.
    """
    p = date_precision(value, precision)
    if p is DatePrecision.YEAR:
        return f"{value.year:04d}"
    if p is DatePrecision.MONTH:
        return f"{value.year:04d}-{value.month:02d}"
    if p is DatePrecision.DAY:
        return as_utc(value).date().isoformat()
    return as_utc(value).isoformat()


def parse_date_text(text: str) -> datetime:
    """Inverse of `date_text`: ``2020`` → YearDate, ``2020-03`` → MonthDate, etc.

    Raises:
        ValueError: `text` is none of those forms.
    """
    cleaned = text.strip()
    if len(cleaned) == 4 and cleaned.isdigit():
        return partial_date(int(cleaned))
    if len(cleaned) == 7 and cleaned[4] == "-" and cleaned.replace("-", "").isdigit():
        return partial_date(int(cleaned[:4]), int(cleaned[5:]))
    if len(cleaned) == 10:
        return date_to_utc(date.fromisoformat(cleaned))
    return parse_iso(cleaned)
