"""Settings every media-server provider shares, validated once at construction."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from anibridge.http import Clock, ScaledClock
from anibridge.messages import quote
from anibridge.provider.config_keys import ConfigKey, unknown_keys

__all__ = [
    "LIBRARY_KEYS",
    "ORDERINGS",
    "LibrarySettings",
    "library_keys",
    "parse_library_settings",
]

#: Config spelling of an episode ordering -> the authority whose seasons it follows.
ORDERINGS = {
    "tvdb": "tvdb_show",
    "tmdb": "tmdb_show",
    "anidb": "anidb",
    "anilist": "anilist",
    "mal": "mal",
}


#: The keys every media-server provider reads (`library_keys` adds the server's).
LIBRARY_KEYS: Mapping[str, ConfigKey] = {
    "base_url": ConfigKey("the server's URL", required=True),
    "token": ConfigKey("an access token", required=True, secret=True),
    "user": ConfigKey("the user to sync (name or id; default: the token's)"),
    "sections": ConfigKey("library names to read, e.g. [Anime] (default: all)"),
    "genres": ConfigKey("keep only titles with one of these genres"),
    "strict": ConfigKey("keep only the ids of the show's episode ordering"),
    "ordering": ConfigKey(
        f"episode ordering when the server does not say: {', '.join(ORDERINGS)}"
    ),
    "page_size": ConfigKey("items per listing request (default 500)"),
    "token_store": ConfigKey("set by AniBridge: the token store", internal=True),
    "clock": ConfigKey("tests only: an anibridge.http Clock", internal=True),
    "time_scale": ConfigKey(
        "tests only: real seconds per service second", internal=True
    ),
    "now": ConfigKey(
        "tests only: the change feed's wall clock (epoch seconds, or a callable)",
        internal=True,
    ),
}


def _system_now() -> int:
    return int(time.time())


def library_keys(
    base_url: ConfigKey, token: ConfigKey, **extra: ConfigKey
) -> dict[str, ConfigKey]:
    """`LIBRARY_KEYS` with one server's `base_url`/`token` wording and its own keys."""
    return {**LIBRARY_KEYS, "base_url": base_url, "token": token, **extra}


@dataclass(frozen=True, slots=True)
class LibrarySettings:
    """Validated common settings.

    Attributes:
        base_url: Server root URL.
        token: Access token (Plex token / Jellyfin or Emby API key or user token).
        user: User to act for (Plex Home user, Jellyfin/Emby user name or id).
        sections: Section (library) names to include; empty means every show/movie
            section.
        genres: Keep only items with one of these genres; empty keeps all.
        strict: Keep only the ids of the show's episode ordering.
        ordering: Ordering authority assumed when the server does not say.
        page_size: Items per listing request.
        clock: Clock for rate limits (tests speed it up).
        now: The change feed's wall clock in epoch seconds (tests pin or drive it).
    """

    base_url: str
    token: str
    user: str | None = None
    sections: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    strict: bool = False
    ordering: str | None = None
    page_size: int = 500
    clock: Clock | None = None
    now: Callable[[], int] = _system_now


def _fail(provider: str, key: str, expected: str, got: object) -> ValueError:
    return ValueError(
        f"{provider} provider config '{key}': expected {expected}, got {quote(got)}"
    )


def _names(provider: str, config: Mapping[str, object], key: str) -> tuple[str, ...]:
    value = config.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _fail(provider, key, "a name or a list of names", value)


def parse_library_settings(
    provider: str,
    config: Mapping[str, object],
    *,
    default_url: str | None = None,
    keys: Mapping[str, ConfigKey] = LIBRARY_KEYS,
    stored_token: bool = False,
) -> LibrarySettings:
    """Validate the common keys of a media-server provider's config.

    `keys` are all the keys the provider accepts (others are refused); with
    `stored_token`, ``token`` may be left out when a ``token_store`` is given (the
    provider loads what `anibridge login` saved).

    Raises:
        ValueError: a key is unknown, missing or has the wrong type; the message
            names it.
    """
    unknown = unknown_keys(f"{provider} provider config", config, keys)
    if unknown:
        raise ValueError(unknown)
    base_url = config.get("base_url", default_url)
    if not isinstance(base_url, str) or not base_url.startswith(
        ("http://", "https://")
    ):
        raise _fail(provider, "base_url", "an http(s) URL of the server", base_url)
    token = config.get("token")
    if token is None and stored_token and config.get("token_store") is not None:
        token = ""  # `anibridge login` saved it; loaded when the provider starts
    elif not isinstance(token, str) or not token:
        hint = f" (or run `anibridge login {provider}`)" if stored_token else ""
        raise _fail(provider, "token", f"a non-empty access token{hint}", "<missing>")
    user = config.get("user")
    if user is not None and (not isinstance(user, str) or not user):
        raise _fail(provider, "user", "a user name or id", user)
    strict = config.get("strict", False)
    if not isinstance(strict, bool):
        raise _fail(provider, "strict", "true or false", strict)
    ordering = config.get("ordering")
    if ordering is not None and ordering not in ORDERINGS:
        raise _fail(provider, "ordering", f"one of {sorted(ORDERINGS)}", ordering)
    page_size = config.get("page_size", 500)
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
        raise _fail(provider, "page_size", "a positive integer", page_size)
    clock = config.get("clock")
    scale = config.get("time_scale")
    if clock is None and scale is not None:
        if not isinstance(scale, (int, float)) or scale <= 0:
            raise _fail(provider, "time_scale", "a positive number", scale)
        clock = ScaledClock(float(scale))
    now = config.get("now")
    if isinstance(now, int) and not isinstance(now, bool):
        fixed = now
        now = lambda: fixed  # noqa: E731
    elif now is None:
        now = _system_now
    elif not callable(now):
        raise _fail(provider, "now", "epoch seconds or a callable", now)
    return LibrarySettings(
        base_url=base_url.rstrip("/"),
        token=token,
        user=user,
        sections=_names(provider, config, "sections"),
        genres=_names(provider, config, "genres"),
        strict=strict,
        ordering=ORDERINGS[ordering] if isinstance(ordering, str) else None,
        page_size=page_size,
        clock=clock,  # type: ignore[arg-type]
        now=now,  # type: ignore[arg-type]
    )
