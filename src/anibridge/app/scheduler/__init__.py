"""The service's scheduler: when and how often each profile syncs.

One `ProfileWorker` per profile runs everything that writes for that profile, one job
at a time; concurrent sync triggers coalesce into the pending request. `Scheduler`
owns the workers, the interval/cron and change-feed loops and the daily mappings
refresh. Pure pieces (`requests`, `timing`) are separate from the asyncio machinery.
"""

from __future__ import annotations

from anibridge.app.scheduler.events import EventBus
from anibridge.app.scheduler.requests import (
    MAX_PENDING_REFS,
    InboundRefs,
    Runner,
    RunResult,
    SyncMode,
    SyncRequest,
    merge_requests,
)
from anibridge.app.scheduler.service import ProfileSchedule, Scheduler
from anibridge.app.scheduler.timing import Timing, next_fire, parse_timing
from anibridge.app.scheduler.worker import ProfileWorker, WorkerStopped

__all__ = [
    "MAX_PENDING_REFS",
    "EventBus",
    "InboundRefs",
    "ProfileSchedule",
    "ProfileWorker",
    "RunResult",
    "Runner",
    "Scheduler",
    "SyncMode",
    "SyncRequest",
    "Timing",
    "WorkerStopped",
    "merge_requests",
    "next_fire",
    "parse_timing",
]
