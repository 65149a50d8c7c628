"""The v3 grammar: descriptors, source range keys and target range values.

```
descriptor    authority:id[:scope]          unscoped anidb:N means anidb:N:R
source key    x | x-y | x-                  one contiguous range, never a ratio
target value  seg[,seg...][|ratio] | null   only the last segment may be open
```
Every parser raises `MappingError` with a message that says what is wrong; the
loader adds the file, source, target and key.
"""

from __future__ import annotations

import re

from anibridge.mappings.errors import MappingError
from anibridge.mappings.ranges import RangePair, Segment
from anibridge.provider.base import ExternalId

ANIDB_SCOPES = frozenset("RSOCTP")
"""AniDB episode types: regular, specials, other, credits, trailers, parodies."""

_DESCRIPTOR_RE = re.compile(r"(\w+):([^:\s]+)(?::([^:\s]+))?")
_SOURCE_RE = re.compile(r"(\d+)(?:(-)(\d*))?")
_SEGMENT_RE = re.compile(r"(\d+)(?:(-)(\d*))?")
_TARGET_RE = re.compile(r"\d+(?:-\d*)?(?:,\d+(?:-\d*)?)*(?:\|-?\d+)?")


def canonical_descriptor(text: str) -> str:
    """Validate a descriptor and return its canonical spelling.

    Raises:
        MappingError: the text is not `authority:id[:scope]` or has a bad AniDB scope.
    """
    match = _DESCRIPTOR_RE.fullmatch(text)
    if match is None:
        raise MappingError(f"not a descriptor (authority:id[:scope]): {text!r}")
    authority, _, scope = match.groups()
    if authority == "anidb":
        if scope is None:
            return f"{text}:R"
        if scope not in ANIDB_SCOPES:
            raise MappingError(
                f"unknown AniDB episode type {scope!r} in {text!r} "
                f"(expected one of {', '.join(sorted(ANIDB_SCOPES))})"
            )
    return text


def canonical_id(external_id: ExternalId | str) -> ExternalId:
    """Canonicalize an `ExternalId` (or descriptor text): unscoped AniDB means `R`."""
    if isinstance(external_id, str):
        return ExternalId.parse(canonical_descriptor(external_id))
    if external_id.authority == "anidb" and external_id.scope is None:
        return ExternalId("anidb", external_id.value, "R")
    return external_id


def descriptor_key(external_id: ExternalId | str) -> str:
    """The canonical descriptor text used as the index key."""
    if isinstance(external_id, str):
        return canonical_descriptor(external_id)
    if external_id.authority == "anidb" and external_id.scope is None:
        return f"anidb:{external_id.value}:R"
    return external_id.descriptor


def parse_source_range(text: str) -> tuple[int, int | None]:
    """Parse a source key `x`, `x-y` or `x-` into (start, end or None).

    Raises:
        MappingError: not that syntax, or the end is before the start.
    """
    match = _SOURCE_RE.fullmatch(text)
    if match is None:
        if "|" in text:
            raise MappingError(
                f"source range {text!r} carries a ratio; ratios go on the target"
            )
        raise MappingError(f"source range {text!r} is not x, x-y or x-")
    start_text, dash, end_text = match.groups()
    start = int(start_text)
    if dash is None:
        return start, start
    if not end_text:
        return start, None
    end = int(end_text)
    if end < start:
        raise MappingError(f"source range {text!r} ends before it starts")
    return start, end


def parse_target(text: str) -> tuple[tuple[Segment, ...], int | None]:
    """Parse a target value `seg[,seg...][|ratio]` into (segments, ratio).

    Raises:
        MappingError: not that syntax, a segment ends before it starts, or an open
            segment is not the last one.
    """
    if _TARGET_RE.fullmatch(text) is None:
        raise MappingError(
            f"target range {text!r} is not seg[,seg...][|ratio] (seg = x, x-y or x-)"
        )
    body, bar, ratio_text = text.partition("|")
    ratio = int(ratio_text) if bar else None
    segments: list[Segment] = []
    parts = body.split(",")
    for i, part in enumerate(parts):
        start_text, dash, end_text = part.partition("-")
        start = int(start_text)
        if not dash:
            segments.append((start, start))
            continue
        if not end_text:
            if i != len(parts) - 1:
                raise MappingError(
                    f"target range {text!r}: only the last segment may be open"
                )
            segments.append((start, None))
            continue
        end = int(end_text)
        if end < start:
            raise MappingError(f"target range {text!r}: {part!r} ends before it starts")
        segments.append((start, end))
    return tuple(segments), ratio


def parse_pair(key: str, value: str, provenance: tuple[str, ...] = ()) -> RangePair:
    """Parse one `"source key": "target value"` entry and check the ratio fits.

    With a non-zero ratio and both sides closed, the lengths must agree: `|n` needs
    source = target x n, `|-n` needs target = source x n.

    Raises:
        MappingError: either side is malformed or the lengths contradict the ratio.
    """
    start, end = parse_source_range(key)
    segments, ratio = parse_target(value)
    pair = RangePair(start, end, segments, ratio, provenance)
    if ratio is not None and ratio != 0 and end is not None:
        target_length = pair.target_length
        if target_length is not None:
            source_length = end - start + 1
            if ratio > 0:
                expected_source = target_length * ratio
                if source_length != expected_source:
                    raise MappingError(
                        f"ratio |{ratio} needs {expected_source} source episodes "
                        f"for {target_length} target episodes, range has "
                        f"{source_length}"
                    )
            elif target_length != source_length * -ratio:
                raise MappingError(
                    f"ratio |{ratio} needs {source_length * -ratio} target episodes "
                    f"for {source_length} source episodes, target has {target_length}"
                )
    return pair
