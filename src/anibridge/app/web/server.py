"""Running the service: settings from the config, uvicorn, and a test-friendly thread.

`serve` is what `anibridge serve` calls; `ServerThread` runs the same app on a free
loopback port in a background thread (real HTTP, used by the tests and handy for
embedding).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import uvicorn

from anibridge.app.config import LoadedConfig, resolve_secrets
from anibridge.app.web.app import build_context, create_app
from anibridge.app.web.backend import Backend
from anibridge.app.web.context import ServiceContext
from anibridge.app.web.settings import WebSettings, normalize_prefix

__all__ = ["ServerThread", "ServiceServer", "settings_from_config", "uvicorn_config"]

_SECRET_PATH = re.compile(r"(/webhook/[^/\s]+/)[^\s\"?]+")


class RedactWebhookSecrets(logging.Filter):
    """Access-log filter: webhook secrets in paths are logged as ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments in place; never drops a record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_PATH.sub(r"\1***", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


class ServiceServer(uvicorn.Server):
    """Uvicorn that ends live streams first, so shutdown never waits on open tabs.

    Uvicorn waits for in-flight responses before running the app's shutdown; an open
    server-sent-events stream never completes by itself, so it is told to end here.
    """

    def __init__(self, config: uvicorn.Config, ctx: ServiceContext) -> None:
        """Wrap a uvicorn config for the service context `ctx`."""
        super().__init__(config)
        self.ctx = ctx

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Signal the streams, then shut down as usual (current batches finish)."""
        self.ctx.stopping.set()
        self.ctx.bus.publish("shutdown")
        await super().shutdown(sockets)


def settings_from_config(
    loaded: LoadedConfig,
    *,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> WebSettings:
    """`WebSettings` from the config's ``web:`` block plus CLI overrides (not None)."""
    web = loaded.app.web
    password = web.admin_password
    if isinstance(password, dict):
        password = resolve_secrets(
            password,
            where="web.admin_password",
            base_dir=loaded.base_dir,
            environ=environ,
        )
    settings = WebSettings(
        data_dir=loaded.data_dir,
        host=web.host,
        port=web.port,
        path_prefix=normalize_prefix(web.path_prefix),
        auth=web.auth,
        admin_password=password or None,
        secure_cookies=web.secure_cookies,
        webhook_max_bytes=web.webhook_max_bytes,
        trusted_proxies=tuple(web.trusted_proxies),
        allowed_hosts=tuple(web.allowed_hosts),
        public_url=web.public_url,
    )
    given = {k: v for k, v in overrides.items() if v is not None}
    if "path_prefix" in given:
        given["path_prefix"] = normalize_prefix(given["path_prefix"])
    return replace(settings, **given)


def uvicorn_config(app: Any, settings: WebSettings, **kwargs: Any) -> uvicorn.Config:
    """Uvicorn settings: graceful shutdown; proxy headers are the app's business.

    Uvicorn's own proxy handling stays off: `anibridge.app.web.edge.EdgeGuard`
    believes ``X-Forwarded-*`` only from ``web.trusted_proxies``.
    """
    logging.getLogger("uvicorn.access").addFilter(RedactWebhookSecrets())
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=False,
        timeout_graceful_shutdown=30,
        server_header=False,
        log_config=None,
        **kwargs,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """The service on 127.0.0.1 in a background thread (real sockets).

    Args:
        settings: Web settings (host/port are replaced by loopback and a free port).
        backend: The backend to serve.
        scheduler: Replaces the in-process scheduler (hosted mode).
        auth: Replaces the ``auth.json`` credentials (hosted mode).
    """

    def __init__(
        self,
        settings: WebSettings,
        backend: Backend,
        *,
        scheduler: Any = None,
        auth: Any = None,
    ) -> None:
        """Build the context and app; `start` binds the socket."""
        self.settings = replace(settings, host="127.0.0.1", port=_free_port())
        self.ctx: ServiceContext
        bus = getattr(scheduler, "bus", None)
        self.ctx, self.generated_password = build_context(
            self.settings, backend, bus=bus, scheduler=scheduler, auth=auth
        )
        self.app = create_app(self.ctx)
        self.server = ServiceServer(
            uvicorn_config(self.app, self.settings, access_log=False), self.ctx
        )
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        # A Runner, like asyncio.run: once the server is done, async generators still
        # open on this loop (a stream whose client went away) are closed while the
        # loop can run their `aclose()`, and the loop is closed. A loop left open
        # and dropped later discarded those `aclose()` calls unawaited.
        with asyncio.Runner() as runner:
            self.loop = runner.get_loop()
            runner.run(self.server.serve())

    @property
    def url(self) -> str:
        """Base URL including the path prefix."""
        return f"http://127.0.0.1:{self.settings.port}{self.settings.path_prefix}"

    def start(self, timeout: float = 20.0) -> ServerThread:
        """Start serving and wait until the socket accepts requests.

        Raises:
            RuntimeError: the server did not come up in time.
        """
        self._thread.start()
        done = threading.Event()

        def wait() -> None:
            while not self.server.started and self._thread.is_alive():
                done.wait(0.02)

        waiter = threading.Thread(target=wait)
        waiter.start()
        waiter.join(timeout)
        if not self.server.started:
            raise RuntimeError("the service did not start")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful shutdown (current batches finish), then join the thread."""
        self.server.should_exit = True
        self._thread.join(timeout)

    def call(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the server's loop and wait for its result."""
        return self.call_soon(coro).result(timeout)

    def call_soon(self, coro: Any) -> Any:
        """Start a coroutine on the server's loop; returns a concurrent future."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def __enter__(self) -> ServerThread:
        """Start on entering a with-block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving it."""
        self.stop()
