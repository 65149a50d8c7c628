"""Render a local file's state as the human-editable document.

The output is deterministic (anchors by key, parts by coordinate, plays by time) so
two exports of the same state are byte-identical and diffs between them are readable.
"""

from __future__ import annotations

from typing import Any

from anibridge.providers.local.database import (
    EventRow,
    LocalDatabase,
    NodeRow,
    RecordRow,
)
from anibridge.providers.local.document import FORMAT_MARKER, default_season_ids
from anibridge.providers.local.settings import LocalSettings

__all__ = ["render_document"]

_FIELD_ORDER = (
    "status",
    "progress",
    "rating",
    "started_at",
    "finished_at",
    "last_activity_at",
    "repeat_count",
    "notes",
)


def _record(row: RecordRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out: dict[str, Any] = {k: row.fields[k] for k in _FIELD_ORDER if k in row.fields}
    out["updated_at"] = row.updated_at
    out["revision"] = row.revision
    return out


def _plays(rows: list[EventRow]) -> list[Any]:
    return [{"at": e.at, "metadata": e.metadata} if e.metadata else e.at for e in rows]


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value not in (None, [], {}):
        target[key] = value


def render_document(
    db: LocalDatabase, settings: LocalSettings, account: dict[str, str]
) -> dict[str, Any]:
    """The whole file as a document (see `docs/local-format.md`)."""
    nodes_by_key: dict[str, list[NodeRow]] = {}
    for node in db.all_nodes():
        nodes_by_key.setdefault(node.key, []).append(node)
    records: dict[tuple[str, str], RecordRow] = {}
    for rec in db.all_records():
        records[(rec.key, repr(rec.path))] = rec
    events: dict[tuple[str, str], list[EventRow]] = {}
    for ev in db.all_events():
        events.setdefault((ev.key, repr(ev.path)), []).append(ev)

    def rec_at(node: NodeRow) -> dict[str, Any] | None:
        return _record(records.get((node.key, repr(node.path))))

    def plays_at(node: NodeRow) -> list[Any]:
        return _plays(events.get((node.key, repr(node.path)), []))

    items: list[dict[str, Any]] = []
    for key in sorted(nodes_by_key):
        group = nodes_by_key[key]
        anchor = next((n for n in group if not n.path), None)
        if anchor is None:
            continue
        item: dict[str, Any] = {"key": key, "kind": anchor.kind}
        _put(item, "title", anchor.title)
        _put(item, "ids", list(anchor.ids))
        _put(item, "metadata", anchor.metadata)
        if anchor.kind in ("series", "film") and anchor.extent is not None:
            item["episodes"] = anchor.extent
        _put(item, "record", rec_at(anchor))
        _put(item, "plays", plays_at(anchor))
        if anchor.kind == "show":
            seasons: list[dict[str, Any]] = []
            for season in (n for n in group if len(n.path) == 1):
                number = season.path[0].value
                entry: dict[str, Any] = {"season": number}
                _put(entry, "title", season.title)
                if season.ids != default_season_ids(anchor.ids, int(number)):
                    entry["ids"] = list(season.ids)
                _put(entry, "record", rec_at(season))
                episodes = []
                for ep in (
                    n for n in group if len(n.path) == 2 and n.path[0].value == number
                ):
                    ep_entry: dict[str, Any] = {"episode": ep.path[1].value}
                    _put(ep_entry, "title", ep.title)
                    _put(ep_entry, "record", rec_at(ep))
                    _put(ep_entry, "plays", plays_at(ep))
                    episodes.append(ep_entry)
                _put(entry, "episodes", episodes)
                seasons.append(entry)
            _put(item, "seasons", seasons)
        items.append(item)
    document: dict[str, Any] = {FORMAT_MARKER: 1}
    if account:
        document["account"] = dict(account)
    document["rating_scale"] = [_num(v) for v in settings.rating_scale]
    document["date_precision"] = settings.date_precision.value
    document["items"] = items
    return document


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
