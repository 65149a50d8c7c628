"""`anibridge demo`: a real sync between a local library and a local list."""

from __future__ import annotations

from pathlib import Path

import typer

from anibridge.app.cli import app
from anibridge.app.cli._common import load, print_json, run_async
from anibridge.app.cli.sync import _public, execute, print_plan, print_summary


@app.command()
def demo(
    directory: Path = typer.Option(  # noqa: B008
        Path(".anibridge-demo"), "--dir", help="Workspace folder (created or reused)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print only a JSON summary."),
) -> None:
    """Sync the demo library into the demo list (42 real titles, no accounts)."""
    from anibridge.app.cli._common import out_console
    from anibridge.app.demo import prepare_workspace
    from anibridge.app.runtime import StopFlag

    config_path, created = prepare_workspace(directory)
    loaded = load(config_path)
    stop = StopFlag()
    summary, plan, code = run_async(
        lambda: execute(
            loaded, "demo", dry_run=False, stop=stop, progress=not as_json, full=True
        ),
        stop=stop,
    )
    if as_json:
        print_json(_public(summary))
        raise typer.Exit(code)
    out_console.print(
        f"Demo workspace: {directory} ({'created' if created else 'reused'})",
        soft_wrap=True,
    )
    if plan is not None:
        print_plan(plan, summary, show_skipped=False)
    print_summary(summary)
    out_console.print(
        f"Undo this run: anibridge undo {summary['run_id']} --config {config_path}",
        soft_wrap=True,  # never break the command a person copies
    )
    raise typer.Exit(code)
