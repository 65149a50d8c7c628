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
- ``pause@NAME#N=fd:GO,REACHED`` — at that point write this process's pid to the
  inherited pipe end REACHED, then block reading the inherited pipe end GO until
  one byte (or its end) arrives. Lets a test hold a run at a known point, e.g. with
  the profile lock taken, and start a second process against it — with no polling
  on either side: the test's read of REACHED ends when the pause is reached or, at
  end of file, when the process died first; a test that dies releases the pause.
- ``pause@NAME#N=DIR`` — the same through files, for a driver that cannot pass
  pipes: create ``DIR/reached``, then wait until ``DIR/go`` exists (polled).
"""

from __future__ import annotations

import os
import re
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


_PIPES = re.compile(r"fd:\d+,\d+")


def _parse(spec: str) -> list[_Rule]:
    rules = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        action, _, rest = part.partition("@")
        rest, _, arg = rest.partition("=")
        name, _, nth = rest.rpartition("#") if "#" in rest else ("", "", rest)
        if action not in ("kill", "pause") or not nth.isdigit():
            raise ValueError(f"ANIBRIDGE_FAULTS: cannot read rule {part!r}")
        if action == "pause" and arg.startswith("fd:") and not _PIPES.fullmatch(arg):
            raise ValueError(f"ANIBRIDGE_FAULTS: pause needs fd:GO,REACHED in {part!r}")
        if action == "pause" and not arg:
            raise ValueError(f"ANIBRIDGE_FAULTS: pause needs where to wait in {part!r}")
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
            elif rule.arg.startswith("fd:"):
                _pause_on_pipes(rule.arg)
            else:
                _pause(Path(rule.arg))


def _pause_on_pipes(arg: str) -> None:
    go, _, reached = arg.removeprefix("fd:").partition(",")
    os.write(int(reached), f"{os.getpid()}\n".encode())
    os.close(int(reached))
    os.read(int(go), 1)  # a byte: go on; end of file: the test is gone, go on too
    os.close(int(go))


def _pause(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reached").write_text(str(os.getpid()), encoding="utf-8")
    while not (folder / "go").exists():
        time.sleep(0.01)
