"""Deep-merge payload layers with precedence, `null` unmapping and provenance.

Layers arrive weakest first. The weakest one (normally the big upstream payload)
is merged into in place, so the common case of one payload costs nothing. Every
later layer first applies its `null`s, in both directions, to what the weaker
layers supplied, then deep-merges its values per source / target / range key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from anibridge.mappings.errors import InvalidEntry, MappingError
from anibridge.mappings.grammar import (
    canonical_descriptor,
    parse_source_range,
    parse_target,
)
from anibridge.mappings.payload import Layer

RangeKey = tuple[str, str, str]
"""(canonical source, canonical target, source range key)."""


@dataclass(slots=True)
class Merged:
    """Merged raw payload plus who supplied what.

    `provenance` only lists range keys written by a layer other than the weakest;
    every other key comes from `base_origin`.
    """

    data: dict[Any, Any]
    base_origin: str
    provenance: dict[RangeKey, tuple[str, ...]] = field(default_factory=dict)
    invalid: list[InvalidEntry] = field(default_factory=list)


def _alias(canonical: str) -> str | None:
    """The other spelling of a canonical descriptor (only `anidb:N` for `:R`)."""
    if canonical.startswith("anidb:") and canonical.endswith(":R"):
        return canonical[:-2]
    return None


def _materialize(value: Any) -> Any:
    """Decode a still-undecoded JSON range map so it can be edited."""
    if isinstance(value, msgspec.Raw):
        return msgspec.json.decode(value)
    return value


def _take(mapping: dict[Any, Any], canonical: str) -> Any:
    """`mapping[canonical]` decoded, first folding an alias spelling into it."""
    alias = _alias(canonical)
    if alias is not None and alias in mapping:
        moved = _materialize(mapping.pop(alias))
        existing = _materialize(mapping.get(canonical))
        if isinstance(existing, dict) and isinstance(moved, dict):
            for key, value in moved.items():
                existing.setdefault(key, value)
            mapping[canonical] = existing
        elif existing is None:
            mapping[canonical] = moved
    found = mapping.get(canonical)
    if isinstance(found, msgspec.Raw):
        found = mapping[canonical] = msgspec.json.decode(found)
    return found


def merge_layers(layers: Sequence[Layer]) -> Merged:
    """Merge layers (weakest first) into one payload with provenance."""
    if not layers:
        return Merged({}, "")
    merged = Merged(layers[0].data, layers[0].origin)
    for layer in layers[1:]:
        entries = _canonical_entries(layer, merged.invalid)
        for source, target, key, value in entries:
            if value is None:
                _unmap(merged, source, target, key, layer.origin)
        for source, target, key, value in entries:
            if value is not None:
                _assign(merged, source, target, key, value, layer.origin)
    return merged


_WHOLE = object()
"""Marks an entry that nulls a whole source or a whole target."""


def _canonical_entries(
    layer: Layer, invalid: list[InvalidEntry]
) -> list[tuple[str, Any, Any, Any]]:
    """Flatten an overlay layer to (source, target, key, value) with canonical ids.

    A `null` source yields (source, _WHOLE, _WHOLE, None); a `null` target yields
    (source, target, _WHOLE, None).
    """
    out: list[tuple[str, Any, Any, Any]] = []
    origin = layer.origin
    for raw_source, targets in layer.data.items():
        try:
            source = canonical_descriptor(str(raw_source))
        except MappingError as exc:
            invalid.append(InvalidEntry(origin, str(raw_source), None, None, str(exc)))
            continue
        if targets is None:
            out.append((source, _WHOLE, _WHOLE, None))
            continue
        if not isinstance(targets, dict):
            invalid.append(
                InvalidEntry(
                    origin, source, None, None, "must map target descriptors to ranges"
                )
            )
            continue
        for raw_target, ranges in targets.items():
            try:
                target = canonical_descriptor(str(raw_target))
            except MappingError as exc:
                invalid.append(
                    InvalidEntry(origin, source, str(raw_target), None, str(exc))
                )
                continue
            ranges = _materialize(ranges)
            if ranges is None:
                out.append((source, target, _WHOLE, None))
                continue
            if not isinstance(ranges, dict):
                invalid.append(
                    InvalidEntry(
                        origin,
                        source,
                        target,
                        None,
                        "must map source ranges to targets",
                    )
                )
                continue
            for key, value in ranges.items():
                out.append((source, target, str(key), value))
    return out


def _forget(merged: Merged, source: str, target: str, keys: Any) -> None:
    if merged.provenance:
        for key in keys:
            merged.provenance.pop((source, target, str(key)), None)


def _unmap(merged: Merged, source: str, target: Any, key: Any, origin: str) -> None:
    """Remove what weaker layers supplied, in both directions."""
    data = merged.data
    targets = _take(data, source)
    if not isinstance(targets, dict):
        return
    if target is _WHOLE:
        del data[source]
        for other, ranges in targets.items():
            if isinstance(ranges, dict):
                _forget(merged, source, str(other), ranges)
            _drop_reverse(merged, str(other), source, None)
        return
    ranges = _take(targets, target)
    if key is _WHOLE:
        if target in targets:
            del targets[target]
            if isinstance(ranges, dict):
                _forget(merged, source, target, ranges)
        _drop_reverse(merged, target, source, None)
        return
    try:
        bounds = parse_source_range(key)
    except MappingError as exc:
        merged.invalid.append(InvalidEntry(origin, source, target, key, str(exc)))
        return
    if isinstance(ranges, dict):
        # YAML may have produced an int key for the same range.
        for spelled in (key, _int_or_none(key)):
            if spelled is not None and spelled in ranges:
                del ranges[spelled]
        _forget(merged, source, target, (key,))
    _drop_reverse(merged, target, source, bounds)


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _drop_reverse(
    merged: Merged,
    source: str,
    target: str,
    within: tuple[int, int | None] | None,
) -> None:
    """Remove `source -> target` pairs (all, or those whose target is `within`)."""
    targets = _take(merged.data, source)
    if not isinstance(targets, dict):
        return
    ranges = _take(targets, target)
    if not isinstance(ranges, dict):
        return
    if within is None:
        del targets[target]
        _forget(merged, source, target, ranges)
        return
    low, high = within
    doomed = []
    for key, value in ranges.items():
        if not isinstance(value, (str, int)):
            continue
        try:
            segments, _ratio = parse_target(str(value))
        except MappingError:
            continue
        if all(
            start >= low and (high is None or (end is not None and end <= high))
            for start, end in segments
        ):
            doomed.append(key)
    for key in doomed:
        del ranges[key]
    _forget(merged, source, target, doomed)


def _assign(
    merged: Merged, source: str, target: str, key: str, value: Any, origin: str
) -> None:
    data = merged.data
    targets = _take(data, source)
    if not isinstance(targets, dict):
        targets = data[source] = {}
    ranges = _take(targets, target)
    if not isinstance(ranges, dict):
        ranges = targets[target] = {}
    number = _int_or_none(key)
    if number is not None and number in ranges:
        # The weaker layer spelled this key as a YAML integer.
        ranges[key] = ranges.pop(number)
    range_key = (source, target, key)
    previous = merged.provenance.get(range_key)
    if previous is None:
        previous = (merged.base_origin,) if key in ranges else ()
    ranges[key] = value
    merged.provenance[range_key] = (origin, *(p for p in previous if p != origin))
