"""The MyAnimeList provider's config keys (checked at construction, listed)."""

from __future__ import annotations

from collections.abc import Mapping

from anibridge.provider.config_keys import ConfigKey

__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_AUTHORIZE_URL",
    "DEFAULT_BASE_URL",
    "DEFAULT_TOKEN_URL",
]

DEFAULT_BASE_URL = "https://api.myanimelist.net/v2"
DEFAULT_TOKEN_URL = "https://myanimelist.net/v1/oauth2/token"
DEFAULT_AUTHORIZE_URL = "https://myanimelist.net/v1/oauth2/authorize"

#: Every config key, with what it is for (`anibridge providers`, `anibridge init`).
CONFIG_KEYS: Mapping[str, ConfigKey] = {
    "client_id": ConfigKey(
        "your MAL API client id (myanimelist.net/apiconfig; App Redirect URL "
        "http://127.0.0.1:8765/callback)",
        required=True,
        example="",
    ),
    "client_secret": ConfigKey(
        "the client secret, if your MAL app type has one",
        secret=True,
        env="MAL_CLIENT_SECRET",
    ),
    "access_token": ConfigKey(
        "a token (else `anibridge login mal` saves one)",
        secret=True,
        env="MAL_TOKEN",
        login=True,
    ),
    "refresh_token": ConfigKey(
        "renews the access token (saved by `anibridge login mal`)",
        secret=True,
        env="MAL_REFRESH_TOKEN",
        login=True,
    ),
    "expires_at": ConfigKey("when access_token expires (epoch seconds or ISO)"),
    "redirect_uri": ConfigKey(
        "the App Redirect URL registered with MAL, used by `anibridge login mal` "
        "(default http://127.0.0.1:8765/callback)"
    ),
    "token_key": ConfigKey("name of the saved tokens (default 'mal')"),
    "base_url": ConfigKey(f"API root (default {DEFAULT_BASE_URL})"),
    "token_url": ConfigKey(f"OAuth token endpoint (default {DEFAULT_TOKEN_URL})"),
    "authorize_url": ConfigKey(
        f"OAuth authorize page (default {DEFAULT_AUTHORIZE_URL})"
    ),
    "rate_limit": ConfigKey("requests per minute (default 60)"),
    "timeout": ConfigKey("seconds per request (default 30)"),
    "token_store": ConfigKey("set by AniBridge: the token store", internal=True),
    "clock": ConfigKey("tests only: an anibridge.http Clock", internal=True),
    "time_scale": ConfigKey(
        "tests only: real seconds per service second", internal=True
    ),
}
