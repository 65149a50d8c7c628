"""`anibridge history` and `anibridge undo RUN_ID`.

`history` first marks runs left ``running`` by a process that is gone (their
profile's lock is free) as ``interrupted``, so it never shows a dead run as live.
`undo` exits 0 when everything was reverted, 1 when something failed or could not
be settled yet, 75 when the profile is busy, 130/143 when interrupted.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from anibridge.app.cli import app
from anibridge.app.cli._common import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    ConfigOption,
    WaitOption,
    fail,
    load,
    print_json,
    run_async,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from anibridge.app.config import LoadedConfig
    from anibridge.app.runtime import StopFlag
    from anibridge.bridge.model import Plan, Skip
    from anibridge.bridge.stores import RunRecord


@app.command()
def history(
    limit: int = typer.Option(20, "--limit", "-n", help="Runs to show."),
    as_json: bool = typer.Option(False, "--json", help="Print runs as JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Recent runs, newest first."""
    from rich.table import Table

    from anibridge.app.cli._common import out_console
    from anibridge.app.lifecycle import mark_stale_runs
    from anibridge.app.service.run_ids import short_id
    from anibridge.store import SqlStore

    loaded = load(config)

    async def read() -> list:
        store = SqlStore(loaded.store_url)
        try:
            mark_stale_runs(store)
            return store.all_runs(limit)
        finally:
            store.close()

    runs = run_async(read)
    if as_json:
        print_json(
            [
                {
                    "run_id": r.id,
                    "profile": r.profile,
                    "kind": r.kind,
                    "status": r.status,
                    "started_at": r.started_at,
                    "finished_at": r.finished_at,
                    "summary": dict(r.summary),
                    "error": r.error,
                    "owner": r.owner,
                }
                for r in runs
            ]
        )
        return
    table = Table(title="Runs")
    for col in ("run", "profile", "kind", "status", "started", "summary"):
        table.add_column(col, overflow="fold", no_wrap=col in ("run", "started"))
    for r in runs:
        summary = ", ".join(
            f"{k}={v}" for k, v in dict(r.summary).items() if not isinstance(v, dict)
        )
        status = r.status
        if r.status == "interrupted":
            status = f"interrupted ({r.owner or 'owner unknown'})"
        elif r.status == "running":
            status = f"running ({r.owner or 'owner unknown'})"
        table.add_row(
            short_id(r.id), r.profile, r.kind, status, _when(r.started_at), summary
        )
    out_console.print(table)


def _ago(seconds: float) -> str:
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def _when(iso: str | None, now: datetime | None = None) -> str:
    """A stored UTC time in this machine's local time, with how long ago it was."""
    if not iso:
        return ""
    from anibridge.dates import parse_iso, utcnow

    at = parse_iso(iso)
    ago = _ago(((now or utcnow()) - at).total_seconds())
    return f"{at.astimezone():%Y-%m-%d %H:%M} ({ago})"


async def _undo(
    loaded: LoadedConfig,
    run_id: str,
    stop: StopFlag,
    wait: float | None,
    confirm: Callable[[Plan, RunRecord], None],
    *,
    progress: bool = False,
) -> dict:
    from anibridge.app.cli._common import err_console
    from anibridge.app.cli.progress import showing_progress
    from anibridge.app.runtime import close_session, guard_writes, open_session
    from anibridge.app.service.errors import InvalidInput
    from anibridge.app.service.run_ids import already_undone_by, resolve_run
    from anibridge.app.service.undo import preview as undo_preview
    from anibridge.app.service.undo import revert
    from anibridge.store import SqlStore

    store = SqlStore(loaded.store_url)
    try:
        run = resolve_run(store, run_id)
        undone = already_undone_by(store, run)
    finally:
        store.close()
    if run.kind == "dry_run":
        raise InvalidInput(
            f"run {run.id} was a dry run: it wrote nothing, so there is no undo"
        )
    if undone is not None:
        raise _AlreadyUndone(
            f"run {run.id} was already undone by run {undone.id} "
            f"({_when(undone.finished_at or undone.started_at)}); nothing to do"
        )
    session = await open_session(loaded, run.profile, purpose="undo", wait=wait)
    session.stop = stop
    for note in session.recovery.notes() if session.recovery else ():
        err_console.print(f"note: {note}", style="yellow", soft_wrap=True)
    try:
        preview = await undo_preview(
            session.providers,
            session.store.bundle(),
            profile=run.profile,
            run_id=run.id,
        )
        if preview.actions:
            confirm(preview, run)
        guard_writes(session, run_id=lambda: run.id)
        with showing_progress(err_console, "undo", enabled=progress):
            result = await revert(
                session.providers,
                session.store.bundle(),
                profile=run.profile,
                run_id=run.id,
                stop=stop,
            )
        counts = result.report.counts() if result.report else {}
        return {
            "run_id": result.run.id,
            "undoes": run.id,
            "profile": run.profile,
            "status": result.run.status,
            "planned": len(result.plan.actions),
            "applied": counts.get("applied", 0) + counts.get("unchanged", 0),
            "failed": counts.get("failed", 0),
            "refused": [_refusal(skip) for skip in result.plan.skipped],
            "backups": [str(p) for p in session.backups],
        }
    finally:
        await close_session(session)


class _AlreadyUndone(Exception):
    """The run was undone before: nothing to do (exit 0, one line)."""


def _refusal(skip: Skip) -> dict:
    """One journal write undo left alone (the user's newer data wins), as JSON."""
    from anibridge.bridge.codec import ref_id

    return {
        "provider": skip.provider,
        "ref": ref_id(skip.ref),
        "field": skip.field.value if skip.field else None,
        "reason": skip.reason.value,
        "detail": skip.detail,
    }


def _ask(yes: bool, as_json: bool, what: str) -> Callable[[Plan, RunRecord], None]:
    """The confirmation step: show the plan, then ask (or refuse without a TTY)."""

    def confirm(plan: Plan, run: RunRecord) -> None:
        from anibridge.app.cli import _common
        from anibridge.app.cli._common import err_console, out_console
        from anibridge.bridge.explain import plan_table

        count = len(plan.actions)
        if yes:
            return
        if as_json or not _common.has_terminal():
            raise fail(
                f"{what} would make {count} change(s) to profile {run.profile!r}; "
                "run it again with --yes to confirm (there is no terminal to ask)"
            )
        console = err_console if as_json else out_console
        console.print(plan_table(plan, show_skipped=False))
        if not typer.confirm(f"{what.capitalize()}: make these {count} change(s)?"):
            raise fail("nothing changed (not confirmed)")

    return confirm


@app.command()
def undo(
    run_id: str = typer.Argument(
        ..., help="The run to revert: its id or the first characters (see `history`)."
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Revert without showing the changes and asking."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print only a JSON summary."),
    wait: float | None = WaitOption,
    config: Path | None = ConfigOption,
) -> None:
    """Revert every write a run made (entries it created are removed again).

    Shows what it will change and asks first; without a terminal (a script, a
    pipe) it refuses unless `--yes` is given.
    """
    from anibridge.app.cli._common import out_console
    from anibridge.app.runtime import StopFlag

    loaded = load(config)
    stop = StopFlag()
    confirm = _ask(yes, as_json, f"undo of run {run_id}")
    try:
        summary = run_async(
            lambda: _undo(loaded, run_id, stop, wait, confirm, progress=not as_json),
            stop=stop,
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    except _AlreadyUndone as exc:
        if as_json:
            print_json({"status": "already-undone", "message": str(exc)})
        else:
            out_console.print(str(exc), soft_wrap=True)
        raise typer.Exit(0) from None
    if as_json:
        print_json(summary)
    else:
        refused = summary["refused"]
        out_console.print(
            f"Undo run {summary['run_id']} reverted {summary['undoes']}: "
            f"{summary['applied']} applied, {summary['failed']} failed, "
            f"{len(refused)} refused",
            markup=False,
            soft_wrap=True,
        )
        for r in refused:
            field = f" {r['field']}" if r["field"] else ""
            out_console.print(
                f"  refused {r['provider']} {r['ref']}{field} ({r['reason']}): "
                f"{r['detail']}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    unsettled = any(r["reason"] == "unconfirmed" for r in summary["refused"])
    if stop.requested:
        raise typer.Exit(
            EXIT_TERMINATED if stop.signal == "SIGTERM" else EXIT_INTERRUPTED
        )
    raise typer.Exit(1 if summary["failed"] or unsettled else 0)
