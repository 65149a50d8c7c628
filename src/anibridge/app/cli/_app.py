"""The typer app every command group registers on (`anibridge.app.cli.app`).

Imported only when a run goes through typer: the light paths of
`anibridge.app.cli._fast` never load it.
"""

from __future__ import annotations

import typer

from anibridge.app.cli import DEBUG

__all__ = ["app"]

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
