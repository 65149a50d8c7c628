"""`anibridge pin`: fields of a target entry AniBridge must never write."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from anibridge.app.cli import app
from anibridge.app.cli._common import ConfigOption, fail, load, print_json

if TYPE_CHECKING:
    from anibridge.store import SqlStore

pin_app = typer.Typer(
    rich_markup_mode=None,
    help="Pin fields of target entries so syncs never write them.",
)
app.add_typer(pin_app, name="pin")


def _store(config: Path | None) -> tuple[SqlStore, str, str]:
    from anibridge.store import SqlStore, StoreError

    loaded = load(config)
    try:
        return SqlStore(loaded.store_url), loaded.store_url, str(loaded.path)
    except StoreError as exc:
        raise fail(str(exc)) from None


@pin_app.command("set")
def pin_set(
    ref: str = typer.Argument(..., help="Target ref id, e.g. anilist:21."),
    fields: list[str] = typer.Argument(..., help="Fields to pin (status, rating, …)."),  # noqa: B008
    profile: str = typer.Option("default", "--profile", "-p"),
    provider: str = typer.Option(..., "--provider", help="Target provider key."),
    config: Path | None = ConfigOption,
) -> None:
    """Pin fields (adds to existing pins)."""
    from anibridge.app.cli._common import out_console
    from anibridge.bridge.stores import Pin
    from anibridge.provider.base import RecordField

    try:
        wanted = frozenset(RecordField(f).value for f in fields)
    except ValueError:
        raise fail(
            f"unknown field in {fields}; use: {', '.join(f.value for f in RecordField)}"
        ) from None
    store, _, _ = _store(config)
    current = {(p.provider, p.ref): p.fields for p in store.pins(profile)}
    merged = current.get((provider, ref), frozenset()) | wanted
    store.set_pin(Pin(profile, provider, ref, merged))
    store.close()
    out_console.print(f"Pinned {', '.join(sorted(merged))} on {provider} {ref}")


@pin_app.command("clear")
def pin_clear(
    ref: str = typer.Argument(...),
    profile: str = typer.Option("default", "--profile", "-p"),
    provider: str = typer.Option(..., "--provider"),
    config: Path | None = ConfigOption,
) -> None:
    """Remove all pins of one entry."""
    from anibridge.app.cli._common import out_console
    from anibridge.bridge.stores import Pin

    store, _, _ = _store(config)
    store.set_pin(Pin(profile, provider, ref, frozenset()))
    store.close()
    out_console.print(f"Unpinned {provider} {ref}")


@pin_app.command("list")
def pin_list(
    profile: str = typer.Option("default", "--profile", "-p"),
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
) -> None:
    """Show pins of a profile."""
    from rich.table import Table

    from anibridge.app.cli._common import out_console

    store, _, _ = _store(config)
    pins = store.pins(profile)
    store.close()
    if as_json:
        print_json(
            [
                {"provider": p.provider, "ref": p.ref, "fields": sorted(p.fields)}
                for p in pins
            ]
        )
        return
    table = Table(title=f"Pins ({profile})")
    for col in ("provider", "ref", "fields"):
        table.add_column(col)
    for p in pins:
        table.add_row(p.provider, p.ref, ", ".join(sorted(p.fields)))
    out_console.print(table)
