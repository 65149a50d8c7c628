"""One run at a time per profile, across processes: the profile lock.

Every process that reads or writes a profile's providers (the CLI, `serve`'s profile
workers, hosted workers) takes this lock first and holds it until the run ends.

- SQLite store: an OS file lock (`flock`; `msvcrt.locking` on Windows) on
  ``<store file>.locks/<profile>.lock`` beside the database. The holder writes one
  JSON line (pid, host, purpose, started at) into the file after the lock is taken,
  for the message a contender prints. The kernel releases the lock when the holder's
  process ends in any way (``kill -9`` included), so a dead holder never blocks.
- PostgreSQL store: a session-level advisory lock keyed by the schema and the
  profile, on a connection held for as long as the lock; the holder is described
  in the ``profile_locks`` table. The server releases it when that connection
  dies. Advisory locks are database-wide, so the key names the store's schema:
  two stores in one database (``search_path``) never block each other's profiles.
- Anything else (an in-memory SQLite store in tests): a lock within this process.

Waiting polls a non-blocking attempt on the event loop, so a waiting job can be
cancelled; `ProfileBusy` names the holder when the wait runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

__all__ = ["LockHolder", "ProfileBusy", "ProfileLock", "profile_lock"]

type Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds a profile's lock."""

    pid: int
    host: str
    started_at: str
    purpose: str = ""

    def describe(self) -> str:
        """``pid 123 on host, sync since 2026-01-01T10:00:00+00:00``."""
        what = f"{self.purpose} " if self.purpose else ""
        return f"pid {self.pid} on {self.host}, {what}since {self.started_at}"

    def to_json(self) -> dict[str, Any]:
        """The holder as a JSON object."""
        return {
            "pid": self.pid,
            "host": self.host,
            "started_at": self.started_at,
            "purpose": self.purpose,
        }

    @classmethod
    def from_json(cls, data: Any) -> LockHolder | None:
        """Parse `to_json` output; None when it is not a holder."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                int(data["pid"]),
                str(data["host"]),
                str(data["started_at"]),
                str(data.get("purpose") or ""),
            )
        except (KeyError, TypeError, ValueError):
            return None


class ProfileBusy(RuntimeError):
    """Another run holds the profile's lock and the wait ran out.

    Attributes:
        profile: The profile.
        holder: Who holds it (None when it could not be told).
        waited: Seconds waited.
    """

    def __init__(self, profile: str, holder: LockHolder | None, waited: float):
        """Build the one-line message naming the holder."""
        who = holder.describe() if holder else "holder unknown"
        super().__init__(
            f"profile {profile!r} is busy: another AniBridge run holds its lock "
            f"({who}); gave up after {waited:g}s (try again later, or raise "
            "'lock_wait' in the config / --wait)"
        )
        self.profile = profile
        self.holder = holder
        self.waited = waited


def _me(purpose: str) -> LockHolder:
    return LockHolder(
        os.getpid(), socket.gethostname(), datetime.now(UTC).isoformat(), purpose
    )


class ProfileLock:
    """The lock of one profile; `acquire` then `release` (or ``async with``).

    Not reentrant: a second `acquire` on a held lock raises.
    """

    def __init__(self, profile: str, purpose: str = "") -> None:
        """Describe the lock; nothing is taken before `acquire`."""
        self.profile = profile
        self.purpose = purpose
        self.held = False

    # -- the mechanism (subclasses) ----------------------------------------------
    def _try(self, me: LockHolder) -> bool:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    def holder(self) -> LockHolder | None:
        """Who holds the lock now, as far as can be told (None: unknown/free)."""
        raise NotImplementedError

    # -- the API -------------------------------------------------------------------
    def try_acquire(self) -> bool:
        """Take the lock if it is free, without waiting.

        Raises:
            RuntimeError: this object already holds it.
        """
        if self.held:
            raise RuntimeError(f"profile lock {self.profile!r} is already held")
        self.held = self._try(_me(self.purpose))
        return self.held

    async def acquire(
        self,
        wait: float = 0.0,
        *,
        poll: float = 0.2,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Take the lock, waiting up to `wait` seconds for the holder to finish.

        Raises:
            ProfileBusy: still held by someone else after `wait` seconds.
        """
        start = clock()
        while True:
            if await asyncio.to_thread(self.try_acquire):
                return
            waited = clock() - start
            if waited >= wait:
                raise ProfileBusy(self.profile, self.holder(), round(waited, 1))
            await sleep(min(poll, max(wait - waited, 0.0)))

    def release(self) -> None:
        """Let the next run in (a no-op when not held)."""
        if self.held:
            self.held = False
            self._release()

    async def __aenter__(self) -> ProfileLock:
        """Take the lock without waiting (use `acquire` to wait)."""
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Release the lock."""
        self.release()


class FileProfileLock(ProfileLock):
    """`flock` on a file beside a SQLite store; released by the kernel on death."""

    def __init__(self, path: Path, profile: str, purpose: str = "") -> None:
        """Lock `path` (created on first use)."""
        super().__init__(profile, purpose)
        self.path = path
        self._fd: int | None = None

    def _try(self, me: LockHolder) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if not _lock_fd(fd):
                os.close(fd)
                return False
            # Byte 0 is the locked byte on Windows; the holder follows it.
            line = " " + json.dumps(me.to_json()) + "\n"
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, line.encode())
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            _unlock_fd(fd)
            os.close(fd)

    def holder(self) -> LockHolder | None:
        """The holder line of the lock file."""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
            return LockHolder.from_json(json.loads(text)) if text else None
        except (OSError, ValueError):
            return None


def _lock_fd(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock_fd(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_UN)


class AdvisoryProfileLock(ProfileLock):
    """A PostgreSQL session advisory lock; released by the server when we vanish."""

    def __init__(self, engine: sa.Engine, profile: str, purpose: str = "") -> None:
        """Lock through `engine` (a dedicated connection while held)."""
        super().__init__(profile, purpose)
        self.engine = engine
        self.key: int | None = None  # known once connected (it names the schema)
        self._conn: sa.Connection | None = None

    def _key(self, conn: sa.Connection) -> int:
        if self.key is None:
            schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
            digest = hashlib.sha1(
                f"anibridge-profile:{schema}:{self.profile}".encode(),
                usedforsecurity=False,
            ).digest()
            self.key = int.from_bytes(digest[:8], "big", signed=True)
        return self.key

    def _try(self, me: LockHolder) -> bool:
        from anibridge.store.schema import profile_locks

        conn = self.engine.connect()
        try:
            self._key(conn)
            got = conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}
            ).scalar_one()
            conn.commit()
            if not got:
                conn.close()
                return False
            with self.engine.begin() as tx:
                tx.execute(
                    profile_locks.delete().where(
                        profile_locks.c.profile == self.profile
                    )
                )
                tx.execute(
                    profile_locks.insert().values(profile=self.profile, **me.to_json())
                )
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return True

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            conn.commit()
        finally:
            conn.close()

    def holder(self) -> LockHolder | None:
        """The holder row written by whoever took the lock last."""
        from anibridge.store.schema import profile_locks

        try:
            with self.engine.connect() as conn:
                row = (
                    conn.execute(
                        sa.select(profile_locks).where(
                            profile_locks.c.profile == self.profile
                        )
                    )
                    .mappings()
                    .first()
                )
        except sa.exc.SQLAlchemyError:
            return None
        return None if row is None else LockHolder.from_json(dict(row))


class LocalProfileLock(ProfileLock):
    """A lock within this process (stores without a file or server to lock)."""

    _held: dict[tuple[str, str], LockHolder] = {}  # noqa: RUF012 - process-wide
    _guard = threading.Lock()

    def __init__(self, scope: str, profile: str, purpose: str = "") -> None:
        """Lock `profile` within `scope` (the store's URL)."""
        super().__init__(profile, purpose)
        self._key = (scope, profile)

    def _try(self, me: LockHolder) -> bool:
        with self._guard:
            if self._key in self._held:
                return False
            self._held[self._key] = me
            return True

    def _release(self) -> None:
        with self._guard:
            self._held.pop(self._key, None)

    def holder(self) -> LockHolder | None:
        """The holder in this process."""
        with self._guard:
            return self._held.get(self._key)


def lock_path(database: str, profile: str) -> Path:
    """Where the lock file of `profile` lives for the SQLite file `database`."""
    db = Path(database).expanduser().resolve()
    return db.with_name(db.name + ".locks") / f"{profile}.lock"


def profile_lock(engine: sa.Engine, profile: str, *, purpose: str = "") -> ProfileLock:
    """The right kind of lock for the store behind `engine`."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            return FileProfileLock(lock_path(database, profile), profile, purpose)
    elif url.get_backend_name() == "postgresql":
        return AdvisoryProfileLock(engine, profile, purpose)
    scope = url.render_as_string(hide_password=True)
    return LocalProfileLock(scope, profile, purpose)
