"""A media catalog shared by the tracker fakes, so AniList and MAL agree on titles.

Each fake serves the works it was given; `sample_media` builds a deterministic
catalog of any size for request-budget tests (ids are offset so AniList and MAL ids
differ, the way they do in reality).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FakeMedia", "sample_media"]


@dataclass(frozen=True, slots=True)
class FakeMedia:
    """One anime as both trackers know it.

    `mal_id` is None for works MAL does not list. `nsfw` is MAL's rating class
    (``"white"``, ``"gray"``, ``"black"``); MAL hides non-white works from lists
    unless the client asks for ``nsfw=true``. `kitsu_id`, `anidb_id` and `tvdb`
    ((series, season)) are for the fakes that know them (Kitsu's mappings).
    """

    anilist_id: int
    mal_id: int | None
    title: str
    episodes: int | None = 12
    format: str = "TV"
    nsfw: str = "white"
    kitsu_id: int | None = None
    anidb_id: int | None = None
    tvdb: tuple[int, int] | None = None


_FORMATS = ("TV", "TV", "TV", "MOVIE", "OVA", "ONA", "SPECIAL", "TV_SHORT")


def sample_media(count: int, *, start: int = 1) -> list[FakeMedia]:
    """`count` distinct works with predictable ids, formats and episode counts."""
    media = []
    for n in range(start, start + count):
        fmt = _FORMATS[n % len(_FORMATS)]
        media.append(
            FakeMedia(
                anilist_id=100_000 + n,
                mal_id=50_000 + n,
                title=f"Sample Show {n}",
                episodes=1
                if fmt == "MOVIE"
                else (None if n % 29 == 0 else 12 + n % 14),
                format=fmt,
                nsfw="gray" if n % 97 == 0 else "white",
            )
        )
    return media
