"""The JSON web API (``/api``), documented by the OpenAPI schema at ``/api/docs``.

Every route here is private: the router carries `require_auth`. Writes that touch a
profile's lists go through that profile's worker (see `anibridge.app.scheduler`), so
an approve-and-apply never races a scheduled run.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from pydantic import BaseModel, Field

from anibridge.app.scheduler import RunResult, SyncMode, SyncRequest, WorkerStopped
from anibridge.app.service.overrides import Problem, add_checked
from anibridge.app.service.plan_view import SkipQuery
from anibridge.app.service.timeline import HistoryQuery
from anibridge.app.web.access import filter_profiles, visible_profiles
from anibridge.app.web.auth import ctx_of, principal_of, require_auth
from anibridge.app.web.auth_store import ADMIN_USER
from anibridge.app.web.backend import BackendError
from anibridge.app.web.context import ServiceContext

__all__ = ["STREAMS", "find_job", "router", "run_on_worker", "trigger_sync"]

router = APIRouter(prefix="/api", dependencies=[Depends(require_auth)])

SSE_KEEPALIVE = 15.0

#: Routes that answer with a server-sent event stream (they never end by themselves).
STREAMS = frozenset({"/api/events", "/api/profiles/{profile}/progress/stream"})


class SyncBody(BaseModel):
    """Trigger a sync."""

    mode: Literal["full", "incremental"] = "incremental"
    dry_run: bool = False
    wait: bool = Field(False, description="Answer only when the run has finished.")


class ApplyBody(BaseModel):
    """Apply the chosen actions of a reviewed plan."""

    action_ids: list[str] = Field(min_length=1)


class ActionsBody(BaseModel):
    """Action ids for undo or retry (undo: of `run_id`'s entries when given)."""

    action_ids: list[str] = Field(min_length=1)
    run_id: str | None = None


class PinBody(BaseModel):
    """Fields to pin on one target entry ([] unpins)."""

    provider: str
    ref: str
    fields: list[str]


class TextBody(BaseModel):
    """A whole text file (config or custom mappings)."""

    content: str


class TokenBody(BaseModel):
    """A new API token's name."""

    name: str = Field(min_length=1, max_length=80)


def _check_profile(ctx: ServiceContext, profile: str) -> None:
    if profile not in ctx.scheduler.workers:
        raise HTTPException(404, f"unknown profile {profile!r}")


def _backend_call[T](call: Any, *args: Any, **kwargs: Any) -> T:
    try:
        return call(*args, **kwargs)
    except BackendError as exc:
        raise HTTPException(exc.status, str(exc)) from exc


async def trigger_sync(
    ctx: ServiceContext, profile: str, mode: str, dry_run: bool, *, wait: bool
) -> RunResult | None:
    """Queue a sync from the API/UI; with `wait`, return its result."""
    _check_profile(ctx, profile)
    try:
        future = ctx.scheduler.trigger(
            profile, SyncRequest(SyncMode(mode), dry_run=dry_run, reasons=("api",))
        )
    except WorkerStopped as exc:
        raise HTTPException(503, str(exc)) from exc
    if not wait and not future.done():
        return None  # hosted mode's futures are done at once: queued, with the job id
    return await asyncio.shield(future)


async def run_on_worker(
    ctx: ServiceContext, profile: str, label: str, call: Any
) -> RunResult:
    """Run a write job (apply/undo/retry/restore) on the profile's worker."""
    _check_profile(ctx, profile)
    try:
        future = ctx.scheduler.worker(profile).submit(label, call)
        return await asyncio.shield(future)
    except WorkerStopped as exc:
        raise HTTPException(503, str(exc)) from exc
    except BackendError as exc:
        raise HTTPException(exc.status, str(exc)) from exc


def _write_answer(result: RunResult) -> Any:
    """A write's result; 202 when hosted mode queued it as a job (no run yet)."""
    if result.status == "queued":
        return JSONResponse(result.to_json(), status_code=202)
    return result.to_json()


@router.get("/openapi.json", tags=["system"])
async def openapi_document(request: Request) -> dict[str, Any]:
    """This API's OpenAPI document."""
    app = request.app
    return app.openapi()


# -- status & sync -------------------------------------------------------------
@router.get("/status", tags=["status"])
async def status(request: Request) -> dict[str, Any]:
    """Scheduler and per-profile state, with the last run of each profile."""
    ctx = ctx_of(request)
    principal = principal_of(request)
    seen = visible_profiles(ctx, principal)
    ready, detail = ctx.backend.ready()
    state = ctx.scheduler.state()
    state["profiles"] = {k: v for k, v in state["profiles"].items() if k in seen}
    return {
        "ready": ready,
        "backend": {k: v for k, v in detail.items() if k in seen},
        "scheduler": state,
        "profiles": [
            p.to_json() for p in filter_profiles(ctx, principal, ctx.backend.profiles())
        ],
        # The deployment's count: an admin's to see (it tells of others' activity).
        "webhooks_received": ctx.webhooks_received
        if principal is None or principal.is_admin
        else None,
    }


@router.get("/me", tags=["auth"])
async def me(request: Request) -> dict[str, Any]:
    """The calling account, its role and the profiles it sees."""
    ctx = ctx_of(request)
    principal = principal_of(request)
    user = principal.user if principal else ADMIN_USER
    return {
        "user": user,
        "role": principal.role if principal else "admin",
        "profiles": sorted(visible_profiles(ctx, principal)),
    }


@router.post("/profiles/{profile}/sync", status_code=202, tags=["sync"])
async def sync(request: Request, profile: str, body: SyncBody) -> dict[str, Any]:
    """Trigger a full or incremental sync (or dry run) of one profile."""
    ctx = ctx_of(request)
    result = await trigger_sync(ctx, profile, body.mode, body.dry_run, wait=body.wait)
    return {"queued": True, "result": result.to_json() if result else None}


@router.get("/profiles/{profile}/jobs", tags=["sync"])
async def jobs(request: Request, profile: str) -> list[dict[str, Any]]:
    """Hosted mode: the profile's recent jobs (queued, running, retrying, done, failed).

    The single-user service runs syncs in process and lists none here.
    """
    ctx = ctx_of(request)
    _check_profile(ctx, profile)
    listing = getattr(ctx.scheduler, "jobs", None)
    if listing is None:
        return []
    return await asyncio.to_thread(listing, profile)


@router.get("/profiles/{profile}/jobs/{job_id}", tags=["sync"])
async def job(request: Request, profile: str, job_id: int) -> dict[str, Any]:
    """Hosted mode: one job of the profile, with its result once it is done.

    404 for a job of another profile (or none), and on the single-user service.
    """
    ctx = ctx_of(request)
    _check_profile(ctx, profile)
    found = await asyncio.to_thread(find_job, ctx, profile, job_id)
    if found is None:
        raise HTTPException(404, f"no job {job_id} of {profile!r}")
    return found


def find_job(ctx: ServiceContext, profile: str, job_id: int) -> dict[str, Any] | None:
    """A job of `profile` from the hosted queue; None elsewhere or for none."""
    lookup = getattr(ctx.scheduler, "job", None)
    return None if lookup is None else lookup(profile, job_id)


# -- plans -----------------------------------------------------------------------
@router.get("/profiles/{profile}/plans", tags=["plans"])
async def plans(request: Request, profile: str) -> list[dict[str, Any]]:
    """Dry-run plans kept for review, newest first."""
    ctx = ctx_of(request)
    _check_profile(ctx, profile)
    return ctx.backend.plans(profile)


@router.get("/plans/{plan_id}", tags=["plans"])
async def plan(request: Request, plan_id: str) -> dict[str, Any]:
    """One plan with every action (before → after, reason, provenance)."""
    found = ctx_of(request).backend.plan(plan_id)
    if found is None:
        raise HTTPException(404, f"no kept plan {plan_id!r}")
    return found


@router.post("/plans/{plan_id}/apply", tags=["plans"])
async def apply_plan(request: Request, plan_id: str, body: ApplyBody) -> dict[str, Any]:
    """Apply exactly the approved action ids of a reviewed plan."""
    ctx = ctx_of(request)
    found = ctx.backend.plan(plan_id)
    if found is None:
        raise HTTPException(404, f"no kept plan {plan_id!r}")
    profile = found["profile"]
    ids = list(dict.fromkeys(body.action_ids))
    result = await run_on_worker(
        ctx,
        profile,
        "apply",
        lambda: ctx.backend.apply_plan(profile, plan_id, ids),
    )
    return _write_answer(result)


# -- runs & history --------------------------------------------------------------
@router.get("/profiles/{profile}/runs", tags=["history"])
async def runs(
    request: Request, profile: str, limit: int = Query(50, ge=1, le=500)
) -> list[dict[str, Any]]:
    """Recent runs, newest first."""
    ctx = ctx_of(request)
    _check_profile(ctx, profile)
    return ctx.backend.runs(profile, limit)


@router.get("/profiles/{profile}/history", tags=["history"])
async def history(
    request: Request,
    profile: str,
    outcome: str | None = None,
    provider: str | None = None,
    run_id: str | None = None,
    q: str | None = None,
    change: str | None = Query(None, pattern="^(new|update)$"),
    field: str | None = None,
    cursor: int | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> Response:
    """Per-action history with before/after diffs, filterable, newest first.

    One page; the ``X-Next-Cursor`` header (when present) is the ``cursor`` of the
    next page.
    """
    ctx = ctx_of(request)
    _check_profile(ctx, profile)
    query = HistoryQuery(outcome, provider, run_id, q, change, field, cursor, limit)
    page = ctx.backend.history_page(profile, query)
    headers = {} if page["next"] is None else {"X-Next-Cursor": str(page["next"])}
    return JSONResponse(page["rows"], headers=headers)


@router.post("/profiles/{profile}/check", tags=["profiles"])
async def check_connection(
    request: Request, profile: str, provider: str | None = None
) -> dict[str, Any]:
    """Test connection: each provider's reach, sign-in, account and counts.

    Always 200 with per-provider results (``ok``, ``problem.message`` — the same
    line `anibridge check` prints); 404 for an unknown profile or provider.
    """
    ctx = ctx_of(request)
    _check_profile(ctx, profile)
    try:
        return await ctx.backend.check(profile, provider)
    except BackendError as exc:
        raise HTTPException(exc.status, str(exc)) from exc


@router.get("/profiles/{profile}/runs/{run_id}/undo", tags=["history"])
async def undo_preview(request: Request, profile: str, run_id: str) -> Any:
    """What undoing a whole run would write (read live; nothing is written).

    Hosted mode answers 202 with a queued job's id
    (``{"status": "queued", "summary": {"job_id": …}}``): a worker reads the
    targets, and the job's ``result`` (``GET …/jobs/{job_id}``) is the preview.
    """
    ctx = ctx_of(request)
    _check_profile(ctx, profile)
    try:
        preview = await ctx.backend.undo_preview(profile, run_id)
    except BackendError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    if preview.get("status") == "queued":
        return JSONResponse(preview, status_code=202)
    return preview


@router.post("/profiles/{profile}/runs/{run_id}/undo", tags=["history"])
async def undo_whole_run(request: Request, profile: str, run_id: str) -> dict[str, Any]:
    """Revert every applied change of a run; 409 when it is already undone."""
    ctx = ctx_of(request)
    result = await run_on_worker(
        ctx, profile, "undo", lambda: ctx.backend.undo_whole_run(profile, run_id)
    )
    return _write_answer(result)


@router.post("/profiles/{profile}/undo", tags=["history"])
async def undo(request: Request, profile: str, body: ActionsBody) -> dict[str, Any]:
    """Revert applied actions."""
    ctx = ctx_of(request)
    ids = body.action_ids
    result = await run_on_worker(
        ctx, profile, "undo", lambda: ctx.backend.undo(profile, ids, body.run_id)
    )
    return _write_answer(result)


@router.post("/profiles/{profile}/retry", tags=["history"])
async def retry(request: Request, profile: str, body: ActionsBody) -> dict[str, Any]:
    """Retry failed actions (re-planned against live state)."""
    ctx = ctx_of(request)
    ids = body.action_ids
    result = await run_on_worker(
        ctx, profile, "retry", lambda: ctx.backend.retry(profile, ids)
    )
    return _write_answer(result)


# -- unmatched ---------------------------------------------------------------------
class FixBody(BaseModel):
    """A mapping override for an unmatched entry."""

    anchor: str = Field(min_length=1, description="The unmatched entry's key.")
    source: str = Field(description="Source id, e.g. tvdb_show:79414:s1.")
    target: str = Field(description="Target id, e.g. anilist:849.")
    source_range: str = "1-"
    target_range: str = "1-"


@router.get("/profiles/{profile}/unmatched", tags=["plans"])
async def unmatched(
    request: Request,
    profile: str,
    reason: str | None = None,
    q: str | None = None,
    after: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Entries the newest full preview left alone (unmatched first), one page."""
    ctx = ctx_of(request)
    _check_profile(ctx, profile)
    query = SkipQuery(reason, q, after, limit)
    return await asyncio.to_thread(ctx.backend.unmatched, profile, query)


@router.post("/profiles/{profile}/unmatched/fix", tags=["plans"])
async def fix_mapping(request: Request, profile: str, body: FixBody) -> dict[str, Any]:
    """Write a mapping override for an unmatched entry and preview it again."""
    ctx = ctx_of(request)
    result = await run_on_worker(
        ctx,
        profile,
        "fix mapping",
        lambda: ctx.backend.fix_mapping(
            profile,
            body.anchor,
            body.source,
            body.target,
            body.source_range,
            body.target_range,
        ),
    )
    return _write_answer(result)


# -- pins --------------------------------------------------------------------------
@router.get("/profiles/{profile}/pins", tags=["pins"])
async def pins(request: Request, profile: str) -> list[dict[str, Any]]:
    """Pinned fields per target entry."""
    ctx = ctx_of(request)
    _check_profile(ctx, profile)
    return ctx.backend.pins(profile)


@router.put("/profiles/{profile}/pins", tags=["pins"])
async def set_pin(request: Request, profile: str, body: PinBody) -> dict[str, Any]:
    """Pin (or with no fields, unpin) fields of one target entry."""
    ctx = ctx_of(request)
    _check_profile(ctx, profile)
    return _backend_call(
        ctx.backend.set_pin, profile, body.provider, body.ref, body.fields
    )


# -- mappings ----------------------------------------------------------------------
def _problems_json(problems: Sequence[Problem]) -> dict[str, Any]:
    """``problems``: line-prefixed texts; ``errors``: line (null: whole file) apart."""
    return {
        "problems": [str(p) for p in problems],
        "errors": [{"line": p.line, "message": p.message} for p in problems],
    }


@router.get("/mappings/lookup", tags=["mappings"])
async def mapping_lookup(request: Request, descriptor: str) -> dict[str, Any]:
    """Edges of one descriptor (``anilist:21``, ``tvdb_show:81797:s1``)."""
    return _backend_call(ctx_of(request).backend.mapping_lookup, descriptor)


@router.get("/mappings/search", tags=["mappings"])
async def mapping_search(
    request: Request, q: str, limit: int = Query(50, ge=1, le=500)
) -> list[str]:
    """Descriptors containing `q` (e.g. ``81797`` or ``anilist:2``)."""
    backend = ctx_of(request).backend
    return await asyncio.to_thread(backend.mapping_search, q, limit)


@router.get("/mappings/browse", tags=["mappings"])
async def mapping_browse(
    request: Request, q: str, limit: int = Query(20, ge=1, le=200)
) -> dict[str, Any]:
    """Titles with the words of `q` (each id with its mappings), then ids containing it.

    Ranges come raw (``1-8=1-8``) and readable (``S1 E1-8 → AniList 21 E1-8``).
    """
    backend = ctx_of(request).backend
    principal = principal_of(request)
    # Titles are what every profile's providers returned: an admin's to read.
    titles = principal is None or principal.is_admin
    return await asyncio.to_thread(
        _backend_call, backend.mapping_browse, q, limit, titles=titles
    )


@router.get("/mappings/overrides", response_class=PlainTextResponse, tags=["mappings"])
async def overrides(request: Request) -> str:
    """The custom mappings file."""
    return ctx_of(request).backend.overrides_text()


@router.post("/mappings/overrides/validate", tags=["mappings"])
async def validate_overrides(request: Request, body: TextBody) -> dict[str, Any]:
    """Check a custom mappings text without saving it."""
    backend = ctx_of(request).backend
    problems = await asyncio.to_thread(backend.validate_overrides, body.content)
    return {"valid": not problems, **_problems_json(problems)}


class OverrideBody(BaseModel):
    """One override to add to the custom mappings file."""

    source: str = Field(description="Source id, e.g. tvdb_show:79414:s1.")
    target: str = Field(description="Target id, e.g. anilist:849.")
    source_range: str = "1-"
    target_range: str = "1-"


@router.post("/mappings/overrides/add", tags=["mappings"])
async def add_override(request: Request, body: OverrideBody) -> dict[str, Any]:
    """Add `source → target {source_range: target_range}`, keeping the file's comments.

    422 with each problem (and its line) when the result would not load; nothing
    is written then.
    """
    ctx = ctx_of(request)
    text, problems = add_checked(
        ctx.backend.overrides_text(),
        body.source,
        body.target,
        body.source_range,
        body.target_range,
        note=f"{body.source.strip()}: added through the API",
    )
    if problems:
        raise HTTPException(422, _problems_json(problems))
    await asyncio.to_thread(_backend_call, ctx.backend.write_overrides, text)
    return {"saved": True, "content": text}


@router.put("/mappings/overrides", tags=["mappings"])
async def write_overrides(request: Request, body: TextBody) -> dict[str, Any]:
    """Validate and save the custom mappings file."""
    ctx = ctx_of(request)
    problems = await asyncio.to_thread(ctx.backend.validate_overrides, body.content)
    if problems:
        raise HTTPException(422, _problems_json(problems))
    # Reloading the mappings index takes about a second: off the event loop.
    await asyncio.to_thread(_backend_call, ctx.backend.write_overrides, body.content)
    return {"saved": True}


# -- backups -----------------------------------------------------------------------
@router.get("/profiles/{profile}/backups", tags=["backups"])
async def backups(request: Request, profile: str) -> list[dict[str, Any]]:
    """Stored backups, newest first."""
    ctx = ctx_of(request)
    _check_profile(ctx, profile)
    return ctx.backend.backups(profile)


@router.get("/profiles/{profile}/backups/{name}", tags=["backups"])
async def download_backup(request: Request, profile: str, name: str) -> FileResponse:
    """Download one backup file."""
    ctx = ctx_of(request)
    _check_profile(ctx, profile)
    path = _backend_call(ctx.backend.backup_file, profile, name)
    return FileResponse(path, filename=path.name)


@router.post("/profiles/{profile}/backups/{name}/restore", tags=["backups"])
async def restore_backup(request: Request, profile: str, name: str) -> dict[str, Any]:
    """Restore a backup (the current state is backed up first)."""
    ctx = ctx_of(request)
    result = await run_on_worker(
        ctx, profile, "restore", lambda: ctx.backend.restore_backup(profile, name)
    )
    return _write_answer(result)


# -- logs & config -------------------------------------------------------------
@router.get("/logs", tags=["system"])
async def logs(
    request: Request, limit: int = Query(200, ge=1, le=2000), level: str | None = None
) -> list[dict[str, Any]]:
    """Recent log records, oldest first."""
    return ctx_of(request).logs.tail(limit, level)


@router.get("/config", response_class=PlainTextResponse, tags=["system"])
async def config(request: Request) -> str:
    """The config file with secrets redacted."""
    return ctx_of(request).backend.config_text()


@router.post("/config/validate", tags=["system"])
async def validate_config(request: Request, body: TextBody) -> dict[str, Any]:
    """Check a config text without saving it."""
    problems = ctx_of(request).backend.validate_config(body.content)
    return {"valid": not problems, "problems": problems}


@router.put("/config", tags=["system"])
async def write_config(request: Request, body: TextBody) -> dict[str, Any]:
    """Validate and save the config (``***`` keeps a stored secret), then apply it.

    The running profiles are rebuilt from the saved file without a restart as
    soon as no job runs (`anibridge.app.web.reload`): ``reload`` says whether that
    happened now (``applied``) or waits for the running jobs (``pending``), and
    ``requires_restart`` lists changed settings only a restart applies.
    """
    ctx = ctx_of(request)
    problems = await asyncio.to_thread(ctx.backend.validate_config, body.content)
    if problems:
        raise HTTPException(422, {"problems": problems})
    saved = await asyncio.to_thread(ctx.backend.write_config, body.content)
    outcome = await ctx.reloader.request(ctx, saved.loaded, saved.changed)
    return {**saved.to_json(), **outcome.to_json()}


# -- tokens & webhooks -------------------------------------------------------------
def _user(request: Request) -> str:
    principal = principal_of(request)
    return principal.user if principal else ADMIN_USER


@router.get("/tokens", tags=["auth"])
async def tokens(request: Request) -> list[dict[str, Any]]:
    """The calling account's API tokens (never their secrets)."""
    return [_token(t) for t in ctx_of(request).auth.tokens(_user(request))]


def _token(info: Any) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "created_at": info.created_at,
        "hint": info.hint,
    }


@router.post("/tokens", status_code=201, tags=["auth"])
async def create_token(request: Request, body: TokenBody) -> dict[str, Any]:
    """Create a token; the secret is in this answer only."""
    try:
        info, secret = ctx_of(request).auth.create_token(body.name, _user(request))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    return {**_token(info), "token": secret}


@router.delete("/tokens/{token_id}", tags=["auth"])
async def revoke_token(request: Request, token_id: str) -> dict[str, Any]:
    """Revoke a token."""
    if not ctx_of(request).auth.revoke_token(token_id, _user(request)):
        raise HTTPException(404, f"no token {token_id!r}")
    return {"revoked": token_id}


@router.get("/webhooks", tags=["webhooks"])
async def webhooks(request: Request) -> list[dict[str, Any]]:
    """The calling account's webhook URLs (with its secrets) and what each feeds."""
    return ctx_of(request).webhook_urls(str(request.base_url), _user(request))


@router.post("/webhooks/{provider}/rotate", tags=["webhooks"])
async def rotate_webhook(request: Request, provider: str) -> dict[str, Any]:
    """Replace the calling account's webhook secret of a provider."""
    ctx = ctx_of(request)
    user = _user(request)
    if provider not in ctx.backend.webhook_providers() or (
        user != ADMIN_USER and not ctx.webhook_profiles(provider, user)
    ):
        raise HTTPException(404, f"provider {provider!r} takes no webhooks")
    ctx.auth.rotate_webhook_secret(provider, user)
    return {"rotated": provider}


# -- accounts (admins only: see anibridge.app.web.access) ------------------------
class UserBody(BaseModel):
    """A new account: its name, role and (optionally) its password."""

    name: str = Field(min_length=1, max_length=40)
    role: Literal["admin", "user"] = "user"
    password: str | None = Field(None, min_length=10)


@router.get("/users", tags=["auth"])
async def users(request: Request) -> list[dict[str, Any]]:
    """Every account with its role and the profiles it owns."""
    ctx = ctx_of(request)
    owned: dict[str, list[str]] = {}
    for info in ctx.backend.profiles():
        owned.setdefault(info.owner or ADMIN_USER, []).append(info.name)
    return [
        {
            "name": u.name,
            "role": u.role,
            "created_at": u.created_at,
            "profiles": owned.get(u.name, []),
        }
        for u in ctx.auth.users()
    ]


@router.post("/users", status_code=201, tags=["auth"])
async def add_user(request: Request, body: UserBody) -> dict[str, Any]:
    """Create an account; a generated password is in this answer only."""
    auth = ctx_of(request).auth
    try:
        generated = await asyncio.to_thread(
            auth.add_user, body.name, body.password, role=body.role
        )
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    return {"name": body.name, "role": body.role, "password": generated}


@router.delete("/users/{user}", tags=["auth"])
async def remove_user(request: Request, user: str) -> dict[str, Any]:
    """Delete an account with its sessions, tokens and webhook secrets."""
    try:
        removed = ctx_of(request).auth.remove_user(user)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    if not removed:
        raise HTTPException(404, f"no account {user!r}")
    return {"removed": user}


# -- live events -----------------------------------------------------------------
@router.get("/events", tags=["status"], response_class=StreamingResponse)
async def events(request: Request) -> StreamingResponse:
    """Server-sent events: run started/finished, webhooks, logs."""
    ctx = ctx_of(request)
    principal = principal_of(request)
    admin = principal is None or principal.is_admin
    queue = ctx.bus.subscribe()

    def shown(event: dict[str, Any]) -> dict[str, Any] | None:
        """The event as this caller may see it (a ``user``: own profiles, no logs)."""
        if admin:
            return event
        if event["kind"] == "log":
            return None
        seen = visible_profiles(ctx, principal)
        if "profile" in event:
            return event if event["profile"] in seen else None
        if "profiles" in event:
            mine = [p for p in event["profiles"] if p in seen]
            return {**event, "profiles": mine} if mine else None
        return event if event["kind"] == "mappings_refreshed" else None

    return _event_stream(ctx, queue, shown)


def _event_stream(
    ctx: ServiceContext,
    queue: asyncio.Queue[dict[str, Any]],
    shown: Callable[[dict[str, Any]], dict[str, Any] | None],
    first: Callable[[], str] | None = None,
) -> StreamingResponse:
    """Stream the bus events `shown` keeps as server-sent events, until shutdown.

    One loop for every event stream, so each retries, keeps alive and unsubscribes
    the same way. `first` makes the first event once the stream starts (a snapshot
    taken then, after `queue` subscribed, so nothing falls in between).
    """

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 3000\n\n"
            if first is not None:
                yield first()
            while not ctx.stopping.is_set():
                try:
                    event = await asyncio.wait_for(queue.get(), SSE_KEEPALIVE)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if event["kind"] == "shutdown":
                    break
                visible = shown(event)
                if visible is None:
                    continue
                data = json.dumps(visible, default=str)
                yield f"id: {event['id']}\nevent: {event['kind']}\ndata: {data}\n\n"
        finally:
            ctx.bus.unsubscribe(queue)

    return _ClosingStream(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


class _ClosingStream(StreamingResponse):
    """A streaming response that closes its generator however the response ends.

    Starlette stops iterating when the client goes away but never closes the
    generator: it stays suspended, its queue still subscribed, until garbage
    collection schedules its `aclose()` on a loop that may be gone by then.
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Stream, then close the generator (its ``finally`` unsubscribes)."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            body = self.body_iterator
            if isinstance(body, AsyncGenerator):
                await body.aclose()


# -- live progress of a profile's jobs --------------------------------------------
_PROGRESS_EVENTS = frozenset(
    {"progress", "run_started", "run_finished", "job_started", "job_finished"}
)


def progress_snapshot(ctx: ServiceContext, profile: str) -> dict[str, Any]:
    """What a progress page shows: the newest job's progress and the worker state.

    The worker's state says whether a job is queued or running and holds the last
    result; the board holds reads, phase, writes and waits of the newest job.
    """
    board = getattr(ctx.backend, "progress", None)
    state = board.state(profile) if board is not None else None
    workers = ctx.scheduler.state().get("profiles", {})
    return {"profile": profile, "progress": state, "worker": workers.get(profile)}


@router.get("/profiles/{profile}/progress", tags=["sync"])
async def progress(request: Request, profile: str) -> dict[str, Any]:
    """The current progress of the profile's newest job (and its result when done)."""
    ctx = ctx_of(request)
    _check_profile(ctx, profile)
    return progress_snapshot(ctx, profile)


@router.get(
    "/profiles/{profile}/progress/stream",
    tags=["sync"],
    response_class=StreamingResponse,
)
async def progress_stream(request: Request, profile: str) -> StreamingResponse:
    """Server-sent events of one profile's jobs.

    First ``state`` (the current snapshot, so a reconnecting client is up to date
    at once), then ``progress`` and the job/run start and finish events.
    """
    ctx = ctx_of(request)
    _check_profile(ctx, profile)
    queue = ctx.bus.subscribe()  # before the snapshot: nothing falls in between

    def state() -> str:
        snapshot = json.dumps(progress_snapshot(ctx, profile), default=str)
        return f"event: state\ndata: {snapshot}\n\n"

    def shown(event: dict[str, Any]) -> dict[str, Any] | None:
        mine = event["kind"] in _PROGRESS_EVENTS and event.get("profile") == profile
        return event if mine else None

    return _event_stream(ctx, queue, shown, first=state)
