"""Jellyfin provider (see `anibridge.providers.jellyfin.provider`)."""

from __future__ import annotations

from anibridge.providers.jellyfin.provider import JellyfinProvider

__all__ = ["JellyfinProvider"]
