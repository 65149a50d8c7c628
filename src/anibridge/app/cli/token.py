"""`anibridge token`: personal API tokens for scripts (shown once, stored hashed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from anibridge.app.cli import app

__all__ = ["auth_store", "token_app"]

token_app = typer.Typer(
    rich_markup_mode=None,
    help="Personal API tokens for the web API.",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")

_Config = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="anibridge.yaml (default: $ANIBRIDGE_CONFIG)"),
]
_Json = Annotated[bool, typer.Option("--json", help="Print JSON only.")]


def auth_store(config: Path | None):  # type: ignore[no-untyped-def]
    """The service's credentials store for a config (exit 2 on a bad config).

    A hosted deployment's (``hosted.enabled``) is in its PostgreSQL store.
    """
    from anibridge.app.config import ConfigError, load_config
    from anibridge.app.web.auth_store import AuthStore

    try:
        loaded = load_config(config)
    except ConfigError as exc:
        from anibridge.http.redact import mask

        typer.echo(mask(f"anibridge token: {exc}"), err=True)
        raise typer.Exit(2) from None
    if loaded.app.hosted.enabled:  # the deployment's accounts are in PostgreSQL
        from anibridge.hosted.auth import PgAuthStore
        from anibridge.hosted.worker import open_hosted_engine
        from anibridge.store import StoreError

        try:
            engine = open_hosted_engine(loaded.store_url)
        except (StoreError, RuntimeError) as exc:
            typer.echo(f"anibridge: {exc}", err=True)
            raise typer.Exit(2) from None
        return PgAuthStore(engine, seed=loaded.data_dir / "auth.json")
    return AuthStore(loaded.data_dir / "auth.json")


@token_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What it is for, e.g. backup-script.")],
    config: _Config = None,
    user: Annotated[
        str, typer.Option("--user", "-u", help="The account it acts for.")
    ] = "admin",
    as_json: _Json = False,
) -> None:
    """Create a token and print it once (use as `Authorization: Bearer …`)."""
    try:
        info, secret = auth_store(config).create_token(name, user)
    except ValueError as exc:
        typer.echo(f"anibridge token create: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps({"id": info.id, "name": info.name, "token": secret}))
        return
    typer.echo(secret)
    typer.echo(
        f"Token {info.id} ({info.name}) created. It is shown only now.", err=True
    )


@token_app.command("list")
def list_tokens(
    config: _Config = None,
    as_json: _Json = False,
) -> None:
    """List tokens (never their secrets)."""
    tokens = auth_store(config).tokens()
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": t.id,
                        "name": t.name,
                        "user": t.user,
                        "created_at": t.created_at,
                    }
                    for t in tokens
                ]
            )
        )
        return
    for t in tokens:
        typer.echo(f"{t.id}  {t.user}  {t.name}  {t.hint}  {t.created_at}")


@token_app.command("revoke")
def revoke(token_id: str, config: _Config = None) -> None:
    """Revoke a token by id."""
    if not auth_store(config).revoke_token(token_id):
        typer.echo(f"anibridge token revoke: no token {token_id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {token_id}", err=True)
