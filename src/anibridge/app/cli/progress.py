"""The CLI's view of a job's progress: Rich bars on a terminal, nothing elsewhere.

It listens to the same events the web shows (`anibridge.progress`), folded by the
same `anibridge.app.service.progress.RunProgress`: one line per provider and
section read (pages, items), a planning line, a writing bar (done/total, rate)
and, while the HTTP layer waits for a rate limit, a line that says so (a paused
run must not look hung). It draws only on a terminal and never under ``--json``:
piped output and JSON stay clean.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.text import Text

from anibridge import progress
from anibridge.app.service.progress import RunProgress
from anibridge.progress import Phase, ProgressEvent, Read, Waiting, Wrote

__all__ = ["CliProgress", "showing_progress"]


class _Detail(ProgressColumn):
    """The task's own detail text (pages/items, rate, wait)."""

    def render(self, task: Task) -> Text:
        return Text(str(task.fields.get("detail", "")), style="dim")


class CliProgress:
    """Turns progress events into Rich tasks on `console`.

    Args:
        console: Where to draw (stderr).
        job: What runs (``sync``, ``preview``, ``undo``, …).
        enabled: Draw at all (False: events are folded, nothing is drawn).
    """

    def __init__(self, console: Console, job: str, *, enabled: bool) -> None:
        """Prepare the (stopped) display."""
        self.state = RunProgress(job)
        self.bar = Progress(
            SpinnerColumn(finished_text="✓"),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _Detail(),
            console=console,
            transient=True,
            disable=not enabled,
        )
        self._reads: dict[tuple[str, str], TaskID] = {}
        self._planning: TaskID | None = None
        self._writing: TaskID | None = None
        self._waiting: TaskID | None = None

    def __call__(self, event: ProgressEvent) -> None:
        """One event: fold it, then update the tasks it touches."""
        self.state.apply(event)
        if self._waiting is not None and not isinstance(event, Waiting):
            self.bar.remove_task(self._waiting)
            self._waiting = None
        if isinstance(event, Read):
            self._read(event)
        elif isinstance(event, Phase):
            self._phase(event)
        elif isinstance(event, Wrote) and self._writing is not None:
            rate = self.state.rate()
            self.bar.update(
                self._writing,
                completed=self.state.written,
                detail="" if rate is None else f"{rate:.1f}/s",
            )
        elif isinstance(event, Waiting):
            self._wait(event)

    def _read(self, event: Read) -> None:
        key = (event.provider, event.section)
        sec = self.state.sections[key]
        detail = f"{sec.pages} page{'s' if sec.pages != 1 else ''}, {sec.items} items"
        task = self._reads.get(key)
        if task is None:
            self._reads[key] = self.bar.add_task(
                f"reading {event.provider} · {event.section}", total=None, detail=detail
            )
        else:
            self.bar.update(task, detail=detail)

    def _phase(self, event: Phase) -> None:
        for task in self._reads.values():
            if event.name != "reading":
                self.bar.update(task, total=1, completed=1)
        if self._planning is not None and event.name != "planning":
            self.bar.update(self._planning, total=1, completed=1)
        if event.name == "planning" and self._planning is None:
            self._planning = self.bar.add_task("planning", total=None, detail="")
        elif event.name == "writing":
            self._writing = self.bar.add_task(
                "writing", total=event.total or None, detail=""
            )

    def _wait(self, event: Waiting) -> None:
        what = {
            "rate limit": "rate limit",
            "retry-after": "the service asked to wait",
            "retry": "retrying after an error",
        }[event.reason]
        text = f"waiting {event.seconds:.0f}s · {event.service}: {what}"
        if self._waiting is None:
            self._waiting = self.bar.add_task(text, total=None, detail="")
        else:
            self.bar.update(self._waiting, description=text)


@contextlib.contextmanager
def showing_progress(
    console: Console, job: str, *, enabled: bool
) -> Iterator[CliProgress]:
    """Draw the progress of everything run inside the block.

    Drawn only when `enabled` and `console` is a terminal.
    """
    view = CliProgress(console, job, enabled=enabled and console.is_terminal)
    with view.bar, progress.reporting(view):
        yield view
