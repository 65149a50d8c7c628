"""Schedules: an interval in seconds or a cron expression, and when they fire next.

Intervals fire immediately and then every N seconds (a fresh start catches up at
once); cron fires only at its times, like cron does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter

__all__ = ["Timing", "next_fire", "parse_timing"]


@dataclass(frozen=True, slots=True)
class Timing:
    """Either `seconds` (interval) or `cron` (expression, UTC)."""

    seconds: float | None = None
    cron: str | None = None

    def describe(self) -> str:
        """Short human form for the dashboard."""
        if self.cron:
            return f"cron {self.cron}"
        if self.seconds is None:
            return "manual"
        secs = int(self.seconds)
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if secs >= size and secs % size == 0:
                return f"every {secs // size} {unit}"
        return f"every {secs} s"


def parse_timing(value: object, *, where: str = "schedule") -> Timing | None:
    """Read a schedule setting: None/"" (off), seconds (int/float) or a cron string.

    Raises:
        ValueError: the value is neither; the message names `where`.
    """
    if value is None or value == "" or value is False:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{where}: expected seconds or a cron expression, got true")
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError(f"{where}: interval must be > 0 seconds, got {value}")
        return Timing(seconds=float(value))
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return parse_timing(int(text), where=where)
        if not croniter.is_valid(text):
            raise ValueError(f"{where}: {text!r} is not a valid cron expression")
        return Timing(cron=text)
    raise ValueError(
        f"{where}: expected seconds or a cron expression, got {type(value).__name__}"
    )


def next_fire(timing: Timing, now: datetime, *, last: datetime | None) -> datetime:
    """When `timing` fires next after `now` (aware UTC), given the last firing."""
    if timing.cron:
        return croniter(timing.cron, now).get_next(datetime)
    assert timing.seconds is not None
    if last is None:
        return now
    return max(now, last + timedelta(seconds=timing.seconds))
