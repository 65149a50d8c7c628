"""Explain a plan: a scannable text layout for people, JSON for scripts and the web.

The human layout is one block per action: the op and target id on its first line,
then one line per touched field (`progress 12 → 24`, `status — → active`) with that
field's own reason, cut to the terminal width rather than wrapped, so an 80-column
log stays readable and a wider terminal simply shows more of each reason. Dates read
as dates for DATE-precision fields (partial ones as `2020` / `2020-03`) and as
`YYYY-MM-DD HH:MM` in the profile's timezone otherwise. A summary line counts actions
by kind and skipped candidates by reason code (unchanged, pinned, regression,
not-writable, no-target, rule, guard, stale, conflict, deletes-off, imprecise);
`plan_json` keeps the full detail (ids, provenance, whole reasons).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from anibridge.bridge.codec import JSON, ref_id
from anibridge.bridge.model import Action, Plan, Skip, SkipReason, Snapshot
from anibridge.bridge.stores import Link
from anibridge.dates import as_utc, resolve_timezone
from anibridge.provider.base import (
    Progress,
    Rating,
    RecordField,
    Ref,
    State,
    WriteOp,
)
from anibridge.provider.precision import MonthDate, YearDate

__all__ = [
    "change_text",
    "op_label",
    "plan_counts",
    "plan_json",
    "plan_table",
    "skip_counts",
]

UNSET = "—"
_VALUE_WIDTH = 24
_TITLE_WIDTH = 36
_DATE_FIELDS = frozenset(
    {RecordField.STARTED_AT, RecordField.FINISHED_AT, RecordField.LAST_ACTIVITY_AT}
)
_LABELS = {
    RecordField.STARTED_AT: "started",
    RecordField.FINISHED_AT: "finished",
    RecordField.LAST_ACTIVITY_AT: "last activity",
    RecordField.REPEAT_COUNT: "rewatches",
}
_OP_STYLE = {"new": "green", "update": "yellow", "delete": "red"}
_ORDER = {f: i for i, f in enumerate(RecordField)}

# Per provider key, the date fields it stores at DATE precision.
type DateFields = Mapping[str, Iterable[RecordField]]


def skip_counts(plan: Plan) -> dict[str, int]:
    """Number of skipped candidates per reason code."""
    counts = Counter(s.reason.value for s in plan.skipped)
    return {r.value: counts[r.value] for r in SkipReason if counts[r.value]}


def plan_counts(plan: Plan) -> tuple[dict[str, int], int]:
    """The one set of counts the plan header, `plan --json` and run summaries show.

    Returns:
        Skipped candidates per reason code (every reason but ``unchanged``), and the
        number of entries in sync: distinct entries reported unchanged that no
        action writes and no skipped candidate holds back.
    """
    counts = skip_counts(plan)
    counts.pop(SkipReason.UNCHANGED.value, None)
    acted = {(a.provider, ref_id(a.ref)) for a in plan.actions}
    held = {
        (s.provider, ref_id(s.ref))
        for s in plan.skipped
        if s.reason is not SkipReason.UNCHANGED and s.provider
    }
    in_sync = {
        (s.provider, ref_id(s.ref))
        for s in plan.skipped
        if s.reason is SkipReason.UNCHANGED
    }
    return counts, len(in_sync - acted - held)


def plan_json(plan: Plan) -> dict[str, JSON]:
    """The plan as JSON, with skip counts (per reason, and the entries in sync)."""
    data = plan.to_json()
    skipped, in_sync = plan_counts(plan)
    data["counts"] = {
        "actions": len(plan.actions),
        "skipped": dict(skipped),
        "unchanged": in_sync,
    }
    return data


def op_label(action: Action) -> str:
    """What the action does, in a word or two (`new`, `update`, `delete`, …)."""
    if action.op is WriteOp.UPSERT_RECORD:
        return "new" if action.created else "update"
    if action.op is WriteOp.DELETE_RECORD:
        return "delete"
    what = action.kind or "event"
    return f"add {what}" if action.op is WriteOp.APPEND_EVENT else f"remove {what}"


def _target(ref: Ref) -> str:
    """The target id, with a part's path compacted (`p1 s2 e5`)."""
    if not ref.path:
        return ref.key
    steps = " ".join(f"{s.axis[:1]}{s.value}" for s in ref.path)
    return f"{ref.key} {steps}"


def display_titles(
    snapshots: Mapping[str, Snapshot], links: Iterable[Link] = ()
) -> dict[tuple[str, str], str]:
    """Titles people know entries by, keyed by (provider key, anchor key).

    An entry a run is about to create has no title on the target yet; it borrows the
    title of the source anchor it is linked to.
    """
    titles: dict[tuple[str, str], str] = {}
    for provider, snapshot in snapshots.items():
        for anchor, entry in snapshot.entries.items():
            if entry.node is not None and entry.node.title:
                titles[(provider, anchor)] = entry.node.title
    for link in links:
        shown = titles.get((link.source_provider, link.source_key))
        # `codec.ref_id` joins an anchor key and its path with "/".
        target = (link.target_provider, link.target_ref.split("/", 1)[0])
        if shown and target not in titles:
            titles[target] = shown
    return titles


def _cut(text: str, width: int = _VALUE_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _number(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _show_date(value: datetime, date_precision: bool | None, tz: tzinfo) -> str:
    if isinstance(value, YearDate | MonthDate):
        return value.period_text()  # "2020-03": never a padded day
    instant = as_utc(value)
    if date_precision is None:  # unknown: a calendar date is midnight UTC
        date_precision = instant.hour == instant.minute == instant.second == 0
    if date_precision:
        return instant.date().isoformat()
    return instant.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _show(
    f: RecordField, value: Any, *, date_precision: bool | None, tz: tzinfo
) -> str:
    if value is None:
        return UNSET
    if isinstance(value, State):
        return (value.status.value if value.status else None) or str(value.native)
    if isinstance(value, Progress):
        total = f"/{_number(value.total)}" if value.total else ""
        return _number(value.current) + total
    if isinstance(value, Rating):
        return f"{_number(value.value)}/{_number(value.scale[1])}"
    if isinstance(value, datetime):
        return _show_date(value, date_precision, tz)
    if isinstance(value, str):
        if f is RecordField.NOTES:  # quoted, so blanks and cuts stay visible
            return repr(_cut(value, _VALUE_WIDTH - 2))
        return _cut(value)
    return _cut(str(value))


def change_text(
    action: Action,
    f: RecordField,
    *,
    date_precision: bool | None = None,
    tz: tzinfo = UTC,
) -> str:
    """`before → after` of one field (`—` unset, `cleared` when removed)."""
    before = _show(f, action.before.get(f), date_precision=date_precision, tz=tz)
    if f in action.clear:
        return f"{before} → cleared"
    after = _show(f, action.after.get(f), date_precision=date_precision, tz=tz)
    return f"{before} → {after}"


def _field_reasons(reason: str) -> tuple[dict[str, str], list[str]]:
    """Split `status: why; progress: why` into per-field reasons and the rest."""
    known = {f.value for f in RecordField}
    per_field: dict[str, str] = {}
    rest: list[str] = []
    for part in (p.strip() for p in reason.split("; ")):
        name, sep, why = part.partition(": ")
        if sep and name in known and name not in per_field:
            per_field[name] = why
        elif part:
            rest.append(part)
    return per_field, rest


def _precision_of(
    provider: str, f: RecordField, date_fields: DateFields | None
) -> bool | None:
    if f not in _DATE_FIELDS or date_fields is None or provider not in date_fields:
        return None
    return f in set(date_fields[provider])


def _summary(plan: Plan, shown: int) -> Text:
    """`Plan ID (profile P): src → dst` and `N actions: 3 new, 1 update · skipped …`."""
    targets = sorted({a.provider for a in plan.actions})
    sources = sorted({a.source for a in plan.actions if a.source})
    line = Text()
    line.append(f"Plan {plan.id}", style="bold")
    line.append(f" (profile {plan.profile})")
    if targets:
        route = ", ".join(sources) + " → " if sources else "writes to "
        line.append(f": {route}{', '.join(targets)}")
    line.append("\n")
    total = len(plan.actions)
    ops = Counter(op_label(a) for a in plan.actions)
    line.append(f"{total} action{'' if total == 1 else 's'}", style="bold")
    if ops:
        line.append(": " + ", ".join(f"{n} {op}" for op, n in ops.most_common()))
    if shown < total:
        line.append(f" (first {shown} listed)")
    skipped = _skip_text(plan)
    if skipped:
        line.append(f" · skipped: {skipped}")
    return line


def _skip_text(plan: Plan) -> str:
    counts, in_sync = plan_counts(plan)
    parts = [f"{n} {reason}" for reason, n in counts.items()]
    if in_sync:
        parts.append(f"{in_sync} in sync")
    return ", ".join(parts)


def _dim(text: str) -> Text:
    """A reason cell: one line, cut with … at the column width."""
    return Text(" ".join(text.split()), style="dim", no_wrap=True, overflow="ellipsis")


def _widest(items: Iterable[Action | Skip], cap: int = 28) -> int:
    """Width that keeps target ids whole (up to `cap`; longer ones fold)."""
    return min(cap, max((len(_target(i.ref)) for i in items), default=6))


def _action_rows(
    action: Action, tz: tzinfo, date_fields: DateFields | None
) -> list[tuple[str, str, str]]:
    """(field, change, why) per touched field; reasons no field claims go first."""
    per_field, rest = _field_reasons(action.reason)
    touched = set(action.before) | set(action.after) | set(action.clear)
    rows: list[tuple[str, str, str]] = []
    for f in sorted(touched, key=_ORDER.__getitem__):
        precision = _precision_of(action.provider, f, date_fields)
        change = change_text(action, f, date_precision=precision, tz=tz)
        rows.append((_LABELS.get(f, f.value), change, per_field.pop(f.value, "")))
    if action.at is not None:
        rows.append(("at", _show_date(action.at, False, tz), ""))
    leftover = rest + [f"{k}: {v}" for k, v in per_field.items()]
    if not rows:
        rows.append(("", "", ""))
    if leftover:
        name, change, why = rows[0]
        rows[0] = (name, change, "; ".join([why, *leftover] if why else leftover))
    return rows


def _actions_table(
    actions: list[Action],
    tz: tzinfo,
    date_fields: DateFields | None,
    titles: Mapping[tuple[str, str], str],
) -> Table:
    several = len({a.provider for a in actions}) > 1
    width = _widest(actions)
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="dim")
    table.add_column("op", no_wrap=True)
    if several:
        table.add_column("to", no_wrap=True)
    table.add_column(
        "target", overflow="fold", min_width=width, max_width=max(width, _TITLE_WIDTH)
    )
    table.add_column("field", no_wrap=True)
    table.add_column("change", no_wrap=True, overflow="ellipsis", max_width=44)
    table.add_column("why", overflow="ellipsis", min_width=8)
    previous = 0
    for action in actions:
        label = op_label(action)
        head: list[Any] = [Text(label, style=_OP_STYLE.get(label, "cyan"))]
        if several:
            head.append(action.provider)
        head.append(Text(_target(action.ref), style="bold"))
        rows = _action_rows(action, tz, date_fields)
        title = titles.get((action.provider, action.ref.key))
        if title and len(rows) == 1:
            rows.append(("", "", ""))
        if previous and max(previous, len(rows)) > 1:
            table.add_row()  # a blank line groups multi-field actions
        previous = len(rows)
        blank = [""] * len(head)
        for i, (name, change, why) in enumerate(rows):
            cells = head if i == 0 else blank
            if i == 1 and title:
                shown = Text(title, style="dim", no_wrap=True, overflow="ellipsis")
                cells = [*blank[:-1], shown]
            table.add_row(*cells, name, change, _dim(why))
    return table


def _skipped_table(skipped: list[Skip]) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="dim")
    table.add_column("reason", no_wrap=True)
    table.add_column("target", overflow="fold", min_width=_widest(skipped))
    table.add_column("field", no_wrap=True)
    table.add_column("detail", overflow="ellipsis", min_width=8)
    for s in skipped:
        name = _LABELS.get(s.field, s.field.value) if s.field else ""
        table.add_row(s.reason.value, _target(s.ref), name, _dim(s.detail))
    return table


def plan_table(
    plan: Plan,
    *,
    show_skipped: bool = True,
    limit: int = 200,
    timezone: str | tzinfo | None = None,
    date_fields: DateFields | None = None,
    titles: Mapping[tuple[str, str], str] | None = None,
) -> Group:
    """A rich renderable of the plan: summary line, actions, then skipped ones.

    Args:
        plan: The plan to show.
        show_skipped: Also list skipped candidates (not the unchanged ones).
        limit: Most actions (and skipped candidates) listed; the summary counts all.
        timezone: IANA name or tzinfo for DATETIME values (default UTC).
        date_fields: Per provider key, its DATE-precision date fields; without it a
            value at exactly midnight UTC is taken for a calendar date.
        titles: Titles by (provider key, anchor key), shown under each target id
            (see `display_titles`).
    """
    tz = timezone if isinstance(timezone, tzinfo) else resolve_timezone(timezone)
    parts: list[Any] = []
    if plan.guards:
        parts.append(Text("REFUSED: " + "; ".join(plan.guards), style="bold red"))
    parts.append(_summary(plan, min(limit, len(plan.actions))))
    if plan.actions:
        parts.append(Text())
        parts.append(
            _actions_table(list(plan.actions[:limit]), tz, date_fields, titles or {})
        )
    if len(plan.actions) > limit:
        more = len(plan.actions) - limit
        parts.append(Text(f"… {more} more actions (see --json)", style="dim"))
    shown = [s for s in plan.skipped if s.reason is not SkipReason.UNCHANGED]
    if show_skipped and shown:
        parts.append(Text())
        parts.append(Text("Skipped", style="bold"))
        parts.append(_skipped_table(shown[:limit]))
        if len(shown) > limit:
            parts.append(Text(f"… {len(shown) - limit} more skipped", style="dim"))
    return Group(*parts)
