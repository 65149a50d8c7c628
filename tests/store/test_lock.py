"""The profile lock: one run per profile across processes; dead holders never block."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from anibridge.store import LockHolder, ProfileBusy, SqlStore
from anibridge.store.lock import (
    AdvisoryProfileLock,
    FileProfileLock,
    LocalProfileLock,
    lock_path,
)

HOLDER = textwrap.dedent(
    """
    import sys
    from anibridge.store import SqlStore

    store = SqlStore(sys.argv[1])
    lock = store.profile_lock(sys.argv[2], purpose="sync")
    assert lock.try_acquire()
    print("locked", flush=True)
    sys.stdin.readline()
    lock.release()
    """
)


def hold_in_another_process(url: str, profile: str = "demo") -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, profile],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.fixture
def sqlite_store(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'data' / 'anibridge.db'}")
    yield store
    store.close()


def test_the_lock_file_lives_beside_the_sqlite_store(sqlite_store, tmp_path):
    lock = sqlite_store.profile_lock("demo", purpose="sync")
    assert isinstance(lock, FileProfileLock)
    assert lock.path == tmp_path / "data" / "anibridge.db.locks" / "demo.lock"
    assert lock.path == lock_path(str(tmp_path / "data" / "anibridge.db"), "demo")


async def test_a_second_holder_in_another_process_is_refused_naming_the_holder(
    sqlite_store,
):
    url = str(sqlite_store.engine.url)
    holder = hold_in_another_process(url)
    try:
        mine = sqlite_store.profile_lock("demo", purpose="sync")
        with pytest.raises(ProfileBusy) as busy:
            await mine.acquire(0)
        message = str(busy.value)
        assert "\n" not in message
        assert f"pid {holder.pid}" in message
        assert socket.gethostname() in message
        assert busy.value.holder is not None
        assert busy.value.holder.purpose == "sync"
        assert busy.value.holder.started_at in message
        # Another profile of the same store is independent.
        other = sqlite_store.profile_lock("other")
        assert other.try_acquire()
        other.release()
    finally:
        holder.communicate("\n", timeout=30)
    # Released by a clean exit: free again.
    mine = sqlite_store.profile_lock("demo")
    assert mine.try_acquire()
    mine.release()


async def test_a_holder_killed_with_sigkill_never_blocks(sqlite_store):
    holder = hold_in_another_process(str(sqlite_store.engine.url))
    mine = sqlite_store.profile_lock("demo", purpose="sync")
    assert not mine.try_acquire()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    await mine.acquire(0)  # no wait, no stale-lock cleanup needed
    assert mine.held
    mine.release()


async def test_waiting_ends_when_the_holder_lets_go(sqlite_store):
    first = sqlite_store.profile_lock("demo", purpose="sync")
    assert first.try_acquire()
    second = sqlite_store.profile_lock("demo", purpose="plan")
    now = [0.0]
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)
        now[0] += seconds
        if len(naps) == 3:
            first.release()  # the other run finishes while we wait

    await second.acquire(10, poll=0.5, sleep=nap, clock=lambda: now[0])
    assert second.held and naps == [0.5, 0.5, 0.5]
    second.release()


async def test_waiting_gives_up_after_the_configured_time(sqlite_store):
    first = sqlite_store.profile_lock("demo", purpose="sync")
    assert first.try_acquire()
    now = [0.0]

    async def nap(seconds: float) -> None:
        now[0] += seconds

    second = sqlite_store.profile_lock("demo")
    with pytest.raises(ProfileBusy, match=r"gave up after 2s") as busy:
        await second.acquire(2, poll=0.5, sleep=nap, clock=lambda: now[0])
    assert busy.value.holder.pid == os.getpid()
    first.release()


def test_the_lock_is_not_reentrant_within_a_process(sqlite_store):
    a = sqlite_store.profile_lock("demo")
    b = sqlite_store.profile_lock("demo")
    assert a.try_acquire()
    assert not b.try_acquire()  # flock is per open file, even in one process
    with pytest.raises(RuntimeError):
        a.try_acquire()
    a.release()
    assert b.try_acquire()
    b.release()


def test_in_memory_stores_lock_within_the_process():
    store = SqlStore("sqlite://")
    try:
        a = store.profile_lock("demo", purpose="sync")
        assert isinstance(a, LocalProfileLock)
        b = store.profile_lock("demo")
        assert a.try_acquire() and not b.try_acquire()
        assert b.holder() == a.holder() and b.holder().pid == os.getpid()
        a.release()
        assert b.try_acquire()
        b.release()
    finally:
        store.close()


def test_holder_round_trips_and_rejects_garbage():
    h = LockHolder(12, "box", "2026-01-01T00:00:00+00:00", "sync")
    assert LockHolder.from_json(h.to_json()) == h
    assert LockHolder.from_json({"pid": "x"}) is None
    assert LockHolder.from_json([1]) is None
    assert h.describe() == "pid 12 on box, sync since 2026-01-01T00:00:00+00:00"


@pytest.mark.postgres
async def test_postgres_advisory_lock_across_connections_and_dead_sessions(pg_engine):
    store = SqlStore(pg_engine)
    a = store.profile_lock("demo", purpose="sync")
    assert isinstance(a, AdvisoryProfileLock)
    assert a.try_acquire()
    b = store.profile_lock("demo", purpose="plan")
    with pytest.raises(ProfileBusy) as busy:
        await b.acquire(0)
    assert busy.value.holder.pid == os.getpid()
    assert busy.value.holder.purpose == "sync"
    other = store.profile_lock("other")
    assert other.try_acquire()
    other.release()
    # The holder's connection dies (a killed process): the server lets go.
    assert a._conn is not None
    a._conn.invalidate()
    a._conn = None
    a.held = False
    # The server notices the closed connection on its own time (a busy machine
    # takes a moment): wait for it instead of racing it.
    await b.acquire(10)
    assert b.held
    b.release()


def test_postgres_stores_in_two_schemas_of_one_database_lock_apart(pg_engine):
    """Advisory locks are database-wide; the key names the schema, so they don't."""
    import uuid

    import sqlalchemy as sa

    from anibridge.store import create_store_engine
    from tests.store.conftest import PG_URL

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with pg_engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    other = create_store_engine(
        PG_URL, connect_args={"options": f"-csearch_path={schema}"}
    )
    try:
        here = SqlStore(pg_engine).profile_lock("alice")
        there = SqlStore(other).profile_lock("alice")
        assert here.try_acquire() and there.try_acquire()
        assert here.key != there.key
        again = SqlStore(other).profile_lock("alice")
        assert not again.try_acquire()  # within one schema it still excludes
        here.release()
        there.release()
    finally:
        other.dispose()
        with pg_engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
