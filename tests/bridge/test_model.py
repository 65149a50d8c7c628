"""The engine's value types (`anibridge.bridge.model`): ids, JSON forms, rules.

Action and plan ids are what a person approves from a preview and applies later, so
they must depend on exactly the write (not on its explanation), and the JSON forms
are what the web API, explain output and the journal show.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from anibridge.bridge.codec import dumps
from anibridge.bridge.model import (
    Action,
    Entry,
    Plan,
    Rule,
    Skip,
    SkipReason,
    Snapshot,
    _digest,
)
from anibridge.bridge.stores import Baseline
from anibridge.provider.base import (
    Progress,
    RecordField,
    Ref,
    State,
    Status,
    Step,
    WriteOp,
)
from anibridge.provider.testing.memory import list_capabilities

F = RecordField
EP = Ref("show", (Step("season", 1), Step("episode", 3)))
AT = datetime(2024, 3, 1, 12, tzinfo=UTC)


def upsert(**kw):
    base = {
        "provider": "anilist",
        "op": WriteOp.UPSERT_RECORD,
        "ref": Ref.anchor("100"),
        "before": {F.PROGRESS: Progress(2)},
        "after": {F.PROGRESS: Progress(3), F.STATUS: State("CURRENT", Status.ACTIVE)},
    }
    return Action(**{**base, **kw})


def test_snapshot_entry_is_created_once_and_then_reused():
    snap = Snapshot("plex", list_capabilities())
    first = snap.entry("a")
    assert first == Entry("a")
    assert snap.entries == {"a": first}
    first.records.append("r")  # type: ignore[arg-type]
    assert snap.entry("a") is first
    assert snap.entries["a"].records == ["r"]


@pytest.mark.parametrize(
    ("rule", "provider", "target", "desired", "matches"),
    [
        (Rule("any", frozenset({F.NOTES})), "mal", None, None, True),
        (Rule("p", frozenset(), when_provider=frozenset({"mal"})), "mal", None, None,
         True),
        (Rule("p", frozenset(), when_provider=frozenset({"mal"})), "anilist", None,
         None, False),
        (Rule("t", frozenset(), when_target_status=frozenset({Status.DROPPED})),
         "mal", Status.DROPPED, None, True),
        (Rule("t", frozenset(), when_target_status=frozenset({Status.DROPPED})),
         "mal", Status.ACTIVE, None, False),
        (Rule("t", frozenset(), when_target_status=frozenset({Status.DROPPED})),
         "mal", None, Status.DROPPED, False),
        (Rule("d", frozenset(), when_desired_status=frozenset({Status.COMPLETED})),
         "mal", None, Status.COMPLETED, True),
        (Rule("d", frozenset(), when_desired_status=frozenset({Status.COMPLETED})),
         "mal", Status.COMPLETED, Status.ACTIVE, False),
        (Rule("all", frozenset(), when_provider=frozenset({"mal"}),
              when_target_status=frozenset({Status.PAUSED}),
              when_desired_status=frozenset({Status.ACTIVE})),
         "mal", Status.PAUSED, Status.ACTIVE, True),
        (Rule("all", frozenset(), when_provider=frozenset({"mal"}),
              when_target_status=frozenset({Status.PAUSED}),
              when_desired_status=frozenset({Status.ACTIVE})),
         "anilist", Status.PAUSED, Status.ACTIVE, False),
        (Rule("all", frozenset(), when_provider=frozenset({"mal"}),
              when_target_status=frozenset({Status.PAUSED}),
              when_desired_status=frozenset({Status.ACTIVE})),
         "mal", Status.ACTIVE, Status.ACTIVE, False),
        (Rule("all", frozenset(), when_provider=frozenset({"mal"}),
              when_target_status=frozenset({Status.PAUSED}),
              when_desired_status=frozenset({Status.ACTIVE})),
         "mal", Status.PAUSED, Status.PAUSED, False),
    ],
)  # fmt: skip
def test_a_rule_matches_when_every_given_condition_holds(
    rule, provider, target, desired, matches
):
    assert rule.matches(provider, target, desired) is matches


def test_action_id_is_stable_and_ignores_the_explanation():
    a = upsert()
    assert a.id == upsert().id
    assert len(a.id) == 16 and int(a.id, 16) >= 0
    explained = upsert(
        reason="because", provenance=("x",), source="plex", link="L", created=True,
        record_key="k", revision="r", source_values={"progress": 3},
    )  # fmt: skip
    assert explained.id == a.id


@pytest.mark.parametrize(
    "change",
    [
        {"provider": "mal"},
        {"op": WriteOp.DELETE_RECORD},
        {"ref": Ref.anchor("101")},
        {"ref": EP},
        {"kind": "ratings"},
        {"before": {F.PROGRESS: Progress(1)}},
        {"after": {F.PROGRESS: Progress(4)}},
        {"clear": frozenset({F.NOTES})},
        {"at": AT},
    ],
)
def test_action_id_changes_with_every_part_of_the_write(change):
    assert upsert(**change).id != upsert().id


def test_action_id_is_the_digest_of_the_write():
    a = upsert(clear=frozenset({F.RATING, F.NOTES}), at=AT, kind="k")
    assert a.id == _digest(
        {
            "p": "anilist",
            "o": "upsert_record",
            "r": "100",
            "k": "k",
            "b": {"progress": {"current": 2, "total": None, "unit": None}},
            "a": {
                "progress": {"current": 3, "total": None, "unit": None},
                "status": {"native": "CURRENT", "status": "active"},
            },
            "c": ["notes", "rating"],
            "t": "2024-03-01T12:00:00+00:00",
        }
    )
    assert upsert().id == _digest({**_fields_of(upsert()), "c": [], "t": None, "k": ""})


def _fields_of(a):
    return {
        "p": a.provider,
        "o": a.op.value,
        "r": "100",
        "b": {"progress": {"current": 2, "total": None, "unit": None}},
        "a": {
            "progress": {"current": 3, "total": None, "unit": None},
            "status": {"native": "CURRENT", "status": "active"},
        },
    }


def test_digest_is_a_sha1_prefix_of_the_canonical_json():
    import hashlib

    data = {"b": [1, 2], "a": "x"}
    expected = hashlib.sha1(dumps(data).encode()).hexdigest()[:16]
    assert _digest(data) == expected


def test_action_json_shows_the_whole_write():
    a = upsert(
        ref=EP, kind="watch", clear=frozenset({F.RATING, F.NOTES}), at=AT,
        reason="r", provenance=("p1", "p2"), source="plex", link="L", created=True,
    )  # fmt: skip
    assert a.to_json() == {
        "id": a.id,
        "provider": "anilist",
        "op": "upsert_record",
        "ref": {"key": "show", "path": [["season", 1], ["episode", 3]]},
        "kind": "watch",
        "before": {"progress": {"current": 2, "total": None, "unit": None}},
        "after": {
            "progress": {"current": 3, "total": None, "unit": None},
            "status": {"native": "CURRENT", "status": "active"},
        },
        "clear": ["notes", "rating"],
        "at": "2024-03-01T12:00:00+00:00",
        "reason": "r",
        "provenance": ["p1", "p2"],
        "source": "plex",
        "link": "L",
        "created": True,
    }
    assert upsert().to_json()["at"] is None
    assert upsert().to_json()["created"] is False


def test_skip_json():
    skip = Skip("mal", Ref.anchor("7"), F.RATING, SkipReason.PINNED, "held", "L")
    assert skip.to_json() == {
        "provider": "mal",
        "ref": {"key": "7", "path": []},
        "field": "rating",
        "reason": "pinned",
        "detail": "held",
        "link": "L",
    }
    whole = Skip("mal", Ref.anchor("7"), None, SkipReason.STALE)
    assert whole.to_json()["field"] is None
    assert whole.to_json()["detail"] == "" and whole.to_json()["link"] == ""


def test_plan_id_depends_on_profile_and_the_set_of_action_ids():
    a, b = upsert(), upsert(ref=Ref.anchor("200"))
    plan = Plan("p1", (a, b))
    assert plan.id == Plan("p1", (b, a)).id
    assert plan.id == _digest({"p": "p1", "a": sorted([a.id, b.id])})
    assert plan.id != Plan("p2", (a, b)).id
    assert plan.id != Plan("p1", (a,)).id
    skipped = (Skip("mal", Ref.anchor("7"), None, SkipReason.STALE),)
    assert Plan("p1", (a, b), skipped, ("guard",)).id == plan.id


def test_subset_keeps_approved_actions_in_order_and_everything_else():
    a, b, c = (upsert(ref=Ref.anchor(k)) for k in ("1", "2", "3"))
    skipped = (Skip("mal", Ref.anchor("7"), None, SkipReason.STALE),)
    in_sync = (Baseline("p1", "L", "progress", 3, 3),)
    plan = Plan("p1", (a, b, c), skipped, ("g",), in_sync)
    sub = plan.subset({c.id, a.id})
    assert sub == Plan("p1", (a, c), skipped, ("g",), in_sync)
    assert plan.subset(frozenset()).actions == ()


def test_subset_refuses_ids_not_in_the_plan_naming_them():
    a = upsert()
    plan = Plan("p1", (a,))
    with pytest.raises(KeyError) as info:
        plan.subset({a.id, "zz", "aa"})
    assert info.value.args[0] == f"action ids not in plan {plan.id}: aa, zz"


def test_plan_json():
    a = upsert()
    skip = Skip("mal", Ref.anchor("7"), None, SkipReason.STALE, "d")
    plan = Plan("p1", (a,), (skip,), ("too many deletes",))
    assert plan.to_json() == {
        "id": plan.id,
        "profile": "p1",
        "actions": [a.to_json()],
        "skipped": [skip.to_json()],
        "guards": ["too many deletes"],
    }
