"""Trakt provider: watched history, ratings, watchlist and collection.

`TraktProvider` is registered under the `anibridge.providers` entry point `trakt`.
"""

from __future__ import annotations

from anibridge.providers.trakt.auth import (
    DeviceCode,
    Tokens,
    TraktAuthError,
    poll_device_login,
    start_device_login,
)
from anibridge.providers.trakt.provider import TraktProvider
from anibridge.providers.trakt.settings import TraktConfigError

__all__ = [
    "DeviceCode",
    "Tokens",
    "TraktAuthError",
    "TraktConfigError",
    "TraktProvider",
    "poll_device_login",
    "start_device_login",
]
