"""AniBridge configuration: `anibridge.yaml`, env overrides, secrets, providers.

Public API: `load_config` / `parse_config` → `LoadedConfig` (with `.app`, an
`AppConfig`), `ConfigError` (one paragraph: file, key path, expectation),
`build_provider` / `load_provider_class` / `available_providers` (the
``anibridge.providers`` entry-point group), `resolve_secrets` / `redact`, and
`TEMPLATE` (what `anibridge init` writes), and the one validator every front end
uses (`validate_config_text` / `validate_config_data`: YAML limits, schema,
providers).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anibridge.app.config.load import (
        CONFIG_ENV,
        CONFIG_MAX_BYTES,
        ConfigError,
        LoadedConfig,
        default_config_path,
        load_config,
        parse_config,
        read_yaml,
    )
    from anibridge.app.config.model import (
        AppConfig,
        BackupSettings,
        HostedSettings,
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
    from anibridge.app.config.validate import (
        check_providers,
        validate_config_data,
        validate_config_text,
    )

# Imported on first use (PEP 562): `anibridge init` needs only the template, and
# should not pay for pydantic, which the models and the loader import.
_HOMES = {
    **dict.fromkeys(
        (
            "CONFIG_ENV",
            "CONFIG_MAX_BYTES",
            "ConfigError",
            "LoadedConfig",
            "default_config_path",
            "load_config",
            "parse_config",
            "read_yaml",
        ),
        "load",
    ),
    **dict.fromkeys(
        (
            "AppConfig",
            "BackupSettings",
            "HostedSettings",
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
    **dict.fromkeys(
        ("check_providers", "validate_config_data", "validate_config_text"),
        "validate",
    ),
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
    "CONFIG_MAX_BYTES",
    "TEMPLATE",
    "AppConfig",
    "BackupSettings",
    "ConfigError",
    "HostedSettings",
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
    "check_providers",
    "default_config_path",
    "load_config",
    "load_provider_class",
    "parse_config",
    "read_yaml",
    "redact",
    "resolve_secrets",
    "validate_config_data",
    "validate_config_text",
]
