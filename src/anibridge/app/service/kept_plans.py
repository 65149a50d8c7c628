"""Dry-run plans kept for review, and what applying some of their actions did.

A kept plan is the plan's JSON (`bridge.explain.plan_json`) with its review state:
which approved actions were written, left alone as outdated or failed, and the
newest run that applied some of it. The single-user service keeps plans as files
in its data directory; a hosted deployment keeps them in PostgreSQL
(`anibridge.hosted.plans`) because the worker that previews, the web service that
shows the plan and the worker that applies it may run on three machines. Both
update a plan after an apply with `record_apply`, so a plan's status means the
same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from anibridge.app.service.plan_view import UNMATCHED, plan_status, source_choices

__all__ = ["KEEP_PLANS", "KeptPlan", "describe_skips", "name_items", "record_apply"]

#: Plans kept per profile; the oldest is dropped when a newer one is kept.
KEEP_PLANS = 20


@dataclass(slots=True)
class KeptPlan:
    """A dry-run plan kept for review, as its JSON (`Plan.to_json`).

    JSON is all review needs (display, and the ids an approval may name; applying
    re-plans live).

    Attributes:
        plan: The plan's JSON.
        created_at: When it was kept (ISO 8601, UTC).
        status: ``pending``, ``partial`` or ``applied`` (`plan_view.plan_status`).
        run_id: The latest run that applied some of it.
        outcomes: Action id → outcome of the approved actions tried so far.
        scope: The anchors a targeted run re-read; None for the whole library.
    """

    plan: dict[str, Any]
    created_at: str
    status: str = "pending"
    run_id: str | None = None
    outcomes: dict[str, str] = field(default_factory=dict)
    scope: list[str] | None = None

    @property
    def id(self) -> str:
        """The plan's id."""
        return str(self.plan["id"])

    def to_json(self) -> dict[str, Any]:
        """The plan and its review state (the file format and the table's columns)."""
        return {
            "plan": self.plan,
            "created_at": self.created_at,
            "status": self.status,
            "run_id": self.run_id,
            "outcomes": self.outcomes,
            "scope": self.scope,
        }


def record_apply(
    kept: KeptPlan,
    written: Iterable[tuple[str, str]],
    approved: Iterable[str],
    outdated: Iterable[str],
    run_id: str,
) -> None:
    """Note what an apply of some of `kept`'s actions did; its status follows.

    Args:
        kept: The plan (changed in place).
        written: (action id, outcome) of the apply run's journal entries.
        approved: The ids the person approved (only their outcomes are kept).
        outdated: Approved ids the fresh plan no longer had (never written).
        run_id: The apply run.
    """
    wanted = set(approved)
    for action_id, outcome in written:
        if action_id in wanted:
            kept.outcomes[action_id] = outcome
    for action_id in outdated:
        kept.outcomes[action_id] = "outdated"
    kept.status = plan_status(kept.plan["actions"], kept.outcomes)
    kept.run_id = run_id


def describe_skips(
    skipped: list[dict[str, Any]],
    titles: Mapping[tuple[str, str], Mapping[str, Any]],
    source: str,
    target: str,
) -> None:
    """Keep what a person needs to fix an unmatched entry with its skip (in place).

    An unmatched candidate names the *other* side's anchor (the entry no mapping
    placed); its title, ids and seasons are stored with the kept plan so the
    Unmatched page can show and fix it later, in any process.

    Args:
        skipped: The plan JSON's ``skipped`` rows.
        titles: (provider key, anchor) → what the providers said of the entry.
        source: The profile's source provider key.
        target: The profile's target provider key.
    """
    for skip in skipped:
        if skip["reason"] != UNMATCHED:
            continue
        origin = source if skip["provider"] == target else target
        known = titles.get((origin, skip["ref"]["key"]), {})
        skip["origin"] = origin
        for key in ("title", "ids", "kind", "seasons"):
            if known.get(key):
                skip[key] = known[key]
        skip["sources"] = source_choices(
            known.get("ids") or (), known.get("seasons") or ()
        )


def name_items(
    items: Iterable[dict[str, Any]],
    titles: Mapping[tuple[str, str], Mapping[str, Any]],
) -> None:
    """Store each plan row's title and ids with it, where the providers said them.

    A kept plan is shown by a process that did not read the providers (the hosted
    web service), so the names travel with the plan. Rows that already carry a
    title (unmatched skips, `describe_skips`) keep theirs.
    """
    for item in items:
        known = titles.get((item["provider"], item["ref"]["key"]))
        if not known:
            continue
        for key in ("title", "ids"):
            if known.get(key) and not item.get(key):
                item[key] = known[key]
