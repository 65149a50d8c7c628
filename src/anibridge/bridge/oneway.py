"""Planning one direction: a target's candidate writes from a source's observations.

`DirectionPlanner` turns each target anchor's observation into candidate field writes:
derive → policy filters (fields, pins, rules) → translate and compare →
non-regression. Three target shapes share it, chosen from capabilities alone:
aggregate list targets (one `UpsertRecord` per entry; watchlist, ratings and
collection kinds as their own records where declared), granular server targets
(per-episode `UpsertRecord`s) and event histories (`AppendEvent` per play not present
and not already sent). `deletions` finds entry pairs that were in sync and whose
source side is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from anibridge.bridge.codec import JSON, encode_value, ref_id
from anibridge.bridge.derive import Desired, derive
from anibridge.bridge.identity import Identity
from anibridge.bridge.model import (
    Action,
    Direction,
    Entry,
    Policy,
    Skip,
    SkipReason,
    Snapshot,
)
from anibridge.bridge.observe import Observation, observe_each, record_kind_semantics
from anibridge.bridge.stores import Baseline, Pin, link_id
from anibridge.bridge.translate import translate
from anibridge.provider.base import (
    EventKind,
    FacetName,
    Node,
    Progress,
    Record,
    RecordField,
    RecordKind,
    Ref,
    State,
    Status,
    Structure,
    WriteOp,
)

__all__ = [
    "ENTRY",
    "FIELD_ORDER",
    "Candidate",
    "DirectionPlanner",
    "EntryPlan",
    "SentCheck",
    "anchor_record",
    "deletions",
    "encoded",
    "in_sync_baselines",
    "later_pass",
    "native_kind",
    "pass_index",
    "pin_map",
    "regresses",
]

ENTRY = "@entry"
FIELD_ORDER: tuple[RecordField, ...] = (
    RecordField.STATUS,
    RecordField.PROGRESS,
    RecordField.REPEAT_COUNT,
    RecordField.STARTED_AT,
    RecordField.FINISHED_AT,
    RecordField.LAST_ACTIVITY_AT,
    RecordField.RATING,
    RecordField.NOTES,
)
_RANK = {
    Status.PLANNED: 0,
    Status.ACTIVE: 1,
    Status.PAUSED: 1,
    Status.DROPPED: 1,
    Status.COMPLETED: 2,
    Status.REPEATING: 2,
}

type SentCheck = Callable[[str, str, str, str], bool]


@dataclass(slots=True)
class Candidate:
    """One field's proposed write: before, after (None clears), reason, source value."""

    field: RecordField
    before: Any
    after: Any  # None = clear
    reason: str
    source_value: JSON = None


@dataclass(slots=True)
class EntryPlan:
    """Candidate writes for one target record, before two-way settlement."""

    target_ref: Ref
    kind: str
    record: Record | None
    source_key: str
    provenance: tuple[str, ...]
    fields: dict[RecordField, Candidate] = field(default_factory=dict)


def native_kind(snapshot: Snapshot, semantic: RecordKind) -> str | None:
    """The target's native record kind for a semantic kind, if declared."""
    for native, sem in record_kind_semantics(snapshot).items():
        if sem is semantic and (native or semantic is RecordKind.PROGRESS):
            if native == "" and snapshot.capabilities.record_kinds:
                declared = {d.native for d in snapshot.capabilities.record_kinds}
                if "" not in declared:
                    continue
            return native
    return None


def anchor_record(entry: Entry | None, kind: str) -> Record | None:
    """The record of `kind` on the anchor itself (not on a part)."""
    if entry is None:
        return None
    for rec in entry.records:
        if rec.kind == kind and rec.ref.is_anchor:
            return rec
    return None


def _total(entry: Entry | None, record: Record | None) -> int | None:
    if record is not None:
        prog = record.values.get(RecordField.PROGRESS)
        total = prog.total if isinstance(prog, Progress) else None
        if isinstance(total, (int, float)) and total > 0:
            return int(total)
    if entry is not None and entry.node is not None:
        structure = entry.node.facets.get(FacetName.STRUCTURE)
        if isinstance(structure, Structure) and structure.parts:
            return len(structure.parts)
    return None


def regresses(f: RecordField, before: Any, after: Any) -> bool:
    """Whether writing `after` over `before` moves the field backwards."""
    if before is None or after is None:
        return False
    if f is RecordField.STATUS:
        if not isinstance(before, State) or not isinstance(after, State):
            return False
        if before.status is None or after.status is None:
            return False
        return _RANK[after.status] < _RANK[before.status]
    if f is RecordField.PROGRESS:
        b, a = before.current, after.current
        return b is not None and a is not None and a < b
    if f in (RecordField.STARTED_AT, RecordField.FINISHED_AT):
        return after > before
    if f in (RecordField.LAST_ACTIVITY_AT, RecordField.REPEAT_COUNT):
        return after < before
    return False


def pass_index(status: Status | None, repeat: int) -> int:
    """Zero-based viewing pass an entry's progress belongs to.

    REPEATING with `repeat` completed rewatches is in pass ``repeat + 1``; COMPLETED
    finished pass ``repeat``; anything else is still in the first pass.
    """
    if status is Status.REPEATING:
        return repeat + 1
    if status is Status.COMPLETED:
        return repeat
    return 0


def later_pass(desired: Desired, written: Any, record: Record | None) -> bool:
    """Whether the planned entry is in a later viewing pass than the target's.

    This is how non-regression tells a new pass from a regression: a lower
    progress that comes with REPEATING (being written or kept) in a later pass than
    the one the target's progress belongs to is the position in a new pass (a
    rewatch), not a step back; in the same pass it stays a regression.
    """
    current = record.values if record is not None else {}
    cur_state = current.get(RecordField.STATUS)
    cur_status = cur_state.status if isinstance(cur_state, State) else None
    status = written.status if isinstance(written, State) else cur_status
    if status is not Status.REPEATING:
        return False
    cur_repeat = current.get(RecordField.REPEAT_COUNT)
    have = cur_repeat if isinstance(cur_repeat, int) else 0
    want = desired.values.get(RecordField.REPEAT_COUNT, have)
    want = want if isinstance(want, int) else have
    return pass_index(Status.REPEATING, want) > pass_index(cur_status, have)


def encoded(f: RecordField, value: Any) -> JSON:
    """JSON form of a value, None when unset."""
    return None if value is None else encode_value(f, value)


class DirectionPlanner:
    """Plans writes onto `target` from what `source` observed."""

    def __init__(
        self,
        source: Snapshot,
        target: Snapshot,
        identity: Identity,
        policy: Policy,
        pins: Mapping[tuple[str, str], frozenset[str]],
        tz: tzinfo,
        sent: SentCheck | None,
        may_regress: Callable[[str, str, RecordField], bool] | None = None,
    ) -> None:
        """Bind source, target, identity and policy; nothing is computed yet."""
        self.source = source
        self.target = target
        self.identity = identity
        self.policy = policy
        self.pins = pins
        self.tz = tz
        self.sent = sent
        self.may_regress = may_regress
        caps = target.capabilities
        self.caps = caps
        # None only where declared kinds leave the default "" out (`native_kind`).
        self.main_kind = native_kind(target, RecordKind.PROGRESS)
        self.ratings_kind = native_kind(target, RecordKind.RATINGS)
        self.planned_kind = native_kind(target, RecordKind.PLANNED)
        self.collection_kind = native_kind(target, RecordKind.COLLECTION)
        self.upsert = WriteOp.UPSERT_RECORD in caps.write_ops
        self.granular = RecordField.PROGRESS not in caps.record_fields and bool(
            caps.coordinate_axes
        )
        play = [d.native for d in caps.event_kinds if d.semantic is EventKind.PLAY]
        self.play_kinds = frozenset(
            d.native
            for d in caps.event_kinds
            if d.semantic in (EventKind.PLAY, EventKind.CHECKIN)
        )
        status_spec = caps.record_fields.get(RecordField.STATUS)
        progress_spec = caps.record_fields.get(RecordField.PROGRESS)
        records_say_it = (
            self.upsert
            and (status_spec is not None and status_spec.writable)
            and (
                self.granular or (progress_spec is not None and progress_spec.writable)
            )
        )
        # Plays go to event histories; a target whose records already express
        # consumption (a server's watched flag, a tracker's progress) gets no copy.
        self.play_kind = (
            play[0]
            if play
            and WriteOp.APPEND_EVENT in caps.write_ops
            and policy.sync_events
            and not records_say_it
            else None
        )
        self.leaf_axis = "episode"
        for axes in caps.coordinate_axes.values():
            if axes:
                self.leaf_axis = axes[-1]
                break
        self._pair_ids: dict[tuple[str, str], str] = {}
        self.actions: list[Action] = []
        self.skips: list[Skip] = []
        self.entries: dict[tuple[str, str], EntryPlan] = {}
        self.held: set[str] = set()  # pair ids held back as a whole (not unchanged)
        self.in_sync_before: frozenset[str] = frozenset()  # pair ids with @entry
        self.source_fields = source.capabilities.record_fields
        # Whether a rewatch can show as REPEATING with the position in its pass.
        self.repeating = (
            status_spec is not None
            and status_spec.writable
            and any(d.semantic is Status.REPEATING for d in status_spec.values)
        )
        self.new_pass = False  # the entry being planned moves to a later pass

    # -- helpers -------------------------------------------------------------

    def skip(
        self,
        ref: Ref,
        f: RecordField | None,
        reason: SkipReason,
        detail: str = "",
        link: str = "",
    ) -> None:
        """Record a skipped candidate with its reason code."""
        self.skips.append(Skip(self.target.provider, ref, f, reason, detail, link))

    def pair_id(self, source_key: str, target: Ref) -> str:
        """The stable id of the (source anchor, target anchor) entry pair."""
        key = (source_key, target.key)
        found = self._pair_ids.get(key) if target.is_anchor else None
        if found is None:
            found = link_id(
                self.policy.profile,
                self.source.provider,
                source_key,
                "",
                self.target.provider,
                ref_id(target),
            )
            if target.is_anchor:
                self._pair_ids[key] = found
        return found

    # -- per observation -----------------------------------------------------

    def run(self) -> None:
        """Plan every observation of the source onto the target."""
        for key, reason in self.identity.unresolved.items():
            self.skip(Ref(key), None, SkipReason.NO_TARGET, reason)
        for o in observe_each(self.source, self.identity):
            entry = self.target.entries.get(o.target.key)
            if self.granular:
                self.plan_units(o, entry)
                self.plan_anchor_rating(o, entry)
            elif self.main_kind is not None:
                self.plan_aggregate(o, entry)
            if self.play_kind is not None:
                self.plan_events(o, entry)

    def plan_aggregate(self, o: Observation, entry: Entry | None) -> None:
        """Candidate field writes for one aggregate (list) entry."""
        policy = self.policy
        main = self.main_kind or ""
        record = anchor_record(entry, main)
        total = _total(entry, record)
        desired = derive(o, record, total, policy, repeating=self.repeating)
        source_key = o.sources[0]
        link = self.pair_id(source_key, o.target)
        pinned = self.pins.get((self.target.provider, ref_id(o.target)), frozenset())
        ep = EntryPlan(o.target, main, record, source_key, tuple(o.provenance))
        want_status = desired.values.get(RecordField.STATUS)
        cur_status = None
        if record is not None:
            st = record.values.get(RecordField.STATUS)
            cur_status = st.status if isinstance(st, State) else None
        self.watchlist(o, entry, record, want_status, link)
        self.all_plays_removed(o, record, link)
        if want_status is Status.PLANNED and record is not None:
            # A watchlist never downgrades an entry the target already has.
            desired.values.pop(RecordField.STATUS, None)
            if cur_status not in (None, Status.PLANNED):
                self.skip(
                    o.target,
                    RecordField.STATUS,
                    SkipReason.REGRESSION,
                    f"planned on the source, {cur_status.value} on the target",
                    link,
                )
        for f, why in desired.held.items():
            self.skip(o.target, f, SkipReason.RULE, why, link)
        separate_ratings = self.ratings_kind is not None and self.ratings_kind != main
        ratings_record = (
            anchor_record(entry, self.ratings_kind)
            if separate_ratings and self.ratings_kind is not None
            else record
        )
        self.new_pass = False
        for f in FIELD_ORDER:
            if f not in desired.values or f not in policy.fields:
                continue
            if f is RecordField.RATING and separate_ratings:
                self.plan_rating(o, desired, ratings_record, pinned, link, cur_status)
                continue
            c = self.field(o, f, desired, record, pinned, link, cur_status, total)
            if c is not None:
                ep.fields[f] = c
            if f is RecordField.STATUS:
                written = c.after if c is not None else None
                self.new_pass = later_pass(desired, written, record)
        self.collection(o, entry, link)
        status_spec = self.caps.record_fields.get(RecordField.STATUS)
        if (
            record is None
            and ep.fields
            and RecordField.STATUS in policy.fields
            and status_spec is not None
            and status_spec.writable
            and RecordField.STATUS not in ep.fields
        ):
            # A list entry is created with a status or not at all (an entry whose
            # status the target cannot represent would be invented, not synced).
            self.skip(
                o.target, None, SkipReason.NOT_WRITABLE, "no status to create", link
            )
            return
        if ep.fields or record is not None:
            self.entries[(source_key, ref_id(o.target))] = ep

    def all_plays_removed(
        self, o: Observation, record: Record | None, link: str
    ) -> None:
        """Report a target with progress whose source has no activity left.

        Every play of the title was removed on the source: lowering the target to
        nothing is a deletion, never planned; say so instead of "unchanged".
        """
        if link not in self.in_sync_before:
            return  # never in sync: the source simply never had it
        prog = record.values.get(RecordField.PROGRESS) if record is not None else None
        current = prog.current if isinstance(prog, Progress) else None
        if not current or o.units or o.weighted or o.explicit or o.planned:
            return
        if self.policy.allow_deletes:
            reason = SkipReason.REGRESSION
            why = "nothing left on the source (plays removed); progress kept"
        else:
            reason = SkipReason.DELETES_OFF
            why = "nothing left on the source (plays removed); deletes not allowed"
        self.skip(o.target, RecordField.PROGRESS, reason, why, link)
        self.held.add(link)

    def field(
        self,
        o: Observation,
        f: RecordField,
        desired: Desired,
        record: Record | None,
        pinned: frozenset[str],
        link: str,
        cur_status: Status | None,
        total: int | None,
    ) -> Candidate | None:
        """One field's candidate: translated, compared, filtered by policy."""
        spec = self.caps.record_fields.get(f)
        if spec is None or not spec.writable or not self.upsert:
            if spec is not None and spec.readable and record is not None:
                self.skip(o.target, f, SkipReason.NOT_WRITABLE, "", link)
            return None
        if f.value in pinned:
            self.skip(o.target, f, SkipReason.PINNED, "", link)
            return None
        want_status = desired.values.get(RecordField.STATUS, cur_status)
        for rule in self.policy.rules:
            if f in rule.fields and rule.matches(
                self.target.provider, cur_status, want_status
            ):
                self.skip(o.target, f, SkipReason.RULE, rule.name, link)
                return None
        current = record.values.get(f) if record is not None else None
        tr = translate(
            f,
            desired.values[f],
            spec,
            current,
            source_spec=self.source_fields.get(f),
            tz=self.tz,
            total=total,
        )
        if tr.value is None:
            why = SkipReason.IMPRECISE if tr.imprecise else SkipReason.NOT_WRITABLE
            self.skip(o.target, f, why, tr.note, link)
            return None
        src_val = None
        if o.source_records:
            src_val = encoded(f, o.source_records[0].values.get(f))
        if tr.equal:
            return Candidate(f, current, current, "", src_val)
        if (
            f in self.policy.non_regression
            and regresses(f, current, tr.value)
            and not (f is RecordField.PROGRESS and self.new_pass)
            and not (
                self.may_regress and self.may_regress(o.sources[0], ref_id(o.target), f)
            )
        ):
            self.skip(
                o.target,
                f,
                SkipReason.REGRESSION,
                f"{desired.reasons.get(f, '')}: would move backwards",
                link,
            )
            return None
        reason = desired.reasons.get(f, "")
        if tr.note:
            reason = f"{reason}; {tr.note}"
        return Candidate(f, current, tr.value, reason, src_val)

    def plan_rating(
        self,
        o: Observation,
        desired: Desired,
        record: Record | None,
        pinned: frozenset[str],
        link: str,
        cur_status: Status | None,
    ) -> None:
        """A rating written to its own record kind (or the main one)."""
        c = self.field(
            o, RecordField.RATING, desired, record, pinned, link, cur_status, None
        )
        kind = self.ratings_kind if self.ratings_kind is not None else self.main_kind
        if c is None or c.after == c.before or kind is None:
            return
        self.actions.append(
            Action(
                self.target.provider,
                WriteOp.UPSERT_RECORD,
                o.target,
                kind,
                before={} if c.before is None else {RecordField.RATING: c.before},
                after={RecordField.RATING: c.after},
                reason=f"rating: {c.reason}",
                provenance=tuple(o.provenance),
                source=self.source.provider,
                link=link,
                created=record is None,
                record_key=record.key if record else None,
                revision=record.revision if record else None,
            )
        )

    def plan_anchor_rating(self, o: Observation, entry: Entry | None) -> None:
        """A granular target still rates the work itself (its anchor record)."""
        rating = o.explicit.get(RecordField.RATING)
        if rating is None or RecordField.RATING not in self.policy.fields:
            return
        kind = self.ratings_kind if self.ratings_kind is not None else self.main_kind
        if kind is None:
            return
        record = anchor_record(entry, kind)
        desired = Desired()
        desired.set(RecordField.RATING, rating, "source rating")
        link = self.pair_id(o.sources[0], o.target)
        pinned = self.pins.get((self.target.provider, ref_id(o.target)), frozenset())
        self.plan_rating(o, desired, record, pinned, link, None)

    def watchlist(
        self,
        o: Observation,
        entry: Entry | None,
        record: Record | None,
        want: Status | None,
        link: str,
    ) -> None:
        """Source PLANNED → the target's watchlist kind, only if it has nothing."""
        kind = self.planned_kind
        if kind is None or kind == self.main_kind or want is not Status.PLANNED:
            return
        if anchor_record(entry, kind) is not None or record is not None:
            return
        if entry is not None and entry.records:
            return
        if not self.upsert:
            return
        self.actions.append(
            Action(
                self.target.provider,
                WriteOp.UPSERT_RECORD,
                o.target,
                kind,
                reason="planned on the source: add to the watchlist",
                provenance=tuple(o.provenance),
                source=self.source.provider,
                link=link,
                created=True,
            )
        )

    def collection(self, o: Observation, entry: Entry | None, link: str) -> None:
        """Source collection → the target's collection kind, where it declares one."""
        kind = self.collection_kind
        if not o.collected or kind is None or not self.upsert:
            return
        if anchor_record(entry, kind) is not None:
            return
        self.actions.append(
            Action(
                self.target.provider,
                WriteOp.UPSERT_RECORD,
                o.target,
                kind,
                reason="in the source collection",
                provenance=tuple(o.provenance),
                source=self.source.provider,
                link=link,
                created=True,
            )
        )

    # -- granular targets ----------------------------------------------------

    def unit_ref(
        self, anchor: Ref, season: int | None, n: int, entry: Entry | None = None
    ) -> Ref | None:
        """The target ref of one unit (episode) of an anchor; None if unplaceable.

        A unit without a season reached a seasoned target through an unscoped target
        id: `n` is then the show's absolute position (regular seasons in order, as in
        `anibridge.bridge.observe`), placed through the target's `Structure`; where
        that was not read (a targeted read without the show) it cannot be placed,
        and a guessed `episode=n` would address nothing there. A unit with a season
        on a target kind whose coordinates have no season (one season of a series
        kept as its own title, reached through an id scoped to that season) is that
        title's episode `n`.
        """
        if n == 0:
            return anchor
        node = entry.node if entry is not None else None
        if season is not None and node is not None:
            axes = self.caps.coordinate_axes.get(node.kind)
            if axes and "season" not in axes:
                return anchor.child(axes[-1], n)
        if season is not None:
            return Ref.at(anchor.key, ("season", season), (self.leaf_axis, n))
        placed = _absolute_parts(entry).get(n) if entry is not None else None
        if placed is not None:
            return Ref(anchor.key, placed)
        structure = node.facets.get(FacetName.STRUCTURE) if node is not None else None
        if not isinstance(structure, Structure) and self.seasoned(node):
            return None
        return anchor.child(self.leaf_axis, n)

    def seasoned(self, node: Node | None) -> bool:
        """Whether the node's kind (any kind, if unknown) is addressed by season."""
        axes = self.caps.coordinate_axes
        if node is not None:
            return "season" in axes.get(node.kind, ())
        return any("season" in a for a in axes.values())

    def unplaced(self, o: Observation, n: int, link: str) -> None:
        """Skip an absolute episode the target's unread seasons cannot place."""
        why = f"absolute episode {n}: the target's seasons were not read"
        self.skip(o.target, None, SkipReason.NO_TARGET, why, link)

    def plan_units(self, o: Observation, entry: Entry | None) -> None:
        """Per-episode writes marking consumed units on a server target."""
        spec = self.caps.record_fields.get(RecordField.STATUS)
        link = self.pair_id(o.sources[0], o.target)
        if spec is None or not spec.writable or not self.upsert:
            self.skip(o.target, RecordField.STATUS, SkipReason.NOT_WRITABLE, "", link)
            return
        if RecordField.STATUS not in self.policy.fields:
            return
        pinned = self.pins.get((self.target.provider, ref_id(o.target)), frozenset())
        if "status" in pinned:
            self.skip(o.target, RecordField.STATUS, SkipReason.PINNED, "", link)
            return
        kind = self.main_kind or ""
        existing: dict[Ref, Record] = {}
        parts: set[Ref] | None = None
        if entry is not None:
            existing = {r.ref: r for r in entry.records if r.kind == kind}
            if entry.node is not None:
                st = entry.node.facets.get(FacetName.STRUCTURE)
                if isinstance(st, Structure):
                    parts = {Ref(o.target.key, p.position) for p in st.parts}
        rc_spec = self.caps.record_fields.get(RecordField.REPEAT_COUNT)
        rc_ok = (
            rc_spec is not None
            and rc_spec.writable
            and RecordField.REPEAT_COUNT in self.policy.fields
        )
        # The real play time, where the server accepts one; otherwise it records
        # "now" as the played date and the user's history is rewritten.
        la_spec = self.caps.record_fields.get(RecordField.LAST_ACTIVITY_AT)
        la_ok = (
            la_spec is not None
            and la_spec.writable
            and RecordField.LAST_ACTIVITY_AT in self.policy.fields
            and not o.approximate_times
        )
        for (season, n), u in sorted(o.units.items(), key=_unit_order):
            ref = self.unit_ref(o.target, season, n, entry)
            if ref is None:
                self.unplaced(o, n, link)
                continue
            if parts is not None and ref not in parts and n != 0:
                self.skip(
                    ref, None, SkipReason.NO_TARGET, "episode not on target", link
                )
                continue
            rec = existing.get(ref)
            cur = rec.values.get(RecordField.STATUS) if rec is not None else None
            tr = translate(RecordField.STATUS, Status.COMPLETED, spec, cur)
            if tr.value is None:
                self.skip(ref, RecordField.STATUS, SkipReason.NOT_WRITABLE, tr.note)
                return
            after: dict[RecordField, Any] = {}
            before: dict[RecordField, Any] = {}
            if not tr.equal:
                after[RecordField.STATUS] = tr.value
                if cur is not None:
                    before[RecordField.STATUS] = cur
            if rc_ok and rc_spec is not None:
                plays = u[0]
                cur_rc = rec.values.get(RecordField.REPEAT_COUNT) if rec else None
                rtr = translate(RecordField.REPEAT_COUNT, plays - 1, rc_spec, cur_rc)
                if (
                    not rtr.equal
                    and not regresses(RecordField.REPEAT_COUNT, cur_rc, rtr.value)
                    and (cur_rc is not None or plays > 1)
                ):
                    after[RecordField.REPEAT_COUNT] = rtr.value
                    if cur_rc is not None:
                        before[RecordField.REPEAT_COUNT] = cur_rc
            if la_ok and la_spec is not None and u[2] is not None:
                cur_la = rec.values.get(RecordField.LAST_ACTIVITY_AT) if rec else None
                ltr = translate(
                    RecordField.LAST_ACTIVITY_AT,
                    u[2],
                    la_spec,
                    cur_la,
                    source_spec=self.source_fields.get(RecordField.LAST_ACTIVITY_AT),
                    tz=self.tz,
                )
                if (
                    ltr.value is not None
                    and not ltr.equal
                    and not regresses(RecordField.LAST_ACTIVITY_AT, cur_la, ltr.value)
                ):
                    after[RecordField.LAST_ACTIVITY_AT] = ltr.value
                    if cur_la is not None:
                        before[RecordField.LAST_ACTIVITY_AT] = cur_la
            if not after:
                continue
            self.actions.append(
                Action(
                    self.target.provider,
                    WriteOp.UPSERT_RECORD,
                    ref,
                    kind,
                    before=before,
                    after=after,
                    reason="consumed on the source",
                    provenance=tuple(o.provenance),
                    source=self.source.provider,
                    link=link,
                    created=rec is None,
                    record_key=rec.key if rec else None,
                    revision=rec.revision if rec else None,
                )
            )

    # -- event targets -------------------------------------------------------

    def plan_events(self, o: Observation, entry: Entry | None) -> None:
        """Plays to append on an event target (new, and not already sent)."""
        kind = self.play_kind
        if kind is None:
            return
        link = self.pair_id(o.sources[0], o.target)
        # Existing plays count by meaning, not by native kind: a play appended as
        # "watch" may read back as "scrobble" (and a check-in is a play too).
        have: set[tuple[Ref, Any]] = set()
        played: set[Ref] = set()
        if entry is not None:
            for ev in entry.events:
                if ev.kind in self.play_kinds:
                    have.add((ev.ref, _second(ev.at)))
                    played.add(ev.ref)
            for sm in entry.summaries:
                if sm.kind in self.play_kinds and (sm.count or 0) > 0:
                    played.add(sm.ref)
                    for t in (sm.first_at, sm.last_at):
                        if t is not None:
                            have.add((sm.ref, _second(t)))
        wanted: list[tuple[Ref, Any, str]] = []
        exact_units = set()
        for (season, n), at in o.events:
            exact_units.add((season, n))
            ref = self.unit_ref(o.target, season, n, entry)
            if ref is None:
                self.unplaced(o, n, link)
                continue
            wanted.append((ref, at, "source play"))
        for (season, n), u in o.units.items():
            if (season, n) in exact_units:
                continue
            ref = self.unit_ref(o.target, season, n, entry)
            if ref is None:
                self.unplaced(o, n, link)
                continue
            if ref in played:
                continue
            at = u[2] or u[1]
            if at is None:
                self.skip(ref, None, SkipReason.NO_TARGET, "no play time known", link)
                continue
            wanted.append((ref, at, "consumed on the source"))
        seen: set[tuple[Ref, Any]] = set()
        for ref, at, why in wanted:
            at_s = _second(at)
            if (ref, at_s) in have or (ref, at_s) in seen:
                continue
            seen.add((ref, at_s))
            if self.sent is not None and self.sent(
                self.target.provider, ref_id(ref), kind, at.isoformat()
            ):
                self.skip(ref, None, SkipReason.UNCHANGED, "play already sent", link)
                continue
            self.actions.append(
                Action(
                    self.target.provider,
                    WriteOp.APPEND_EVENT,
                    ref,
                    kind,
                    at=at,
                    reason=why,
                    provenance=tuple(o.provenance),
                    source=self.source.provider,
                    link=link,
                )
            )

    # -- output --------------------------------------------------------------

    def entry_action(self, ep: EntryPlan, fields: Iterable[Candidate]) -> Action:
        """One upsert action carrying an entry's field changes."""
        before: dict[RecordField, Any] = {}
        after: dict[RecordField, Any] = {}
        clear: set[RecordField] = set()
        reasons = []
        src_values: dict[str, JSON] = {}
        for c in fields:
            if c.before is not None:
                before[c.field] = c.before
            if c.after is None:
                clear.add(c.field)
            else:
                after[c.field] = c.after
            reasons.append(f"{c.field.value}: {c.reason}")
            src_values[c.field.value] = c.source_value
        rec = ep.record
        if rec is None:
            src_values[ENTRY] = [ep.source_key, ref_id(ep.target_ref)]
        return Action(
            self.target.provider,
            WriteOp.UPSERT_RECORD,
            ep.target_ref,
            ep.kind,
            before=before,
            after=after,
            clear=frozenset(clear),
            reason="; ".join(reasons),
            provenance=ep.provenance,
            source=self.source.provider,
            link=self.pair_id(ep.source_key, ep.target_ref),
            created=rec is None,
            record_key=rec.key if rec else None,
            revision=rec.revision if rec else None,
            source_values=src_values,
        )

    def one_way_actions(self) -> list[Action]:
        """All one-way actions (entries without changes become skips)."""
        out = list(self.actions)
        for ep in self.entries.values():
            changes = [c for c in ep.fields.values() if c.after != c.before]
            if changes:
                out.append(self.entry_action(ep, changes))
            elif self.pair_id(ep.source_key, ep.target_ref) not in self.held:
                self.skip(
                    ep.target_ref,
                    None,
                    SkipReason.UNCHANGED,
                    "",
                    self.pair_id(ep.source_key, ep.target_ref),
                )
        return out


def _absolute_parts(entry: Entry) -> dict[int, tuple[Any, ...]]:
    """Absolute position → part position over a seasoned target's regular seasons."""
    node = entry.node
    st = node.facets.get(FacetName.STRUCTURE) if node is not None else None
    if not isinstance(st, Structure):
        return {}
    keyed: dict[tuple[int, int], tuple[Any, ...]] = {}
    for part in st.parts:
        pos = part.position
        if len(pos) < 2 or pos[0].axis != "season":
            continue
        try:
            season, n = int(pos[0].value), int(pos[-1].value)
        except (TypeError, ValueError):
            continue
        if season >= 1:
            keyed[(season, n)] = tuple(pos)
    return {i: keyed[k] for i, k in enumerate(sorted(keyed), start=1)}


def _second(at: datetime) -> datetime:
    """Play times compare to the second (histories store no finer)."""
    return at.replace(microsecond=0)


def _unit_order(item: tuple[tuple[int | None, int], Any]) -> tuple[int, int]:
    (season, n), _ = item
    return (-1 if season is None else season, n)


def pin_map(pins: Iterable[Pin]) -> dict[tuple[str, str], frozenset[str]]:
    """Pinned fields by (provider, target ref id)."""
    out: dict[tuple[str, str], frozenset[str]] = {}
    for p in pins:
        out[(p.provider, p.ref)] = out.get((p.provider, p.ref), frozenset()) | p.fields
    return out


def in_sync_baselines(
    policy: Policy,
    d: DirectionPlanner,
    blocked: Mapping[tuple[str, str], set[RecordField]],
    reverse_records: Mapping[str, Record] | None,
) -> list[Baseline]:
    """Baselines for fields equal on both sides (and every pair's @entry marker)."""
    out = []
    for (skey, tref), ep in d.entries.items():
        link = d.pair_id(skey, ep.target_ref)
        if ep.record is None:
            continue
        out.append(Baseline(policy.profile, link, ENTRY, skey, tref))
        if policy.direction is Direction.ONE_WAY:
            continue  # one-way only needs to know the pair was in sync
        for f, c in ep.fields.items():
            if c.after == c.before and f not in blocked.get((skey, tref), set()):
                out.append(
                    Baseline(
                        policy.profile,
                        link,
                        f.value,
                        c.source_value,
                        encoded(f, c.before),
                    )
                )
    return out


def deletions(
    policy: Policy,
    source: Snapshot,
    target: Snapshot,
    baselines: Mapping[tuple[str, str], Baseline],
    d: DirectionPlanner,
    handled: set[str],
) -> list[Action]:
    """Entries in sync before whose source side is now gone."""
    out: list[Action] = []
    if not source.complete:
        return out
    pins = d.pins
    for (link, fld), b in baselines.items():
        if fld != ENTRY or link in handled:
            continue
        skey, tref = b.source_value, b.target_value
        if not isinstance(skey, str) or not isinstance(tref, str):
            continue
        if link != d.pair_id(skey, Ref(tref)) or skey in source.entries:
            continue
        tkey = tref.partition("/")[0]
        rec = anchor_record(target.entries.get(tkey), d.main_kind or "")
        if rec is None:
            continue
        ref = Ref(tkey)
        if not policy.allow_deletes:
            d.skip(
                ref,
                None,
                SkipReason.REGRESSION,
                "gone on the source; deletes off",
                link,
            )
            continue
        if WriteOp.DELETE_RECORD not in target.capabilities.write_ops:
            d.skip(ref, None, SkipReason.NOT_WRITABLE, "cannot delete records", link)
            continue
        if "status" in pins.get((target.provider, tref), frozenset()):
            d.skip(ref, RecordField.STATUS, SkipReason.PINNED, "delete blocked", link)
            continue
        out.append(
            Action(
                target.provider,
                WriteOp.DELETE_RECORD,
                ref,
                rec.kind,
                before=dict(rec.values),
                reason=f"removed on {source.provider} since the last sync",
                source=source.provider,
                link=link,
                record_key=rec.key,
            )
        )
    return out
