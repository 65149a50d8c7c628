"""The `anibridge` command line.

Each command group lives in its own module and registers itself on `app` (the typer
app of `anibridge.app.cli._app`, resolved here on first use); this module only
assembles them, so adding a command never means editing another's module.

Importing this package costs nothing heavy: `main()` first offers the run to
`anibridge.app.cli._fast`, which answers `anibridge --help` and
`anibridge mappings translate …` without typer, and hands everything else (and
anything it does not recognize exactly) to typer.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

    app: typer.Typer

EXIT_BUG = 70  # EX_SOFTWARE: an unexpected error (a bug; --debug shows where)

# Top-level command name -> the module that registers it on `app` (imported for
# that side effect). A run naming one command imports only its module: typer turns
# every registered command into a click command before it dispatches, so loading
# all of them costs a light command about a fifth of its start-up.
# `tests/app/cli/test_cli_startup.py` checks this table against what each module
# really registers.
_COMMANDS: dict[str, str] = {
    "mappings": "anibridge.app.cli.mappings",
    "serve": "anibridge.app.cli.serve",
    "token": "anibridge.app.cli.token",
    "user": "anibridge.app.cli.user",
    "init": "anibridge.app.cli.init",
    "plan": "anibridge.app.cli.sync",
    "sync": "anibridge.app.cli.sync",
    "history": "anibridge.app.cli.history",
    "undo": "anibridge.app.cli.history",
    "backup": "anibridge.app.cli.backup",
    "restore": "anibridge.app.cli.backup",
    "providers": "anibridge.app.cli.providers",
    "pin": "anibridge.app.cli.pin",
    "demo": "anibridge.app.cli.demo",
    "login": "anibridge.app.cli.login",
    "export": "anibridge.app.cli.documents",
    "import": "anibridge.app.cli.documents",
    "config": "anibridge.app.cli.configcheck",
    "check": "anibridge.app.cli.check",
    "migrate": "anibridge.app.cli.worker",
    "worker": "anibridge.app.cli.worker",
}

# Every command module, in the order their commands are listed by `--help`.
_COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(_COMMANDS.values()))


def _load_commands(argv: Sequence[str] | None = None) -> None:
    """Register the commands a run needs: the one `argv` names, else all.

    Without a known command first (`--help`, a typo that needs "did you mean",
    no arguments) every module is loaded, so help and errors list every command.
    """
    # The root's own options (--debug, --version) are flags: skip them.
    first = next((a for a in argv or () if not a.startswith("-")), None)
    named = _COMMANDS.get(first) if first else None
    for name in (named,) if named else _COMMAND_MODULES:
        importlib.import_module(name)


class _Debug:
    """Whether ``--debug`` was given (tracebacks with errors, debug logging)."""

    on = False


DEBUG = _Debug()


def __getattr__(name: str) -> object:
    """`app`, the typer app, imported on first use (PEP 562).

    Raises:
        AttributeError: no such attribute.
    """
    if name == "app":
        from anibridge.app.cli._app import app

        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_typer(argv: Sequence[str]) -> None:
    """Run `argv` through the typer app (every command, every error message)."""
    _load_commands(argv)
    typer_app = globals().get("app") or __getattr__("app")  # a test may replace it
    typer_app()


def main() -> None:
    """Console-script entry point.

    An error no command expected is a bug: it is printed as one line (exit 70)
    asking for ``--debug``, which re-raises it with its traceback.
    """
    argv = sys.argv[1:]
    try:
        from anibridge.app.cli._fast import dispatch

        if not dispatch(argv):
            run_typer(argv)
    except Exception as exc:
        if DEBUG.on:
            raise
        from anibridge.http.redact import mask
        from anibridge.messages import clip

        text = clip(f"{type(exc).__name__}: {exc}".replace("\n", " "), 500)
        sys.stderr.write(
            mask(
                f"error: unexpected {text} — run again with --debug for the "
                "traceback, and please report it\n"
            )
        )
        sys.exit(EXIT_BUG)
