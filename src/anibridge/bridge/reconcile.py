"""Settle journal rows whose effect is unknown by re-reading their refs.

The journal is written ahead (see `anibridge.bridge.stores`): a row is ``pending``
from before its write is sent until the answer is recorded, and ``unknown`` when the
answer never arrived. Such a row may or may not describe a change on the target, so
it is settled by looking: the ref is re-read and the row becomes

- ``applied`` — the target holds what the write set (or the record/play is gone
  for a delete, or the play is there for an append);
- ``failed`` — the target still holds what it held before: the write did not land;
- ``stale`` — it holds neither (something else changed it): left alone by undo;
- ``unknown`` still — not found yet, but the provider's `WriteSemantics.settle`
  window says a lost write may still land (a history service applying a timed-out
  POST late). Such appends are not sent again until the window has passed.

`resolve` is shared by apply's confirm step (right after a batch whose answer was
lost) and by `reconcile`, which every command touching a profile runs after taking
the profile lock and before reading anything else: afterwards the journal again
describes the target exactly, so undo is exact for runs that were interrupted or
killed, including writes whose answer never arrived.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from anibridge.bridge.codec import decode_fields, ref_from_json, ref_id, same_value
from anibridge.bridge.stores import JournalEntry, Stores
from anibridge.dates import parse_iso, utcnow
from anibridge.provider.base import (
    EventQuery,
    Provider,
    RecordField,
    SupportsEventReads,
    SupportsRecordReads,
    WriteOp,
)
from anibridge.provider.semantics import write_semantics

__all__ = ["Reconciled", "reconcile", "resolve"]

_RECORD_OPS = ("upsert_record", "delete_record")
# Which side of a write a re-read shows (names, not rules: kept out of the functions).
_AFTER, _BEFORE, _NEITHER = "after", "before", "neither"
_EVENT_OPS = ("append_event", "delete_event")


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a re-read says about one row."""

    outcome: str  # applied | failed | stale | unknown
    detail: str


@dataclass(slots=True)
class Reconciled:
    """What `reconcile` found.

    Attributes:
        settled: Rows settled, by new outcome.
        waiting: Rows still ``unknown`` (inside their settle window, or the
            provider cannot be re-read), with why.
        missing: Providers named by unresolved rows that are not configured.
    """

    settled: dict[str, int] = field(default_factory=dict)
    waiting: list[JournalEntry] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)

    @property
    def count(self) -> int:
        """Rows settled."""
        return sum(self.settled.values())


def _holds(now: Mapping[RecordField, Any], values: Mapping[RecordField, Any]) -> bool:
    return all(same_value(f, now.get(f), v) for f, v in values.items())


def _record_state(e: JournalEntry, current: Any) -> str:
    """_AFTER, _BEFORE or _NEITHER: which side of the write a record shows."""
    if e.op == "delete_record":
        return _AFTER if current is None else _BEFORE
    now = dict(current.values) if current is not None else {}
    before = decode_fields(e.before)
    after = decode_fields(e.after)
    cleared = {RecordField(f) for f in e.clear}
    if current is not None and _holds(now, after) and not cleared & set(now):
        return _AFTER
    if e.created:
        return _BEFORE if current is None else _NEITHER
    if current is None:
        return _NEITHER
    touched = set(after) | cleared
    was = {f: before.get(f) for f in touched}
    if _holds(now, was):
        return _BEFORE
    return _NEITHER


def _second(at: datetime) -> datetime:
    return at.replace(microsecond=0)


async def _events(provider: Provider, refs: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for i in range(0, len(refs), 100):
        cursor = None
        while True:
            page = await provider.fetch_events(  # type: ignore[attr-defined]
                EventQuery(refs=tuple(refs[i : i + 100]), cursor=cursor)
            )
            out.extend(page.items)
            cursor = page.cursor
            if cursor is None:
                break
    return out


def _meaning(provider: Provider) -> dict[str, Any]:
    return {d.native: d.semantic for d in provider.capabilities().event_kinds}


async def resolve(
    provider: Provider,
    entries: Sequence[JournalEntry],
    *,
    now: datetime | None = None,
) -> dict[tuple[str, str], Resolution]:
    """Re-read the refs of `entries` (all of one provider) and say what landed.

    Returns:
        A resolution per (run id, action id); rows the provider cannot re-read
        are left out (they stay as they are).
    """
    from anibridge.bridge.apply import read_records
    from anibridge.bridge.model import Action

    now = now or utcnow()
    semantics = write_semantics(provider)
    out: dict[tuple[str, str], Resolution] = {}
    records = [e for e in entries if e.op in _RECORD_OPS]
    events = [e for e in entries if e.op in _EVENT_OPS]
    states: dict[tuple[str, str], str] = {}
    if records and isinstance(provider, SupportsRecordReads):
        probe = [
            Action(e.provider, WriteOp(e.op), ref_from_json(e.ref), e.kind)
            for e in records
        ]
        current = await read_records(provider, probe)
        for e in records:
            rec = current.get((ref_id(ref_from_json(e.ref)), e.kind))
            states[(e.run_id, e.action_id)] = _record_state(e, rec)
    if events and isinstance(provider, SupportsEventReads):
        refs = list(dict.fromkeys(ref_from_json(e.ref) for e in events))
        meaning = _meaning(provider)
        seen: set[tuple[str, Any, datetime]] = set()
        for ev in await _events(provider, refs):
            # by meaning: a play appended as "watch" may read back as "scrobble"
            seen.add((ref_id(ev.ref), meaning.get(ev.kind, ev.kind), _second(ev.at)))
        for e in events:
            if e.at is None:
                continue
            sem = meaning.get(e.kind, e.kind)
            there = (ref_id(ref_from_json(e.ref)), sem, _second(parse_iso(e.at)))
            landed = there in seen if e.op == "append_event" else there not in seen
            states[(e.run_id, e.action_id)] = _AFTER if landed else _BEFORE
    for e in entries:
        state = states.get((e.run_id, e.action_id))
        if state is None:
            continue
        key = (e.run_id, e.action_id)
        if state == _AFTER:
            out[key] = Resolution("applied", "confirmed by a re-read")
        elif state == _NEITHER:
            out[key] = Resolution(
                "stale",
                "re-read after an unanswered write: the target holds neither the "
                "written nor the previous values (changed by something else)",
            )
        else:
            sent = parse_iso(e.started_at) if e.started_at else now
            until = sent + semantics.settle
            if not semantics.repeatable(WriteOp(e.op)) and now < until:
                out[key] = Resolution(
                    "unknown",
                    "not seen on the target yet; the service may still apply it "
                    f"until {until.isoformat(timespec='seconds')}, so it is not "
                    "sent again before then",
                )
            else:
                why = e.error_text or "no answer"
                out[key] = Resolution("failed", f"not applied (re-read): {why}")
    return out


async def reconcile(
    providers: Mapping[str, Provider],
    stores: Stores,
    profile: str,
    *,
    now: datetime | None = None,
) -> Reconciled:
    """Settle the profile's ``pending``/``unknown`` journal rows by re-reading.

    Call it holding the profile lock, before collecting: afterwards the journal
    describes the target exactly (or says which rows still wait to settle).

    Returns:
        What was settled and what still waits.
    """
    report = Reconciled()
    rows = stores.journal.unresolved(profile)
    if not rows:
        return report
    now = now or utcnow()
    by_provider: dict[str, list[JournalEntry]] = {}
    for e in rows:
        by_provider.setdefault(e.provider, []).append(e)
    finished = now.isoformat()
    for name, entries in by_provider.items():
        provider = providers.get(name)
        if provider is None:
            report.missing.add(name)
            report.waiting.extend(entries)
            continue
        found = await resolve(provider, entries, now=now)
        updates = []
        for e in entries:
            res = found.get((e.run_id, e.action_id))
            if res is None:
                report.waiting.append(
                    replace(e, error_text=f"{name} cannot be re-read to settle it")
                )
                continue
            if res.outcome == "unknown":
                report.waiting.append(replace(e, error_text=res.detail))
                if e.outcome == "unknown" and e.error_text == res.detail:
                    continue
                updates.append(replace(e, outcome="unknown", error_text=res.detail))
                continue
            report.settled[res.outcome] = report.settled.get(res.outcome, 0) + 1
            error = None if res.outcome == "applied" else res.detail
            updates.append(
                replace(e, outcome=res.outcome, error_text=error, finished_at=finished)
            )
        if updates:
            stores.journal.record(updates)
    return report
