"""Guards and plan assembly: refuse plans that empty a side or delete too much.

A plan whose source returned nothing while the target has entries, or which deletes or
clears more than `Policy.max_delete_fraction` of a target's entries, carries guard
messages; `apply` and `run_sync` refuse it unless `Policy.force` is set (then the
overridden guards are listed as skipped candidates with reason ``guard``).
"""

from __future__ import annotations

from anibridge.bridge.model import (
    Action,
    Plan,
    Policy,
    Skip,
    SkipReason,
    Snapshot,
)
from anibridge.bridge.stores import Baseline
from anibridge.provider.base import (
    Ref,
    WriteOp,
)

__all__ = ["finish_plan"]


def finish_plan(
    policy: Policy,
    actions: list[Action],
    skips: list[Skip],
    pairs: list[tuple[Snapshot, Snapshot]],
    in_sync: list[Baseline],
) -> Plan:
    """Assemble the plan, recording (or, when forced, overriding) guards."""
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
