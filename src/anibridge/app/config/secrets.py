"""Secrets in provider configs: ``{env: NAME}`` or ``{file: PATH}``, never echoed.

A secret is written in the YAML as a reference, so the file can be shared or committed
without credentials; it is resolved only when a provider is built, and errors name the
key path and the variable or file, never the value. Every value resolved here is
registered with `anibridge.http.redact.SECRETS`, so it is masked wherever text leaves
the process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from anibridge.http.redact import SECRETS, mask, secret_key_hint
from anibridge.messages import quote

__all__ = ["SecretError", "redact", "resolve_secrets"]


class SecretError(ValueError):
    """A secret reference cannot be resolved; names the key and the source."""


def _is_ref(value: object) -> bool:
    return (
        isinstance(value, Mapping)
        and len(value) == 1
        and next(iter(value)) in ("env", "file")
    )


def resolve_secrets(
    value: Any,
    *,
    where: str,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """Replace every ``{env: X}`` / ``{file: P}`` inside `value` with the secret.

    Raises:
        SecretError: a variable is unset or a file unreadable (path in message).
    """
    env = os.environ if environ is None else environ
    if _is_ref(value):
        ((source, name),) = value.items()
        if source == "env":
            if not isinstance(name, str) or name not in env:
                raise SecretError(
                    f"{where}: environment variable {quote(name)} is not set"
                )
            SECRETS.add(env[name])
            return env[name]
        path = Path(str(name)).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretError(
                f"{where}: secret file {path} is not readable ({exc.strerror})"
            ) from None
        SECRETS.add(secret)
        return secret
    if isinstance(value, Mapping):
        return {
            k: resolve_secrets(v, where=f"{where}.{k}", base_dir=base_dir, environ=env)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            resolve_secrets(v, where=f"{where}[{i}]", base_dir=base_dir, environ=env)
            for i, v in enumerate(value)
        ]
    return value


def redact(value: Any, key: str = "") -> Any:
    """A copy safe to print: secret keys, secret refs and registered values masked.

    Registered values are masked inside other strings too (a password in a URL).
    """
    if _is_ref(value):
        ((source, name),) = value.items()
        return f"<secret from {source} {name}>"
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if secret_key_hint(key) and value not in (None, ""):
        return "***"
    if isinstance(value, str):
        return mask(value)
    return value
