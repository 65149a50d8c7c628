"""The mapping index: every edge in both directions, and translation over it.

Built for the full ~250k-pair dataset: range maps decoded from JSON stay as
`msgspec.Raw` slices of the payload and are parsed once per *distinct* map text
(real payloads repeat a few thousand texts), which validates the whole payload
at build time. Per descriptor, the combined explicit + derived pairs are put
together on first use and cached; the data never changes after the build, so the
lazy result is exactly what an eager build would give.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from anibridge.mappings.errors import InvalidEntry, MappingError
from anibridge.mappings.grammar import canonical_descriptor, descriptor_key, parse_pair
from anibridge.mappings.ranges import (
    DERIVED,
    Edge,
    RangePair,
    reverse_pairs,
)
from anibridge.provider.base import ExternalId

if TYPE_CHECKING:
    from anibridge.mappings.merge import Merged

ProgressMode = Literal["count", "index"]
Pairs = tuple[RangePair, ...]

_EPSILON = 1e-9
"""Float slack before flooring, so 3 x (1/3) counts as 1 unit."""

_INF = math.inf

# Regex passes over all descriptors at once (C speed) find the few that need
# attention: malformed ones, unscoped AniDB ids and unknown AniDB scopes.
_BAD_DESCRIPTOR_LINE = re.compile(r"^(?!\w++:[^:\s]++(?::[^:\s]++)?+$)", re.MULTILINE)
_ANIDB_NOT_CANONICAL = re.compile(r"\nanidb:[^:\n]+(?:\n|:(?![RSOCTP]\n))")


def _all_canonical(names: Collection[Any]) -> bool:
    """Whether every name is a valid, canonical descriptor string."""
    if not names:
        return True
    try:
        text = "\n".join(names)
    except TypeError:
        return False  # a key that is not a string
    if text.count("\n") != len(names) - 1:
        return False  # a name with a line break inside
    if _BAD_DESCRIPTOR_LINE.search(text) is not None:
        return False
    return _ANIDB_NOT_CANONICAL.search(f"\n{text}\n") is None


_new_id = object.__new__
_set_authority = ExternalId.authority.__set__  # type: ignore[attr-defined]
_set_value = ExternalId.value.__set__  # type: ignore[attr-defined]
_set_scope = ExternalId.scope.__set__  # type: ignore[attr-defined]


def _external_id(key: str) -> ExternalId:
    """`ExternalId.parse` for an already validated key, without the init overhead."""
    parts = key.split(":")
    found = _new_id(ExternalId)
    _set_authority(found, parts[0])
    _set_value(found, parts[1])
    _set_scope(found, parts[2] if len(parts) == 3 else None)
    return found


def _shortest(pairs: Pairs, episode: int) -> RangePair | None:
    """The pair with the shortest source range containing `episode` (first on ties)."""
    best = None
    best_length = _INF
    for pair in pairs:
        start = pair.source_start
        if episode < start:
            continue
        end = pair.source_end
        if end is None:
            if best is None:
                best = pair
            continue
        if episode > end:
            continue
        length = end - start
        if length < best_length:
            best = pair
            best_length = length
    return best


class MappingIndex:
    """Answers edge, translation and progress questions in both directions."""

    def __init__(
        self,
        forward: dict[str, dict[str, Pairs]],
        reverse: dict[str, list[str]],
        *,
        invalid: Iterable[InvalidEntry] = (),
        origins: Iterable[str] = (),
        load_seconds: float = 0.0,
    ) -> None:
        """Wrap built tables; use `build_index` or `load_index` to make one.

        `forward[source][target]` is the explicit pairs tuple; equal range maps
        share one tuple.
        """
        self._forward = forward
        self._reverse = reverse
        self._entries: dict[str | ExternalId, dict[str, Pairs]] = {}
        self._edges: dict[str, tuple[Edge, ...]] = {}
        self._ids: dict[str, ExternalId] = {}
        self._reversed: dict[int, Pairs] = {}
        self._combined: dict[tuple[int, int], Pairs] = {}
        self.invalid: tuple[InvalidEntry, ...] = tuple(invalid)
        self.origins: tuple[str, ...] = tuple(origins)
        self.load_seconds = load_seconds
        self.compiled_path: Path | None = None
        """The compiled file this index was opened from (None: built in memory)."""

    # -- identities -------------------------------------------------------------

    def _id(self, key: str) -> ExternalId:
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = _external_id(key)
        return found

    def _key(self, descriptor: ExternalId | str) -> str:
        """Canonical key; strings already in the tables skip the grammar check."""
        if descriptor.__class__ is str:
            if descriptor in self._forward or descriptor in self._reverse:
                return descriptor  # type: ignore[return-value]
            return canonical_descriptor(descriptor)  # type: ignore[arg-type]
        return descriptor_key(descriptor)

    def descriptors(self) -> list[str]:
        """Every canonical descriptor that appears as a source or a target."""
        seen = set(self._forward)
        seen.update(self._reverse)
        return sorted(seen)

    # -- building one descriptor's entries ---------------------------------------

    def _reverse_of(self, pairs: Pairs) -> Pairs:
        """Derived reverse pairs of one explicit pairs tuple (cached by identity).

        Pair tuples are shared by every edge with the same range-map text and live
        as long as the index, so their identity is a stable cache key.
        """
        found = self._reversed.get(id(pairs))
        if found is None:
            out: list[RangePair] = []
            for pair in pairs:
                out.extend(reverse_pairs(pair))
            found = self._reversed[id(pairs)] = tuple(out)
        return found

    def _with_derived(self, pairs: Pairs, back: Pairs) -> Pairs:
        """Explicit pairs plus derived ones whose source range is not written."""
        key = (id(pairs), id(back))
        found = self._combined.get(key)
        if found is None:
            found = pairs
            derived = self._reverse_of(back)
            if derived:
                written = {(p.source_start, p.source_end) for p in pairs}
                extra = tuple(
                    p for p in derived if (p.source_start, p.source_end) not in written
                )
                if extra:
                    found = pairs + extra
            self._combined[key] = found
        return found

    def _build_entries(self, key: str) -> dict[str, Pairs]:
        forward = self._forward
        combined_cache = self._combined
        targets = forward.get(key)
        out = targets = targets if targets is not None else {}
        for target, pairs in targets.items():
            back_map = forward.get(target)
            if back_map is None:
                continue
            back = back_map.get(key)
            if back is None:
                continue
            combined = combined_cache.get((id(pairs), id(back)))
            if combined is None:
                combined = self._with_derived(pairs, back)
            if combined is not pairs:
                if out is targets:
                    out = dict(targets)
                out[target] = combined
        sources = self._reverse.get(key)
        if sources:
            for other in sources:
                if other in targets:
                    continue
                derived = self._reverse_of(forward[other][key])
                if derived:
                    if out is targets:
                        out = dict(targets)
                    out[other] = derived
        return out

    def _entries_for(self, descriptor: ExternalId | str) -> dict[str, Pairs]:
        """Target -> pairs for a descriptor; cached under the spelling asked for."""
        entries = self._entries
        found = entries.get(descriptor)  # type: ignore[call-overload]
        if found is None:
            key = self._key(descriptor)
            if key is not descriptor:
                found = entries.get(key)
            if found is None:
                found = entries[key] = self._build_entries(key)
            if descriptor.__class__ is ExternalId:
                entries[descriptor] = found  # type: ignore[index]
        return found

    # -- edges ------------------------------------------------------------------

    def edges(
        self, source: ExternalId | str, *, to: Collection[str] | None = None
    ) -> tuple[Edge, ...]:
        """Edges leaving `source` (explicit and derived), optionally by authority."""
        key = self._key(source)
        found = self._edges.get(key)
        if found is None:
            source_id = self._id(key)
            found = self._edges[key] = tuple(
                Edge(source_id, self._id(target), pairs)
                for target, pairs in self._entries_for(key).items()
            )
        if to is None:
            return found
        return tuple(edge for edge in found if edge.target.authority in to)

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
        entries = self._entries.get(source)  # type: ignore[call-overload]
        if entries is None:
            entries = self._entries_for(source)
        out: dict[ExternalId, tuple[int, ...]] = {}
        ids = self._ids
        for target, pairs in entries.items():
            if to is not None and target[: target.index(":")] not in to:
                continue
            if len(pairs) == 1:
                pair = pairs[0]
                end = pair.source_end
                if episode < pair.source_start or (end is not None and episode > end):
                    continue
            else:
                pair = _shortest(pairs, episode)
                if pair is None:
                    continue
            if pair.ratio == 0:
                continue
            found = pair.translate(episode)
            if found:
                target_id = ids.get(target)
                if target_id is None:
                    target_id = self._id(target)
                out[target_id] = found
        return out

    def weight(
        self, source: ExternalId | str, target: ExternalId | str, episode: int
    ) -> float:
        """Progress units one watched `episode` of `source` is worth on `target`."""
        target_key = self._key(target)
        pairs = self._entries_for(source).get(target_key)
        if pairs is None:
            return 0.0
        pair = _shortest(pairs, episode)
        return 0.0 if pair is None else pair.weight

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
            by_source.setdefault(self._key(source), set()).update(episodes)
        totals: dict[str, float] = {}
        for source, episodes in by_source.items():
            for target, pairs in self._entries_for(source).items():
                if to is not None and target[: target.index(":")] not in to:
                    continue
                if mode == "count":
                    units = 0.0
                    for episode in episodes:
                        pair = _shortest(pairs, episode)
                        if pair is not None:
                            units += pair.weight
                    if units:
                        totals[target] = totals.get(target, 0.0) + units
                else:
                    highest = 0
                    for episode in episodes:
                        pair = _shortest(pairs, episode)
                        if pair is not None and pair.ratio != 0:
                            found = pair.translate(episode)
                            if found:
                                highest = max(highest, *found)
                    if highest > totals.get(target, 0):
                        totals[target] = highest
        out: dict[ExternalId, int] = {}
        for target, units in totals.items():
            floored = math.floor(units + _EPSILON)
            if floored > 0:
                out[self._id(target)] = floored
        return out

    # -- reporting --------------------------------------------------------------

    def explicit_pair_count(self) -> int:
        """Valid range pairs written in the payloads (no derived reverses)."""
        return sum(len(pairs) for t in self._forward.values() for pairs in t.values())

    def stats(self) -> dict[str, Any]:
        """Counts over both directions (derived reverses included) and load time."""
        sources = 0
        targets: set[str] = set()
        range_pairs = 0
        derived_pairs = 0
        for key in self.descriptors():
            entries = self._entries.get(key)
            if entries is None:
                entries = self._build_entries(key)
            if not entries:
                continue
            sources += 1
            for target, pairs in entries.items():
                targets.add(target)
                range_pairs += len(pairs)
                derived_pairs += sum(1 for p in pairs if p.provenance is DERIVED)
        return {
            "sources": sources,
            "targets": len(targets),
            "range_pairs": range_pairs,
            "derived_pairs": derived_pairs,
            "invalid": len(self.invalid),
            "load_seconds": round(self.load_seconds, 4),
        }


# -- building ---------------------------------------------------------------------


class _Builder:
    """Validates a merged payload and turns it into the index tables."""

    def __init__(self, merged: Merged) -> None:
        self.merged = merged
        self.base_origin = merged.base_origin
        self.base_provenance = (merged.base_origin,)
        self.overrides = merged.provenance
        self.invalid: list[InvalidEntry] = list(merged.invalid)
        self.parsed: dict[bytes, Pairs] = {}
        self.raw_errors: dict[bytes, list[tuple[str, str, str]]] = {}
        self.pair_cache: dict[tuple[str, str], RangePair | MappingError] = {}

    def file_of(self, source: str, target: str, key: str) -> str:
        found = self.overrides.get((source, target, key)) if self.overrides else None
        return found[0] if found else self.base_origin

    # -- range maps ----------------------------------------------------------------

    def parse_raw(self, text: bytes) -> Pairs:
        """Parse one distinct JSON range-map text (errors kept for reporting)."""
        import msgspec  # a payload was decoded: already imported

        errors: list[tuple[str, str, str]] = []
        pairs: list[RangePair] = []
        try:
            ranges = msgspec.json.decode(text)
        except msgspec.DecodeError as exc:  # pragma: no cover - payload decoded
            ranges = None
            errors.append(("", "", f"undecodable range map ({exc})"))
        if ranges is not None and not isinstance(ranges, dict):
            errors.append(("", repr(ranges), "must map source ranges to targets"))
        elif ranges:
            for key, value in ranges.items():
                if value is None:
                    continue
                pair = self.pair(key, value, self.base_provenance)
                if isinstance(pair, MappingError):
                    errors.append((key, repr(value), str(pair)))
                else:
                    pairs.append(pair)
        if errors:
            self.raw_errors[text] = errors
        result = tuple(pairs)
        self.parsed[text] = result
        return result

    def pair(
        self, key: Any, value: Any, provenance: tuple[str, ...]
    ) -> RangePair | MappingError:
        if key.__class__ is not str:
            key = str(key)
        if value.__class__ is not str:
            if value.__class__ is not int:
                return MappingError(f"target range must be a string, got {value!r}")
            value = str(value)
        if provenance is self.base_provenance:
            cache_key = (key, value)
            found = self.pair_cache.get(cache_key)
            if found is None:
                try:
                    found = parse_pair(key, value, provenance)
                except MappingError as exc:
                    found = exc
                self.pair_cache[cache_key] = found
            return found
        try:
            return parse_pair(key, value, provenance)
        except MappingError as exc:
            return exc

    def parse_dict(self, source: str, target: str, ranges: dict[Any, Any]) -> Pairs:
        pairs: list[RangePair] = []
        overrides = self.overrides
        for key, value in ranges.items():
            if value is None:
                continue
            skey = key if key.__class__ is str else str(key)
            provenance = None
            if overrides:
                provenance = overrides.get((source, target, skey))
            pair = self.pair(skey, value, provenance or self.base_provenance)
            if isinstance(pair, MappingError):
                self.invalid.append(
                    InvalidEntry(
                        self.file_of(source, target, skey),
                        source,
                        target,
                        skey,
                        f"{value!r}: {pair}" if isinstance(value, str) else str(pair),
                    )
                )
            else:
                pairs.append(pair)
        return tuple(pairs)

    # -- descriptors ---------------------------------------------------------------

    def _descriptors_clean(
        self, forward: dict[Any, Any], reverse: dict[Any, list[Any]]
    ) -> bool:
        """Whether all sources and targets are canonical (most targets are sources)."""
        if not _all_canonical(forward):
            return False
        return _all_canonical(reverse.keys() - forward.keys())

    def _canonicalize(
        self, forward: dict[Any, dict[Any, Pairs]]
    ) -> tuple[dict[str, dict[str, Pairs]], dict[str, list[str]]]:
        """Rebuild the tables with canonical keys, reporting invalid descriptors."""
        cache: dict[str, str | MappingError] = {}

        def canon(text: str) -> str | MappingError:
            found = cache.get(text)
            if found is None:
                try:
                    found = canonical_descriptor(text)
                except MappingError as exc:
                    found = exc
                cache[text] = found
            return found

        out: dict[str, dict[str, Pairs]] = {}
        for raw_source, targets in forward.items():
            source = canon(str(raw_source))
            if isinstance(source, MappingError):
                self.invalid.append(
                    InvalidEntry(
                        self.base_origin, str(raw_source), None, None, str(source)
                    )
                )
                continue
            table = out.setdefault(source, {})
            for raw_target, pairs in targets.items():
                target = canon(str(raw_target))
                if isinstance(target, MappingError):
                    self.invalid.append(
                        InvalidEntry(
                            self.file_of(source, str(raw_target), ""),
                            source,
                            str(raw_target),
                            None,
                            str(target),
                        )
                    )
                    continue
                existing = table.get(target)
                table[target] = pairs if existing is None else existing + pairs
        reverse: dict[str, list[str]] = {}
        for source, targets in out.items():
            for target in targets:
                reverse.setdefault(target, []).append(source)
        return {s: t for s, t in out.items() if t}, reverse

    # -- the build -------------------------------------------------------------------

    def build(self) -> tuple[dict[str, dict[str, Pairs]], dict[str, list[str]]]:
        from msgspec import Raw  # a payload was decoded: already imported

        forward: dict[Any, Any] = self.merged.data
        parsed = self.parsed
        raw_errors = self.raw_errors
        reverse: dict[str, list[str]] = {}
        empty: list[tuple[Any, Any]] = []  # (source, target or None)
        broken: list[Any] = []
        for source, targets in forward.items():
            if targets.__class__ is not dict:
                broken.append(source)
                continue
            if not targets:
                empty.append((source, None))
            for target, ranges in targets.items():
                if ranges.__class__ is Raw:
                    text = bytes(ranges)
                    pairs = parsed.get(text)
                    if pairs is None:
                        pairs = self.parse_raw(text)
                    if raw_errors and text in raw_errors:
                        self._report_raw(source, target, text)
                elif ranges.__class__ is dict:
                    pairs = self.parse_dict(source, target, ranges)
                else:
                    pairs = ()
                    if ranges is not None:
                        self.invalid.append(
                            InvalidEntry(
                                self.base_origin,
                                source,
                                target,
                                None,
                                f"must map source ranges to targets, got {ranges!r}",
                            )
                        )
                targets[target] = pairs
                if not pairs:
                    empty.append((source, target))
                    continue
                back = reverse.get(target)
                if back is None:
                    reverse[target] = [source]
                else:
                    back.append(source)
        for source in broken:
            targets = forward.pop(source)
            if targets is not None:
                reason = f"must map target descriptors to range maps, got {targets!r}"
                self.invalid.append(
                    InvalidEntry(self.base_origin, str(source), None, None, reason)
                )
        for source, target in empty:
            if target is not None:
                del forward[source][target]
        for source in {source for source, _target in empty}:
            if not forward[source]:
                del forward[source]
        if not self._descriptors_clean(forward, reverse):
            return self._canonicalize(forward)
        return forward, reverse

    def _report_raw(self, source: str, target: str, text: bytes) -> None:
        for key, value, reason in self.raw_errors[text]:
            self.invalid.append(
                InvalidEntry(
                    self.base_origin,
                    source,
                    target,
                    key or None,
                    f"{value}: {reason}" if value else reason,
                )
            )


def build_index(merged: Merged, *, load_seconds: float = 0.0) -> MappingIndex:
    """Validate and parse a merged payload into a `MappingIndex`.

    Invalid descriptors and pairs are collected (all of them) and skipped; the
    valid rest is indexed. The payload's dicts are reused in place (no copy of
    the big tables), so the merged data belongs to the index afterwards.
    """
    builder = _Builder(merged)
    forward, reverse = builder.build()
    return MappingIndex(
        forward,
        reverse,
        invalid=builder.invalid,
        origins=(merged.base_origin,),
        load_seconds=load_seconds,
    )
