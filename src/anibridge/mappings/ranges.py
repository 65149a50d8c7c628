"""Range pairs and edges: the exact episode arithmetic of the v3 ratio convention.

Current convention (the one the data and the app use): the ratio is one trailing
`|r` on the target string. `|n` (n > 0): one target episode covers n source
episodes; `|-n`: one source episode covers n target episodes; `|0`: the range is
disabled; no ratio: 1:1 by position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from anibridge.provider.base import ExternalId

Segment = tuple[int, int | None]
"""An inclusive episode range; `None` as the end means open-ended."""

DERIVED: tuple[str, ...] = ("derived",)
"""Provenance of a reverse pair computed from a forward one."""


def render_range(start: int, end: int | None) -> str:
    """Render a range as the dataset writes it: `x`, `x-y` or `x-`."""
    if end is None:
        return f"{start}-"
    if end == start:
        return str(start)
    return f"{start}-{end}"


@dataclass(frozen=True, slots=True)
class RangePair:
    """One source range mapped onto target segments, with an optional ratio."""

    source_start: int
    source_end: int | None
    target: tuple[Segment, ...]
    ratio: int | None
    provenance: tuple[str, ...] = ()

    @property
    def weight(self) -> float:
        """Progress units one watched source episode is worth."""
        ratio = self.ratio
        if ratio is None or ratio == 1:
            return 1.0
        if ratio == 0:
            return 0.0
        if ratio > 0:
            return 1.0 / ratio
        return float(-ratio)

    @property
    def disabled(self) -> bool:
        """`|0`: the curator marked this range as mapping to nothing."""
        return self.ratio == 0

    @property
    def source_length(self) -> float:
        """Number of source episodes covered (infinite when open-ended)."""
        if self.source_end is None:
            return math.inf
        return self.source_end - self.source_start + 1

    @property
    def source_range(self) -> str:
        """The source range in dataset syntax."""
        return render_range(self.source_start, self.source_end)

    @property
    def target_range(self) -> str:
        """The target segments in dataset syntax, without the ratio suffix."""
        return ",".join(render_range(a, b) for a, b in self.target)

    @property
    def target_length(self) -> int | None:
        """Number of target episodes covered (None when the last segment is open)."""
        total = 0
        for start, end in self.target:
            if end is None:
                return None
            total += end - start + 1
        return total

    def contains(self, episode: int) -> bool:
        """Whether the source range covers `episode`."""
        end = self.source_end
        return self.source_start <= episode and (end is None or episode <= end)

    def target_at(self, position: int) -> int | None:
        """The target episode at 0-based `position` of the concatenated segments."""
        for start, end in self.target:
            if end is None:
                return start + position
            length = end - start + 1
            if position < length:
                return start + position
            position -= length
        return None

    def translate(self, episode: int) -> tuple[int, ...]:
        """Target episodes for one source episode (empty when outside or disabled).

        Positions past a closed target's end (a length mismatch in the data) map to
        nothing rather than to a guessed episode.
        """
        if not self.contains(episode):
            return ()
        ratio = self.ratio
        position = episode - self.source_start
        if ratio is None or ratio == 1:
            found = self.target_at(position)
            return () if found is None else (found,)
        if ratio == 0:
            return ()
        if ratio > 0:
            found = self.target_at(position // ratio)
            return () if found is None else (found,)
        n = -ratio
        out = []
        for offset in range(position * n, position * n + n):
            found = self.target_at(offset)
            if found is not None:
                out.append(found)
        return tuple(out)

    def target_spec(self) -> str:
        """The target value in dataset syntax, ratio suffix included."""
        if self.ratio is None:
            return self.target_range
        return f"{self.target_range}|{self.ratio}"


def reverse_pairs(pair: RangePair) -> tuple[RangePair, ...]:
    """Derive the `B -> A` pairs of one `A -> B` pair the way the pipeline does.

    A single target segment swaps sides and the ratio moves across with its sign
    flipped; comma targets without a ratio split into one pair per segment; comma
    targets with a ratio are not reversed (the pipeline drops them).
    """
    if len(pair.target) == 1:
        (start, end) = pair.target[0]
        ratio = None if pair.ratio is None else -pair.ratio
        segment = (pair.source_start, pair.source_end)
        return (RangePair(start, end, (segment,), ratio, DERIVED),)
    if pair.ratio is not None:
        return ()
    out = []
    offset = 0
    source_end = pair.source_end
    for start, end in pair.target:
        back_start = pair.source_start + offset
        if source_end is not None and back_start > source_end:
            break
        back_end = source_end if end is None else back_start + (end - start)
        if source_end is not None and back_end is not None:
            back_end = min(back_end, source_end)
        out.append(RangePair(start, end, ((back_start, back_end),), None, DERIVED))
        if end is None:
            break
        offset += end - start + 1
    return tuple(out)


def shortest_containing(pairs: tuple[RangePair, ...], episode: int) -> RangePair | None:
    """The pair with the shortest source range containing `episode` (first on ties)."""
    best: RangePair | None = None
    best_length = math.inf
    for pair in pairs:
        start = pair.source_start
        end = pair.source_end
        if episode < start or (end is not None and episode > end):
            continue
        length = math.inf if end is None else end - start
        if best is None or length < best_length:
            best = pair
            best_length = length
    return best


@dataclass(frozen=True, slots=True)
class Edge:
    """All range pairs from one source descriptor to one target descriptor."""

    source: ExternalId
    target: ExternalId
    pairs: tuple[RangePair, ...]

    def pair_for(self, episode: int) -> RangePair | None:
        """The pair that decides `episode`: the shortest containing source range."""
        return shortest_containing(self.pairs, episode)

    def translate(self, episode: int) -> tuple[int, ...]:
        """Target episodes of one source episode through the deciding pair."""
        pair = shortest_containing(self.pairs, episode)
        return () if pair is None else pair.translate(episode)

    def weight(self, episode: int) -> float:
        """Progress units of one watched source episode (0 outside every range)."""
        pair = shortest_containing(self.pairs, episode)
        return 0.0 if pair is None else pair.weight
