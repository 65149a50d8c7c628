"""Undone state per journal entry, filters and cursor pages (pure rules)."""

from __future__ import annotations

from anibridge.app.service.timeline import HistoryQuery, page_rows, undone_entries
from anibridge.bridge.stores import JournalEntry, RunRecord


def entry(run: str, action: str, *, undoes: str | None = None, outcome="applied"):
    return JournalEntry(
        run, action, "list", {"key": "a", "path": []}, "upsert_record",
        outcome=outcome, undoes=undoes,
    )  # fmt: skip


def run(run_id: str, **summary) -> RunRecord:
    return RunRecord(run_id, "p", "2026-01-01T00:00:00+00:00", summary=summary)


def test_an_undo_marks_the_run_it_names_even_when_the_id_repeats_later():
    rows = [
        (1, entry("r1", "x")),
        (2, entry("u1", "y", undoes="x")),
        (3, entry("r2", "x")),  # the same write again, after the undo
    ]
    runs = [run("r1"), run("u1", reverts="x", reverts_run="r1"), run("r2")]
    assert undone_entries(runs, rows) == {("r1", "x")}


def test_older_undo_runs_fall_back_to_the_run_or_the_latest_entry_before_them():
    rows = [
        (1, entry("r1", "x")),
        (2, entry("r1", "z")),
        (3, entry("u1", "y", undoes="x")),  # reverts: an action id (old runs)
        (4, entry("r2", "x")),
        (5, entry("u2", "w", undoes="z")),  # reverts: a run id
        (6, entry("u3", "v", undoes="x", outcome="failed")),  # reverted nothing
    ]
    runs = [run("r1"), run("u1", reverts="x"), run("r2"), run("u2", reverts="r1")]
    runs.append(run("u3", reverts="x"))
    assert undone_entries(runs, rows) == {("r1", "x"), ("r1", "z")}


def row(seq: int, **extra) -> dict:
    base = {
        "seq": seq, "outcome": "applied", "provider": "list", "run_id": "r",
        "created": False, "undoes": None, "after": {"status": 1}, "clear": [],
        "undone": False, "title": f"Title {seq}", "ref_id": f"anilist:{seq}",
        "reason": "",
    }  # fmt: skip
    return {**base, **extra}


def test_pages_follow_the_cursor_and_filters_apply_before_paging():
    rows = [row(i, created=i % 2 == 0) for i in range(1, 12)]
    query = HistoryQuery(change="new", limit=2)
    first, cursor = page_rows(rows, query)
    assert [r["seq"] for r in first] == [10, 8]
    second, cursor = page_rows(rows, HistoryQuery(change="new", limit=2, cursor=cursor))
    assert [r["seq"] for r in second] == [6, 4]
    last, cursor = page_rows(rows, HistoryQuery(change="new", limit=2, cursor=cursor))
    assert ([r["seq"] for r in last], cursor) == ([2], None)


def test_filters_by_field_change_text_and_undone():
    rows = [
        row(1, after={"progress": 3}, title="Naruto"),
        row(2, after={"status": 1}, undone=True, title="One Piece"),
        row(3, clear=["rating"], title="Yu Yu Hakusho", undoes="q"),
    ]
    pick = lambda **q: [r["seq"] for r in page_rows(rows, HistoryQuery(**q))[0]]  # noqa: E731
    assert pick(field="progress") == [1]
    assert pick(field="rating") == [3]
    assert pick(outcome="undone") == [2]
    assert pick(change="update") == [2, 1]  # an undo row is neither new nor update
    assert pick(text="one PIECE") == [2]
    assert pick(text="anilist:3") == [3]


def test_relative_times_read_like_speech():
    from datetime import UTC, datetime

    from anibridge.app.web.render import relative_time

    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    said = {
        "2026-05-01T11:59:30+00:00": "just now",
        "2026-05-01T11:57:00+00:00": "3 min ago",
        "2026-05-01T09:00:00+00:00": "3 h ago",
        "2026-04-30T12:00:00+00:00": "1 day ago",
        "2026-04-20T12:00:00+00:00": "11 days ago",
        "2026-01-01T12:00:00+00:00": "4 months ago",
        "2024-05-01T12:00:00+00:00": "2 years ago",
        "2026-05-01T12:10:00+00:00": "in 10 min",
        "2026-05-01T11:57:00": "3 min ago",  # naive = UTC
    }
    assert {k: relative_time(k, now) for k in said} == said
