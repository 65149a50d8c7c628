"""Emby provider (see `anibridge.providers.emby.provider`)."""

from __future__ import annotations

from anibridge.providers.emby.provider import EmbyProvider

__all__ = ["EmbyProvider"]
