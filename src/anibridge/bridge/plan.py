"""Planning: (snapshots, identity, baselines, policy) → `Plan`. Pure, no I/O.

`make_plan` is the entry point: one-way plans run one `DirectionPlanner`
(`anibridge.bridge.oneway`), two-way plans run both directions and settle them
against baselines (`anibridge.bridge.twoway`); guards are recorded on the plan
(`anibridge.bridge.guards`) and `apply` refuses a guarded plan unless forced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from anibridge.bridge.guards import finish_plan
from anibridge.bridge.identity import Identity
from anibridge.bridge.model import (
    Direction,
    Plan,
    Policy,
    Snapshot,
)
from anibridge.bridge.oneway import (
    ENTRY,
    FIELD_ORDER,
    DirectionPlanner,
    SentCheck,
    deletions,
    in_sync_baselines,
    pin_map,
)
from anibridge.bridge.pause_gc import paused_gc
from anibridge.bridge.stores import Baseline, Pin
from anibridge.bridge.twoway import plan_two_way

__all__ = ["ENTRY", "FIELD_ORDER", "make_plan", "plan_direction"]
from anibridge.dates import resolve_timezone


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
    d = DirectionPlanner(source, target, identity, policy, pin_map(pins), tz, sent)
    d.in_sync_before = frozenset(link for link, f in baselines or {} if f == ENTRY)
    d.run()
    actions = d.one_way_actions()
    in_sync = in_sync_baselines(policy, d, {}, None)
    actions += deletions(policy, source, target, baselines or {}, d, set())
    return finish_plan(policy, actions, d.skips, [(source, target)], in_sync)


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
        return plan_two_way(a, b, identity_ab, identity_ba, policy, base, pins, sent)
