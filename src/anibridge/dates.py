"""Time and date rules shared by every provider and the engine.

Every datetime crossing the provider contract is timezone-aware UTC. A field advertised
with `TemporalPrecision.DATE` carries a *calendar date*; by convention it crosses the
contract as midnight UTC of that date, and the engine reads it back with
`calendar_date(..., precision=DATE)`, which never shifts it through a timezone (so a
date written on one side compares equal when read back on the other). A DATETIME value
becomes a calendar date in the user's timezone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo

from anibridge.messages import quote
from anibridge.provider.base import TemporalPrecision

__all__ = [
    "as_utc",
    "calendar_date",
    "date_to_utc",
    "from_epoch",
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
