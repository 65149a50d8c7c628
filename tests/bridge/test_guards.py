"""Plan guards (`anibridge.bridge.guards.finish_plan`): each condition and message.

A guard is what stands between a broken source (an expired token that reads as an
empty list, a filter gone wrong) and a target emptied by the next sync, so every
conjunct of each guard is pinned here, and the text a user reads when refused.
"""

from __future__ import annotations

from anibridge.bridge.guards import finish_plan
from anibridge.bridge.model import Action, Entry, Policy, Skip, SkipReason, Snapshot
from anibridge.bridge.stores import Baseline
from anibridge.provider.base import RecordField, Ref, WriteOp
from anibridge.provider.testing.memory import list_capabilities

EMPTY = (
    "src returned nothing while tgt has 3 entries: refusing (check the source, "
    "or force)"
)


def _snap(provider, n, *, complete=True):
    entries = {str(k): Entry(str(k)) for k in range(n)}
    return Snapshot(provider, list_capabilities(), entries, complete=complete)


def _upsert(key, provider="tgt"):
    return Action(provider, WriteOp.UPSERT_RECORD, Ref(key), source="src")


def _delete(key, op=WriteOp.DELETE_RECORD, provider="tgt"):
    return Action(provider, op, Ref(key), source="src")


def _clear(key):
    return Action(
        "tgt", WriteOp.UPSERT_RECORD, Ref(key), clear=frozenset({RecordField.NOTES})
    )


def test_an_empty_complete_source_with_writes_is_refused_with_the_counts():
    plan = finish_plan(
        Policy(), [_upsert("1")], [], [(_snap("src", 0), _snap("tgt", 3))], []
    )
    assert plan.guards == (EMPTY,)


def test_an_empty_source_is_refused_when_deletes_are_allowed_even_without_writes():
    policy = Policy(allow_deletes=True)
    plan = finish_plan(policy, [], [], [(_snap("src", 0), _snap("tgt", 3))], [])
    assert plan.guards == (EMPTY,)


def test_the_empty_source_guard_needs_every_condition():
    policy = Policy()
    tgt = _snap("tgt", 3)
    # no writes and deletes not allowed: nothing can happen, nothing to refuse
    assert finish_plan(policy, [], [], [(_snap("src", 0), tgt)], []).guards == ()
    # an incomplete read (change feed, targeted) that found nothing is not "empty"
    partial = _snap("src", 0, complete=False)
    assert finish_plan(policy, [_upsert("1")], [], [(partial, tgt)], []).guards == ()
    # the source has entries
    assert (
        finish_plan(policy, [_upsert("1")], [], [(_snap("src", 1), tgt)], []).guards
        == ()
    )
    # the target is empty too
    empty = _snap("tgt", 0)
    assert (
        finish_plan(policy, [_upsert("1")], [], [(_snap("src", 0), empty)], []).guards
        == ()
    )
    # writes on another provider are not writes onto this target
    other = [_upsert("1", provider="elsewhere")]
    assert finish_plan(policy, other, [], [(_snap("src", 0), tgt)], []).guards == ()


def test_the_delete_guard_message_names_counts_provider_and_fraction():
    policy = Policy(max_delete_fraction=0.25, allow_deletes=True)
    # a quarter is allowed, more is refused
    one = finish_plan(
        policy, [_delete("1")], [], [(_snap("src", 4), _snap("tgt", 4))], []
    )
    assert one.guards == ()
    plan = finish_plan(policy, [_delete("1"), _delete("2")], [],
                       [(_snap("src", 4), _snap("tgt", 4))], [])  # fmt: skip
    assert plan.guards == (
        "plan would delete or clear 2 of 4 entries on tgt (more than 25%): "
        "refusing (force to override)",
    )


def test_deleted_events_and_clears_count_other_providers_writes_do_not():
    policy = Policy(max_delete_fraction=0.1, allow_deletes=True)
    pairs = [(_snap("src", 10), _snap("tgt", 10))]
    events = [_delete("1", WriteOp.DELETE_EVENT), _delete("2", WriteOp.DELETE_EVENT)]
    assert len(finish_plan(policy, events, [], pairs, []).guards) == 1
    mixed = [_delete("1"), _clear("2")]
    assert "2 of 10" in finish_plan(policy, mixed, [], pairs, []).guards[0]
    elsewhere = [_delete("1", provider="x"), _delete("2", provider="x")]
    assert finish_plan(policy, elsewhere, [], pairs, []).guards == ()
    # upserts that clear nothing are not destructive
    upserts = [_upsert(str(k)) for k in range(10)]
    assert finish_plan(policy, upserts, [], pairs, []).guards == ()


def test_an_empty_target_cannot_trip_the_fraction():
    policy = Policy(max_delete_fraction=0.0, allow_deletes=True)
    plan = finish_plan(
        policy, [_delete("1")], [], [(_snap("src", 1), _snap("tgt", 0))], []
    )
    assert plan.guards == ()


def test_each_pair_is_guarded_on_its_own_target():
    policy = Policy(max_delete_fraction=0.1, allow_deletes=True)
    pairs = [(_snap("src", 10), _snap("tgt", 10)), (_snap("tgt", 10), _snap("src", 10))]
    actions = [_delete("1", provider="src"), _delete("2", provider="src")]
    (guard,) = finish_plan(policy, actions, [], pairs, []).guards
    assert "on src" in guard


def test_force_turns_each_guard_into_a_skip_and_plans_anyway():
    policy = Policy(
        profile="p", max_delete_fraction=0.1, allow_deletes=True, force=True
    )
    kept = Skip("tgt", Ref("9"), None, SkipReason.PINNED)
    baseline = Baseline("p", "link", "status", "a", "b")
    actions = [_delete("1"), _delete("2"), _upsert("3")]
    plan = finish_plan(policy, actions, [kept], [(_snap("src", 0), _snap("tgt", 3))],
                       [baseline])  # fmt: skip
    assert plan.guards == ()
    assert plan.profile == "p"
    assert plan.actions == tuple(actions)
    assert plan.in_sync == (baseline,)
    assert plan.skipped[0] == kept
    overridden = plan.skipped[1:]
    assert [s.reason for s in overridden] == [SkipReason.GUARD, SkipReason.GUARD]
    assert overridden[0].detail == f"overridden: {EMPTY}"
    assert overridden[1].detail.startswith(
        "overridden: plan would delete or clear 2 of 3"
    )
    assert all(
        s.provider == "" and s.ref == Ref("") and s.field is None for s in overridden
    )


def test_an_unforced_guarded_plan_keeps_its_actions_for_review():
    policy = Policy(profile="p", max_delete_fraction=0.1, allow_deletes=True)
    actions = [_delete("1"), _delete("2")]
    plan = finish_plan(policy, actions, [], [(_snap("src", 3), _snap("tgt", 3))], [])
    assert plan.actions == tuple(actions) and plan.skipped == ()
    assert plan.profile == "p" and len(plan.guards) == 1
