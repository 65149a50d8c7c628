"""The Kitsu backup file: the library as Kitsu's own JSON:API document.

``data`` holds the library entries exactly as `/library-entries` returns them
(attributes and relationships) and ``included`` their anime, so the file is a
JSON:API document any Kitsu tool can read; a small envelope says what it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from anibridge.dates import utcnow
from anibridge.providers.kitsu.jsonapi import attrs, related

__all__ = ["FORMAT", "VERSION", "dump", "load"]

FORMAT = "anibridge.kitsu.backup"
VERSION = 1


def dump(
    entries: Sequence[Mapping[str, Any]],
    anime: Sequence[Mapping[str, Any]],
    *,
    user: str | None,
) -> bytes:
    """Serialize the library entries with their side-loaded anime."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": utcnow().isoformat(),
        "user": user,
        "data": list(entries),
        "included": list({str(a.get("id")): a for a in anime}.values()),
    }
    return json.dumps(payload, indent=1, sort_keys=True).encode()


def load(payload: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(anime id, entry attributes) of every entry in a backup.

    Raises:
        ValueError: not a Kitsu backup of this format (the message says why).
    """
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise ValueError(f"kitsu backup: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"kitsu backup: 'format' must be {FORMAT!r}")
    if data.get("version") != VERSION:
        raise ValueError(
            f"kitsu backup: version {data.get('version')!r} is not {VERSION}"
        )
    entries = data.get("data")
    if not isinstance(entries, list):
        raise ValueError("kitsu backup: 'data' must be a list of library entries")
    out = []
    for n, entry in enumerate(entries):
        key = (
            (related(entry, "anime") or related(entry, "media"))
            if isinstance(entry, dict)
            else None
        )
        if key is None or key[0] != "anime" or not key[1].isdigit():
            raise ValueError(f"kitsu backup: data[{n}] names no anime")
        out.append((key[1], dict(attrs(entry))))
    return out
