"""`anibridge pin`: fields of a target entry AniBridge must never write.

An adapter over `anibridge.app.service.pins` (the web's pin form uses the same).
"""

from __future__ import annotations

from collections.abc import Callable
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

ProfileOption = typer.Option(
    None, "--profile", "-p", help="Profile name (default: the only/default one)."
)


def _with_store[T](
    config: Path | None,
    profile: str | None,
    use: Callable[[SqlStore, str, frozenset[str]], T],
) -> T:
    """Run `use(store, profile, provider keys)`; unknown profiles and errors fail."""
    from anibridge.app.config import ConfigError
    from anibridge.app.service.errors import ServiceError
    from anibridge.store import SqlStore, StoreError

    loaded = load(config)
    try:
        name, cfg = loaded.profile(profile)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    try:
        store = SqlStore(loaded.store_url)
    except StoreError as exc:
        raise fail(str(exc)) from None
    try:
        return use(store, name, frozenset({cfg.source.key, cfg.target.key}))
    except ServiceError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()


@pin_app.command("set")
def pin_set(
    ref: str = typer.Argument(..., help="Target ref id, e.g. anilist:21."),
    fields: list[str] = typer.Argument(..., help="Fields to pin (status, rating, …)."),  # noqa: B008
    profile: str | None = ProfileOption,
    provider: str = typer.Option(..., "--provider", help="Target provider key."),
    config: Path | None = ConfigOption,
) -> None:
    """Pin fields (adds to existing pins)."""
    from anibridge.app.cli._common import out_console
    from anibridge.app.service.pins import set_pins

    view = _with_store(
        config,
        profile,
        lambda store, name, keys: set_pins(
            store, name, provider, ref, fields, merge=True, providers=keys
        ),
    )
    out_console.print(f"Pinned {', '.join(view.fields)} on {provider} {view.ref}")


@pin_app.command("clear")
def pin_clear(
    ref: str = typer.Argument(...),
    profile: str | None = ProfileOption,
    provider: str = typer.Option(..., "--provider"),
    config: Path | None = ConfigOption,
) -> None:
    """Remove all pins of one entry."""
    from anibridge.app.cli._common import out_console
    from anibridge.app.service.pins import clear_pins

    before = _with_store(
        config,
        profile,
        lambda store, name, keys: clear_pins(
            store, name, provider, ref, providers=keys
        ),
    )
    if before is None:
        out_console.print(f"Nothing was pinned on {provider} {ref}")
    else:
        out_console.print(
            f"Unpinned {', '.join(before.fields)} on {provider} {before.ref}"
        )


@pin_app.command("list")
def pin_list(
    profile: str | None = ProfileOption,
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
) -> None:
    """Show pins of a profile."""
    from rich.table import Table

    from anibridge.app.cli._common import out_console
    from anibridge.app.service.pins import list_pins

    name_pins = _with_store(
        config, profile, lambda store, name, _keys: (name, list_pins(store, name))
    )
    name, pins = name_pins
    if as_json:
        print_json([p.to_json() for p in pins])
        return
    table = Table(title=f"Pins ({name})")
    for col in ("provider", "ref", "fields"):
        table.add_column(col)
    for p in pins:
        table.add_row(p.provider, p.ref, ", ".join(p.fields))
    out_console.print(table)
