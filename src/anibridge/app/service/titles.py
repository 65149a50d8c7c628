"""What providers call each entry, kept across restarts of the service.

Journal rows, plans and the mappings dataset name entries by id only; the titles a
person searches for come from what the providers returned in a run. Kept in
memory only, a restarted service would show ids and find nothing by title until
its next preview; so they are written to ``<data_dir>/titles.json`` after each
run and read at start. Only what identifies an entry is kept (title, kind, ids,
seasons, labels, page URL) — never artwork URLs, which may carry a credential.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from anibridge.provider.base import FacetName

__all__ = ["KEPT", "TITLES_FILE", "dump_titles", "load_titles", "titles_of"]

log = logging.getLogger(__name__)

TITLES_FILE = "titles.json"
KEPT = ("title", "kind", "ids", "seasons", "labels", "url", "borrowed")
"""The display facts written to disk (``poster`` stays in memory)."""

Titles = dict[tuple[str, str], dict[str, Any]]


def dump_titles(titles: Mapping[tuple[str, str], Mapping[str, Any]]) -> str:
    """The file's text: a row per (provider key, anchor), sorted, no empty facts."""
    entries = []
    for (provider, anchor), shown in sorted(list(titles.items())):
        facts = {k: shown[k] for k in KEPT if shown.get(k) not in (None, "", [], ())}
        if facts.get("title"):
            entries.append({"provider": provider, "anchor": anchor, **facts})
    return json.dumps(
        {"version": 1, "entries": entries}, ensure_ascii=False, separators=(",", ":")
    )


def load_titles(path: Path) -> Titles:
    """The kept titles; a missing file is none, an unreadable one is logged and ignored.

    The file is a cache of what providers said: losing it costs titles until the
    next run, never data, so a broken file never stops the service.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning(
            "ignoring unreadable %s (titles return with the next run): %s", path, exc
        )
        return {}
    rows = raw.get("entries") if isinstance(raw, dict) else None
    out: Titles = {}
    for row in rows if isinstance(rows, list) else ():
        if not isinstance(row, dict) or not isinstance(row.get("title"), str):
            continue
        provider, anchor = row.get("provider"), row.get("anchor")
        if isinstance(provider, str) and isinstance(anchor, str):
            out[(provider, anchor)] = {k: row[k] for k in KEPT if k in row}
    return out


def titles_of(snapshots: Mapping[str, Any]) -> Titles:
    """What each read entry is called: (provider key, anchor) → display facts.

    `snapshots` maps provider keys to the `Snapshot` a run read; entries without
    a title are left out. ``poster`` is the ARTWORK facet's picture, if any.
    """
    out: Titles = {}
    for key, snap in snapshots.items():
        for anchor, entry in snap.entries.items():
            node = entry.node
            if node is None or not node.title:
                continue
            artwork = node.facets.get(FacetName.ARTWORK)
            ids = node.facets.get(FacetName.IDS)
            out[(key, anchor)] = {
                "title": node.title,
                "url": node.url,
                "poster": getattr(artwork, "poster", None),
                "labels": list(node.labels),
                "kind": node.kind,
                "ids": [i.descriptor for i in getattr(ids, "ids", ())],
                "seasons": _seasons(node.facets.get(FacetName.STRUCTURE)),
            }
    return out


def _seasons(structure: Any) -> list[int]:
    """Season numbers of an anchor's STRUCTURE (none for films and lists)."""
    axes = tuple(getattr(structure, "axes", ()))
    if "season" not in axes:
        return []
    found = set()
    for part in getattr(structure, "parts", ()):
        for step in part.position:
            if step.axis == "season" and isinstance(step.value, int):
                found.add(step.value)
    return sorted(found)
