"""Error responses: an HTML page for a browser, JSON for an API client.

A person who follows a stale link or submits a form that is refused should read a
page in the app's own layout (what went wrong, where to go next), not a bare JSON
object; a script calling ``/api`` should keep getting ``{"detail": ...}`` with the
same status. Which one is decided by the request's ``Accept`` header alone
(`wants_html`), so an API client asking for JSON on a UI path gets JSON too.

Handled here: every `HTTPException` (404 for unknown routes included; a 401 for a
browser is the login page), request validation errors (422, each problem named by
where it is), `anibridge.app.service.errors.ServiceError` raised by a use case (its
own status), a provider failure (`anibridge.app.service.problems`: its one line,
502 — "plex: … refused the connection — is Plex running …"), and anything
unexpected (500, logged with its traceback; the response says only that it failed,
never the traceback).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from anibridge.app.service.errors import ServiceError

__all__ = ["install_error_handlers", "wants_html"]

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Sign in required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Not possible right now",
    413: "Too large",
    422: "Not valid",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Not available yet",
}

HINTS = {
    403: "The form may have expired (reload the page and try again), or the "
    "request came from another site.",
    404: "The link may be out of date, or what it named was removed.",
    409: "Another run may hold this profile; try again when it has finished.",
    500: "The error was logged (see Logs). Nothing was changed by this request "
    "unless the page said so before.",
    503: "The service is starting or stopping; try again in a moment.",
}


def wants_html(request: Request) -> bool:
    """Whether the client prefers an HTML page to JSON.

    Browsers send ``text/html`` first for navigations and form posts; `fetch`
    calls and API clients send ``application/json`` or ``*/*``. When both are
    listed, the one with the higher quality (then the earlier one) wins.
    """
    accept = request.headers.get("accept", "")
    best: dict[str, tuple[float, int]] = {}
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        best.setdefault(media.lower(), (quality, -position))
    html = best.get("text/html")
    if html is None or html[0] <= 0:
        return False
    json_pref = best.get("application/json")
    return json_pref is None or html > json_pref


def _page(
    request: Request, status: int, detail: Any, headers: dict[str, str] | None = None
) -> Response:
    from anibridge.app.web.render import render

    problems: list[str] = []
    message = detail
    if isinstance(detail, dict):
        problems = [str(p) for p in detail.get("problems", ())]
        message = detail.get("message") or (problems[0] if problems else "")
    elif isinstance(detail, list):
        problems = [str(p) for p in detail]
        message = ""
    response = render(
        request,
        "error.html",
        status_code=status,
        status=status,
        heading=TITLES.get(status, "Error"),
        message=str(message or ""),
        problems=problems,
        hint=HINTS.get(status),
    )
    for name, value in (headers or {}).items():
        if name.lower() != "www-authenticate":
            response.headers[name] = value
    return response


def _validation_problems(exc: RequestValidationError) -> list[str]:
    """Each validation error as "where: what" (``body.action_ids: ...``)."""
    out = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()))
        out.append(f"{where}: {error.get('msg', 'invalid')}")
    return out


def install_error_handlers(app: Any) -> None:
    """Register the handlers on a FastAPI app."""

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if not wants_html(request):
            return await http_exception_handler(request, exc)
        if exc.status_code == 401:
            from anibridge.app.web.render import render_login

            return render_login(request, status_code=401)
        return _page(request, exc.status_code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if not wants_html(request):
            return await request_validation_exception_handler(request, exc)
        return _page(request, 422, _validation_problems(exc))

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> Response:
        if wants_html(request):
            return _page(request, exc.status, exc.message)
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        from anibridge.app.service.problems import describe

        problem = describe(exc)
        if problem is not None:  # a provider failed (unreachable, token rejected…)
            log.error("%s %s: %s", request.method, request.url.path, problem.message)
            if wants_html(request):
                return _page(request, problem.status, problem.message)
            return JSONResponse({"detail": problem.message}, status_code=problem.status)
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        if wants_html(request):
            try:
                return _page(request, 500, "The request failed unexpectedly.")
            except Exception:  # the page itself cannot be built: plain text
                log.exception("the error page could not be rendered")
                return Response("500 Internal Server Error", 500)
        return JSONResponse({"detail": "internal error"}, status_code=500)
