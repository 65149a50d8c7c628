"""`anibridge config check`: the validator the web editor runs, from the shell.

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
    from anibridge.app.config import (
        CONFIG_MAX_BYTES,
        default_config_path,
        validate_config_text,
    )

    path = config or default_config_path()
    problems: list[str]
    try:
        if path.stat().st_size > CONFIG_MAX_BYTES:
            problems = [
                f"config file {path} refused: it is {path.stat().st_size:,} bytes; "
                f"the limit is {CONFIG_MAX_BYTES:,} bytes"
            ]
        else:
            text = path.read_text(encoding="utf-8")
            problems = validate_config_text(text, path=path, environ=os.environ)[1]
    except (OSError, UnicodeDecodeError) as exc:
        problems = [f"config file {path} is not readable: {exc}"]
    if as_json:
        print_json({"valid": not problems, "problems": problems})
    elif problems:
        for problem in problems:
            err_console.print("error: " + problem, style="red", soft_wrap=True)
    else:
        out_console.print(f"{path}: valid", soft_wrap=True)
    if problems:
        raise typer.Exit(1)
