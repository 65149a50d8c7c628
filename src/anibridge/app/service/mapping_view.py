"""The mappings browser: find an entry by title or id and read its mappings.

The dataset knows ids only (``tvdb_show:81797:s1 → anilist:21``); titles come
from what the profiles' providers returned. A search therefore goes title →
the ids that entry carries (a show's id scoped per season, as the dataset keys
it) → each id's edges, with every range written the way people read it
(``S1 E1-8 → AniList 21 E1-8``, en dashes). Pure functions over a `MappingIndex`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from anibridge.app.service.descriptor_text import parse_descriptor
from anibridge.app.service.overrides import readable_pair, scope_of
from anibridge.app.service.plan_view import source_choices

__all__ = [
    "NAMES",
    "browse",
    "describe",
    "edge_rows",
    "parse_descriptor",
    "readable_edge",
]

NAMES = {
    "anilist": "AniList",
    "mal": "MAL",
    "kitsu": "Kitsu",
    "anidb": "AniDB",
    "tvdb_show": "TVDB",
    "tvdb_movie": "TVDB movie",
    "tmdb_show": "TMDB",
    "tmdb_movie": "TMDB movie",
    "imdb_show": "IMDb",
    "imdb_movie": "IMDb movie",
    "trakt_show": "Trakt",
    "trakt_movie": "Trakt movie",
    "simkl": "Simkl",
}
"""How an id's authority is written for people (unknown ones are shown as is)."""


_ANIDB_SCOPES = {
    "R": "",
    "S": "specials",
    "C": "credits",
    "T": "trailers",
    "P": "parodies",
    "O": "other",
}


def describe(descriptor: str) -> str:
    """An id as people read it, e.g. ``TVDB 81797 S1`` or ``AniList 21``.

    Unknown authorities are shown as spelled; AniDB scopes are named ("specials").
    """
    parts = descriptor.split(":")
    if len(parts) < 2:
        return descriptor
    authority, value = parts[0], parts[1]
    text = f"{NAMES.get(authority, authority)} {value}"
    scope = parts[2] if len(parts) > 2 else ""
    if authority == "anidb":
        extra = _ANIDB_SCOPES.get(scope, scope)
        return f"{text} {extra}" if extra else text
    season = scope_of(descriptor).strip()
    if season:
        return f"{text} {season}"
    return f"{text} {scope}" if scope else text


def readable_edge(source: str, target: str, pair: Any) -> str:
    """One range pair with the target named: ``S1 E1-12 → AniList 12345 E1-12``.

    The source's season shows on the left (its id heads the row); the right side
    names the target id, so a row reads without the table around it.
    """
    text = readable_pair(source, target, pair)
    left, _, right = text.partition(" → ")
    scope = scope_of(target)
    right = right.removeprefix(scope)
    return f"{left} → {describe(target)} {right}"


def edge_rows(
    index: Any, descriptor: str, origin: Callable[[str], str]
) -> list[dict[str, Any]]:
    """Edges of one canonical descriptor, raw and readable, with where they came from.

    Args:
        index: The effective `anibridge.mappings.MappingIndex`.
        descriptor: Canonical descriptor (``tvdb_show:81797:s1``).
        origin: Turns a pair's provenance into what a person reads ("your
            overrides", a file name); never a server path.
    """
    rows = []
    for edge in index.edges(descriptor):
        source, target = str(edge.source), str(edge.target)
        rows.append(
            {
                "source": source,
                "target": target,
                "source_label": describe(source),
                "target_label": describe(target),
                "ranges": [f"{p.source_range}={p.target_spec()}" for p in edge.pairs],
                "readable": [readable_edge(source, target, p) for p in edge.pairs],
                "provenance": sorted(
                    {origin(o) for p in edge.pairs for o in p.provenance}
                ),
            }
        )
    return rows


def _descriptors(found: Mapping[str, Any]) -> list[str]:
    return source_choices(found.get("ids") or (), found.get("seasons") or ())


def browse(
    index: Any,
    titles: Sequence[Mapping[str, Any]],
    matches: Iterable[str],
    origin: Callable[[str], str],
) -> dict[str, Any]:
    """Search results: titles with each id's mappings, then ids containing the text.

    Args:
        index: The effective mappings index.
        titles: Entries whose title matched (``title``, ``provider``, ``ids``,
            ``seasons``), best first.
        matches: Descriptors that contain the searched text.
        origin: See `edge_rows`.

    Returns:
        ``{"titles": [{title, provider, ids: [{descriptor, label, edges}]}],
        "matches": [{descriptor, label}]}``; an id without mappings has no edges
        (the page offers an override for it).
    """
    out_titles = []
    for found in titles:
        ids = []
        for descriptor in _descriptors(found):
            try:
                edges = edge_rows(index, descriptor, origin)
            except ValueError:
                continue  # an id the dataset's grammar does not know
            ids.append(
                {
                    "descriptor": descriptor,
                    "label": describe(descriptor),
                    "edges": edges,
                }
            )
        out_titles.append(
            {
                "title": found["title"],
                "provider": found.get("provider"),
                "kind": found.get("kind"),
                "ids": ids,
            }
        )
    return {
        "titles": out_titles,
        "matches": [{"descriptor": d, "label": describe(d)} for d in matches],
    }
