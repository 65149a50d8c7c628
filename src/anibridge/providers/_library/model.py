"""What a media server's library looks like once read: sections, items, episodes.

Each server's client turns its JSON into these values; everything after that (the
contract's library shape, writes, change detection) is shared by Plex, Jellyfin and
Emby. Times are UTC-aware; ratings are on the server's native 0-10 scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from anibridge.providers._library.ids import SourceId

__all__ = ["Changes", "LibraryEpisode", "LibraryItem", "Play", "Section", "UserState"]


@dataclass(frozen=True, slots=True)
class Section:
    """A library section ("library" in the servers' UIs) of shows or movies."""

    key: str
    title: str
    kind: str  # "show" | "movie"
    ordering: str | None = None  # preferred ordering authority, e.g. "tvdb_show"


@dataclass(frozen=True, slots=True)
class UserState:
    """The selected user's state of one item (episode, movie or show)."""

    view_count: int = 0
    last_viewed_at: datetime | None = None
    rating: float | None = None
    rated_at: datetime | None = None

    @property
    def watched(self) -> bool:
        """Whether the item counts as watched."""
        return self.view_count > 0

    @property
    def active(self) -> bool:
        """Whether the user left any trace on the item."""
        return self.watched or self.rating is not None

    @property
    def updated_at(self) -> datetime | None:
        """The last time the user changed this state, when known."""
        times = [t for t in (self.last_viewed_at, self.rated_at) if t is not None]
        return max(times) if times else None


@dataclass(frozen=True, slots=True)
class LibraryItem:
    """A show or a movie: the anchor of the library shape."""

    key: str
    kind: str  # "show" | "movie"
    title: str
    section: str
    year: int | None = None
    ids: tuple[SourceId, ...] = ()
    genres: tuple[str, ...] = ()
    ordering: str | None = None  # the show's own ordering authority, if set
    state: UserState = field(default_factory=UserState)
    url: str | None = None


@dataclass(frozen=True, slots=True)
class LibraryEpisode:
    """One episode with the selected user's state."""

    key: str
    show_key: str
    season: int
    episode: int
    title: str | None = None
    state: UserState = field(default_factory=UserState)


@dataclass(frozen=True, slots=True)
class Play:
    """One recorded play (Plex history)."""

    key: str | None
    item_key: str  # show key for episodes, movie key for movies
    season: int | None
    episode: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed on the server since a point in time (server-side filtered)."""

    episodes: tuple[LibraryEpisode, ...] = ()  # user state changed
    items: tuple[LibraryItem, ...] = ()  # movie/show user state changed
    added: tuple[str, ...] = ()  # anchors whose catalog (episodes, ids) changed
    plays: tuple[Play, ...] = ()
    #: Per `added` anchor, its catalog rows that matched ("row@time"), so one catalog
    #: change read twice is told apart from a later one of the same anchor.
    revisions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
