"""Value types of the engine: snapshots in, policy, plans and actions out.

A `Snapshot` is what `collect` read from one provider, grouped per anchor so every
later step works anchor by anchor. A `Plan` is the pure result of planning: actions
with stable ids (the same decision on the same state gets the same id, so a person can
approve ids from a preview and apply them later) and skipped candidates with a reason
code. `Policy` holds one profile's settings; its defaults are the safe ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from anibridge.bridge.codec import JSON, dumps, encode_fields, ref_id, ref_to_json
from anibridge.bridge.stores import Baseline
from anibridge.provider.base import (
    Capabilities,
    Event,
    EventSummary,
    Node,
    Record,
    RecordField,
    Ref,
    Status,
    Value,
    WriteOp,
)

__all__ = [
    "ALL_FIELDS",
    "DEFAULT_NON_REGRESSION",
    "Action",
    "ConflictRule",
    "Direction",
    "Entry",
    "GuardError",
    "Plan",
    "Policy",
    "ProgressMode",
    "Rule",
    "Skip",
    "SkipReason",
    "Snapshot",
]

ALL_FIELDS: frozenset[RecordField] = frozenset(RecordField)


@dataclass(slots=True)
class Entry:
    """Everything one provider holds about one anchor: node, records, activity.

    Records and events include those on the anchor's parts (episode refs); keeping
    them together lets the engine precompute per anchor instead of per episode.
    """

    key: str
    node: Node | None = None
    records: list[Record] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    summaries: list[EventSummary] = field(default_factory=list)


@dataclass(slots=True)
class Snapshot:
    """One provider's collected state.

    `complete` is False when only part of the provider was read (a change feed or a
    targeted re-read): absence from an incomplete snapshot never means deletion.
    """

    provider: str
    capabilities: Capabilities
    entries: dict[str, Entry] = field(default_factory=dict)
    complete: bool = True
    collected_at: datetime | None = None

    def entry(self, key: str) -> Entry:
        """The entry for an anchor key, created empty on first use."""
        found = self.entries.get(key)
        if found is None:
            found = self.entries[key] = Entry(key)
        return found


class Direction(StrEnum):
    """Which way a provider pair syncs."""

    ONE_WAY = "one_way"
    TWO_WAY = "two_way"


class ProgressMode(StrEnum):
    """How consumed source units become target progress.

    COUNT (default, upstream AniBridge behaviour) counts consumed units weighted by
    mapping ratios: it never claims an episode nobody saw. INDEX takes the highest
    consumed target position: right for libraries that delete watched episodes and for
    seasons mapped onto offset target episodes (upstream #249/#262).
    """

    COUNT = "count"
    INDEX = "index"


class ConflictRule(StrEnum):
    """How two-way sync settles a field changed on both sides since the baseline."""

    NEWEST = "newest"  # last writer wins by record `updated_at`
    PRIORITY = "priority"  # the side listed first in `Policy.priority` wins


@dataclass(frozen=True, slots=True)
class Rule:
    """A declarative skip rule (no code is evaluated).

    The rule matches a candidate write when every given condition holds; an empty
    condition matches anything. A match skips `fields` with reason ``rule``.
    """

    name: str
    fields: frozenset[RecordField]
    when_target_status: frozenset[Status] = frozenset()
    when_desired_status: frozenset[Status] = frozenset()
    when_provider: frozenset[str] = frozenset()

    def matches(
        self,
        provider: str,
        target_status: Status | None,
        desired_status: Status | None,
    ) -> bool:
        """Whether this rule applies to one candidate entry."""
        if self.when_provider and provider not in self.when_provider:
            return False
        if self.when_target_status and target_status not in self.when_target_status:
            return False
        return not (
            self.when_desired_status and desired_status not in self.when_desired_status
        )


DEFAULT_NON_REGRESSION: frozenset[RecordField] = frozenset(
    {
        RecordField.STATUS,
        RecordField.PROGRESS,
        RecordField.REPEAT_COUNT,
        RecordField.STARTED_AT,
        RecordField.FINISHED_AT,
        RecordField.LAST_ACTIVITY_AT,
    }
)


@dataclass(frozen=True, slots=True)
class Policy:
    """One profile's sync settings; the defaults never lose data.

    Attributes:
        profile: Profile name; scopes links, baselines, pins and cursors.
        direction: One-way (source → target) or two-way.
        fields: Fields to sync.
        non_regression: Fields that may only move forward (progress up, status up
            the lifecycle, dates only earlier for started / later for activity).
            Two-way changes detected against a baseline are not regressions.
        allow_deletes: Permit removing entries and clearing fields.
        progress_mode: `ProgressMode.COUNT` by default.
        timezone: IANA name used to turn instants into calendar dates.
        conflict: Two-way conflict rule.
        priority: Provider keys, most trusted first, for `ConflictRule.PRIORITY`
            and as the tie-break of `ConflictRule.NEWEST`.
        max_delete_fraction: Guard: refuse plans deleting more than this share of a
            target's entries.
        force: Override the guards.
        rules: Declarative skip rules.
        status_inference_overrides: Let inferred status replace a user-set PAUSED or
            DROPPED on the target even without newer evidence.
        sync_events: Replicate plays to event-based targets.
        fuzzy_threshold: Title-match fallback score (0-100); None disables it.
        empty_status: Give entries without any activity `Status.PLANNED`
            (only where the target has no status yet).
    """

    profile: str = "default"
    direction: Direction = Direction.ONE_WAY
    fields: frozenset[RecordField] = ALL_FIELDS
    non_regression: frozenset[RecordField] = DEFAULT_NON_REGRESSION
    allow_deletes: bool = False
    progress_mode: ProgressMode = ProgressMode.COUNT
    timezone: str = "UTC"
    conflict: ConflictRule = ConflictRule.NEWEST
    priority: tuple[str, ...] = ()
    max_delete_fraction: float = 0.10
    force: bool = False
    rules: tuple[Rule, ...] = ()
    status_inference_overrides: bool = False
    sync_events: bool = True
    fuzzy_threshold: float | None = None
    empty_status: bool = False


class SkipReason(StrEnum):
    """Why a candidate write was not planned."""

    UNCHANGED = "unchanged"
    PINNED = "pinned"
    REGRESSION = "regression"
    NOT_WRITABLE = "not-writable"
    NO_TARGET = "no-target"
    RULE = "rule"
    GUARD = "guard"
    STALE = "stale"
    CONFLICT = "conflict"
    DELETES_OFF = "deletes-off"  # a removal held: neither propagated nor reverted
    UNCONFIRMED = "unconfirmed"  # an earlier write's answer never arrived: wait
    IMPRECISE = "imprecise"  # a partial date the target could only store padded


@dataclass(frozen=True, slots=True)
class Action:
    """One planned write on one provider.

    `before` holds the target's current values of the fields the action touches
    (absent = unset), `after` the values it writes, `clear` the fields it removes.
    `before` is re-checked against live state before applying. `created` marks an
    upsert onto a ref that had no record (undo deletes it again). `link` is the
    entry pair's id and `source_values` the source side's encoded values of the
    touched fields: together they become the two-way baselines once it succeeds.
    """

    provider: str
    op: WriteOp
    ref: Ref
    kind: str = ""
    before: Mapping[RecordField, Value] = field(default_factory=dict)
    after: Mapping[RecordField, Value] = field(default_factory=dict)
    clear: frozenset[RecordField] = frozenset()
    at: datetime | None = None
    reason: str = ""
    provenance: tuple[str, ...] = ()
    source: str = ""
    link: str = ""
    created: bool = False
    record_key: str | None = None
    revision: str | None = None
    source_values: Mapping[str, JSON] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Stable id: the same write on the same state always gets the same id."""
        return _digest(
            {
                "p": self.provider,
                "o": self.op.value,
                "r": ref_id(self.ref),
                "k": self.kind,
                "b": encode_fields(self.before),
                "a": encode_fields(self.after),
                "c": sorted(f.value for f in self.clear),
                "t": self.at.isoformat() if self.at else None,
            }
        )

    def to_json(self) -> dict[str, JSON]:
        """JSON form for explain output, the journal and the web API."""
        return {
            "id": self.id,
            "provider": self.provider,
            "op": self.op.value,
            "ref": ref_to_json(self.ref),
            "kind": self.kind,
            "before": encode_fields(self.before),
            "after": encode_fields(self.after),
            "clear": sorted(f.value for f in self.clear),
            "at": self.at.isoformat() if self.at else None,
            "reason": self.reason,
            "provenance": list(self.provenance),
            "source": self.source,
            "link": self.link,
            "created": self.created,
        }


@dataclass(frozen=True, slots=True)
class Skip:
    """A candidate write that was not planned, with its reason code."""

    provider: str
    ref: Ref
    field: RecordField | None
    reason: SkipReason
    detail: str = ""
    link: str = ""

    def to_json(self) -> dict[str, JSON]:
        """JSON form for explain output."""
        return {
            "provider": self.provider,
            "ref": ref_to_json(self.ref),
            "field": self.field.value if self.field else None,
            "reason": self.reason.value,
            "detail": self.detail,
            "link": self.link,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """The pure output of planning: what to write and what was left alone."""

    profile: str
    actions: tuple[Action, ...] = ()
    skipped: tuple[Skip, ...] = ()
    guards: tuple[str, ...] = ()
    in_sync: tuple[Baseline, ...] = ()

    @property
    def id(self) -> str:
        """Stable id derived from the profile and the action ids."""
        return _digest({"p": self.profile, "a": sorted(a.id for a in self.actions)})

    def subset(self, action_ids: set[str] | frozenset[str]) -> Plan:
        """The plan restricted to approved action ids.

        Raises:
            KeyError: an id is not part of this plan.
        """
        known = {a.id for a in self.actions}
        unknown = sorted(set(action_ids) - known)
        if unknown:
            raise KeyError(f"action ids not in plan {self.id}: {', '.join(unknown)}")
        return Plan(
            self.profile,
            tuple(a for a in self.actions if a.id in action_ids),
            self.skipped,
            self.guards,
            self.in_sync,
        )

    def to_json(self) -> dict[str, JSON]:
        """JSON form of the whole plan."""
        return {
            "id": self.id,
            "profile": self.profile,
            "actions": [a.to_json() for a in self.actions],
            "skipped": [s.to_json() for s in self.skipped],
            "guards": list(self.guards),
        }


class GuardError(RuntimeError):
    """A plan was refused by a safety guard; rerun with ``force`` to override."""


def _digest(data: JSON) -> str:
    return hashlib.sha1(dumps(data).encode(), usedforsecurity=False).hexdigest()[:16]
