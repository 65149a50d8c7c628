"""Reviewing a kept plan: which actions are applied, filters, pages, left-alone items.

Pure functions over a plan's JSON (`bridge.explain.plan_json` plus what the app
adds: per-action ``outcome`` once applied, ``title``/``ids`` for display), so the
web and the API read a plan the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PlanQuery",
    "SkipQuery",
    "page_actions",
    "page_skips",
    "plan_status",
    "rest_of",
    "source_choices",
    "unmatched_rows",
]

UNMATCHED = "no-target"  # a source entry the mappings could not place on the target
SEASONED = ("tvdb_show", "tmdb_show", "imdb_show")  # ids the dataset scopes by season


def source_choices(ids: Iterable[str], seasons: Iterable[int]) -> list[str]:
    """The ids an override for an entry can start from, season-scoped for shows.

    The dataset maps seasons (``tvdb_show:79414:s1``), so a show's unscoped id
    becomes one choice per season it has; ids already scoped stay as they are.
    """
    ids = list(ids)
    seasons = list(seasons)
    out: list[str] = []
    for descriptor in ids:
        parts = descriptor.split(":")
        if len(parts) == 2 and parts[0] in SEASONED and seasons:
            wanted = [f"{descriptor}:s{n}" for n in seasons]
        elif (
            len(parts) == 2
            and parts[0] in SEASONED
            and any(i.startswith(descriptor + ":") for i in ids)
        ):
            wanted = []  # its scoped forms are listed
        else:
            wanted = [descriptor]
        out.extend(w for w in wanted if w not in out)
    return out


def plan_status(
    actions: Sequence[Mapping[str, Any]], outcomes: Mapping[str, str]
) -> str:
    """``pending`` (none applied), ``partial`` or ``applied`` (every action tried)."""
    if not outcomes:
        return "pending"
    if all(a["id"] in outcomes for a in actions):
        return "applied"
    return "partial"


def rest_of(
    actions: Iterable[Mapping[str, Any]], outcomes: Mapping[str, str]
) -> list[str]:
    """Ids still to apply: never tried, or tried without landing (failed, outdated)."""
    return [a["id"] for a in actions if outcomes.get(a["id"]) != "applied"]


@dataclass(frozen=True, slots=True)
class PlanQuery:
    """Filters and the page of a plan's actions.

    Attributes:
        change: ``new`` (creates the entry) or ``update``.
        field: A field the action writes or clears.
        provider: Provider key written to.
        text: Words in the title, entry id or reason.
        state: ``applied`` or ``open`` (not applied yet).
        after: Show the actions after this action id (the cursor).
        limit: Actions per page.
    """

    change: str | None = None
    field: str | None = None
    provider: str | None = None
    text: str | None = None
    state: str | None = None
    after: str | None = None
    limit: int = 100

    def wants(self, action: Mapping[str, Any]) -> bool:
        """Whether an action passes every filter."""
        if self.change == "new" and not action.get("created"):
            return False
        if self.change == "update" and action.get("created"):
            return False
        if self.field and self.field not in {*action["after"], *action["clear"]}:
            return False
        if self.provider and action["provider"] != self.provider:
            return False
        applied = action.get("outcome") == "applied"
        if self.state == "applied" and not applied:
            return False
        if self.state == "open" and applied:
            return False
        return _has_words(action, self.text)


def _has_words(item: Mapping[str, Any], text: str | None) -> bool:
    if not text:
        return True
    hay = " ".join(
        str(item.get(k) or "")
        for k in ("title", "ref_label", "ref_id", "reason", "detail")
    )
    hay += " " + str(item["ref"]["key"]) + " " + " ".join(item.get("ids") or ())
    return all(word in hay.lower() for word in text.lower().split())


def _page[T: Mapping[str, Any]](
    items: Iterable[T], key: str, after: str | None, limit: int
) -> tuple[list[T], str | None, int]:
    """Items after the cursor, the next cursor, and how many matched in all."""
    page: list[T] = []
    total = 0
    started = after is None
    cursor = None
    for item in items:
        total += 1
        if not started:
            started = item[key] == after
            continue
        if len(page) < limit:
            page.append(item)
        elif cursor is None:
            cursor = page[-1][key]
    return page, cursor, total


def page_actions(
    actions: Iterable[Mapping[str, Any]], query: PlanQuery
) -> tuple[list[Mapping[str, Any]], str | None, int]:
    """One page of matching actions (plan order), the next cursor and the total."""
    return _page((a for a in actions if query.wants(a)), "id", query.after, query.limit)


@dataclass(frozen=True, slots=True)
class SkipQuery:
    """Filters and the page of a plan's left-alone candidates.

    Attributes:
        reason: A skip reason (``no-target`` = unmatched).
        text: Words in the title, entry id, ids or detail.
        after: Show the rows after this row key (the cursor).
        limit: Rows per page.
    """

    reason: str | None = None
    text: str | None = None
    after: str | None = None
    limit: int = 100


def unmatched_rows(skipped: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Left-alone candidates worth a person's look, unmatched first, each with a key.

    ``unchanged`` (already in sync) is not a problem and is left out; one row per
    entry and reason (a field-level skip repeats per field: their fields are joined).
    """
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for skip in skipped:
        if skip["reason"] == "unchanged":
            continue
        key = (skip["provider"], skip["ref"]["key"], skip["reason"])
        row = rows.get(key)
        if row is None:
            row = rows[key] = {**skip, "fields": [], "key": "|".join(key)}
        if skip.get("field") and skip["field"] not in row["fields"]:
            row["fields"].append(skip["field"])
    return sorted(
        rows.values(),
        key=lambda r: (
            r["reason"] != UNMATCHED,
            r["reason"],
            str(r.get("title") or r["ref"]["key"]).lower(),
        ),
    )


def page_skips(
    rows: Iterable[Mapping[str, Any]], query: SkipQuery
) -> tuple[list[Mapping[str, Any]], str | None, int]:
    """One page of `unmatched_rows` that match, the next cursor and the total."""
    wanted = (
        r
        for r in rows
        if (not query.reason or r["reason"] == query.reason)
        and _has_words(r, query.text)
    )
    return _page(wanted, "key", query.after, query.limit)
