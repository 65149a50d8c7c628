"""`kill -9` a worker mid-job: another worker takes the job over, nothing is doubled.

Real processes (`anibridge worker`), the real engine, a local library synced to the
fake Trakt on loopback. The fake holds the first history write *after applying it*
until the test has killed the worker that sent it: the write landed, the worker
never heard back. After the stall timeout the second worker runs the job again; it
must not send that play a second time, the dead run must be reconciled from its
journal, and the profile must be free for more jobs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
import yaml

from anibridge.hosted.queue import enqueue, job_rows, make_queue
from anibridge.hosted.worker import migrate_all
from anibridge.store import schema as t
from anibridge.testing.fakes.trakt import FakeTrakt

SCALE = 0.01
LIBRARY = {
    "anibridge_local": 1,
    "account": {"key": "me", "title": "My library"},
    "items": [
        {
            "key": "show-76885",
            "kind": "show",
            "title": "Cowboy Bebop",
            "ids": ["tvdb_show:76885"],
            "seasons": [
                {
                    "season": 1,
                    "episodes": [
                        {"episode": n, "plays": [f"2023-11-{n + 10:02d}T15:00:00Z"]}
                        for n in range(1, 9)
                    ],
                }
            ],
        }
    ],
}


class HeldTrakt(FakeTrakt):
    """Applies the first history write, then holds its answer until released."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.first_write_landed = threading.Event()
        self.release = threading.Event()

    def add_history(self, request):
        answer = super().add_history(request)
        if not self.first_write_landed.is_set():
            self.first_write_landed.set()
            self.release.wait(timeout=120)
        return answer


def _config(tmp_path: Path, url: str, fake: FakeTrakt) -> Path:
    (tmp_path / "library.yaml").write_text(yaml.safe_dump(LIBRARY))
    tokens = fake.issue_tokens()
    config = {
        "data_dir": str(tmp_path / "data"),
        "store_url": url,
        "backups": {"before_write": False},
        "hosted": {
            "heartbeat": 0.5,
            "stall_timeout": 2,
            "stall_check": 1,
            "retry_base": 0,
        },
        "profiles": {
            "alice": {
                "source": {
                    "name": "library",
                    "type": "local",
                    "config": {
                        "path": str(tmp_path / "library.sqlite"),
                        "seed": str(tmp_path / "library.yaml"),
                    },
                },
                "target": {
                    "name": "trakt",
                    "type": "trakt",
                    "config": {
                        "client_id": fake.client_id,
                        "client_secret": fake.client_secret,
                        "access_token": tokens["access_token"],
                        "refresh_token": tokens["refresh_token"],
                        "expires_at": tokens["created_at"] + tokens["expires_in"],
                        "base_url": fake.base_url,
                        "time_scale": SCALE,
                    },
                },
            }
        },
    }
    path = tmp_path / "anibridge.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _worker(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "anibridge.app.cli",
            "worker",
            "--config",
            str(config),
            "--concurrency",
            "2",
        ],
        cwd=config.parent,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )


def _wait(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_killed_workers_job_is_taken_over_without_duplicate_writes(
    store, pg_url, tmp_path
):
    migrate_all(pg_url)
    with HeldTrakt(time_scale=SCALE) as fake:
        fake.add_show(76885, "Cowboy Bebop", {1: 26}, tvdb=76885)
        config = _config(tmp_path, pg_url, fake)
        queue = make_queue(pg_url)
        with store.engine.begin() as conn:
            first_job = enqueue(queue, conn, "sync", "alice", {"mode": "full"})

        def states() -> dict[int, str]:
            with store.engine.connect() as conn:
                return {r["id"]: r["state"] for r in job_rows(conn, ["alice"])}

        doomed = _worker(config, tmp_path / "worker1.log")
        survivor = None
        try:
            assert fake.first_write_landed.wait(timeout=120), "no write was sent"
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=30)
            fake.release.set()
            survivor = _worker(config, tmp_path / "worker2.log")
            _wait(lambda: states()[first_job] == "done", "the job to be taken over")
            # The profile is free again: one more job of it runs to the end.
            with store.engine.begin() as conn:
                second_job = enqueue(queue, conn, "sync", "alice", {"mode": "full"})
            _wait(lambda: states()[second_job] == "done", "a later job of alice")
        finally:
            fake.release.set()
            for worker in (doomed, survivor):
                if worker is not None and worker.poll() is None:
                    worker.terminate()
                    worker.wait(timeout=60)
        with store.engine.connect() as conn:
            attempts = [
                (r.attempt, r.status)
                for r in conn.execute(
                    sa.select(t.job_results)
                    .where(t.job_results.c.job_id == first_job)
                    .order_by(t.job_results.c.attempt)
                )
            ]
        plays = Counter((e["key"], e["watched_at"]) for e in fake.history)
        runs = sorted(store.runs("alice"), key=lambda r: r.started_at)
        dead_run = runs[0]
        dead_rows = store.entries(dead_run.id)
        unresolved = store.unresolved("alice")
    assert attempts == [(0, "lost"), (1, "ok")]
    # The dead worker's run is known as interrupted, and what it had sent was
    # settled by re-reading Trakt (reconcile) before the takeover planned anything.
    assert dead_run.status == "interrupted"
    assert dead_rows and {r.outcome for r in dead_rows} <= {"applied", "failed"}
    assert any(r.outcome == "applied" for r in dead_rows)
    assert unresolved == []
    assert len(plays) == 8, "every library play reached Trakt"
    assert max(plays.values()) == 1, f"a play was written twice: {plays}"
