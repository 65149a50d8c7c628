"""The undo use case: what undoing a run would write, and doing it.

An undo reverts journal entries: each applied write is inverted against the
provider's *current* state (`anibridge.bridge.undo.plan_undo`: a field the user
changed since is left alone, an unsettled write is refused), and runs as its own
run (`anibridge.bridge.sync.undo_run`) that records which run it reverted. The web
undoes whole runs and single entries; the CLI undoes whole runs.

Refusals are typed: an unknown run is `NotFound`, a dry run (it wrote nothing)
is `InvalidInput`, a run with nothing left to revert is `Conflict`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from anibridge.app.service.errors import Conflict, InvalidInput, NotFound
from anibridge.app.service.timeline import undone_entries
from anibridge.bridge.model import Plan
from anibridge.bridge.stores import RunRecord, Stores
from anibridge.bridge.sync import SyncResult, undo_run
from anibridge.bridge.undo import plan_undo
from anibridge.provider.base import Provider

__all__ = ["check_undoable", "preview", "revert", "undone_runs"]


def undone_runs(store: object, profile: str) -> set[str]:
    """Runs of `profile` none of whose applied entries is left to undo.

    `store` is the SQL store (`profile_journal`: runs and journal rows in order).
    """
    runs, entries = store.profile_journal(profile)  # type: ignore[attr-defined]
    undone = undone_entries(runs, entries)
    open_runs: set[str] = set()
    touched: set[str] = set()
    for _seq, e in entries:
        if e.outcome == "applied" and e.undoes is None:
            touched.add(e.run_id)
            if (e.run_id, e.action_id) not in undone:
                open_runs.add(e.run_id)
    return touched - open_runs


def check_undoable(
    stores: Stores, profile: str, run_id: str, *, undone: set[str] | None = None
) -> RunRecord:
    """The run to undo, or the typed refusal.

    Raises:
        NotFound: no such run of `profile`.
        InvalidInput: it was a dry run (nothing to revert).
        Conflict: `undone` (see `undone_runs`) says it is already undone.
    """
    run = stores.runs.run(run_id)
    if run is None or run.profile != profile:
        raise NotFound(f"no run {run_id!r} for {profile!r}")
    if run.kind == "dry_run":
        raise InvalidInput(
            f"run {run_id[:8]} was a dry run: it wrote nothing, so there is no undo"
        )
    if undone is not None and run_id in undone:
        raise Conflict(f"run {run_id[:8]} is already undone; nothing to revert")
    return run


async def preview(
    providers: Mapping[str, Provider], stores: Stores, *, profile: str, run_id: str
) -> Plan:
    """What undoing `run_id` would write, read against the current state."""
    plan, _undoes = await plan_undo(
        stores.journal.entries(run_id), providers, profile=profile
    )
    return plan


async def revert(
    providers: Mapping[str, Provider],
    stores: Stores,
    *,
    profile: str,
    run_id: str | None = None,
    action_id: str | None = None,
    stop: Callable[[], bool] | None = None,
) -> SyncResult:
    """Undo a whole run, or one action's entry (of `run_id` when given).

    Raises:
        NotFound: nothing in the journal for what was named.
    """
    try:
        return await undo_run(
            providers,
            stores,
            profile=profile,
            run_id=run_id,
            action_id=action_id,
            stop=stop,
        )
    except ValueError as exc:  # nothing in the journal for it
        raise NotFound(str(exc)) from exc
