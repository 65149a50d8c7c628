"""Validated configuration of the Simkl provider.

Bad config fails at construction with the key and what is expected, never later in
the middle of a sync.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anibridge.http.clock import Clock, clock_from_config
from anibridge.provider.config_keys import ConfigKey, unknown_keys
from anibridge.providers.simkl.api import DEFAULT_BASE_URL

__all__ = ["CONFIG_KEYS", "SimklConfigError", "SimklSettings", "parse_settings"]

#: Every config key, with what it is for (shown by `anibridge providers`).
CONFIG_KEYS: Mapping[str, ConfigKey] = {
    "client_id": ConfigKey(
        "your Simkl app's client id (simkl.com/settings/developer)",
        required=True,
        example="",
    ),
    "access_token": ConfigKey(
        "a token (else `anibridge login simkl` saves one)",
        secret=True,
        env="SIMKL_TOKEN",
        login=True,
    ),
    "token_store": ConfigKey("set by AniBridge: the token store", internal=True),
    "token_key": ConfigKey("name of the saved token (default 'simkl')"),
    "base_url": ConfigKey(f"API root (default {DEFAULT_BASE_URL})"),
    "app_version": ConfigKey("app-version sent to Simkl (default: AniBridge's)"),
    "write_batch_size": ConfigKey("items per write request (default 100)"),
    "refresh_interval": ConfigKey(
        "seconds a read of /sync/activities stays fresh (default 60)"
    ),
    "timeout": ConfigKey("seconds per request (default 30)"),
    "clock": ConfigKey("tests only: an anibridge.http Clock", internal=True),
    "time_scale": ConfigKey(
        "tests only: real seconds per service second", internal=True
    ),
}


class SimklConfigError(ValueError):
    """The Simkl provider config is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class SimklSettings:
    """Everything the provider reads from its config mapping."""

    client_id: str
    access_token: str | None
    token_store: Any
    token_key: str
    base_url: str
    app_version: str
    write_batch_size: int
    refresh_interval: float
    timeout: float
    clock: Clock


def _text(config: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = config.get(key)
    if value is None or value == "":
        if required:
            raise SimklConfigError(
                f"simkl: config key {key!r} is required (create an app at "
                "https://simkl.com/settings/developer/new/)"
            )
        return None
    if not isinstance(value, str):
        raise SimklConfigError(f"simkl: config key {key!r} must be a string")
    return value


def _positive(config: Mapping[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise SimklConfigError(f"simkl: config key {key!r} must be a positive number")
    return float(value)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("anibridge")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "0"


def parse_settings(config: Mapping[str, Any]) -> SimklSettings:
    """Validate `config`.

    Returns:
        The settings.

    Raises:
        SimklConfigError: unknown keys, wrong types, or a missing client id.
    """
    unknown = unknown_keys("simkl", config, CONFIG_KEYS)
    if unknown:
        raise SimklConfigError(unknown)
    store = config.get("token_store")
    if store is not None and not (hasattr(store, "load") and hasattr(store, "save")):
        raise SimklConfigError(
            "simkl: config key 'token_store' needs async load(key) and save(key, "
            "tokens)"
        )
    try:
        clock = clock_from_config(config)
    except ValueError as exc:
        raise SimklConfigError(f"simkl: {exc}") from None
    batch = _positive(config, "write_batch_size", 100)
    if batch != int(batch):
        raise SimklConfigError("simkl: config key 'write_batch_size' must be whole")
    return SimklSettings(
        client_id=_text(config, "client_id", required=True) or "",
        access_token=_text(config, "access_token"),
        token_store=store,
        token_key=_text(config, "token_key") or "simkl",
        base_url=(_text(config, "base_url") or DEFAULT_BASE_URL).rstrip("/"),
        app_version=_text(config, "app_version") or _version(),
        write_batch_size=int(batch),
        refresh_interval=_positive(config, "refresh_interval", 60.0),
        timeout=_positive(config, "timeout", 30.0),
        clock=clock,
    )
