"""What the list trackers (AniList, MAL) share: change-feed positions and options."""

from __future__ import annotations

from anibridge.providers._lists.feed import FeedPosition
from anibridge.providers._lists.options import number_option, page_refs

__all__ = ["FeedPosition", "number_option", "page_refs"]
