"""Configuration of one local provider instance, validated once at construction.

The local provider is configured like any other provider (a mapping from the profile's
YAML), so bad values must fail with the key name and what was expected before any file
is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from anibridge.messages import quote
from anibridge.provider.base import TemporalPrecision
from anibridge.provider.config_keys import ConfigKey, unknown_keys

__all__ = ["CONFIG_KEYS", "LocalSettings", "parse_settings"]

#: Every config key, with what it is for (`anibridge providers`, `anibridge init`).
CONFIG_KEYS: Mapping[str, ConfigKey] = {
    "path": ConfigKey(
        "the SQLite file (relative to the config's folder)",
        required=True,
        example="local.sqlite",
    ),
    "create": ConfigKey("create the file when missing (default true)"),
    "account": ConfigKey("account name shown for this file"),
    "title": ConfigKey("title shown for this file"),
    "authorities": ConfigKey(
        "ids of these authorities always resolve, so the file can be a target for "
        "titles it does not hold yet, e.g. [anilist]"
    ),
    "rating_scale": ConfigKey("[min, max, step] of ratings (default [0, 10, 0.5])"),
    "date_precision": ConfigKey("date or datetime (default datetime)"),
    "notes_max_length": ConfigKey("longest note kept (default 10000)"),
    "seed": ConfigKey("a YAML/JSON document imported when the file is created"),
    "instance": ConfigKey("name webhooks address this file by"),
    "write_batch_size": ConfigKey("writes per batch (default 50)"),
    "base_url": ConfigKey("unused; accepted for compatibility", internal=True),
    "token_store": ConfigKey("set by AniBridge: the token store", internal=True),
}


@dataclass(frozen=True, slots=True)
class LocalSettings:
    """Validated settings of a local provider.

    `authorities` are the *open* authorities: any id of theirs resolves to a ref
    (``"anilist:21"``) even before the file holds that title, the way a tracker's
    catalog holds every title; an upsert then creates the entry.
    """

    path: Path
    create: bool = True
    account: str | None = None
    title: str | None = None
    authorities: tuple[str, ...] = ()
    rating_scale: tuple[float, float, float] = (0.0, 10.0, 0.5)
    date_precision: TemporalPrecision = TemporalPrecision.DATETIME
    notes_max_length: int = 10_000
    seed: Path | None = None
    instance: str | None = None
    write_batch_size: int = 50


def _fail(key: str, expected: str, got: object) -> ValueError:
    return ValueError(
        f"local provider config '{key}': expected {expected}, got {quote(got)}"
    )


def parse_settings(config: Mapping[str, object]) -> LocalSettings:
    """Validate a local provider config mapping.

    Raises:
        ValueError: a key is unknown or a value has the wrong shape; the message
            names the key and the expectation.
    """
    unknown = unknown_keys("local", config, CONFIG_KEYS)
    if unknown:
        raise ValueError(unknown)
    raw_path = config.get("path")
    if not isinstance(raw_path, (str, Path)) or not str(raw_path):
        raise _fail("path", "the path of the local SQLite file", raw_path)
    create = config.get("create", True)
    if not isinstance(create, bool):
        raise _fail("create", "true or false", create)
    account = config.get("account")
    if account is not None and not isinstance(account, str):
        raise _fail("account", "a string", account)
    title = config.get("title")
    if title is not None and not isinstance(title, str):
        raise _fail("title", "a string", title)
    authorities = config.get("authorities", ())
    if isinstance(authorities, str):
        authorities = (authorities,)
    if not isinstance(authorities, (list, tuple)) or not all(
        isinstance(a, str) and a and ":" not in a for a in authorities
    ):
        raise _fail(
            "authorities", "a list of authority names like 'anilist'", authorities
        )
    scale = config.get("rating_scale", (0, 10, 0.5))
    if (
        not isinstance(scale, (list, tuple))
        or len(scale) != 3
        or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in scale
        )
        or not scale[0] < scale[1]
        or scale[2] <= 0
    ):
        raise _fail(
            "rating_scale", "[min, max, step] with min < max and step > 0", scale
        )
    precision = config.get("date_precision", "datetime")
    try:
        date_precision = TemporalPrecision(str(precision))
    except ValueError:
        raise _fail("date_precision", "'date' or 'datetime'", precision) from None
    notes_max = config.get("notes_max_length", 10_000)
    if isinstance(notes_max, bool) or not isinstance(notes_max, int) or notes_max < 0:
        raise _fail("notes_max_length", "a non-negative integer", notes_max)
    seed = config.get("seed")
    if seed is not None and not isinstance(seed, (str, Path)):
        raise _fail("seed", "the path of a YAML/JSON document", seed)
    instance = config.get("instance")
    if instance is not None and not isinstance(instance, str):
        raise _fail("instance", "a string", instance)
    batch = config.get("write_batch_size", 50)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise _fail("write_batch_size", "a positive integer (writes per batch)", batch)
    return LocalSettings(
        path=Path(raw_path).expanduser(),
        create=create,
        account=account,
        title=title,
        authorities=tuple(authorities),
        rating_scale=(float(scale[0]), float(scale[1]), float(scale[2])),
        date_precision=date_precision,
        notes_max_length=notes_max,
        seed=Path(seed).expanduser() if seed is not None else None,
        instance=instance,
        write_batch_size=batch,
    )
