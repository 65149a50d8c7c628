"""Planning: (snapshots, identity, baselines, policy) → `Plan`. Pure, no I/O.

One direction (`_Direction`) turns each target anchor's observation into candidate
field writes: derive → policy filters (fields, pins, rules) → translate and compare →
non-regression. Three target shapes share it, chosen from capabilities alone:

- *aggregate* targets (a tracker list: `PROGRESS` is a record field) get one
  `UpsertRecord` per entry; a watchlist/ratings/collection record kind is written as
  its own record where the target declares one;
- *granular* targets (a server: no `PROGRESS` field, parts on coordinate axes) get
  per-episode `UpsertRecord`s marking consumed units;
- *event* targets (`APPEND_EVENT` with a play kind) get one `AppendEvent` per source
  play not already present (exact `at`) and not already sent (journal).

Two-way runs both directions and settles each field per entry pair against the
baseline (the values both sides had when last in sync): changed on one side →
propagate; on both → `ConflictRule`; gone on one side that had it → clear/delete,
only with `allow_deletes`. Guards are recorded on the plan; `apply` refuses a guarded
plan unless forced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from anibridge.bridge.codec import JSON, encode_value, ref_id
from anibridge.bridge.derive import Desired, derive
from anibridge.bridge.identity import Identity
from anibridge.bridge.model import (
    Action,
    ConflictRule,
    Direction,
    Entry,
    Plan,
    Policy,
    Skip,
    SkipReason,
    Snapshot,
)
from anibridge.bridge.observe import Observation, observe, record_kind_semantics
from anibridge.bridge.pause_gc import paused_gc
from anibridge.bridge.stores import Baseline, Pin, link_id
from anibridge.bridge.translate import translate
from anibridge.dates import resolve_timezone
from anibridge.provider.base import (
    EventKind,
    FacetName,
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

__all__ = ["ENTRY", "FIELD_ORDER", "make_plan", "plan_direction"]

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
class _Candidate:
    field: RecordField
    before: Any
    after: Any  # None = clear
    reason: str
    source_value: JSON = None


@dataclass(slots=True)
class _EntryPlan:
    """Candidate writes for one target record, before two-way settlement."""

    target_ref: Ref
    kind: str
    record: Record | None
    source_key: str
    source_record: Record | None
    provenance: tuple[str, ...]
    fields: dict[RecordField, _Candidate] = field(default_factory=dict)


def _native_kind(snapshot: Snapshot, semantic: RecordKind) -> str | None:
    for native, sem in record_kind_semantics(snapshot).items():
        if sem is semantic and (native or semantic is RecordKind.PROGRESS):
            if native == "" and snapshot.capabilities.record_kinds:
                declared = {d.native for d in snapshot.capabilities.record_kinds}
                if "" not in declared:
                    continue
            return native
    return None


def _anchor_record(entry: Entry | None, kind: str) -> Record | None:
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


def _regresses(f: RecordField, before: Any, after: Any) -> bool:
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


def _enc(f: RecordField, value: Any) -> JSON:
    return None if value is None else encode_value(f, value)


class _Direction:
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
        self.main_kind = _native_kind(target, RecordKind.PROGRESS)
        if self.main_kind is None and not caps.record_kinds:
            self.main_kind = ""
        self.ratings_kind = _native_kind(target, RecordKind.RATINGS)
        self.planned_kind = _native_kind(target, RecordKind.PLANNED)
        self.collection_kind = _native_kind(target, RecordKind.COLLECTION)
        self.upsert = WriteOp.UPSERT_RECORD in caps.write_ops
        self.granular = RecordField.PROGRESS not in caps.record_fields and bool(
            caps.coordinate_axes
        )
        play = [d.native for d in caps.event_kinds if d.semantic is EventKind.PLAY]
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
        self.entries: dict[tuple[str, str], _EntryPlan] = {}
        self.source_fields = source.capabilities.record_fields

    # -- helpers -------------------------------------------------------------

    def skip(
        self,
        ref: Ref,
        f: RecordField | None,
        reason: SkipReason,
        detail: str = "",
        link: str = "",
    ) -> None:
        self.skips.append(Skip(self.target.provider, ref, f, reason, detail, link))

    def pair_id(self, source_key: str, target: Ref) -> str:
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
        obs = observe(self.source, self.identity, events=self.play_kind is not None)
        for key, reason in self.identity.unresolved.items():
            self.skip(Ref(key), None, SkipReason.NO_TARGET, reason)
        for o in obs.values():
            entry = self.target.entries.get(o.target.key)
            if self.granular:
                self.plan_units(o, entry)
                self.plan_anchor_rating(o, entry)
            elif self.main_kind is not None:
                self.plan_aggregate(o, entry)
            if self.play_kind is not None:
                self.plan_events(o, entry)

    def plan_aggregate(self, o: Observation, entry: Entry | None) -> None:
        policy = self.policy
        main = self.main_kind or ""
        record = _anchor_record(entry, main)
        total = _total(entry, record)
        desired = derive(o, record, total, policy)
        source_key = o.sources[0]
        link = self.pair_id(source_key, o.target)
        pinned = self.pins.get((self.target.provider, ref_id(o.target)), frozenset())
        src_record = o.source_records[0] if o.source_records else None
        ep = _EntryPlan(
            o.target, main, record, source_key, src_record, tuple(o.provenance)
        )
        want_status = desired.values.get(RecordField.STATUS)
        cur_status = None
        if record is not None:
            st = record.values.get(RecordField.STATUS)
            cur_status = st.status if isinstance(st, State) else None
        self.watchlist(o, entry, record, want_status, link)
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
            _anchor_record(entry, self.ratings_kind)
            if separate_ratings and self.ratings_kind is not None
            else record
        )
        for f in FIELD_ORDER:
            if f not in desired.values or f not in policy.fields:
                continue
            if f is RecordField.RATING and separate_ratings:
                self.plan_rating(o, desired, ratings_record, pinned, link, cur_status)
                continue
            c = self.field(o, f, desired, record, pinned, link, cur_status, total)
            if c is not None:
                ep.fields[f] = c
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
    ) -> _Candidate | None:
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
            self.skip(o.target, f, SkipReason.NOT_WRITABLE, tr.note, link)
            return None
        src_val = None
        if o.source_records:
            src_val = _enc(f, o.source_records[0].values.get(f))
        if tr.equal:
            return _Candidate(f, current, current, "", src_val)
        if (
            f in self.policy.non_regression
            and _regresses(f, current, tr.value)
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
        return _Candidate(f, current, tr.value, reason, src_val)

    def plan_rating(
        self,
        o: Observation,
        desired: Desired,
        record: Record | None,
        pinned: frozenset[str],
        link: str,
        cur_status: Status | None,
    ) -> None:
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
        record = _anchor_record(entry, kind)
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
        if _anchor_record(entry, kind) is not None or record is not None:
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
        kind = self.collection_kind
        if not o.collected or kind is None or not self.upsert:
            return
        if _anchor_record(entry, kind) is not None:
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

    def unit_ref(self, anchor: Ref, season: int | None, n: int) -> Ref:
        if n == 0:
            return anchor
        if season is not None:
            return Ref.at(anchor.key, ("season", season), (self.leaf_axis, n))
        return anchor.child(self.leaf_axis, n)

    def plan_units(self, o: Observation, entry: Entry | None) -> None:
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
        for (season, n), u in sorted(o.units.items(), key=_unit_order):
            ref = self.unit_ref(o.target, season, n)
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
                    and not _regresses(RecordField.REPEAT_COUNT, cur_rc, rtr.value)
                    and (cur_rc is not None or plays > 1)
                ):
                    after[RecordField.REPEAT_COUNT] = rtr.value
                    if cur_rc is not None:
                        before[RecordField.REPEAT_COUNT] = cur_rc
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
        kind = self.play_kind
        if kind is None:
            return
        link = self.pair_id(o.sources[0], o.target)
        have: set[tuple[Ref, Any]] = set()
        played: set[Ref] = set()
        if entry is not None:
            for ev in entry.events:
                if ev.kind == kind:
                    have.add((ev.ref, ev.at))
                    played.add(ev.ref)
        wanted: list[tuple[Ref, Any, str]] = []
        exact_units = set()
        for (season, n), at in o.events:
            exact_units.add((season, n))
            wanted.append((self.unit_ref(o.target, season, n), at, "source play"))
        for (season, n), u in o.units.items():
            if (season, n) in exact_units:
                continue
            ref = self.unit_ref(o.target, season, n)
            if ref in played:
                continue
            at = u[2] or u[1]
            if at is None:
                self.skip(ref, None, SkipReason.NO_TARGET, "no play time known", link)
                continue
            wanted.append((ref, at, "consumed on the source"))
        seen: set[tuple[Ref, Any]] = set()
        for ref, at, why in wanted:
            if (ref, at) in have or (ref, at) in seen:
                continue
            seen.add((ref, at))
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

    def entry_action(self, ep: _EntryPlan, fields: Iterable[_Candidate]) -> Action:
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
        out = list(self.actions)
        for ep in self.entries.values():
            changes = [c for c in ep.fields.values() if c.after != c.before]
            if changes:
                out.append(self.entry_action(ep, changes))
            else:
                self.skip(
                    ep.target_ref,
                    None,
                    SkipReason.UNCHANGED,
                    "",
                    self.pair_id(ep.source_key, ep.target_ref),
                )
        return out


def _unit_order(item: tuple[tuple[int | None, int], Any]) -> tuple[int, int]:
    (season, n), _ = item
    return (-1 if season is None else season, n)


def _pins(pins: Iterable[Pin]) -> dict[tuple[str, str], frozenset[str]]:
    out: dict[tuple[str, str], frozenset[str]] = {}
    for p in pins:
        out[(p.provider, p.ref)] = out.get((p.provider, p.ref), frozenset()) | p.fields
    return out


def plan_direction(
    source: Snapshot,
    target: Snapshot,
    identity: Identity,
    policy: Policy,
    *,
    baselines: Mapping[tuple[str, str], Baseline] | None = None,
    pins: Iterable[Pin] = (),
    sent: SentCheck | None = None,
) -> Plan:
    """One-way plan of writes onto `target` from `source`.

    Args:
        source: Source snapshot.
        target: Target snapshot.
        identity: Routes from `identify(source, target, ...)`.
        policy: The profile's policy.
        baselines: Stored baselines (entry pairs seen in sync, for deletions).
        pins: Pinned target fields.
        sent: Journal check for already-sent events.

    Returns:
        The plan, with guards recorded (not raised).
    """
    tz = resolve_timezone(policy.timezone)
    d = _Direction(source, target, identity, policy, _pins(pins), tz, sent)
    d.run()
    actions = d.one_way_actions()
    in_sync = _in_sync_baselines(policy, d, {}, None)
    actions += _deletions(policy, source, target, baselines or {}, d, set())
    return _finish(policy, actions, d.skips, [(source, target)], in_sync)


def _in_sync_baselines(
    policy: Policy,
    d: _Direction,
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
                        _enc(f, c.before),
                    )
                )
    return out


def _deletions(
    policy: Policy,
    source: Snapshot,
    target: Snapshot,
    baselines: Mapping[tuple[str, str], Baseline],
    d: _Direction,
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
        rec = _anchor_record(target.entries.get(tkey), d.main_kind or "")
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


def _finish(
    policy: Policy,
    actions: list[Action],
    skips: list[Skip],
    pairs: list[tuple[Snapshot, Snapshot]],
    in_sync: list[Baseline],
) -> Plan:
    guards: list[str] = []
    for source, target in pairs:
        writes = [a for a in actions if a.provider == target.provider]
        deletes = [
            a for a in writes if a.op in (WriteOp.DELETE_RECORD, WriteOp.DELETE_EVENT)
        ]
        clears = [a for a in writes if a.clear]
        if (
            source.complete
            and not source.entries
            and target.entries
            and (writes or policy.allow_deletes)
        ):
            guards.append(
                f"{source.provider} returned nothing while {target.provider} has "
                f"{len(target.entries)} entries: refusing (check the source, or "
                "force)"
            )
        n = len(target.entries)
        destructive = len(deletes) + len(clears)
        if n and destructive and destructive / n > policy.max_delete_fraction:
            guards.append(
                f"plan would delete or clear {destructive} of {n} entries on "
                f"{target.provider} (more than {policy.max_delete_fraction:.0%}): "
                "refusing (force to override)"
            )
    if policy.force:
        for g in guards:
            skips.append(Skip("", Ref(""), None, SkipReason.GUARD, f"overridden: {g}"))
        guards = []
    return Plan(
        policy.profile, tuple(actions), tuple(skips), tuple(guards), tuple(in_sync)
    )


# -- two-way -------------------------------------------------------------------


def _changed(b: Baseline | None, side: str, value: JSON) -> bool | None:
    if b is None:
        return None
    return value != (b.source_value if side == "a" else b.target_value)


def make_plan(
    a: Snapshot,
    b: Snapshot,
    identity_ab: Identity,
    policy: Policy,
    *,
    identity_ba: Identity | None = None,
    baselines: Mapping[tuple[str, str], Baseline] | None = None,
    pins: Iterable[Pin] = (),
    sent: SentCheck | None = None,
) -> Plan:
    """Plan one provider pair, one-way (a → b) or two-way per `policy.direction`.

    Args:
        a: The first (source) snapshot.
        b: The second (target) snapshot.
        identity_ab: Routes a → b.
        policy: The profile's policy.
        identity_ba: Routes b → a (two-way only).
        baselines: Stored baselines of the profile.
        pins: Pinned target fields.
        sent: Journal check for already-sent events.

    Returns:
        The plan.
    """
    base = baselines or {}
    with paused_gc():
        if policy.direction is Direction.ONE_WAY or identity_ba is None:
            return plan_direction(
                a, b, identity_ab, policy, baselines=base, pins=pins, sent=sent
            )
        return _two_way(a, b, identity_ab, identity_ba, policy, base, pins, sent)


def _two_way(
    a: Snapshot,
    b: Snapshot,
    id_ab: Identity,
    id_ba: Identity,
    policy: Policy,
    base: Mapping[tuple[str, str], Baseline],
    pins: Iterable[Pin],
    sent: SentCheck | None,
) -> Plan:
    tz = resolve_timezone(policy.timezone)
    pin_map = _pins(pins)
    prof = policy.profile

    def ab_link(akey: str, bref: str) -> str:
        return link_id(prof, a.provider, akey, "", b.provider, bref)

    def a_record(akey: str) -> Record | None:
        return _anchor_record(
            a.entries.get(akey), _native_kind(a, RecordKind.PROGRESS) or ""
        )

    def b_record(bkey: str) -> Record | None:
        return _anchor_record(
            b.entries.get(bkey), _native_kind(b, RecordKind.PROGRESS) or ""
        )

    def side_changed(side: str, akey: str, bkey: str, f: RecordField) -> bool:
        bl = base.get((ab_link(akey, bkey), f.value))
        rec = a_record(akey) if side == "a" else b_record(bkey)
        value = _enc(f, rec.values.get(f)) if rec is not None else None
        return bool(_changed(bl, side, value))

    fwd = _Direction(
        a, b, id_ab, policy, pin_map, tz, sent,
        lambda s, t, f: side_changed("a", s, t, f),
    )  # fmt: skip
    back = _Direction(
        b, a, id_ba, policy, pin_map, tz, sent,
        lambda s, t, f: side_changed("b", t, s, f),
    )  # fmt: skip
    fwd.run()
    back.run()
    actions: list[Action] = list(fwd.actions) + list(back.actions)
    in_sync: list[Baseline] = []
    pairs: dict[tuple[str, str], tuple[_EntryPlan | None, _EntryPlan | None]] = {}
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
            gone = entry_base is not None and policy.allow_deletes
            if gone:
                actions.extend(
                    _entry_gone(policy, a, b, fwd, back, akey, bkey, ra, rb, link)
                )
                continue
            # Never seen in sync (or deletes off): restore/create from the other side.
            src = to_b if rb is None else to_a
            if src is not None:
                changes = [c for c in src.fields.values() if c.after != c.before]
                if changes:
                    d = fwd if rb is None else back
                    act = d.entry_action(src, changes)
                    actions.append(_relink(act, link, reverse=rb is not None))
            continue
        in_sync.append(Baseline(prof, link, ENTRY, akey, bkey))
        fields_b: list[_Candidate] = []
        fields_a: list[_Candidate] = []
        for f in FIELD_ORDER:
            cb = to_b.fields.get(f) if to_b else None
            ca = to_a.fields.get(f) if to_a else None
            va = _enc(f, ra.values.get(f))
            vb = _enc(f, rb.values.get(f))
            wants_b = cb is not None and cb.after != cb.before
            wants_a = ca is not None and ca.after != ca.before
            bl = base.get((link, f.value))
            ch_a, ch_b = _changed(bl, "a", va), _changed(bl, "b", vb)
            if policy.allow_deletes and bl is not None:
                if va is None and bl.source_value is not None and vb == bl.target_value:
                    _removal(fields_b, fwd, f, rb, vb, link)
                    continue
                if vb is None and bl.target_value is not None and va == bl.source_value:
                    _removal(fields_a, back, f, ra, va, link)
                    continue
            if not wants_a and not wants_b:
                if (
                    (cb is not None and cb.after == cb.before)
                    or (ca is not None and ca.after == ca.before)
                    or (va is None and vb is None)
                ):
                    in_sync.append(Baseline(prof, link, f.value, va, vb))
                continue
            if wants_b and wants_a:
                winner = _conflict(policy, a.provider, b.provider, ch_a, ch_b, ra, rb)
                assert to_a is not None and to_b is not None
                loser_ref = to_a.target_ref if winner == "a" else to_b.target_ref
                (fields_b if winner == "a" else fields_a).append(
                    cb if winner == "a" else ca
                )
                other = b.provider if winner == "b" else a.provider
                fwd.skip(
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
    actions += _deletions(policy, a, b, base, fwd, handled)
    return _finish(policy, actions, fwd.skips + back.skips, [(a, b), (b, a)], in_sync)


def _relink(action: Action, link: str, *, reverse: bool = False) -> Action:
    """Point an action at the (a, b) pair id, marking which side it writes."""
    from dataclasses import replace

    values = dict(action.source_values)
    if reverse:
        values = {"@side": "a", **values}
    return replace(action, link=link, source_values=values)


def _removal(
    out: list[_Candidate],
    d: _Direction,
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
    out.append(_Candidate(f, rec.values.get(f), None, "cleared on the other side"))


def _entry_gone(
    policy: Policy,
    a: Snapshot,
    b: Snapshot,
    fwd: _Direction,
    back: _Direction,
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
    if not policy.allow_deletes:
        d.skip(rec.ref, None, SkipReason.REGRESSION,
               f"removed on {gone_on.provider}; deletes off", link)  # fmt: skip
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
    ra: Record | None,
    rb: Record | None,
) -> str:
    """Which side wins a field both sides want to change: "a" or "b"."""
    if ch_a is not None and ch_b is not None and ch_a != ch_b:
        return "a" if ch_a else "b"
    if policy.conflict is ConflictRule.NEWEST:
        ta = ra.updated_at if ra is not None else None
        tb = rb.updated_at if rb is not None else None
        if ta is not None and tb is not None and ta != tb:
            return "a" if ta > tb else "b"
    for name in policy.priority:
        if name == a_name:
            return "a"
        if name == b_name:
            return "b"
    return "a"
