"""Kept plans: what an apply records on its plan, and how rows get their names."""

from __future__ import annotations

from anibridge.app.service.kept_plans import (
    KeptPlan,
    describe_skips,
    name_items,
    record_apply,
)


def plan(*ids: str) -> KeptPlan:
    return KeptPlan({"id": "p1", "actions": [{"id": i} for i in ids]}, "2026-12-07")


def test_an_apply_records_only_approved_outcomes_and_the_status_follows():
    kept = plan("a", "b", "c")
    # The run also journaled an unapproved id (never shown as this plan's outcome).
    record_apply(kept, [("a", "applied"), ("x", "applied")], ["a", "b"], ["b"], "r1")
    assert kept.outcomes == {"a": "applied", "b": "outdated"}
    assert (kept.status, kept.run_id) == ("partial", "r1")
    record_apply(kept, [("c", "failed")], ["c"], [], "r2")
    assert kept.outcomes["c"] == "failed"
    assert (kept.status, kept.run_id) == ("applied", "r2")  # every action tried


def test_an_apply_of_nothing_written_leaves_the_plan_pending():
    kept = plan("a")
    record_apply(kept, [], [], [], "r1")
    assert (kept.status, kept.outcomes) == ("pending", {})


def test_unmatched_skips_keep_the_other_sides_title_ids_and_choices():
    titles = {
        ("library", "naruto"): {
            "title": "Naruto",
            "ids": ["tvdb_show:78857"],
            "kind": "show",
            "seasons": [1, 2],
        }
    }
    skipped = [
        {"reason": "no-target", "provider": "list", "ref": {"key": "naruto"}},
        {"reason": "unchanged", "provider": "list", "ref": {"key": "naruto"}},
    ]
    describe_skips(skipped, titles, "library", "list")
    unmatched, other = skipped
    assert unmatched["origin"] == "library" and unmatched["title"] == "Naruto"
    assert unmatched["sources"] == ["tvdb_show:78857:s1", "tvdb_show:78857:s2"]
    assert "origin" not in other and "title" not in other


def test_rows_are_named_where_the_providers_said_and_keep_their_own_titles():
    titles = {
        ("list", "anilist:20"): {"title": "Naruto", "ids": ["anilist:20"]},
        ("list", "anilist:22"): {"title": "Yu Yu Hakusho"},
    }
    rows = [
        {"provider": "list", "ref": {"key": "anilist:20"}},
        {"provider": "list", "ref": {"key": "anilist:22"}, "title": "Kept"},
        {"provider": "list", "ref": {"key": "anilist:1"}},
    ]
    name_items(rows, titles)
    assert [r.get("title") for r in rows] == ["Naruto", "Kept", None]
    assert rows[0]["ids"] == ["anilist:20"]
