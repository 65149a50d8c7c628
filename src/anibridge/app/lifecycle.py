"""The run lifecycle of one profile, in one place for the CLI, `serve` and workers.

    lock(profile) → recover → collect → plan → intent → write → confirm → finish
    → unlock

Every process that touches a profile's providers goes through here, so the rules
hold whoever runs it:

- **lock** — `take_lock`: the profile's cross-process lock (`anibridge.store.lock`:
  a file lock beside a SQLite store, an advisory lock on PostgreSQL), waiting up to
  ``lock_wait`` seconds; `ProfileBusy` names the holder. Taken *before* anything of
  the profile is read (the CLI takes it before its providers initialize, so even
  seeding a local file happens under it).
- **recover** — `recover`: holding the lock, any run of the profile still marked
  ``running`` belongs to a process that is gone: it becomes ``interrupted``. Then
  `bridge.reconcile` settles journal rows left ``pending``/``unknown`` by re-reading
  their refs, so the journal describes the targets exactly before anything is
  planned (and undo is exact).
- **collect → plan → intent → write → confirm → finish** — `bridge.sync.run_sync` /
  `undo_run` (with `bridge.apply` writing the journal ahead of every batch).
- **unlock** — when the session closes (CLI) or the job ends (`profile_job`).

The CLI holds the lock for its whole session (`runtime.open_session`); `serve`
opens its sessions once and takes the lock per job with `profile_job`; a hosted
worker does the same around each job it runs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from anibridge.app.session import Recovery
from anibridge.bridge.reconcile import reconcile
from anibridge.dates import utcnow
from anibridge.store import ProfileBusy, ProfileLock, SqlStore

if TYPE_CHECKING:
    from anibridge.app.session import Session
    from anibridge.provider.base import Provider

__all__ = [
    "ProfileBusy",
    "Recovery",
    "mark_stale_runs",
    "profile_job",
    "recover",
    "release",
    "take_lock",
]

log = logging.getLogger("anibridge.app")


async def take_lock(
    store: SqlStore, profile: str, *, purpose: str, wait: float
) -> ProfileLock:
    """The profile's lock, taken (waiting up to `wait` seconds).

    Raises:
        ProfileBusy: another run holds it after `wait` seconds.
    """
    lock = store.profile_lock(profile, purpose=purpose)
    await lock.acquire(wait)
    return lock


async def recover(
    store: SqlStore, providers: Mapping[str, Provider], profile: str
) -> Recovery:
    """Mark runs left by dead processes interrupted, then reconcile the journal.

    Only call it holding the profile's lock.
    """
    found = Recovery()
    found.interrupted = store.interrupt_stale(
        profile,
        now=utcnow().isoformat(),
        error="interrupted: the process running it ended before it finished",
    )
    found.reconciled = await reconcile(providers, store.bundle(), profile)
    for note in found.notes():
        log.warning("profile %s: %s", profile, note)
    return found


def release(session: Session) -> None:
    """Let go of the session's profile lock (a no-op when it holds none)."""
    lock, session.lock = session.lock, None
    if lock is not None:
        lock.release()


@asynccontextmanager
async def profile_job(
    session: Session, *, purpose: str, wait: float | None = None
) -> AsyncIterator[Recovery]:
    """Hold the profile's lock for one job on an open session, recovered first.

    Raises:
        ProfileBusy: another run holds the lock after `wait` seconds (default:
            the config's ``lock_wait``).
    """
    if wait is None:
        wait = session.config.app.lock_wait
    lock = await take_lock(session.store, session.name, purpose=purpose, wait=wait)
    session.lock = lock
    try:
        yield await recover(session.store, session.providers, session.name)
    finally:
        release(session)


def mark_stale_runs(store: SqlStore) -> list[str]:
    """Mark runs left ``running`` by dead processes, for profiles nobody holds.

    For read-only commands (`history`): each profile with a ``running`` run is
    probed with a non-blocking lock attempt; when it is free, its runs are stale.
    """
    marked: list[str] = []
    for profile in store.running_profiles():
        lock = store.profile_lock(profile, purpose="history")
        if not lock.try_acquire():
            continue  # a live run: it really is running
        try:
            marked += store.interrupt_stale(
                profile,
                now=utcnow().isoformat(),
                error="interrupted: the process running it ended before it finished",
            )
        finally:
            lock.release()
    return marked
