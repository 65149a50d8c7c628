"""`anibridge sync` and `anibridge plan`: run a profile, or preview it.

`sync --json` prints exactly one object: run_id, profile, dry_run, status, planned,
applied, failed, unknown, stale, unsent, skipped, unchanged, duration_s. Exit
codes: 0 nothing failed, 1 errors or failed/unconfirmed actions, 2 a guard refused
the plan, 75 the profile is busy (another run holds its lock), 130 interrupted by
Ctrl-C, 143 stopped by SIGTERM (see `_common`).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    refuse_untouched_template,
    run_async,
)

if TYPE_CHECKING:
    from anibridge.app.config import LoadedConfig
    from anibridge.app.runtime import Session, StopFlag
    from anibridge.bridge.model import Plan
    from anibridge.provider.base import RecordField

__all__ = ["execute", "print_plan", "print_summary"]


async def execute(
    config: LoadedConfig,
    profile: str | None,
    *,
    dry_run: bool,
    stop: StopFlag,
    progress: bool,
    force: bool = False,
    full: bool = False,
    wait: float | None = None,
) -> tuple[dict[str, Any], Plan | None, int]:
    """Run (or dry-run) one profile; returns (summary, plan, exit code).

    An adapter over `anibridge.app.service.runs.run_profile` (the web runs the
    same use case): without `full`, only what the source's change feed reports
    since the last clean run is re-read.
    """
    from rich.text import Text

    from anibridge.app.cli._common import EXIT_INTERRUPTED, EXIT_TERMINATED, err_console
    from anibridge.app.cli.progress import showing_progress
    from anibridge.app.runtime import (
        close_session,
        guard_writes,
        open_session,
        policy_for,
    )
    from anibridge.app.service.runs import RunRequest, run_profile
    from anibridge.mappings import LazyIndex, load_index

    session: Session = await open_session(
        config, profile, purpose="plan" if dry_run else "sync", wait=wait
    )
    session.stop = stop
    for note in session.recovery.notes() if session.recovery else ():
        err_console.print(f"note: {note}", style="yellow", soft_wrap=True)
    run_id = uuid.uuid4().hex
    # Backups before the first write; each batch is reported as progress.
    guard_writes(session, run_id=lambda: run_id)
    try:
        # Loaded on first use: a run whose change feed says nothing changed, or
        # that reads no entry with ids, never opens the index.
        index = LazyIndex(
            lambda: load_index(
                [
                    p if "://" in p else str(config.resolve(p))  # URLs stay URLs
                    for p in config.app.mappings.custom
                ],
                include_default=config.app.mappings.include_default,
                notice=None,
            )
        )
        policy = policy_for(session.name, session.profile, config)
        display = {
            "timezone": policy.timezone,
            "date_fields": _date_fields(session),
        }
        request = RunRequest(
            "full" if full else "incremental", dry_run=dry_run, force=force
        )
        with showing_progress(
            err_console, "preview" if dry_run else "sync", enabled=progress
        ):
            outcome = await run_profile(
                session,
                session.store.bundle(),
                policy,
                request,
                index=index,
                stop=stop,
                run_id=run_id,
            )
        summary = outcome.summary
        if outcome.reads.nothing_changed:
            return {**summary, "_extra": {"changes": 0, **display}}, None, 0
        code = 0
        if outcome.refused is not None:
            err_console.print(
                Text.assemble(
                    ("refused by a guard:", "bold red"), f" {outcome.refused}"
                )
            )
            code = 2
        if code == 0 and (summary["failed"] or summary["unknown"]):
            code = 1
        if stop.requested:
            summary["_interrupted"] = True
            code = EXIT_TERMINATED if stop.signal == "SIGTERM" else EXIT_INTERRUPTED
        extra = {
            "backups": [str(p) for p in session.backups],
            "titles": _titles(session, outcome.result),
            **display,
        }
        return {**summary, "_extra": extra}, outcome.plan, code
    finally:
        await close_session(session)


def _date_fields(session: Session) -> dict[str, frozenset[RecordField]]:
    """Per provider key, the date fields it keeps at DATE precision (for display)."""
    from anibridge.bridge.translate import precision
    from anibridge.provider.base import TemporalPrecision

    return {
        key: frozenset(
            f
            for f, spec in provider.capabilities().record_fields.items()
            if precision(spec) is TemporalPrecision.DATE
        )
        for key, provider in session.providers.items()
    }


def _titles(session: Any, result: Any) -> dict[tuple[str, str], str]:
    """Entry titles for the plan table, from this run's snapshots and links."""
    from anibridge.bridge.explain import display_titles

    if result is None:
        return {}
    links = [
        link
        for a in result.snapshots
        for b in result.snapshots
        if a != b
        for link in session.store.links(session.name, a, b)
    ]
    return display_titles(result.snapshots, links)


def print_plan(plan: Plan, summary: dict[str, Any], *, show_skipped: bool) -> None:
    """The plan for people, dates in the profile's timezone and precision."""
    from anibridge.app.cli._common import out_console
    from anibridge.bridge.explain import plan_table

    extra = summary.get("_extra", {})
    out_console.print(
        plan_table(
            plan,
            show_skipped=show_skipped,
            timezone=extra.get("timezone"),
            date_fields=extra.get("date_fields"),
            titles=extra.get("titles"),
        )
    )


def print_summary(summary: dict[str, Any]) -> None:
    """The human summary line(s)."""
    from rich.text import Text

    from anibridge.app.cli._common import out_console

    run = (f"Run {summary['run_id']}", "bold")
    if summary.get("_extra", {}).get("changes") == 0:
        out_console.print(
            Text.assemble(
                run,
                ": no changes in the source since the last run; nothing to do "
                "(use --full to re-check everything)",
            )
        )
        return
    out_console.print(
        Text.assemble("\n", run, " (profile ", (summary["profile"], "cyan"), ")")
    )
    done = (
        ("dry run: nothing written", "yellow")
        if summary["dry_run"]
        else f"{summary['applied']} applied"
    )
    unknown = (
        f", {summary['unknown']} unconfirmed (the answer never arrived; the next "
        "run re-reads them before sending anything again)"
        if summary.get("unknown")
        else ""
    )
    stale = (
        f"{summary['stale']} stale (changed since the plan, not written), "
        if summary.get("stale")
        else ""
    )
    unsent = (
        f"{summary['unsent']} unsent (stopped before they were sent), "
        if summary.get("unsent")
        else ""
    )
    out_console.print(
        Text.assemble(
            f"{summary['planned']} planned, ",
            done,
            f", {summary['failed']} failed, {stale}{unsent}"
            f"{summary['skipped']} skipped, "
            f"{summary['unchanged']} unchanged{unknown} "
            f"in {summary['duration_s']:.2f}s",
        )
    )
    if summary.get("status") == "interrupted":
        out_console.print(
            "Interrupted: the rest was not written; run it again to finish (or "
            "undo this run).",
            style="yellow",
        )
    for path in summary.get("_extra", {}).get("backups", []):
        out_console.print(f"Backup before writing: {path}", soft_wrap=True)


def _public(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if not k.startswith("_")}


@app.command()
def sync(
    profile: str | None = typer.Option(None, "--profile", "-p", help="Profile name."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan only; write nothing."),
    full: bool = typer.Option(
        False, "--full", help="Read everything, not only changes since the last run."
    ),
    force: bool = typer.Option(False, "--force", help="Override safety guards."),
    as_json: bool = typer.Option(False, "--json", help="Print only a JSON summary."),
    every: bool = typer.Option(
        False, "--all", help="Sync every profile, one after the other."
    ),
    wait: float | None = WaitOption,
    config: Path | None = ConfigOption,
) -> None:
    """Sync a profile: read both sides, plan, back up, write, journal.

    With `--all`, every profile in turn: one that fails (its error printed) does
    not stop the others; the exit code is the first non-zero one. `--json` then
    prints one summary per profile, as a list.
    """
    from anibridge.app.runtime import StopFlag

    loaded = load(config)
    refuse_untouched_template(loaded.path)
    if every:
        if profile is not None:
            raise fail("--all syncs every profile; leave out --profile")
        _sync_all(loaded, dry_run=dry_run, full=full, force=force,
                  as_json=as_json, wait=wait)  # fmt: skip
        return
    stop = StopFlag()
    summary, plan, code = run_async(
        lambda: execute(
            loaded,
            profile,
            dry_run=dry_run,
            stop=stop,
            progress=not as_json,
            force=force,
            full=full,
            wait=wait,
        ),
        stop=stop,
    )
    if as_json:
        print_json(_public(summary))
    else:
        if plan is not None:
            print_plan(plan, summary, show_skipped=False)
        print_summary(summary)
    raise typer.Exit(code)


def _sync_all(
    loaded: LoadedConfig,
    *,
    dry_run: bool,
    full: bool,
    force: bool,
    as_json: bool,
    wait: float | None,
) -> None:
    """`sync --all`: each profile in config order; carries on past failures.

    Raises:
        typer.Exit: the first non-zero exit code, or 0.
    """
    from anibridge.app.cli._common import out_console
    from anibridge.app.runtime import StopFlag

    codes: list[int] = []
    summaries: list[dict[str, Any]] = []
    for name in loaded.app.profiles:
        stop = StopFlag()
        if not as_json:
            out_console.print(f"== profile {name}", style="bold", soft_wrap=True)
        try:
            summary, the_plan, code = run_async(
                lambda name=name, stop=stop: execute(
                    loaded, name, dry_run=dry_run, stop=stop,
                    progress=not as_json, force=force, full=full, wait=wait,
                ),
                stop=stop,
            )  # fmt: skip
        except typer.Exit as exc:  # its one line is printed; go on
            codes.append(exc.exit_code)
            summaries.append({"profile": name, "status": "error"})
            if exc.exit_code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
                break
            continue
        codes.append(code)
        summaries.append({"profile": name, **_public(summary)})
        if not as_json:
            if the_plan is not None:
                print_plan(the_plan, summary, show_skipped=False)
            print_summary(summary)
        if stop.requested:
            break
    if as_json:
        print_json(summaries)
    failed = [c for c in codes if c]
    raise typer.Exit(failed[0] if failed else 0)


@app.command()
def plan(
    profile: str | None = typer.Option(None, "--profile", "-p", help="Profile name."),
    full: bool = typer.Option(
        False, "--full", help="Read everything, not only changes since the last run."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
    wait: float | None = WaitOption,
    config: Path | None = ConfigOption,
) -> None:
    """Preview what a sync would write (a dry run), as a diff table or JSON.

    It reads exactly what `sync` would read (the same change-feed policy; `--full`
    for everything), so the preview and the run agree.
    """
    from anibridge.app.runtime import StopFlag
    from anibridge.bridge.explain import plan_json

    loaded = load(config)
    refuse_untouched_template(loaded.path)
    stop = StopFlag()
    summary, the_plan, code = run_async(
        lambda: execute(
            loaded,
            profile,
            dry_run=True,
            stop=stop,
            progress=not as_json,
            wait=wait,
            full=full,
        ),
        stop=stop,
    )
    if as_json:
        data = plan_json(the_plan) if the_plan is not None else {}
        print_json({"summary": _public(summary), "plan": data})
    else:
        if the_plan is not None:
            print_plan(the_plan, summary, show_skipped=True)
        print_summary(summary)
    raise typer.Exit(code)
