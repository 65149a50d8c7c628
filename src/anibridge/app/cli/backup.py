"""`anibridge backup` and `anibridge restore FILE`."""

from __future__ import annotations

from pathlib import Path

import typer

from anibridge.app.cli import app
from anibridge.app.cli._common import ConfigOption, fail, load, run_async


@app.command()
def backup(
    profile: str | None = typer.Option(None, "--profile", "-p", help="Profile name."),
    config: Path | None = ConfigOption,
) -> None:
    """Back up the profile's target (and source) now; keeps `backups.retention`."""
    from anibridge.app.cli._common import out_console
    from anibridge.app.runtime import close_session, open_session, write_backup

    loaded = load(config)

    async def go() -> list[Path]:
        session = await open_session(loaded, profile)
        try:
            written = []
            for key in session.providers:
                path = await write_backup(session, key)
                if path is not None:
                    written.append(path)
            return written
        finally:
            await close_session(session)

    for path in run_async(go):
        out_console.print(f"Backup written: {path}")


@app.command()
def restore(
    file: Path = typer.Argument(..., help="A backup file written by AniBridge."),  # noqa: B008
    provider: str | None = typer.Option(
        None, "--provider", help="Provider key (default: from the file name)."
    ),
    profile: str | None = typer.Option(None, "--profile", "-p", help="Profile name."),
    config: Path | None = ConfigOption,
) -> None:
    """Restore a provider from a backup (its current state is backed up first)."""
    from anibridge.app.cli._common import out_console
    from anibridge.app.runtime import close_session, open_session, write_backup
    from anibridge.bridge.sync import forget_cursors
    from anibridge.provider.base import SupportsBackupImports

    loaded = load(config)
    try:
        payload = file.read_bytes()
    except OSError as exc:
        raise fail(f"backup file {file} is not readable: {exc.strerror}") from None

    async def go() -> str:
        session = await open_session(loaded, profile)
        try:
            key = provider or next(
                (k for k in session.providers if file.name.startswith(f"{k}-")), None
            )
            if key is None or key not in session.providers:
                raise fail(
                    f"cannot tell which provider {file} belongs to; pass --provider "
                    f"({', '.join(session.providers)})"
                )
            target = session.providers[key]
            if not isinstance(target, SupportsBackupImports):
                raise fail(f"provider {key!r} cannot import backups")
            await write_backup(session, key)
            await target.import_backup(payload)
            # The restored side changed behind the change feed: read all next time.
            forget_cursors(session.store.bundle(), session.name, session.providers)
            return key
        finally:
            await close_session(session)

    key = run_async(go)
    out_console.print(f"Restored {key} from {file}")
