"""Keep credentials out of logs and error messages."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "cookie",
        "set-cookie",
        "x-plex-token",
        "x-emby-token",
        "x-mediabrowser-token",
        "trakt-api-key",
        "x-api-key",
    }
)
_SENSITIVE_QUERY = re.compile(
    r"(?i)([?&](?:x-plex-token|api_key|apikey|access_token|refresh_token|token|"
    r"client_secret|code)=)[^&#\s]*"
)
MASK = "***"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values and secret-looking query parameters in `text`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return _SENSITIVE_QUERY.sub(rf"\g<1>{MASK}", text)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of `headers` with credential headers masked."""
    return {
        name: (MASK if name.lower() in SENSITIVE_HEADERS else value)
        for name, value in headers.items()
    }
