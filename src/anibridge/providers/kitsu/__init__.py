"""Kitsu provider: the user's anime library over Kitsu's JSON:API.

`KitsuProvider` is registered under the `anibridge.providers` entry point `kitsu`.
"""

from __future__ import annotations

from anibridge.providers.kitsu.auth import KitsuAuthError, KitsuTokens, password_grant
from anibridge.providers.kitsu.provider import KitsuProvider
from anibridge.providers.kitsu.settings import KitsuConfigError

__all__ = [
    "KitsuAuthError",
    "KitsuConfigError",
    "KitsuProvider",
    "KitsuTokens",
    "password_grant",
]
