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

A side that keeps plays (a media server's episode records, a history), not a list
record, settles what its anchor record holds (a show's rating there, or in a
ratings record of its own: one side's wins, never both written onto each other);
the rest of its
changes go over as one way, and every play of it removed is held and reported as one
way does ("plays removed"), never deleted nor written back. Deletions of pairs
planned by neither direction are looked for both ways, under one-way's guards
(deletes allowed, a side that can delete, no pinned status).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

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
    # A side that keeps plays (episode records, a history), not a list record, is
    # there while it has plays; all of them removed is reported as one way does
    # (`all_plays_removed`), never read as a removal to propagate.
    a_plays = back.main_kind is None or back.granular
    b_plays = fwd.main_kind is None or fwd.granular
    in_sync_before = [
        (bl.source_value, bl.target_value)
        for (link, f), bl in base.items()
        if f == ENTRY
        and isinstance(bl.source_value, str)
        and isinstance(bl.target_value, str)
    ]
    if a_plays:
        fwd.in_sync_before = frozenset(
            fwd.pair_id(ak, Ref(bk)) for ak, bk in in_sync_before
        )
    if b_plays:
        back.in_sync_before = frozenset(
            back.pair_id(bk, Ref(ak)) for ak, bk in in_sync_before
        )
    fwd.run()
    back.run()
    in_sync: list[Baseline] = []
    pairs: dict[tuple[str, str], tuple[EntryPlan | None, EntryPlan | None]] = {}
    for (akey, bref), ep in fwd.entries.items():
        pairs[(akey, bref)] = (ep, None)
    for (bkey, aref), ep in back.entries.items():
        key = (aref, bkey)
        pairs[key] = (pairs.get(key, (None, None))[0], ep)
    # Plays removed on one side are held: the other side's state is not written
    # back onto it either (that would revert the removal).
    reverts: set[tuple[str, str]] = set()
    for akey, bkey in pairs:
        if ab_link(akey, bkey) in fwd.held:
            reverts.add((a.provider, back.pair_id(bkey, Ref(akey))))
        if back.pair_id(bkey, Ref(akey)) in back.held:
            reverts.add((b.provider, fwd.pair_id(akey, Ref(bkey))))
    actions: list[Action] = [
        x for x in (*fwd.actions, *back.actions) if (x.provider, x.link) not in reverts
    ]
    # The list's rating reaches a side that keeps plays as that side's planner's own
    # write, one way; each pair's settlement below keeps it or drops it.
    onto_plays = {
        (x.provider, x.link)
        for x in actions
        if x.op is WriteOp.UPSERT_RECORD and set(x.after) == {RecordField.RATING}
    }
    dropped: dict[tuple[str, str], tuple[str, str]] = {}  # write → (pair, why)
    handled: set[str] = set()
    for (akey, bkey), (to_b, to_a) in pairs.items():
        link = ab_link(akey, bkey)
        handled.add(link)
        if link in fwd.held or back.pair_id(bkey, Ref(akey)) in back.held:
            continue  # plays removed on one side: reported, nothing written
        entry_base = base.get((link, ENTRY))
        ra, rb = a_record(akey), b_record(bkey)
        a_here = ra is not None or (a_plays and _has_plays(a, akey))
        b_here = rb is not None or (b_plays and _has_plays(b, bkey))
        if not a_here or not b_here:
            if entry_base is not None:  # in sync before: a removal, not "new"
                if (a_here or not a_plays) and (b_here or not b_plays):
                    actions.extend(
                        _entry_gone(policy, a, b, fwd, back, (akey, bkey), ra, rb,
                                    link, a_gone=not a_here, b_gone=not b_here)
                    )  # fmt: skip
                continue
            # Never seen in sync: create it from the other side.
            src = to_b if not b_here else to_a
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
                    d = fwd if not b_here else back
                    act = d.entry_action(src, changes)
                    actions.append(_relink(act, link, reverse=b_here))
            continue
        in_sync.append(Baseline(prof, link, ENTRY, akey, bkey))
        # A side that keeps plays may rate in a record kind of its own (a history's
        # ratings): that record is settled as a list record's rating is.
        if ra is None and a_plays:
            ra = _own_rating(a, back, akey)
        if rb is None and b_plays:
            rb = _own_rating(b, fwd, bkey)
        if ra is None or rb is None:
            # One side's state is its plays: no fields to settle against a list
            # record, so each side's changes go over as one way (plays reach the
            # playing side as its own unit writes or plays).
            moved = False
            for ep, d, back_way in ((to_b, fwd, False), (to_a, back, True)):
                changes = (
                    [c for c in ep.fields.values() if c.after != c.before] if ep else []
                )
                if changes:
                    act = d.entry_action(ep, changes)
                    actions.append(_relink(act, link, reverse=back_way))
                    moved = True
            if not moved:
                kept = rb if rb is not None else ra
                assert kept is not None
                (fwd if rb is not None else back).skip(
                    kept.ref, None, SkipReason.UNCHANGED, "", link
                )
            continue
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
            # A side that keeps plays holds on its anchor only what lives there (a
            # show's rating): a field its record lacks is its plays', one way.
            if wants_b and cb is not None and a_plays and f not in ra.values:
                fields_b.append(cb)
                continue
            if wants_a and ca is not None and b_plays and f not in rb.values:
                fields_a.append(ca)
                continue
            if not wants_a and not wants_b:
                continue
            if ch_a is False and ch_b is False:
                # Neither side moved since they were last in sync: a difference is
                # only translation (or a value derived for the other side).
                continue
            onto = (
                (a.provider, back.pair_id(bkey, Ref(akey)))
                if a_plays
                else (b.provider, link)
            )
            toward = cb if a_plays else ca  # the plays side's rating, to the list
            if (
                f is RecordField.RATING
                and (a_plays or b_plays)
                and onto in onto_plays
                and toward is not None
                and toward.after != toward.before
            ):
                # Each side's rating is on its way onto the other: one wins.
                won = _conflict(policy, a.provider, b.provider, ch_a, ch_b, ra, rb)
                winner = a.provider if won == _A else b.provider
                why = (
                    f"changed on {winner} since the last sync"
                    if ch_a is not None and ch_b is not None and ch_a != ch_b
                    else f"changed on both sides; {winner} wins "
                    f"({policy.conflict.value})"
                )
                if won == (_A if a_plays else _B):
                    (fields_b if a_plays else fields_a).append(toward)
                    dropped[onto] = (link, why)
                else:
                    lost, ep = (fwd, to_b) if a_plays else (back, to_a)
                    assert ep is not None
                    lost.skip(ep.target_ref, f, SkipReason.CONFLICT, why, link)
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
        if not fields_a and not fields_b:
            fwd.skip(rb.ref, None, SkipReason.UNCHANGED, "", link)
    for x in actions:
        if (x.provider, x.link) in dropped and set(x.after) == {RecordField.RATING}:
            pair, why = dropped[(x.provider, x.link)]
            d = back if x.provider == a.provider else fwd
            d.skip(x.ref, RecordField.RATING, SkipReason.CONFLICT, why, pair)
    actions = [
        x
        for x in actions
        if not (
            (x.provider, x.link) in dropped and set(x.after) == {RecordField.RATING}
        )
    ]
    actions += deletions(policy, a, b, base, fwd, handled)
    actions += _deletions_back(policy, a, b, base, back, handled, ab_link)
    return finish_plan(
        policy, actions, fwd.skips + back.skips, [(a, b), (b, a)], in_sync
    )


def _has_plays(snap: Snapshot, key: str) -> bool:
    """Whether a side that keeps plays still holds any for an anchor."""
    entry = snap.entries.get(key)
    return entry is not None and bool(entry.records or entry.events or entry.summaries)


def _own_rating(snap: Snapshot, d: DirectionPlanner, key: str) -> Record | None:
    """The rating record a side that keeps plays holds in a kind of its own."""
    if d.ratings_kind is None or d.ratings_kind == d.main_kind:
        return None
    return anchor_record(snap.entries.get(key), d.ratings_kind)


def _deletions_back(
    policy: Policy,
    a: Snapshot,
    b: Snapshot,
    base: Mapping[tuple[str, str], Baseline],
    back: DirectionPlanner,
    handled: set[str],
    ab_link: Callable[[str, str], str],
) -> list[Action]:
    """`deletions` the other way: pairs in sync whose second side is gone.

    The baselines name each pair by its (a, b) id; the backward planner names it
    (b, a), so they are turned round for `deletions` and its actions and skips
    get the pair's (a, b) id back.
    """
    turned: dict[tuple[str, str], Baseline] = {}
    links: dict[str, str] = {}
    for (link, f), bl in base.items():
        akey, bkey = bl.source_value, bl.target_value
        if f != ENTRY or link in handled:
            continue
        if not isinstance(akey, str) or not isinstance(bkey, str):
            continue
        if link != ab_link(akey, bkey):
            continue  # another pair of the profile
        ba = back.pair_id(bkey, Ref(akey))
        turned[(ba, ENTRY)] = replace(bl, link=ba, source_value=bkey, target_value=akey)
        links[ba] = link
    start = len(back.skips)
    out = [
        replace(x, link=links[x.link])
        for x in deletions(policy, b, a, turned, back, set())
    ]
    back.skips[start:] = [replace(x, link=links[x.link]) for x in back.skips[start:]]
    return out


def _relink(action: Action, link: str, *, reverse: bool = False) -> Action:
    """Point an action at the (a, b) pair id, marking which side it writes."""
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
    keys: tuple[str, str],
    ra: Record | None,
    rb: Record | None,
    link: str,
    *,
    a_gone: bool,
    b_gone: bool,
) -> list[Action]:
    """An entry pair was in sync and one side no longer has it.

    Guarded as one-way `deletions` are: deletes allowed, a side that can delete,
    and no pinned status on the record. A side that keeps plays, not a record,
    has nothing to delete.
    """
    if a_gone == b_gone:  # removed on both sides: left alone
        return []
    gone_on, keep_on, d, rec, key = (
        (a, b, fwd, rb, keys[1]) if a_gone else (b, a, back, ra, keys[0])
    )
    if not gone_on.complete:
        return []
    ref = rec.ref if rec is not None else Ref(key)
    if not policy.allow_deletes:  # held: neither propagated nor re-created
        d.skip(ref, None, SkipReason.DELETES_OFF,
               f"removed on {gone_on.provider}; deletes not allowed", link)  # fmt: skip
        return []
    if rec is None:
        d.skip(ref, None, SkipReason.NOT_WRITABLE, "cannot delete plays", link)
        return []
    if WriteOp.DELETE_RECORD not in keep_on.capabilities.write_ops:
        d.skip(rec.ref, None, SkipReason.NOT_WRITABLE, "cannot delete records", link)
        return []
    if "status" in d.pins.get((keep_on.provider, ref_id(rec.ref)), frozenset()):
        d.skip(rec.ref, RecordField.STATUS, SkipReason.PINNED, "delete blocked", link)
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
