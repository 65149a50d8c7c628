"""One config validator for every front end: CLI, web editor and ``PUT /api/config``.

Validation has three layers, always run in this order and reported with the same
words wherever they run:

1. YAML within limits (`read_yaml`: size, alias expansion, depth);
2. the schema (`parse_config`: keys, types, ranges, web settings);
3. every profile's providers (`check_providers`): the provider exists, its secrets
   resolve, its own config parser accepts the config, and its local files are usable
   (`preflight`) — built exactly as a run builds them, with no network and nothing
   written.

The web editor restores masked secrets before calling `validate_config_data`; the CLI
(`anibridge config check`) reads the file and calls the same function, so a config the
web saves is one the CLI runs, and the other way round.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from anibridge.app.config.load import ConfigError, LoadedConfig, parse_config, read_yaml
from anibridge.app.config.providers import ProviderLoadError, build_provider
from anibridge.app.config.secrets import SecretError
from anibridge.messages import clip

__all__ = ["check_providers", "validate_config_data", "validate_config_text"]

_QUIET = logging.getLogger("anibridge.app.config.validate")


class _NoTokens:
    """Stands in for the token store a run passes.

    Providers that can take their token from it (Plex after `anibridge login plex`)
    accept a config without one; the check never signs in, so nothing is loaded.
    """

    async def load(self, key: str) -> None:
        """Nothing saved, as far as an offline check knows."""
        return None

    async def save(self, key: str, tokens: dict[str, Any]) -> None:
        """Never called: nothing is initialized."""


def check_providers(
    loaded: LoadedConfig,
    *,
    environ: Mapping[str, str] | None = None,
    profiles: list[str] | None = None,
) -> list[str]:
    """Problems with the providers of `profiles` (default: all), one per provider.

    Each provider is built as `anibridge.app.runtime.open_session` builds it (so the
    messages are the ones a run would print) and its files are checked without
    writing; nothing is initialized, so nothing goes over the network.
    """
    problems: list[str] = []
    for name, profile in loaded.app.profiles.items():
        if profiles is not None and name not in profiles:
            continue
        for side, spec in (("source", profile.source), ("target", profile.target)):
            where = f"profiles.{name}.{side}"
            try:
                provider = build_provider(
                    spec,
                    where=where,
                    base_dir=loaded.base_dir,
                    environ=environ,
                    logger=_QUIET,
                    token_store=_NoTokens(),
                )
                preflight = getattr(provider, "preflight", None)
                if callable(preflight):
                    preflight()
            except (ProviderLoadError, SecretError, ValueError, RuntimeError) as exc:
                # Provider file/document errors name their file, as a run prints them.
                problems.append(clip(str(exc)))
            except Exception as exc:
                problems.append(clip(f"{where}: {type(exc).__name__}: {exc}"))
    return problems


def validate_config_data(
    data: Any, *, path: Path, environ: Mapping[str, str] | None = None
) -> tuple[LoadedConfig | None, list[str]]:
    """Schema and provider checks of decoded YAML: ``(config or None, problems)``."""
    try:
        loaded = parse_config(data, path=path, environ=environ)
    except ConfigError as exc:
        return None, [clip(str(exc))]
    problems = check_providers(loaded, environ=environ)
    return (loaded if not problems else None), problems


def validate_config_text(
    text: str, *, path: Path, environ: Mapping[str, str] | None = None
) -> tuple[LoadedConfig | None, list[str]]:
    """Every check on a config's text: ``(config or None, problems)``."""
    try:
        data = read_yaml(text, path=path)
    except ConfigError as exc:
        return None, [str(exc)]
    return validate_config_data(data, path=path, environ=environ)
