"""Viewing passes: when a replay is a rewatch, decided from play times.

A *pass* is one run through a title's units (episodes 1..total) in time order. The
first pass completes when every unit has been consumed; a replay before that (episode
7 three times in one evening, before 8-12 were seen) is part of the first pass, not a
rewatch. Once a pass has consumed every unit, the next play — necessarily of a unit
already consumed in it — starts a new pass. So a rewatch is *a new pass that starts
after the previous pass completed*, and `repeat` counts completed passes beyond the
first.

Only exact play times can order plays. Play counts without times (a server's view
count, an event summary) say how often, not when: from those the engine never
infers a rewatch in progress (see `anibridge.bridge.derive`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Passes", "segment"]


@dataclass(frozen=True, slots=True)
class Passes:
    """The passes one title's plays make up.

    Attributes:
        completed: Passes that consumed every unit.
        current: Units consumed so far in the pass under way (empty when the last
            play completed a pass, or nothing was played).
    """

    completed: int = 0
    current: frozenset[int] = frozenset()

    @property
    def rewatching(self) -> bool:
        """A pass after a completed one is under way (a rewatch in progress)."""
        return self.completed >= 1 and bool(self.current)

    @property
    def repeat(self) -> int:
        """Completed passes beyond the first."""
        return max(self.completed - 1, 0)

    @property
    def index(self) -> int:
        """Zero-based number of the latest pass: under way, or else the last one done.

        Progress belongs to a pass: a lower progress in a later pass is a new pass,
        in the same pass a regression (`anibridge.bridge.oneway`).
        """
        if self.current:
            return self.completed
        return max(self.completed - 1, 0)


def segment(plays: Iterable[tuple[datetime, int]], total: int) -> Passes:
    """Split `(time, unit)` plays of units ``1..total`` into passes.

    Plays are taken in time order (ties by unit number, so the result never depends
    on input order); units outside ``1..total`` are ignored.
    """
    if total < 1:
        return Passes()
    completed = 0
    current: set[int] = set()
    for _, unit in sorted(p for p in plays if 1 <= p[1] <= total):
        current.add(unit)
        if len(current) == total:
            completed += 1
            current = set()
    return Passes(completed, frozenset(current))
