"""The `anibridge` command line.

Each command group lives in its own module and registers itself on `app`; this module
only assembles them, so adding a command never means editing another's module.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import typer

app = typer.Typer(
    rich_markup_mode=None,
    name="anibridge",
    help=(
        "Keep media state (status, progress, ratings, dates, rewatches, notes, plays) "
        "in sync between media servers and trackers."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Top-level command name -> the module that registers it on `app` (imported for
# that side effect). A run naming one command imports only its module: typer turns
# every registered command into a click command before it dispatches, so loading
# all of them costs a light command (`mappings translate`) about a fifth of its
# start-up. `tests/app/cli/test_cli_startup.py` checks this table against what each
# module really registers.
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


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("anibridge")
        except PackageNotFoundError:  # running from a source tree
            number = "unknown"
        typer.echo(f"anibridge {number}")
        raise typer.Exit


@app.callback()
def _root(
    debug: bool = typer.Option(
        False,
        "--debug",
        help="Print tracebacks with errors and log at debug level.",
    ),
    _show_version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """AniBridge: safe, fast sync between media servers and trackers."""
    DEBUG.on = debug
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG)


def main() -> None:
    """Console-script entry point.

    An error no command expected is a bug: it is printed as one line (exit 70)
    asking for ``--debug``, which re-raises it with its traceback.
    """
    _load_commands(sys.argv[1:])
    try:
        app()
    except Exception as exc:
        if DEBUG.on:
            raise
        from anibridge.app.cli._common import EXIT_BUG
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
