"""What a sync trigger asks for, how two triggers merge, and what a run returns.

Merging is the heart of coalescing: while a profile is busy, every new trigger folds
into one pending request, so a burst of 100 webhooks becomes one targeted run that
still carries all 100 payloads (nothing is dropped, only batched).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from anibridge.provider.base import InboundRequest

__all__ = [
    "InboundItem",
    "RunResult",
    "Runner",
    "SyncMode",
    "SyncRequest",
    "merge_requests",
]


class SyncMode(StrEnum):
    """How much of the source to look at, from least to most."""

    TARGETED = "targeted"  # only refs named by inbound changes
    INCREMENTAL = "incremental"  # change feeds from the stored cursors
    FULL = "full"  # scan everything

    @property
    def rank(self) -> int:
        """Order for merging: a wider mode subsumes a narrower one."""
        return _RANK[self]


_RANK = {SyncMode.TARGETED: 0, SyncMode.INCREMENTAL: 1, SyncMode.FULL: 2}


@dataclass(frozen=True, slots=True)
class InboundItem:
    """One authenticated webhook payload for a provider key, parsed by the runner."""

    provider: str
    request: InboundRequest
    received_at: str = ""


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """A request to sync one profile.

    Attributes:
        mode: How much to scan (see `SyncMode`).
        dry_run: Plan only, write nothing (the plan is kept for review).
        inbound: Webhook payloads whose changes a targeted run must cover.
        reasons: Who asked (``schedule``, ``poll``, ``webhook:local``, ``api``...).
    """

    mode: SyncMode = SyncMode.INCREMENTAL
    dry_run: bool = False
    inbound: tuple[InboundItem, ...] = ()
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Compact JSON description (payloads counted, not echoed)."""
        return {
            "mode": self.mode.value,
            "dry_run": self.dry_run,
            "inbound": len(self.inbound),
            "reasons": list(self.reasons),
        }


def merge_requests(a: SyncRequest, b: SyncRequest) -> SyncRequest:
    """Fold two pending requests into one that covers both.

    The wider mode wins, inbound payloads are concatenated in arrival order and reasons
    are kept once each. Dry runs never merge with real runs (a dry run must not
    write, and a real run must not be downgraded).

    Raises:
        ValueError: one request is a dry run and the other is not.
    """
    if a.dry_run != b.dry_run:
        raise ValueError("a dry run cannot be merged with a real run")
    mode = a.mode if a.mode.rank >= b.mode.rank else b.mode
    reasons = tuple(dict.fromkeys(a.reasons + b.reasons))
    return SyncRequest(mode, a.dry_run, a.inbound + b.inbound, reasons)


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one job on a profile worker.

    Attributes:
        status: ``ok``, ``partial``, ``failed``, ``refused``, ``skipped`` (nothing to
            do, e.g. no inbound payload matched) or ``cancelled``.
        run_id: The run's id in the store, when one was recorded.
        plan_id: The plan produced (dry runs keep it for review).
        summary: Counts for display (actions, applied, failed, skipped...).
        error: Human message when the job failed.
        request: The (merged) request that ran, as `SyncRequest.to_json`.
    """

    status: str
    run_id: str | None = None
    plan_id: str | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    request: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON form for the API and live events."""
        return {
            "status": self.status,
            "run_id": self.run_id,
            "plan_id": self.plan_id,
            "summary": dict(self.summary),
            "error": self.error,
            "request": dict(self.request),
        }


class Runner(Protocol):
    """What the scheduler calls to actually sync a profile (the app's engine glue)."""

    async def run(self, profile: str, request: SyncRequest) -> RunResult:
        """Sync `profile` as `request` asks and report what happened."""
        ...
