"""The scheduler: per-profile workers plus the loops that trigger them.

Profiles run in parallel (one worker each); within a profile everything is serial.
Loops: the periodic full scan (interval or cron), change-feed polling (incremental
runs; the runner reads and commits the stored cursors) and a daily mappings refresh.
Stopping lets each worker finish its current batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from anibridge.app.scheduler.events import EventBus
from anibridge.app.scheduler.requests import Runner, RunResult, SyncMode, SyncRequest
from anibridge.app.scheduler.timing import Timing, next_fire
from anibridge.app.scheduler.worker import ProfileWorker

__all__ = ["ProfileSchedule", "Scheduler"]

log = logging.getLogger(__name__)

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class ProfileSchedule:
    """When a profile syncs by itself.

    Attributes:
        scan: Full scans (interval or cron); None = only when triggered.
        poll: Change-feed polling (incremental runs); None = off.
        webhooks: Whether inbound webhooks may trigger targeted runs.
    """

    scan: Timing | None = None
    poll: Timing | None = None
    webhooks: bool = True


class Scheduler:
    """Owns the profile workers and their timers.

    Args:
        runner: The engine glue that performs a run.
        schedules: Profile name → its schedule.
        bus: Event bus for live updates.
        refresh_mappings: Coroutine run daily (and once at start) to update the
            mappings dataset; returns a short status string for the log.
        mappings_every: Seconds between mappings refreshes.
    """

    def __init__(
        self,
        runner: Runner,
        schedules: Mapping[str, ProfileSchedule],
        *,
        bus: EventBus | None = None,
        refresh_mappings: Callable[[], Awaitable[str]] | None = None,
        mappings_every: float = DAY,
    ) -> None:
        """Create a stopped scheduler."""
        self.bus = bus or EventBus()
        self.runner = runner
        self.schedules = dict(schedules)
        self.workers = {
            name: ProfileWorker(name, runner, bus=self.bus) for name in schedules
        }
        self._refresh = refresh_mappings
        self._mappings_every = mappings_every
        self._tasks: list[asyncio.Task[None]] = []
        self.started_at: str | None = None
        self.mappings_status: dict[str, Any] = {}
        self.running = False

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        """Start every worker and timer loop on the running loop."""
        self.started_at = datetime.now(UTC).isoformat()
        self.running = True
        for name, worker in self.workers.items():
            worker.start()
            schedule = self.schedules[name]
            if schedule.scan is not None:
                self._spawn(self._timer(name, schedule.scan, SyncMode.FULL, "schedule"))
            if schedule.poll is not None:
                self._spawn(
                    self._timer(name, schedule.poll, SyncMode.INCREMENTAL, "poll")
                )
        if self._refresh is not None:
            self._spawn(self._mappings_loop())

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop timers, then let each worker finish its current batch (in parallel)."""
        self.running = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await asyncio.gather(*(w.stop(timeout) for w in self.workers.values()))

    def _spawn(self, coro: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    # -- triggering ------------------------------------------------------------
    def worker(self, profile: str) -> ProfileWorker:
        """The worker of a profile.

        Raises:
            KeyError: no such profile (the message lists the known ones).
        """
        try:
            return self.workers[profile]
        except KeyError:
            known = ", ".join(sorted(self.workers)) or "none"
            raise KeyError(f"unknown profile {profile!r} (known: {known})") from None

    def trigger(self, profile: str, request: SyncRequest) -> asyncio.Future[RunResult]:
        """Queue a sync on one profile; the future resolves when its run finishes."""
        future = self.worker(profile).trigger(request)
        future.add_done_callback(_observe)
        return future

    # -- loops -----------------------------------------------------------------
    async def _timer(
        self, profile: str, timing: Timing, mode: SyncMode, reason: str
    ) -> None:
        last: datetime | None = None
        while True:
            now = datetime.now(UTC)
            due = next_fire(timing, now, last=last)
            await asyncio.sleep(max(0.0, (due - now).total_seconds()))
            last = datetime.now(UTC)
            try:
                await self.trigger(profile, SyncRequest(mode, reasons=(reason,)))
            except Exception:
                log.exception("profile %s: scheduled %s run failed", profile, mode)

    async def _mappings_loop(self) -> None:
        assert self._refresh is not None
        while True:
            started = datetime.now(UTC).isoformat()
            try:
                outcome = await self._refresh()
                self.mappings_status = {"at": started, "status": outcome}
            except Exception as exc:
                log.exception("mappings refresh failed")
                self.mappings_status = {"at": started, "error": str(exc)}
            self.bus.publish("mappings_refreshed", **self.mappings_status)
            await asyncio.sleep(self._mappings_every)

    # -- status ----------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Scheduler status for the API and dashboard."""
        return {
            "running": self.running,
            "started_at": self.started_at,
            "mappings": self.mappings_status,
            "profiles": {
                name: {
                    **worker.state(),
                    "scan": _describe(self.schedules[name].scan),
                    "poll": _describe(self.schedules[name].poll),
                    "webhooks": self.schedules[name].webhooks,
                }
                for name, worker in self.workers.items()
            },
        }


def _describe(timing: Timing | None) -> str:
    return timing.describe() if timing else "off"


def _observe(future: asyncio.Future[Any]) -> None:
    # Mark exceptions as retrieved: fire-and-forget triggers (webhooks) must not
    # spam "exception was never retrieved"; the worker already logged them.
    if not future.cancelled():
        future.exception()
