"""`anibridge serve`: the scheduler, webhooks, web API and UI in one process."""

from __future__ import annotations

import errno
import logging
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from anibridge.app.cli import app

__all__ = ["serve"]


@app.command()
def serve(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="anibridge.yaml (default: $ANIBRIDGE_CONFIG)"
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Bind address (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default 4848).")] = None,
    path_prefix: Annotated[
        str | None,
        typer.Option(help="Serve under this URL path, e.g. /anibridge behind a proxy."),
    ] = None,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="Disable login (only allowed on loopback)."),
    ] = False,
    reset_password: Annotated[
        bool,
        typer.Option("--reset-password", help="Generate and print a new password."),
    ] = False,
    hosted: Annotated[
        bool,
        typer.Option(
            "--hosted",
            help="Only record and queue jobs; `anibridge worker` runs them "
            "(needs a PostgreSQL store_url; also hosted.enabled in the config).",
        ),
    ] = False,
) -> None:
    """Run the service: schedules, webhooks, web UI and API (Ctrl-C stops cleanly)."""
    from anibridge.app.config import ConfigError, load_config
    from anibridge.app.web.app import build_context, create_app
    from anibridge.app.web.engine_backend import EngineBackend
    from anibridge.app.web.security import generate_password
    from anibridge.app.web.server import (
        ServiceServer,
        settings_from_config,
        uvicorn_config,
    )
    from anibridge.app.web.settings import UnsafeBindError
    from anibridge.http.redact import SECRETS, mask

    try:
        loaded = load_config(config)
        settings = settings_from_config(
            loaded,
            host=host,
            port=port,
            path_prefix=path_prefix,
            auth=False if no_auth else None,
        )
        # Taken before anything else opens, and handed to the server: "listening"
        # is printed only once the port is really ours.
        listener = _listen(settings.host, settings.port)
        if hosted or loaded.app.hosted.enabled:
            from anibridge.hosted.web import hosted_context

            ctx, generated = hosted_context(settings, loaded)
        else:
            ctx, generated = build_context(settings, EngineBackend(loaded))
    except PortTaken as exc:
        typer.echo(mask(f"error: {exc}"), err=True)
        raise typer.Exit(2) from None
    except (ConfigError, UnsafeBindError, ValueError, *_hosted_errors()) as exc:
        typer.echo(mask(f"anibridge serve: {exc}"), err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(
        level=loaded.app.log_level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    if reset_password and settings.auth:
        generated = generate_password()
        ctx.auth.set_password(generated)
    if generated:
        _announce_password(generated)
        SECRETS.add(generated)  # shown once above; masked in every later line
    url = f"http://{settings.host}:{settings.port}{settings.path_prefix}/"
    typer.echo(f"AniBridge is listening on {url}", err=True)
    ServiceServer(uvicorn_config(create_app(ctx), settings), ctx).run(
        sockets=[listener]
    )


class PortTaken(Exception):
    """The address to serve on cannot be bound (in use, or not this machine's)."""


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to (`host`, `port`), as uvicorn would bind it.

    Raises:
        PortTaken: the port is in use or the address cannot be bound (one line).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortTaken(
                f"port {port} on {host} is already in use (another AniBridge, or "
                "another service?) — stop it, or choose another port with --port "
                "or `web.port`"
            ) from None
        raise PortTaken(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}) — check "
            "--host / `web.host` (an address of this machine)"
        ) from None
    return sock


def _hosted_errors() -> tuple[type[Exception], ...]:
    from anibridge.store import StoreError

    try:
        from anibridge.hosted.schema import QueueSchemaError
    except ImportError:  # the hosted extra is not installed
        return (StoreError,)
    return (StoreError, QueueSchemaError)


def _announce_password(password: str) -> None:
    line = "─" * 60
    print(
        f"\n{line}\n  Admin login for the AniBridge web UI (shown only now):\n"
        f"    username: admin\n    password: {password}\n"
        f"  Lost it? Run `anibridge serve --reset-password`.\n{line}\n",
        file=sys.stderr,
        flush=True,
    )
