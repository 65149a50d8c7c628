"""One sync run: collect → identify → plan → (dry run stops) → apply → remember.

`run_sync` is what the CLI, the scheduler and the web call (through
`anibridge.app.lifecycle`, which takes the profile lock and reconciles the journal
first). It reads every provider once, identifies and plans each configured pair
(one-way or two-way), refuses guarded plans unless forced, applies (all actions or
approved ids), and then — only for what succeeded — stores baselines, identity links
and the run record. `undo_run` reverts a run or one action through `undo.plan_undo`.

Every run ends in a state: ``ok``, ``partial``, ``failed``, ``refused`` or
``interrupted`` — a stop request honoured between batches, a cancelled task, Ctrl-C
or SIGTERM (any `BaseException` that is not an error). A run killed outright stays
``running`` until the next holder of the profile lock marks it ``interrupted``
(`RunStore.interrupt_stale`).
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from anibridge import progress
from anibridge.bridge.apply import ApplyReport, Sleep, apply_plan
from anibridge.bridge.codec import encode_value
from anibridge.bridge.collect import changes_since, collect, fetch_anchors
from anibridge.bridge.explain import plan_counts
from anibridge.bridge.identity import EdgeIndex, Identity, cached_targets, identify
from anibridge.bridge.model import (
    Direction,
    GuardError,
    Plan,
    Policy,
    SkipReason,
    Snapshot,
)
from anibridge.bridge.pause_gc import freeze_collected, thaw
from anibridge.bridge.plan import ENTRY, make_plan
from anibridge.bridge.stores import Baseline, RunRecord, Stores, link_id
from anibridge.bridge.undo import plan_undo
from anibridge.dates import utcnow
from anibridge.provider.base import (
    Provider,
    Ref,
    SupportsEventReads,
    SupportsNodeReads,
    WriteOp,
)

__all__ = [
    "Pair",
    "SyncResult",
    "forget_cursors",
    "run_counts",
    "run_owner",
    "run_sync",
    "undo_run",
]


def run_owner() -> str:
    """Who runs a run: ``pid N on HOST`` (shown when it is left interrupted)."""
    return f"pid {os.getpid()} on {socket.gethostname()}"


def _status(counts: Mapping[str, int], missing: int, interrupted: bool) -> str:
    if interrupted:
        return "interrupted"
    bad = counts.get("failed", 0) + counts.get("skipped", 0) + counts.get("unknown", 0)
    return "partial" if bad + missing else "ok"


def run_counts(plan: Plan, report: ApplyReport | None) -> dict[str, int]:
    """A run's counts, with one meaning in the summary, `history` and the web.

    ``skipped`` and ``unchanged`` are the plan header's (`explain.plan_counts`) for
    a dry run and a real one alike. A real run adds what became of its writes:
    ``applied`` (with those found already in place), ``failed``, ``unknown``,
    ``stale`` (the target drifted since the plan: not sent, re-decided next run) and
    ``unsent`` (a stop or a provider's authentication failure came first) — the last
    two are no rule's skip.
    """
    done = report.counts() if report is not None else {}
    skipped, unchanged = plan_counts(plan)
    return {
        "applied": done.get("applied", 0) + done.get("unchanged", 0),
        "failed": done.get("failed", 0),
        "unknown": done.get("unknown", 0),
        "stale": done.get("stale", 0),
        "unsent": done.get("skipped", 0),  # journaled ``skipped``: never sent
        "skipped": sum(skipped.values()),
        "unchanged": unchanged,
    }


def _ended(run: RunRecord, exc: BaseException) -> RunRecord:
    """The final record of a run that `exc` ended."""
    if isinstance(exc, Exception):
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    else:  # cancelled, Ctrl-C, SIGTERM, exit: not a failure of the run itself
        status, error = "interrupted", f"interrupted ({type(exc).__name__})"
    return replace(run, finished_at=utcnow().isoformat(), status=status, error=error)


@dataclass(frozen=True, slots=True)
class Pair:
    """A configured provider pair of a profile (direction defaults to the policy's)."""

    source: str
    target: str
    direction: Direction | None = None


@dataclass(slots=True)
class SyncResult:
    """What a run did."""

    run: RunRecord
    plan: Plan
    report: ApplyReport | None = None
    snapshots: dict[str, Snapshot] = field(default_factory=dict)


def _merge(plans: Sequence[Plan], profile: str) -> Plan:
    return Plan(
        profile,
        tuple(a for p in plans for a in p.actions),
        tuple(s for p in plans for s in p.skipped),
        tuple(g for p in plans for g in p.guards),
        tuple(b for p in plans for b in p.in_sync),
    )


async def _identify(
    src: Snapshot,
    tgt: Snapshot,
    provider: Provider,
    index: EdgeIndex | None,
    stores: Stores,
    policy: Policy,
    now: str,
) -> Identity:
    overrides = stores.links.overrides(policy.profile, src.provider, tgt.provider)
    known = stores.links.links(policy.profile, src.provider, tgt.provider)
    ident = await identify(
        src,
        tgt,
        index,
        provider=provider,
        overrides=overrides,
        cached=cached_targets(known),
        fuzzy_threshold=policy.fuzzy_threshold,
    )
    missing = {
        r.target.key
        for routes in ident.routes.values()
        for r in routes
        if r.target.key not in tgt.entries
    }
    if missing and isinstance(provider, SupportsNodeReads):
        # Learn totals of entries the user does not have yet (to judge completion).
        # It adds an entry only for a node or record it found: nothing to tidy.
        await fetch_anchors(provider, tgt, [Ref(k) for k in sorted(missing)])
    stores.links.put_links(ident.links(policy.profile, src.provider, tgt.provider, now))
    return ident


def _baselines_after(
    plan: Plan, report: ApplyReport | None, profile: str, now: str
) -> list[Baseline]:
    out = [replace(b, updated_at=now) for b in plan.in_sync]
    if report is None:
        return out
    for action in report.succeeded:
        if not action.link or not action.source_values:
            continue
        values = dict(action.source_values)
        side_a = values.pop("@side", None) == "a"
        entry = values.pop(ENTRY, None)
        if isinstance(entry, list) and len(entry) == 2:
            skey, tref = entry
            a_key, b_key = (tref, skey) if side_a else (skey, tref)
            out.append(Baseline(profile, action.link, ENTRY, a_key, b_key, now))
        for name, src_val in values.items():
            f = next((f for f in action.after if f.value == name), None)
            written = encode_value(f, action.after[f]) if f is not None else None
            a_val, b_val = (written, src_val) if side_a else (src_val, written)
            out.append(Baseline(profile, action.link, name, a_val, b_val, now))
    return out


async def _read_side(
    provider: Provider,
    key: str,
    stores: Stores,
    policy: Policy,
    cursors: dict[str, str],
    *,
    incremental: bool,
    prefer_summaries: bool = False,
) -> Snapshot:
    """Collect one provider, incrementally from its stored cursor when asked.

    The change-feed position is taken *before* reading, so changes made during the
    run are seen again next time rather than lost.
    """
    stored = stores.cursors.cursor(policy.profile, key) if incremental else None
    touched, cursor = await changes_since(provider, key, stored)
    if cursor is not None:
        cursors[key] = cursor
    if stored is not None and touched is not None:
        return await collect(
            provider,
            key,
            refs=[Ref(k) for k in sorted(touched)],
            prefer_summaries=prefer_summaries,
        )
    return await collect(provider, key, prefer_summaries=prefer_summaries)


def _summaries_enough(
    key: str,
    pairs: Sequence[Pair],
    providers: Mapping[str, Provider],
    policy: Policy,
) -> bool:
    """Whether play summaries tell the planner all it needs of `key`'s plays.

    True for a provider that is only ever a one-way target fed by sources without
    exact plays (no event reads): the planner then asks only "was this unit
    played?", which a summary answers without paging the whole history.
    """
    sources = []
    for p in pairs:
        two_way = (p.direction or policy.direction) is Direction.TWO_WAY
        if p.source == key or (two_way and p.target == key):
            return False
        if p.target == key:
            sources.append(providers[p.source])
    return bool(sources) and not any(
        isinstance(s, SupportsEventReads) and s.capabilities().event_kinds
        for s in sources
    )


async def run_sync(
    providers: Mapping[str, Provider],
    pairs: Sequence[Pair],
    policy: Policy,
    stores: Stores,
    *,
    index: EdgeIndex | None,
    dry_run: bool = False,
    only: Collection[str] | None = None,
    sleep: Sleep = asyncio.sleep,
    run_id: str | None = None,
    snapshots: Mapping[str, Snapshot] | None = None,
    on_plan: Callable[[Plan], Any] | None = None,
    incremental: bool = False,
    stop: Callable[[], bool] | None = None,
) -> SyncResult:
    """Run one sync of a profile.

    Args:
        providers: Provider instances by key.
        pairs: The profile's provider pairs.
        policy: The profile's policy (`policy.force` overrides guards).
        stores: Persistence.
        index: The mappings index (None: direct ids and overrides only).
        dry_run: Plan only; nothing is written to providers.
        only: Apply only these action ids.
        sleep: Backoff sleep (tests pass a fake).
        run_id: Id for the run (default: a new UUID).
        snapshots: Pre-collected snapshots by provider key (skips their collect).
        on_plan: Called with the plan before anything is applied.
        incremental: Re-read only anchors a one-way source's change feed touched
            since the stored cursor (full read when there is none). Cursors are
            stored after apply, and not for a source whose writes failed.
        stop: Asked before each write batch; True ends the run ``interrupted``
            after the batch in flight (the rest is journaled as not written).

    Returns:
        The run record, the plan, and the apply report (None for dry runs).

    Raises:
        GuardError: a guard refused the plan (the run is recorded as refused).
        KeyError: a pair names a provider that is not configured.
    """
    run_id = run_id or uuid.uuid4().hex
    started = utcnow().isoformat()
    run = RunRecord(
        run_id,
        policy.profile,
        started,
        kind="dry_run" if dry_run else "sync",
        owner=run_owner(),
    )
    stores.runs.start_run(run)
    try:
        return await _execute(
            run, providers, pairs, policy, stores, index, dry_run, only, sleep,
            snapshots, on_plan, incremental, stop,
        )  # fmt: skip
    except GuardError:
        raise  # recorded as refused
    except BaseException as exc:
        stores.runs.finish_run(_ended(run, exc))
        raise
    finally:
        thaw()


async def _execute(
    run: RunRecord,
    providers: Mapping[str, Provider],
    pairs: Sequence[Pair],
    policy: Policy,
    stores: Stores,
    index: EdgeIndex | None,
    dry_run: bool,
    only: Collection[str] | None,
    sleep: Sleep,
    snapshots: Mapping[str, Snapshot] | None,
    on_plan: Callable[[Plan], Any] | None,
    incremental: bool,
    stop: Callable[[], bool] | None,
) -> SyncResult:
    run_id, started = run.id, run.started_at
    snaps: dict[str, Snapshot] = dict(snapshots or {})
    cursors: dict[str, str] = {}
    one_way_sources = {
        p.source
        for p in pairs
        if (p.direction or policy.direction) is Direction.ONE_WAY
    } - {p.target for p in pairs}
    progress.emit(progress.Phase("reading"))
    for pair in pairs:
        for key in (pair.source, pair.target):
            if key not in providers:
                raise KeyError(
                    f"pair {pair.source}->{pair.target}: no provider {key!r}"
                )
            if key in snaps:
                continue
            snaps[key] = await _read_side(
                providers[key], key, stores, policy, cursors,
                incremental=incremental and key in one_way_sources,
                prefer_summaries=_summaries_enough(key, pairs, providers, policy),
            )  # fmt: skip
    freeze_collected()
    progress.emit(progress.Phase("planning"))
    baselines = stores.baselines.baselines(policy.profile)
    pins = stores.pins.pins(policy.profile)
    journal = stores.journal
    plans = []
    for pair in pairs:
        a, b = snaps[pair.source], snaps[pair.target]
        direction = pair.direction or policy.direction
        pol = replace(policy, direction=direction)
        id_ab = await _identify(
            a, b, providers[pair.target], index, stores, pol, started
        )
        id_ba = None
        if direction is Direction.TWO_WAY:
            id_ba = await _identify(
                b, a, providers[pair.source], index, stores, pol, started
            )
        plans.append(
            make_plan(
                a,
                b,
                id_ab,
                pol,
                identity_ba=id_ba,
                baselines=baselines,
                pins=pins,
                sent=functools.partial(journal.event_sent, policy.profile),
            )
        )
    plan = _merge(plans, policy.profile)
    if on_plan is not None:
        on_plan(plan)
    if plan.guards and not policy.force:
        run = replace(
            run,
            finished_at=utcnow().isoformat(),
            status="refused",
            plan_id=plan.id,
            error="; ".join(plan.guards),
        )
        stores.runs.finish_run(run)
        raise GuardError("; ".join(plan.guards))
    if dry_run:
        run = replace(
            run,
            finished_at=utcnow().isoformat(),
            status="ok",
            plan_id=plan.id,
            summary={"planned": len(plan.actions), **run_counts(plan, None)},
        )
        stores.runs.finish_run(run)
        return SyncResult(run, plan, None, snaps)
    missing: list[str] = []
    if only is not None:  # approved ids the state no longer produces are reported
        known = {a.id for a in plan.actions}
        missing = sorted(set(only) - known)
        only = [i for i in only if i in known]
    progress.emit(
        progress.Phase("writing", len(plan.actions) if only is None else len(only))
    )
    report = await apply_plan(
        plan, providers, journal, run_id=run_id, only=only, force=True, sleep=sleep,
        stop=stop,
    )  # fmt: skip
    now = utcnow().isoformat()
    stores.baselines.put_baselines(_baselines_after(plan, report, policy.profile, now))
    failed_sources = {o.action.source for o in report.outcomes.values() if not o.ok}
    if only is not None:  # unapproved actions are still pending: keep the old cursor
        failed_sources |= {a.source for a in plan.actions}
    for key, cursor in cursors.items():
        if key not in failed_sources:  # a failed write is retried from the old cursor
            stores.cursors.set_cursor(policy.profile, key, cursor)
    counts = report.counts()
    run = replace(
        run,
        finished_at=now,
        status=_status(counts, len(missing), report.interrupted),
        plan_id=plan.id,
        summary={
            "planned": len(plan.actions),
            **run_counts(plan, report),
            "stopped": dict(report.stopped),
            "missing": missing,
        },
    )
    stores.runs.finish_run(run)
    return SyncResult(run, plan, report, snaps)


async def undo_run(
    providers: Mapping[str, Provider],
    stores: Stores,
    *,
    profile: str,
    run_id: str | None = None,
    action_id: str | None = None,
    dry_run: bool = False,
    sleep: Sleep = asyncio.sleep,
    stop: Callable[[], bool] | None = None,
) -> SyncResult:
    """Revert a whole run, or one action, by applying the inverse of its journal.

    Works from the journal's intents, so it is exact for finished, failed and
    interrupted runs alike — once `reconcile` has settled rows whose answer never
    arrived (the lifecycle does that first). Rows still unsettled are refused and
    reported, never guessed.

    Args:
        providers: Provider instances by key.
        stores: Persistence.
        profile: Profile name.
        run_id: The run to revert.
        action_id: Or one action (its latest applied journal row); with `run_id`,
            that run's entry of the action only.
        dry_run: Plan the undo only; the run is recorded finished, with the
            status the undo would end with and what it would write.
        sleep: Backoff sleep.
        stop: Asked before each write batch (see `run_sync`).

    Returns:
        The undo run, its plan and report.

    Raises:
        ValueError: neither `run_id` nor `action_id` names something in the journal
            (or the run has no such action).
    """
    if run_id is not None:
        entries = stores.journal.entries(run_id)
        if action_id is not None:  # one entry of that run
            entries = [e for e in entries if e.action_id == action_id]
            if not entries:
                raise ValueError(f"run {run_id!r} has no action {action_id!r}")
    elif action_id is not None:
        entries = [
            e for e in stores.journal.entries_for_action(action_id) if e.undoes is None
        ][-1:]
    else:
        raise ValueError("undo needs a run id or an action id")
    if not entries and (run_id is None or stores.runs.run(run_id) is None):
        raise ValueError(f"nothing in the journal for {run_id or action_id!r}")
    progress.emit(progress.Phase("reading"))
    plan, undoes = await plan_undo(entries, providers, profile=profile)
    # Action ids repeat across runs (the same write on the same state): the run
    # reverted is what keys "undone" on one journal entry, not the action id.
    runs_reverted = sorted({e.run_id for e in entries})
    reverted = {"reverts_run": runs_reverted[0]} if len(runs_reverted) == 1 else {}
    new_id = uuid.uuid4().hex
    run = RunRecord(
        new_id,
        profile,
        utcnow().isoformat(),
        kind="undo",
        plan_id=plan.id,
        owner=run_owner(),
    )
    stores.runs.start_run(run)
    unsettled = sum(1 for s in plan.skipped if s.reason is SkipReason.UNCONFIRMED)
    if dry_run:
        # Ends as the undo itself would (partial while rows are unsettled); no
        # "reverts", so the run it previews never reads as undone.
        run = replace(
            run,
            status=_status({}, unsettled, False),
            finished_at=run.started_at,
            summary={
                "dry_run": True,
                "previews": run_id or action_id,
                "planned": len(plan.actions),
                "skipped": len(plan.skipped),
            },
        )
        stores.runs.finish_run(run)
        return SyncResult(run, plan)
    progress.emit(progress.Phase("writing", len(plan.actions)))
    try:
        report = await apply_plan(
            plan, providers, stores.journal, run_id=new_id, sleep=sleep,
            undoes=undoes, stop=stop,
        )  # fmt: skip
        _rebase_after_undo(stores, profile, providers, entries, undoes, report)
        if report.succeeded:
            forget_cursors(stores, profile, providers)
    except BaseException as exc:
        stores.runs.finish_run(_ended(run, exc))
        raise
    counts = report.counts()
    run = replace(
        run,
        finished_at=utcnow().isoformat(),
        status=_status(counts, unsettled, report.interrupted),
        summary={"reverts": run_id or action_id, **reverted, **counts},
    )
    stores.runs.finish_run(run)
    return SyncResult(run, plan, report)


def forget_cursors(stores: Stores, profile: str, keys: Iterable[str]) -> None:
    """Drop a profile's change-feed cursors after state changed behind the feed.

    An undo or a restore changes a side without a change the *source's* feed will
    report: an incremental run from the old cursor would find "nothing changed"
    while a full read plans the difference. Without a cursor the next run reads
    everything, so `plan` and `sync` agree again.
    """
    for key in keys:
        stores.cursors.set_cursor(profile, key, None)


def _rebase_after_undo(
    stores: Stores,
    profile: str,
    providers: Mapping[str, Provider],
    entries: Sequence[Any],
    undoes: Mapping[str, str],
    report: ApplyReport,
) -> None:
    """Make the baselines agree with what undo restored.

    Otherwise the next two-way run would read the restored value as a fresh change
    on that side and carry the revert over to the other provider, and an entry undo
    removed again would read as a deletion to propagate.
    """
    by_action = {e.action_id: e for e in entries}
    base = stores.baselines.baselines(profile)
    updates: list[Baseline] = []
    removals: list[tuple[str, str]] = []
    now = utcnow().isoformat()
    for action in report.succeeded:
        original = by_action.get(undoes.get(action.id, ""))
        if original is None or not original.link:
            continue
        link = original.link
        entry = base.get((link, ENTRY))
        if action.op is WriteOp.DELETE_RECORD:
            removals += [k for k in base if k[0] == link]
            continue
        if entry is None:
            continue
        side = _side(profile, original.provider, link, entry, providers)
        if side is None:
            continue
        touched = {f.value: f for f in (*action.after, *action.clear)}
        for name, f in touched.items():
            old = base.get((link, name))
            if old is None:
                continue
            value = action.after.get(f)
            restored = encode_value(f, value) if value is not None else None
            updates.append(
                replace(old, source_value=restored, updated_at=now)
                if side == "a"
                else replace(old, target_value=restored, updated_at=now)
            )
    if removals:
        stores.baselines.remove_baselines(profile, removals)
    if updates:
        stores.baselines.put_baselines(updates)


def _side(
    profile: str,
    provider: str,
    link: str,
    entry: Baseline,
    providers: Mapping[str, Provider],
) -> str | None:
    """Which side ("a" or "b") of an entry pair `provider` is."""
    akey, bkey = str(entry.source_value), str(entry.target_value)
    for other in providers:
        if link_id(profile, provider, akey, "", other, bkey) == link:
            return "a"
        if link_id(profile, other, akey, "", provider, bkey) == link:
            return "b"
    return None
