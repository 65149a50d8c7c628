"""Kept plans of a hosted deployment, in the shared PostgreSQL database.

A preview job keeps its plan here (`keep`); the web service lists and shows it
(`listing`, `find`) and checks an approval against it; the apply job records
what it wrote (`save`, after `kept_plans.record_apply`). Workers and the web may
run on different machines, so the plan lives in the database they share, not in
one machine's data directory. Every lookup names its profile or returns the
profile with the plan: ownership is the profile's (`anibridge.app.web.access`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from anibridge.app.service.kept_plans import KEEP_PLANS, KeptPlan
from anibridge.store import schema as t

__all__ = ["find", "keep", "listing", "save"]


def _row(profile: str, kept: KeptPlan) -> dict[str, Any]:
    return {"id": kept.id, "profile": profile, **kept.to_json()}


def _kept(row: Any) -> KeptPlan:
    return KeptPlan(
        plan=dict(row.plan),
        created_at=row.created_at,
        status=row.status,
        run_id=row.run_id,
        outcomes=dict(row.outcomes or {}),
        scope=list(row.scope) if row.scope is not None else None,
    )


def keep(engine: sa.Engine, profile: str, kept: KeptPlan) -> None:
    """Keep a new plan of `profile`, dropping all but the newest `KEEP_PLANS`.

    A plan's id is derived from its actions, so previewing the same changes again
    replaces the earlier plan (with its review state), as the single-user service
    does.
    """
    plans = t.kept_plans
    with engine.begin() as conn:
        conn.execute(sa.delete(plans).where(plans.c.id == kept.id))
        conn.execute(sa.insert(plans).values(**_row(profile, kept)))
        old = (
            sa.select(plans.c.id)
            .where(plans.c.profile == profile)
            .order_by(plans.c.created_at.desc(), plans.c.id)
            .offset(KEEP_PLANS)
        )
        conn.execute(sa.delete(plans).where(plans.c.id.in_(old.scalar_subquery())))


def save(engine: sa.Engine, profile: str, kept: KeptPlan) -> bool:
    """Store a kept plan's review state (after an apply).

    Returns:
        False when the plan is no longer kept (a newer preview replaced it, or it
        aged out): there is nothing to update.
    """
    plans = t.kept_plans
    with engine.begin() as conn:
        done = conn.execute(
            sa.update(plans)
            .where(plans.c.id == kept.id, plans.c.profile == profile)
            .values(status=kept.status, run_id=kept.run_id, outcomes=kept.outcomes)
        )
    return bool(done.rowcount)


def find(engine: sa.Engine, plan_id: str) -> tuple[str, KeptPlan] | None:
    """The kept plan `plan_id` with its profile; None when none is kept."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(t.kept_plans).where(t.kept_plans.c.id == plan_id)
        ).first()
    return None if row is None else (row.profile, _kept(row))


def listing(engine: sa.Engine, profile: str) -> list[KeptPlan]:
    """The kept plans of `profile`, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.kept_plans)
            .where(t.kept_plans.c.profile == profile)
            .order_by(t.kept_plans.c.created_at, t.kept_plans.c.id)
        ).all()
    return [_kept(r) for r in rows]
