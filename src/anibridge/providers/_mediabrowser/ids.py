"""Jellyfin/Emby ``ProviderIds`` → descriptor ids (pure).

Keys are matched case-insensitively: ``Tvdb``, ``Tmdb``, ``Imdb`` (show or movie
authorities by item type), ``AniDB`` (season 1 → ``R``, season 0 → ``S``), ``AniList``
and ``MyAnimeList`` (no season scope: one id per show). Unknown keys (``TvdbSlug``,
``TmdbCollection``, ``Zap2It``…) and malformed values are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from anibridge.providers._library.ids import Scoping, SourceId

__all__ = ["provider_ids"]

_FAMILIES = {
    "tvdb": "tvdb",
    "tmdb": "tmdb",
    "imdb": "imdb",
    "anidb": "anidb",
    "anilist": "anilist",
    "myanimelist": "mal",
}
_NUMERIC = re.compile(r"^\d+$")
_IMDB = re.compile(r"^tt\d+$")


def provider_ids(ids: object, kind: str) -> tuple[SourceId, ...]:
    """Ids of an item of `kind` ("show" or "movie") from its ``ProviderIds``."""
    if not isinstance(ids, Mapping):
        return ()
    out: dict[str, SourceId] = {}
    for raw_key, raw_value in ids.items():
        family = _FAMILIES.get(str(raw_key).casefold())
        value = str(raw_value).strip() if raw_value is not None else ""
        if family is None or not value:
            continue
        if not (_IMDB if family == "imdb" else _NUMERIC).match(value):
            continue
        if family in ("tvdb", "tmdb", "imdb"):
            suffix = "movie" if kind == "movie" else "show"
            scoping = Scoping.NONE if kind == "movie" else Scoping.SEASON
            source = SourceId(f"{family}_{suffix}", value, scoping)
        elif family == "anidb":
            scoping = Scoping.NONE if kind == "movie" else Scoping.ANIDB
            source = SourceId("anidb", value, scoping)
        else:
            source = SourceId(family, value, Scoping.NONE)
        out.setdefault(source.external.descriptor, source)
    return tuple(out.values())
