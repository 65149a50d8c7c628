"""Which profiles a hosted deployment's schedule tick queues, as a pure function.

The single-user service keeps one timer per profile. A hosted deployment has
thousands of profiles and any number of workers, so one periodic queue task runs
once a minute (procrastinate defers each tick exactly once, however many workers
run) and queues a sync for every profile whose schedule fell due since the previous
tick. Nothing is remembered between ticks: a cron schedule is due when it has a time
in ``(previous, now]``; an interval is due when ``now`` crossed a multiple of it,
shifted by a per-profile offset so a fleet on "every 6 h" does not all start on the
same minute. A tick that never ran (no worker up) is simply missed, like cron; the
next scan catches up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

from croniter import croniter

from anibridge.app.scheduler import ProfileSchedule
from anibridge.app.scheduler.timing import Timing

__all__ = ["TICK_SECONDS", "due", "due_jobs"]

TICK_SECONDS = 60


def _offset(profile: str, period: float) -> float:
    digest = hashlib.sha256(profile.encode()).digest()
    return int.from_bytes(digest[:8], "big") % max(1, int(period))


def due(timing: Timing, profile: str, previous: float, now: float) -> bool:
    """Whether `timing` fires in the epoch-second interval ``(previous, now]``."""
    if now <= previous:
        return False
    if timing.cron:
        start = datetime.fromtimestamp(previous, UTC)
        following = croniter(timing.cron, start).get_next(datetime)
        return following.timestamp() <= now
    assert timing.seconds is not None
    period = max(float(TICK_SECONDS), timing.seconds)
    shift = _offset(profile, period)
    return (now - shift) // period != (previous - shift) // period


def due_jobs(
    schedules: Mapping[str, ProfileSchedule], previous: float, now: float
) -> Iterator[tuple[str, str]]:
    """``(profile, mode)`` for every run due in ``(previous, now]``.

    A due full scan wins over a due poll of the same profile (it reads everything).
    """
    for profile, schedule in schedules.items():
        if schedule.scan is not None and due(schedule.scan, profile, previous, now):
            yield profile, "full"
        elif schedule.poll is not None and due(schedule.poll, profile, previous, now):
            yield profile, "incremental"
