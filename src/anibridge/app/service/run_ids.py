"""Runs named by short ids: `undo 3f9a` finds the run whose id starts so.

Run ids are 32 hex digits; people copy the first few from `history`. A prefix
that matches one run names it; one that matches several is refused with the
candidates listed (so the person adds characters), never guessed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anibridge.app.service.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from anibridge.bridge.stores import RunRecord
    from anibridge.store import SqlStore

__all__ = ["SHORT_ID", "already_undone_by", "resolve_run", "short_id"]

#: Characters of a run id `history` shows (unique in any real store).
SHORT_ID = 8
_CANDIDATES = 5


def short_id(run_id: str) -> str:
    """The first `SHORT_ID` characters of a run id."""
    return run_id[:SHORT_ID]


def resolve_run(store: SqlStore, text: str, *, profile: str | None = None) -> RunRecord:
    """The run `text` names: its whole id or an unambiguous prefix.

    Args:
        store: The store.
        text: A run id or the start of one.
        profile: Only this profile's runs.

    Raises:
        InvalidInput: empty, or the prefix matches several runs (listed).
        NotFound: no run starts with `text`.
    """
    wanted = text.strip()
    if not wanted:
        raise InvalidInput("a run id is needed (see `anibridge history`)")
    exact = store.run(wanted)
    if exact is not None and (profile is None or exact.profile == profile):
        return exact
    found = [
        r
        for r in store.runs_starting_with(wanted, limit=_CANDIDATES + 1)
        if profile is None or r.profile == profile
    ]
    if not found:
        where = f" of profile {profile!r}" if profile else ""
        raise NotFound(
            f"no run{where} starts with {wanted!r} (see `anibridge history`)"
        )
    if len(found) > 1:
        shown = ", ".join(
            f"{r.id[: max(len(wanted) + 4, 12)]} ({r.profile} {r.kind} "
            f"{r.started_at[:16].replace('T', ' ')})"
            for r in found[:_CANDIDATES]
        )
        more = " and more" if len(found) > _CANDIDATES else ""
        raise InvalidInput(
            f"run id {wanted!r} is ambiguous: it could be {shown}{more}; "
            "give more characters"
        )
    return found[0]


def already_undone_by(store: SqlStore, run: RunRecord) -> RunRecord | None:
    """The undo run that reverted all of `run`, if one finished ``ok``.

    A partial undo (something failed or was refused) is not one: undoing again
    retries what is left.
    """
    for other in store.runs(run.profile, limit=500):
        if other.kind != "undo" or other.status != "ok":
            continue
        summary = dict(other.summary or {})
        if run.id in (summary.get("reverts"), summary.get("reverts_run")):
            return other
    return None
