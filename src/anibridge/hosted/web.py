"""The web service of a hosted deployment: it records and enqueues, workers run.

`anibridge serve --hosted` (or ``hosted.enabled: true``) swaps two parts of the
single-user service and keeps every route and page:

- `QueueScheduler` stands where the in-process `Scheduler` stands: "Sync now" and
  previews become sync jobs on the queue, a webhook is recorded and its jobs queued
  in one transaction (`record_webhook`), and the profiles' state comes from the
  queue (queued / running / retrying / failed jobs). There are no timers: the
  workers' once-a-minute schedule tick queues scheduled runs
  (`anibridge.hosted.schedules`).
- Accounts, sessions and API tokens live in the database (`anibridge.hosted.auth`),
  so any number of web processes share them.
- `HostedBackend` is the engine backend without sessions: it opens the store and
  the mappings but initializes no provider (a web process for thousands of profiles
  must not log in to thousands of accounts); everything that talks to a service is
  a job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from anibridge.app.scheduler import (
    EventBus,
    ProfileSchedule,
    RunResult,
    SyncMode,
    SyncRequest,
)
from anibridge.app.scheduler.worker import WorkerStopped
from anibridge.app.service.kept_plans import KeptPlan
from anibridge.app.web.backend import BackendError
from anibridge.app.web.engine_backend import EngineBackend
from anibridge.hosted import overrides, plans
from anibridge.hosted.inbox import record
from anibridge.hosted.jobs import profile_lock
from anibridge.hosted.queue import enqueue, job_rows, make_queue, sync_coalesce
from anibridge.provider.base import InboundRequest, SupportsInboundChanges

__all__ = ["HostedBackend", "QueueScheduler", "hosted_context"]

log = logging.getLogger("anibridge.hosted")

#: Writes from the web that the hosted backend queues as jobs ("fix mapping"
#: saves the override in the database and queues a targeted preview).
QUEUED_WRITES = ("apply", "undo", "retry", "restore", "fix mapping")


class _QueuedProfile:
    """What routes ask of a profile's worker, answered by the queue."""

    def __init__(self, name: str) -> None:
        self.name = name

    def submit(self, label: str, call: Any) -> asyncio.Future[RunResult]:
        """The writes of `QUEUED_WRITES`: `HostedBackend` checks and queues them.

        Raises:
            BackendError: 409 for anything else (no route sends another).
        """
        if label in QUEUED_WRITES:
            return asyncio.ensure_future(call())
        raise BackendError(
            f"{label} is not available from the web service in hosted mode "
            f"(profile {self.name!r})",
            status=409,
        )


class QueueScheduler:
    """The `Scheduler` of a hosted web service: every trigger becomes a queued job.

    Args:
        engine: An engine on the hosted store (schema checked).
        store_url: The store's URL (the queue connects with it).
        schedules: Profile → schedule (shown on the dashboard; the workers' tick
            queues the runs).
        bus: The service's event bus.
    """

    def __init__(
        self,
        engine: sa.Engine,
        store_url: str,
        schedules: Mapping[str, ProfileSchedule],
        *,
        bus: EventBus | None = None,
    ) -> None:
        """Bind to the queue; nothing runs in this process."""
        self.engine = engine
        self.queue = make_queue(store_url)
        self.schedules = dict(schedules)
        self.bus = bus or EventBus()
        self.workers = {name: _QueuedProfile(name) for name in self.schedules}
        self.running = False
        self.started_at: str | None = None
        self.mappings_status: dict[str, Any] = {}

    async def start(self) -> None:
        """Nothing to start: workers run the jobs and the schedule tick."""
        self.started_at = datetime.now(UTC).isoformat()
        self.running = True

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting triggers (queued jobs stay queued)."""
        self.running = False
        self.engine.dispose()

    def worker(self, profile: str) -> _QueuedProfile:
        """The stand-in worker of a profile.

        Raises:
            KeyError: no such profile.
        """
        try:
            return self.workers[profile]
        except KeyError:
            raise KeyError(f"unknown profile {profile!r}") from None

    def enqueue_sync(
        self, conn: sa.Connection, profile: str, request: SyncRequest
    ) -> int | None:
        """Queue one sync of `profile` in `conn`'s transaction (coalesced).

        Returns:
            The job id, or None when a sync of the profile was already waiting.
        """
        args: dict[str, Any] = {
            "mode": str(request.mode),
            "dry_run": request.dry_run,
            "reason": ",".join(request.reasons) or "api",
        }
        if request.refs:  # a targeted run: only these source anchors are read
            args["refs"] = sorted(request.refs)
        # A preview must not vanish into a waiting real run, nor the reverse.
        coalesce = None if request.dry_run else sync_coalesce(profile)
        return enqueue(self.queue, conn, "sync", profile, args, coalesce=coalesce)

    def enqueue_write(self, kind: str, profile: str, args: dict[str, Any]) -> RunResult:
        """Queue a job of `profile` a person asked for; answered at once (``queued``).

        Apply, undo, retry, restore and undo previews. Never coalesced: each is a
        person's decision. The profile's queue lock keeps it serial with the
        profile's syncs.

        Raises:
            WorkerStopped: the service is shutting down.
        """
        self.worker(profile)
        if not self.running:
            raise WorkerStopped("the service is stopping")
        with self.engine.begin() as conn:
            job_id = enqueue(self.queue, conn, kind, profile, args)
        self.bus.publish("job_queued", profile=profile, job=job_id)
        return RunResult(
            "queued", summary={"job_id": job_id, "kind": kind}, request=dict(args)
        )

    def trigger(self, profile: str, request: SyncRequest) -> asyncio.Future[RunResult]:
        """Queue a sync; the future is done at once (``queued``, with the job id).

        Raises:
            WorkerStopped: the service is shutting down.
        """
        self.worker(profile)
        if not self.running:
            raise WorkerStopped("the service is stopping")
        with self.engine.begin() as conn:
            job_id = self.enqueue_sync(conn, profile, request)
        self.bus.publish("job_queued", profile=profile, job=job_id)
        future: asyncio.Future[RunResult] = asyncio.get_running_loop().create_future()
        future.set_result(
            RunResult(
                "queued",
                summary={"job_id": job_id, "coalesced": job_id is None},
                request=request.to_json(),
            )
        )
        return future

    def record_webhook(
        self, provider: str, request: InboundRequest, profiles: Sequence[str]
    ) -> list[str]:
        """Record a webhook for each profile it may feed and queue their syncs.

        One transaction: either every record and job commits, or none does (the
        sender gets an error and sends again).

        Returns:
            The profiles a sync was queued or already waiting for.
        """
        with self.engine.begin() as conn:
            for profile in profiles:
                record(conn, profile, provider, request)
                self.enqueue_sync(
                    conn,
                    profile,
                    SyncRequest(
                        SyncMode.INCREMENTAL,
                        payloads=1,
                        reasons=(f"webhook:{provider}",),
                    ),
                )
        return list(profiles)

    def jobs(self, profile: str, limit: int = 20) -> list[dict[str, Any]]:
        """Recent jobs of a profile, newest first (`queue.job_rows`)."""
        with self.engine.connect() as conn:
            return job_rows(conn, [profile], limit=limit)

    def job(self, profile: str, job_id: int) -> dict[str, Any] | None:
        """One job of `profile` (`queue.job_rows`); None for another's or none."""
        with self.engine.connect() as conn:
            found = job_rows(conn, [profile], limit=1, job_id=job_id)
        return found[0] if found else None

    def state(self) -> dict[str, Any]:
        """Per-profile queue state for the status API and the dashboard."""
        counts: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT lock, status, attempts, count(*) AS n"
                    " FROM procrastinate_jobs WHERE lock = ANY(:locks)"
                    " AND status IN ('todo', 'doing')"
                    " GROUP BY lock, status, attempts"
                ),
                {"locks": [profile_lock(p) for p in self.schedules]},
            ).all()
        for row in rows:
            name = str(row.lock).removeprefix("profile:")
            slot = counts.setdefault(name, {"queued": 0, "running": 0, "retrying": 0})
            if row.status == "doing":
                slot["running"] += row.n
            elif row.attempts > 0:
                slot["retrying"] += row.n
            else:
                slot["queued"] += row.n
        profiles = {}
        for name, schedule in self.schedules.items():
            slot = counts.get(name, {"queued": 0, "running": 0, "retrying": 0})
            profiles[name] = {
                "profile": name,
                "busy": slot["running"] > 0,
                "current": "job" if slot["running"] else None,
                "queued": slot["queued"] + slot["retrying"],
                "retrying": slot["retrying"],
                "scan": schedule.scan.describe() if schedule.scan else "off",
                "poll": schedule.poll.describe() if schedule.poll else "off",
                "webhooks": schedule.webhooks,
            }
        return {
            "running": self.running,
            "hosted": True,
            "started_at": self.started_at,
            "mappings": self.mappings_status,
            "profiles": profiles,
        }


class HostedBackend(EngineBackend):
    """The engine backend of a hosted web service: store and mappings, no sessions.

    Apply, undo, retry, restore and the undo preview are checked here (a plan,
    run or backup that does not exist is a 404 now, not a failed job later) and
    queued as jobs on `queue` (set by `hosted_context`); a worker runs them.
    Kept plans are read from the shared database (`anibridge.hosted.plans`),
    where preview jobs keep them and apply jobs record what they wrote.
    """

    queue: QueueScheduler | None = None

    def _queue(self) -> QueueScheduler:
        if self.queue is None:
            raise BackendError("the job queue is not set up", status=503)
        return self.queue

    def _engine(self) -> sa.Engine:
        if self.store is None:
            raise BackendError("the store is not open", status=503)
        return self.store.engine

    # -- kept plans: in the shared database ---------------------------------------
    def _load_plans(self) -> None:
        """Nothing to load: every read goes to the database."""

    def _kept_plans(self, profile: str) -> list[KeptPlan]:
        """The profile's kept plans, oldest first."""
        if profile not in self._profiles or self.store is None:
            return []
        return plans.listing(self._engine(), profile)

    def _find_plan(self, plan_id: str) -> tuple[str, KeptPlan] | None:
        """A kept plan of a profile of this deployment, with the profile."""
        if self.store is None:
            return None
        found = plans.find(self._engine(), plan_id)
        if found is None or found[0] not in self._profiles:
            return None
        return found

    def _save_plan(self, profile: str, kept: KeptPlan) -> None:
        """Store a plan's review state (workers do; kept for the base's callers)."""
        plans.save(self._engine(), profile, kept)

    async def apply_plan(
        self, profile: str, plan_id: str, action_ids: Sequence[str]
    ) -> RunResult:
        """Queue an apply job for the approved ids of a kept plan."""
        found = self._find_plan(plan_id)
        if found is None or found[0] != profile:
            raise BackendError(f"no kept plan {plan_id!r} for {profile!r}", status=404)
        kept = found[1]
        approved = list(dict.fromkeys(action_ids))
        done = sorted(i for i in approved if kept.outcomes.get(i) == "applied")
        if done:
            raise BackendError(
                f"{len(done)} of these change(s) of plan {plan_id} were already "
                "applied; apply the rest instead",
                status=409,
            )
        unknown = set(approved) - {a["id"] for a in kept.plan["actions"]}
        if unknown:
            raise BackendError(
                f"action ids not in plan {plan_id}: {', '.join(sorted(unknown))}"
            )
        return self._queue().enqueue_write(
            "apply", profile, {"plan_id": plan_id, "action_ids": approved}
        )

    async def undo_whole_run(self, profile: str, run_id: str) -> RunResult:
        """Queue an undo job of a whole run (404 unknown, 409 already undone)."""
        from anibridge.app.service import undo as undo_service

        run_id = self._run_id(profile, run_id)
        undo_service.check_undoable(
            self._stores(), profile, run_id, undone=self.undone_runs(profile)
        )
        return self._queue().enqueue_write("undo", profile, {"run_id": run_id})

    async def undo(
        self, profile: str, action_ids: Sequence[str], run_id: str | None = None
    ) -> RunResult:
        """Queue an undo job of some applied actions (of `run_id` when given)."""
        if run_id is not None:
            run_id = self._run_id(profile, run_id)
        return self._queue().enqueue_write(
            "undo", profile, {"run_id": run_id, "action_ids": list(action_ids)}
        )

    async def retry(self, profile: str, action_ids: Sequence[str]) -> RunResult:
        """Queue a retry job of failed actions (re-planned live by the worker)."""
        self._prof(profile)
        wanted = list(dict.fromkeys(action_ids))
        if not wanted:
            raise BackendError("name at least one action to retry")
        return self._queue().enqueue_write("retry", profile, {"action_ids": wanted})

    async def restore_backup(self, profile: str, name: str) -> RunResult:
        """Queue a restore job of an indexed backup (404 for an unknown one)."""
        prof = self._prof(profile)
        entry, _path = self._backup(profile, name)
        if entry.provider not in {prof.cfg.source.key, prof.cfg.target.key}:
            raise BackendError(f"provider {entry.provider!r} is not in {profile!r}")
        return self._queue().enqueue_write("restore", profile, {"name": name})

    async def undo_preview(self, profile: str, run_id: str) -> dict[str, Any]:
        """Queue an undo preview job; its result is the preview (`job`).

        Reading the targets needs the profile's provider sessions, which only
        workers open, so the preview is a job too. A preview of the run already
        waiting or running is joined rather than queued again.

        Returns:
            ``{"status": "queued", "summary": {"job_id": …, "kind": …}}``.
        """
        from anibridge.app.service import undo as undo_service

        run_id = self._run_id(profile, run_id)
        undo_service.check_undoable(self._stores(), profile, run_id)
        queue = self._queue()
        for job in queue.jobs(profile, limit=50):
            if (
                job["kind"] == "undo_preview"
                and job["args"].get("run_id") == run_id
                and job["state"] in ("queued", "running", "retrying")
            ):
                summary = {"job_id": job["id"], "kind": "undo_preview"}
                return {"status": "queued", "summary": summary, "joined": True}
        ticket = queue.enqueue_write("undo_preview", profile, {"run_id": run_id})
        return {"status": "queued", "summary": ticket.summary}

    async def start(self) -> None:
        """Open the store, load kept plans and the mappings; initialize no provider."""
        if self._started:
            return
        self._started = True
        self.loaded.data_dir.mkdir(parents=True, exist_ok=True)
        from anibridge.store import SqlStore

        self.store = await asyncio.to_thread(SqlStore, self.loaded.store_url)
        self._load_plans()
        self._overrides_version = 0
        self._overrides_path = self.loaded.data_dir / "hosted" / "none.yaml"
        if self.index is None:
            self.index = await asyncio.to_thread(self._load_index)
        await asyncio.to_thread(self._sync_overrides)
        for prof in self._profiles.values():
            prof.ready = True

    async def close(self) -> None:
        """Close the store."""
        if self.store is not None:
            self.store.close()
            self.store = None

    async def _on_profile(self, profile: str, make: Any, *, job: str) -> Any:
        """Work that needs the profile's provider sessions has none here.

        Every such use case the web offers is queued as a job instead (see the
        methods above); one that reaches this is a route left unported.

        Raises:
            BackendError: always, 409, naming the job.
        """
        make().close()  # never awaited: close the coroutine
        raise BackendError(
            f"{job} needs the profile's provider sessions, which only workers "
            f"open in hosted mode (profile {profile!r})",
            status=409,
        )

    async def run(self, profile: str, request: SyncRequest) -> RunResult:
        """Queue the run as a sync job ("fix mapping" re-plans its entry so)."""
        return await self._queue().trigger(profile, request)

    # -- custom mappings overrides: in the shared database -------------------------
    @property
    def custom_mappings_path(self) -> Path:
        """This process's copy of the shared overrides (`hosted.overrides`)."""
        return self._overrides_path

    def _sync_overrides(self) -> None:
        """Take the newest shared overrides; reload the index when they changed."""
        number = overrides.version(self._engine())
        if number == self._overrides_version:
            return
        number, text = overrides.read(self._engine())
        folder = self.loaded.data_dir / "hosted"
        self._overrides_path = overrides.local_copy(folder, number, text)
        self._overrides_version = number
        self.index = self._load_index()

    def overrides_text(self) -> str:
        """The shared overrides' text (newest, whichever web service saved it)."""
        return overrides.read(self._engine())[1]

    def write_overrides(self, text: str) -> None:
        """Validate and store the overrides for every process; reload the index."""
        problems = self.validate_overrides(text)
        if problems:
            raise BackendError("; ".join(str(p) for p in problems), status=422)
        overrides.write(self._engine(), text)
        self._sync_overrides()

    def mapping_lookup(self, descriptor: str) -> dict[str, Any]:
        """Edges of one descriptor, with the newest shared overrides."""
        self._sync_overrides()
        return super().mapping_lookup(descriptor)

    def mapping_browse(
        self, text: str, limit: int = 20, *, titles: bool = True
    ) -> dict[str, Any]:
        """Titles and ids matching `text`, with the newest shared overrides."""
        self._sync_overrides()
        return super().mapping_browse(text, limit, titles=titles)

    def webhook_providers(self) -> list[str]:
        """Source keys whose provider type can parse webhooks (no instance needed)."""
        from anibridge.app.config.providers import load_provider_class

        keys = set()
        for prof in self._profiles.values():
            spec = prof.cfg.source
            try:
                cls = load_provider_class(spec.type)
            except Exception:  # an unknown type is reported by the worker's job
                continue
            if issubclass(cls, SupportsInboundChanges):
                keys.add(spec.key)
        return sorted(keys)


def hosted_context(settings: Any, loaded: Any) -> tuple[Any, str | None]:
    """The web service's context for a hosted deployment (`build_context`).

    Raises:
        StoreError: the store is not PostgreSQL or not migrated.
        QueueSchemaError: the queue's tables are missing or from another version.
    """
    from anibridge.app.web.app import build_context
    from anibridge.app.web.engine_backend import schedule_for
    from anibridge.hosted.auth import PgAuthStore
    from anibridge.hosted.worker import open_hosted_engine

    engine = open_hosted_engine(loaded.store_url)
    bus = EventBus()
    scheduler = QueueScheduler(
        engine,
        loaded.store_url,
        {name: schedule_for(cfg) for name, cfg in loaded.app.profiles.items()},
        bus=bus,
    )
    backend = HostedBackend(loaded)
    backend.queue = scheduler
    auth = PgAuthStore(
        engine, seed=settings.data_dir / "auth.json", scrypt_n=settings.scrypt_n
    )
    return build_context(settings, backend, bus=bus, scheduler=scheduler, auth=auth)
