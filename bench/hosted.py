"""Hosted mode under load: PostgreSQL queue, 1 then 3 worker processes, 300 users.

    ANIBRIDGE_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/DB \\
        .venv/bin/python bench/hosted.py [--users 300] [--titles 6] [--workers 1 3]
        [--concurrency 4] [--latency 0.25] [--webhooks 0.5] [--limited-workers 3]

Every user has a small local library (`--titles` shows of the demo data, the first
`--episodes` watched episodes of each) synced one
way to their own account on the fake AniList (even users) or the fake Trakt (odd
users). Both fakes serve every account on one loopback address (`Tenants`) and hold
each answer back `--latency` real seconds, so a job spends its time waiting on the
services like against the real ones, not on the CPU: that is what makes the
1-vs-3-worker comparison about the queue and not about this machine's two cores
(the CPU the workers used is reported beside the wall time).

Each phase starts from an empty schema and the same libraries: one full sync job per
user is queued at once (a schedule tick), then while they run, `--webhooks` of the
users watch one more episode (a play appended to their library) and a webhook
queues an incremental sync (coalesced with a waiting one). The phase ends when the
queue is idle. Phases: ``throughput`` with N workers each (AniList's app-wide limit
of 90/min on a clock where it does not bind), then ``rate_limited`` (the same
limit on a slower clock, so it binds: the workers together must never exceed it).

Reports per phase: jobs, jobs/s, p50/p95 job latency (queued → finished), peak
requests per service minute at each fake vs its limit, 429s, lost jobs (queued but
not succeeded, or a webhook with no successful sync started after it), duplicate
jobs (a job succeeding twice) and duplicate or lost plays on Trakt (every library
play must be in the user's Trakt history exactly once). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from statistics import median, quantiles
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
import yaml

from anibridge.hosted.queue import enqueue, make_queue
from anibridge.hosted.worker import migrate_all
from anibridge.provider.base import AppendEvent, Ref
from anibridge.providers.local import LocalProvider
from anibridge.testing.fakes.anilist import AniListFake
from anibridge.testing.fakes.catalog import FakeMedia
from anibridge.testing.fakes.server import FakeLimit
from anibridge.testing.fakes.tenants import Tenants
from anibridge.testing.fakes.trakt import FakeTrakt

ANILIST_LIMIT = 90  # requests per minute per client (AniList's nominal limit)
LOG = logging.getLogger("bench.hosted")


def _demo(name: str) -> dict[str, Any]:
    path = resources.files("anibridge.app.demo").joinpath(f"data/{name}")
    return yaml.safe_load(Path(str(path)).read_text())


def _catalog() -> list[FakeMedia]:
    media = []
    for n, item in enumerate(_demo("list.yaml")["items"]):
        media.append(
            FakeMedia(
                anilist_id=int(item["key"].split(":")[1]),
                mal_id=900_000 + n,
                title=item.get("title") or item["key"],
                episodes=item.get("episodes"),
                format="MOVIE" if item.get("kind") == "film" else "TV",
            )
        )
    return media


def _shows() -> list[dict[str, Any]]:
    """Demo library shows with a TVDB id and at least one season of plays."""
    out = []
    for item in _demo("library.yaml")["items"]:
        tvdb = [i for i in item.get("ids", []) if i.startswith("tvdb_show:")]
        regular = [s for s in item.get("seasons", []) if s["season"] > 0]
        if item.get("kind") == "show" and tvdb and regular:
            out.append(item | {"tvdb": int(tvdb[0].split(":")[1])})
    return out


def _pg_url(schema: str) -> str:
    base = os.environ.get("ANIBRIDGE_BENCH_POSTGRES_URL") or os.environ.get(
        "ANIBRIDGE_TEST_POSTGRES_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/anibridge_hosted",
    )
    sep = "&" if "?" in base else "?"
    options = quote(f"-csearch_path={schema}")
    return f"{base}{sep}application_name={schema}&options={options}", base


class Phase:
    """One load run: fakes, users, config, queue, workers, measurements."""

    def __init__(self, args: argparse.Namespace, *, workers: int, limited: bool):
        self.args = args
        self.workers = workers
        self.limited = limited
        # The scaled clock decides whether AniList's 90/min binds: at 0.01 a
        # service minute is 0.6 s (150 requests/s allowed, never reached here);
        # at 0.2 it is 12 s (7.5/s, below what 3 workers ask for).
        self.scale = 0.2 if limited else 0.01
        self.schema = f"bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.url, self.admin_url = _pg_url(self.schema)
        self.dir = Path(tempfile.mkdtemp(prefix="anibridge-hosted-bench-"))
        self.rng = random.Random(17)
        # (profile, when its play was written): a sync starting later reads it.
        self.webhooks: list[tuple[str, float]] = []
        self.added: dict[str, list[tuple[str, int, int, datetime]]] = {}

    # -- setup -----------------------------------------------------------------------

    def _fakes(self, users: list[str]) -> None:
        catalog = _catalog()
        anilist: dict[str, AniListFake] = {}
        self.trakt_accounts: dict[str, FakeTrakt] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        for n, profile in enumerate(users):
            if n % 2 == 0:
                token = f"al-{profile}"
                anilist[token] = AniListFake(
                    media=catalog,
                    time_scale=self.scale,
                    per_minute=None,
                    token=token,
                    user_id=10_000 + n,
                    user_name=profile,
                )
                self.tokens[profile] = {"type": "anilist", "token": token}
            else:
                account = FakeTrakt(time_scale=self.scale, username=profile)
                for show in _shows():
                    account.add_show(
                        show["tvdb"],
                        show["title"],
                        {
                            s["season"]: max(len(s["episodes"]) + 5, 30)
                            for s in show["seasons"]
                        },
                        tvdb=show["tvdb"],
                    )
                tokens = account.issue_tokens()
                self.trakt_accounts[tokens["access_token"]] = account
                self.tokens[profile] = {"type": "trakt", **tokens}
        self.anilist = Tenants(
            anilist,
            time_scale=self.scale,
            latency=self.args.latency,
            limits=[FakeLimit(ANILIST_LIMIT, 60.0, name="minute")],
        ).start()
        self.trakt = Tenants(
            self.trakt_accounts, time_scale=self.scale, latency=self.args.latency
        ).start()

    def _library(self, profile: str) -> Path:
        shows = []
        for show in self.rng.sample(_shows(), self.args.titles):
            # A small library: the first regular season, its first episodes.
            first = next(s for s in show["seasons"] if s["season"] > 0)
            season = first | {"episodes": first["episodes"][: self.args.episodes]}
            shows.append(show | {"seasons": [season]})
        folder = self.dir / "users" / profile
        folder.mkdir(parents=True)
        doc = {
            "anibridge_local": 1,
            "account": {"key": profile, "title": profile},
            "items": shows,
        }
        for item in doc["items"]:
            item.pop("tvdb", None)
        (folder / "library.yaml").write_text(yaml.safe_dump(doc))
        return folder

    def _config(self, users: list[str]) -> Path:
        profiles = {}
        for profile in users:
            folder = self._library(profile)
            source = {
                "name": "library",
                "type": "local",
                "config": {
                    "path": str(folder / "library.sqlite"),
                    "seed": str(folder / "library.yaml"),
                },
            }
            tok = self.tokens[profile]
            if tok["type"] == "anilist":
                target = {
                    "name": "anilist",
                    "type": "anilist",
                    "config": {
                        "token": tok["token"],
                        "base_url": self.anilist.base_url,
                        "time_scale": self.scale,
                        "rate_limit": ANILIST_LIMIT,
                    },
                }
            else:
                target = {
                    "name": "trakt",
                    "type": "trakt",
                    "config": {
                        "client_id": "fake-trakt-client",
                        "client_secret": "fake-trakt-secret",
                        "access_token": tok["access_token"],
                        "refresh_token": tok["refresh_token"],
                        "expires_at": tok["created_at"] + tok["expires_in"],
                        "base_url": self.trakt.base_url,
                        "time_scale": self.scale,
                    },
                }
            profiles[profile] = {"source": source, "target": target}
        config = {
            "data_dir": str(self.dir / "data"),
            "store_url": self.url,
            "log_level": "INFO" if self.args.keep else "WARNING",
            "backups": {"before_write": False},
            "hosted": {
                "enabled": True,
                "concurrency": self.args.concurrency,
                "heartbeat": 2,
                "stall_timeout": 30,
                "retry_base": 1,
            },
            "profiles": profiles,
        }
        path = self.dir / "anibridge.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    async def _seed_libraries(self, users: list[str]) -> None:
        """Create every library file now, so later plays land in existing files."""
        for profile in users:
            folder = self.dir / "users" / profile
            provider = LocalProvider(
                logger=LOG,
                config={
                    "path": str(folder / "library.sqlite"),
                    "seed": str(folder / "library.yaml"),
                },
            )
            await provider.initialize()
            await provider.close()

    # -- load ------------------------------------------------------------------------

    def _webhook(self, queue: Any, engine: sa.Engine, profile: str) -> None:
        """The user watched one more episode; the media server's webhook arrives."""
        folder = self.dir / "users" / profile
        doc = yaml.safe_load((folder / "library.yaml").read_text())
        show = self.rng.choice(doc["items"])
        season = next(s for s in show["seasons"] if s["season"] > 0)
        # A rewatch of an episode the library has: a new play, a new Trakt entry.
        episode = self.rng.choice(season["episodes"])["episode"]
        at = datetime(2024, 6, 1, tzinfo=UTC) + timedelta(minutes=len(self.webhooks))

        async def play() -> None:
            provider = LocalProvider(
                logger=LOG, config={"path": str(folder / "library.sqlite")}
            )
            await provider.initialize()
            ref = Ref.at(
                show["key"], ("season", season["season"]), ("episode", episode)
            )
            (result,) = await provider.write_events([AppendEvent(ref, "play", at)])
            assert result.ok, result
            await provider.close()

        asyncio.run(play())
        written = time.time()  # a sync that starts from now on reads this play
        self.added.setdefault(profile, []).append(
            (show["key"], season["season"], episode, at)
        )
        with engine.begin() as conn:
            enqueue(
                queue,
                conn,
                "sync",
                profile,
                {"mode": "incremental"},
                coalesce=f"sync:{profile}",
            )
        self.webhooks.append((profile, written))

    def _drive_webhooks(
        self, queue: Any, engine: sa.Engine, users: list[str], stop: threading.Event
    ) -> None:
        chosen = self.rng.sample(users, int(len(users) * self.args.webhooks))
        spread = self.args.webhook_spread
        for profile in chosen:
            if stop.wait(spread / max(1, len(chosen))):
                return
            self._webhook(queue, engine, profile)

    def run(self) -> dict[str, Any]:
        users = [f"u{n:04d}" for n in range(self.args.users)]
        admin = sa.create_engine(self.admin_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
        try:
            self._fakes(users)
            config = self._config(users)
            asyncio.run(self._seed_libraries(users))
            migrate_all(self.url)
            engine = sa.create_engine(self.url)
            queue = make_queue(self.url)
            t0 = time.time()
            with engine.begin() as conn:
                for profile in users:
                    enqueue(
                        queue,
                        conn,
                        "sync",
                        profile,
                        {"mode": "full"},
                        coalesce=f"sync:{profile}",
                    )
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            own_before = resource.getrusage(resource.RUSAGE_SELF)
            workers = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "anibridge.app.cli",
                        "worker",
                        "--config",
                        str(config),
                        "--concurrency",
                        str(self.args.concurrency),
                    ],
                    cwd=self.dir,
                    # ANIBRIDGE_* variables are config overrides to a worker: the
                    # bench's own would be refused as unknown keys.
                    env={
                        k: v
                        for k, v in os.environ.items()
                        if not k.startswith(("ANIBRIDGE_BENCH_", "ANIBRIDGE_TEST_"))
                    },
                    stdout=subprocess.DEVNULL,
                    stderr=open(self.dir / f"worker{i}.log", "w"),  # noqa: SIM115
                )
                for i in range(self.workers)
            ]
            stop = threading.Event()
            driver = threading.Thread(
                target=self._drive_webhooks, args=(queue, engine, users, stop)
            )
            driver.start()
            load_before = os.getloadavg()
            try:
                self._wait_idle(engine, driver, workers)
            finally:
                stop.set()
                driver.join()
                waited = _runqueue_wait(workers)
                for worker in workers:
                    worker.terminate()
                for worker in workers:
                    worker.wait(timeout=120)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime + after.ru_stime) - (
                before.ru_utime + before.ru_stime
            )
            own = resource.getrusage(resource.RUSAGE_SELF)
            own_cpu = (own.ru_utime + own.ru_stime) - (
                own_before.ru_utime + own_before.ru_stime
            )
            report = self._measure(engine, t0, cpu)
            # This process serves both fakes (one interpreter: at most one core,
            # whatever the worker count) and drives the webhooks: when it is the
            # busy side, more workers cannot go faster.
            report["fakes_and_driver_cpu_s"] = round(own_cpu, 1)
            # Seconds the workers' threads were ready to run but waited for a CPU
            # (Linux schedstat): large against worker_cpu_s means CPU-starved by
            # the rest of the machine, not limited by the queue.
            report["worker_runqueue_wait_s"] = waited
            report["fakes_cpu_per_wall_s"] = round(own_cpu / report["wall_s"], 2)
            # The machine is shared: what else ran beside the phase.
            report["loadavg_1m_before_after"] = [
                round(load_before[0], 1),
                round(os.getloadavg()[0], 1),
            ]
            report["db_bytes_per_user"] = self._db_bytes(engine, len(users))
            engine.dispose()
            return report
        finally:
            for fake in (getattr(self, "anilist", None), getattr(self, "trakt", None)):
                if fake is not None:
                    fake.stop()
            with admin.begin() as conn:
                if self.args.keep:
                    print(f"kept {self.dir}, schema {self.schema}", file=sys.stderr)
                    return None  # noqa: B012 - a debugging run keeps everything
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :n AND pid <> pg_backend_pid()"
                    ),
                    {"n": self.schema},
                )
                conn.execute(sa.text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            admin.dispose()
            if not self.args.keep:
                shutil.rmtree(self.dir, ignore_errors=True)

    def _wait_idle(
        self,
        engine: sa.Engine,
        driver: threading.Thread,
        workers: list[subprocess.Popen[bytes]],
    ) -> None:
        busy = sa.text(
            "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
            " AND task_name = 'anibridge.sync'"
        )
        deadline = time.time() + self.args.timeout
        while time.time() < deadline:
            time.sleep(0.5)
            dead = [i for i, w in enumerate(workers) if w.poll() is not None]
            if dead:
                log = (self.dir / f"worker{dead[0]}.log").read_text()[-2000:]
                raise RuntimeError(f"worker {dead[0]} exited early:\n{log}")
            with engine.connect() as conn:
                if conn.execute(busy).scalar_one() == 0 and not driver.is_alive():
                    return
        raise TimeoutError(f"queue not idle after {self.args.timeout} s")

    # -- measurements ---------------------------------------------------------------

    def _measure(self, engine: sa.Engine, t0: float, cpu: float) -> dict[str, Any]:
        with engine.connect() as conn:
            jobs = conn.execute(
                sa.text(
                    "SELECT j.id, j.status, j.args->>'profile' AS profile,"
                    " extract(epoch FROM min(e.at) FILTER (WHERE e.type = 'deferred'))"
                    " AS q, extract(epoch FROM max(e.at) FILTER (WHERE e.type ="
                    " 'started')) AS s, extract(epoch FROM max(e.at) FILTER (WHERE"
                    " e.type = 'succeeded')) AS f"
                    " FROM procrastinate_jobs j JOIN procrastinate_events e"
                    " ON e.job_id = j.id WHERE j.task_name = 'anibridge.sync'"
                    " GROUP BY j.id"
                )
            ).all()
            oks = Counter(
                r.job_id
                for r in conn.execute(
                    sa.text("SELECT job_id FROM job_results WHERE status = 'ok'")
                )
            )
        done = [j for j in jobs if j.status == "succeeded"]
        latencies = sorted(float(j.f) - float(j.q) for j in done)
        first_start = min(float(j.s) for j in done)
        last_end = max(float(j.f) for j in done)
        lost_webhooks = sum(
            1
            for profile, at in self.webhooks
            if not any(j.profile == profile and float(j.s) >= at for j in done)
        )
        wall = last_end - first_start
        report = {
            "workers": self.workers,
            "concurrency_per_worker": self.args.concurrency,
            "users": self.args.users,
            "jobs": len(jobs),
            "webhooks": len(self.webhooks),
            "jobs_per_s": round(len(done) / wall, 2),
            "wall_s": round(wall, 1),
            "latency_p50_s": round(median(latencies), 2),
            "latency_p95_s": round(quantiles(latencies, n=20)[18], 2),
            "worker_cpu_s": round(cpu, 1),
            "worker_cpu_share_of_2_cores": round(cpu / wall / 2, 2),
            "lost_jobs": len(jobs) - len(done) + lost_webhooks,
            "duplicate_jobs": sum(1 for n in oks.values() if n > 1),
            "time_scale": self.scale,
        }
        report |= self._service_report()
        return report

    def _service_report(self) -> dict[str, Any]:
        minute = 60.0
        expected: Counter[tuple[str, Any]] = Counter()
        for profile, tok in self.tokens.items():
            if tok["type"] != "trakt":
                continue
            for item in _demo_items(self.dir / "users" / profile / "library.yaml"):
                for season in item["seasons"]:
                    for ep in season["episodes"]:
                        for _play in ep.get("plays", []):
                            expected[(profile, item["key"])] += 1
            for key, _s, _e, _at in self.added.get(profile, []):
                expected[(profile, key)] += 1
        seen: Counter[tuple[str, Any]] = Counter()
        duplicates = 0
        for token, account in self.trakt_accounts.items():
            profile = self._profile_of_token(token)
            stamps = Counter((e["key"], e["watched_at"]) for e in account.history)
            duplicates += sum(n - 1 for n in stamps.values() if n > 1)
            for (key, _at), n in stamps.items():
                seen[(profile, f"show-{key[1]}")] += min(n, 1)
        lost = sum(max(0, n - seen[k]) for k, n in expected.items())
        return {
            "anilist": {
                "limit_per_min": ANILIST_LIMIT,
                "peak_per_min": self.anilist.peak(minute),
                "requests": len(self.anilist.answered),
                "rate_limited_429": self.anilist.statuses()[429],
            },
            "trakt": {
                "limits": "per user: 1 POST/s, 1000 GET/5 min",
                "peak_per_min_all_users": self.trakt.peak(minute),
                "requests": len(self.trakt.answered),
                "rate_limited_429": self.trakt.statuses()[429],
                "plays_expected": sum(expected.values()),
                "plays_lost": lost,
                "plays_duplicated": duplicates,
            },
        }

    def _profile_of_token(self, token: str) -> str:
        for profile, tok in self.tokens.items():
            if tok.get("access_token") == token:
                return profile
        raise KeyError(token)

    def _db_bytes(self, engine: sa.Engine, users: int) -> int:
        with engine.connect() as conn:
            total = conn.execute(
                sa.text(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)"
                    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                )
            ).scalar_one()
        return int(total) // users


def _runqueue_wait(workers: list[subprocess.Popen[bytes]]) -> float | None:
    """Seconds all threads of `workers` spent runnable but not running, or None."""
    total = 0
    for worker in workers:
        try:
            tasks = list(Path(f"/proc/{worker.pid}/task").iterdir())
        except OSError:
            return None
        for task in tasks:
            try:
                fields = (task / "schedstat").read_text().split()
            except OSError:
                continue  # a thread that ended meanwhile
            total += int(fields[1])
    return round(total / 1e9, 1)


def _demo_items(path: Path) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text())["items"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--titles", type=int, default=4)
    parser.add_argument("--episodes", type=int, default=12, help="per title")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--webhooks", type=float, default=0.5)
    parser.add_argument("--webhook-spread", type=float, default=30.0)
    parser.add_argument("--limited-workers", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--keep", action="store_true", help="keep files and schema")
    args = parser.parse_args()
    out: dict[str, Any] = {
        "command": "bench/hosted.py " + " ".join(sys.argv[1:]),
        "throughput": [
            Phase(args, workers=n, limited=False).run() for n in args.workers
        ],
    }
    if len(out["throughput"]) >= 2:
        one, many = out["throughput"][0], out["throughput"][-1]
        out["speedup"] = round(many["jobs_per_s"] / one["jobs_per_s"], 2)
    if args.limited_workers:
        out["rate_limited"] = Phase(
            args, workers=args.limited_workers, limited=True
        ).run()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
