"""Fault-injection points for crash tests: inert unless the environment arms them.

The crash soak (`bench/crash_soak.py`) and the crash tests `kill -9` a real sync at
points chosen by progress: file creation, seeding, after 0/1/k journal rows, in the
middle of a batch. Code marks those points with `checkpoint(name)`. Unless
``ANIBRIDGE_FAULTS`` or ``ANIBRIDGE_FAULT_TRACE`` is set when the process starts, a
checkpoint is one global lookup and a return: nothing else happens, ever.

``ANIBRIDGE_FAULT_TRACE=PATH`` appends each checkpoint's name (one per line) to PATH,
so a reference run lists the points a kill can target, in order.

``ANIBRIDGE_FAULTS`` holds one or more rules separated by ``;``:

- ``kill@N`` — SIGKILL this process at the N-th checkpoint reached (1-based, all names).
- ``kill@NAME#N`` — SIGKILL at the N-th time checkpoint NAME is reached.
- ``pause@NAME#N=DIR`` — at that point create ``DIR/reached`` and wait until
  ``DIR/go`` exists (lets a test hold a run at a known point, e.g. with the profile
  lock taken, and start a second process against it).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["armed", "checkpoint"]


@dataclass(slots=True)
class _Rule:
    action: str  # kill | pause
    name: str | None  # None: count every checkpoint
    nth: int
    arg: str = ""


def _parse(spec: str) -> list[_Rule]:
    rules = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        action, _, rest = part.partition("@")
        rest, _, arg = rest.partition("=")
        name, _, nth = rest.rpartition("#") if "#" in rest else ("", "", rest)
        if action not in ("kill", "pause") or not nth.isdigit():
            raise ValueError(f"ANIBRIDGE_FAULTS: cannot read rule {part!r}")
        rules.append(_Rule(action, name or None, int(nth), arg))
    return rules


_RULES = _parse(os.environ.get("ANIBRIDGE_FAULTS", ""))
_TRACE = os.environ.get("ANIBRIDGE_FAULT_TRACE") or None
_ARMED = bool(_RULES or _TRACE)
_total = 0
_hits: dict[str, int] = {}


def armed() -> bool:
    """Whether any fault rule or trace is active in this process."""
    return _ARMED


def checkpoint(name: str) -> None:
    """Mark a point a crash test may stop at (a no-op unless armed)."""
    if not _ARMED:
        return
    _hit(name)


def _hit(name: str) -> None:
    global _total
    _total += 1
    _hits[name] = _hits.get(name, 0) + 1
    if _TRACE:
        with open(_TRACE, "a", encoding="utf-8") as fh:
            fh.write(name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    for rule in _RULES:
        count = _total if rule.name is None else _hits.get(rule.name, 0)
        if (rule.name is None or rule.name == name) and count == rule.nth:
            if rule.action == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            else:
                _pause(Path(rule.arg))


def _pause(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reached").write_text(str(os.getpid()), encoding="utf-8")
    while not (folder / "go").exists():
        time.sleep(0.01)
