"""Reading `anibridge.yaml`: file → env overrides → validation → `LoadedConfig`.

Every failure becomes one `ConfigError` paragraph naming the file, the key path and
what was expected (never the offending value: it may be a secret). Environment
variables override file keys: ``ANIBRIDGE_STORE_URL`` sets ``store_url`` and
``ANIBRIDGE_PROFILES__DEMO__DIRECTION`` sets ``profiles.demo.direction`` (``__``
separates levels; values are read as YAML scalars).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from anibridge.app.config.model import AppConfig, ProfileConfig
from anibridge.http.redact import SECRETS
from anibridge.messages import clip, quote
from anibridge.safeyaml import YamlLimitError, load_yaml

__all__ = [
    "CONFIG_ENV",
    "CONFIG_MAX_BYTES",
    "ConfigError",
    "LoadedConfig",
    "default_config_path",
    "env_overrides",
    "load_config",
    "parse_config",
    "read_yaml",
]

CONFIG_ENV = "ANIBRIDGE_CONFIG"
CONFIG_MAX_BYTES = 1 << 20  # a config is a few KB; anything near this is a mistake
_PREFIX = "ANIBRIDGE_"
# ANIBRIDGE_* variables that are not config keys.
_RESERVED = frozenset(
    {
        "CONFIG",
        "SECRET_KEY",
        "SECRET_KEY_FILE",
        "PYTHON",
        "VENV",
        "HOME",
        "MAPPINGS_CACHE",  # read by anibridge.mappings.dataset
        "MAPPINGS_URL",
        "FAULTS",  # read by anibridge.faults (crash tests only)
        "FAULT_TRACE",
    }
)


class ConfigError(ValueError):
    """The configuration cannot be used; one paragraph saying what and where."""


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A validated config plus where it came from (relative paths resolve there)."""

    app: AppConfig
    path: Path
    env_keys: dict[str, str] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the config are relative to."""
        return self.path.parent

    def resolve(self, value: str) -> Path:
        """A config path made absolute against the config's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def data_dir(self) -> Path:
        """Where the store, backups and the generated secret key live."""
        return self.resolve(self.app.data_dir)

    @property
    def store_url(self) -> str:
        """The store's SQLAlchemy URL (default: SQLite in the data dir)."""
        if self.app.store_url:
            return self.app.store_url
        return f"sqlite:///{(self.data_dir / 'anibridge.db').resolve()}"

    @property
    def backup_dir(self) -> Path:
        """Where backups are written."""
        if self.app.backups.directory:
            return self.resolve(self.app.backups.directory)
        return self.data_dir / "backups"

    def profile(self, name: str | None) -> tuple[str, ProfileConfig]:
        """A profile by name; None picks the only one (or ``default``).

        Raises:
            ConfigError: no such profile, or several and none named.
        """
        profiles = self.app.profiles
        if not profiles:
            raise ConfigError(
                f"{self.path}: no profiles are configured; add one under 'profiles:' "
                "(see `anibridge init`)"
            )
        if name is None:
            if len(profiles) == 1:
                return next(iter(profiles.items()))
            if "default" in profiles:
                return "default", profiles["default"]
            raise ConfigError(
                f"{self.path}: several profiles ({', '.join(profiles)}); choose one "
                "with --profile"
            )
        if name not in profiles:
            raise ConfigError(
                f"{self.path}: no profile {quote(name)} "
                f"(configured: {', '.join(profiles)})"
            )
        return name, profiles[name]


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The config used without ``--config``.

    ``$ANIBRIDGE_CONFIG``; else ``./anibridge.yaml`` when it exists (a project or
    container folder); else ``anibridge.yaml`` in the user's config folder, where
    `anibridge init` writes (named in the error when it does not exist either).
    """
    env = os.environ if environ is None else environ
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser()
    here = Path("anibridge.yaml")
    if here.exists():
        return here
    from anibridge.app.config.setup import user_config_path

    return user_config_path(env)


def _scalar(text: str) -> Any:
    try:
        return load_yaml(text, max_bytes=64 * 1024, max_alias_nodes=0)
    except yaml.YAMLError:
        return text


def env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Apply ``ANIBRIDGE_A__B=v`` to `data` in place; returns key path → variable."""
    applied: dict[str, str] = {}
    for var in sorted(environ):
        if not var.startswith(_PREFIX):
            continue
        rest = var[len(_PREFIX) :]
        if not rest or rest in _RESERVED or rest.startswith("TEST_"):
            continue
        parts = [p for p in rest.split("__") if p]
        node: dict[str, Any] = data
        path: list[str] = []
        for i, part in enumerate(parts):
            match = next((k for k in node if str(k).lower() == part.lower()), None)
            key = match if match is not None else part.lower()
            path.append(str(key))
            if i == len(parts) - 1:
                node[key] = _scalar(environ[var])
            else:
                child = node.get(key)
                if not isinstance(child, dict):
                    child = {}
                    node[key] = child
                node = child
        applied[".".join(path)] = var
    return applied


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _explain(exc: ValidationError, where: str, env_keys: Mapping[str, str]) -> str:
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(p for p in error["loc"] if not str(p).startswith("function-"))
        # Literal/union tags and model names add noise to the path.
        loc = tuple(p for p in loc if p not in ("literal['all']", "list[RecordField]"))
        path = _loc(loc)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see `anibridge init`)"
        elif error["type"] == "missing":
            message = "required key is missing"
        message = message.removeprefix("Value error, ")
        source = next(
            (
                f" (set by {var})"
                for key, var in env_keys.items()
                if path.startswith(key)
            ),
            "",
        )
        lines.append(f"{path}{source}: {message}")
    unique = list(dict.fromkeys(lines))
    return (
        f"{where} is not a valid AniBridge config: "
        + "; ".join(unique[:8])
        + (f" (and {len(unique) - 8} more)" if len(unique) > 8 else "")
    )


def parse_config(
    data: Any,
    *,
    path: Path,
    environ: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Validate decoded YAML (after env overrides).

    Raises:
        ConfigError: the data is not a valid config.
    """
    env = os.environ if environ is None else environ
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} is not a valid AniBridge config: the top level must be a "
            f"mapping of keys, not a {type(data).__name__}"
        )
    data = copy.deepcopy(data)
    env_keys = env_overrides(data, env)
    # Secrets written out in the file or an override (keys like token/password,
    # passwords in URLs and DSNs) are known from here on, valid config or not.
    SECRETS.add_mapping(data)
    try:
        app = AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, str(path), env_keys)) from None
    return LoadedConfig(app, path.resolve(), env_keys)


def load_config(
    path: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Read and validate a config file.

    Raises:
        ConfigError: missing/unreadable file, bad YAML (with line and column), or an
            invalid key.
    """
    env = os.environ if environ is None else environ
    path = path or default_config_path(env)
    try:
        if path.stat().st_size > CONFIG_MAX_BYTES:
            raise ConfigError(
                f"config file {path} refused: it is {path.stat().st_size:,} bytes; "
                f"the limit is {CONFIG_MAX_BYTES:,} bytes"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist; create one with `anibridge init` "
            f"or point --config / ${CONFIG_ENV} at it"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not readable: {exc}") from None
    return parse_config(read_yaml(text, path=path), path=path, environ=env)


def read_yaml(text: str, *, path: Path) -> Any:
    """Decode a config's YAML within the limits (size, alias expansion, depth).

    Shared by `load_config` and the web editor, so both say the same thing.

    Raises:
        ConfigError: not valid YAML (with line and column) or over a limit.
    """
    try:
        return load_yaml(text, max_bytes=CONFIG_MAX_BYTES)
    except YamlLimitError as exc:
        raise ConfigError(f"config file {path} refused: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise ConfigError(
            f"config file {path} is not valid YAML{at}: {clip(str(problem), 300)}"
        ) from None
