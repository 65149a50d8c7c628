"""The `anibridge` command line.

Each command group lives in its own module and registers itself on `app`; this module
only assembles them, so adding a command never means editing another's module.
"""

from __future__ import annotations

import importlib

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

# Command modules, imported for their side effect of registering on `app`.
_COMMAND_MODULES: tuple[str, ...] = (
    "anibridge.app.cli.mappings",
    "anibridge.app.cli.serve",
    "anibridge.app.cli.token",
    "anibridge.app.cli.init",
    "anibridge.app.cli.sync",
    "anibridge.app.cli.history",
    "anibridge.app.cli.backup",
    "anibridge.app.cli.providers",
    "anibridge.app.cli.pin",
    "anibridge.app.cli.demo",
    "anibridge.app.cli.login",
    "anibridge.app.cli.documents",
    "anibridge.app.cli.configcheck",
    "anibridge.app.cli.worker",
)


def _load_commands() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(name)


@app.callback()
def _root() -> None:
    """AniBridge: safe, fast sync between media servers and trackers."""


def main() -> None:
    """Console-script entry point."""
    _load_commands()
    app()
