"""MyAnimeList provider: the user's anime list over the official API v2."""

from __future__ import annotations

from anibridge.providers.mal.provider import MalProvider

__all__ = ["MalProvider"]
