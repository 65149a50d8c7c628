"""Clocks for rate limiting and backoff.

Production code waits on the real clock. Tests against fake services use a
`ScaledClock` shared with the fake, so a 30-per-minute limit and its waits shrink
together and stay faithful without costing real minutes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from typing import Protocol


class Clock(Protocol):
    """Time source measured in *service seconds* (the units services speak in)."""

    def monotonic(self) -> float:
        """Monotonic service seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` service seconds."""
        ...


class SystemClock:
    """The real clock: one service second is one second."""

    def monotonic(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """A clock where one service second lasts `scale` real seconds.

    A fake service built with the same scale enforces its limits on the same
    timeline, so `Retry-After: 60` means 0.6 real seconds at scale 0.01.
    """

    def __init__(self, scale: float) -> None:
        """Create a clock running `1 / scale` times faster than real time.

        Raises:
            ValueError: `scale` is not positive.
        """
        if scale <= 0:
            raise ValueError("ScaledClock scale must be > 0")
        self.scale = scale

    def monotonic(self) -> float:
        """Monotonic service seconds."""
        return time.monotonic() / self.scale

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` service seconds (`seconds * scale` real seconds)."""
        await asyncio.sleep(max(0.0, seconds) * self.scale)


class ManualClock:
    """Virtual time for tests: no real second ever passes.

    Time moves only when someone sleeps on it (`sleep(s)` adds `s` and returns at
    once) or a test calls `advance`. A fake service and the client under test that
    share one `ManualClock` agree on every rate-limit window however slow or busy
    the machine is: a request takes no virtual time, so what the fake counts
    inside a window is exactly what the client sent. Thread-safe, because fake
    services answer on their own threads.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        """Start the virtual timeline at `start` seconds."""
        self._now = float(start)
        self._lock = threading.Lock()
        self.slept = 0.0
        """Total virtual seconds requested through `sleep` (for assertions)."""

    def monotonic(self) -> float:
        """The current virtual time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass (a test's "wait a second")."""
        with self._lock:
            self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass, then yield to other tasks once."""
        wanted = max(0.0, seconds)
        with self._lock:
            self.slept += wanted
            self._now += wanted
        await asyncio.sleep(0)


SYSTEM_CLOCK = SystemClock()


def clock_from_config(config: Mapping[str, object]) -> Clock:
    """The clock a provider config asks for: ``clock``, else ``time_scale``, else real.

    Tests pass the fake service's clock (or its scale) so client-side limits and the
    fake's limits run on one timeline.

    Raises:
        ValueError: ``clock`` is not a clock or ``time_scale`` is not a positive number.
    """
    clock = config.get("clock")
    if clock is not None:
        if not callable(getattr(clock, "monotonic", None)) or not callable(
            getattr(clock, "sleep", None)
        ):
            raise ValueError("config 'clock' must have monotonic() and sleep()")
        return clock  # type: ignore[return-value]
    scale = config.get("time_scale")
    if scale is None:
        return SYSTEM_CLOCK
    if isinstance(scale, bool) or not isinstance(scale, int | float):
        raise ValueError(f"config 'time_scale' must be a number, got {scale!r}")
    return ScaledClock(float(scale))
