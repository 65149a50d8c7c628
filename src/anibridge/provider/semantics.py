"""How a provider's writes behave when an answer is lost: data the engine reads.

Kept beside (not in) `anibridge.provider.base`, whose public API must stay exactly
the published contract. A provider opts in by implementing `SupportsWriteSemantics`;
every other provider gets `WriteSemantics()`: every write may be repeated safely
(upserts set absolute values, appends are deduplicated on ``(ref, kind, at)``) and a
write lands before its answer or not at all.

The engine never asks which provider it is talking to; it reads this object:

- a write whose op is in `unrepeatable` and whose answer was lost (timeout, reset,
  ``TRANSIENT``/``INTERNAL``) is journaled ``unknown`` and not retried in the same
  breath;
- until `settle` has passed since such a write, a re-read that does not find it
  leaves it ``unknown`` (the service may still apply it) and it is not sent again;
  after that, missing means not applied and the next plan sends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol, runtime_checkable

from anibridge.provider.base import WriteOp

__all__ = ["SupportsWriteSemantics", "WriteSemantics", "write_semantics"]


@dataclass(frozen=True, slots=True)
class WriteSemantics:
    """What repeating a write would do, and how late a lost write may still land.

    Attributes:
        unrepeatable: Write ops a blind repeat could apply twice (e.g. appends to
            a play history that keeps every POSTed play).
        settle: How long after a write whose answer was lost the service may
            still apply it.
    """

    unrepeatable: frozenset[WriteOp] = field(default_factory=frozenset)
    settle: timedelta = timedelta(0)

    def repeatable(self, op: WriteOp) -> bool:
        """Whether sending `op` twice leaves the same state as sending it once."""
        return op not in self.unrepeatable


@runtime_checkable
class SupportsWriteSemantics(Protocol):
    """A provider that describes its writes' repeat and late-apply behaviour."""

    def write_semantics(self) -> WriteSemantics:
        """This provider's `WriteSemantics`."""
        ...


def write_semantics(provider: object) -> WriteSemantics:
    """The provider's declared semantics, or the safe-to-repeat default."""
    if isinstance(provider, SupportsWriteSemantics):
        return provider.write_semantics()
    return WriteSemantics()
