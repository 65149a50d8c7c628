"""`anibridge init`: write the commented config template."""

from __future__ import annotations

from pathlib import Path

import typer

from anibridge.app.cli import app
from anibridge.app.cli._common import fail


@app.command()
def init(
    path: Path = typer.Argument(Path("anibridge.yaml"), help="Where to write it."),  # noqa: B008
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented anibridge.yaml to start from."""
    from anibridge.app.config.template import TEMPLATE

    if path.exists() and not force:
        raise fail(f"{path} already exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEMPLATE, encoding="utf-8")
    typer.echo(f"Wrote {path}; edit it, then run `anibridge plan`.")
