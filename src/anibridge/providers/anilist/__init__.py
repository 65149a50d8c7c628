"""AniList provider: the user's anime list over AniList's GraphQL API."""

from __future__ import annotations

from anibridge.providers.anilist.provider import AniListError, AniListProvider

__all__ = ["AniListError", "AniListProvider"]
