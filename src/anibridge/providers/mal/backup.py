"""MAL backups as data: list statuses -> a JSON document -> restore forms.

A backup keeps every `list_status` member MAL returns (status, is_rewatching, score,
episodes, rewatch count and value, priority, tags, comments, dates). A restore
sends them back with the write names (``num_watched_episodes``). Dates a current
entry has but the backup lacks cannot be removed: MAL's API cannot clear dates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from anibridge.dates import utcnow

__all__ = ["BACKUP_FORMAT", "backup_document", "restore_forms"]

BACKUP_FORMAT = "anibridge.mal.backup"
_STATUSES = ("watching", "completed", "on_hold", "dropped", "plan_to_watch")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
#: Backup (read) name -> form (write) name, for the numeric members.
_NUMBERS = {
    "score": "score",
    "num_episodes_watched": "num_watched_episodes",
    "num_times_rewatched": "num_times_rewatched",
    "priority": "priority",
    "rewatch_value": "rewatch_value",
}


def backup_document(
    rows: Iterable[Mapping[str, Any]], *, user_name: str | None
) -> bytes:
    """The backup file's bytes from animelist rows (``node`` + ``list_status``)."""
    entries = sorted(
        (
            {"anime_id": int(row["node"]["id"]), **(row.get("list_status") or {})}
            for row in rows
        ),
        key=lambda e: e["anime_id"],
    )
    payload = {
        "format": BACKUP_FORMAT,
        "version": 1,
        "exported_at": utcnow().isoformat(),
        "user": user_name,
        "entries": entries,
    }
    return json.dumps(payload, indent=1, sort_keys=True).encode()


def restore_forms(payload: bytes) -> list[tuple[int, dict[str, str]]]:
    """``(anime_id, PATCH form)`` restoring every entry of a backup.

    Raises:
        ValueError: the payload is not an AniBridge MAL backup, or an entry is
            malformed (the message names the entry and the field).
    """
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise ValueError(f"mal backup: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != BACKUP_FORMAT:
        raise ValueError(f"mal backup: format is not {BACKUP_FORMAT!r}")
    rows = data.get("entries")
    if not isinstance(rows, list):
        raise ValueError("mal backup: 'entries' must be a list")
    return [_form(n, row) for n, row in enumerate(rows)]


def _form(n: int, row: Any) -> tuple[int, dict[str, str]]:
    if not isinstance(row, dict):
        raise ValueError(f"mal backup: entries[{n}] is not an object")

    def bad(field: str) -> ValueError:
        return ValueError(
            f"mal backup: entries[{n}].{field} is invalid: {row.get(field)!r}"
        )

    anime_id = row.get("anime_id")
    if isinstance(anime_id, bool) or not isinstance(anime_id, int) or anime_id < 1:
        raise bad("anime_id")
    if row.get("status") not in _STATUSES:
        raise bad("status")
    if not isinstance(row.get("is_rewatching", False), bool):
        raise bad("is_rewatching")
    form = {
        "status": row["status"],
        "is_rewatching": "true" if row.get("is_rewatching") else "false",
    }
    for name, write_name in _NUMBERS.items():
        value = row.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad(name)
        form[write_name] = str(value)
    tags = row.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise bad("tags")
    form["tags"] = ",".join(tags)
    comments = row.get("comments", "")
    if not isinstance(comments, str):
        raise bad("comments")
    form["comments"] = comments
    for name in ("start_date", "finish_date"):
        value = row.get(name)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or not _DATE.match(value):
            raise bad(name)
        form[name] = value
    return anime_id, form
