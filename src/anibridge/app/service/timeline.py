"""The timeline's view of the journal: undone state per entry, filters, pages.

Pure functions over journal rows (no store, no I/O), so the rules are tested
directly. A journal entry is identified by (run id, action id): action ids are
stable (the same write on the same state has the same id), so after an undo and a
re-sync the same id appears in a second run, and only the entry an undo reverted is
"undone".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from anibridge.bridge.stores import JournalEntry, RunRecord

__all__ = ["HistoryQuery", "page_rows", "undone_entries"]

EntryKey = tuple[str, str]  # (run id, action id)


def undone_entries(
    runs: Iterable[RunRecord], rows: Sequence[tuple[int, JournalEntry]]
) -> set[EntryKey]:
    """Journal entries an applied undo reverted, as (run id, action id).

    An undo run names the run it reverted (``summary.reverts_run``; older undo
    runs name a run id or an action id under ``reverts``). Without a run, the undo
    reverted the latest entry of that action id written before it (what
    `bridge.sync.undo_run` picks for an action).

    Args:
        runs: The profile's runs (undo runs are looked up by id).
        rows: The profile's journal as (seq, entry), in any order.
    """
    by_id = {r.id: r for r in runs}
    latest: dict[str, str] = {}  # action id -> run id of its latest plain entry
    undone: set[EntryKey] = set()
    for _seq, e in sorted(rows, key=lambda row: row[0]):
        if e.undoes is None:
            latest[e.action_id] = e.run_id
            continue
        if e.outcome != "applied":
            continue
        run = by_id.get(e.run_id)
        summary: Mapping[str, Any] = run.summary if run is not None else {}
        target = summary.get("reverts_run")
        if not target:
            reverts = summary.get("reverts")
            target = reverts if reverts in by_id else latest.get(e.undoes)
        if target:
            undone.add((str(target), e.undoes))
    return undone


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """What the timeline asks for: filters, and the page after a cursor.

    Attributes:
        outcome: ``applied``, ``failed``… or ``undone``.
        provider: Provider key written to.
        run_id: One run.
        text: Words in the title, entry id or reason.
        change: ``new`` (the write created the entry) or ``update``.
        field: A record field the entry wrote or cleared.
        cursor: Show entries older than this position (a journal seq).
        limit: Rows per page.
    """

    outcome: str | None = None
    provider: str | None = None
    run_id: str | None = None
    text: str | None = None
    change: str | None = None
    field: str | None = None
    cursor: int | None = None
    limit: int = 50

    def wants(self, row: Mapping[str, Any]) -> bool:
        """Whether a display row passes every filter."""
        if self.outcome == "undone":
            if not row["undone"]:
                return False
        elif self.outcome and row["outcome"] != self.outcome:
            return False
        if self.provider and row["provider"] != self.provider:
            return False
        if self.run_id and row["run_id"] != self.run_id:
            return False
        if self.change == "new" and not row["created"]:
            return False
        if self.change == "update" and (row["created"] or row["undoes"]):
            return False
        if self.field and self.field not in {*row["after"], *row["clear"]}:
            return False
        if self.text:
            hay = " ".join(
                str(row.get(k) or "")
                for k in ("title", "ref_id", "reason", "ref_label")
            ).lower()
            if not all(word in hay for word in self.text.lower().split()):
                return False
        return True


def page_rows(
    rows: Iterable[dict[str, Any]], query: HistoryQuery
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of `rows` (newest first, each with its ``seq``) and the next cursor.

    The cursor is the last shown row's seq: the next page starts below it, so rows
    written meanwhile never shift a page (unlike an offset).
    """
    page: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda r: r["seq"], reverse=True):
        if query.cursor is not None and row["seq"] >= query.cursor:
            continue
        if not query.wants(row):
            continue
        if len(page) == query.limit:
            return page, page[-1]["seq"]
        page.append(row)
    return page, None
