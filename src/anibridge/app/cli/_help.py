"""`anibridge --help` as typer prints it on a terminal of 80 columns or more.

`anibridge.app.cli._fast` prints this instead of importing typer and every command
module, which is most of what `--help` costs. The text below is generated from the
typer app: after changing a command's name, order or first docstring line, or a root
option, run ``.venv/bin/python -m anibridge.app.cli._help`` to write it again
(`tests/app/cli/test_cli_fast.py` fails until it matches typer's output).
"""

from __future__ import annotations

__all__ = ["USAGE_ARGS", "WIDTH", "render"]

WIDTH = 78
"""The width click formats help at on a terminal of 80 or more columns."""

USAGE_ARGS = "[OPTIONS] COMMAND [ARGS]..."

# -- generated: everything after the usage line ---------------------------------------
BODY = (
    "\n"
    "  Keep media state (status, progress, ratings, dates, rewatches, notes, plays)\n"
    "  in sync between media servers and trackers.\n"
    "\n"
    "Options:\n"
    "  --debug    Print tracebacks with errors and log at debug level.\n"
    "  --version  Print the version and exit.\n"
    "  --help     Show this message and exit.\n"
    "\n"
    "Commands:\n"
    "  serve      Run the service: schedules, webhooks, web UI and API (Ctrl-C...\n"
    "  init       Write a commented anibridge.yaml with a section for each...\n"
    "  sync       Sync a profile: read both sides, plan, back up, write, journal.\n"
    "  plan       Preview what a sync would write (a dry run), as a diff table...\n"
    "  history    Recent runs, newest first.\n"
    "  undo       Revert every write a run made (entries it created are...\n"
    "  backup     Back up the profile's target (and source) now; keeps...\n"
    "  restore    Restore a provider from a backup (its current state is...\n"
    "  providers  Installed providers: kind, how to sign in, config keys and...\n"
    "  demo       Sync the demo library into the demo list (42 real titles, no...\n"
    "  export     Export a provider's state (any provider) as a local document.\n"
    "  import     Replace a local provider's state with a document (backed up...\n"
    "  check      Check each provider: reach, sign-in, account, capabilities,...\n"
    "  worker     Run hosted jobs from the PostgreSQL queue until stopped...\n"
    "  migrate    Bring the store (and a hosted deployment's job queue) to...\n"
    "  mappings   Query and update the anibridge-mappings dataset.\n"
    "  token      Personal API tokens for the web API.\n"
    "  user       Accounts of a shared service: who owns which profiles.\n"
    "  pin        Pin fields of target entries so syncs never write them.\n"
    "  login      Sign in to a provider (OAuth).\n"
    "  config     Check the configuration.\n"
)
# -- end generated --------------------------------------------------------------------


def render(prog: str) -> str | None:
    """What `--help` prints for `prog`, or None when its usage line would wrap."""
    usage = f"Usage: {prog} {USAGE_ARGS}"
    if len(usage) > WIDTH:
        return None
    return f"{usage}\n{BODY}"


def _write() -> None:  # pragma: no cover - a maintainer's command
    """Regenerate `BODY` from the typer app's own `--help` output."""
    import json
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys; sys.argv = ['anibridge', '--help']; "
        "from anibridge.app.cli import run_typer; run_typer(['--help'])"
    )
    env = {**os.environ, "COLUMNS": "80"}
    text = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    usage, _, body = text.partition("\n")
    if usage != f"Usage: anibridge {USAGE_ARGS}":
        raise SystemExit(f"unexpected usage line: {usage!r}")
    path = Path(__file__)
    source = path.read_text(encoding="utf-8")
    lines = "".join(f"    {json.dumps(line)}\n" for line in body.splitlines(True))
    source = re.sub(
        r"^BODY = .*?(?=^# -- end generated)",
        lambda _: f"BODY = (\n{lines})\n",
        source,
        count=1,
        flags=re.S | re.M,
    )
    path.write_text(source, encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    _write()
