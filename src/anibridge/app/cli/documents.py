"""`anibridge export` and `anibridge import`: the portable local document format.

Export works for every provider (read through the contract); import writes into a
`local` provider, after backing up what it replaces. Format: docs/local-format.md.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from anibridge.app.cli import app
from anibridge.app.cli._common import ConfigOption, fail, load, run_async


@app.command("export")
def export_command(
    provider: str = typer.Argument(..., help="Provider key in the profile."),
    profile: str | None = typer.Option(None, "--profile", "-p", help="Profile name."),
    fmt: str = typer.Option("yaml", "--format", "-f", help="yaml or json."),
    output: Path | None = typer.Option(  # noqa: B008
        None, "--output", "-o", help="File to write (default: stdout)."
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Export a provider's state (any provider) as a local document."""
    from anibridge.app.cli._common import out_console
    from anibridge.app.runtime import close_session, open_session
    from anibridge.providers.local import LocalProvider, dump_document
    from anibridge.providers.local.export import export_provider_state

    if fmt not in ("yaml", "json"):
        raise fail(f"--format: expected yaml or json, got {fmt!r}")
    loaded = load(config)

    async def go() -> bytes:
        session = await open_session(loaded, profile)
        try:
            if provider not in session.providers:
                raise fail(
                    f"profile {session.name!r} has no provider {provider!r} "
                    f"({', '.join(session.providers)})"
                )
            target = session.providers[provider]
            if isinstance(target, LocalProvider):
                document = target.export_document()
            else:
                document = await export_provider_state(target)
            document["exported_at"] = datetime.now(UTC).isoformat()
            return dump_document(document, fmt=fmt)
        finally:
            await close_session(session)

    data = run_async(go)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        out_console.print(f"Exported {provider} to {output}", highlight=False)


@app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="A local document (YAML or JSON)."),  # noqa: B008
    provider: str = typer.Option(..., "--provider", help="The local provider key."),
    profile: str | None = typer.Option(None, "--profile", "-p", help="Profile name."),
    config: Path | None = ConfigOption,
) -> None:
    """Replace a local provider's state with a document (backed up first).

    The whole document is parsed and validated before the backup or any write: a
    bad file exits 1 with one line and leaves the backups folder as it was.
    """
    from anibridge.app.cli._common import out_console
    from anibridge.app.runtime import close_session, open_session
    from anibridge.app.service.backups import BackupRefused, import_document

    loaded = load(config)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"document {file} is not readable: {exc.strerror}") from None

    async def go() -> int:
        session = await open_session(loaded, profile)
        try:
            return await import_document(session, provider, data, where=str(file))
        except BackupRefused as exc:
            raise fail(str(exc)) from None
        finally:
            await close_session(session)

    count = run_async(go)
    out_console.print(f"Imported {count} titles into {provider} from {file}")
