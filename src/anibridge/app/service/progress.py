"""Progress of a job, folded from `anibridge.progress` events; one board per service.

The engine and the HTTP layer emit small events (a page read, a phase, a batch
written, a wait); `RunProgress` folds them into what a person wants to see: per
provider and section the pages and items read, the phase, writes done of the total
with their rate, and a wait for a rate limit *named as such* (so a paused run does
not look hung). The CLI draws it with Rich (`anibridge.app.cli.progress`), the web
streams `RunProgress.to_json()` over SSE; both get the same numbers.

`ProgressBoard` keeps the newest job's progress per profile (the finished one too,
with its result), so a browser that connects or reconnects mid-run gets the
current state at once and then the updates. Clocks are injected: rates and
throttling never depend on the machine's speed in tests.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from anibridge import progress
from anibridge.progress import Phase, ProgressEvent, Read, Waiting, Wrote

__all__ = ["ProgressBoard", "RunProgress"]

Clock = Callable[[], float]


@dataclass(slots=True)
class _Section:
    provider: str
    section: str
    pages: int = 0
    items: int = 0


@dataclass(slots=True)
class RunProgress:
    """One job's progress (a sync, preview, apply, undo, restore).

    Attributes:
        job: What runs (``sync``, ``preview``, ``apply``, …).
        clock: Monotonic seconds (injected in tests).
        phase: ``starting``, ``reading``, ``planning``, ``writing``, ``done``.
        sections: Reads per (provider, section), in the order first seen.
        total: Writes planned once writing started.
        written: Writes sent so far.
        waiting: The wait in progress, if any (service, seconds, reason, until).
        finished: The job ended (see `result`).
        result: The job's result as JSON (status, run id, plan id, summary, error).
    """

    job: str
    clock: Clock = time.monotonic
    phase: str = "starting"
    sections: dict[tuple[str, str], _Section] = field(default_factory=dict)
    total: int | None = None
    written: int = 0
    waiting: dict[str, Any] | None = None
    finished: bool = False
    result: dict[str, Any] | None = None
    started: float = 0.0
    seq: int = 0
    _write_started: float | None = None

    def __post_init__(self) -> None:
        """Note when the job started (for the elapsed time)."""
        self.started = self.clock()

    def apply(self, event: ProgressEvent) -> bool:
        """Fold one event in; True when it is worth telling a watcher at once.

        Phase changes, waits and the end are; a page or a batch is not (a
        watcher may be told of those at a slower pace).
        """
        urgent = False
        if not isinstance(event, Waiting):
            self.waiting = None
        if isinstance(event, Read):
            key = (event.provider, event.section)
            sec = self.sections.get(key)
            if sec is None:
                sec = self.sections[key] = _Section(event.provider, event.section)
                urgent = True
            sec.pages += 1
            sec.items += event.items
            if self.phase == "starting":
                self.phase = "reading"
        elif isinstance(event, Phase):
            urgent = event.name != self.phase
            self.phase = event.name
            if event.name == "writing":
                self.total = event.total
                self.written = 0
                self._write_started = self.clock()
        elif isinstance(event, Wrote):
            if self._write_started is None:
                self._write_started = self.clock()
            self.written += event.count
        elif isinstance(event, Waiting):
            now = self.clock()
            self.waiting = {
                "service": event.service,
                "seconds": round(event.seconds, 1),
                "reason": event.reason,
                "until": now + event.seconds,
            }
            urgent = event.seconds >= 1.0
        return urgent

    def rate(self) -> float | None:
        """Writes per second since the first write (None before one is done)."""
        if self._write_started is None or not self.written:
            return None
        elapsed = self.clock() - self._write_started
        return None if elapsed <= 0 else self.written / elapsed

    def finish(self, result: dict[str, Any] | None) -> None:
        """The job ended with `result` (None: it raised)."""
        self.finished = True
        self.phase = "done"
        self.waiting = None
        self.result = result

    def to_json(self) -> dict[str, Any]:
        """The state as the web shows it (and as the SSE stream sends it)."""
        now = self.clock()
        waiting = None
        if self.waiting is not None:
            left = max(0.0, self.waiting["until"] - now)
            waiting = {
                "service": self.waiting["service"],
                "reason": self.waiting["reason"],
                "seconds": self.waiting["seconds"],
                "left": round(left, 1),
            }
        rate = self.rate()
        return {
            "seq": self.seq,
            "job": self.job,
            "phase": self.phase,
            "elapsed_s": round(now - self.started, 1),
            "reads": [
                {
                    "provider": s.provider,
                    "section": s.section,
                    "pages": s.pages,
                    "items": s.items,
                }
                for s in self.sections.values()
            ],
            "writes": {
                "done": self.written,
                "total": self.total,
                "rate": None if rate is None else round(rate, 2),
            },
            "waiting": waiting,
            "finished": self.finished,
            "result": self.result,
        }


Listener = Callable[[str, dict[str, Any]], None]


class ProgressBoard:
    """The newest job's progress per profile, told to a listener as it changes.

    Jobs run on profile threads; the web reads the board from its own loop, so
    every access holds a lock. Updates reach the listener (the web's event bus)
    at once for phase changes, waits and the end, and otherwise at most every
    `interval` seconds, so a fast read of a big library does not flood the live
    stream.

    Args:
        listener: Called with (profile, state JSON) after a change.
        clock: Monotonic seconds.
        interval: Minimum seconds between routine updates of one profile.
    """

    def __init__(
        self,
        listener: Listener | None = None,
        *,
        clock: Clock = time.monotonic,
        interval: float = 0.25,
    ) -> None:
        """Create an empty board."""
        self.listener = listener
        self._clock = clock
        self._interval = interval
        self._lock = threading.Lock()
        self._jobs: dict[str, RunProgress] = {}
        self._told: dict[str, float] = {}
        self._seq: dict[str, int] = {}

    def seq(self, profile: str) -> int:
        """How many jobs of `profile` were tracked so far.

        A page that starts a job after reading this waits for a state with a
        higher ``seq``, never mistaking the previous job's result for its own.
        """
        with self._lock:
            return self._seq.get(profile, 0)

    def state(self, profile: str) -> dict[str, Any] | None:
        """The profile's newest job as JSON (None: nothing ran since start)."""
        with self._lock:
            job = self._jobs.get(profile)
            return None if job is None else job.to_json()

    def _tell(self, profile: str, state: dict[str, Any]) -> None:
        if self.listener is not None:
            with contextlib.suppress(Exception):
                self.listener(profile, state)

    def _update(self, profile: str, job: RunProgress, event: ProgressEvent) -> None:
        with self._lock:
            if self._jobs.get(profile) is not job:
                return  # a newer job replaced it
            urgent = job.apply(event)
            now = self._clock()
            if not urgent and now - self._told.get(profile, -1e18) < self._interval:
                return
            self._told[profile] = now
            state = job.to_json()
        self._tell(profile, state)

    @contextlib.contextmanager
    def track(self, profile: str, job: str) -> Iterator[RunProgress]:
        """Report everything emitted inside the block as `profile`'s job `job`.

        Must be entered in the task that runs the job (events follow the task's
        context). The caller records the result with `finish`; a block that
        raises ends the job ``failed`` (the error's class only: its message is
        the caller's to report, through its own channel).
        """
        run = RunProgress(job, clock=self._clock)
        with self._lock:
            run.seq = self._seq[profile] = self._seq.get(profile, 0) + 1
            self._jobs[profile] = run
            self._told[profile] = self._clock()
            state = run.to_json()
        self._tell(profile, state)
        try:
            with progress.reporting(lambda e: self._update(profile, run, e)):
                yield run
        except BaseException as exc:
            self.finish(
                profile, run, {"status": "failed", "error": f"{type(exc).__name__}"}
            )
            raise

    def finish(
        self, profile: str, run: RunProgress, result: dict[str, Any] | None
    ) -> None:
        """End `run` with its result and tell the listener."""
        with self._lock:
            run.finish(result)
            if self._jobs.get(profile) is not run:
                return
            state = run.to_json()
        self._tell(profile, state)
