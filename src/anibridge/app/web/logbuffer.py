"""Recent log records kept in memory for the logs page and the live stream."""

from __future__ import annotations

import logging
from collections import deque
from datetime import UTC, datetime
from typing import Any

from anibridge.app.scheduler import EventBus
from anibridge.http.redact import mask

__all__ = ["LogBuffer"]


class LogBuffer(logging.Handler):
    """A logging handler that remembers the last records and publishes them live."""

    def __init__(self, *, capacity: int = 2000, bus: EventBus | None = None) -> None:
        """Create the handler; attach it with `logging.getLogger().addHandler`."""
        super().__init__(logging.INFO)
        self.records: deque[dict[str, Any]] = deque(maxlen=capacity)
        self.bus = bus

    def emit(self, record: logging.LogRecord) -> None:
        """Store (and publish) one record; never raise into the logging caller."""
        try:
            item = {
                "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname,
                "logger": record.name,
                "message": mask(record.getMessage()),
            }
            if record.exc_info and record.exc_info[1] is not None:
                item["error"] = mask(repr(record.exc_info[1]))
            self.records.append(item)
            if self.bus is not None:
                self.bus.publish("log", record=item)
        except Exception:
            self.handleError(record)

    def tail(self, limit: int = 200, level: str | None = None) -> list[dict[str, Any]]:
        """The newest records (oldest first), optionally at or above `level`."""
        floor = logging.getLevelName(level.upper()) if level else 0
        if not isinstance(floor, int):
            floor = 0
        rows = [
            r
            for r in self.records
            if logging.getLevelName(r["level"]) >= floor  # type: ignore[operator]
        ]
        return rows[-limit:]
