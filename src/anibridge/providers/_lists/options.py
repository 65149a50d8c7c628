"""Config and paging helpers the list trackers share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from anibridge.provider.base import Ref

__all__ = ["number_option", "page_refs"]


def number_option(
    config: Mapping[str, object],
    key: str,
    default: float,
    *,
    provider: str,
    low: float,
    high: float | None = None,
    integer: bool = True,
) -> float:
    """A numeric config value, range-checked, with an error that names the key.

    Raises:
        ValueError: the value is not a number or is out of range.
    """
    value = config.get(key)
    if value is None or value == "":
        return default
    number: float | None
    try:
        number = int(value) if integer else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = None
    if (
        number is None
        or isinstance(value, bool)
        or number < low
        or (high is not None and number > high)
    ):
        bound = f"{low:g}-{high:g}" if high is not None else f">= {low:g}"
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{provider}.{key} must be {kind} {bound}, got {value!r}")
    return number


def page_refs(
    refs: Sequence[Ref], cursor: str | None, limit: int | None, *, provider: str
) -> tuple[Sequence[Ref], str | None]:
    """The slice of `refs` one page of a ref-keyed query covers, and the next cursor.

    Raises:
        ValueError: `cursor` is not one this function produced.
    """
    start = 0
    if cursor is not None:
        if not cursor.startswith("r:") or not cursor[2:].isdigit():
            raise ValueError(f"{provider}: not a ref-page cursor: {cursor!r}")
        start = int(cursor[2:])
    if limit is None or limit <= 0:
        return refs[start:], None
    end = start + limit
    return refs[start:end], (f"r:{end}" if end < len(refs) else None)
