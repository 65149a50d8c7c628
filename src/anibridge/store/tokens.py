"""The writable, encrypted token store providers use to persist refreshed OAuth tokens.

Tokens are secrets: they are encrypted at rest with Fernet (AES-128-CBC + HMAC) under
a key the user controls (`ANIBRIDGE_SECRET_KEY`, or a key file), so a copied database
leaks nothing. Providers receive an object with `async load(key)` / `async save(key,
tokens)` as ``config["token_store"]`` (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from anibridge.http.redact import SECRETS
from anibridge.store.sql import SqlStore

__all__ = ["SecretKeyError", "TokenStore", "load_secret_key"]

KEY_ENV = "ANIBRIDGE_SECRET_KEY"
KEY_FILE_ENV = "ANIBRIDGE_SECRET_KEY_FILE"


class SecretKeyError(RuntimeError):
    """The token encryption key is missing, malformed, or does not open a token."""


def load_secret_key(
    data_dir: Path | None = None, *, environ: dict[str, str] | None = None
) -> bytes:
    """The Fernet key: from the env, a key file, or a generated file in `data_dir`.

    A generated key is written with mode 0600 next to the store so a fresh install
    works without setup; set `ANIBRIDGE_SECRET_KEY(_FILE)` to keep it elsewhere.

    Raises:
        SecretKeyError: the configured key is not a valid Fernet key, or no key
            source exists and no data directory was given.
    """
    env = os.environ if environ is None else environ
    source: str
    if env.get(KEY_ENV):
        key, source = env[KEY_ENV].encode(), f"${KEY_ENV}"
    elif env.get(KEY_FILE_ENV):
        path = Path(env[KEY_FILE_ENV]).expanduser()
        try:
            key, source = path.read_bytes().strip(), str(path)
        except OSError as exc:
            raise SecretKeyError(
                f"secret key file {path} is not readable: {exc}"
            ) from exc
    elif data_dir is not None:
        path = data_dir / "secret.key"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
        key, source = path.read_bytes().strip(), str(path)
    else:
        raise SecretKeyError(
            f"no token encryption key: set {KEY_ENV} or {KEY_FILE_ENV}"
        )
    SECRETS.add(key)
    try:
        Fernet(key)
    except (ValueError, TypeError) as exc:
        raise SecretKeyError(
            f"token encryption key from {source} is not a Fernet key (32 url-safe "
            "base64 bytes; make one with `anibridge init` or Fernet.generate_key())"
        ) from exc
    return key


class TokenStore:
    """Encrypted per-provider token blobs in the store's ``tokens`` table."""

    def __init__(self, store: SqlStore, key: bytes, *, namespace: str = "") -> None:
        """Bind to a store and key; `namespace` prefixes keys (e.g. the profile)."""
        self._store = store
        self._fernet = Fernet(key)
        self._namespace = namespace

    def _key(self, key: str) -> str:
        return f"{self._namespace}:{key}" if self._namespace else key

    async def load(self, key: str) -> dict[str, Any] | None:
        """The tokens saved under `key`, or None.

        Raises:
            SecretKeyError: the stored tokens were encrypted with another key.
        """
        blob = self._store.token_blob(self._key(key))
        if blob is None:
            return None
        try:
            plain = self._fernet.decrypt(blob)
        except InvalidToken as exc:
            raise SecretKeyError(
                f"stored tokens for {key!r} do not decrypt with the configured key "
                "(was ANIBRIDGE_SECRET_KEY changed?); sign in again to replace them"
            ) from exc
        data = json.loads(plain)
        SECRETS.add_mapping(data)
        return data if isinstance(data, dict) else None

    async def save(self, key: str, tokens: dict[str, Any]) -> None:
        """Encrypt and store `tokens` under `key` (replacing older ones)."""
        SECRETS.add_mapping(tokens)
        blob = self._fernet.encrypt(json.dumps(tokens, sort_keys=True).encode())
        self._store.put_token_blob(self._key(key), blob)

    async def delete(self, key: str) -> None:
        """Forget the tokens under `key`."""
        self._store.delete_token_blob(self._key(key))
