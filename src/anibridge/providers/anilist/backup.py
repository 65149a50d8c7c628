"""AniList backups as data: list entries -> a JSON document -> restore arguments.

A backup keeps every user field of an entry (status, raw 0-100 score, progress,
repeat, priority, private, notes, hidden-from-status-lists, custom lists, both dates)
so a restore through `SaveMediaListEntry` rebuilds the entry exactly; the score is
kept raw so it survives a change of the user's score format.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from anibridge.dates import utcnow
from anibridge.providers.anilist.vocabulary import STATUS_FROM_NATIVE

__all__ = ["BACKUP_FORMAT", "backup_document", "restore_arguments"]

BACKUP_FORMAT = "anibridge.anilist.backup"
_DATE_KEYS = ("year", "month", "day")
_INTS = ("scoreRaw", "progress", "repeat", "priority")
_BOOLS = ("private", "hiddenFromStatusLists")


def _date(value: Any) -> dict[str, int | None]:
    value = value if isinstance(value, Mapping) else {}
    return {k: value.get(k) for k in _DATE_KEYS}


def backup_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One `MediaList` entry (as the provider reads it) as a backup row."""
    custom = entry.get("customLists")
    return {
        "mediaId": int(entry["mediaId"]),
        "status": entry.get("status"),
        "scoreRaw": round(float(entry.get("rawScore") or 0)),
        "progress": int(entry.get("progress") or 0),
        "repeat": int(entry.get("repeat") or 0),
        "priority": int(entry.get("priority") or 0),
        "private": bool(entry.get("private")),
        "notes": entry.get("notes") or "",
        "hiddenFromStatusLists": bool(entry.get("hiddenFromStatusLists")),
        "customLists": sorted(k for k, on in custom.items() if on)
        if isinstance(custom, Mapping)
        else [],
        "startedAt": _date(entry.get("startedAt")),
        "completedAt": _date(entry.get("completedAt")),
        "updatedAt": entry.get("updatedAt"),
    }


def backup_document(
    entries: Iterable[Mapping[str, Any]],
    *,
    user_id: int | None,
    user_name: str | None,
    score_format: str,
) -> bytes:
    """The backup file's bytes (JSON, entries sorted by media id)."""
    rows = sorted((backup_row(e) for e in entries), key=lambda r: r["mediaId"])
    payload = {
        "format": BACKUP_FORMAT,
        "version": 1,
        "exported_at": utcnow().isoformat(),
        "user": {"id": user_id, "name": user_name},
        "scoreFormat": score_format,
        "entries": rows,
    }
    return json.dumps(payload, indent=1, sort_keys=True).encode()


def restore_arguments(payload: bytes) -> list[dict[str, Any]]:
    """`SaveMediaListEntry` arguments restoring every entry of a backup.

    Raises:
        ValueError: the payload is not an AniBridge AniList backup, or an entry is
            malformed (the message names the entry and the field).
    """
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise ValueError(f"anilist backup: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != BACKUP_FORMAT:
        raise ValueError(f"anilist backup: format is not {BACKUP_FORMAT!r}")
    rows = data.get("entries")
    if not isinstance(rows, list):
        raise ValueError("anilist backup: 'entries' must be a list")
    return [_arguments(n, row) for n, row in enumerate(rows)]


def _arguments(n: int, row: Any) -> dict[str, Any]:
    def bad(field: str) -> ValueError:
        value = row.get(field) if isinstance(row, dict) else row
        return ValueError(f"anilist backup: entries[{n}].{field} is invalid: {value!r}")

    if not isinstance(row, dict):
        raise ValueError(f"anilist backup: entries[{n}] is not an object")
    for name in ("mediaId", *_INTS):
        value = row.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad(name)
    if row.get("status") not in STATUS_FROM_NATIVE:
        raise bad("status")
    for name in _BOOLS:
        if not isinstance(row.get(name, False), bool):
            raise bad(name)
    if not isinstance(row.get("notes", ""), str | None):
        raise bad("notes")
    lists = row.get("customLists", [])
    if not isinstance(lists, list) or not all(isinstance(x, str) for x in lists):
        raise bad("customLists")
    args: dict[str, Any] = {
        "mediaId": row["mediaId"],
        "status": row["status"],
        **{name: row.get(name, 0) for name in _INTS},
        **{name: row.get(name, False) for name in _BOOLS},
        "notes": row.get("notes") or "",
        "customLists": lists,
    }
    for name in ("startedAt", "completedAt"):
        value = row.get(name)
        if value is not None and not isinstance(value, dict):
            raise bad(name)
        date = _date(value)
        if not all(v is None or (isinstance(v, int) and v > 0) for v in date.values()):
            raise bad(name)
        args[name] = date
    return args
