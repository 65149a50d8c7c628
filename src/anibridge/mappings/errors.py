"""Errors of the mappings layer, shaped so a curator can find the bad entry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InvalidEntry:
    """One rejected part of a payload: where it is and why it was rejected.

    Fields that do not apply (a whole unreadable file has no source) are None.
    """

    file: str
    source: str | None
    target: str | None
    key: str | None
    reason: str

    def __str__(self) -> str:
        """Render as `file: source -> target [key]: reason`."""
        where = self.file
        if self.source is not None:
            where += f": {self.source}"
        if self.target is not None:
            where += f" -> {self.target}"
        if self.key is not None:
            where += f" [{self.key!r}]"
        return f"{where}: {self.reason}"


class MappingError(ValueError):
    """A descriptor, range or pair does not follow the v3 grammar."""


class MappingLoadError(MappingError):
    """Loading in strict mode found invalid entries; all of them are attached."""

    def __init__(self, invalid: Sequence[InvalidEntry], *, limit: int = 20) -> None:
        """Keep every invalid entry; the message shows the count and the first few."""
        self.invalid = tuple(invalid)
        super().__init__(summarize_invalid(self.invalid, limit=limit))


def summarize_invalid(invalid: Sequence[InvalidEntry], *, limit: int = 20) -> str:
    """Summarize invalid entries as a count plus the first `limit` of them."""
    if not invalid:
        return "no invalid mapping entries"
    lines = [f"{len(invalid)} invalid mapping entries skipped"]
    lines += [f"  {entry}" for entry in invalid[:limit]]
    if len(invalid) > limit:
        lines.append(f"  ... and {len(invalid) - limit} more")
    return "\n".join(lines)
