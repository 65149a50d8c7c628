"""The browser UI: server-rendered pages and their form actions.

Every form posts to a ``/ui/...`` action that redirects back (post/redirect/get), so
the UI works without JavaScript; the actions call the same backend and workers as the
JSON API. All routes here are private.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from anibridge.app.scheduler import RunResult
from anibridge.app.service.mapping_view import describe
from anibridge.app.service.overrides import EXAMPLE, add_checked, has_entries
from anibridge.app.service.plan_view import (
    PlanQuery,
    SkipQuery,
    page_actions,
    unmatched_rows,
)
from anibridge.app.service.timeline import HistoryQuery
from anibridge.app.web.access import filter_profiles
from anibridge.app.web.auth import ctx_of as _ctx
from anibridge.app.web.auth import principal_of, require_auth
from anibridge.app.web.auth_store import ADMIN_USER
from anibridge.app.web.backend import BackendError
from anibridge.app.web.render import base_path, render
from anibridge.app.web.routes_api import (
    find_job,
    progress_snapshot,
    run_on_worker,
    trigger_sync,
)
from anibridge.provider.base import RecordField

__all__ = ["router"]

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_auth)])

OUTCOMES = ("applied", "failed", "unknown", "skipped", "stale", "undone")
CHANGES = ("new", "update")
FIELDS = tuple(f.value for f in RecordField)
PAGE = 50  # timeline rows per page
PLAN_PAGE = 100  # plan actions per page
SKIP_PAGE = 100  # unmatched/skipped rows per page


def _back(
    request: Request, path: str, msg: str | None = None, **query: str
) -> Response:
    params = {k: v for k, v in query.items() if v}
    if msg:
        params["msg"] = msg
        params["sig"] = _ctx(request).sign_flash(msg)
    url = base_path(request) + path
    if params:
        url += "?" + "&".join(f"{k}={quote(v)}" for k, v in params.items())
    return RedirectResponse(url, status_code=303)


def _result_msg(label: str, result: RunResult) -> str:
    summary = ", ".join(f"{k} {v}" for k, v in result.summary.items() if v)
    text = f"{label}: {result.status}"
    if summary:
        text += f" ({summary})"
    if result.error:
        text += f" — {result.error}"
    return text


JOB_LABELS = {
    "sync": "Sync",
    "apply": "Apply",
    "undo": "Undo",
    "retry": "Retry",
    "restore": "Restore",
    "undo_preview": "Undo preview",
    "mappings_refresh": "Mappings refresh",
}


def _queued(
    request: Request, profile: str, label: str, result: RunResult | None
) -> Response | None:
    """Hosted mode queued the write: show its job (None when it ran here)."""
    if result is None or result.status != "queued":
        return None
    job_id = result.summary.get("job_id")
    if not job_id:  # joined a sync already waiting
        return _back(request, "/", f"{label}: a sync of {profile} was already queued")
    return _back(request, f"/jobs/{profile}/{job_id}", f"{label}: queued")


def _user(request: Request) -> str:
    principal = principal_of(request)
    return principal.user if principal else ADMIN_USER


def _profile(request: Request, profile: str) -> Any:
    for info in _ctx(request).backend.profiles():
        if info.name == profile:
            return info
    raise HTTPException(404, f"unknown profile {profile!r}")


# -- pages ---------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request) -> HTMLResponse:
    """Per-profile state, last run, schedule and quick actions."""
    ctx = _ctx(request)
    state = ctx.scheduler.state()
    listing = getattr(ctx.scheduler, "jobs", None)  # hosted mode: the queue's jobs
    cards = []
    for info in filter_profiles(ctx, principal_of(request), ctx.backend.profiles()):
        cards.append(
            {
                "info": info,
                "state": state["profiles"].get(info.name, {}),
                "jobs": listing(info.name, 5) if listing is not None else None,
                "runs": ctx.backend.runs(info.name, 5),
                "plans": [
                    p for p in ctx.backend.plans(info.name) if p["status"] == "pending"
                ][:3],
            }
        )
    ready, detail = ctx.backend.ready()
    return render(
        request,
        "dashboard.html",
        cards=cards,
        scheduler=state,
        ready=ready,
        health=detail,
    )


@router.get("/timeline/{profile}", response_class=HTMLResponse)
async def timeline(
    request: Request,
    profile: str,
    outcome: str | None = None,
    provider: str | None = None,
    run: str | None = None,
    q: str | None = None,
    change: str | None = None,
    field: str | None = None,
    cursor: int | None = None,
    limit: int = Query(PAGE, ge=5, le=500),
) -> HTMLResponse:
    """History of a profile with per-action diffs, undo (per change or per run)."""
    ctx = _ctx(request)
    info = _profile(request, profile)
    filters = {
        "outcome": outcome or "",
        "provider": provider or "",
        "run": run or "",
        "q": q or "",
        "change": change if change in CHANGES else "",
        "field": field if field in FIELDS else "",
    }
    query = HistoryQuery(
        filters["outcome"] or None,
        filters["provider"] or None,
        filters["run"] or None,
        filters["q"] or None,
        filters["change"] or None,
        filters["field"] or None,
        cursor,
        limit,
    )
    page = await asyncio.to_thread(ctx.backend.history_page, profile, query)
    runs = ctx.backend.runs(profile, 100)
    undone_runs = await asyncio.to_thread(ctx.backend.undone_runs, profile)
    shown = {k: v for k, v in filters.items() if v}
    if limit != PAGE:
        shown["limit"] = str(limit)
    return render(
        request,
        "timeline.html",
        profile=info,
        rows=page["rows"],
        next_url=_query_url(request, shown, cursor=page["next"])
        if page["next"] is not None
        else None,
        first_url=_query_url(request, shown) if cursor is not None else None,
        runs=runs,
        undone_runs=undone_runs,
        outcomes=OUTCOMES,
        fields=FIELDS,
        filters=filters,
        filtered=any(filters.values()),
        pins=ctx.backend.pins(profile),
    )


def _query_url(request: Request, params: dict[str, Any], **more: Any) -> str:
    values = {**params, **{k: v for k, v in more.items() if v is not None}}
    query = "&".join(f"{k}={quote(str(v))}" for k, v in values.items())
    return request.url.path + ("?" + query if query else "")


@router.get("/timeline/{profile}/runs/{run_id}/undo", response_class=HTMLResponse)
async def undo_run_page(request: Request, profile: str, run_id: str) -> HTMLResponse:
    """Confirm a run-level undo: every change it would write, read live."""
    ctx = _ctx(request)
    info = _profile(request, profile)
    try:
        preview = await ctx.backend.undo_preview(profile, run_id)
    except BackendError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    if preview.get("status") == "queued":  # hosted mode: a worker reads the targets
        job_id = preview["summary"]["job_id"]
        return _back(request, f"/jobs/{profile}/{job_id}")
    return render(request, "undo_run.html", profile=info, preview=preview)


@router.get("/jobs/{profile}/{job_id}", response_class=HTMLResponse)
async def job_page(request: Request, profile: str, job_id: int) -> HTMLResponse:
    """Hosted mode: one job's state, and its result once a worker finished it.

    A finished undo preview shows the preview itself, with the button that
    queues the undo.
    """
    ctx = _ctx(request)
    info = _profile(request, profile)
    job = await asyncio.to_thread(find_job, ctx, profile, job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id} of {profile!r}")
    if job["kind"] == "undo_preview" and job["state"] == "done" and job["result"]:
        name = getattr(ctx.backend, "name_rows", None)
        preview = name(job["result"]) if name is not None else job["result"]
        return render(request, "undo_run.html", profile=info, preview=preview)
    label = JOB_LABELS.get(job["kind"], job["kind"])
    if job["kind"] == "sync" and (job["args"] or {}).get("dry_run"):
        label = "Preview"
    return render(request, "job.html", profile=info, job=job, label=label)


def _plan_query(
    change: str | None,
    field: str | None,
    provider: str | None,
    q: str | None,
    state: str | None,
    after: str | None = None,
    limit: int = PLAN_PAGE,
) -> tuple[PlanQuery, dict[str, str]]:
    filters = {
        "change": change if change in CHANGES else "",
        "field": field if field in FIELDS else "",
        "provider": provider or "",
        "q": q or "",
        "state": state if state in ("applied", "open") else "",
    }
    query = PlanQuery(
        filters["change"] or None,
        filters["field"] or None,
        filters["provider"] or None,
        filters["q"] or None,
        filters["state"] or None,
        after or None,
        limit,
    )
    return query, filters


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
async def plan_page(
    request: Request,
    plan_id: str,
    change: str | None = None,
    field: str | None = None,
    provider: str | None = None,
    q: str | None = None,
    state: str | None = None,
    after: str | None = None,
    limit: int = Query(PLAN_PAGE, ge=5, le=1000),
) -> HTMLResponse:
    """Review a preview: filter, page, approve; see what was applied, apply the rest."""
    plan = _ctx(request).backend.plan(plan_id)
    if plan is None:
        raise HTTPException(404, f"no kept plan {plan_id!r}")
    query, filters = _plan_query(change, field, provider, q, state, after, limit)
    actions, cursor, matching = page_actions(plan["actions"], query)
    shown = {k: v for k, v in filters.items() if v}
    if limit != PLAN_PAGE:
        shown["limit"] = str(limit)
    rest_matching = sum(
        1 for a in plan["actions"] if query.wants(a) and a["outcome"] != "applied"
    )
    names = {
        p.key: p.display_name
        for info in _ctx(request).backend.profiles()
        if info.name == plan["profile"]
        for p in info.providers
    }
    # (key, name) of the providers written to, named as on the timeline
    providers = [
        (k, names.get(k, k)) for k in sorted({a["provider"] for a in plan["actions"]})
    ]
    return render(
        request,
        "plan.html",
        plan=plan,
        actions=actions,
        matching=matching,
        rest_matching=rest_matching,
        filters=filters,
        filtered=any(filters.values()),
        fields=FIELDS,
        providers=providers,
        next_url=_query_url(request, shown, after=cursor) if cursor else None,
        first_url=_query_url(request, shown) if after else None,
        skipped=unmatched_rows(plan["skipped"]),
    )


@router.get("/unmatched/{profile}", response_class=HTMLResponse)
async def unmatched_page(
    request: Request,
    profile: str,
    reason: str | None = None,
    q: str | None = None,
    after: str | None = None,
) -> HTMLResponse:
    """Entries a preview left alone, why, and a mapping fix for the unmatched."""
    ctx = _ctx(request)
    info = _profile(request, profile)
    query = SkipQuery(reason or None, q or None, after or None, SKIP_PAGE)
    found = await asyncio.to_thread(ctx.backend.unmatched, profile, query)
    shown = {k: v for k, v in {"reason": reason, "q": q}.items() if v}
    return render(
        request,
        "unmatched.html",
        profile=info,
        found=found,
        filters={"reason": reason or "", "q": q or ""},
        next_url=_query_url(request, shown, after=found["next"])
        if found["next"]
        else None,
        first_url=_query_url(request, shown) if after else None,
    )


@router.get("/mappings", response_class=HTMLResponse)
async def mappings_page(
    request: Request, q: str | None = None, descriptor: str | None = None
) -> HTMLResponse:
    """Search mappings by title or id; edit the custom override file."""
    ctx = _ctx(request)
    query = (q or descriptor or "").strip()
    lookup = results = error = None
    principal = principal_of(request)
    browse = functools.partial(
        ctx.backend.mapping_browse,
        titles=principal is None or principal.is_admin,  # titles: every profile's
    )
    try:
        if ":" in query:
            lookup = ctx.backend.mapping_lookup(query)
            lookup["label"] = describe(lookup["descriptor"])
        if query and not (lookup and lookup["edges"]):
            # Not an id with mappings: titles, and the ids that contain the text.
            results = await asyncio.to_thread(browse, query)
            if results["titles"] or results["matches"]:
                lookup = None
    except BackendError as exc:
        if exc.status >= 500:
            error = str(exc)
        else:  # not an id after all: search it as text
            results = await asyncio.to_thread(browse, query)
    return _mappings(request, query=query, lookup=lookup, results=results, error=error)


def _mappings(request: Request, *, content: str | None = None, **values: Any) -> Any:
    """The mappings page; the editor shows `content`, else the file or the example."""
    text = _ctx(request).backend.overrides_text() if content is None else content
    example = content is None and not has_entries(text)
    principal = principal_of(request)
    return render(
        request,
        "mappings.html",
        overrides=EXAMPLE if example and not text.strip() else text,
        example=example,
        can_edit=principal is None or principal.is_admin,  # the file is shared
        # Hosted mode keeps the overrides in the database (`hosted.overrides`).
        shared_db=getattr(_ctx(request).scheduler, "jobs", None) is not None,
        **{"query": "", "lookup": None, "results": None, "error": None, **values},
    )


@router.get("/backups", response_class=HTMLResponse)
async def backups_page(request: Request) -> HTMLResponse:
    """Backups of every profile with download and restore."""
    ctx = _ctx(request)
    mine = filter_profiles(ctx, principal_of(request), ctx.backend.profiles())
    groups = [(p.name, ctx.backend.backups(p.name)) for p in mine]
    return render(request, "backups.html", groups=groups)


@router.get("/logs", response_class=HTMLResponse)
async def logs_page(request: Request, level: str | None = None) -> HTMLResponse:
    """Recent logs; new lines arrive live."""
    rows = _ctx(request).logs.tail(500, level or None)
    return render(request, "logs.html", rows=rows, level=level or "")


def _settings_values(request: Request) -> dict[str, Any]:
    """What the settings page shows this account (config for admins only)."""
    from anibridge.app.web.access import filter_profiles

    ctx = _ctx(request)
    principal = principal_of(request)
    user = _user(request)
    admin = principal is None or principal.is_admin
    return {
        "config": ctx.backend.config_text() if admin else None,
        "tokens": ctx.auth.tokens(user),
        "hooks": ctx.webhook_urls(str(request.base_url), user),
        "new_token": None,
        "problems": None,
        "connections": filter_profiles(ctx, principal, ctx.backend.profiles()),
        "check": None,
    }


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request, new_token: str | None = None) -> HTMLResponse:
    """Config editor (admins; secrets redacted), the account's tokens and webhooks."""
    values = _settings_values(request)
    values["new_token"] = new_token
    return render(request, "settings.html", **values)


@router.post("/ui/profiles/{profile}/check", response_class=HTMLResponse)
async def ui_check(
    request: Request, profile: str, provider: str = Form("")
) -> HTMLResponse:
    """Test connection: check a provider (or the whole profile), show the result."""
    _profile(request, profile)
    values = _settings_values(request)
    values["check"] = await _ctx(request).backend.check(profile, provider or None)
    return render(request, "settings.html", **values)


# -- actions ---------------------------------------------------------------------
@router.post("/ui/profiles/{profile}/sync")
async def ui_sync(
    request: Request,
    profile: str,
    mode: str = Form("incremental"),
    dry_run: bool = Form(False),
) -> Response:
    """Start a sync or a preview in the background and show its live progress.

    Nothing here waits for the run: the progress page follows it over SSE and
    shows the result (a preview opens its plan for review when it is ready).
    """
    ctx = _ctx(request)
    if mode not in {"full", "incremental"}:
        raise HTTPException(400, "mode must be full or incremental")
    board = getattr(ctx.backend, "progress", None)
    since = board.seq(profile) if board is not None else 0
    result = await trigger_sync(ctx, profile, mode, dry_run, wait=False)
    label = f"{profile} {'preview' if dry_run else f'{mode} sync'}"
    if result is not None or board is None:  # queued for a worker elsewhere
        queued = _queued(request, profile, label, result)
        if queued is not None:
            return queued
        return _back(
            request, "/", _result_msg(label, result) if result else f"{label} queued"
        )
    return _back(
        request,
        f"/progress/{profile}",
        since=str(since),
        then="plan" if dry_run else "",
    )


@router.get("/progress/{profile}", response_class=HTMLResponse)
async def progress_page(
    request: Request, profile: str, since: int = 0, then: str = ""
) -> Response:
    """Live progress of the profile's newest job, and its result when done."""
    ctx = _ctx(request)
    info = _profile(request, profile)
    snapshot = progress_snapshot(ctx, profile)
    state = snapshot["progress"]
    mine = state if state is not None and state["seq"] > since else None
    plan_id = ((mine or {}).get("result") or {}).get("plan_id")
    if then == "plan" and mine and mine["finished"] and plan_id:
        return _back(request, f"/plans/{plan_id}")  # the preview is ready
    return render(
        request,
        "progress.html",
        profile=info,
        state=mine,
        worker=snapshot["worker"],
        since=since,
        then="plan" if then == "plan" else "",
    )


@router.post("/ui/plans/{plan_id}/apply")
async def ui_apply(request: Request, plan_id: str) -> Response:
    """Apply the checked actions of a plan, then show them in the timeline."""
    ctx = _ctx(request)
    plan = ctx.backend.plan(plan_id)
    if plan is None:
        raise HTTPException(404, f"no kept plan {plan_id!r}")
    form = await request.form()
    ids = [str(v) for v in form.getlist("action_id")]
    if not ids:
        return _back(request, f"/plans/{plan_id}", "Select at least one action.")
    profile = plan["profile"]
    result = await run_on_worker(
        ctx, profile, "apply", lambda: ctx.backend.apply_plan(profile, plan_id, ids)
    )
    queued = _queued(request, profile, f"Apply {len(ids)} action(s)", result)
    if queued is not None:
        return queued
    return _back(
        request,
        f"/timeline/{profile}",
        _result_msg(f"Applied {len(ids)} action(s)", result),
        run=result.run_id or "",
    )


@router.post("/ui/plans/{plan_id}/apply-rest")
async def ui_apply_rest(
    request: Request,
    plan_id: str,
    change: str | None = Form(None),
    field: str | None = Form(None),
    provider: str | None = Form(None),
    q: str | None = Form(None),
) -> Response:
    """Apply every action not applied yet (that matches the page's filters)."""
    ctx = _ctx(request)
    plan = ctx.backend.plan(plan_id)
    if plan is None:
        raise HTTPException(404, f"no kept plan {plan_id!r}")
    query, _filters = _plan_query(change, field, provider, q, "open")
    ids = [a["id"] for a in plan["actions"] if query.wants(a)]
    if not ids:
        return _back(request, f"/plans/{plan_id}", "Nothing left to apply.")
    profile = plan["profile"]
    result = await run_on_worker(
        ctx, profile, "apply", lambda: ctx.backend.apply_plan(profile, plan_id, ids)
    )
    queued = _queued(request, profile, f"Apply {len(ids)} more action(s)", result)
    if queued is not None:
        return queued
    return _back(
        request,
        f"/plans/{plan_id}",
        _result_msg(f"Applied {len(ids)} more action(s)", result),
    )


@router.post("/ui/profiles/{profile}/unmatched/fix")
async def ui_fix_mapping(
    request: Request,
    profile: str,
    anchor: str = Form(...),
    source: str = Form(...),
    target: str = Form(...),
    source_range: str = Form(""),
    target_range: str = Form(""),
    title: str = Form(""),
) -> Response:
    """Write a mapping override for an unmatched entry and re-plan it."""
    ctx = _ctx(request)
    _profile(request, profile)
    try:
        result = await run_on_worker(
            ctx,
            profile,
            "fix mapping",
            lambda: ctx.backend.fix_mapping(
                profile, anchor, source, target, source_range, target_range
            ),
        )
    except HTTPException as exc:
        if exc.status_code not in (400, 422):
            raise
        return _back(request, f"/unmatched/{profile}", f"Not saved: {exc.detail}")
    name = title or anchor
    queued = _queued(request, profile, f"Override saved; {name} re-planned", result)
    if queued is not None:  # hosted mode: the preview is a job
        return queued
    if not result.plan_id:
        return _back(
            request, f"/unmatched/{profile}", _result_msg(f"{name} re-planned", result)
        )
    plan = ctx.backend.plan(result.plan_id) or {"actions": [], "skipped": []}
    still = any(
        s["reason"] == "no-target" and s["ref"]["key"] == anchor
        for s in plan["skipped"]
    )
    if still:
        msg = f"{name} is still unmatched with {source} → {target}; check the ids"
        return _back(request, f"/unmatched/{profile}", msg)
    msg = (
        f"{name} now matched ({source} → {target}): "
        f"{len(plan['actions'])} change(s) planned"
    )
    return _back(request, f"/plans/{result.plan_id}", msg)


@router.post("/ui/profiles/{profile}/undo")
async def ui_undo(
    request: Request,
    profile: str,
    action_id: str = Form(...),
    run_id: str | None = Form(None),
) -> Response:
    """Undo one applied change (the journal entry of `run_id`, when given)."""
    ctx = _ctx(request)
    result = await run_on_worker(
        ctx,
        profile,
        "undo",
        lambda: ctx.backend.undo(profile, [action_id], run_id or None),
    )
    queued = _queued(request, profile, "Undo", result)
    if queued is not None:
        return queued
    return _back(request, f"/timeline/{profile}", _result_msg("Undo", result))


@router.post("/ui/profiles/{profile}/runs/{run_id}/undo")
async def ui_undo_run(request: Request, profile: str, run_id: str) -> Response:
    """Undo every applied change of one run."""
    ctx = _ctx(request)
    try:
        result = await run_on_worker(
            ctx, profile, "undo", lambda: ctx.backend.undo_whole_run(profile, run_id)
        )
    except HTTPException as exc:
        if exc.status_code != 409:
            raise
        return _back(request, f"/timeline/{profile}", str(exc.detail))
    queued = _queued(request, profile, f"Undo run {run_id[:8]}", result)
    if queued is not None:
        return queued
    return _back(
        request,
        f"/timeline/{profile}",
        _result_msg(f"Undo run {run_id[:8]}", result),
        run=result.run_id or "",
    )


@router.post("/ui/profiles/{profile}/retry")
async def ui_retry(
    request: Request, profile: str, action_id: str = Form(...)
) -> Response:
    """Retry one failed action."""
    ctx = _ctx(request)
    result = await run_on_worker(
        ctx, profile, "retry", lambda: ctx.backend.retry(profile, [action_id])
    )
    queued = _queued(request, profile, "Retry", result)
    if queued is not None:
        return queued
    return _back(request, f"/timeline/{profile}", _result_msg("Retry", result))


@router.post("/ui/profiles/{profile}/pins")
async def ui_pin(
    request: Request,
    profile: str,
    provider: str = Form(...),
    ref: str = Form(...),
    fields: str = Form(""),
) -> Response:
    """Pin fields (comma-separated) of one target entry; empty unpins."""
    ctx = _ctx(request)
    names = [f.strip() for f in fields.split(",") if f.strip()]
    try:
        ctx.backend.set_pin(profile, provider, ref, names)
    except Exception as exc:
        return _back(request, f"/timeline/{profile}", f"Pin refused: {exc}")
    return _back(request, f"/timeline/{profile}", "Pins saved")


@router.post("/ui/mappings/overrides", response_model=None)
async def ui_overrides(
    request: Request, content: str = Form(""), action: str = Form("validate")
) -> Response:
    """Validate or save the custom mappings file; problems show with their lines."""
    ctx = _ctx(request)
    content = content.replace("\r\n", "\n")  # browsers send CRLF from a textarea
    problems = await asyncio.to_thread(ctx.backend.validate_overrides, content)
    if problems or action != "save":
        return _mappings(
            request,
            content=content,
            status_code=422 if problems else 200,
            problems=problems,
            validated=not problems,
            action=action,
        )
    try:
        await asyncio.to_thread(ctx.backend.write_overrides, content)
    except BackendError as exc:
        return _back(request, "/mappings", f"Not saved: {exc}")
    return _back(request, "/mappings", "Custom mappings saved")


@router.post("/ui/mappings/add", response_model=None)
async def ui_add_override(
    request: Request,
    source: str = Form(...),
    target: str = Form(...),
    source_range: str = Form(""),
    target_range: str = Form(""),
) -> Response:
    """Add one override from the browser (comments kept); problems show inline."""
    ctx = _ctx(request)
    text, problems = add_checked(
        ctx.backend.overrides_text(),
        source,
        target,
        source_range,
        target_range,
        note=f"{describe(source.strip())}: added from the Mappings page",
    )
    if problems:
        return _mappings(
            request,
            content=text,
            status_code=422,
            problems=problems,
            action="save",
            query=source.strip(),
        )
    try:
        await asyncio.to_thread(ctx.backend.write_overrides, text)
    except BackendError as exc:
        return _back(request, "/mappings", f"Not saved: {exc}")
    shown = f"{describe(source.strip())} → {describe(target.strip())}"
    return _back(request, "/mappings", f"Override saved: {shown}", q=source.strip())


@router.post("/ui/profiles/{profile}/backups/{name}/restore")
async def ui_restore(request: Request, profile: str, name: str) -> Response:
    """Restore one backup."""
    ctx = _ctx(request)
    result = await run_on_worker(
        ctx, profile, "restore", lambda: ctx.backend.restore_backup(profile, name)
    )
    queued = _queued(request, profile, f"Restore {name}", result)
    if queued is not None:
        return queued
    return _back(request, "/backups", _result_msg(f"Restore {name}", result))


@router.post("/ui/config", response_model=None)
async def ui_config(
    request: Request, content: str = Form(""), action: str = Form("validate")
) -> Response:
    """Validate or save the config file."""
    ctx = _ctx(request)
    problems = ctx.backend.validate_config(content)
    if problems or action != "save":
        values = _settings_values(request)
        values.update(config=content, problems=problems)
        return render(
            request,
            "settings.html",
            status_code=422 if problems else 200,
            **values,
        )
    saved = await asyncio.to_thread(ctx.backend.write_config, content)
    outcome = await ctx.reloader.request(ctx, saved.loaded, saved.changed)
    return _back(request, "/settings", outcome.message())


@router.post("/ui/password")
async def ui_password(
    request: Request,
    current: str = Form(...),
    new: str = Form(...),
    repeat: str = Form(...),
) -> Response:
    """Change the account's password; its every session (this one too) ends."""
    ctx = _ctx(request)
    user = _user(request)
    if not ctx.settings.auth:
        return _back(request, "/settings", "Authentication is off; no password to set")
    if ctx.settings.admin_password and user == ADMIN_USER:
        return _back(
            request,
            "/settings",
            "The password comes from the config (web.admin_password); change it there",
        )
    client = request.client.host if request.client else "?"
    attempt = ctx.throttle.begin(client, user)
    if attempt.wait:
        return _back(
            request, "/settings", "Too many wrong passwords; try again in a while"
        )
    ok = await asyncio.to_thread(ctx.auth.check_login, user, current)
    ctx.throttle.finish(attempt, ok)
    if not ok:
        return _back(request, "/settings", "Current password is wrong; nothing changed")
    if new != repeat:
        return _back(request, "/settings", "The new passwords differ; nothing changed")
    if len(new) < 10:
        return _back(request, "/settings", "Use at least 10 characters")
    await asyncio.to_thread(ctx.auth.set_user_password, user, new)
    return RedirectResponse(base_path(request) + "/login", status_code=303)


@router.post("/ui/tokens", response_model=None)
async def ui_token(request: Request, name: str = Form(...)) -> Response:
    """Create an API token and show it once."""
    ctx = _ctx(request)
    try:
        _info, secret = ctx.auth.create_token(name, _user(request))
    except ValueError as exc:
        return _back(request, "/settings", str(exc))
    response = await settings_page(request, new_token=secret)
    return response


@router.post("/ui/tokens/{token_id}/revoke")
async def ui_revoke(request: Request, token_id: str) -> Response:
    """Revoke an API token."""
    revoked = _ctx(request).auth.revoke_token(token_id, _user(request))
    return _back(request, "/settings", "Token revoked" if revoked else "No such token")


@router.post("/ui/webhooks/{provider}/rotate")
async def ui_rotate(request: Request, provider: str) -> Response:
    """Replace a webhook secret."""
    ctx = _ctx(request)
    user = _user(request)
    if provider in ctx.backend.webhook_providers() and (
        user == ADMIN_USER or ctx.webhook_profiles(provider, user)
    ):
        ctx.auth.rotate_webhook_secret(provider, user)
    return _back(request, "/settings", f"New webhook secret for {provider}")
