"""Apply: execute a plan's writes, safely, and journal every one — ahead of time.

- A guarded plan is refused unless forced; a subset of action ids can be applied.
- The journal is written ahead: before each batch is sent, its intents (ref, fields,
  before values) are committed as ``pending``; after the provider answered they are
  rewritten as ``applied``/``failed``/``unknown``. A process killed in between leaves
  ``pending`` rows that `bridge.reconcile` settles by re-reading their refs, so no
  change on a target is ever without a journal row.
- A write whose answer was lost (the provider raised, or answered ``TRANSIENT``/
  ``INTERNAL`` after the retries) is ``unknown``; the *confirm* step re-reads it at
  once and settles it (`reconcile.resolve`). A write the provider declares
  unrepeatable (`provider.semantics`, e.g. a play-history append) is never retried
  after a lost answer in the same breath: a later run re-reads before sending it.
- Before writing, each record action's recorded `before` is compared with a fresh
  read: a stale action is skipped with the reason (the next plan re-decides it), one
  whose `after` is already in place is recorded as ``unchanged``. An event append
  already in the journal is not sent again; appends reuse the exact `at`, so a retry
  after a crash is idempotent on the target.
- Writes go in provider-sized batches. `WriteResult.code` decides: RATE_LIMITED and
  TRANSIENT are retried with exponential backoff (the sleep is injectable); CONFLICT
  re-reads the record and retries once with the fresh revision if the fields the
  action overwrites are unchanged; NOT_FOUND, INVALID, UNSUPPORTED and INTERNAL are
  recorded and the run continues; AUTH stops all writes to that provider.
- A stop request (Ctrl-C, SIGTERM, a service shutting down) is honoured between
  batches: the rest is journaled ``skipped`` and the report says it was interrupted.
  A cancellation or interrupt *during* a batch marks its intents ``unknown``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from anibridge.bridge.codec import encode_fields, encode_value, ref_id, ref_to_json
from anibridge.bridge.model import Action, GuardError, Plan
from anibridge.bridge.stores import JournalEntry, JournalStore
from anibridge.dates import utcnow
from anibridge.faults import checkpoint
from anibridge.provider.base import (
    AppendEvent,
    DeleteEvent,
    DeleteRecord,
    Provider,
    Record,
    RecordField,
    RecordQuery,
    SupportsEventWrites,
    SupportsRecordReads,
    SupportsRecordWrites,
    UpsertRecord,
    WriteError,
    WriteOp,
    WriteResult,
)
from anibridge.provider.semantics import write_semantics

__all__ = ["ApplyReport", "Outcome", "apply_plan"]

type Sleep = Callable[[float], Awaitable[None]]

_RETRY = frozenset({WriteError.RATE_LIMITED, WriteError.TRANSIENT})
# Answers that do not say whether the write landed.
_UNCLEAR = frozenset({WriteError.TRANSIENT, WriteError.INTERNAL})
INTERRUPTED = "interrupted before it was sent: not written"
_RECORD_OPS = frozenset({WriteOp.UPSERT_RECORD, WriteOp.DELETE_RECORD})


@dataclass(slots=True)
class Outcome:
    """What happened to one action."""

    action: Action
    outcome: str = "pending"  # applied|unchanged|stale|failed|skipped|unknown
    code: WriteError | None = None
    error: str | None = None
    attempts: int = 0
    started_at: str = ""
    finished_at: str | None = None

    @property
    def ok(self) -> bool:
        """The target now holds the action's result."""
        return self.outcome in ("applied", "unchanged")


@dataclass(slots=True)
class ApplyReport:
    """Outcomes of one apply, keyed by action id."""

    run_id: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    stopped: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def succeeded(self) -> list[Action]:
        """Actions whose result is in place."""
        return [o.action for o in self.outcomes.values() if o.ok]

    def counts(self) -> dict[str, int]:
        """Number of actions per outcome."""
        out: dict[str, int] = {}
        for o in self.outcomes.values():
            out[o.outcome] = out.get(o.outcome, 0) + 1
        return out


def _batch_size(provider: Provider, default: int) -> int:
    """Writes per call: the provider's ``write_batch_size`` config, else `default`."""
    value = provider.config.get("write_batch_size", default)
    return value if isinstance(value, int) and value > 0 else default


def _kind_key(ref: Any, kind: str) -> tuple[str, str]:
    return (ref_id(ref), kind)


async def read_records(
    provider: Provider, actions: Sequence[Action]
) -> dict[Any, Record]:
    """Fresh records for the refs of record actions, keyed by (ref id, kind)."""
    if not isinstance(provider, SupportsRecordReads):
        return {}
    refs = tuple(dict.fromkeys(a.ref for a in actions))
    out: dict[Any, Record] = {}
    for i in range(0, len(refs), 100):
        cursor = None
        while True:
            page = await provider.fetch_records(
                RecordQuery(
                    refs=refs[i : i + 100],
                    fields=frozenset(RecordField),
                    cursor=cursor,
                )
            )
            for rec in page.items:
                out[_kind_key(rec.ref, rec.kind)] = rec
            cursor = page.cursor
            if cursor is None:
                break
    return out


def _drift(
    fields: Collection[RecordField],
    before: Mapping[RecordField, Any],
    now: Mapping[RecordField, Any],
) -> tuple[str, str] | None:
    """("stale", detail) for the first of `fields` (by name) whose value moved."""
    for f in sorted(fields):
        was = before.get(f)
        is_ = now.get(f)
        a = encode_value(f, was) if was is not None else None
        b = encode_value(f, is_) if is_ is not None else None
        if a != b:
            return ("stale", f"{f.value} changed since the plan ({a!r} -> {b!r})")
    return None


def _stale(
    action: Action, current: Record | None, readable: Collection[RecordField]
) -> tuple[str, str] | None:
    """("unchanged"|"stale", detail) when live state differs from the plan.

    A delete destroys every field, so all the planner could see count: those it
    recorded and any `readable` one (the target's declared fields, which the plan
    read) set since, e.g. a first score. A field the target does not declare was
    never in the plan's read and is no edit it overlooked.
    """
    touched = set(action.before) | set(action.after) | set(action.clear)
    if action.op is WriteOp.DELETE_RECORD:
        if current is None:
            return ("unchanged", "already gone")
        seen = set(action.before) | (current.values.keys() & set(readable))
        return _drift(seen, action.before, current.values)
    now = current.values if current is not None else {}
    in_place = all(
        f in now and encode_value(f, now[f]) == encode_value(f, v)
        for f, v in action.after.items()
    ) and not any(f in now for f in action.clear)
    if action.created and current is None:
        return None
    if in_place and current is not None:
        return ("unchanged", "already in place")
    drift = _drift(touched, action.before, now)
    if drift is not None:
        return drift
    if action.created and current is not None and not action.before:
        return ("stale", "an entry appeared since the plan")
    return None


def _write(action: Action, revision: str | None) -> Any:
    if action.op is WriteOp.UPSERT_RECORD:
        return UpsertRecord(
            action.ref,
            kind=action.kind,
            key=action.record_key,
            token=action.id,
            expected_revision=revision,
            set=dict(action.after),
            clear=action.clear,
        )
    if action.op is WriteOp.DELETE_RECORD:
        return DeleteRecord(action.ref, kind=action.kind, token=action.id)
    if action.op is WriteOp.APPEND_EVENT:
        assert action.at is not None
        return AppendEvent(action.ref, action.kind, action.at, token=action.id)
    return DeleteEvent(ref=action.ref, kind=action.kind, at=action.at, token=action.id)


class _Applier:
    def __init__(
        self,
        profile: str,
        run_id: str,
        providers: Mapping[str, Provider],
        journal: JournalStore,
        sleep: Sleep,
        retries: int,
        backoff: float,
        batch_size: int,
        undoes: Mapping[str, str],
        stop: Callable[[], bool],
    ) -> None:
        self.report = ApplyReport(run_id)
        self.profile = profile
        self.providers = providers
        self.journal = journal
        self.sleep = sleep
        self.retries = retries
        self.backoff = backoff
        self.batch_size = batch_size
        self.undoes = undoes
        self.stop = stop

    def now(self) -> str:
        return utcnow().isoformat()

    def finish(
        self, o: Outcome, outcome: str, code: Any = None, error: Any = None
    ) -> None:
        o.outcome, o.code, o.error = outcome, code, error
        o.finished_at = self.now()

    def entry(self, o: Outcome) -> JournalEntry:
        a = o.action
        return JournalEntry(
            run_id=self.report.run_id,
            action_id=a.id,
            provider=a.provider,
            ref=ref_to_json(a.ref),
            op=a.op.value,
            kind=a.kind,
            before=encode_fields(a.before),
            after=encode_fields(a.after),
            clear=sorted(f.value for f in a.clear),
            at=a.at.isoformat() if a.at else None,
            outcome=o.outcome,
            error_code=o.code.value if o.code else None,
            error_text=o.error,
            started_at=o.started_at,
            finished_at=o.finished_at,
            link=a.link,
            created=a.created,
            reason=a.reason,
            attempts=o.attempts,
            undoes=self.undoes.get(a.id),
        )

    def journal_rows(self, outcomes: Sequence[Outcome]) -> None:
        if outcomes:
            self.journal.record([self.entry(o) for o in outcomes])

    async def provider_actions(self, name: str, actions: list[Action]) -> None:
        provider = self.providers.get(name)
        outcomes = [Outcome(a, started_at=self.now()) for a in actions]
        for o in outcomes:
            self.report.outcomes[o.action.id] = o
        if provider is None:
            for o in outcomes:
                self.finish(o, "failed", WriteError.INTERNAL, f"no provider {name!r}")
            self.journal_rows(outcomes)
            return
        records = [o for o in outcomes if o.action.op in _RECORD_OPS]
        events = [o for o in outcomes if o.action.op not in _RECORD_OPS]
        fresh = await read_records(provider, [o.action for o in records])
        ready: list[tuple[Outcome, str | None]] = []
        for o in records:
            cur = fresh.get(_kind_key(o.action.ref, o.action.kind))
            if isinstance(provider, SupportsRecordReads):
                stale = _stale(o.action, cur, provider.capabilities().record_fields)
                if stale is not None:
                    self.finish(o, stale[0], None, stale[1])
                    continue
            ready.append((o, cur.revision if cur is not None else o.action.revision))
        for o in events:
            a = o.action
            if (
                a.op is WriteOp.APPEND_EVENT
                and a.at is not None
                and self.journal.event_sent(
                    self.profile, name, ref_id(a.ref), a.kind, a.at.isoformat()
                )
            ):
                self.finish(o, "unchanged", None, "already sent (journal)")
                continue
            ready.append((o, None))
        size = _batch_size(provider, self.batch_size)
        for i in range(0, len(ready), size):
            batch = ready[i : i + size]
            if name in self.report.stopped or self.stop():
                why = self.report.stopped.get(name)
                self.report.interrupted |= why is None
                for o, _ in batch:
                    if why is None:
                        self.finish(o, "skipped", None, INTERRUPTED)
                    else:
                        self.finish(o, "skipped", WriteError.AUTH, why)
                self.journal_rows([o for o, _ in batch])
                continue
            await self.write_ahead(name, provider, batch)
        done = {id(o) for o, _ in ready}
        self.journal_rows([o for o in outcomes if id(o) not in done])

    async def write_ahead(
        self, name: str, provider: Provider, batch: list[tuple[Outcome, str | None]]
    ) -> None:
        """Intents committed, then the write, then the outcomes (with confirm)."""
        outs = [o for o, _ in batch]
        sent_at = self.now()
        for o in outs:
            o.outcome, o.started_at = "pending", sent_at
        self.journal_rows(outs)
        checkpoint("journal.intent")
        try:
            await self.batch(name, provider, batch)
        except BaseException:
            # Cancelled or interrupted while the provider had the batch: whether
            # it landed is unknown until the next start re-reads it.
            for o in outs:
                if o.outcome == "pending":
                    self.finish(
                        o, "unknown", None, "interrupted before the answer arrived"
                    )
            # If even that fails, the next start reconciles the pending rows.
            with contextlib.suppress(Exception):
                self.journal_rows(outs)
            raise
        checkpoint("write.answered")
        unclear = [o for o in outs if o.outcome == "unknown"]
        if unclear:
            await self.confirm(provider, unclear)
        self.journal_rows(outs)
        checkpoint("journal.outcome")

    async def confirm(self, provider: Provider, outs: list[Outcome]) -> None:
        """Settle writes whose answer was lost by re-reading them now."""
        from anibridge.bridge.reconcile import resolve

        try:
            found = await resolve(provider, [self.entry(o) for o in outs])
        except Exception:  # unreadable now: the next start reconciles it
            return
        for o in outs:
            res = found.get((self.report.run_id, o.action.id))
            if res is None or res.outcome == "unknown":
                if res is not None:
                    o.error = f"{o.error or 'no answer'}; {res.detail}"
                continue
            code = None if res.outcome == "applied" else o.code
            detail = None if res.outcome == "applied" else o.error or res.detail
            self.finish(o, res.outcome, code, detail)

    async def send(
        self, name: str, provider: Provider, items: list[tuple[Outcome, str | None]]
    ) -> list[WriteResult]:
        recs = [(o, r) for o, r in items if o.action.op in _RECORD_OPS]
        evs = [(o, r) for o, r in items if o.action.op not in _RECORD_OPS]
        results: dict[int, WriteResult] = {}
        # Plays before records: a tracker that files a title as watched when it
        # sees the play (Simkl) then keeps the play's real date, where a status
        # written first would have made it "watched now".
        for group, supported, call in (
            (evs, SupportsEventWrites, "write_events"),
            (recs, SupportsRecordWrites, "write_records"),
        ):
            if not group:
                continue
            if not isinstance(provider, supported):
                for o, _ in group:
                    results[id(o)] = WriteResult(
                        False, o.action.op, code=WriteError.UNSUPPORTED,
                        error=f"{name} cannot {call.replace('_', ' ')}",
                    )  # fmt: skip
                continue
            writes = [_write(o.action, rev) for o, rev in group]
            for o, _ in group:
                o.attempts += 1
            try:
                got = list(await getattr(provider, call)(writes))
            except Exception as exc:  # no answer: whether it landed is unknown
                got = [
                    WriteResult(False, o.action.op, code=WriteError.INTERNAL,
                                error=f"{type(exc).__name__}: {exc}")
                    for o, _ in group
                ]  # fmt: skip
            if len(got) != len(group):
                got = [
                    WriteResult(False, o.action.op, code=WriteError.INTERNAL,
                                error=f"{len(got)} results for {len(group)} writes")
                    for o, _ in group
                ]  # fmt: skip
            for (o, _), r in zip(group, got, strict=True):
                results[id(o)] = r
        return [results[id(o)] for o, _ in items]

    async def batch(
        self, name: str, provider: Provider, batch: list[tuple[Outcome, str | None]]
    ) -> None:
        pending = batch
        conflicted: set[int] = set()
        attempt = 0
        semantics = write_semantics(provider)
        while pending:
            results = await self.send(name, provider, pending)
            retry: list[tuple[Outcome, str | None]] = []
            for (o, rev), r in zip(pending, results, strict=True):
                repeatable = semantics.repeatable(o.action.op)
                if r.ok:
                    self.finish(o, "applied")
                elif (
                    r.code in _RETRY
                    and attempt < self.retries
                    and (repeatable or r.code is WriteError.RATE_LIMITED)
                ):
                    retry.append((o, rev))
                elif r.code is WriteError.CONFLICT and id(o) not in conflicted:
                    conflicted.add(id(o))
                    fresh = await read_records(provider, [o.action])
                    cur = fresh.get(_kind_key(o.action.ref, o.action.kind))
                    stale = _stale(o.action, cur, provider.capabilities().record_fields)
                    if stale is not None:
                        self.finish(o, stale[0], WriteError.CONFLICT, stale[1])
                    else:
                        retry.append((o, cur.revision if cur is not None else None))
                elif r.code is WriteError.AUTH:
                    self.report.stopped[name] = r.error or f"{name}: authentication"
                    self.finish(o, "failed", r.code, r.error)
                elif r.code is None or r.code in _UNCLEAR:
                    self.finish(o, "unknown", r.code or WriteError.INTERNAL, r.error)
                else:
                    self.finish(o, "failed", r.code, r.error)
            if not retry:
                return
            if name in self.report.stopped:
                for o, _ in retry:
                    self.finish(
                        o, "skipped", WriteError.AUTH, self.report.stopped[name]
                    )
                return
            await self.sleep(self.backoff * (2**attempt))
            attempt += 1
            pending = retry


async def apply_plan(
    plan: Plan,
    providers: Mapping[str, Provider],
    journal: JournalStore,
    *,
    run_id: str,
    only: Collection[str] | None = None,
    force: bool = False,
    sleep: Sleep = asyncio.sleep,
    retries: int = 4,
    backoff: float = 1.0,
    batch_size: int = 50,
    undoes: Mapping[str, str] | None = None,
    stop: Callable[[], bool] | None = None,
) -> ApplyReport:
    """Execute a plan (or the approved subset of it) and journal every action.

    Args:
        plan: The plan.
        providers: Provider instances by key.
        journal: Where each action's outcome is recorded.
        run_id: The run the writes belong to.
        only: Approved action ids (default: all).
        force: Apply even though guards refused the plan.
        sleep: Backoff sleep (tests pass a fake).
        retries: Retries for RATE_LIMITED/TRANSIENT.
        backoff: First backoff delay in seconds (doubles each retry).
        batch_size: Writes per provider call (a provider's ``write_batch_size``
            config wins).
        undoes: Action id → the action id it reverts (undo runs).
        stop: Asked before each batch; True skips the rest (journaled as not
            written) and marks the report interrupted.

    Returns:
        The outcome of every action.

    Raises:
        GuardError: the plan is guarded and `force` is off.
    """
    if plan.guards and not force:
        raise GuardError("; ".join(plan.guards))
    if only is not None:
        plan = plan.subset(frozenset(only))
    applier = _Applier(
        plan.profile, run_id, providers, journal, sleep, retries, backoff, batch_size,
        undoes or {}, stop or (lambda: False),
    )  # fmt: skip
    by_provider: dict[str, list[Action]] = {}
    for a in plan.actions:
        by_provider.setdefault(a.provider, []).append(a)
    for name, actions in by_provider.items():
        await applier.provider_actions(name, actions)
    return applier.report
