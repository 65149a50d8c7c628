"""Finding provider classes through the ``anibridge.providers`` entry-point group.

Third-party providers install the same way as built-in ones. Declared providers whose
module is missing or broken are reported only when a profile uses them, so one broken
plugin never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from anibridge.app.config.model import ProviderSpec
from anibridge.app.config.secrets import resolve_secrets
from anibridge.messages import quote
from anibridge.provider.base import Provider

__all__ = [
    "GROUP",
    "ProviderLoadError",
    "available_providers",
    "build_provider",
    "load_provider_class",
]

GROUP = "anibridge.providers"
_PATH_KEYS = frozenset({"path", "seed"})


class ProviderLoadError(RuntimeError):
    """A provider is unknown, failed to import, or rejected its config."""


def available_providers() -> dict[str, EntryPoint]:
    """Declared providers by name (not imported)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load_provider_class(name: str, *, where: str = "") -> type[Provider]:
    """Import one provider class by entry-point name.

    Raises:
        ProviderLoadError: unknown name, or declared but not loadable.
    """
    prefix = f"{where}: " if where else ""
    declared = available_providers()
    if name not in declared:
        raise ProviderLoadError(
            f"{prefix}unknown provider {quote(name)}; installed providers: "
            f"{', '.join(sorted(declared)) or 'none'}"
        )
    try:
        cls = declared[name].load()
    except Exception as exc:
        raise ProviderLoadError(
            f"{prefix}provider {quote(name)} is declared ({declared[name].value}) but "
            f"is not installed or failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ProviderLoadError(
            f"{prefix}provider {quote(name)} ({declared[name].value}) is not a Provider"
        )
    return cls


def build_provider(
    spec: ProviderSpec,
    *,
    where: str,
    base_dir: Path,
    token_store: Any = None,
    logger: logging.Logger | None = None,
    environ: Mapping[str, str] | None = None,
) -> Provider:
    """Construct (not initialize) the provider a profile names.

    Secrets are resolved here; relative ``path``/``seed`` values are taken relative
    to the config file's folder. `token_store` is handed over unless the class lists
    its ``CONFIG_KEYS`` without it.

    Raises:
        ProviderLoadError: unknown/unloadable provider or a config it rejects.
        SecretError: a secret reference cannot be resolved.
    """
    cls = load_provider_class(spec.type, where=f"{where}.type")
    config = resolve_secrets(
        dict(spec.config), where=f"{where}.config", base_dir=base_dir, environ=environ
    )
    for key in _PATH_KEYS & set(config):
        value = config[key]
        if (
            isinstance(value, str)
            and value
            and not Path(value).expanduser().is_absolute()
        ):
            config[key] = str(base_dir / value)
    declared = getattr(cls, "CONFIG_KEYS", None)
    if token_store is not None and (declared is None or "token_store" in declared):
        # A provider that lists its keys without `token_store` keeps no tokens
        # (and may refuse keys it does not know).
        config["token_store"] = token_store
    try:
        return cls(
            logger=logger or logging.getLogger(f"anibridge.providers.{spec.key}"),
            config=config,
        )
    except (ValueError, TypeError) as exc:
        raise ProviderLoadError(f"{where}.config: {exc}") from exc
