"""How a provider describes its config keys (AniBridge's convention, optional).

A provider class may set ``CONFIG_KEYS``: a mapping from each key it accepts to a
`ConfigKey` (or, the older short form, a one-line description string). The same
mapping is what its settings parser checks unknown keys against, so the list that
`anibridge providers` shows and the commented section `anibridge init` writes can
never drift from what the provider really reads. ``SIGN_IN`` (a short sentence) says
how a user signs in, e.g. "anibridge login plex (plex.tv PIN)".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ConfigKey", "describe_keys", "unknown_keys"]


@dataclass(frozen=True, slots=True)
class ConfigKey:
    """One config key a provider accepts.

    Attributes:
        help: What it does, one line (with the default when there is one).
        required: The provider refuses to start without it.
        secret: A credential: templates write it as ``{env: NAME}``, never a value.
        example: The value a template writes for it (None: left commented out).
        env: The variable name templates suggest for a secret.
        internal: Set by AniBridge itself or tests (token store, clocks); not for
            users, so templates leave it out.
        login: `anibridge login <provider>` obtains it; it may stay unset.
    """

    help: str
    required: bool = False
    secret: bool = False
    example: object = None
    env: str | None = None
    internal: bool = False
    login: bool = False


def describe_keys(keys: Mapping[str, object] | None) -> dict[str, ConfigKey]:
    """`ConfigKey`s from a provider's ``CONFIG_KEYS`` (strings become descriptions).

    Third-party providers may use the short form ``{"key": "what it does"}``.
    """
    out: dict[str, ConfigKey] = {}
    for name, value in (keys or {}).items():
        out[str(name)] = (
            value if isinstance(value, ConfigKey) else ConfigKey(help=str(value))
        )
    return out


def unknown_keys(
    provider: str, config: Mapping[str, object], keys: Mapping[str, object]
) -> str | None:
    """The one-line complaint about keys `config` has that `keys` does not list.

    Returns:
        None when every key is known.
    """
    unknown = sorted(str(k) for k in set(config) - set(keys))
    if not unknown:
        return None
    known = sorted(k for k, v in describe_keys(keys).items() if not v.internal)
    return (
        f"{provider}: unknown config key(s) {', '.join(unknown)} "
        f"(known: {', '.join(known)})"
    )
