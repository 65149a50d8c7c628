"""What Jellyfin and Emby share: ids, item JSON, listings, webhook helpers."""

from __future__ import annotations

from anibridge.providers._mediabrowser.ids import provider_ids
from anibridge.providers._mediabrowser.provider import MediaBrowserProvider, Routes

__all__ = ["MediaBrowserProvider", "Routes", "provider_ids"]
