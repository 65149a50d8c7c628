"""Routes reachable without credentials: health checks and webhooks.

Webhooks carry their own per-provider secret (path segment for services that cannot
set headers, like Plex, or the ``X-AniBridge-Secret`` header), compared in constant
time. The body is read up to a limit (a few at a time), parsed at once (400 when it
is malformed, 200 when it is well-formed but not for us) and only the refs it names
are queued (202); syncing happens on the profile's worker, never in the request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from anibridge.app.web.auth import ctx_of
from anibridge.app.web.backend import BackendError
from anibridge.provider.base import InboundRequest

__all__ = ["SECRET_HEADER", "router"]

SECRET_HEADER = "x-anibridge-secret"
BODY_TIMEOUT = 30.0  # seconds to receive a webhook body
_DROP_HEADERS = frozenset({SECRET_HEADER, "authorization", "cookie"})

router = APIRouter()


@router.get("/livez", response_class=PlainTextResponse, tags=["health"])
async def livez() -> str:
    """The process is up (for container liveness probes)."""
    return "ok"


@router.get("/readyz", tags=["health"])
async def readyz(request: Request) -> JSONResponse:
    """Ready to sync: scheduler running and the backend initialized."""
    ctx = ctx_of(request)
    ok, detail = ctx.backend.ready()
    ok = ok and ctx.scheduler.running
    body = {"status": "ok" if ok else "unavailable", "profiles": len(detail)}
    return JSONResponse(body, status_code=200 if ok else 503)


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"webhook body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _webhook(request: Request, provider: str, secret: str | None) -> JSONResponse:
    ctx = ctx_of(request)
    sent = secret or request.headers.get(SECRET_HEADER, "")
    known = provider in ctx.backend.webhook_providers()
    # Compare even for unknown providers so timing does not reveal which exist.
    # The secret says whose webhook it is: it feeds only that account's profiles.
    owner = ctx.auth.webhook_owner(provider if known else "\x00unknown", sent)
    if not sent or owner is None or not known:
        raise HTTPException(403, "wrong or missing webhook secret")
    path = request.url.path
    if secret:
        path = path[: -len(secret)] + "***"
    limit = ctx.settings.webhook_max_bytes
    declared = request.headers.get("content-length", "")
    size = int(declared) if declared.isdigit() else limit
    if size > limit:
        raise HTTPException(413, f"webhook body larger than {limit} bytes")
    # Bounded bytes in memory at once, however many webhooks come in together.
    async with ctx.webhook_budget.hold(size):
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                body = await _read_limited(request, limit)
        except TimeoutError:
            raise HTTPException(408, "webhook body not received in time") from None
        inbound = InboundRequest(
            method=request.method,
            path=path,
            headers={
                k.lower(): v
                for k, v in request.headers.items()
                if k.lower() not in _DROP_HEADERS
            },
            query={
                key: tuple(request.query_params.getlist(key))
                for key in request.query_params
            },
            body=body,
        )
        del body
        try:
            outcome = await ctx.webhook(provider, inbound, owner)
        except BackendError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        finally:
            del inbound
    payload: dict[str, Any] = {
        "accepted": outcome.matched,
        "profiles": outcome.profiles,
        "refs": outcome.refs,
    }
    if not outcome.matched:
        payload["detail"] = "well-formed, but not addressed to any profile (ignored)"
    return JSONResponse(payload, status_code=202 if outcome.profiles else 200)


@router.post("/webhook/{provider}", status_code=202, tags=["webhooks"])
async def webhook(request: Request, provider: str) -> JSONResponse:
    """Inbound change notification; secret in the ``X-AniBridge-Secret`` header."""
    return await _webhook(request, provider, None)


@router.post("/webhook/{provider}/{secret}", status_code=202, tags=["webhooks"])
async def webhook_with_secret(
    request: Request, provider: str, secret: str
) -> JSONResponse:
    """Inbound change notification; secret as the last path segment."""
    return await _webhook(request, provider, secret)
