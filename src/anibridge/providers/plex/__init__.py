"""Plex Media Server provider (see `anibridge.providers.plex.provider`)."""

from __future__ import annotations

from anibridge.providers.plex.provider import PlexProvider

__all__ = ["PlexProvider"]
