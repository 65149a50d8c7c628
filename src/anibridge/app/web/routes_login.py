"""Login and logout for the browser UI.

The login form is protected by a double-submit CSRF cookie (it has no session yet)
and a per-client and per-account throttle; a successful login rotates to a fresh
session id and marks the browser as a known device.
"""

from __future__ import annotations

import asyncio
import math

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from anibridge.app.web.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    ctx_of,
    require_auth,
    same_origin,
)
from anibridge.app.web.render import base_path, render_login, secure_cookie
from anibridge.app.web.security import same

__all__ = ["DEVICE_COOKIE", "router"]

# A browser that logged in before: exempt from the per-account throttle.
DEVICE_COOKIE = "anibridge_device"

router = APIRouter(include_in_schema=False)


def _safe_next(request: Request, target: str) -> str:
    base = base_path(request)
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return base + "/"
    return target


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> HTMLResponse:
    """The login form."""
    return render_login(request)


@router.post("/login")
async def login(
    request: Request,
    username: str = Form(...),
    password: str = Form(...),
    csrf_token: str = Form(""),
    next: str = Form("/"),
) -> Response:
    """Check the admin password and start a session.

    The throttle reserves the attempt before the password is checked (see
    `throttle.LoginThrottle`), so concurrent guesses cannot all slip through.
    """
    ctx = ctx_of(request)
    client = request.client.host if request.client else "?"
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not same(cookie, csrf_token) or not same_origin(request):
        return render_login(request, 403, "The form expired; please try again.")
    device = request.cookies.get(DEVICE_COOKIE, "")
    attempt = ctx.throttle.begin(
        client,
        username,
        trusted_device=bool(device) and ctx.auth.known_device(device),
    )
    if attempt.wait:
        return render_login(
            request,
            429,
            f"Too many failed attempts; try again in {math.ceil(attempt.wait)} s.",
        )
    ok = await asyncio.to_thread(ctx.auth.check_login, username, password)
    ctx.throttle.finish(attempt, ok)
    if not ok:
        return render_login(request, 401, "Wrong username or password.")
    sid, _session = ctx.auth.create_session(username)
    response = RedirectResponse(_safe_next(request, next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        sid,
        max_age=7 * 86400,
        httponly=True,
        samesite="lax",
        secure=secure_cookie(request),
        path=base_path(request) or "/",
    )
    if not (device and ctx.auth.known_device(device)):
        response.set_cookie(
            DEVICE_COOKIE,
            ctx.auth.new_device(),
            max_age=400 * 86400,
            httponly=True,
            samesite="strict",
            secure=secure_cookie(request),
            path=base_path(request) or "/",
        )
    return response


@router.post("/logout", dependencies=[Depends(require_auth)])
async def logout(request: Request) -> Response:
    """End the session."""
    ctx = ctx_of(request)
    ctx.auth.end_session(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse(base_path(request) + "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=base_path(request) or "/")
    return response
