"""`anibridge providers`: installed providers and their capabilities."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import typer

from anibridge.app.cli import app
from anibridge.app.cli._common import print_json


def _describe(name: str) -> dict:
    from anibridge.app.config import ProviderLoadError, load_provider_class

    try:
        cls = load_provider_class(name)
    except ProviderLoadError as exc:
        return {"name": name, "loaded": False, "error": str(exc)}
    info: dict = {
        "name": name,
        "loaded": True,
        "display_name": getattr(cls, "DISPLAY_NAME", name),
        "mixins": sorted(
            b.__name__ for b in cls.__mro__ if b.__name__.startswith("Supports")
        ),
        # Optional convention: a provider class may list its config keys with a
        # one-line description each (see docs/writing-a-provider.md).
        "config_keys": {
            str(k): str(v) for k, v in (getattr(cls, "CONFIG_KEYS", None) or {}).items()
        },
    }
    try:  # capabilities of a default instance, when it can be built offline
        with tempfile.TemporaryDirectory() as tmp:
            config = {"path": str(Path(tmp) / "x.sqlite")} if name == "local" else {}
            caps = cls(
                logger=logging.getLogger("anibridge"), config=config
            ).capabilities()
        info["roles"] = sorted(r.value for r in caps.roles)
        info["fields"] = sorted(
            f.value for f, spec in caps.record_fields.items() if spec.writable
        )
        info["write_ops"] = sorted(w.value for w in caps.write_ops)
    except Exception:  # needs credentials or a server: show what we know
        info["note"] = "capabilities depend on its configuration"
    return info


@app.command("providers")
def providers_command(
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Installed providers (the `anibridge.providers` entry points) and capabilities."""
    from rich.table import Table
    from rich.text import Text

    from anibridge.app.cli._common import out_console
    from anibridge.app.config import available_providers

    rows = [_describe(name) for name in sorted(available_providers())]
    if as_json:
        print_json(rows)
        return
    table = Table(title="Providers")
    for col in ("name", "status", "roles", "writable fields", "config keys", "mixins"):
        table.add_column(col, overflow="fold")
    for r in rows:
        if not r["loaded"]:
            table.add_row(
                r["name"],
                Text("not installed / failed to load", style="red"),
                "",
                "",
                "",
                "",
            )
            continue
        table.add_row(
            r["name"],
            "ok",
            ", ".join(r.get("roles", [])) or r.get("note", ""),
            ", ".join(r.get("fields", [])),
            ", ".join(r["config_keys"]),
            ", ".join(m.removeprefix("Supports") for m in r["mixins"]),
        )
    out_console.print(table)
