"""AniBridge configuration: `anibridge.yaml`, env overrides, secrets, providers.

Public API: `load_config` / `parse_config` → `LoadedConfig` (with `.app`, an
`AppConfig`), `ConfigError` (one paragraph: file, key path, expectation),
`build_provider` / `load_provider_class` / `available_providers` (the
``anibridge.providers`` entry-point group), `resolve_secrets` / `redact`, and
`TEMPLATE` (what `anibridge init` writes).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anibridge.app.config.load import (
        CONFIG_ENV,
        ConfigError,
        LoadedConfig,
        default_config_path,
        load_config,
        parse_config,
    )
    from anibridge.app.config.model import (
        AppConfig,
        BackupSettings,
        MappingsSettings,
        ProfileConfig,
        ProviderSpec,
        RuleConfig,
        ScheduleConfig,
    )
    from anibridge.app.config.providers import (
        ProviderLoadError,
        available_providers,
        build_provider,
        load_provider_class,
    )
    from anibridge.app.config.secrets import SecretError, redact, resolve_secrets
    from anibridge.app.config.template import TEMPLATE

# Imported on first use (PEP 562): `anibridge init` needs only the template, and
# should not pay for pydantic, which the models and the loader import.
_HOMES = {
    **dict.fromkeys(
        (
            "CONFIG_ENV",
            "ConfigError",
            "LoadedConfig",
            "default_config_path",
            "load_config",
            "parse_config",
        ),
        "load",
    ),
    **dict.fromkeys(
        (
            "AppConfig",
            "BackupSettings",
            "MappingsSettings",
            "ProfileConfig",
            "ProviderSpec",
            "RuleConfig",
            "ScheduleConfig",
        ),
        "model",
    ),
    **dict.fromkeys(
        (
            "ProviderLoadError",
            "available_providers",
            "build_provider",
            "load_provider_class",
        ),
        "providers",
    ),
    **dict.fromkeys(("SecretError", "redact", "resolve_secrets"), "secrets"),
    "TEMPLATE": "template",
}


def __getattr__(name: str) -> Any:
    """Import the submodule that defines `name` when it is first asked for.

    Raises:
        AttributeError: no such name in the package.
    """
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "CONFIG_ENV",
    "TEMPLATE",
    "AppConfig",
    "BackupSettings",
    "ConfigError",
    "LoadedConfig",
    "MappingsSettings",
    "ProfileConfig",
    "ProviderLoadError",
    "ProviderSpec",
    "RuleConfig",
    "ScheduleConfig",
    "SecretError",
    "available_providers",
    "build_provider",
    "default_config_path",
    "load_config",
    "load_provider_class",
    "parse_config",
    "redact",
    "resolve_secrets",
]
