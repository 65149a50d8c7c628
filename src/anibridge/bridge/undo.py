"""Undo a run (or one action) by planning the inverse of its journal.

Undo works from the journal's intents and restores; it is not a new destructive
decision. Rows a re-read could not settle yet (``pending``/``unknown``, see
`bridge.reconcile`) are refused with the reason, never guessed. For every applied
action the inverse is planned against the target's *current* state: fields that
changed since the run are refused (someone else's newer data wins), an entry the run
created is removed again, a deleted entry is re-created from its journaled values,
and an appended play is deleted where the provider can delete events. An entry the
run created is never removed while it holds a value the run did not write (a rating
or notes added since): that is refused and reported with the field names, the rest
of the run is reverted. The inverse is an ordinary `Plan`, so it can be previewed,
partially approved and applied with the same safety checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from anibridge.bridge.apply import read_records
from anibridge.bridge.codec import decode_fields, ref_from_json, ref_id, same_value
from anibridge.bridge.model import Action, Plan, Skip, SkipReason
from anibridge.bridge.stores import UNRESOLVED, JournalEntry
from anibridge.dates import parse_iso
from anibridge.provider.base import Provider, RecordField, WriteOp

__all__ = ["plan_undo"]


def _not_written(
    now: Mapping[RecordField, Any], after: Mapping[RecordField, Any]
) -> list[RecordField]:
    """Fields holding a value the run did not write (someone added them since).

    A zero rewatch count is what a tracker reports for "none", not user data.
    """
    return [
        f
        for f, v in now.items()
        if f not in after
        and v is not None
        and not (f is RecordField.REPEAT_COUNT and v == 0)
    ]


async def plan_undo(
    entries: Sequence[JournalEntry],
    providers: Mapping[str, Provider],
    *,
    profile: str,
) -> tuple[Plan, dict[str, str]]:
    """The inverse of applied journal entries, against current provider state.

    Args:
        entries: Journal rows of a run (or of one action).
        providers: Provider instances by key (current state is read from them).
        profile: Profile name for the plan.

    Returns:
        The undo plan and, per undo action id, the action id it reverts.
    """
    actions: list[Action] = []
    skips: list[Skip] = []
    undoes: dict[str, str] = {}
    for e in entries:
        if e.outcome in UNRESOLVED:  # reconcile could not settle it (yet)
            skips.append(
                Skip(e.provider, ref_from_json(e.ref), None, SkipReason.UNCONFIRMED,
                     "whether this write landed is not known yet "
                     f"({e.error_text or 'no answer'}); undo it again later")
            )  # fmt: skip
    applied = [e for e in entries if e.outcome == "applied"]
    by_provider: dict[str, list[JournalEntry]] = {}
    for e in reversed(applied):
        by_provider.setdefault(e.provider, []).append(e)
    for name, rows in by_provider.items():
        provider = providers.get(name)
        if provider is None:
            for e in rows:
                skips.append(
                    Skip(name, ref_from_json(e.ref), None, SkipReason.NO_TARGET,
                         f"provider {name!r} not configured")
                )  # fmt: skip
            continue
        probe = [
            Action(name, WriteOp(e.op), ref_from_json(e.ref), e.kind)
            for e in rows
            if e.op in ("upsert_record", "delete_record")
        ]
        current = await read_records(provider, probe)
        ops = provider.capabilities().write_ops
        for e in rows:
            inverse, skip = _invert(e, current, ops, name)
            if skip is not None:
                skips.append(skip)
            if inverse is not None:
                actions.append(inverse)
                undoes[inverse.id] = e.action_id
    return Plan(profile, tuple(actions), tuple(skips)), undoes


def _invert(
    e: JournalEntry,
    current: Mapping[Any, Any],
    ops: frozenset[WriteOp],
    name: str,
) -> tuple[Action | None, Skip | None]:
    ref = ref_from_json(e.ref)
    why = f"undo {e.action_id} (run {e.run_id})"
    if e.op == "append_event":
        if WriteOp.DELETE_EVENT not in ops or e.at is None:
            return None, Skip(name, ref, None, SkipReason.NOT_WRITABLE,
                              "provider cannot delete plays")  # fmt: skip
        return Action(
            name, WriteOp.DELETE_EVENT, ref, e.kind, at=parse_iso(e.at), reason=why
        ), None
    if e.op not in ("upsert_record", "delete_record"):
        return None, Skip(
            name, ref, None, SkipReason.NOT_WRITABLE, f"cannot undo {e.op}"
        )
    rec = current.get((ref_id(ref), e.kind))
    now = dict(rec.values) if rec is not None else {}
    before = decode_fields(e.before)
    after = decode_fields(e.after)
    cleared = {RecordField(f) for f in e.clear}
    if e.op == "delete_record":
        if rec is not None:
            return None, Skip(name, ref, None, SkipReason.STALE,
                              "the entry exists again; not re-created")  # fmt: skip
        return Action(
            name, WriteOp.UPSERT_RECORD, ref, e.kind, after=before, reason=why,
            created=True,
        ), None  # fmt: skip
    changed = [f for f, v in after.items() if not same_value(f, now.get(f), v)]
    changed += [f for f in cleared if f in now]
    if e.created:
        # Gone first: against a missing entry every written field reads as
        # "changed", which would name fields instead of saying what happened.
        if rec is None:
            return None, Skip(name, ref, None, SkipReason.STALE, "already gone")
        foreign = _not_written(now, after)
        if foreign and not changed:
            kept = ", ".join(sorted(f.value for f in foreign))
            why_not = (
                f"refused to remove the entry the run created: it now holds {kept}"
            )
            return None, Skip(name, ref, None, SkipReason.STALE, why_not)
        if changed:
            detail = "changed since the run: " + ", ".join(
                sorted(f.value for f in changed)
            )
            return None, Skip(name, ref, None, SkipReason.STALE, detail)
        if WriteOp.DELETE_RECORD not in ops:
            return None, Skip(name, ref, None, SkipReason.NOT_WRITABLE,
                              "cannot remove the entry the run created")  # fmt: skip
        return Action(
            name, WriteOp.DELETE_RECORD, ref, e.kind, before=now, reason=why,
            record_key=rec.key,
        ), None  # fmt: skip
    restore: dict[RecordField, Any] = {}
    clear: set[RecordField] = set()
    for f in set(after) | cleared:
        if f in changed:
            continue
        if f in before:
            restore[f] = before[f]
        else:
            clear.add(f)
    skip = None
    if changed:
        skip = Skip(name, ref, None, SkipReason.STALE,
                    "changed since the run, kept: "
                    + ", ".join(sorted(f.value for f in changed)))  # fmt: skip
    if not restore and not clear:
        return None, skip
    touched = set(restore) | clear
    return Action(
        name, WriteOp.UPSERT_RECORD, ref, e.kind,
        before={f: now[f] for f in touched if f in now},
        after=restore, clear=frozenset(clear), reason=why,
        record_key=rec.key if rec is not None else None,
    ), skip  # fmt: skip
