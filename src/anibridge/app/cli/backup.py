"""`anibridge backup` and `anibridge restore FILE`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from anibridge.app.cli import app
from anibridge.app.cli._common import ConfigOption, fail, load, run_async

if TYPE_CHECKING:
    from anibridge.app.runtime import Session


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


async def _confirm_restore(session: Session, key: str, file: Path, yes: bool) -> None:
    """Say what a restore replaces; ask, or refuse without a terminal and --yes."""
    from datetime import UTC, datetime

    from anibridge.app.cli import _common
    from anibridge.app.service.check import count_items

    if yes:
        return
    try:
        counts, complete = await count_items(session.providers[key])
    except Exception:  # counting is a courtesy: the question is asked anyway
        counts, complete = None, True
    now = (
        f", {counts['total']}{'' if complete else '+'} titles now"
        if counts is not None
        else ""
    )
    written = datetime.fromtimestamp(file.stat().st_mtime, UTC).astimezone()
    what = (
        f"restore would replace the state of {key} (profile {session.name!r}{now}) "
        f"with the backup {file} (written {written:%Y-%m-%d %H:%M}); its current "
        "state is backed up first"
    )
    if not _common.has_terminal():
        raise fail(f"{what}; run it again with --yes to confirm (no terminal to ask)")
    from anibridge.app.cli._common import out_console

    out_console.print(what[0].upper() + what[1:] + ".", soft_wrap=True)
    if not typer.confirm("Restore it?"):
        raise fail("nothing changed (not confirmed)")


@app.command()
def restore(
    file: Path = typer.Argument(..., help="A backup file written by AniBridge."),  # noqa: B008
    provider: str | None = typer.Option(
        None, "--provider", help="Provider key (default: from the file name)."
    ),
    profile: str | None = typer.Option(None, "--profile", "-p", help="Profile name."),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Restore without showing what changes and asking."
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Restore a provider from a backup (its current state is backed up first).

    The whole payload is parsed and validated before the safety backup or any
    write: a bad file exits 1 with one line and leaves the backups folder as it was.
    It says what it will replace and asks first; without a terminal it refuses
    unless `--yes` is given.
    """
    from anibridge.app.cli._common import out_console
    from anibridge.app.runtime import close_session, open_session
    from anibridge.app.service.backups import BackupRefused, restore_payload
    from anibridge.provider.backup_checks import check_backup
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
            if not isinstance(session.providers[key], SupportsBackupImports):
                raise fail(f"provider {key!r} cannot import backups")
            try:
                check_backup(session.providers[key], payload)
            except (TypeError, ValueError) as exc:
                raise fail(f"{file}: {exc}") from None
            await _confirm_restore(session, key, file, yes)
            try:
                await restore_payload(session, key, payload, source=file)
            except BackupRefused as exc:
                raise fail(f"{file}: {exc}") from None
            return key
        finally:
            await close_session(session)

    key = run_async(go)
    out_console.print(f"Restored {key} from {file}")
