"""`anibridge user`: accounts of a shared service (roles ``admin`` and ``user``).

A ``user`` sees and runs only the profiles whose ``owner`` it is; an ``admin`` sees
everything (see `anibridge.app.web.access`). Accounts live in the service's
credentials file beside the data, like the API tokens.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from anibridge.app.cli import app

__all__ = ["user_app"]

user_app = typer.Typer(
    rich_markup_mode=None,
    help="Accounts of a shared service: who owns which profiles.",
    no_args_is_help=True,
)
app.add_typer(user_app, name="user")


def auth_store(config: Path | None):  # type: ignore[no-untyped-def]
    """The credentials store (`anibridge.app.cli.token.auth_store`, loaded late).

    Imported on use: loading this command's module must not register others.
    """
    from anibridge.app.cli.token import auth_store as load

    return load(config)


_Config = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="anibridge.yaml (default: $ANIBRIDGE_CONFIG)"),
]


@user_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Login name (lowercase).")],
    role: Annotated[
        str, typer.Option("--role", help="admin (everything) or user (own profiles).")
    ] = "user",
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from stdin."),
    ] = False,
    config: _Config = None,
) -> None:
    """Create an account (a generated password is printed once).

    Give its profiles ``owner: NAME`` in the config.
    """
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        generated = auth_store(config).add_user(name, password, role=role)
    except ValueError as exc:
        typer.echo(f"anibridge user add: {exc}", err=True)
        raise typer.Exit(2) from None
    if generated:
        typer.echo(generated)
        typer.echo(
            f"Account {name} ({role}) created; its password is shown only now.",
            err=True,
        )
    else:
        typer.echo(f"Account {name} ({role}) created.", err=True)


@user_app.command("list")
def list_users(
    config: _Config = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """List accounts and their roles."""
    users = auth_store(config).users()
    if as_json:
        typer.echo(json.dumps([{"name": u.name, "role": u.role} for u in users]))
        return
    for u in users:
        typer.echo(f"{u.name}  {u.role}")


@user_app.command("remove")
def remove(name: str, config: _Config = None) -> None:
    """Delete an account with its sessions, API tokens and webhook secrets."""
    try:
        removed = auth_store(config).remove_user(name)
    except ValueError as exc:
        typer.echo(f"anibridge user remove: {exc}", err=True)
        raise typer.Exit(2) from None
    if not removed:
        typer.echo(f"anibridge user remove: no account {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"removed {name}", err=True)
