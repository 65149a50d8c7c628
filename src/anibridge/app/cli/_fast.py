"""Light commands answered without typer: `--help`, `mappings translate …`.

Importing typer and turning the command modules into click commands costs a light
command most of its start-up, so `main()` offers each run here first. A run is taken
only when its arguments are in a form whose meaning is unambiguous (known options,
values that are not option-like, integer episodes, readable or absent files, a
console script on POSIX, no shell-completion request); anything else — `--help`, a
typo, a bad value, `--debug` — returns False and typer handles it, so every usage
error keeps typer's own message. The translate body is shared with the typer command
(`anibridge.app.cli._mapping_queries`); `--help` prints the text typer generated
for the width click would format it at (`anibridge.app.cli._help`), for a program
name whose usage line does not wrap. `tests/app/cli/test_cli_fast.py`
checks that both paths print the same and exit the same.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["dispatch", "translate_args"]

_VALUED = {"--to": "to", "--mappings": "mappings", "-m": "mappings"}


def dispatch(argv: Sequence[str]) -> bool:
    """Run `argv` if it is a light command in a form taken here; exits when it does.

    Returns:
        False when typer must handle the run (nothing was done).
    """
    if os.name == "nt" or _completion_requested():
        return False  # click expands wildcards on Windows; completion is typer's
    if list(argv) == ["--help"]:
        text = _root_help()
        if text is not None:
            _run(lambda: _print(text))
    elif argv[:2] == ["mappings", "translate"]:
        parsed = translate_args(argv[2:])
        if parsed is not None:
            import gc

            # A short run that frees by reference counting: the cyclic collector
            # would only walk the contract's freshly made classes (a tenth of the
            # run). A cold run's index build disables it on its own as well.
            gc.disable()
            from anibridge.app.cli._mapping_queries import translate

            _run(lambda: translate(*parsed))
    return False


def _completion_requested() -> bool:
    return any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ)


def _root_help() -> str | None:
    """`anibridge --help`'s text, or None when click would format it differently."""
    prog = _program_name()
    if prog is None:
        return None
    from anibridge.app.cli._help import render, width_for

    return render(prog, width_for(_terminal_columns()))


def _terminal_columns() -> int:
    """The columns `shutil.get_terminal_size()` reports (click's help width source)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


def _program_name() -> str | None:
    """The name click shows in the usage line, for the two ways AniBridge is run.

    The console script (or any file): its file name. `python -m anibridge.app.cli`:
    that phrase. Anything else is left to click.
    """
    path = sys.argv[0] if sys.argv else ""
    package = getattr(sys.modules.get("__main__"), "__package__", None)
    if not package:
        return os.path.basename(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    if package == "anibridge.app.cli" and stem == "__main__":
        return "python -m anibridge.app.cli"
    return None


def _print(text: str) -> None:
    """Write `text` to stdout as click's `echo` writes help (no ANSI in it)."""
    if sys.stdout is not None:
        sys.stdout.write(text)
        sys.stdout.flush()


def translate_args(
    args: Sequence[str],
) -> tuple[str, list[int], list[str] | None, list[Path] | None, bool] | None:
    """`mappings translate` arguments as typer would pass them, or None.

    None when typer must parse them (an unknown or option-like token, a missing or
    option-like value, a non-integer episode, a file click would call unreadable).
    """
    positional: list[str] = []
    values: dict[str, list[str]] = {"to": [], "mappings": []}
    as_json = False
    rest = list(args)
    while rest:
        token = rest.pop(0)
        if not token.startswith("-"):
            positional.append(token)
            continue
        name, equals, value = token.partition("=")
        if token == "--json":
            as_json = True
            continue
        if name not in _VALUED or (equals and name == "-m"):
            return None
        if not equals:
            if not rest:
                return None
            value = rest.pop(0)
        if not value or value.startswith("-"):
            return None
        values[_VALUED[name]].append(value)
    if len(positional) < 2:
        return None
    try:
        episodes = [int(text) for text in positional[1:]]
    except ValueError:
        return None
    if not all(_readable_or_absent(path) for path in values["mappings"]):
        return None
    from pathlib import Path

    to = values["to"] or None
    mappings = [Path(p) for p in values["mappings"]] or None
    return positional[0], episodes, to, mappings, as_json


def _readable_or_absent(path: str) -> bool:
    """Whether click's path check passes (an absent path passes, as in typer)."""
    try:
        os.stat(path)
    except OSError:
        return True
    return os.access(path, os.R_OK)


def _run(body: Callable[[], None]) -> None:
    """Run a command body the way typer's standalone `main` does, then exit 0.

    The same exits for the same events: Ctrl-C 130, end of input "Aborted!" and 1,
    a closed stdout pipe 1 quietly (without importing typer); `SystemExit` from the
    body and unexpected errors pass through to `main()`.
    """
    try:
        body()
    except KeyboardInterrupt:
        sys.exit(130)
    except EOFError:
        from anibridge.app.cli._mapping_queries import echo

        echo("", err=True)
        echo("Aborted!", err=True)
        sys.exit(1)
    except OSError as exc:
        import errno

        if exc.errno != errno.EPIPE:
            raise
        # The exit flushes the streams again: let that flush fail quietly too
        # (what typer does, without importing it: not every typer in the
        # supported range ships `typer._click`).
        sys.stdout = _QuietFlush(sys.stdout)  # type: ignore[assignment]
        sys.stderr = _QuietFlush(sys.stderr)  # type: ignore[assignment]
        sys.exit(1)
    sys.exit(0)


class _QuietFlush:
    """A stream whose `flush` ignores a reader that went away (EPIPE)."""

    def __init__(self, stream: object) -> None:
        self._stream = stream

    def flush(self) -> None:
        """Flush, unless the pipe's reader is gone.

        Raises:
            OSError: any failure other than a broken pipe.
        """
        import errno

        try:
            self._stream.flush()  # type: ignore[attr-defined]
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)
