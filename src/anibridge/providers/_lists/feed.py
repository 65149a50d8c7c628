"""Change-feed positions for services that sort by "last updated" at second precision.

Both AniList (`updatedAt`, epoch seconds) and MAL (`updated_at`, ISO seconds) can list
entries newest first but not "since". A poll reads pages until it meets entries older
than the position. Several entries can share one second, so the position keeps the
ids already reported at its newest second: the next poll reports the others at that
second (a change made later in the same second) without repeating the reported ones.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["FeedPosition"]


@dataclass(frozen=True, slots=True)
class FeedPosition:
    """How far the feed has been reported: a second and the ids reported at it."""

    stamp: int = -1
    ids: frozenset[str] = frozenset()

    def encode(self) -> str:
        """The opaque cursor string."""
        return json.dumps({"t": self.stamp, "ids": sorted(self.ids)})

    @classmethod
    def decode(cls, cursor: str, *, provider: str) -> FeedPosition:
        """Read a cursor made by `encode`.

        Raises:
            ValueError: `cursor` is not one, naming the provider.
        """
        try:
            data = json.loads(cursor)
            return cls(int(data["t"]), frozenset(str(i) for i in data["ids"]))
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{provider}: not a change cursor: {cursor!r}") from None

    def is_new(self, stamp: int, key: str) -> bool:
        """Whether an entry updated at `stamp` has not been reported yet."""
        return stamp > self.stamp or (stamp == self.stamp and key not in self.ids)

    def is_past(self, stamp: int) -> bool:
        """Whether entries at `stamp` (and older, newest-first) are all reported."""
        return stamp < self.stamp

    def after(self, reported: Sequence[tuple[int, str]]) -> FeedPosition:
        """The position once `reported` ((stamp, key), oldest first) are out."""
        if not reported:
            return self
        last = reported[-1][0]
        ids = {key for stamp, key in reported if stamp == last}
        if last == self.stamp:
            ids |= self.ids
        return FeedPosition(last, frozenset(ids))

    @staticmethod
    def oldest_first(
        rows: Sequence[tuple[int, str]], limit: int | None
    ) -> list[tuple[int, str]]:
        """Unreported rows in report order, at most `limit` of them."""
        ordered = sorted(rows)
        return ordered if limit is None else ordered[: max(limit, 0)]
