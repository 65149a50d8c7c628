"""Validated configuration of the Trakt provider.

Bad config fails at construction with the key and what is expected, never later in
the middle of a sync.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anibridge.http.clock import Clock, ScaledClock
from anibridge.provider.config_keys import ConfigKey, unknown_keys
from anibridge.providers.trakt.api import DEFAULT_BASE_URL

__all__ = ["CONFIG_KEYS", "TraktConfigError", "TraktSettings", "parse_settings"]

#: Every config key, with what it is for (`anibridge providers`, `anibridge init`).
CONFIG_KEYS: Mapping[str, ConfigKey] = {
    "client_id": ConfigKey(
        "your Trakt app's client id (trakt.tv/oauth/applications; redirect URI "
        "urn:ietf:wg:oauth:2.0:oob)",
        required=True,
        example="",
    ),
    "client_secret": ConfigKey(
        "your Trakt app's client secret (needed to sign in and renew tokens)",
        secret=True,
        env="TRAKT_CLIENT_SECRET",
    ),
    "access_token": ConfigKey(
        "a token (else `anibridge login trakt` saves one)",
        secret=True,
        env="TRAKT_TOKEN",
        login=True,
    ),
    "refresh_token": ConfigKey(
        "renews the access token (saved by `anibridge login trakt`)",
        secret=True,
        env="TRAKT_REFRESH_TOKEN",
        login=True,
    ),
    "expires_at": ConfigKey("when access_token expires (epoch seconds)"),
    "base_url": ConfigKey(f"API root (default {DEFAULT_BASE_URL})"),
    "token_store": ConfigKey("set by AniBridge: the token store", internal=True),
    "token_key": ConfigKey("name of the saved tokens (default 'trakt')"),
    "page_size": ConfigKey("items per page read (default 1000)"),
    "write_batch_size": ConfigKey("items per write request (default 1000)"),
    "timeout": ConfigKey("seconds per request (default 30)"),
    "full_structure": ConfigKey(
        "read every show's seasons and episodes, not only watched ones (default false)"
    ),
    "late_apply_window": ConfigKey(
        "seconds a history POST whose answer was lost may still be applied by "
        "Trakt; its plays are not sent again before then (default 600)"
    ),
    "clock": ConfigKey("tests only: an anibridge.http Clock", internal=True),
    "time_scale": ConfigKey(
        "tests only: real seconds per service second", internal=True
    ),
}


# How long after a history POST whose answer was lost Trakt may still apply it.
# Until then a re-read that does not find the plays leaves them "unconfirmed" and
# they are not sent again (sending them would duplicate them if the POST lands).
DEFAULT_LATE_APPLY_WINDOW = 600.0


class TraktConfigError(ValueError):
    """The Trakt provider config is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class TraktSettings:
    """Everything the provider reads from its config mapping."""

    client_id: str
    client_secret: str | None
    access_token: str | None
    refresh_token: str | None
    expires_at: float
    base_url: str
    token_store: Any
    token_key: str
    clock: Clock | None
    page_size: int
    write_batch_size: int
    timeout: float
    full_structure: bool
    late_apply_window: float


def _text(config: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = config.get(key)
    if value is None or value == "":
        if required:
            raise TraktConfigError(
                f"trakt: config key {key!r} is required (create an app at "
                "https://trakt.tv/oauth/applications)"
            )
        return None
    if not isinstance(value, str):
        raise TraktConfigError(f"trakt: config key {key!r} must be a string")
    return value


def _positive(config: Mapping[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise TraktConfigError(f"trakt: config key {key!r} must be a positive number")
    return float(value)


def _non_negative(config: Mapping[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise TraktConfigError(f"trakt: config key {key!r} must be a number >= 0")
    return float(value)


def _flag(config: Mapping[str, Any], key: str, default: bool) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise TraktConfigError(f"trakt: config key {key!r} must be true or false")
    return value


def parse_settings(config: Mapping[str, Any]) -> TraktSettings:
    """Validate `config`.

    Returns:
        The settings.

    Raises:
        TraktConfigError: unknown keys, wrong types, or a missing client id.
    """
    unknown = unknown_keys("trakt", config, CONFIG_KEYS)
    if unknown:
        raise TraktConfigError(unknown)
    store = config.get("token_store")
    if store is not None and not (hasattr(store, "load") and hasattr(store, "save")):
        raise TraktConfigError(
            "trakt: config key 'token_store' needs async load(key) and save(key, "
            "tokens)"
        )
    clock = config.get("clock")
    if clock is None and config.get("time_scale") is not None:
        clock = ScaledClock(_positive(config, "time_scale", 1.0))
    if clock is not None and not hasattr(clock, "monotonic"):
        raise TraktConfigError("trakt: config key 'clock' must be an anibridge Clock")
    expires = config.get("expires_at", 0) or 0
    if isinstance(expires, bool) or not isinstance(expires, int | float):
        raise TraktConfigError("trakt: config key 'expires_at' must be epoch seconds")
    return TraktSettings(
        client_id=_text(config, "client_id", required=True) or "",
        client_secret=_text(config, "client_secret"),
        access_token=_text(config, "access_token"),
        refresh_token=_text(config, "refresh_token"),
        expires_at=float(expires),
        base_url=(_text(config, "base_url") or DEFAULT_BASE_URL).rstrip("/"),
        token_store=store,
        token_key=_text(config, "token_key") or "trakt",
        clock=clock,
        page_size=int(_positive(config, "page_size", 1000)),
        write_batch_size=int(_positive(config, "write_batch_size", 1000)),
        timeout=_positive(config, "timeout", 30.0),
        full_structure=_flag(config, "full_structure", False),
        late_apply_window=_non_negative(
            config, "late_apply_window", DEFAULT_LATE_APPLY_WINDOW
        ),
    )
