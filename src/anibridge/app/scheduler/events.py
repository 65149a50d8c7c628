"""In-process publish/subscribe for live updates (the web's server-sent events).

Slow subscribers never block the scheduler: each has a bounded queue and loses its
oldest events when it falls behind (it can always reload the page for full state).
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Any

__all__ = ["EventBus"]


class EventBus:
    """Fan-out of small JSON events to any number of async subscribers."""

    def __init__(self, *, queue_size: int = 256) -> None:
        """Create an empty bus."""
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._size = queue_size
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        """A new queue that receives every event published from now on."""
        self._loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._size)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Stop delivering to `queue`."""
        self._subscribers.discard(queue)

    def publish(self, kind: str, **data: Any) -> None:
        """Deliver an event to every subscriber without waiting (any thread)."""
        if not self._subscribers:
            return
        event = {
            "id": next(self._ids),
            "kind": kind,
            "at": datetime.now(UTC).isoformat(),
            **data,
        }
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is not None and running is not self._loop:
            if not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._deliver, event)
            return
        self._deliver(event)

    def _deliver(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    @property
    def subscribers(self) -> int:
        """How many subscribers are listening."""
        return len(self._subscribers)
