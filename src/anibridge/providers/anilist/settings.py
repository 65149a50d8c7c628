"""The AniList provider's config keys (checked at construction, listed by the CLI)."""

from __future__ import annotations

from collections.abc import Mapping

from anibridge.provider.config_keys import ConfigKey

__all__ = ["CONFIG_KEYS", "DEFAULT_BASE_URL"]

DEFAULT_BASE_URL = "https://graphql.anilist.co"

#: Every config key, with what it is for (`anibridge providers`, `anibridge init`).
CONFIG_KEYS: Mapping[str, ConfigKey] = {
    "token": ConfigKey(
        "an access token (else `anibridge login anilist` saves one)",
        required=True,
        secret=True,
        env="ANILIST_TOKEN",
        login=True,
    ),
    "client_id": ConfigKey(
        "your AniList API client id, for `anibridge login anilist` (create one at "
        "anilist.co/settings/developer with the redirect URL "
        "https://anilist.co/api/v2/oauth/pin)"
    ),
    "authorize_url": ConfigKey(
        "the sign-in page (default https://anilist.co/api/v2/oauth/authorize)"
    ),
    "token_key": ConfigKey("name of the saved token (default 'anilist')"),
    "base_url": ConfigKey(f"GraphQL endpoint (default {DEFAULT_BASE_URL})"),
    "rate_limit": ConfigKey("requests per minute (default 30)"),
    "batch_size": ConfigKey("writes per request (1-50, default 25)"),
    "timeout": ConfigKey("seconds per request (default 30)"),
    "token_store": ConfigKey("set by AniBridge: the token store", internal=True),
    "clock": ConfigKey("tests only: an anibridge.http Clock", internal=True),
    "time_scale": ConfigKey(
        "tests only: real seconds per service second", internal=True
    ),
}
