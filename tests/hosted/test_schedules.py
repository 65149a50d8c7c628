"""The schedule tick's pure rule: which profiles fall due between two ticks."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

from anibridge.app.scheduler import ProfileSchedule
from anibridge.app.scheduler.timing import Timing
from anibridge.hosted.schedules import due, due_jobs

T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC).timestamp()


def fires(timing: Timing, profile: str, minutes: int) -> list[int]:
    """The minutes (ticks) in which `timing` fires for `profile`."""
    return [
        m
        for m in range(1, minutes + 1)
        if due(timing, profile, T0 + (m - 1) * 60, T0 + m * 60)
    ]


def test_cron_fires_at_its_times_only():
    assert fires(Timing(cron="*/15 * * * *"), "alice", 60) == [15, 30, 45, 60]
    assert fires(Timing(cron="30 6 * * *"), "alice", 120) == [30]


def test_an_interval_fires_once_per_period_at_a_per_profile_minute():
    hourly = Timing(seconds=3600)
    alice = fires(hourly, "alice", 180)
    bob = fires(hourly, "bob", 180)
    assert len(alice) == 3 and len(bob) == 3
    assert [b - a for a, b in pairwise(alice)] == [60, 60]
    # Spread: a fleet on the same interval does not all start in one minute.
    starts = {fires(hourly, f"user{n}", 60)[0] for n in range(50)}
    assert len(starts) > 20


def test_intervals_shorter_than_a_tick_fire_every_tick():
    assert fires(Timing(seconds=5), "alice", 5) == [1, 2, 3, 4, 5]


def test_a_tick_that_did_not_advance_fires_nothing():
    assert not due(Timing(seconds=60), "alice", T0, T0)


def test_a_due_scan_wins_over_a_due_poll():
    schedules = {
        "both": ProfileSchedule(
            scan=Timing(cron="* * * * *"), poll=Timing(cron="* * * * *")
        ),
        "poll": ProfileSchedule(poll=Timing(cron="* * * * *")),
        "manual": ProfileSchedule(),
    }
    assert sorted(due_jobs(schedules, T0, T0 + 60)) == [
        ("both", "full"),
        ("poll", "incremental"),
    ]
