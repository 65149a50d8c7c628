"""The Simkl backup file: the library in Simkl's own `/sync/all-items` shape.

The ``all_items`` member is exactly what Simkl answers for
`/sync/all-items?extended=full&episode_watched_at=yes&memos=yes` (``shows``,
``anime`` and ``movies`` arrays with statuses, ratings, memos and every watched
episode with its date), so the file is readable by any Simkl tool; a small envelope
says what it is.
"""

from __future__ import annotations

import json
from typing import Any

from anibridge.dates import utcnow
from anibridge.providers.simkl.library import Library, Title
from anibridge.providers.simkl.vocabulary import BUCKETS, TYPES, SimklDataError

__all__ = ["FORMAT", "VERSION", "dump", "load"]

FORMAT = "anibridge.simkl.backup"
VERSION = 1


def dump(library: Library, *, account: str | None) -> bytes:
    """Serialize the listed titles."""
    all_items: dict[str, list[dict[str, Any]]] = {}
    for title in library.listed():
        all_items.setdefault(BUCKETS[title.kind][0], []).append(library.row(title))
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": utcnow().isoformat(),
        "account": account,
        "all_items": all_items,
    }
    return json.dumps(payload, indent=1, sort_keys=True).encode()


def load(payload: bytes) -> list[Title]:
    """The titles of a backup, as list entries.

    Raises:
        SimklDataError: not a Simkl backup of this format (the message says why).
    """
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise SimklDataError(f"simkl backup: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SimklDataError(f"simkl backup: 'format' must be {FORMAT!r}")
    if data.get("version") != VERSION:
        raise SimklDataError(
            f"simkl backup: version {data.get('version')!r} is not {VERSION}"
        )
    items = data.get("all_items")
    if not isinstance(items, dict):
        raise SimklDataError("simkl backup: 'all_items' must be an object")
    library = Library()
    out: list[Title] = []
    for kind in TYPES:
        rows = items.get(BUCKETS[kind][0]) or []
        if not isinstance(rows, list):
            raise SimklDataError(f"simkl backup: {BUCKETS[kind][0]!r} must be a list")
        for n, row in enumerate(rows):
            title = library.absorb(kind, row) if isinstance(row, dict) else None
            if title is None:
                raise SimklDataError(
                    f"simkl backup: {BUCKETS[kind][0]}[{n}] has no Simkl id"
                )
            out.append(title)
    return out
