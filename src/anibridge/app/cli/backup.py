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
    """Restore a provider from a backup (its current state is backed up first).

    The whole payload is parsed and validated before the safety backup or any
    write: a bad file exits 1 with one line and leaves the backups folder as it was.
    """
    from anibridge.app.cli._common import out_console
    from anibridge.app.runtime import close_session, open_session
    from anibridge.app.service.backups import BackupRefused, restore_payload

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
            try:
                await restore_payload(session, key, payload, source=file)
            except BackupRefused as exc:
                raise fail(f"{file}: {exc}") from None
            return key
        finally:
            await close_session(session)

    key = run_async(go)
    out_console.print(f"Restored {key} from {file}")
