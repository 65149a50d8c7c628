"""What Plex, Jellyfin and Emby share: the library model, shape and contract logic."""

from __future__ import annotations

from anibridge.providers._library.ids import Scoping, SourceId, anchor_ids, order_ids
from anibridge.providers._library.model import (
    Changes,
    LibraryEpisode,
    LibraryItem,
    Play,
    Section,
    UserState,
)
from anibridge.providers._library.provider import LibraryProvider, WriteRejected
from anibridge.providers._library.shape import LibraryTraits, episode_ref

__all__ = [
    "Changes",
    "LibraryEpisode",
    "LibraryItem",
    "LibraryProvider",
    "LibraryTraits",
    "Play",
    "Scoping",
    "Section",
    "SourceId",
    "UserState",
    "WriteRejected",
    "anchor_ids",
    "episode_ref",
    "order_ids",
]
