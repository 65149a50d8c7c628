"""Who may see what: every private route is scoped to the caller's account.

A profile belongs to its ``owner`` (config key ``profiles.<name>.owner``; none means
the built-in admin). An account with the role ``admin`` sees and runs everything; an
account with the role ``user`` sees only its own profiles, and with them their runs,
journal, plans, pins, backups and jobs. The rules live here, in one place, and are
applied by `require_auth` before any handler runs:

- a path parameter naming an owned object (``profile``, ``plan_id``, ``token_id``)
  that is not the caller's answers 404, exactly as if it did not exist (nothing
  tells B which of A's objects exist); ``run_id``, backup ``name`` and hosted
  ``job_id`` are looked up inside their ``profile`` by the backend;
- a route that reads or changes the whole deployment (config, logs, the shared
  custom mappings file, accounts) answers 403 to a ``user``;
- every other private route is `SHARED`: it answers everyone, and its handler
  lists only the caller's objects (`visible_profiles`).

`tests/hosted/test_owner_scoping.py` walks every route of the app and fails on one
that is in none of these classes, so a new route cannot escape.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request

from anibridge.app.web.auth_store import ADMIN_USER

if TYPE_CHECKING:
    from anibridge.app.web.auth import Principal
    from anibridge.app.web.context import ServiceContext

__all__ = [
    "ADMIN_ONLY",
    "OWNED_PARAMS",
    "SHARED",
    "authorize",
    "owner_of",
    "visible_profiles",
]

#: Path parameters that name an object some account owns.
OWNED_PARAMS = frozenset({"profile", "plan_id", "token_id", "run_id", "name", "job_id"})

#: Routes (method, path template) that act on the whole deployment: admins only.
ADMIN_ONLY = frozenset(
    {
        ("GET", "/api/logs"),
        ("GET", "/logs"),
        ("GET", "/api/config"),
        ("POST", "/api/config/validate"),
        ("PUT", "/api/config"),
        ("POST", "/ui/config"),
        # The custom mappings file is shared by every profile of the deployment.
        ("POST", "/api/mappings/overrides/validate"),
        ("PUT", "/api/mappings/overrides"),
        ("POST", "/ui/mappings/overrides"),
        ("POST", "/api/mappings/overrides/add"),
        ("POST", "/ui/mappings/add"),
        ("POST", "/api/profiles/{profile}/unmatched/fix"),
        ("POST", "/ui/profiles/{profile}/unmatched/fix"),
        ("GET", "/api/users"),
        ("POST", "/api/users"),
        ("DELETE", "/api/users/{user}"),
    }
)

#: Private routes with no owned path parameter that any account may call; each
#: shows only the caller's objects (or data that belongs to no one: the mappings
#: dataset, the API document).
SHARED = frozenset(
    {
        ("GET", "/api/openapi.json"),
        ("GET", "/api/status"),
        ("GET", "/api/events"),
        ("GET", "/api/mappings/lookup"),
        ("GET", "/api/mappings/search"),
        ("GET", "/api/mappings/browse"),  # ids only for a user: titles are private
        ("GET", "/api/mappings/overrides"),
        ("GET", "/api/tokens"),
        ("POST", "/api/tokens"),
        ("GET", "/api/webhooks"),
        ("POST", "/api/webhooks/{provider}/rotate"),
        ("POST", "/ui/webhooks/{provider}/rotate"),
        ("GET", "/api/me"),
        ("GET", "/"),
        ("GET", "/mappings"),
        ("GET", "/backups"),
        ("GET", "/settings"),
        ("POST", "/ui/password"),
        ("POST", "/ui/tokens"),
        ("POST", "/logout"),
    }
)


def owner_of(ctx: ServiceContext, profile: str) -> str | None:
    """The account owning `profile` (the admin when none is set); None: no profile."""
    for info in ctx.backend.profiles():
        if info.name == profile:
            return info.owner or ADMIN_USER
    return None


def visible_profiles(ctx: ServiceContext, principal: Principal | None) -> set[str]:
    """Names of the profiles `principal` may see."""
    names = {info.name: info.owner or ADMIN_USER for info in ctx.backend.profiles()}
    if principal is None or principal.is_admin:
        return set(names)
    return {name for name, owner in names.items() if owner == principal.user}


def filter_profiles(
    ctx: ServiceContext, principal: Principal | None, items: Iterable[Any]
) -> list[Any]:
    """The `ProfileInfo` items `principal` may see, in order."""
    seen = visible_profiles(ctx, principal)
    return [info for info in items if info.name in seen]


def _not_found(what: str) -> HTTPException:
    return HTTPException(404, what)


def authorize(request: Request, principal: Principal) -> None:
    """Check the route and its path parameters against the caller's account.

    Raises:
        HTTPException: 403 for a deployment-wide route called by a ``user``; 404
            for an object of another account (the answer an unknown one gets).
    """
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    if (request.method, template) in ADMIN_ONLY and not principal.is_admin:
        raise HTTPException(403, "this needs an admin account")
    if principal.is_admin:
        return
    ctx: ServiceContext = request.app.state.ctx
    params = request.path_params
    profile = params.get("profile")
    if profile is not None and owner_of(ctx, profile) != principal.user:
        raise _not_found(f"unknown profile {profile!r}")
    plan_id = params.get("plan_id")
    if plan_id is not None:
        found = ctx.backend.plan(plan_id)
        if found is None or owner_of(ctx, found["profile"]) != principal.user:
            raise _not_found(f"no kept plan {plan_id!r}")
    token_id = params.get("token_id")
    if token_id is not None and token_id not in {
        t.id for t in ctx.auth.tokens(principal.user)
    }:
        raise _not_found(f"no token {token_id!r}")
