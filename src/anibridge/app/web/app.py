"""Assembles the ASGI application: routers, lifespan, error pages, path prefix.

FastAPI because it is already a dependency, generates the OpenAPI document from the
same type hints the handlers use, and lets one router-level dependency make a whole
router private (secure by default: a new private route cannot forget its guard).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.applications import Starlette
from starlette.routing import Mount

from anibridge.app.scheduler import EventBus, Scheduler
from anibridge.app.service.progress import ProgressBoard
from anibridge.app.web import routes_api, routes_login, routes_public, routes_ui
from anibridge.app.web.auth_store import AuthStore
from anibridge.app.web.backend import Backend
from anibridge.app.web.context import ServiceContext
from anibridge.app.web.edge import EdgeGuard
from anibridge.app.web.errors import install_error_handlers
from anibridge.app.web.logbuffer import LogBuffer
from anibridge.app.web.masking import MaskSecrets
from anibridge.app.web.settings import WebSettings
from anibridge.http.redact import SECRETS

__all__ = ["PUBLIC_PATHS", "build_context", "create_app", "make_scheduler"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")

# Paths (route templates) reachable without credentials. Everything else is private.
PUBLIC_PATHS = frozenset(
    {
        "/livez",
        "/readyz",
        "/webhook/{provider}",
        "/webhook/{provider}/{secret}",
        "/login",
        "/static",
    }
)


def build_context(
    settings: WebSettings,
    backend: Backend,
    *,
    bus: EventBus | None = None,
    scheduler: Any = None,
    auth: AuthStore | None = None,
) -> tuple[ServiceContext, str | None]:
    """Wire settings, credentials, scheduler and log buffer around a backend.

    `scheduler` replaces the in-process scheduler (hosted mode passes
    `anibridge.hosted.web.QueueScheduler`, which queues jobs instead of running them);
    `auth` replaces the ``auth.json`` credentials (hosted mode passes
    `anibridge.hosted.auth.PgAuthStore`, shared by every web process).

    Returns:
        The context and the admin password generated now (print it once), if any.
    """
    settings.check()
    bus = bus or EventBus()
    if auth is None:
        auth = AuthStore(settings.data_dir / "auth.json", scrypt_n=settings.scrypt_n)
    generated = auth.ensure_admin(settings.admin_password) if settings.auth else None
    SECRETS.add(settings.admin_password)
    SECRETS.add(generated)  # printed once by the caller, masked everywhere after
    scheduler = scheduler or make_scheduler(settings, backend, bus)
    board = getattr(backend, "progress", None)
    if isinstance(board, ProgressBoard):
        board.listener = lambda profile, state: bus.publish(
            "progress", profile=profile, state=state
        )
    logs = LogBuffer(bus=bus)
    ctx = ServiceContext(settings, auth, backend, scheduler, bus, logs)
    return ctx, generated


def make_scheduler(settings: WebSettings, backend: Backend, bus: EventBus) -> Scheduler:
    """The in-process scheduler for a backend's profiles (also after a reload)."""
    return Scheduler(
        backend,
        {p.name: p.schedule for p in backend.profiles()},
        bus=bus,
        refresh_mappings=backend.refresh_mappings
        if settings.mappings_refresh
        else None,
        mappings_every=settings.mappings_refresh or 86400.0,
    )


def create_app(ctx: ServiceContext) -> Starlette:
    """The ASGI app for a context (mounted under the path prefix when set)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        root = logging.getLogger("anibridge")
        root.addHandler(ctx.logs)
        if root.level == logging.NOTSET:
            root.setLevel(logging.INFO)  # the logs page shows INFO and above
        await ctx.backend.start()
        await ctx.scheduler.start()
        log.info("service started with %d profile(s)", len(ctx.scheduler.workers))
        try:
            yield
        finally:
            ctx.stopping.set()
            await ctx.reloader.close()
            ctx.bus.publish("shutdown")
            log.info("stopping: finishing the current batch of each profile")
            request_stop = getattr(ctx.backend, "request_stop", None)
            if request_stop is not None:
                request_stop()
            await ctx.scheduler.stop()
            await ctx.backend.close()
            logging.getLogger("anibridge").removeHandler(ctx.logs)

    app = FastAPI(
        title="AniBridge",
        summary="Sync media state between media servers and trackers.",
        lifespan=lifespan,
        # No bundled docs viewer: the stock ones load scripts from a CDN. The
        # document itself is served privately by `routes_api.openapi_document`.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.ctx = ctx
    app.include_router(routes_public.router)
    app.include_router(routes_login.router)
    app.include_router(routes_api.router)
    app.include_router(routes_ui.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    install_error_handlers(app)

    @app.middleware("http")
    async def _headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' https: data:; "
            "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        )
        return response

    edge = {
        "hosts": ctx.hosts,
        "proxies": ctx.settings.proxy_networks(),
        "max_body": max(8 << 20, ctx.settings.webhook_max_bytes + (64 << 10)),
    }
    prefix = ctx.settings.path_prefix
    if not prefix:
        app.add_middleware(MaskSecrets)
        app.add_middleware(EdgeGuard, **edge)  # added last: runs first
        return app
    outer = Starlette(routes=[Mount(prefix, app=app)], lifespan=_forward(app))
    outer.add_middleware(MaskSecrets)
    outer.add_middleware(EdgeGuard, **edge)
    outer.state.inner = app
    return outer


def _forward(app: FastAPI):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with app.router.lifespan_context(app):
            yield

    return lifespan
