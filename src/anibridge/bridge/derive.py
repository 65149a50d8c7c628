"""Desired state: the value each field should have, derived from observations.

Every rule here answers a complaint users of the existing tools filed:

- STATUS: a status the user set on the source (an aggregate record) is taken as is.
  Otherwise it is inferred: all target units consumed → COMPLETED; a new pass under
  way after a completed one, ordered by exact play times → REPEATING
  (`anibridge.bridge.passes`: a replay inside the first pass is not a rewatch, play
  counts without times never make one, nor does an episode merely in progress,
  #122); some consumed or one in progress → ACTIVE; on a watchlist → PLANNED.
  PAUSED and DROPPED are never inferred, and a user-set PAUSED/DROPPED on the target
  is kept unless a play happened after the target entry last changed (#219).
- PROGRESS: `count` mode sums consumed units weighted by mapping ratios, rounded
  down; `index` mode takes the highest consumed target position (#249/#262). Both
  are capped by the target's total. During a rewatch (where the target can hold
  REPEATING) it is the position in the pass under way.
- STARTED_AT / FINISHED_AT: first activity / the moment the last unit was first
  completed; FINISHED_AT only when completed; STARTED_AT never after FINISHED_AT.
- REPEAT_COUNT: completed passes beyond the first; from counts, completed full
  rounds minus one, counted over *every* target unit, so replaying a few episodes
  (or a library holding only them) never inflates it (#174).
- RATING, NOTES: what the user set on the source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from anibridge.bridge.model import Policy, ProgressMode
from anibridge.bridge.observe import Observation
from anibridge.bridge.passes import Passes, segment
from anibridge.provider.base import (
    Progress,
    Rating,
    Record,
    RecordField,
    State,
    Status,
)

__all__ = ["Desired", "derive"]

_USER_HELD = frozenset({Status.PAUSED, Status.DROPPED})


@dataclass(slots=True)
class Desired:
    """Semantic target values with the reason for each.

    Values are semantic: STATUS a `Status`, PROGRESS an int, RATING the source
    `Rating`, dates aware datetimes, REPEAT_COUNT an int, NOTES a str.
    `held` lists fields deliberately left as the target has them, with why.
    """

    values: dict[RecordField, Any] = field(default_factory=dict)
    reasons: dict[RecordField, str] = field(default_factory=dict)
    held: dict[RecordField, str] = field(default_factory=dict)
    inferred_status: bool = False
    consumed: int = 0
    total: int | None = None

    def set(self, f: RecordField, value: Any, reason: str) -> None:
        """Record a desired value and why."""
        self.values[f] = value
        self.reasons[f] = reason


def _status_of(record: Record | None) -> Status | None:
    if record is None:
        return None
    state = record.values.get(RecordField.STATUS)
    return state.status if isinstance(state, State) else None


@dataclass(slots=True)
class _Units:
    """One pass over an observation's units: everything derive needs from them."""

    first: datetime | None = None
    last: datetime | None = None
    last_first: datetime | None = None  # when the last unit was first consumed
    top: int = 0
    whole: bool = False
    rounds: tuple[int, int] | None = None  # (min, max) plays over units 1..total


def _scan_units(obs: Observation, total: int | None) -> _Units:
    out = _Units()
    plays: dict[int, int] = {}
    first = last = last_first = None
    top = 0
    for (_, n), u in obs.units.items():
        if n > top:
            top = n
        elif n == 0:
            out.whole = True
        p, f, lt = u
        if total and 1 <= n <= total and p > plays.get(n, 0):
            plays[n] = p
        if f is not None:
            if first is None or f < first:
                first = f
            if last_first is None or f > last_first:
                last_first = f
        if lt is not None and (last is None or lt > last):
            last = lt
    out.first, out.last, out.last_first, out.top = first, last, last_first, top
    if total and not out.whole and len(plays) >= total:
        counts = plays.values()
        out.rounds = (min(counts), max(counts))
    return out


def _passes(obs: Observation, total: int | None, whole: bool) -> Passes | None:
    """The title's viewing passes, when exact play times cover every unit.

    None when any unit 1..total was consumed without a known play time (a view
    count, a summary, an aggregate record): counts alone never order plays.
    """
    if not total or whole:
        return None
    plays = [(at, n) for (_, n), at in obs.events if 1 <= n <= total]
    if len({n for _, n in plays}) < total:
        return None
    return segment(plays, total)


def derive(
    obs: Observation,
    target: Record | None,
    total: int | None,
    policy: Policy,
    *,
    repeating: bool = True,
) -> Desired:
    """Desired semantic values for one target entry.

    Args:
        obs: What the source says about this target anchor.
        target: The target's current aggregate record, if any.
        total: Number of units the target has (None when unknown).
        policy: The profile's policy.
        repeating: The target can hold REPEATING; only then does progress during
            a rewatch follow the position in the current pass (otherwise the entry
            stays COMPLETED at the full count).

    Returns:
        The desired values, their reasons, and fields held back.
    """
    d = Desired(total=total)
    explicit = obs.explicit
    units = _scan_units(obs, total)
    first_at, last_at, whole = units.first, units.last, units.whole
    if policy.progress_mode is ProgressMode.INDEX:
        consumed = units.top
        how = "highest consumed episode"
    else:
        consumed = math.floor(obs.weighted + 1e-9)
        how = "consumed episodes"
    if whole and consumed == 0:
        consumed = total or 1
    if total:
        consumed = min(consumed, total)
    passes = _passes(obs, total, whole)
    rewatch = (
        passes is not None
        and passes.rewatching
        and repeating
        and not isinstance(explicit.get(RecordField.STATUS), State)
    )
    if rewatch and passes is not None:
        # Progress during a rewatch is the position in the pass under way.
        done = passes.current
        consumed = (
            max(done) if policy.progress_mode is ProgressMode.INDEX else len(done)
        )
        how = f"rewatch (pass {passes.completed + 1}): {how}"
    state = explicit.get(RecordField.STATUS)
    if (
        not repeating
        and total
        and isinstance(state, State)
        and state.status is Status.REPEATING
    ):
        # Shown as COMPLETED where the target has no rewatch status: at full count.
        consumed = total
        how = "rewatch shown as completed"
    d.consumed = consumed
    if obs.units:
        reason = f"{how}: {consumed}" + (f" of {total}" if total else "")
        d.set(RecordField.PROGRESS, consumed, reason)

    complete = bool(
        whole
        or (total and consumed >= total)
        or (passes is not None and passes.completed >= 1)
    )
    rounds = units.rounds
    # STATUS
    if isinstance(state, State) and state.status is not None:
        d.set(RecordField.STATUS, state.status, f"source status {state.status.value}")
    else:
        inferred: Status | None = None
        why = ""
        if rewatch and passes is not None:
            # A new pass after a completed one: never from counts alone (#122).
            inferred, why = (
                Status.REPEATING,
                f"rewatch under way: pass {passes.completed + 1} started after "
                f"pass {passes.completed} completed",
            )
        elif complete:
            inferred, why = Status.COMPLETED, "all episodes consumed"
        elif consumed > 0 or obs.in_progress:
            inferred, why = Status.ACTIVE, "some episodes consumed"
        elif obs.planned:
            inferred, why = Status.PLANNED, "on the source watchlist"
        elif policy.empty_status and target is None and not explicit:
            inferred, why = Status.PLANNED, "in the source without activity"
        if inferred is not None:
            d.inferred_status = True
            current = _status_of(target)
            if (
                current in _USER_HELD
                and inferred is not current
                and not policy.status_inference_overrides
                and not _newer_play(obs, target)
            ):
                d.held[RecordField.STATUS] = (
                    f"user-set {current.value} kept: no play after the entry changed"
                )
            else:
                d.set(RecordField.STATUS, inferred, why)
    status = d.values.get(RecordField.STATUS)
    if status is None:
        status = _status_of(target)

    # REPEAT_COUNT: completed passes beyond the first (from times), or full rounds
    # beyond the first (from counts): both only ever under-count.
    repeat = explicit.get(RecordField.REPEAT_COUNT)
    by_rounds = rounds[0] - 1 if rounds is not None and rounds[0] >= 1 else None
    if isinstance(repeat, int):
        d.set(RecordField.REPEAT_COUNT, repeat, "source repeat count")
    elif passes is not None and passes.completed >= 1:
        n = max(passes.repeat, by_rounds or 0)
        d.set(RecordField.REPEAT_COUNT, n, f"{passes.completed} complete pass(es)")
    elif by_rounds is not None and rounds is not None:
        d.set(
            RecordField.REPEAT_COUNT,
            by_rounds,
            f"every episode consumed {rounds[0]} time(s)",
        )
    elif whole:
        plays = max(u[0] for u in obs.units.values())
        d.set(RecordField.REPEAT_COUNT, plays - 1, f"{plays} play(s)")

    # Dates
    started = explicit.get(RecordField.STARTED_AT)
    if isinstance(started, datetime):
        d.set(RecordField.STARTED_AT, started, "source start date")
    elif first_at is not None:
        d.set(RecordField.STARTED_AT, first_at, "first activity")
    if status in (Status.COMPLETED, Status.REPEATING):
        finished = explicit.get(RecordField.FINISHED_AT)
        if isinstance(finished, datetime):
            d.set(RecordField.FINISHED_AT, finished, "source finish date")
        elif not explicit and units.last_first is not None and complete:
            # (a tracker's entry without a finish date has none to derive)
            d.set(RecordField.FINISHED_AT, units.last_first, "last episode completed")
    s = d.values.get(RecordField.STARTED_AT)
    f = d.values.get(RecordField.FINISHED_AT)
    if s is not None and f is not None and s > f and not isinstance(started, datetime):
        # A derived start never lies after the finish; dates a user typed stay as is.
        d.set(RecordField.STARTED_AT, f, "clamped to the finish date")
    last = explicit.get(RecordField.LAST_ACTIVITY_AT)
    if isinstance(last, datetime):
        d.set(RecordField.LAST_ACTIVITY_AT, last, "source last activity")
    elif last_at is not None:
        d.set(RecordField.LAST_ACTIVITY_AT, last_at, "latest activity")

    # User-set values
    rating = explicit.get(RecordField.RATING)
    if isinstance(rating, Rating):
        d.set(RecordField.RATING, rating, "source rating")
    notes = explicit.get(RecordField.NOTES)
    if isinstance(notes, str):
        d.set(RecordField.NOTES, notes, "source notes")
    if isinstance(explicit.get(RecordField.PROGRESS), Progress) and not obs.units:
        d.set(RecordField.PROGRESS, 0, "source progress")
    return d


def _newer_play(obs: Observation, target: Record | None) -> bool:
    """Whether the source saw a play after the target entry last changed."""
    last = obs.last_at
    if target is None or target.updated_at is None or last is None:
        return False
    return last > target.updated_at
