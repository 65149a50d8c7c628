"""The crash soak: `kill -9` a real `anibridge sync` at points chosen by progress.

Shared by `bench/crash_soak.py` (many points, larger libraries) and its short
version in the test suite. Two targets:

- `ListTarget`: a local library (seeded from a document on first use) synced into
  a local AniList-keyed list that already holds some entries;
- `TraktTarget`: a local library synced into the fake Trakt on 127.0.0.1, whose
  history keeps every POSTed play (a blind re-send shows up as a duplicate) and
  which can apply a POST late (`FakeTrakt.apply_late`).

A reference run (uninterrupted, with ``ANIBRIDGE_FAULT_TRACE``) lists the
checkpoints a run passes (`anibridge.faults`: file creation, seeding, journal
intents, answers, outcomes, writes inside a batch) and the end state. Each kill
point then runs twice on a fresh copy of the pristine workspace:

- *re-run*: killed run, then ``sync`` again: the end state must equal the
  reference; Trakt must hold no play twice and the journal no write applied twice;
  no run may stay ``running`` and no journal row unresolved.
- *undo*: killed run, ``history`` (it must show the run interrupted, not running),
  ``undo`` of the interrupted run: the state must equal the pristine one; then
  ``sync`` again must reach the reference.

Points are `kill@NAME#N` fault rules, or — for Trakt — a history POST that the
fake holds while the client is killed (a request in flight), landed afterwards or
never, and a POST answered with a reset and applied late (no kill). A Trakt
workspace declares `late_apply_window` as the fake behaves at that point: one
hour where a POST lands late (the fake lands it before the next run starts), 0
where nothing does (so a write killed before its answer is re-sent at once).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = [
    "ListTarget",
    "Point",
    "PointResult",
    "Reference",
    "TraktTarget",
    "choose_points",
    "reference",
    "run_point",
    "summarize",
]

T0 = datetime(2023, 1, 1, tzinfo=UTC)
BASE = 7_000_000  # ids far from real ones
CLI = [sys.executable, "-m", "anibridge.app.cli"]
KILLED = -signal.SIGKILL


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    env.update(extra)
    return env


def cli(config: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """One `anibridge` command in its own process."""
    return subprocess.run(
        [*CLI, *args, "--config", str(config)],
        env=_env(**extra),
        capture_output=True,
        text=True,
        timeout=600,
    )


def _plays(i: int, episodes: int) -> list[tuple[int, str]]:
    """(episode, watched at) of show `i`: every show watched partly or fully."""
    seen = episodes if i % 3 else max(1, (i * 7) % episodes)
    return [
        (e, (T0 + timedelta(minutes=37 * i + 41 * e)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        for e in range(1, seen + 1)
    ]


def _library(shows: int, episodes: int) -> dict[str, Any]:
    items = []
    for i in range(shows):
        played = dict(_plays(i, episodes))
        items.append(
            {
                "key": f"show-{BASE + i}",
                "kind": "show",
                "title": f"Soak show {i}",
                "ids": [f"tvdb_show:{BASE + i}"],
                "seasons": [
                    {
                        "season": 1,
                        "episodes": [
                            {"episode": e, "plays": [played[e]]}
                            if e in played
                            else {"episode": e}
                            for e in range(1, episodes + 1)
                        ],
                    }
                ],
            }
        )  # fmt: skip
    return {
        "anibridge_local": 1,
        "account": {"key": "soak", "title": "Soak library"},
        "items": items,
    }


@dataclass(slots=True)
class Point:
    """One place to stop a run.

    Attributes:
        name: What it is, for the report (e.g. ``journal.intent#3``).
        rule: The ``ANIBRIDGE_FAULTS`` rule, or None (a fake-side point).
        inflight: Trakt: kill the client while the fake holds its N-th history
            POST (0: no such point).
        late: Trakt: answer the N-th history POST with a reset and apply it
            before the next run (no kill; 0: no such point).
        lands: For `inflight`: whether the held POST is applied afterwards.
    """

    name: str
    rule: str | None = None
    inflight: int = 0
    late: int = 0
    lands: bool = True

    @property
    def applies_late(self) -> bool:
        """Whether the fake applies a POST after its client lost the answer."""
        return bool(self.late or (self.inflight and self.lands))


@dataclass(slots=True)
class PointResult:
    """What one kill point showed (both branches)."""

    target: str
    point: str
    killed: bool
    converged: bool
    duplicates: int
    journal_duplicates: int
    stuck: int
    unresolved: int
    undo_exact: bool
    converged_after_undo: bool
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Everything the soak requires held at this point."""
        return (
            self.converged
            and self.converged_after_undo
            and self.undo_exact
            and self.duplicates == 0
            and self.journal_duplicates == 0
            and self.stuck == 0
            and self.unresolved == 0
        )


@dataclass(slots=True)
class Reference:
    """An uninterrupted run: the checkpoints it passed and the states around it."""

    pristine: list[Any]
    synced: list[Any]
    trace: list[str]
    applied: int
    history_posts: int = 0


class _Target:
    """A workspace kind: built once, copied fresh for every run of the soak."""

    name = ""
    profile = "soak"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.template = root / f"{self.name}-template"

    def fresh(self, label: str, point: Point | None = None) -> Path:
        folder = self.root / f"{self.name}-{label}"
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(self.template, folder)
        self.reset(folder, point)
        return folder / "anibridge.yaml"

    def reset(self, folder: Path, point: Point | None) -> None:
        """Bring external state back to pristine (the fake's account)."""

    def state(self, config: Path) -> list[Any]:
        raise NotImplementedError

    def duplicates(self, config: Path) -> int:
        """Items the target holds more than once (plays, for a history)."""
        return 0

    def arm(self, point: Point, pid: Callable[[], int]) -> None:
        """Arm fake-side faults for `point` before the run starts."""

    def after_kill(self, point: Point) -> None:
        """What the service does after the client is gone (a late apply)."""

    def close(self) -> None:
        """Stop what the target runs."""

    def store(self, config: Path) -> Path:
        return config.parent / "data" / "anibridge.db"


class ListTarget(_Target):
    """Local library → local AniList-keyed list (a fifth of it already listed)."""

    name = "list"

    def __init__(
        self, root: Path, *, shows: int = 200, episodes: int = 12, batch: int = 25
    ) -> None:
        """Write the template workspace under `root`."""
        super().__init__(root)
        self._seed_state: list[Any] | None = None
        self.template.mkdir(parents=True)
        (self.template / "library.json").write_text(
            json.dumps(_library(shows, episodes))
        )
        listed = []
        for i in range(0, shows, 5):
            listed.append(
                {
                    "key": f"anilist:{BASE + i}",
                    "kind": "series",
                    "title": f"Soak show {i}",
                    "ids": [f"anilist:{BASE + i}"],
                    "episodes": episodes,
                    "record": {
                        "status": "watching",
                        "progress": 1,
                        "updated_at": "2022-06-01T12:00:00Z",
                    },
                }
            )
        (self.template / "list.json").write_text(
            json.dumps(
                {
                    "anibridge_local": 1,
                    "account": {"key": "soak-list", "title": "Soak list"},
                    "rating_scale": [0, 100, 1],
                    "date_precision": "date",
                    "items": listed,
                }
            )
        )
        (self.template / "mappings.json").write_text(
            json.dumps(
                {
                    f"tvdb_show:{BASE + i}:s1": {
                        f"anilist:{BASE + i}": {f"1-{episodes}": f"1-{episodes}"}
                    }
                    for i in range(shows)
                }
            )
        )
        (self.template / "anibridge.yaml").write_text(
            "data_dir: data\n"
            "lock_wait: 0\n"
            "mappings: {include_default: false, custom: [mappings.json]}\n"
            "profiles:\n"
            "  soak:\n"
            "    source:\n"
            "      name: library\n"
            "      type: local\n"
            "      config: {path: library.sqlite, seed: library.json}\n"
            "    target:\n"
            "      name: list\n"
            "      type: local\n"
            "      config:\n"
            "        path: list.sqlite\n"
            "        seed: list.json\n"
            "        authorities: [anilist]\n"
            "        rating_scale: [0, 100, 1]\n"
            "        date_precision: date\n"
            f"        write_batch_size: {batch}\n"
            "    direction: one_way\n"
            "    fields: all\n"
        )

    def state(self, config: Path) -> list[Any]:
        """The list's entries as a person sees them (no bookkeeping columns).

        A list file that does not exist yet is its seed, as the next start makes it.
        """
        path = config.parent / "list.sqlite"
        if not path.exists():
            return self._seeded()
        with sqlite3.connect(path) as conn:
            records = conn.execute(
                "SELECT key, path, kind, fields FROM records ORDER BY key, path, kind"
            ).fetchall()
            nodes = conn.execute(
                "SELECT key, path FROM nodes ORDER BY key, path"
            ).fetchall()
        return [("record", *r) for r in records] + [("node", *n) for n in nodes]

    def _seeded(self) -> list[Any]:
        """The list as its seed creates it (what a killed first start leaves)."""
        if self._seed_state is None:
            probe = self.root / "list-seed-probe"
            if probe.exists():
                shutil.rmtree(probe)
            shutil.copytree(self.template, probe)
            self._seed_state = self._seed_by_provider(probe)
        return self._seed_state

    def _seed_by_provider(self, probe: Path) -> list[Any]:
        import asyncio
        import logging

        from anibridge.providers.local import LocalProvider

        async def seed() -> None:
            provider = LocalProvider(
                logger=logging.getLogger("soak"),
                config={
                    "path": str(probe / "list.sqlite"),
                    "seed": str(probe / "list.json"),
                    "authorities": ["anilist"],
                    "rating_scale": [0, 100, 1],
                    "date_precision": "date",
                },
            )
            await provider.initialize()
            await provider.close()

        asyncio.run(seed())
        return self.state(probe / "anibridge.yaml")


class TraktTarget(_Target):
    """Local library → the fake Trakt on 127.0.0.1 (apply-late on)."""

    name = "trakt"

    def __init__(
        self, root: Path, *, shows: int = 40, episodes: int = 8, batch: int = 40
    ) -> None:
        """Start the fake Trakt and write the template workspace under `root`."""
        from anibridge.testing.fakes.trakt import FakeTrakt

        super().__init__(root)
        self.template.mkdir(parents=True)
        self.fake = FakeTrakt(time_scale=0.001, enforce_limits=False).start()
        for i in range(shows):
            self.fake.add_show(i + 1, f"Soak show {i}", {1: episodes}, tvdb=BASE + i)
        # The user's own plays, before any sync: undo must leave them alone.
        for i in range(0, shows, 4):
            self.fake.add_play(
                ("episode", i + 1, 1, episodes), T0 - timedelta(days=30 + i)
            )
        self.pristine_history = [dict(e) for e in self.fake.history]
        (self.template / "library.json").write_text(
            json.dumps(_library(shows, episodes))
        )
        self.trakt = self.fake.provider_config(time_scale=0.001, write_batch_size=batch)
        self.trakt.pop("clock")
        self._write_config(self.template, window=0)

    def _write_config(self, folder: Path, *, window: float) -> None:
        import yaml

        config = {
            "data_dir": "data",
            "lock_wait": 0,
            "mappings": {"include_default": False},
            "profiles": {
                "soak": {
                    "source": {
                        "name": "library",
                        "type": "local",
                        "config": {"path": "library.sqlite", "seed": "library.json"},
                    },
                    "target": {
                        "type": "trakt",
                        "config": {**self.trakt, "late_apply_window": window},
                    },
                    "direction": "one_way",
                }
            },
        }
        (folder / "anibridge.yaml").write_text(yaml.safe_dump(config))

    def reset(self, folder: Path, point: Point | None) -> None:
        """The account as it was before any sync; the window this point needs."""
        with self.fake._lock:
            self.fake.history = [dict(e) for e in self.pristine_history]
            self.fake._history_changes += 1
            self.fake.late.clear()
            self.fake.faults.clear()
        window = 3600 if point is not None and point.applies_late else 0
        self._write_config(folder, window=window)

    def state(self, config: Path) -> list[Any]:
        """Trakt's history as (item, watched at), duplicates kept."""
        return sorted(
            (list(e["key"]), e["watched_at"].isoformat()) for e in self.fake.history
        )

    def duplicates(self, config: Path) -> int:
        """Plays Trakt holds more than once (to the second)."""
        counts = Counter(
            (e["key"], e["watched_at"].replace(microsecond=0))
            for e in self.fake.history
        )
        return sum(n - 1 for n in counts.values() if n > 1)

    def posts(self) -> int:
        """History POSTs the fake has seen."""
        return sum(
            1
            for r in self.fake.requests
            if r.method == "POST" and r.path == "/sync/history"
        )

    def arm(self, point: Point, pid: Callable[[], int]) -> None:
        """Hold back the point's POST (and kill the client while it is held)."""
        from anibridge.testing.fakes.server import Fault

        nth = point.inflight or point.late
        if not nth:
            return
        seen = {"n": 0}

        def match(request: Any) -> bool:
            if request.method != "POST" or request.path != "/sync/history":
                return False
            seen["n"] += 1
            return seen["n"] == nth

        def kill(_request: Any) -> None:
            os.kill(pid(), signal.SIGKILL)

        self.fake.inject(
            Fault(
                mode="late",
                status=0,
                match=match,
                hook=kill if point.inflight else None,
            )
        )

    def after_kill(self, point: Point) -> None:
        """Land the held POST (Trakt applied it late), or drop it for good."""
        if point.applies_late:
            self.fake.land_late()
        else:
            with self.fake._lock:
                self.fake.late.clear()

    def close(self) -> None:
        """Stop the fake."""
        self.fake.stop()


def _run(target: _Target, config: Path, point: Point | None, **env: str) -> Any:
    """The sync under test, in its own process; the fake may kill it mid-request."""
    started = threading.Event()
    holder: dict[str, int] = {}

    def pid() -> int:
        started.wait(60)
        return holder["pid"]

    if point is not None:
        target.arm(point, pid)
        if point.rule:
            env["ANIBRIDGE_FAULTS"] = point.rule
    proc = subprocess.Popen(
        [*CLI, "sync", "--json", "--config", str(config)],
        env=_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    holder["pid"] = proc.pid
    started.set()
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err


def reference(target: _Target) -> Reference:
    """One uninterrupted run, traced."""
    config = target.fresh("reference")
    pristine = target.state(config)
    trace = target.root / f"{target.name}-trace.txt"
    if trace.exists():
        trace.unlink()
    code, out, err = _run(target, config, None, ANIBRIDGE_FAULT_TRACE=str(trace))
    if code != 0:
        raise RuntimeError(f"{target.name}: reference sync exited {code}: {err}")
    summary = json.loads(out)
    if summary["applied"] != summary["planned"] or summary["applied"] < 10:
        raise RuntimeError(f"{target.name}: reference sync: {summary}")
    return Reference(
        pristine=pristine,
        synced=target.state(config),
        trace=trace.read_text().split(),
        applied=summary["applied"],
        history_posts=target.posts() if isinstance(target, TraktTarget) else 0,
    )


def choose_points(ref: Reference, target: _Target, count: int) -> list[Point]:
    """About `count` points spread over the run's progress.

    File creation and seeding first, then journal intents (0, 1, k rows settled),
    answers not yet journaled, outcomes, writes inside a batch (local lists) and,
    for Trakt, requests in flight and POSTs applied late.
    """
    seen = Counter(ref.trace)
    first: list[Point] = []
    for name in ("local.create", "local.seeded"):
        for n in range(1, min(seen[name], 2) + 1):
            first.append(Point(f"{name}#{n}", f"kill@{name}#{n}"))
    first.append(Point("journal.intent#1", "kill@journal.intent#1"))
    spread: list[Point] = []
    for name in ("write.answered", "journal.outcome", "journal.intent"):
        for n in _spaced(seen[name], 4):
            if (name, n) != ("journal.intent", 1):
                spread.append(Point(f"{name}#{n}", f"kill@{name}#{n}"))
    if seen["local.write"]:
        writes = seen["local.write"]
        for n in _spaced(writes, 4):
            spread.append(Point(f"local.write#{n}", f"kill@local.write#{n}"))
    if isinstance(target, TraktTarget):
        for n in _spaced(ref.history_posts, 2):
            spread.append(Point(f"in-flight POST #{n}, lands", inflight=n))
            spread.append(Point(f"in-flight POST #{n}, lost", inflight=n, lands=False))
        for n in _spaced(ref.history_posts, 1):
            spread.append(Point(f"POST #{n} reset, applied late", late=n))
    points = first + spread
    if len(points) > count:
        # Creation/seeding and every fake-side point (a request in flight, a POST
        # applied late) are kept; checkpoints fill the rest evenly.
        fake_side = [p for p in spread if p.rule is None]
        keep = first[: max(1, count // 4)] + fake_side[: count // 2]
        rest = [p for p in points if p not in keep]
        step = len(rest) / max(1, count - len(keep))
        points = keep + [rest[int(i * step)] for i in range(count - len(keep))]
    return points


def _spaced(total: int, count: int) -> list[int]:
    """`count` indexes in 1..total spread from the first to the last."""
    if total <= 0:
        return []
    if total <= count:
        return list(range(1, total + 1))
    if count == 1:
        return [1 + (total - 1) // 2]
    return sorted({1 + round(i * (total - 1) / (count - 1)) for i in range(count)})


def _runs(store: Path) -> list[dict[str, Any]]:
    if not store.exists():
        return []
    with sqlite3.connect(store) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY started_at")]


def _journal(store: Path) -> list[dict[str, Any]]:
    if not store.exists():
        return []
    with sqlite3.connect(store) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM journal ORDER BY seq")]


type FollowUp = Callable[[Path, tuple[str, ...]], tuple[int, str, str]]
"""Runs one command after a kill on a config: (exit code, stdout, stderr)."""


def in_a_process(config: Path, args: tuple[str, ...]) -> tuple[int, str, str]:
    """A follow-up command in its own process (the soak's default)."""
    done = cli(config, *args)
    return done.returncode, done.stdout, done.stderr


def _journal_duplicates(store: Path) -> int:
    """Writes the journal says were applied more than once (undo runs aside)."""
    undo = {r["id"] for r in _runs(store) if r["kind"] == "undo"}
    counts = Counter(
        (e["provider"], e["ref_id"], e["kind"], e["op"], e["at"], e["after"])
        for e in _journal(store)
        if e["outcome"] == "applied" and e["run_id"] not in undo
    )
    return sum(n - 1 for n in counts.values() if n > 1)


def _unresolved(store: Path) -> int:
    return sum(1 for e in _journal(store) if e["outcome"] in ("pending", "unknown"))


def run_point(
    target: _Target, ref: Reference, point: Point, follow_up: FollowUp = in_a_process
) -> PointResult:
    """Both branches of one point (see the module docstring).

    The killed syncs always run in their own process; `follow_up` runs what comes
    after a kill (the re-runs, `history`, `undo`): a new process by default, or
    the same app in-process where a test suite keeps its CPU down.
    """
    notes: list[str] = []
    label = "".join(c if c.isalnum() else "-" for c in point.name)
    # Branch 1: killed, then run again.
    config = target.fresh(label, point)
    store = target.store(config)
    code, _out, err = _run(target, config, point)
    killed = code == KILLED
    if not killed and not point.late:
        notes.append(f"not killed (exit {code}): {err.strip()[-300:]}")
    target.after_kill(point)
    code, _out, err = follow_up(config, ("sync", "--json"))
    if code not in (0, 1):
        notes.append(f"re-run exited {code}: {err.strip()[-300:]}")
    state = target.state(config)
    converged = state == ref.synced
    if not converged:
        notes.append("re-run did not reach the reference state")
    duplicates = target.duplicates(config)
    journal_dups = _journal_duplicates(store)
    stuck = sum(1 for r in _runs(store) if r["status"] == "running")
    unresolved = _unresolved(store)

    # Branch 2: killed, then undone, then run again.
    config = target.fresh(label + "-undo", point)
    store = target.store(config)
    _run(target, config, point)
    target.after_kill(point)
    code, out, _err = follow_up(config, ("history", "--json"))
    runs = json.loads(out) if code == 0 else []
    stuck += sum(1 for r in runs if r["status"] == "running")
    undo_exact = True
    for run in runs:
        if run["kind"] != "sync" or run["status"] == "ok":
            continue
        code, _out, err = follow_up(config, ("undo", run["run_id"], "--yes", "--json"))
        if code != 0:
            notes.append(f"undo exited {code}: {err[-300:]}")
            undo_exact = False
    if target.state(config) != ref.pristine:
        undo_exact = False
        notes.append("undo did not restore the pristine state")
    code, _out, err = follow_up(config, ("sync", "--json"))
    after_undo = target.state(config) == ref.synced
    if not after_undo:
        notes.append(f"sync after undo did not reach the reference (exit {code})")
    stuck += sum(1 for r in _runs(store) if r["status"] == "running")
    duplicates += target.duplicates(config)
    return PointResult(
        target=target.name,
        point=point.name,
        killed=killed,
        converged=converged,
        duplicates=duplicates,
        journal_duplicates=journal_dups,
        stuck=stuck,
        unresolved=unresolved,
        undo_exact=undo_exact,
        converged_after_undo=after_undo,
        notes=notes,
    )


def summarize(results: list[PointResult], seconds: float) -> dict[str, Any]:
    """The soak's JSON report."""
    kills = [r for r in results if r.killed]
    return {
        "points": len(results),
        "kill_points": len(kills),
        "all_converged": all(r.converged and r.converged_after_undo for r in results),
        "converged": sum(r.converged for r in results),
        "duplicates": sum(r.duplicates for r in results),
        "journal_duplicates": sum(r.journal_duplicates for r in results),
        "stuck_runs": sum(r.stuck for r in results),
        "unresolved_rows": sum(r.unresolved for r in results),
        "undo_exact": sum(r.undo_exact for r in results),
        "all_undo_exact": all(r.undo_exact for r in results),
        "ok": all(r.ok for r in results) and bool(results),
        "seconds": round(seconds, 1),
        "per_point": [
            {k: v for k, v in asdict(r).items() if k != "notes" or v} for r in results
        ],
    }
