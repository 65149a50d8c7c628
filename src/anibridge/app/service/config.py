"""The config use cases: show it (secrets masked), check it, save it.

One validator for every front end (`anibridge.app.config.validate`); this module
adds what a front end that *edits* the file needs on top of it:

- `masked_text`: the file as a person may see it (secrets ``***``, references
  ``<secret from env X>``, comments and order kept);
- `check_text`: an edited text is checked after the stored secrets are put back
  where it still says ``***`` (the editor never saw them), so the web editor,
  ``PUT /api/config`` and ``anibridge config check`` report the same problems in
  the same words;
- `check_file`: the CLI's entry (size checked before reading);
- `save`: validated, secrets restored, written atomically as submitted
  (comments, order, quoting) and answered with the loaded config, so the caller
  can apply it without a restart (`anibridge.app.web.reload`).
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anibridge.app.config import (
    CONFIG_MAX_BYTES,
    ConfigError,
    LoadedConfig,
    read_yaml,
    redact,
    validate_config_data,
    validate_config_text,
)
from anibridge.app.config.edit import YAMLError, rewrite_text
from anibridge.app.service.errors import InvalidInput
from anibridge.messages import clip

__all__ = [
    "ConfigInvalid",
    "Saved",
    "atomic_write",
    "check_file",
    "check_text",
    "masked_text",
    "restore_secrets",
    "save",
]


class ConfigInvalid(InvalidInput):
    """A config text failed validation; `problems` lists each, as the CLI says it."""

    status = 422

    def __init__(self, problems: list[str]) -> None:
        """Carry every problem (the message is all of them, joined)."""
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Saved:
    """A saved config.

    Attributes:
        path: Where it was written.
        changed: Top-level keys whose value changed (``profiles``, ``web``, …).
        loaded: The config as a run will load it (validated).
    """

    path: Path
    changed: tuple[str, ...]
    loaded: LoadedConfig

    def to_json(self) -> dict[str, Any]:
        """The API's shape."""
        return {"saved": True, "path": str(self.path), "changed": list(self.changed)}


def _stored(path: Path) -> Any:
    """The stored config as data ({} when it is unreadable or not a mapping)."""
    try:
        data = read_yaml(path.read_text(encoding="utf-8"), path=path)
    except (OSError, ConfigError):
        return {}
    return data if isinstance(data, dict) else {}


def masked_text(path: Path) -> str:
    """The config file with every secret replaced by ``***`` (comments kept)."""
    try:
        text = path.read_text(encoding="utf-8")
        read_yaml(text, path=path)  # limits first: the round-trip parser expands
        return rewrite_text(text, redact)
    except (OSError, YAMLError, ConfigError) as exc:
        return f"# config unreadable: {clip(str(exc), 300)}\n"


def restore_secrets(new: Any, old: Any) -> Any:
    """Put stored values back where the edited data still shows them masked.

    ``***`` and ``<secret from …>`` stand for the stored value; a string shown
    with a secret masked inside it (``http://user:***@host/``) and left alone
    keeps the stored string.
    """
    if isinstance(new, dict):
        return {
            k: restore_secrets(v, old.get(k) if isinstance(old, dict) else None)
            for k, v in new.items()
        }
    if isinstance(new, list):
        olds = old if isinstance(old, list) else []
        return [
            restore_secrets(v, olds[i] if i < len(olds) else None)
            for i, v in enumerate(new)
        ]
    masked = isinstance(new, str) and (new == "***" or new.startswith("<secret from "))
    if masked and old is not None:
        return copy.deepcopy(old)
    shown = isinstance(old, str) and new != old and redact(old) == new
    return old if shown else new


def _unmasked(text: str, path: Path) -> Any:
    """The submitted text as data with the stored secrets put back.

    Raises:
        ConfigError: not valid YAML, or over a limit.
    """
    return restore_secrets(read_yaml(text, path=path), _stored(path))


def check_text(
    text: str, *, path: Path, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Problems with an edited config text ([] = valid); see the module doc."""
    try:
        data = _unmasked(text, path)
    except ConfigError as exc:
        return [str(exc)]
    return validate_config_data(data, path=path, environ=environ)[1]


def check_file(path: Path, *, environ: Mapping[str, str] | None = None) -> list[str]:
    """Problems with the config file at `path` ([] = valid): the CLI's check."""
    try:
        size = path.stat().st_size
        if size > CONFIG_MAX_BYTES:
            return [
                f"config file {path} refused: it is {size:,} bytes; "
                f"the limit is {CONFIG_MAX_BYTES:,} bytes"
            ]
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [f"config file {path} is not readable: {exc}"]
    return validate_config_text(text, path=path, environ=environ)[1]


def save(text: str, *, path: Path, environ: Mapping[str, str] | None = None) -> Saved:
    """Validate and write an edited config; ``***`` keeps the stored secret.

    Raises:
        ConfigInvalid: the text (with secrets restored) fails validation;
            nothing is written.
    """
    problems = check_text(text, path=path, environ=environ)
    if problems:
        raise ConfigInvalid(problems)
    old = _stored(path)
    data = _unmasked(text, path)
    loaded, problems = validate_config_data(data, path=path, environ=environ)
    if loaded is None:  # pragma: no cover - checked just above
        raise ConfigInvalid(problems)
    new = data if isinstance(data, dict) else {}
    atomic_write(path, rewrite_text(text, lambda doc: restore_secrets(doc, old)))
    changed = tuple(sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k)))
    return Saved(path, changed, loaded)


def atomic_write(path: Path, text: str) -> None:
    """Write through a sibling temp file: a crash leaves the old file or the new.

    Shared with the web back end (kept plans, titles, custom mappings) so no
    file it rewrites can be left half written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
