"""The human plan layout: one block per action, per-field changes, fits 80 columns."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rich.console import Console

from anibridge.bridge.explain import change_text, op_label, plan_json, plan_table
from anibridge.bridge.model import Action, Plan, Skip, SkipReason
from anibridge.provider.base import (
    Progress,
    Rating,
    RecordField,
    Ref,
    State,
    Status,
    Step,
    WriteOp,
)

F = RecordField


def _plan() -> Plan:
    new = Action(
        "list",
        WriteOp.UPSERT_RECORD,
        Ref("anilist:21"),
        after={
            F.STATUS: State("watching", Status.ACTIVE),
            F.PROGRESS: Progress(24, 1100),
            F.STARTED_AT: datetime(2023, 12, 25, tzinfo=UTC),
            F.LAST_ACTIVITY_AT: datetime(2024, 1, 2, 23, 30, tzinfo=UTC),
        },
        reason=(
            "status: episodes consumed, not finished yet, and a rather long "
            "explanation that cannot fit; progress: consumed episodes: 24 of 1100; "
            "started_at: first activity; last_activity_at: latest activity"
        ),
        source="plex",
        created=True,
    )
    update = Action(
        "list",
        WriteOp.UPSERT_RECORD,
        Ref("anilist:20"),
        before={F.PROGRESS: Progress(12), F.RATING: Rating(7, (0, 10, 1))},
        after={F.PROGRESS: Progress(24)},
        clear=frozenset({F.RATING}),
        reason="progress: consumed episodes: 24 of 220",
        source="plex",
    )
    play = Action(
        "list",
        WriteOp.APPEND_EVENT,
        Ref("p1", (Step("season", 2), Step("episode", 5))),
        kind="play",
        at=datetime(2024, 3, 1, 20, 0, tzinfo=UTC),
        reason="play of s2e5",
        source="plex",
    )
    skipped = (
        Skip("list", Ref("anilist:269"), F.PROGRESS, SkipReason.REGRESSION, "back"),
        Skip("list", Ref("anilist:1"), F.STATUS, SkipReason.UNCHANGED),
        Skip("list", Ref("anilist:2"), F.STATUS, SkipReason.UNCHANGED),
    )
    return Plan("demo", (new, update, play), skipped)


def _render(plan: Plan, width: int, **kwargs) -> list[str]:
    console = Console(record=True, width=width, force_terminal=False)
    console.print(plan_table(plan, **kwargs))
    return console.export_text().splitlines()


def test_layout_fits_80_columns_one_block_per_action():
    lines = _render(_plan(), 80, timezone="Europe/Berlin")
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    assert lines[0].startswith("Plan ") and "plex → list" in lines[0]
    assert "3 actions: 1 new, 1 update, 1 add play" in lines[1]
    assert "skipped: 1 regression, 2 in sync" in lines[1]
    # each target id once, on its action's first row, next to the op
    (row,) = [line for line in lines if "anilist:21" in line]
    assert row.split()[:4] == ["new", "anilist:21", "status", "—"]
    assert "→ active" in row
    assert text.count("anilist:20") == 1
    # per-field changes, compact
    (row,) = [line for line in lines if "anilist:20" in line]
    assert row.split()[:5] == ["update", "anilist:20", "progress", "12", "→"]
    assert "rating" in text and "7/10 → cleared" in text
    assert "— → 24/1100" in text
    # a DATE value (midnight UTC) reads as a date; an instant in the profile's zone
    assert "— → 2023-12-25 " in text and "2023-12-25T" not in text
    assert "— → 2024-01-03 00:30" in text  # 23:30 UTC is 00:30 in Berlin
    # a part's path is compact; an event shows when
    assert "p1 s2 e5" in text and "2024-03-01 21:00" in text
    # long reasons are cut at the width, not wrapped onto more lines
    assert "…" in text
    assert len([line for line in lines if "started" in line]) == 1


def test_wider_terminal_shows_whole_reasons():
    text = "\n".join(_render(_plan(), 200))
    assert "explanation that cannot fit" in text
    assert "consumed episodes: 24 of 220" in text
    assert "— → 2024-01-02 23:30" in text  # UTC by default


def test_skipped_listed_without_unchanged_and_date_precision_is_explicit():
    plan = _plan()
    text = "\n".join(
        _render(plan, 100, date_fields={"list": {F.STARTED_AT, F.LAST_ACTIVITY_AT}})
    )
    assert "Skipped" in text and "regression" in text and "anilist:269" in text
    assert "anilist:1 " not in text  # unchanged candidates are only counted
    assert "— → 2024-01-02 " in text and "23:30" not in text  # DATE precision
    short = "\n".join(_render(plan, 100, show_skipped=False))
    assert "Skipped\n" not in short and "anilist:269" not in short


def test_limit_counts_everything_and_says_what_is_hidden():
    lines = _render(_plan(), 80, limit=1)
    text = "\n".join(lines)
    assert "(first 1 listed)" in text and "… 2 more actions" in text
    assert "anilist:20" not in text


def test_guard_refusal_comes_first():
    plan = Plan("demo", _plan().actions, guards=("would delete 50% of entries",))
    assert _render(plan, 80)[0].startswith("REFUSED: would delete 50%")


def test_op_labels_and_change_text():
    new, update, play = _plan().actions
    assert [op_label(a) for a in (new, update, play)] == ["new", "update", "add play"]
    delete = Action("list", WriteOp.DELETE_RECORD, Ref("anilist:5"))
    assert op_label(delete) == "delete"
    assert change_text(update, F.PROGRESS) == "12 → 24"
    assert change_text(update, F.RATING) == "7/10 → cleared"
    assert change_text(new, F.STATUS) == "— → active"
    assert "delete" in "\n".join(_render(Plan("p", (delete,)), 80))


def test_json_is_the_full_plan_untouched_by_the_layout():
    plan = _plan()
    data = json.loads(json.dumps(plan_json(plan)))
    assert data["actions"] == [a.to_json() for a in plan.actions]
    # the one set of counts: skipped per reason (not "unchanged") and the entries
    # in sync, as the plan header and the run summary show them
    assert data["counts"] == {
        "actions": 3,
        "skipped": {"regression": 1},
        "unchanged": 2,
    }
    assert data["actions"][0]["after"]["started_at"] == "2023-12-25T00:00:00+00:00"


def test_two_way_plan_names_the_provider_and_quotes_cut_notes():
    to_list = Action(
        "list",
        WriteOp.UPSERT_RECORD,
        Ref("anilist:1"),
        before={F.NOTES: "old"},
        after={F.NOTES: "a very long note that goes on and on about the show"},
        reason="notes: newer on plex",
    )
    to_plex = Action(
        "plex",
        WriteOp.UPSERT_RECORD,
        Ref("p9"),
        after={F.REPEAT_COUNT: 2},
        reason="repeat_count: newer on list",
    )
    lines = _render(Plan("two", (to_list, to_plex)), 100)
    header = next(line for line in lines if line.startswith("op"))
    assert header.split()[:3] == ["op", "to", "target"]
    (row,) = [line for line in lines if "anilist:1" in line]
    assert row.split()[:4] == ["update", "list", "anilist:1", "notes"]
    assert "'old' → 'a very long note that…'" in row
    assert "writes to list, plex" in lines[0]
    (row,) = [line for line in lines if "p9" in line]
    assert "rewatches" in row and "— → 2" in row and "newer on list" in row


def test_titles_show_under_target_ids_and_created_entries_borrow_the_source_title():
    from anibridge.bridge.explain import display_titles
    from anibridge.bridge.model import Entry, Snapshot
    from anibridge.bridge.stores import Link
    from anibridge.provider.base import Capabilities, Node

    library = Snapshot("plex", Capabilities())
    library.entries["show-1"] = Entry(
        "show-1", node=Node(Ref("show-1"), "show", title="One Piece")
    )
    links = [
        Link(
            "p", "plex", "show-1", "tvdb_show:81797:s1", "list", "anilist:21", "mapping"
        )
    ]
    titles = display_titles(
        {"plex": library, "list": Snapshot("list", Capabilities())}, links
    )
    assert titles == {
        ("plex", "show-1"): "One Piece",
        ("list", "anilist:21"): "One Piece",
    }

    console = Console(width=80, record=True, color_system=None)
    console.print(plan_table(_plan(), titles=titles))
    lines = console.export_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "anilist:21" in line)
    assert "One Piece" in lines[at + 1]
    assert all(len(line.rstrip()) <= 80 for line in lines)
    # Without titles the layout is unchanged: no title line appears.
    plain = Console(width=80, record=True, color_system=None)
    plain.print(plan_table(_plan()))
    assert "One Piece" not in plain.export_text()
