"""External ids of a library item and how seasons scope them (pure).

Media servers attach ids to a *show*, while the mappings dataset speaks about a
show's *seasons* (``tvdb_show:81797:s2``) or AniDB episode types (``anidb:69:R``).
Which scope a season gets depends on where the id came from: a TVDB id whose
episodes follow TVDB's aired order gets ``s{season}``; an AniDB id (HAMA) maps season
1 to regular episodes (``R``) and season 0 to specials (``S``); an id whose seasons
are not the authority's own (HAMA ``tvdb2-``…``tvdb6-`` numbering, AniList, MAL)
stays unscoped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from anibridge.provider.base import ExternalId

__all__ = [
    "ORDERING_AUTHORITIES",
    "Scoping",
    "SourceId",
    "anchor_ids",
    "order_ids",
]

#: Show authorities whose season numbers are an *episode ordering* a server can
#: follow; `strict` keeps only the one the show is ordered by.
ORDERING_AUTHORITIES = frozenset({"tvdb_show", "tmdb_show"})


class Scoping(StrEnum):
    """How a show-level id is scoped per season present in the library."""

    SEASON = "season"  # s{N}, s0 = specials
    ANIDB = "anidb"  # season 1 -> R (regular), season 0 -> S (specials)
    NONE = "none"  # the server's seasons are not this authority's seasons


@dataclass(frozen=True, slots=True)
class SourceId:
    """One id a server reported for an item, with its season-scoping rule."""

    authority: str
    value: str
    scoping: Scoping = Scoping.SEASON

    @property
    def external(self) -> ExternalId:
        """The unscoped descriptor."""
        return ExternalId(self.authority, self.value)


def order_ids(
    ids: Sequence[SourceId], preferred: str | None, *, strict: bool = False
) -> tuple[SourceId, ...]:
    """Ids with the show's episode-ordering authority first.

    With `strict`, ids of the *other* ordering authority are dropped: their season
    numbers would not match the server's seasons. Without a known preference the ids
    are kept as they are.
    """
    if preferred is None:
        return tuple(ids)
    kept = [
        i
        for i in ids
        if not (
            strict and i.authority in ORDERING_AUTHORITIES and i.authority != preferred
        )
    ]
    return tuple(sorted(kept, key=lambda i: i.authority != preferred))


def anchor_ids(
    ids: Iterable[SourceId], seasons: Iterable[int]
) -> tuple[ExternalId, ...]:
    """The IDS facet of an anchor: unscoped ids plus one scoped id per season."""
    present = sorted(set(seasons))
    out: dict[str, ExternalId] = {}

    def add(eid: ExternalId) -> None:
        out.setdefault(eid.descriptor, eid)

    for source in ids:
        if source.scoping is Scoping.ANIDB:
            scopes = [("S" if s == 0 else "R") for s in present if s in (0, 1)]
            for scope in scopes or ["R"]:
                add(ExternalId(source.authority, source.value, scope))
            continue
        add(source.external)
        if source.scoping is Scoping.SEASON:
            for season in present:
                add(ExternalId(source.authority, source.value, f"s{season}"))
    return tuple(out.values())
