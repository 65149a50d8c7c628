"""AniBridge configuration: `anibridge.yaml`, env overrides, secrets, providers.

Public API: `load_config` / `parse_config` → `LoadedConfig` (with `.app`, an
`AppConfig`), `ConfigError` (one paragraph: file, key path, expectation),
`build_provider` / `load_provider_class` / `available_providers` (the
``anibridge.providers`` entry-point group), `resolve_secrets` / `redact`, and
`TEMPLATE` (what `anibridge init` writes).
"""

from __future__ import annotations

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
