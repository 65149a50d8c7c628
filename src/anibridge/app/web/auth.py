"""Request authentication: API tokens, browser sessions with CSRF, login throttling.

Every route is private unless it is registered on the public router (health, login,
webhooks with their own secret, static assets). Browser sessions must send the
session's CSRF token on every unsafe request (header ``X-CSRF-Token`` or form field
``csrf_token``); bearer tokens need none because browsers never attach them by
themselves. With auth off (loopback only) a double-submit cookie still protects
against other web sites posting to the local service.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request

from anibridge.app.web.access import authorize
from anibridge.app.web.auth_store import ADMIN_USER
from anibridge.app.web.context import ServiceContext
from anibridge.app.web.security import same

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "Principal",
    "authenticate",
    "principal_of",
    "require_auth",
]

SESSION_COOKIE = "anibridge_session"
CSRF_COOKIE = "anibridge_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: ``session``, ``token`` or ``anonymous`` (auth off).

    ``user`` is the account acting (a token acts for the account that created it)
    and ``role`` that account's role (`anibridge.app.web.access` scopes by them).
    """

    kind: str
    name: str
    csrf: str | None = None
    user: str = ADMIN_USER
    role: str = "admin"

    @property
    def is_admin(self) -> bool:
        """Whether the caller sees and runs everything."""
        return self.role == "admin"


def ctx_of(request: Request) -> ServiceContext:
    """The service context of the app handling `request`."""
    return request.app.state.ctx


def authenticate(request: Request) -> Principal | None:
    """Identify the caller from a bearer token or a session cookie."""
    ctx = ctx_of(request)
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        info = ctx.auth.check_token(header[7:].strip())
        role = ctx.auth.role(info.user) if info else None
        if info is None or role is None:
            return None
        return Principal("token", info.name, user=info.user, role=role)
    if not ctx.settings.auth:
        return Principal("anonymous", "local", request.cookies.get(CSRF_COOKIE))
    session = ctx.auth.session(request.cookies.get(SESSION_COOKIE, ""))
    role = ctx.auth.role(session.user) if session else None
    if session is None or role is None:
        return None
    return Principal("session", session.user, session.csrf, session.user, role)


async def submitted_csrf(request: Request) -> str:
    """The CSRF token sent with a request (header first, then form field)."""
    token = request.headers.get(CSRF_HEADER, "")
    if token:
        return token
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site.

    The origin must be the service itself: the Host the request came in on (which
    `edge.EdgeGuard` already checked against ``web.allowed_hosts``, port included)
    or ``web.public_url``.
    """
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return ctx_of(request).hosts.allows_origin(origin, host)


async def require_auth(request: Request) -> Principal:
    """FastAPI dependency guarding every private route.

    Raises:
        HTTPException: 401 without valid credentials, 403 on a CSRF failure or a
            deployment-wide route called by a ``user``, 404 for another
            account's object (`anibridge.app.web.access.authorize`).
    """
    principal = authenticate(request)
    if principal is None:
        raise HTTPException(
            401, "authentication required", headers={"WWW-Authenticate": "Bearer"}
        )
    if request.method not in SAFE_METHODS and principal.kind != "token":
        sent = await submitted_csrf(request)
        if not principal.csrf or not sent or not same(sent, principal.csrf):
            raise HTTPException(403, "missing or wrong CSRF token")
        if not same_origin(request):
            raise HTTPException(403, "cross-site request refused")
    authorize(request, principal)
    request.state.principal = principal
    return principal


def principal_of(request: Request) -> Principal | None:
    """The caller `require_auth` let in (None on public routes)."""
    return getattr(request.state, "principal", None)
