"""Persistence the engine needs, as protocols with in-memory implementations.

The engine only talks to these protocols; `anibridge.store` implements the same ones
on SQLAlchemy. Everything crossing them is a frozen record of plain JSON-serialisable
values (strings, numbers, ISO timestamps, dicts/lists of those), so an implementation
can store each attribute in a column or a JSON column without knowing engine types.
Methods are synchronous: they run between provider I/O, never inside planning.

Keys:
- a *link* is one identity decision: (profile, source provider, source anchor key,
  source part) → (target provider, target ref id). `Link.id` is derived from that
  tuple, so re-identifying the same pair yields the same id.
- a *baseline* is the value each side had when a field was last in sync, keyed by
  (profile, link id, field) — the three-way state two-way sync needs. The link id
  of an entry pair is `link_id(profile, source, source_key, "", target, target_ref)`;
  its pseudo-field ``@entry`` (source_value = source anchor key, target_value =
  target ref id) records that the pair was in sync, so a later absence on one side
  is a deletion rather than "never seen".
- the *journal* is written ahead: a row per action is committed as ``pending``
  (the intent: ref, fields, before values) before the provider is called, and
  rewritten with the outcome (``applied``, ``failed``, ``unknown`` …) after it
  answered (retries update the row). Rows still ``pending`` or ``unknown`` are
  *unresolved*: `bridge.reconcile` settles them by re-reading their refs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from anibridge.bridge.codec import ref_from_json
from anibridge.bridge.codec import ref_id as codec_ref_id

__all__ = [
    "UNRESOLVED",
    "Baseline",
    "BaselineStore",
    "CursorStore",
    "JournalEntry",
    "JournalStore",
    "Link",
    "LinkStore",
    "MemoryStores",
    "Override",
    "Pin",
    "PinStore",
    "RunRecord",
    "RunStore",
    "Stores",
]


# Journal outcomes whose effect on the target is not known yet.
UNRESOLVED = ("pending", "unknown")
# Append outcomes that mean "this play may be on the target": never send it again
# before a re-read has settled the row.
_SENT = ("applied", "pending", "unknown")


def link_id(
    profile: str,
    source_provider: str,
    source_key: str,
    source_part: str,
    target_provider: str,
    target_ref: str,
) -> str:
    """The stable id of an identity link."""
    raw = "\x1f".join(
        (profile, source_provider, source_key, source_part, target_provider, target_ref)
    )
    return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class Link:
    """Source anchor (or one part of it) identified as a target ref.

    Attributes:
        profile: Profile the link belongs to.
        source_provider: Provider key of the source side.
        source_key: Source anchor key.
        source_part: Which part of the source anchor maps here, as the descriptor
            that produced the link (e.g. ``tvdb_show:78857:s2``); "" = whole anchor.
        target_provider: Provider key of the target side.
        target_ref: `codec.ref_id` of the target anchor ref.
        via: How it was found: ``direct``, ``mapping``, ``override`` or ``fuzzy``.
        edge: The mapping edge (``src -> dst {ranges}``) or matched id, for
            provenance; "" for direct ids.
        score: Fuzzy match score (0-100) when `via` is ``fuzzy``.
        created_at: ISO timestamp of the first time the link was seen.
    """

    profile: str
    source_provider: str
    source_key: str
    source_part: str
    target_provider: str
    target_ref: str
    via: str
    edge: str = ""
    score: float | None = None
    created_at: str = ""

    @property
    def id(self) -> str:
        """Stable id of this link (see `link_id`)."""
        return link_id(
            self.profile,
            self.source_provider,
            self.source_key,
            self.source_part,
            self.target_provider,
            self.target_ref,
        )


@dataclass(frozen=True, slots=True)
class Override:
    """A user's identity override: beats the mappings dataset.

    `target_ref` None unlinks the source (never sync it to that provider).
    `source_part` "" applies to the whole anchor.
    """

    profile: str
    source_provider: str
    source_key: str
    target_provider: str
    target_ref: str | None
    source_part: str = ""


@dataclass(frozen=True, slots=True)
class Baseline:
    """The value each side had when a field was last in sync (JSON; None = unset)."""

    profile: str
    link: str
    field: str
    source_value: Any
    target_value: Any
    updated_at: str = ""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One sync run (or dry run, or undo)."""

    id: str
    profile: str
    started_at: str
    kind: str = "sync"  # sync | dry_run | undo
    finished_at: str | None = None
    status: str = "running"  # running | ok | partial | failed | refused | interrupted
    plan_id: str | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    owner: str = ""  # "pid N on HOST": the process that ran it


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """What one action did. ``before``/``after`` are `codec.encode_fields` dicts.

    Attributes:
        run_id: Run the action belongs to.
        action_id: Stable action id from the plan.
        provider: Provider key written to.
        ref: `codec.ref_to_json` of the ref written.
        op: `WriteOp` value.
        kind: Native record or event kind.
        before: Target values before the write (fields touched only).
        after: Values written.
        clear: Fields cleared.
        at: Event time (ISO) for event ops; reused verbatim on retries.
        outcome: ``pending`` (intent committed, no answer yet), ``applied``,
            ``unchanged``, ``stale``, ``skipped``, ``failed`` or ``unknown`` (the
            answer never arrived; settled by `bridge.reconcile`).
        error_code: `WriteError` value on failure.
        error_text: Human detail on failure or skip.
        started_at: ISO timestamp the write was first attempted.
        finished_at: ISO timestamp the outcome was known.
        link: Link id the action came from ("" when none).
        created: The upsert created a record that did not exist.
        reason: The action's one-line reason.
        attempts: Write attempts made.
        undoes: Action id this entry reverts, for undo runs.
    """

    run_id: str
    action_id: str
    provider: str
    ref: Mapping[str, Any]
    op: str
    kind: str = ""
    before: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] = field(default_factory=dict)
    clear: Sequence[str] = ()
    at: str | None = None
    outcome: str = "pending"
    error_code: str | None = None
    error_text: str | None = None
    started_at: str = ""
    finished_at: str | None = None
    link: str = ""
    created: bool = False
    reason: str = ""
    attempts: int = 0
    undoes: str | None = None


@dataclass(frozen=True, slots=True)
class Pin:
    """Fields of one target entry the engine must never write."""

    profile: str
    provider: str
    ref: str  # codec.ref_id of the target anchor
    fields: frozenset[str]


# The protocols are interfaces, not rules: `pragma: no mutate block` keeps mutation
# testing (docs/mutation-testing.md) from adding members that `isinstance` would
# then require of every store.
@runtime_checkable
class LinkStore(Protocol):  # pragma: no mutate block
    """Identity links and user overrides."""

    def links(
        self, profile: str, source_provider: str, target_provider: str
    ) -> list[Link]:
        """All links from one source provider to one target provider."""
        ...

    def put_links(self, links: Iterable[Link]) -> None:
        """Insert or replace links by `Link.id` (keeping the first `created_at`)."""
        ...

    def remove_links(self, ids: Iterable[str]) -> None:
        """Forget links (e.g. when an override unlinks them)."""
        ...

    def overrides(
        self, profile: str, source_provider: str, target_provider: str
    ) -> list[Override]:
        """User overrides for one provider pair."""
        ...

    def put_override(self, override: Override) -> None:
        """Insert or replace the override for its (source key, part, target)."""
        ...


@runtime_checkable
class BaselineStore(Protocol):  # pragma: no mutate block
    """Per (profile, link, field) last-in-sync values for two-way sync."""

    def baselines(self, profile: str) -> dict[tuple[str, str], Baseline]:
        """All baselines of a profile keyed by (link id, field)."""
        ...

    def put_baselines(self, baselines: Iterable[Baseline]) -> None:
        """Insert or replace baselines by (profile, link, field)."""
        ...

    def remove_baselines(self, profile: str, keys: Iterable[tuple[str, str]]) -> None:
        """Remove baselines by (link id, field)."""
        ...


@runtime_checkable
class RunStore(Protocol):  # pragma: no mutate block
    """Sync runs, for history and undo."""

    def start_run(self, run: RunRecord) -> None:
        """Record a new run."""
        ...

    def finish_run(self, run: RunRecord) -> None:
        """Replace a run's record with its final state."""
        ...

    def run(self, run_id: str) -> RunRecord | None:
        """One run by id."""
        ...

    def runs(self, profile: str, limit: int = 50) -> list[RunRecord]:
        """Most recent runs first."""
        ...

    def interrupt_stale(self, profile: str, *, now: str, error: str) -> list[str]:
        """Mark the profile's runs still ``running`` as ``interrupted``.

        Only called by the holder of the profile lock: nobody else can be running
        the profile, so a ``running`` row belongs to a process that is gone.

        Returns:
            The ids of the runs marked.
        """
        ...


@runtime_checkable
class JournalStore(Protocol):  # pragma: no mutate block
    """Every action attempted, with before/after and outcome."""

    def record(self, entries: Iterable[JournalEntry]) -> None:
        """Insert or replace entries by (run id, action id)."""
        ...

    def entries(self, run_id: str) -> list[JournalEntry]:
        """Entries of one run in insertion order."""
        ...

    def entries_for_action(self, action_id: str) -> list[JournalEntry]:
        """All journal rows of one action id, oldest first."""
        ...

    def event_sent(
        self, profile: str, provider: str, ref_id: str, kind: str, at: str
    ) -> bool:
        """Whether `profile`'s runs applied an append of this exact event, or may have.

        True for ``applied`` rows and for unresolved (``pending``/``unknown``) ones:
        a play whose answer never arrived is not sent again before a re-read. An
        applied deletion of the same event journaled later (an undo, say) makes it
        unsent again, so a sync after an undo writes the play back. Only the
        profile's own runs count: another profile's provider of the same key is
        another account (another user, in a hosted deployment).
        """
        ...

    def unresolved(self, profile: str) -> list[JournalEntry]:
        """The profile's ``pending``/``unknown`` rows, oldest first."""
        ...


@runtime_checkable
class CursorStore(Protocol):  # pragma: no mutate block
    """Change-feed / paging cursors per (profile, provider)."""

    def cursor(self, profile: str, provider: str) -> str | None:
        """The stored cursor, if any."""
        ...

    def set_cursor(self, profile: str, provider: str, cursor: str | None) -> None:
        """Store (or clear with None) a cursor."""
        ...


@runtime_checkable
class PinStore(Protocol):  # pragma: no mutate block
    """Per-entry field pins."""

    def pins(self, profile: str) -> list[Pin]:
        """All pins of a profile."""
        ...

    def set_pin(self, pin: Pin) -> None:
        """Insert or replace a pin by (profile, provider, ref); empty fields unpin."""
        ...


@dataclass(slots=True)
class Stores:
    """The bundle of stores a sync run needs."""

    links: LinkStore
    baselines: BaselineStore
    runs: RunStore
    journal: JournalStore
    cursors: CursorStore
    pins: PinStore


class MemoryStores:
    """All store protocols in memory: for tests, the benchmark and dry runs."""

    def __init__(self) -> None:
        """Start empty."""
        self._links: dict[str, Link] = {}
        self._overrides: dict[tuple[str, str, str, str, str, str], Override] = {}
        self._baselines: dict[tuple[str, str, str], Baseline] = {}
        self._runs: dict[str, RunRecord] = {}
        self._journal: dict[tuple[str, str], JournalEntry] = {}
        self._cursors: dict[tuple[str, str], str] = {}
        self._pins: dict[tuple[str, str, str], Pin] = {}

    def bundle(self) -> Stores:
        """This object as a `Stores` bundle."""
        return Stores(self, self, self, self, self, self)

    # links
    def links(
        self, profile: str, source_provider: str, target_provider: str
    ) -> list[Link]:
        """See `LinkStore.links`."""
        return [
            lk
            for lk in self._links.values()
            if lk.profile == profile
            and lk.source_provider == source_provider
            and lk.target_provider == target_provider
        ]

    def put_links(self, links: Iterable[Link]) -> None:
        """See `LinkStore.put_links`."""
        for lk in links:
            old = self._links.get(lk.id)
            if old is not None and old.created_at:
                lk = replace(lk, created_at=old.created_at)
            self._links[lk.id] = lk

    def remove_links(self, ids: Iterable[str]) -> None:
        """See `LinkStore.remove_links`."""
        for i in ids:
            self._links.pop(i, None)

    def overrides(
        self, profile: str, source_provider: str, target_provider: str
    ) -> list[Override]:
        """See `LinkStore.overrides`."""
        return [
            o
            for o in self._overrides.values()
            if o.profile == profile
            and o.source_provider == source_provider
            and o.target_provider == target_provider
        ]

    def put_override(self, override: Override) -> None:
        """See `LinkStore.put_override`."""
        o = override
        key = (
            o.profile,
            o.source_provider,
            o.source_key,
            o.source_part,
            o.target_provider,
            o.target_ref or "",
        )
        self._overrides[key] = o

    # baselines
    def baselines(self, profile: str) -> dict[tuple[str, str], Baseline]:
        """See `BaselineStore.baselines`."""
        return {
            (b.link, b.field): b
            for (p, _, _), b in self._baselines.items()
            if p == profile
        }

    def put_baselines(self, baselines: Iterable[Baseline]) -> None:
        """See `BaselineStore.put_baselines`."""
        for b in baselines:
            self._baselines[(b.profile, b.link, b.field)] = b

    def remove_baselines(self, profile: str, keys: Iterable[tuple[str, str]]) -> None:
        """See `BaselineStore.remove_baselines`."""
        for link, fld in keys:
            self._baselines.pop((profile, link, fld), None)

    # runs
    def start_run(self, run: RunRecord) -> None:
        """See `RunStore.start_run`."""
        self._runs[run.id] = run

    def finish_run(self, run: RunRecord) -> None:
        """See `RunStore.finish_run`."""
        self._runs[run.id] = run

    def run(self, run_id: str) -> RunRecord | None:
        """See `RunStore.run`."""
        return self._runs.get(run_id)

    def runs(self, profile: str, limit: int = 50) -> list[RunRecord]:
        """See `RunStore.runs`."""
        mine = [r for r in self._runs.values() if r.profile == profile]
        mine.sort(key=lambda r: r.started_at, reverse=True)
        return mine[:limit]

    def interrupt_stale(self, profile: str, *, now: str, error: str) -> list[str]:
        """See `RunStore.interrupt_stale`."""
        stale = [
            r
            for r in self._runs.values()
            if r.profile == profile and r.status == "running"
        ]
        for r in stale:
            self._runs[r.id] = replace(
                r, status="interrupted", finished_at=now, error=r.error or error
            )
        return [r.id for r in stale]

    # journal
    def record(self, entries: Iterable[JournalEntry]) -> None:
        """See `JournalStore.record`."""
        for e in entries:
            self._journal[(e.run_id, e.action_id)] = e

    def entries(self, run_id: str) -> list[JournalEntry]:
        """See `JournalStore.entries`."""
        return [e for (r, _), e in self._journal.items() if r == run_id]

    def entries_for_action(self, action_id: str) -> list[JournalEntry]:
        """See `JournalStore.entries_for_action`."""
        return [e for (_, a), e in self._journal.items() if a == action_id]

    def event_sent(
        self, profile: str, provider: str, ref_id: str, kind: str, at: str
    ) -> bool:
        """See `JournalStore.event_sent`."""
        mine = {r.id for r in self._runs.values() if r.profile == profile}
        last = None
        for (run, _), e in self._journal.items():
            if (
                run in mine
                and e.provider == provider
                and e.kind == kind
                and e.at == at
                and (
                    (e.op == "append_event" and e.outcome in _SENT)
                    or (e.op == "delete_event" and e.outcome == "applied")
                )
                and codec_ref_id(ref_from_json(e.ref)) == ref_id
            ):
                last = e.op
        return last == "append_event"

    def unresolved(self, profile: str) -> list[JournalEntry]:
        """See `JournalStore.unresolved`."""
        mine = {r.id for r in self._runs.values() if r.profile == profile}
        return [
            e
            for (run, _), e in self._journal.items()
            if run in mine and e.outcome in UNRESOLVED
        ]

    # cursors
    def cursor(self, profile: str, provider: str) -> str | None:
        """See `CursorStore.cursor`."""
        return self._cursors.get((profile, provider))

    def set_cursor(self, profile: str, provider: str, cursor: str | None) -> None:
        """See `CursorStore.set_cursor`."""
        if cursor is None:
            self._cursors.pop((profile, provider), None)
        else:
            self._cursors[(profile, provider)] = cursor

    # pins
    def pins(self, profile: str) -> list[Pin]:
        """See `PinStore.pins`."""
        return [p for (pr, _, _), p in self._pins.items() if pr == profile]

    def set_pin(self, pin: Pin) -> None:
        """See `PinStore.set_pin`."""
        key = (pin.profile, pin.provider, pin.ref)
        if pin.fields:
            self._pins[key] = pin
        else:
            self._pins.pop(key, None)
