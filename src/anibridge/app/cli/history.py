"""`anibridge history` and `anibridge undo RUN_ID`.

`history` first marks runs left ``running`` by a process that is gone (their
profile's lock is free) as ``interrupted``, so it never shows a dead run as live.
`undo` exits 0 when everything was reverted, 1 when something failed or could not
be settled yet, 75 when the profile is busy, 130/143 when interrupted.
"""

from __future__ import annotations

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
    from anibridge.app.config import LoadedConfig
    from anibridge.app.runtime import StopFlag
    from anibridge.bridge.model import Skip


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
        table.add_column(col, overflow="fold")
    for r in runs:
        summary = ", ".join(
            f"{k}={v}" for k, v in dict(r.summary).items() if not isinstance(v, dict)
        )
        status = r.status
        if r.status == "interrupted":
            status = f"interrupted ({r.owner or 'owner unknown'})"
        elif r.status == "running":
            status = f"running ({r.owner or 'owner unknown'})"
        table.add_row(r.id, r.profile, r.kind, status, r.started_at, summary)
    out_console.print(table)


async def _undo(
    loaded: LoadedConfig, run_id: str, stop: StopFlag, wait: float | None
) -> dict:
    from anibridge.app.cli._common import err_console
    from anibridge.app.runtime import close_session, guard_writes, open_session
    from anibridge.bridge.sync import undo_run
    from anibridge.store import SqlStore

    store = SqlStore(loaded.store_url)
    try:
        run = store.run(run_id)
    finally:
        store.close()
    if run is None:
        raise fail(f"no run {run_id!r} in the store at {loaded.store_url}")
    if run.kind == "dry_run":
        raise fail(f"run {run_id} was a dry run: it wrote nothing, so there is no undo")
    session = await open_session(loaded, run.profile, purpose="undo", wait=wait)
    session.stop = stop
    for note in session.recovery.notes() if session.recovery else ():
        err_console.print(f"note: {note}", style="yellow", soft_wrap=True)
    try:
        guard_writes(session, run_id=lambda: run_id)
        result = await undo_run(
            session.providers,
            session.store.bundle(),
            profile=run.profile,
            run_id=run_id,
            stop=stop,
        )
        counts = result.report.counts() if result.report else {}
        return {
            "run_id": result.run.id,
            "undoes": run_id,
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


@app.command()
def undo(
    run_id: str = typer.Argument(..., help="The run to revert (see `history`)."),
    as_json: bool = typer.Option(False, "--json", help="Print only a JSON summary."),
    wait: float | None = WaitOption,
    config: Path | None = ConfigOption,
) -> None:
    """Revert every write a run made (entries it created are removed again)."""
    from anibridge.app.cli._common import out_console
    from anibridge.app.runtime import StopFlag

    loaded = load(config)
    stop = StopFlag()
    try:
        summary = run_async(lambda: _undo(loaded, run_id, stop, wait), stop=stop)
    except ValueError as exc:
        raise fail(str(exc)) from None
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
