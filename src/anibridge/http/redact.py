"""Keep credentials out of logs, pages, API answers and error messages.

Two complementary rules:

- **By value**: every secret the app resolves (config secrets, ``{env:}``/``{file:}``
  references, passwords in URLs and database DSNs, the token-encryption key, tokens
  from the encrypted token store, refreshed OAuth tokens) is registered once in
  `SECRETS`, in every spelling it may take in output (as is, percent-encoded,
  HTML-escaped, JSON-escaped), and `mask` replaces all of them with ``***``. Log
  records are masked when they are created (`install_log_masking`), so no handler —
  ours, uvicorn's access log, a library's — ever sees a registered value.
- **By shape**: credential headers, ``scheme://user:PASSWORD@`` userinfo and
  secret-looking query parameters are masked even when their value was never
  registered.

Values shorter than `MIN_SECRET_LENGTH` are not registered (they would mask ordinary
words); key-based masking of the config still covers them.
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "SECRETS",
    "SENSITIVE_HEADERS",
    "SecretRegistry",
    "install_log_masking",
    "mask",
    "redact",
    "redact_headers",
    "secret_key_hint",
]

SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "cookie",
        "set-cookie",
        "x-plex-token",
        "x-emby-token",
        "x-mediabrowser-token",
        "trakt-api-key",
        "simkl-api-key",
        "x-api-key",
    }
)
_SENSITIVE_QUERY = re.compile(
    r"(?i)([?&](?:x-plex-token|api_key|apikey|access_token|refresh_token|token|"
    r"client_secret|code|password)=)[^&#\s]*"
)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@'\"<>]*:)[^@/\s'\"<>]+@")
_SECRET_KEYS = ("token", "secret", "password", "passwd", "api_key", "apikey")
MASK = "***"
MIN_SECRET_LENGTH = 6


def secret_key_hint(key: object) -> bool:
    """Whether a mapping key names a secret (``token``, ``client_secret``, ...)."""
    lowered = str(key).lower()
    return any(hint in lowered for hint in _SECRET_KEYS)


class SecretRegistry:
    """The secret values this process knows, masked in any text on request."""

    def __init__(self) -> None:
        """An empty registry."""
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many spellings are registered."""
        return len(self._values)

    def __contains__(self, value: object) -> bool:
        """Whether `value` itself is registered."""
        return value in self._values

    def add(self, value: object) -> None:
        """Register a secret (and its encoded spellings); short values are ignored."""
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str) or len(value.strip()) < MIN_SECRET_LENGTH:
            return
        forms = {
            value,
            value.strip(),
            quote(value, safe=""),
            quote_plus(value, safe=""),
            html.escape(value),
            json.dumps(value)[1:-1],
        }
        new = {f for f in forms if len(f) >= MIN_SECRET_LENGTH} - self._values
        if not new:
            return
        with self._lock:
            self._values |= new
            self._pattern = None
        install_log_masking()

    def add_url(self, url: object) -> None:
        """Register the password (and secret query values) of a URL or DSN."""
        if not isinstance(url, str) or "://" not in url:
            return
        try:
            parts = urlsplit(url.strip())
            password = parts.password
        except ValueError:
            return
        if password:
            self.add(unquote(password))
            self.add(password)
        for name, value in parse_qsl(parts.query):
            if secret_key_hint(name):
                self.add(value)

    def add_mapping(self, data: Any, key: str = "") -> None:
        """Register what decoded config-like data holds in secret-looking keys.

        Every string under a key like ``token`` or ``password`` is registered, and
        the password of every URL or DSN anywhere in the data.
        """
        if isinstance(data, Mapping):
            for k, v in data.items():
                self.add_mapping(v, str(k))
        elif isinstance(data, list | tuple):
            for v in data:
                self.add_mapping(v, key)
        elif isinstance(data, str):
            if secret_key_hint(key):
                self.add(data)
            self.add_url(data)

    def clear(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._values.clear()
            self._pattern = None

    def _compiled(self) -> re.Pattern[str] | None:
        pattern = self._pattern
        if pattern is None and self._values:
            with self._lock:
                ordered = sorted(self._values, key=len, reverse=True)
                pattern = re.compile("|".join(re.escape(v) for v in ordered))
                self._pattern = pattern
        return pattern

    def mask(self, text: str) -> str:
        """`text` with every registered value replaced by ``***``."""
        pattern = self._compiled()
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)


SECRETS = SecretRegistry()


def mask(text: str) -> str:
    """`text` with registered secrets and URL passwords masked."""
    return _USERINFO.sub(rf"\g<1>{MASK}@", SECRETS.mask(text))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with secrets masked: `secrets`, registered ones, URL passwords.

    Secret-looking query parameters (``?token=``) are masked by shape too.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return _SENSITIVE_QUERY.sub(rf"\g<1>{MASK}", mask(text))


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of `headers` with credential headers masked."""
    return {
        name: (MASK if name.lower() in SENSITIVE_HEADERS else value)
        for name, value in headers.items()
    }


_installed = False
_install_lock = threading.Lock()


def install_log_masking() -> None:
    """Mask every log record of the process when it is created (idempotent).

    The message is formatted once, masked, and stored pre-formatted; a traceback is
    formatted and masked into ``exc_text``, which formatters print as is. Handlers
    added later (uvicorn's, a library's, the web logs page) inherit the masking.
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        _installed = True
        previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler
            return record
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
        return record

    logging.setLogRecordFactory(factory)
