"""Kept plans in PostgreSQL: newest 20 per profile, replaced by id, per profile."""

from __future__ import annotations

from anibridge.app.service.kept_plans import KEEP_PLANS, KeptPlan
from anibridge.hosted import plans
from anibridge.hosted.worker import migrate_all


def kept(plan_id: str, n: int) -> KeptPlan:
    return KeptPlan(
        {"id": plan_id, "actions": [{"id": "a"}], "skipped": []},
        f"2026-12-07T10:{n:02d}:00+00:00",
    )


def test_plans_are_kept_per_profile_newest_first_and_replaced_by_id(pg_url, store):
    migrate_all(pg_url)
    engine = store.engine
    for n in range(KEEP_PLANS + 2):
        plans.keep(engine, "alice", kept(f"a{n}", n))
    plans.keep(engine, "bob", kept("b0", 0))
    listed = [k.id for k in plans.listing(engine, "alice")]
    assert listed == [f"a{n}" for n in range(2, KEEP_PLANS + 2)]  # oldest dropped
    assert [k.id for k in plans.listing(engine, "bob")] == ["b0"]
    assert plans.find(engine, "a0") is None
    profile, found = plans.find(engine, "b0")
    assert profile == "bob" and found.plan["actions"] == [{"id": "a"}]

    # An apply's state is saved on the plan of its own profile only.
    found.outcomes, found.status, found.run_id = {"a": "applied"}, "applied", "r1"
    assert not plans.save(engine, "alice", found)
    assert plans.find(engine, "b0")[1].status == "pending"
    assert plans.save(engine, "bob", found)
    again = plans.find(engine, "b0")[1]
    assert (again.status, again.run_id, again.outcomes) == (
        "applied",
        "r1",
        {"a": "applied"},
    )

    # Previewing the same changes again replaces the plan, review state and all.
    plans.keep(engine, "bob", kept("b0", 59))
    fresh = plans.find(engine, "b0")[1]
    assert (fresh.status, fresh.outcomes) == ("pending", {})
    assert len(plans.listing(engine, "bob")) == 1
