"""Validated configuration of the Trakt provider.

Bad config fails at construction with the key and what is expected, never later in
the middle of a sync.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anibridge.http.clock import Clock, ScaledClock
from anibridge.providers.trakt.api import DEFAULT_BASE_URL

_KNOWN_KEYS = frozenset(
    {
        "client_id",
        "client_secret",
        "access_token",
        "refresh_token",
        "expires_at",
        "base_url",
        "token_store",
        "token_key",
        "clock",
        "time_scale",
        "page_size",
        "write_batch_size",
        "timeout",
        "full_structure",
    }
)


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
    unknown = set(config) - _KNOWN_KEYS
    if unknown:
        raise TraktConfigError(
            f"trakt: unknown config key(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(_KNOWN_KEYS))})"
        )
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
    )
