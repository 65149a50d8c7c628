"""`anibridge config check`: the validator the web editor runs, from the shell.

An adapter over `anibridge.app.service.config.check_file`.

YAML limits, schema and every profile's providers (built, never connected), with the
same messages the web editor and ``PUT /api/config`` show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from anibridge.app.cli import app

__all__ = ["config_app"]

config_app = typer.Typer(help="Check the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("check")
def check(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="anibridge.yaml (default: $ANIBRIDGE_CONFIG)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Validate the config and every profile's providers (no network, no writes)."""
    import os

    from anibridge.app.cli._common import err_console, out_console, print_json
    from anibridge.app.config import default_config_path
    from anibridge.app.service.config import check_file

    path = config or default_config_path()
    problems = check_file(path, environ=os.environ)
    if as_json:
        print_json({"valid": not problems, "problems": problems})
    elif problems:
        for problem in problems:
            err_console.print("error: " + problem, style="red", soft_wrap=True)
    else:
        out_console.print(f"{path}: valid", soft_wrap=True)
    if problems:
        raise typer.Exit(1)
