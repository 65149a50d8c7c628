"""Progress events of long work: reads, planning, writes, waits.

The engine and the HTTP layer say what they are doing (`emit`); whoever runs them
decides who listens (`reporting`), so nothing below the application passes a
callback through every call. The listener is a context variable: it follows the
running task (and tasks it starts), so two profiles running at once on different
threads or tasks each report to their own listener, and code run without one
(tests, the library used directly) pays one lookup per event.

Events are small frozen dataclasses; `anibridge.app.service.progress` folds them
into the state a front end shows (CLI bars, the web's live progress).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Phase",
    "PhaseName",
    "ProgressEvent",
    "Read",
    "Waiting",
    "Wrote",
    "emit",
    "reporting",
]

PhaseName = Literal["reading", "planning", "writing", "done"]


@dataclass(frozen=True, slots=True)
class Read:
    """One page of a provider's section was read (listeners add them up).

    Attributes:
        provider: The provider's key in the profile.
        section: What is being read (``library``, ``records``, ``plays``, …).
        items: Items on this page.
    """

    provider: str
    section: str
    items: int


@dataclass(frozen=True, slots=True)
class Phase:
    """The run moved on: ``reading`` → ``planning`` → ``writing`` → ``done``.

    Attributes:
        name: The phase now.
        total: For ``writing``: the writes planned (actions to apply).
    """

    name: PhaseName
    total: int | None = None


@dataclass(frozen=True, slots=True)
class Wrote:
    """A batch of writes reached a provider (whatever their outcome)."""

    provider: str
    count: int


@dataclass(frozen=True, slots=True)
class Waiting:
    """The HTTP layer is about to wait before its next request to a service.

    Attributes:
        service: The client's name (the provider).
        seconds: How long it waits.
        reason: ``rate limit`` (our own budget), ``retry-after`` (the service
            asked) or ``retry`` (backing off after a failed attempt).
    """

    service: str
    seconds: float
    reason: Literal["rate limit", "retry-after", "retry"]


ProgressEvent = Read | Phase | Wrote | Waiting

_LISTENER: ContextVar[Callable[[ProgressEvent], None] | None] = ContextVar(
    "anibridge_progress", default=None
)


def emit(event: ProgressEvent) -> None:
    """Tell the current listener, if any; a listener that fails is ignored.

    Progress is a courtesy: a broken display must never break a run.
    """
    listener = _LISTENER.get()
    if listener is None:
        return
    with contextlib.suppress(Exception):
        listener(event)


@contextlib.contextmanager
def reporting(listener: Callable[[ProgressEvent], None] | None) -> Iterator[None]:
    """Send events emitted inside the block (this task and its children) here."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)
