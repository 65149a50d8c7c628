"""`anibridge providers`: installed providers, their config keys and how to sign in."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import typer

from anibridge.app.cli import app
from anibridge.app.cli._common import fail, print_json


def _key_rows(name: str) -> tuple[list[dict], str, bool]:
    from anibridge.app.config.setup import provider_info

    info = provider_info(name)
    rows = [
        {
            "name": key,
            "required": spec.required,
            "secret": spec.secret,
            "login": spec.login,
            "help": spec.help,
        }
        for key, spec in info.user_keys.items()
    ]
    return rows, info.sign_in, info.server


def _describe(name: str) -> dict:
    from anibridge.app.config import ProviderLoadError, load_provider_class

    try:
        cls = load_provider_class(name)
    except ProviderLoadError as exc:
        return {"name": name, "loaded": False, "error": str(exc)}
    keys, sign_in, server = _key_rows(name)
    info: dict = {
        "name": name,
        "loaded": True,
        "display_name": getattr(cls, "DISPLAY_NAME", name),
        "kind": "media server" if server else "tracker",
        "sign_in": sign_in,
        "mixins": sorted(
            b.__name__ for b in cls.__mro__ if b.__name__.startswith("Supports")
        ),
        # Every key a user may set, with its one-line meaning (see
        # anibridge.provider.config_keys; `keys` adds required/secret/login).
        "config_keys": {k["name"]: k["help"] for k in keys},
        "keys": keys,
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


def _detail(row: dict) -> None:
    from rich.table import Table

    from anibridge.app.cli._common import out_console

    out_console.print(
        f"{row['display_name']} ({row['name']}, {row['kind']}); sign in: "
        f"{row['sign_in'] or 'nothing to sign in to'}",
        soft_wrap=True,
    )
    table = Table(title=f"Config keys of {row['name']}")
    for col in ("key", "", "meaning"):
        table.add_column(col, overflow="fold")
    for key in row["keys"]:
        need = "required" if key["required"] else "optional"
        if key["required"] and key["login"]:
            need = "required*"
        if key["secret"]:
            need += ", secret"
        table.add_row(key["name"], need, key["help"])
    out_console.print(table)
    if any(k["required"] and k["login"] for k in row["keys"]):
        out_console.print(
            f"* or leave it out and run `anibridge login {row['name']}` (the token is "
            "kept encrypted in the store)."
        )
    out_console.print(
        "Secrets go in as {env: NAME} or {file: path}, never as values; "
        f"`anibridge init --with {row['name']},…` writes this section for you.",
        soft_wrap=True,
    )


@app.command("providers")
def providers_command(
    name: str | None = typer.Argument(
        None, help="Show one provider's config keys in full.", show_default=False
    ),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Installed providers: kind, how to sign in, config keys and capabilities."""
    from rich.table import Table
    from rich.text import Text

    from anibridge.app.cli._common import out_console
    from anibridge.app.config import available_providers

    names = sorted(available_providers())
    if name is not None:
        if name not in names:
            raise fail(f"unknown provider {name!r}; installed: {', '.join(names)}")
        names = [name]
    rows = [_describe(n) for n in names]
    if as_json:
        print_json(rows[0] if name is not None else rows)
        return
    if name is not None:
        if not rows[0]["loaded"]:
            raise fail(rows[0]["error"])
        _detail(rows[0])
        return
    table = Table(title="Providers")
    for col in ("name", "kind", "sign in", "keys", "roles"):
        table.add_column(col, overflow="fold")
    for r in rows:
        if not r["loaded"]:
            table.add_row(
                r["name"], Text("not installed / failed to load", style="red"),
                "", "", "",
            )  # fmt: skip
            continue
        required = [k["name"] + ("*" if k["login"] else "") for k in r["keys"]
                    if k["required"]]  # fmt: skip
        table.add_row(
            r["name"],
            r["kind"],
            r["sign_in"],
            (", ".join(required) or "none")
            + f" (+{sum(not k['required'] for k in r['keys'])} optional)",
            ", ".join(r.get("roles", [])) or "(once configured)",
        )
    out_console.print(table)
    out_console.print(
        "keys: the required ones; * `anibridge login <name>` can save it instead. "
        "`anibridge providers <name>` explains every key.",
        soft_wrap=True,
    )
