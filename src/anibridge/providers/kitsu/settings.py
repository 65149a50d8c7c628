"""Validated configuration of the Kitsu provider (bad config fails at construction)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from anibridge.http.clock import Clock, clock_from_config
from anibridge.provider.config_keys import ConfigKey, unknown_keys

__all__ = ["CONFIG_KEYS", "KitsuConfigError", "KitsuSettings", "parse_settings"]

DEFAULT_BASE_URL = "https://kitsu.app/api/edge"
#: The largest page Kitsu serves for library entries (other resources: 20).
LIBRARY_PAGE_MAX = 500

CONFIG_KEYS: Mapping[str, ConfigKey] = {
    "access_token": ConfigKey(
        "a token (else `anibridge login kitsu` saves one)",
        secret=True,
        env="KITSU_TOKEN",
        login=True,
    ),
    "refresh_token": ConfigKey(
        "renews the access token (saved by `anibridge login kitsu`)",
        secret=True,
        env="KITSU_REFRESH_TOKEN",
        login=True,
    ),
    "expires_at": ConfigKey("when access_token expires (epoch seconds)"),
    "username": ConfigKey("with password: sign in by the OAuth password grant"),
    "password": ConfigKey(
        "the Kitsu password; only tokens are kept",
        secret=True,
        env="KITSU_PASSWORD",
    ),
    "client_id": ConfigKey("OAuth client id, if your Kitsu app has one"),
    "client_secret": ConfigKey(
        "OAuth client secret, if your Kitsu app has one",
        secret=True,
        env="KITSU_CLIENT_SECRET",
    ),
    "token_store": ConfigKey("set by AniBridge: the token store", internal=True),
    "token_key": ConfigKey("name of the saved tokens (default 'kitsu')"),
    "base_url": ConfigKey(f"API root (default {DEFAULT_BASE_URL})"),
    "token_url": ConfigKey("OAuth token endpoint (default: <host>/api/oauth/token)"),
    "page_size": ConfigKey(
        f"library entries per request (1-{LIBRARY_PAGE_MAX}, default 500)"
    ),
    "rate_limit": ConfigKey("requests per minute (default 60)"),
    "timeout": ConfigKey("seconds per request (default 30)"),
    "clock": ConfigKey("tests only: an anibridge.http Clock", internal=True),
    "time_scale": ConfigKey(
        "tests only: real seconds per service second", internal=True
    ),
}


class KitsuConfigError(ValueError):
    """The Kitsu provider config is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class KitsuSettings:
    """Everything the provider reads from its config mapping."""

    base_url: str
    token_url: str
    access_token: str | None
    refresh_token: str | None
    expires_at: float
    username: str | None
    password: str | None
    client_id: str | None
    client_secret: str | None
    token_store: Any
    token_key: str
    page_size: int
    rate_limit: int
    timeout: float
    clock: Clock


def _text(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise KitsuConfigError(f"kitsu: config key {key!r} must be a string")
    return value


def _number(
    config: Mapping[str, Any],
    key: str,
    default: float,
    *,
    low: float,
    high: float | None = None,
) -> float:
    value = config.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"{low:g}-{high:g}" if high is not None else f">= {low:g}"
        raise KitsuConfigError(f"kitsu: config key {key!r} must be a number {bound}")
    return float(value)


def parse_settings(config: Mapping[str, Any]) -> KitsuSettings:
    """Validate `config`.

    Returns:
        The settings.

    Raises:
        KitsuConfigError: unknown keys, wrong types or values out of range.
    """
    unknown = unknown_keys("kitsu", config, CONFIG_KEYS)
    if unknown:
        raise KitsuConfigError(unknown)
    store = config.get("token_store")
    if store is not None and not (hasattr(store, "load") and hasattr(store, "save")):
        raise KitsuConfigError(
            "kitsu: config key 'token_store' needs async load(key) and "
            "save(key, tokens)"
        )
    try:
        clock = clock_from_config(config)
    except ValueError as exc:
        raise KitsuConfigError(f"kitsu: {exc}") from None
    username, password = _text(config, "username"), _text(config, "password")
    if (username is None) != (password is None):
        raise KitsuConfigError(
            "kitsu: config keys 'username' and 'password' go together"
        )
    base = (_text(config, "base_url") or DEFAULT_BASE_URL).rstrip("/")
    parts = urlsplit(base)
    token_url = (
        _text(config, "token_url") or f"{parts.scheme}://{parts.netloc}/api/oauth/token"
    )
    page = _number(config, "page_size", LIBRARY_PAGE_MAX, low=1, high=LIBRARY_PAGE_MAX)
    rate = _number(config, "rate_limit", 60, low=1)
    if page != int(page) or rate != int(rate):
        raise KitsuConfigError("kitsu: 'page_size' and 'rate_limit' are whole numbers")
    return KitsuSettings(
        base_url=base,
        token_url=token_url,
        access_token=_text(config, "access_token"),
        refresh_token=_text(config, "refresh_token"),
        expires_at=_number(config, "expires_at", 0, low=0),
        username=username,
        password=password,
        client_id=_text(config, "client_id"),
        client_secret=_text(config, "client_secret"),
        token_store=store,
        token_key=_text(config, "token_key") or "kitsu",
        page_size=int(page),
        rate_limit=int(rate),
        timeout=_number(config, "timeout", 30.0, low=0.001),
        clock=clock,
    )
