# ruff: noqa: RUF001
"""Reading a kept plan: applied state, filters, pages, unmatched rows, overrides."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from anibridge.app.service.overrides import (
    EXAMPLE,
    add_override,
    has_entries,
    readable_pair,
)
from anibridge.app.service.plan_view import (
    PlanQuery,
    SkipQuery,
    page_actions,
    page_skips,
    plan_status,
    rest_of,
    source_choices,
    unmatched_rows,
)
from anibridge.mappings import load_index


def action(i: int, **extra) -> dict:
    base = {"id": f"a{i}", "provider": "list", "ref": {"key": f"anilist:{i}"},
            "after": {"status": 1}, "clear": [], "created": False, "title": f"T{i}",
            "reason": "", "outcome": None}  # fmt: skip
    return {**base, **extra}


def test_status_and_rest_follow_the_outcomes():
    actions = [action(1), action(2), action(3)]
    assert plan_status(actions, {}) == "pending"
    assert plan_status(actions, {"a1": "applied"}) == "partial"
    outcomes = {"a1": "applied", "a2": "failed", "a3": "outdated"}
    assert plan_status(actions, outcomes) == "applied"  # every action tried
    assert rest_of(actions, outcomes) == ["a2", "a3"]  # not landed: still to do


def test_action_pages_follow_the_cursor_after_filters():
    actions = [action(i, created=i % 3 == 0) for i in range(1, 10)]
    page, cursor, total = page_actions(actions, PlanQuery(change="update", limit=4))
    assert ([a["id"] for a in page], cursor, total) == (
        ["a1", "a2", "a4", "a5"],
        "a5",
        6,
    )
    page, cursor, _ = page_actions(
        actions, PlanQuery(change="update", after="a5", limit=4)
    )
    assert ([a["id"] for a in page], cursor) == (["a7", "a8"], None)
    done = [action(1, outcome="applied"), action(2)]
    assert [a["id"] for a in page_actions(done, PlanQuery(state="open"))[0]] == ["a2"]
    assert [a["id"] for a in page_actions(done, PlanQuery(text="t1"))[0]] == ["a1"]


def test_unmatched_rows_come_first_once_per_entry_without_in_sync_ones():
    skips = [
        {"provider": "l", "ref": {"key": "b"}, "field": "rating", "reason": "pinned"},
        {"provider": "l", "ref": {"key": "b"}, "field": "notes", "reason": "pinned"},
        {"provider": "l", "ref": {"key": "c"}, "field": None, "reason": "unchanged"},
        {"provider": "l", "ref": {"key": "z"}, "field": None, "reason": "no-target",
         "title": "Zeta", "ids": ["tvdb_show:9"]},
    ]  # fmt: skip
    rows = unmatched_rows(skips)
    assert [(r["ref"]["key"], r["reason"], r["fields"]) for r in rows] == [
        ("z", "no-target", []),
        ("b", "pinned", ["rating", "notes"]),
    ]
    assert [r["ref"]["key"] for r in page_skips(rows, SkipQuery(text="zeta"))[0]] == [
        "z"
    ]
    assert [
        r["ref"]["key"] for r in page_skips(rows, SkipQuery(text="tvdb_show:9"))[0]
    ] == ["z"]
    assert page_skips(rows, SkipQuery(reason="pinned"))[2] == 1


def test_source_choices_scope_shows_by_season():
    assert source_choices(["tvdb_show:1", "anidb:5"], [1, 2]) == [
        "tvdb_show:1:s1", "tvdb_show:1:s2", "anidb:5",
    ]  # fmt: skip
    assert source_choices(["tvdb_show:1", "tvdb_show:1:s1"], []) == ["tvdb_show:1:s1"]
    assert source_choices(["tmdb_movie:7"], []) == ["tmdb_movie:7"]


def test_add_override_keeps_comments_and_other_targets(tmp_path):
    text = "# mine\ntvdb_show:1:s1:\n  mal:3:\n    '1-': '1-'  # keep\n"
    out = add_override(text, "tvdb_show:1:s1", "anilist:2", "1-12", "1-12")
    assert "# mine" in out and "# keep" in out and "mal:3:" in out
    out = add_override(out, "tvdb_show:9:s1", "anilist:4", note="Show 9: fixed")
    assert "# Show 9: fixed\ntvdb_show:9:s1:" in out
    path = tmp_path / "custom.yaml"
    path.write_text(out)
    index = load_index([str(path)], include_default=False, notice=None)
    from anibridge.provider.base import ExternalId

    targets = {str(e.target) for e in index.edges(ExternalId("tvdb_show", "1", "s1"))}
    assert {"anilist:2", "mal:3"} <= targets
    with pytest.raises(ValueError):
        add_override("- a list\n", "x:1", "y:2")


def test_the_example_is_only_comments_and_its_commented_blocks_load(tmp_path):
    assert not has_entries(EXAMPLE)
    assert has_entries(EXAMPLE + "x:1:\n")
    # Uncommented, the example is a valid overrides file.
    body = "\n".join(line[2:] for line in EXAMPLE.splitlines() if line.startswith("# "))
    start = body.index("tvdb_show:79414:s1:")
    path = tmp_path / "custom.yaml"
    path.write_text(body[start:])
    index = load_index([str(path)], include_default=False, notice=None)
    from anibridge.provider.base import ExternalId

    assert [
        str(e.target) for e in index.edges(ExternalId("tvdb_show", "79414", "s1"))
    ] == ["anilist:849"]


@dataclass
class Pair:
    source_start: int
    source_end: int | None
    target: tuple[tuple[int, int | None], ...]
    ratio: int | None = None


def test_ranges_read_like_episodes():
    show, anime = "tvdb_show:81797:s1", "anilist:21"
    assert readable_pair(show, anime, Pair(1, 12, ((1, 12),))) == "S1 E1–12 → E1–12"
    assert readable_pair(anime, show, Pair(13, None, ((1, None),))) == "E13+ → S1 E1+"
    assert readable_pair("tvdb_show:1:s0", anime, Pair(3, 3, ((1, 1),))) == (
        "Specials E3 → E1"
    )
    assert readable_pair(anime, "tmdb_movie:9", Pair(1, 3, ((1, 1),), 3)) == (
        "E1–3 → E1 (3 episodes → 1)"
    )
    assert readable_pair(anime, show, Pair(1, 2, ((1, 4),), -2)).endswith(
        "(1 episode → 2)"
    )
    assert readable_pair(anime, show, Pair(1, 2, ((1, 2),), 0)).endswith("(disabled)")
