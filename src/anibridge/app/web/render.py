"""Server-side HTML rendering (Jinja2, autoescaped) and the values every page gets.

Server-rendered pages with plain forms work without JavaScript and need no build
step; a small hand-written script (`static/app.js`) adds live updates over SSE and
plan-selection helpers. Nothing is loaded from a CDN.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from anibridge.app.web.access import visible_profiles
from anibridge.app.web.auth import CSRF_COOKIE, authenticate

__all__ = ["relative_time", "render", "render_login", "secure_cookie"]

_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: object) -> str:
    if not value:
        return "—"
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S UTC")


def relative_time(value: object, now: datetime | None = None) -> str:
    """How long ago (or how soon) an ISO time is, as a person says it."""
    try:
        then = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = ((now or datetime.now(UTC)) - then).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 45:
        return "just now"
    steps = ((86400 * 365, "year"), (86400 * 30, "month"), (86400, "day"))
    size, unit = next(
        ((n, u) for n, u in steps if seconds >= n),
        (3600, "h") if seconds >= 3600 else (60, "min"),
    )
    count = max(1, round(seconds / size))
    text = f"{count} {unit}"
    if unit in {"year", "month", "day"} and count != 1:
        text += "s"
    return f"in {text}" if future else f"{text} ago"


def _ago(value: object) -> Markup:
    """A relative time with the exact time on hover (and for machines)."""
    if not value:
        return Markup("—")
    exact = _when(value)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return Markup("{}").format(value)
    if parsed.tzinfo is None:  # stored times are UTC
        value = parsed.replace(tzinfo=UTC).isoformat()
    return Markup(
        '<time class="ago" datetime="{}" title="{}" data-utc="{}">{}</time>'
    ).format(value, exact, exact, relative_time(value))


def _short(value: object, size: int = 8) -> str:
    text = str(value or "")
    return text[:size]


def _show(value: object) -> str:
    """A record value (codec JSON form) as a person reads it."""
    if value is None:
        return "—"
    if isinstance(value, dict):
        if "current" in value:  # progress
            text = (
                f"{value['current']:g}"
                if isinstance(value["current"], float)
                else str(value["current"])
            )
            if value.get("total"):
                text += f" / {value['total']}"
            unit = value.get("unit")
            if unit:
                text += f" {unit}" + ("" if value["current"] == 1 else "s")
            return text
        if "native" in value or "status" in value:  # status
            native, status = value.get("native"), value.get("status")
            if native and status and native != status:
                return f"{native} ({status})"
            return str(native or status)
        if "value" in value and "scale" in value:  # rating
            scale = value["scale"]
            return f"{value['value']} / {scale[1]}" if scale else str(value["value"])
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    if (
        isinstance(value, str)
        and len(value) >= 20
        and value[4:5] == "-"
        and "T" in value
    ):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        if parsed.hour == parsed.minute == parsed.second == 0:
            return parsed.strftime("%Y-%m-%d")
        return parsed.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


_FIELD_ORDER = (
    "status",
    "progress",
    "rating",
    "started_at",
    "finished_at",
    "repeat_count",
    "notes",
    "last_activity_at",
)


def _field_order(*groups: object) -> list[str]:
    """Fields of a diff in reading order (status first, activity last)."""
    names: set[str] = set()
    for group in groups:
        names.update(str(n) for n in (group or ()))  # type: ignore[attr-defined]
    rank = {name: i for i, name in enumerate(_FIELD_ORDER)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


_env.globals["field_order"] = _field_order
_env.filters["when"] = _when
_env.filters["ago"] = _ago
_env.filters["ago_text"] = relative_time
_env.filters["short"] = _short
_env.filters["show"] = _show


def secure_cookie(request: Request) -> bool:
    """Whether cookies must carry the Secure flag for this request."""
    settings = request.app.state.ctx.settings
    if isinstance(settings.secure_cookies, bool):
        return settings.secure_cookies
    # The scheme already says https behind a trusted proxy (see `edge.EdgeGuard`).
    return request.url.scheme == "https"


def base_path(request: Request) -> str:
    """The path prefix the app is mounted under (``""`` at the root)."""
    return request.scope.get("root_path", "").rstrip("/")


def render(
    request: Request, template: str, status_code: int = 200, **values: Any
) -> HTMLResponse:
    """Render a page with the common values (user, CSRF token, base path, nav)."""
    principal = authenticate(request)
    csrf = principal.csrf if principal and principal.csrf else None
    new_cookie = None
    if csrf is None:
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        new_cookie = csrf if csrf != request.cookies.get(CSRF_COOKIE) else None
    ctx = request.app.state.ctx
    visible = visible_profiles(ctx, principal) if principal is not None else set()
    html = _env.get_template(template).render(
        request=request,
        base=base_path(request),
        user=principal,
        csrf=csrf,
        auth_on=ctx.settings.auth,
        profiles=[p.name for p in ctx.backend.profiles() if p.name in visible]
        if principal is not None
        else [],
        path=request.url.path,
        flash=ctx.flash(
            request.query_params.get("msg"), request.query_params.get("sig")
        ),
        **values,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    if new_cookie:
        response.set_cookie(
            CSRF_COOKIE,
            new_cookie,
            httponly=True,
            samesite="strict",
            secure=secure_cookie(request),
            path=base_path(request) or "/",
        )
    return response


def render_login(
    request: Request, status_code: int = 200, error: str | None = None
) -> HTMLResponse:
    """The login page (also the body of a 401 for a browser)."""
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method != "GET" or target.startswith(base_path(request) + "/login"):
        target = request.query_params.get("next", base_path(request) + "/")
    return render(
        request, "login.html", status_code=status_code, next=target, error=error
    )
