"""Explain a plan: a readable rich table for people, JSON for scripts and the web.

Every action shows the ref, the fields before → after and its one-line reason; every
skipped candidate is counted by its reason code (unchanged, pinned, regression,
not-writable, no-target, rule, guard, stale, conflict) and listed with its detail.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from anibridge.bridge.codec import JSON, encode_value
from anibridge.bridge.model import Plan, SkipReason
from anibridge.provider.base import RecordField

__all__ = ["plan_json", "plan_table", "skip_counts"]


def _show(f: RecordField, value: Any) -> str:
    if value is None:
        return "∅"
    data = encode_value(f, value)
    if f is RecordField.STATUS and isinstance(data, dict):
        return str(data.get("status") or data.get("native"))
    if f is RecordField.PROGRESS and isinstance(data, dict):
        total = data.get("total")
        return f"{data.get('current')}" + (f"/{total}" if total else "")
    if f is RecordField.RATING and isinstance(data, dict):
        return f"{data.get('value')}"
    text = str(data)
    return text if len(text) <= 40 else text[:37] + "..."


def skip_counts(plan: Plan) -> dict[str, int]:
    """Number of skipped candidates per reason code."""
    counts = Counter(s.reason.value for s in plan.skipped)
    return {r.value: counts[r.value] for r in SkipReason if counts[r.value]}


def plan_json(plan: Plan) -> dict[str, JSON]:
    """The plan as JSON, with skip counts."""
    data = plan.to_json()
    data["counts"] = {
        "actions": len(plan.actions),
        "skipped": dict(skip_counts(plan).items()),
    }
    return data


def plan_table(plan: Plan, *, show_skipped: bool = True, limit: int = 200) -> Group:
    """A rich renderable of the plan (actions, then skipped candidates)."""
    actions = Table(title=f"Plan {plan.id} ({len(plan.actions)} actions)")
    for col in ("id", "provider", "op", "ref", "changes", "reason"):
        actions.add_column(col, overflow="fold")
    for a in plan.actions[:limit]:
        changes = []
        for f in sorted(set(a.before) | set(a.after) | set(a.clear)):
            after = "cleared" if f in a.clear else _show(f, a.after.get(f))
            changes.append(f"{f.value}: {_show(f, a.before.get(f))} → {after}")
        if a.at is not None:
            changes.append(f"at {a.at.isoformat()}")
        actions.add_row(
            a.id[:8], a.provider, a.op.value, repr(a.ref), "\n".join(changes), a.reason
        )
    parts: list[Any] = []
    if plan.guards:
        parts.append(Text("REFUSED: " + "; ".join(plan.guards), style="bold red"))
    parts.append(actions)
    if len(plan.actions) > limit:
        parts.append(Text(f"... {len(plan.actions) - limit} more actions"))
    if show_skipped and plan.skipped:
        counts = ", ".join(f"{k}: {v}" for k, v in skip_counts(plan).items())
        skipped = Table(title=f"Skipped ({counts})")
        for col in ("reason", "provider", "ref", "field", "detail"):
            skipped.add_column(col, overflow="fold")
        shown = [s for s in plan.skipped if s.reason is not SkipReason.UNCHANGED]
        for s in shown[:limit]:
            skipped.add_row(
                s.reason.value,
                s.provider,
                repr(s.ref),
                s.field.value if s.field else "",
                s.detail,
            )
        parts.append(skipped)
    return Group(*parts)
