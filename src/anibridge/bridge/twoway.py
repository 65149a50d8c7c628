"""Two-way planning: settle each field of an entry pair against its baseline.

Both directions are planned (`DirectionPlanner`), then per entry pair and field:
changed on one side since the baseline → propagate; changed on both → the policy's
`ConflictRule` (newest `updated_at`, or provider priority); absent on one side that had
it at the baseline → clear/delete on the other, only with `allow_deletes` (otherwise
the removal is held: neither propagated nor reverted, reported as ``deletes-off``).
Two values are equal when they agree at the coarser precision of the two sides (a
rating at the coarser scale, a date at the coarser precision, text after the shorter
truncation), and a field neither side changed since its baseline is left alone, so a
value translated or derived for one side never bounces back onto the other. Writes
the in-sync baselines (each side's own native value) the run stores afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from anibridge.bridge.codec import JSON, ref_id
from anibridge.bridge.guards import finish_plan
from anibridge.bridge.identity import Identity
from anibridge.bridge.model import (
    Action,
    ConflictRule,
    Plan,
    Policy,
    SkipReason,
    Snapshot,
)
from anibridge.bridge.oneway import (
    ENTRY,
    FIELD_ORDER,
    Candidate,
    DirectionPlanner,
    EntryPlan,
    SentCheck,
    anchor_record,
    deletions,
    encoded,
    native_kind,
    pin_map,
)
from anibridge.bridge.stores import Baseline, Pin, link_id
from anibridge.dates import resolve_timezone
from anibridge.provider.base import (
    Record,
    RecordField,
    RecordKind,
    Ref,
    WriteOp,
)

__all__ = ["plan_two_way"]

_A, _B = "a", "b"  # the sides of a pair, as `_conflict` names the winner


def _changed(b: Baseline | None, side: str, value: JSON) -> bool | None:
    if b is None:
        return None
    return value != (b.source_value if side == "a" else b.target_value)


def plan_two_way(
    a: Snapshot,
    b: Snapshot,
    id_ab: Identity,
    id_ba: Identity,
    policy: Policy,
    base: Mapping[tuple[str, str], Baseline],
    pins: Iterable[Pin],
    sent: SentCheck | None,
) -> Plan:
    """Plan both directions of a pair and settle them against baselines."""
    tz = resolve_timezone(policy.timezone)
    pinned = pin_map(pins)
    prof = policy.profile

    def ab_link(akey: str, bref: str) -> str:
        return link_id(prof, a.provider, akey, "", b.provider, bref)

    def a_record(akey: str) -> Record | None:
        return anchor_record(
            a.entries.get(akey), native_kind(a, RecordKind.PROGRESS) or ""
        )

    def b_record(bkey: str) -> Record | None:
        return anchor_record(
            b.entries.get(bkey), native_kind(b, RecordKind.PROGRESS) or ""
        )

    def side_changed(side: str, akey: str, bkey: str, f: RecordField) -> bool:
        bl = base.get((ab_link(akey, bkey), f.value))
        rec = a_record(akey) if side == "a" else b_record(bkey)
        value = encoded(f, rec.values.get(f)) if rec is not None else None
        return bool(_changed(bl, side, value))

    fwd = DirectionPlanner(
        a, b, id_ab, policy, pinned, tz, sent,
        lambda s, t, f: side_changed("a", s, t, f),
    )  # fmt: skip
    back = DirectionPlanner(
        b, a, id_ba, policy, pinned, tz, sent,
        lambda s, t, f: side_changed("b", t, s, f),
    )  # fmt: skip
    fwd.run()
    back.run()
    actions: list[Action] = list(fwd.actions) + list(back.actions)
    in_sync: list[Baseline] = []
    pairs: dict[tuple[str, str], tuple[EntryPlan | None, EntryPlan | None]] = {}
    for (akey, bref), ep in fwd.entries.items():
        pairs[(akey, bref)] = (ep, None)
    for (bkey, aref), ep in back.entries.items():
        key = (aref, bkey)
        pairs[key] = (pairs.get(key, (None, None))[0], ep)
    handled: set[str] = set()
    for (akey, bkey), (to_b, to_a) in pairs.items():
        link = ab_link(akey, bkey)
        handled.add(link)
        entry_base = base.get((link, ENTRY))
        ra, rb = a_record(akey), b_record(bkey)
        if ra is None or rb is None:
            if entry_base is not None:  # in sync before: a removal, not "new"
                actions.extend(
                    _entry_gone(policy, a, b, fwd, back, akey, bkey, ra, rb, link)
                )
                continue
            # Never seen in sync: create it from the other side.
            src = to_b if rb is None else to_a
            if src is not None:
                changes = [c for c in src.fields.values() if c.after != c.before]
                for c in src.fields.values():
                    if c.after == c.before:  # already equal: baseline both sides
                        mine = encoded(c.field, c.before)
                        pair = (
                            (c.source_value, mine)
                            if rb is None
                            else (mine, c.source_value)
                        )
                        in_sync.append(Baseline(prof, link, c.field.value, *pair))
                if changes:
                    d = fwd if rb is None else back
                    act = d.entry_action(src, changes)
                    actions.append(_relink(act, link, reverse=rb is not None))
            continue
        in_sync.append(Baseline(prof, link, ENTRY, akey, bkey))
        fields_b: list[Candidate] = []
        fields_a: list[Candidate] = []
        for f in FIELD_ORDER:
            cb = to_b.fields.get(f) if to_b else None
            ca = to_a.fields.get(f) if to_a else None
            va = encoded(f, ra.values.get(f))
            vb = encoded(f, rb.values.get(f))
            wants_b = cb is not None and cb.after != cb.before
            wants_a = ca is not None and ca.after != ca.before
            bl = base.get((link, f.value))
            ch_a, ch_b = _changed(bl, "a", va), _changed(bl, "b", vb)
            if bl is not None:
                gone_a = va is None and bl.source_value is not None
                gone_b = vb is None and bl.target_value is not None
                if (gone_a and vb == bl.target_value) or (
                    gone_b and va == bl.source_value
                ):
                    if not policy.allow_deletes:  # held, neither side is touched
                        who = a.provider if gone_a else b.provider
                        why = f"cleared on {who}; deletes not allowed"
                        d = fwd if gone_a else back
                        d.skip((rb if gone_a else ra).ref, f,
                               SkipReason.DELETES_OFF, why, link)  # fmt: skip
                    elif gone_a:
                        _removal(fields_b, fwd, f, rb, vb, link)
                    else:
                        _removal(fields_a, back, f, ra, va, link)
                    continue
            # Equal at the coarser precision of the two sides: translating one
            # side's value into the other's scale is a no-op (73/100 vs 7/10,
            # a datetime vs its calendar date, a note vs its truncation).
            if (
                (cb is not None and cb.after == cb.before)
                or (ca is not None and ca.after == ca.before)
                or (va is None and vb is None)
            ):
                in_sync.append(Baseline(prof, link, f.value, va, vb))
                continue
            if not wants_a and not wants_b:
                continue
            if ch_a is False and ch_b is False:
                # Neither side moved since they were last in sync: a difference is
                # only translation (or a value derived for the other side).
                continue
            if wants_b and wants_a:
                winner = _conflict(policy, a.provider, b.provider, ch_a, ch_b, ra, rb)
                assert to_a is not None and to_b is not None
                loser_ref = to_a.target_ref if winner == "a" else to_b.target_ref
                (fields_b if winner == "a" else fields_a).append(
                    cb if winner == "a" else ca
                )
                other = b.provider if winner == "b" else a.provider
                loser = back if winner == "a" else fwd  # the write that lost
                loser.skip(
                    loser_ref, f, SkipReason.CONFLICT,
                    f"changed on both sides; {other} wins ({policy.conflict.value})",
                    link,
                )  # fmt: skip
                continue
            # A removal that may not propagate (deletes off) is undone from the
            # other side rather than left diverging: nothing is lost either way.
            if wants_b and cb is not None and to_b is not None:
                if ch_b and not ch_a and vb is not None:
                    why = f"changed on {b.provider} since the last sync"
                    fwd.skip(to_b.target_ref, f, SkipReason.CONFLICT, why, link)
                    continue
                fields_b.append(cb)
            elif ca is not None and to_a is not None:
                if ch_a and not ch_b and va is not None:
                    why = f"changed on {a.provider} since the last sync"
                    back.skip(to_a.target_ref, f, SkipReason.CONFLICT, why, link)
                    continue
                fields_a.append(ca)
        if fields_b and to_b is not None:
            act = fwd.entry_action(to_b, fields_b)
            actions.append(_relink(act, link))
        if fields_a and to_a is not None:
            act = back.entry_action(to_a, fields_a)
            actions.append(_relink(act, link, reverse=True))
        if not fields_a and not fields_b and link not in fwd.held | back.held:
            fwd.skip(rb.ref, None, SkipReason.UNCHANGED, "", link)
    actions += deletions(policy, a, b, base, fwd, handled)
    return finish_plan(
        policy, actions, fwd.skips + back.skips, [(a, b), (b, a)], in_sync
    )


def _relink(action: Action, link: str, *, reverse: bool = False) -> Action:
    """Point an action at the (a, b) pair id, marking which side it writes."""
    from dataclasses import replace

    values = dict(action.source_values)
    if reverse:
        values = {"@side": "a", **values}
    return replace(action, link=link, source_values=values)


def _removal(
    out: list[Candidate],
    d: DirectionPlanner,
    f: RecordField,
    rec: Record,
    value: JSON,
    link: str,
) -> None:
    """A field one side had at the baseline is gone there: clear it on the other."""
    if value is None:
        return
    spec = d.caps.record_fields.get(f)
    if spec is None or not spec.writable:
        d.skip(rec.ref, f, SkipReason.NOT_WRITABLE, "cannot clear", link)
        return
    if f.value in d.pins.get((d.target.provider, ref_id(Ref(rec.ref.key))), ()):
        d.skip(rec.ref, f, SkipReason.PINNED, "clear blocked", link)
        return
    out.append(Candidate(f, rec.values.get(f), None, "cleared on the other side"))


def _entry_gone(
    policy: Policy,
    a: Snapshot,
    b: Snapshot,
    fwd: DirectionPlanner,
    back: DirectionPlanner,
    akey: str,
    bkey: str,
    ra: Record | None,
    rb: Record | None,
    link: str,
) -> list[Action]:
    """An entry pair was in sync and one side no longer has it."""
    if ra is None and rb is None:
        return []
    gone_on, keep_on, d, rec = (a, b, fwd, rb) if ra is None else (b, a, back, ra)
    if not gone_on.complete or rec is None:
        return []
    if not policy.allow_deletes:  # held: neither propagated nor re-created
        d.skip(rec.ref, None, SkipReason.DELETES_OFF,
               f"removed on {gone_on.provider}; deletes not allowed", link)  # fmt: skip
        return []
    if WriteOp.DELETE_RECORD not in keep_on.capabilities.write_ops:
        d.skip(rec.ref, None, SkipReason.NOT_WRITABLE, "cannot delete records", link)
        return []
    return [
        Action(
            keep_on.provider,
            WriteOp.DELETE_RECORD,
            rec.ref,
            rec.kind,
            before=dict(rec.values),
            reason=f"removed on {gone_on.provider} since the last sync",
            source=gone_on.provider,
            link=link,
            record_key=rec.key,
        )
    ]


def _conflict(
    policy: Policy,
    a_name: str,
    b_name: str,
    ch_a: bool | None,
    ch_b: bool | None,
    ra: Record,
    rb: Record,
) -> str:
    """Which side wins a field both sides want to change: "a" or "b"."""
    if ch_a is not None and ch_b is not None and ch_a != ch_b:
        return _A if ch_a else _B
    ta, tb = ra.updated_at, rb.updated_at
    if policy.conflict is ConflictRule.NEWEST and ta is not None and tb is not None:
        if ta > tb:
            return _A
        if tb > ta:
            return _B
    for name in policy.priority:
        if name == a_name:
            return _A
        if name == b_name:
            return _B
    return _A
