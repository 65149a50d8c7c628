"""The run use case: sync or preview one profile, read the same way everywhere.

`anibridge sync`, `anibridge plan`, the web's Sync now / Preview / scheduled and
webhook runs all call `run_profile`, so a preview reads exactly what a sync would
read and both report the same counts. What is read (`plan_reads`):

- ``full``: everything. The change feeds' heads are still taken first, so the
  next incremental run starts from here.
- ``targeted``: only the anchors a webhook named (and their parts).
- ``incremental``: what the source's change feed reports since the cursor of
  the last clean run, re-read by anchor (webhook refs merged in). It reads
  everything instead when the source has no feed, when there is no cursor yet
  (a first run), when a change names no ref ("something was removed"), and for
  a two-way profile when the target has no feed or its feed reports a change
  (target changes matter there too), or when recovery just found that earlier
  writes did not land (the cursor moved past the change that planned them).
  Nothing reported on either side: nothing changed, no provider is read further.

Cursors are committed only after a clean, non-dry run (`RunOutcome.commit`), so
a partial run re-reads the same changes next time (re-planning what succeeded is a
no-op). Feeds are polled with `anibridge.bridge.collect.changes_since`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from anibridge.app.session import Session, summarize
from anibridge.bridge.collect import changes_since, collect
from anibridge.bridge.model import GuardError, Plan, Policy, Snapshot
from anibridge.bridge.stores import RunRecord, Stores
from anibridge.bridge.sync import SyncResult, run_sync
from anibridge.provider.base import Ref, SupportsChangeFeed

__all__ = [
    "Approved",
    "Reads",
    "RunOutcome",
    "RunRequest",
    "apply_approved",
    "commit",
    "plan_reads",
    "run_profile",
]

Mode = Literal["full", "incremental", "targeted"]


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What to run.

    Attributes:
        mode: ``full``, ``incremental`` or ``targeted`` (see the module doc).
        dry_run: Plan only (a preview); nothing is written.
        refs: Anchor keys named by webhooks (targeted runs; merged into
            incremental ones).
        force: Override the safety guards.
        only: Apply only these action ids (approving part of a plan).
    """

    mode: Mode = "incremental"
    dry_run: bool = False
    refs: frozenset[str] = frozenset()
    force: bool = False
    only: frozenset[str] | None = None


@dataclass(slots=True)
class Reads:
    """What a run reads, decided before anything but the feeds is read.

    Attributes:
        mode: The mode actually used (an incremental run may read everything).
        snapshots: Pre-read snapshots by provider key (targeted re-reads).
        cursors: Feed positions to commit after a clean run, by provider key.
        nothing_changed: No feed reported a change: there is nothing to do.
        touched: Anchors re-read by a targeted read.
        anchors: Their keys (sorted).
        why_full: Why an incremental run reads everything ('' otherwise).
    """

    mode: Mode
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    cursors: dict[str, str] = field(default_factory=dict)
    nothing_changed: bool = False
    touched: int = 0
    anchors: tuple[str, ...] = ()
    why_full: str = ""


async def _poll(
    session: Session, stores: Stores, key: str
) -> tuple[bool, set[str] | None, str | None]:
    """(has a feed, touched keys or None for "read all", head cursor) of a side."""
    provider = session.providers[key]
    if not isinstance(provider, SupportsChangeFeed):
        return False, None, None
    stored = stores.cursors.cursor(session.name, key)
    keys, head = await changes_since(provider, key, stored)
    if stored is None:
        return True, None, head  # first run: the head only; the keys mean nothing
    return True, keys, head


async def plan_reads(session: Session, stores: Stores, request: RunRequest) -> Reads:
    """Decide what the run reads (see the module doc); polls feeds, reads anchors."""
    source_key = session.profile.source.key
    target_key = session.profile.target.key
    source = session.providers[source_key]
    if request.mode == "targeted":
        reads = Reads(
            "targeted", touched=len(request.refs), anchors=tuple(sorted(request.refs))
        )
        if not request.refs:
            reads.nothing_changed = True
            return reads
        reads.snapshots[source_key] = await collect(
            source, source_key, refs=[Ref(k) for k in sorted(request.refs)]
        )
        return reads
    reads = Reads("full")
    has_feed, touched, head = await _poll(session, stores, source_key)
    if head is not None:
        reads.cursors[source_key] = head
    two_way = session.profile.direction == "two_way"
    target_changed: bool = False
    if two_way:
        t_feed, t_touched, t_head = await _poll(session, stores, target_key)
        if t_head is not None:
            reads.cursors[target_key] = t_head
        if not t_feed:
            target_changed, reads.why_full = True, "the target has no change feed"
        elif t_touched is None or t_touched:
            target_changed, reads.why_full = True, "the target changed"
    if request.mode == "full":
        return reads
    if not has_feed:
        reads.why_full = "the source has no change feed"
        return reads
    if touched is None:
        reads.why_full = reads.why_full or "first run, or a change named no entry"
        return reads
    if target_changed:
        return reads
    if _redo_needed(session):
        reads.why_full = "earlier writes did not land"
        return reads
    touched |= set(request.refs)
    reads.mode = "incremental"
    if not touched:
        reads.nothing_changed = True
        return reads
    reads.touched = len(touched)
    reads.anchors = tuple(sorted(touched))
    reads.snapshots[source_key] = await collect(
        source, source_key, refs=[Ref(k) for k in sorted(touched)]
    )
    return reads


def _redo_needed(session: Session) -> bool:
    """Whether recovery found writes of earlier runs that did not land.

    An unconfirmed write (say a play POST whose answer was lost) can settle as
    ``failed`` runs later, after a clean run already moved the change-feed cursor
    past the source change that planned it: only a full read plans it again.
    """
    recovery = getattr(session, "recovery", None)
    if recovery is None:
        return False
    return any(what != "applied" for what in recovery.reconciled.settled)


def commit(session: Session, stores: Stores, reads: Reads) -> None:
    """Remember where the feeds were read up to (after a clean, non-dry run)."""
    for key, cursor in reads.cursors.items():
        stores.cursors.set_cursor(session.name, key, cursor)


@dataclass(slots=True)
class RunOutcome:
    """What a run did.

    Attributes:
        run_id: The run's id (recorded in the store unless nothing changed and
            the caller did not ask to record that).
        reads: What was read.
        plan: The plan (empty when nothing changed).
        result: The engine's result (None when nothing changed or refused).
        refused: The guard's message when a guard refused the plan.
        summary: The run summary (`app.session.summarize`: the `--json` shape).
    """

    run_id: str
    reads: Reads
    plan: Plan
    result: SyncResult | None = None
    refused: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """The run's status, ``refused``, or ``unchanged`` (no feed reported one).

        A run's status is ``ok``/``partial``/``failed``/``interrupted``.
        """
        if self.refused is not None:
            return "refused"
        if self.reads.nothing_changed:
            return "unchanged"
        return self.result.run.status if self.result is not None else "ok"


async def run_profile(
    session: Session,
    stores: Stores,
    policy: Policy,
    request: RunRequest,
    *,
    index: Any,
    stop: Callable[[], bool] | None = None,
    on_plan: Callable[[Plan], Any] | None = None,
    run_id: str | None = None,
    record_unchanged: bool = True,
    clock: Callable[[], float] = time.monotonic,
    snapshots: Mapping[str, Snapshot] | None = None,
) -> RunOutcome:
    """Run (or preview) one profile: decide the reads, plan, apply, commit cursors.

    Args:
        session: The open session (providers initialized, profile lock held).
        stores: The store's protocols.
        policy: The profile's policy (`request.force` overrides its guards).
        request: What to run.
        index: The mappings index (a `LazyIndex` is loaded only when needed).
        stop: Asked between write batches (Ctrl-C, SIGTERM, shutdown).
        on_plan: Called with the plan before anything is written.
        run_id: The run's id (default: a new one).
        record_unchanged: Record a finished run when nothing changed (the CLI
            does, so `history` shows the check; the service's polls do not).
        clock: Monotonic seconds, for the summary's duration.
        snapshots: Already-read snapshots to use as they are (by provider key).

    Raises:
        Whatever the engine raises besides a guard's refusal (recorded as the
        run's failure by `run_sync`).
    """
    run_id = run_id or uuid.uuid4().hex
    started = clock()
    if snapshots:
        reads = Reads("targeted", snapshots=dict(snapshots))
    else:
        reads = await plan_reads(session, stores, request)
    if request.force:
        policy = replace(policy, force=True)
    outcome = RunOutcome(run_id, reads, Plan(session.name))
    if reads.nothing_changed:
        if record_unchanged:
            now = datetime.now(UTC).isoformat()
            stores.runs.finish_run(
                RunRecord(
                    run_id,
                    session.name,
                    now,
                    kind="dry_run" if request.dry_run else "sync",
                    finished_at=now,
                    status="ok",
                    summary={"planned": 0, "changes": 0},
                )
            )
        if not request.dry_run:
            commit(session, stores, reads)
        outcome.summary = _summary(outcome, request, clock() - started)
        return outcome
    captured: list[Plan] = []

    def planned(plan: Plan) -> None:
        captured.append(plan)
        if on_plan is not None:
            on_plan(plan)

    only: Collection[str] | None = (
        None if request.only is None else sorted(request.only)
    )
    try:
        outcome.result = await run_sync(
            session.providers,
            session.pairs,
            policy,
            stores,
            index=index,
            dry_run=request.dry_run,
            only=only,
            run_id=run_id,
            on_plan=planned,
            snapshots=reads.snapshots or None,
            stop=stop,
        )
        outcome.plan = outcome.result.plan
    except GuardError as exc:
        outcome.refused = str(exc)
        if captured:
            outcome.plan = captured[0]
    if not request.dry_run and outcome.status == "ok":
        commit(session, stores, reads)
    outcome.summary = _summary(outcome, request, clock() - started)
    return outcome


def _summary(outcome: RunOutcome, request: RunRequest, seconds: float) -> dict:
    summary = summarize(
        outcome.result,
        outcome.plan,
        profile=outcome.plan.profile,
        dry_run=request.dry_run,
        duration_s=seconds,
        run_id=outcome.run_id,
    )
    if outcome.refused is not None:
        summary["status"] = "refused"
    return summary


@dataclass(slots=True)
class Approved:
    """What applying approved actions did.

    Attributes:
        result: The engine's result (None when a guard refused).
        applied: Approved ids the fresh plan still had (and were applied).
        outdated: Approved ids the fresh plan no longer has (the data changed
            since the preview, or the change is already in place).
        refused: The guard's message when a guard refused.
    """

    result: SyncResult | None
    applied: tuple[str, ...] = ()
    outdated: tuple[str, ...] = ()
    refused: str | None = None


async def apply_approved(
    session: Session,
    stores: Stores,
    policy: Policy,
    approved: Collection[str],
    *,
    index: Any,
    stop: Callable[[], bool] | None = None,
    force: bool = False,
) -> Approved:
    """Re-plan against live state and apply only the approved ids still planned.

    Action ids are stable (the same write on the same state has the same id), so
    an id the fresh plan no longer has is outdated: it is never written. Used to
    apply a reviewed plan (`force`: the person approved it, guards included) and
    to retry failed actions (guards apply).
    """
    only = set(approved)
    outdated: list[str] = []

    def keep_valid(fresh: Plan) -> None:
        valid = {a.id for a in fresh.actions}
        outdated.extend(sorted(only - valid))
        only.intersection_update(valid)

    try:
        result = await run_sync(
            session.providers,
            session.pairs,
            replace(policy, force=True) if force else policy,
            stores,
            index=index,
            only=only,
            on_plan=keep_valid,
            stop=stop,
        )
    except GuardError as exc:
        return Approved(None, refused=str(exc))
    return Approved(result, tuple(sorted(only)), tuple(outdated))
