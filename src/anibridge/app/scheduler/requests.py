"""What a sync trigger asks for, how two triggers merge, and what a run returns.

Merging is the heart of coalescing: while a profile is busy, every new trigger folds
into one pending request, so a burst of 100 webhooks becomes one targeted run over
the union of the refs they named. Webhook bodies are parsed when they arrive and only
their refs are kept; the pending set is bounded (`MAX_PENDING_REFS`): past it the
request collapses into a full run, which reads everything anyway. Nothing is dropped,
and memory stays flat however many webhooks arrive while a run is busy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

__all__ = [
    "MAX_PENDING_REFS",
    "InboundRefs",
    "RunResult",
    "Runner",
    "SyncMode",
    "SyncRequest",
    "merge_requests",
]

# Refs a pending targeted request may hold; more become "read everything".
MAX_PENDING_REFS = 5_000


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
class InboundRefs:
    """What one webhook payload asks a profile to re-read (parsed at receipt).

    Attributes:
        matched: The payload is addressed to this profile's source.
        keys: Anchor keys of the source that changed.
        whole: A change named no ref: the source must be read whole.
    """

    matched: bool
    keys: frozenset[str] = frozenset()
    whole: bool = False

    @property
    def empty(self) -> bool:
        """Nothing to re-read (foreign payload, or one that changes nothing)."""
        return not self.matched or (not self.keys and not self.whole)


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """A request to sync one profile.

    Attributes:
        mode: How much to scan (see `SyncMode`).
        dry_run: Plan only, write nothing (the plan is kept for review).
        refs: Source anchor keys webhooks named; a targeted run re-reads these,
            an incremental run adds them to what the change feed reports.
        payloads: How many webhook payloads were folded into this request.
        reasons: Who asked (``schedule``, ``poll``, ``webhook:local``, ``api``...).
    """

    mode: SyncMode = SyncMode.INCREMENTAL
    dry_run: bool = False
    refs: frozenset[str] = frozenset()
    payloads: int = 0
    reasons: tuple[str, ...] = ()

    @classmethod
    def for_refs(
        cls,
        keys: Iterable[str],
        *,
        whole: bool = False,
        reason: str = "webhook",
        limit: int = MAX_PENDING_REFS,
    ) -> SyncRequest:
        """A targeted request for `keys` (full when `whole` or past `limit`)."""
        refs = frozenset(keys)
        if whole or len(refs) > limit:
            return cls(SyncMode.FULL, payloads=1, reasons=(reason,))
        return cls(SyncMode.TARGETED, refs=refs, payloads=1, reasons=(reason,))

    def to_json(self) -> dict[str, Any]:
        """Compact JSON description (refs counted, not listed)."""
        return {
            "mode": self.mode.value,
            "dry_run": self.dry_run,
            "refs": len(self.refs),
            "payloads": self.payloads,
            "reasons": list(self.reasons),
        }


def merge_requests(
    a: SyncRequest, b: SyncRequest, *, limit: int = MAX_PENDING_REFS
) -> SyncRequest:
    """Fold two pending requests into one that covers both.

    The wider mode wins, refs are united and reasons kept once each. A full run reads
    everything, so it carries no refs; more than `limit` refs collapse into a full
    run (the bound on a busy profile's pending set). Dry runs never merge with real
    runs (a dry run must not write, and a real run must not be downgraded).

    Raises:
        ValueError: one request is a dry run and the other is not.
    """
    if a.dry_run != b.dry_run:
        raise ValueError("a dry run cannot be merged with a real run")
    mode = a.mode if a.mode.rank >= b.mode.rank else b.mode
    reasons = tuple(dict.fromkeys(a.reasons + b.reasons))
    refs: frozenset[str] = frozenset()
    if mode is not SyncMode.FULL:
        refs = a.refs | b.refs if a.refs and b.refs else a.refs or b.refs
        if len(refs) > limit:
            mode, refs = SyncMode.FULL, frozenset()
    return SyncRequest(mode, a.dry_run, refs, a.payloads + b.payloads, reasons)


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
