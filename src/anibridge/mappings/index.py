"""The mapping index: every edge in both directions, and translation over it.

Explicit pairs are parsed once at build time (validating the whole payload);
identical range strings share one parsed `RangePair`. Reverse pairs are derived
from the merged forward pairs on first use of a descriptor and cached: the data
never changes after the build, so the lazy result equals an eager one.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Literal

from anibridge.mappings.errors import InvalidEntry, MappingError
from anibridge.mappings.grammar import canonical_descriptor, descriptor_key, parse_pair
from anibridge.mappings.merge import Merged
from anibridge.mappings.ranges import (
    DERIVED,
    Edge,
    RangePair,
    reverse_pairs,
    shortest_containing,
)
from anibridge.provider.base import ExternalId

ProgressMode = Literal["count", "index"]

_EPSILON = 1e-9
"""Float slack before flooring, so 3 x (1/3) counts as 1 unit."""


class MappingIndex:
    """Answers edge, translation and progress questions in both directions."""

    def __init__(
        self,
        explicit: dict[str, dict[str, tuple[RangePair, ...]]],
        reverse: dict[str, list[str]],
        *,
        invalid: Iterable[InvalidEntry] = (),
        origins: Iterable[str] = (),
        load_seconds: float = 0.0,
    ) -> None:
        """Wrap built tables; use `build_index` or `load_index` to make one."""
        self._explicit = explicit
        self._reverse = reverse
        self._edges: dict[str, tuple[Edge, ...]] = {}
        self._ids: dict[str, ExternalId] = {}
        self._reversed: dict[RangePair, tuple[RangePair, ...]] = {}
        self.invalid: tuple[InvalidEntry, ...] = tuple(invalid)
        self.origins: tuple[str, ...] = tuple(origins)
        self.load_seconds = load_seconds

    # -- identities -------------------------------------------------------------

    def _id(self, key: str) -> ExternalId:
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = ExternalId.parse(key)
        return found

    def descriptors(self) -> Iterable[str]:
        """Every canonical descriptor that has at least one explicit or derived edge."""
        seen = set(self._explicit)
        seen.update(self._reverse)
        return sorted(seen)

    # -- edges ------------------------------------------------------------------

    def edges(
        self, source: ExternalId | str, *, to: Collection[str] | None = None
    ) -> tuple[Edge, ...]:
        """Edges leaving `source` (explicit and derived), optionally by authority."""
        key = descriptor_key(source)
        found = self._edges.get(key)
        if found is None:
            found = self._edges[key] = self._build_edges(key)
        if to is None:
            return found
        return tuple(edge for edge in found if edge.target.authority in to)

    def _derived(self, source: str, target: str) -> tuple[RangePair, ...]:
        """`target -> source` reverses of the explicit `source -> target` pairs."""
        out: list[RangePair] = []
        cache = self._reversed
        for pair in self._explicit[source][target]:
            reversed_pairs = cache.get(pair)
            if reversed_pairs is None:
                reversed_pairs = cache[pair] = reverse_pairs(pair)
            out.extend(reversed_pairs)
        return tuple(out)

    def _build_edges(self, key: str) -> tuple[Edge, ...]:
        explicit = self._explicit.get(key, {})
        reverse_sources = self._reverse.get(key, ())
        if not explicit and not reverse_sources:
            return ()
        source_id = self._id(key)
        edges: list[Edge] = []
        for target, pairs in explicit.items():
            combined = pairs
            back = self._explicit.get(target)
            if back is not None and key in back:
                written = {(p.source_start, p.source_end) for p in pairs}
                derived = tuple(
                    p
                    for p in self._derived(target, key)
                    if (p.source_start, p.source_end) not in written
                )
                combined = pairs + derived
            edges.append(Edge(source_id, self._id(target), combined))
        for other in reverse_sources:
            if other in explicit:
                continue
            derived = self._derived(other, key)
            if derived:
                edges.append(Edge(source_id, self._id(other), derived))
        return tuple(edges)

    # -- translation ------------------------------------------------------------

    def translate(
        self,
        source: ExternalId | str,
        episode: int,
        *,
        to: Collection[str] | None = None,
    ) -> dict[ExternalId, tuple[int, ...]]:
        """Target episodes of one source episode, per target descriptor.

        Per target the shortest source range containing the episode decides;
        disabled (`|0`) ranges and positions past a target's end give nothing, and
        targets with nothing are left out.
        """
        out: dict[ExternalId, tuple[int, ...]] = {}
        for edge in self.edges(source, to=to):
            pair = shortest_containing(edge.pairs, episode)
            if pair is None or pair.ratio == 0:
                continue
            found = pair.translate(episode)
            if found:
                out[edge.target] = found
        return out

    def weight(
        self, source: ExternalId | str, target: ExternalId | str, episode: int
    ) -> float:
        """Progress units one watched `episode` of `source` is worth on `target`."""
        target_key = descriptor_key(target)
        for edge in self.edges(source):
            if edge.target.descriptor == target_key:
                return edge.weight(episode)
        return 0.0

    def progress(
        self,
        watched: Mapping[ExternalId, Iterable[int]] | Mapping[str, Iterable[int]],
        *,
        to: Collection[str] | None = None,
        mode: ProgressMode = "count",
    ) -> dict[ExternalId, int]:
        """Progress per target from watched source episodes.

        `count`: the ratio weights of watched episodes inside source ranges (the
        shortest containing range decides each episode), summed over all sources
        per target and floored once. `index`: the highest target episode reached.
        Targets with 0 units are left out; nothing is capped (the caller knows the
        target's total).

        Raises:
            ValueError: unknown mode.
        """
        if mode not in ("count", "index"):
            raise ValueError(f"progress mode must be 'count' or 'index', not {mode!r}")
        by_source: dict[str, set[int]] = {}
        for source, episodes in watched.items():
            by_source.setdefault(descriptor_key(source), set()).update(episodes)
        totals: dict[ExternalId, float] = {}
        for source, episodes in by_source.items():
            for edge in self.edges(source, to=to):
                pairs = edge.pairs
                if mode == "count":
                    units = 0.0
                    for episode in episodes:
                        pair = shortest_containing(pairs, episode)
                        if pair is not None:
                            units += pair.weight
                    if units:
                        totals[edge.target] = totals.get(edge.target, 0.0) + units
                else:
                    highest = 0
                    for episode in episodes:
                        pair = shortest_containing(pairs, episode)
                        if pair is not None and pair.ratio != 0:
                            found = pair.translate(episode)
                            if found:
                                highest = max(highest, max(found))
                    if highest > totals.get(edge.target, 0):
                        totals[edge.target] = highest
        out: dict[ExternalId, int] = {}
        for target, units in totals.items():
            floored = math.floor(units + _EPSILON)
            if floored > 0:
                out[target] = floored
        return out

    # -- reporting --------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts over both directions (derived reverses included) and load time."""
        sources = 0
        targets: set[str] = set()
        range_pairs = 0
        derived_pairs = 0
        for key in self.descriptors():
            edges = self._edges.get(key)
            if edges is None:
                edges = self._build_edges(key)
            if not edges:
                continue
            sources += 1
            for edge in edges:
                targets.add(edge.target.descriptor)
                range_pairs += len(edge.pairs)
                derived_pairs += sum(1 for p in edge.pairs if p.provenance == DERIVED)
        return {
            "sources": sources,
            "targets": len(targets),
            "range_pairs": range_pairs,
            "derived_pairs": derived_pairs,
            "invalid": len(self.invalid),
            "load_seconds": round(self.load_seconds, 4),
        }


def build_index(merged: Merged, *, load_seconds: float = 0.0) -> MappingIndex:
    """Validate and parse a merged payload into a `MappingIndex`.

    Invalid descriptors and pairs are collected (all of them) and skipped; the
    valid rest is indexed.
    """
    invalid = list(merged.invalid)
    explicit: dict[str, dict[str, tuple[RangePair, ...]]] = {}
    reverse: dict[str, list[str]] = {}
    base_origin = merged.base_origin
    base_provenance = (base_origin,)
    overrides = merged.provenance
    canon_cache: dict[str, str | MappingError] = {}
    pair_cache: dict[tuple[str, str], RangePair | MappingError] = {}

    def canon(text: Any) -> str | MappingError:
        found = canon_cache.get(text)
        if found is None:
            try:
                found = canonical_descriptor(str(text))
            except MappingError as exc:
                found = exc
            canon_cache[text] = found
        return found

    for raw_source, targets in merged.data.items():
        source = canon(raw_source)
        if isinstance(source, MappingError):
            invalid.append(
                InvalidEntry(base_origin, str(raw_source), None, None, str(source))
            )
            continue
        if targets is None:
            continue
        if not isinstance(targets, dict):
            invalid.append(
                InvalidEntry(
                    base_origin, source, None, None, "must map targets to ranges"
                )
            )
            continue
        table = explicit.get(source)
        if table is None:
            table = explicit[source] = {}
        for raw_target, ranges in targets.items():
            target = canon(raw_target)
            if isinstance(target, MappingError):
                invalid.append(
                    InvalidEntry(
                        base_origin, source, str(raw_target), None, str(target)
                    )
                )
                continue
            if ranges is None:
                continue
            if not isinstance(ranges, dict):
                invalid.append(
                    InvalidEntry(
                        base_origin, source, target, None, "must map ranges to targets"
                    )
                )
                continue
            pairs: list[RangePair] = []
            for key, value in ranges.items():
                if value is None:
                    continue
                if key.__class__ is not str:
                    key = str(key)
                if value.__class__ is not str:
                    if value.__class__ is int:
                        value = str(value)
                    else:
                        invalid.append(
                            InvalidEntry(
                                _file(overrides, base_origin, source, target, key),
                                source,
                                target,
                                key,
                                f"target range must be a string, got {value!r}",
                            )
                        )
                        continue
                provenance = overrides.get((source, target, key)) if overrides else None
                if provenance is None:
                    cache_key = (key, value)
                    pair = pair_cache.get(cache_key)
                    if pair is None:
                        try:
                            pair = parse_pair(key, value, base_provenance)
                        except MappingError as exc:
                            pair = exc
                        pair_cache[cache_key] = pair
                else:
                    try:
                        pair = parse_pair(key, value, provenance)
                    except MappingError as exc:
                        pair = exc
                if pair.__class__ is not RangePair:
                    invalid.append(
                        InvalidEntry(
                            _file(overrides, base_origin, source, target, key),
                            source,
                            target,
                            key,
                            f"{value!r}: {pair}",
                        )
                    )
                    continue
                pairs.append(pair)  # type: ignore[arg-type]
            if not pairs:
                continue
            existing = table.get(target)
            if existing is None:
                table[target] = tuple(pairs)
                back = reverse.get(target)
                if back is None:
                    reverse[target] = [source]
                else:
                    back.append(source)
            else:
                table[target] = existing + tuple(pairs)
        if not table:
            del explicit[source]
    return MappingIndex(
        explicit,
        reverse,
        invalid=invalid,
        origins=(base_origin, *sorted({p for v in overrides.values() for p in v})),
        load_seconds=load_seconds,
    )


def _file(
    overrides: dict[tuple[str, str, str], tuple[str, ...]],
    base_origin: str,
    source: str,
    target: str,
    key: str,
) -> str:
    found = overrides.get((source, target, key)) if overrides else None
    return found[0] if found else base_origin
