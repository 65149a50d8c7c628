"""Plex GUIDs → descriptor ids (pure).

Forms handled (agent → authority):

- modern agents list every id in ``Guid``: ``tvdb://81797``, ``tmdb://37854``,
  ``imdb://tt0388629``; ``plex://show/…`` is Plex's own id and is ignored;
- legacy agents put one id in ``guid``: ``com.plexapp.agents.thetvdb://81797/1/3?lang=en``
  (show id, then season/episode), ``com.plexapp.agents.themoviedb://…`` (also
  ``.tmdb``), ``com.plexapp.agents.imdb://tt…``;
- HAMA (``com.plexapp.agents.hama://``): ``anidb-N`` (AniDB: season 1 = regular
  episodes ``R``, season 0 = specials ``S``), ``tvdb-N`` (TVDB seasons), ``tvdb2-`` …
  ``tvdb6-`` (TVDB id, but the library's seasons use HAMA's absolute/arc numbering,
  so no season scope), ``tmdb-N``, ``imdb-tt…``;
- the MyAnimeList agent (``net.fribbtastic.coding.plex.myanimelist://N``) → ``mal``.

Anything else yields nothing; a GUID never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from anibridge.providers._library.ids import Scoping, SourceId

__all__ = ["guid_ids", "item_ids", "parse_guid"]

_SCHEME = re.compile(r"^(?P<agent>[a-z0-9.]+)://(?P<body>[^?#]*)", re.IGNORECASE)
_MODERN = {"tvdb": "tvdb", "tmdb": "tmdb", "imdb": "imdb"}
_LEGACY = {
    "com.plexapp.agents.thetvdb": "tvdb",
    "com.plexapp.agents.themoviedb": "tmdb",
    "com.plexapp.agents.tmdb": "tmdb",
    "com.plexapp.agents.imdb": "imdb",
}
_TVDB_DVD = "com.plexapp.agents.thetvdbdvd"  # TVDB ids, DVD seasons: not aired ones
_HAMA = "com.plexapp.agents.hama"
_MAL_AGENT = "net.fribbtastic.coding.plex.myanimelist"
_HAMA_ID = re.compile(r"^(?P<source>anidb|tvdb[2-6]?|tmdb|imdb)-(?P<id>[^/]+)")
_NUMERIC = re.compile(r"^\d+$")
_IMDB = re.compile(r"^tt\d+$")


def _authority(family: str, kind: str) -> str:
    return f"{family}_movie" if kind == "movie" else f"{family}_show"


def _valid(family: str, value: str) -> bool:
    if family == "imdb":
        return bool(_IMDB.match(value))
    return bool(_NUMERIC.match(value))


def parse_guid(guid: str, kind: str) -> SourceId | None:
    """The id one GUID stands for on an item of `kind` ("show" or "movie").

    Episode and season GUIDs carry the show id first, so "show" applies to them.
    """
    found = _SCHEME.match(guid.strip()) if isinstance(guid, str) else None
    if found is None:
        return None
    agent = found["agent"].lower()
    body = found["body"]
    head = body.split("/", 1)[0]
    scoping = Scoping.SEASON if kind != "movie" else Scoping.NONE
    if agent in _MODERN or agent in _LEGACY:
        family = _MODERN.get(agent) or _LEGACY[agent]
        if not _valid(family, head):
            return None
        return SourceId(_authority(family, kind), head, scoping)
    if agent == _TVDB_DVD:
        if not _valid("tvdb", head):
            return None
        return SourceId(_authority("tvdb", kind), head, Scoping.NONE)
    if agent == _MAL_AGENT:
        return SourceId("mal", head, Scoping.NONE) if _valid("mal", head) else None
    if agent != _HAMA:
        return None
    hama = _HAMA_ID.match(body)
    if hama is None:
        return None
    source, value = hama["source"], hama["id"]
    if source == "anidb":
        if not _valid("anidb", value):
            return None
        return SourceId(
            "anidb", value, Scoping.NONE if kind == "movie" else Scoping.ANIDB
        )
    family = source[:4]
    if not _valid(family, value):
        return None
    if source in ("tvdb", "tmdb", "imdb"):
        return SourceId(_authority(family, kind), value, scoping)
    # tvdb2..tvdb6: a TVDB show whose library seasons are HAMA's own numbering.
    return SourceId(_authority("tvdb", kind), value, Scoping.NONE)


def guid_ids(guids: Iterable[str], kind: str) -> tuple[SourceId, ...]:
    """Ids of several GUIDs, first occurrence of each descriptor kept."""
    out: dict[str, SourceId] = {}
    for guid in guids:
        parsed = parse_guid(guid, kind)
        if parsed is not None:
            out.setdefault(parsed.external.descriptor, parsed)
    return tuple(out.values())


def item_ids(item: Mapping[str, object], kind: str) -> tuple[SourceId, ...]:
    """Ids of a Plex metadata item: its ``Guid`` list, then its primary ``guid``."""
    guids: list[str] = []
    listed = item.get("Guid")
    if isinstance(listed, list):
        guids.extend(
            g["id"]
            for g in listed
            if isinstance(g, dict) and isinstance(g.get("id"), str)
        )
    primary = item.get("guid")
    if isinstance(primary, str):
        guids.append(primary)
    return guid_ids(guids, kind)


#: Plex ``showOrdering`` values → the authority whose seasons the library follows.
SHOW_ORDERINGS = {
    "aired": "tvdb_show",
    "tvdbAiring": "tvdb_show",
    "tmdbAiring": "tmdb_show",
}
#: Orderings whose seasons are TVDB's, but not TVDB's *aired* seasons.
UNSCOPED_TVDB_ORDERINGS = frozenset({"dvd", "absolute", "tvdbDvd", "tvdbAbsolute"})
