"""The service's `Backend` on the real app: config, SQL store, providers, engine.

Built from a loaded `anibridge.yaml`. Each profile gets its own provider instances,
policy and pair; runs, previews, applies and retries go through the use cases of
`anibridge.app.service.runs` (the ones the CLI calls), undo through
`anibridge.app.service.undo`, config through `anibridge.app.service.config`.
Runs are serialized per profile by the scheduler's workers, and every job
(sync, apply, undo, retry, restore) runs under the profile's cross-process lock
through `anibridge.app.lifecycle.profile_job` (lock → runs left by dead processes
marked interrupted → journal reconciled → the job → unlock), so a CLI run and the
service never write one profile at once: the later one waits ``lock_wait`` seconds,
then the job ends ``busy`` naming the holder.

How each request mode reads the providers: `anibridge.app.service.runs.plan_reads`
(full; incremental from the feeds' cursors; targeted: the anchors named by webhook
payloads, parsed at receipt by `parse_inbound`; requests carry only the refs).
Dry-run plans are kept (in memory, newest 20 per profile) for review; applying one
re-plans against live state and applies only the approved ids that are still valid
(stable action ids: the same write on the same state has the same id).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from anibridge.app.config import (
    LoadedConfig,
    ProfileConfig,
)
from anibridge.app.config.edit import YAMLError
from anibridge.app.lifecycle import ProfileBusy, profile_job, release
from anibridge.app.runtime import (
    Session,
    close_session,
    guard_writes,
    open_session,
    policy_for,
)
from anibridge.app.scheduler import (
    InboundRefs,
    ProfileSchedule,
    RunResult,
    SyncMode,
    SyncRequest,
    Timing,
)
from anibridge.app.service import config as config_service
from anibridge.app.service import undo as undo_service
from anibridge.app.service.backups import BackupRefused, indexed, restore_payload
from anibridge.app.service.config import atomic_write
from anibridge.app.service.errors import NotFound
from anibridge.app.service.kept_plans import (
    KEEP_PLANS,
    KeptPlan,
    describe_skips,
    record_apply,
)
from anibridge.app.service.mapping_view import browse, edge_rows, parse_descriptor
from anibridge.app.service.overrides import (
    Problem,
    add_override,
    check_overrides,
    has_entries,
)
from anibridge.app.service.plan_view import (
    UNMATCHED,
    SkipQuery,
    page_skips,
    rest_of,
    unmatched_rows,
)
from anibridge.app.service.progress import ProgressBoard
from anibridge.app.service.runs import RunRequest, apply_approved, run_profile
from anibridge.app.service.timeline import HistoryQuery, page_rows, undone_entries
from anibridge.app.service.titles import (
    TITLES_FILE,
    dump_titles,
    load_titles,
    titles_of,
)
from anibridge.app.web.backend import BackendError, ProfileInfo, ProviderInfo
from anibridge.bridge.codec import ref_from_json, ref_id
from anibridge.bridge.explain import plan_json
from anibridge.bridge.model import (
    Plan,
    Policy,
    Snapshot,
)
from anibridge.bridge.sync import (
    Pair,
    SyncResult,
)
from anibridge.messages import clip
from anibridge.provider.base import (
    FacetName,
    InboundRequest,
    InboundResult,
    NodeQuery,
    Provider,
    Ref,
    SupportsInboundChanges,
    SupportsNodeReads,
)
from anibridge.store import SqlStore
from anibridge.store.sql import BackupEntry

__all__ = ["EngineBackend", "schedule_for"]

log = logging.getLogger(__name__)

# Webhook bodies up to this size are parsed on the web loop (well under a millisecond).
INLINE_PARSE_BYTES = 64 * 1024
CUSTOM_MAPPINGS = "mappings.custom.yaml"
# Jobs that only read (no progress shown; they must not replace a run's progress).
_READ_ONLY_JOBS = frozenset({"undo preview"})
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def schedule_for(cfg: ProfileConfig) -> ProfileSchedule:
    """The scheduler's view of a profile's `schedule:` block."""
    s = cfg.schedule
    scan = None
    if s.cron:
        scan = Timing(cron=s.cron)
    elif s.interval:
        scan = Timing(seconds=float(s.interval))
    poll = Timing(seconds=float(s.poll)) if s.poll else None
    return ProfileSchedule(scan=scan, poll=poll, webhooks=s.webhooks)


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def _all_pages(call: Any) -> list[Any]:
    items: list[Any] = []
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        page = await call(cursor)
        items.extend(page.items)
        if page.cursor is None or page.cursor in seen:
            return items
        seen.add(page.cursor)
        cursor = page.cursor


class _LoopThread:
    """A thread running its own event loop: one per profile.

    A profile's providers are created, used and closed only on its loop, so planning
    a big library (CPU-bound, synchronous) never stalls the web server's loop: pages,
    webhooks (202 at once) and other profiles stay responsive.
    """

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def call[T](self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on this thread's loop; cancelling the caller cancels it."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wrap_future(future)

    def stop(self) -> None:
        """Stop the loop and join the thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


@dataclass(slots=True)
class _Profile:
    name: str
    cfg: ProfileConfig
    policy: Policy
    providers: dict[str, Provider] = field(default_factory=dict)
    session: Session | None = None
    error: str | None = None
    ready: bool = False
    thread: _LoopThread | None = None

    @property
    def pair(self) -> Pair:
        return Pair(self.cfg.source.key, self.cfg.target.key)


class EngineBackend:
    """`anibridge.app.web.backend.Backend` on the real engine.

    Args:
        loaded: The loaded config.
        index: A mappings index to use (default: loaded from the config at start).
        environ: Environment for secret resolution (tests).
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        index: Any = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Prepare profiles; nothing is opened before `start`."""
        self._environ = environ
        # Live progress of each profile's newest job (the web wires the listener).
        self.progress = ProgressBoard()
        self._prepare(loaded, index)

    def _prepare(self, loaded: LoadedConfig, index: Any) -> None:
        """Profiles, policies and caches for `loaded` (nothing opened)."""
        self.loaded = loaded
        self.index = index
        self.store: SqlStore | None = None
        self._profiles: dict[str, _Profile] = {
            name: _Profile(name, cfg, policy_for(name, cfg, loaded))
            for name, cfg in loaded.app.profiles.items()
        }
        self._plans: dict[str, OrderedDict[str, KeptPlan]] = {
            name: OrderedDict() for name in self._profiles
        }
        self._titles: dict[tuple[str, str], dict[str, Any]] = {}
        self._artwork: dict[tuple[str, str], str | None] = {}
        # (target provider, target anchor) -> (source provider, source anchor)
        self._source_of: dict[tuple[str, str], tuple[str, str]] = {}
        self._descriptors: tuple[Any, list[str]] | None = None
        self._lock = threading.Lock()  # plans are written on profile threads
        self._started = False

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        """Open the store, load mappings, build and initialize every profile."""
        if self._started:
            return
        self._started = True
        self.loaded.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = await asyncio.to_thread(SqlStore, self.loaded.store_url)
        self._load_plans()
        kept = await asyncio.to_thread(load_titles, self.loaded.data_dir / TITLES_FILE)
        for key, shown in kept.items():
            self._titles.setdefault(key, shown)  # a run since start knows better
        if self.index is None:
            self.index = await asyncio.to_thread(self._load_index)
        await asyncio.gather(*(self._open(p) for p in self._profiles.values()))

    async def reload(self, loaded: LoadedConfig) -> None:
        """Apply a saved config: close every profile and the store, open anew.

        The caller makes sure no job runs (`anibridge.app.web.reload`). The
        mappings index is kept unless the config's mappings settings changed;
        kept plans are read back from their folder; the progress board (and its
        listener) stays.
        """
        same_maps = (
            loaded.app.mappings == self.loaded.app.mappings
            and loaded.base_dir == self.loaded.base_dir
            and loaded.data_dir == self.loaded.data_dir
        )
        index = self.index if same_maps else None
        await self.close()
        self._prepare(loaded, index)
        await self.start()

    async def _open(self, prof: _Profile) -> None:
        prof.thread = _LoopThread(f"anibridge-profile-{prof.name}")
        try:
            # The CLI's session: providers with the encrypted token store, opened
            # (and a local file seeded) under the profile lock, which each job
            # takes again for itself.
            prof.session = await prof.thread.call(
                open_session(self.loaded, prof.name, purpose="serve: start")
            )
            release(prof.session)
            prof.providers = prof.session.providers
            prof.ready = True
        except Exception as exc:
            from anibridge.app.service.problems import message_of

            # The same one line the CLI prints ("plex: … refused the connection —
            # is Plex running …"); an unknown failure keeps its type for a report.
            prof.error = message_of(exc)
            log.error("profile %s cannot start: %s", prof.name, prof.error)

    async def _on_profile[T](
        self,
        profile: str,
        make: Callable[[], Coroutine[Any, Any, T]],
        *,
        job: str,
    ) -> T:
        """Run a job on the profile's own loop thread, holding the profile lock.

        Raises:
            ProfileBusy: another process holds the profile's lock past ``lock_wait``.
        """
        prof = self._prof(profile)
        assert prof.thread is not None and prof.session is not None
        session = prof.session

        async def locked() -> T:
            async with profile_job(session, purpose=f"serve: {job}"):
                if job in _READ_ONLY_JOBS:
                    return await make()
                # Entered on the profile's thread: events follow this task.
                with self.progress.track(profile, job) as run:
                    value = await make()
                    result = value.to_json() if isinstance(value, RunResult) else None
                    self.progress.finish(profile, run, result)
                    return value

        return await prof.thread.call(locked())

    async def _job(
        self,
        profile: str,
        make: Callable[[], Coroutine[Any, Any, Any]],
        *,
        job: str,
    ) -> Any:
        """`_on_profile` for UI/API jobs: a busy profile is a 409 for the caller."""
        try:
            return await self._on_profile(profile, make, job=job)
        except ProfileBusy as exc:
            raise BackendError(str(exc), status=409) from exc

    def request_stop(self) -> None:
        """Service shutting down: running jobs stop after their current batch."""
        for prof in self._profiles.values():
            if prof.session is not None:
                prof.session.stop.requested = True

    def _load_index(self) -> Any:
        from anibridge.mappings import load_index

        settings = self.loaded.app.mappings
        paths = [
            str(self.loaded.resolve(p)) if "://" not in p else p
            for p in settings.custom
        ]
        custom = self.custom_mappings_path
        if custom.exists() and has_entries(custom.read_text(encoding="utf-8")):
            paths.append(str(custom))
        return load_index(paths, include_default=settings.include_default, notice=None)

    async def close(self) -> None:
        """Close providers and the store."""
        for prof in self._profiles.values():
            if prof.session is not None and prof.thread is not None:
                try:
                    await prof.thread.call(close_session(prof.session))
                except Exception:
                    log.exception("closing profile %s failed", prof.name)
                prof.session = None
            prof.providers = {}
            if prof.thread is not None:
                await asyncio.to_thread(prof.thread.stop)
                prof.thread = None
        if self.store is not None:
            self.store.close()
            self.store = None

    async def check(self, profile: str, provider: str | None = None) -> dict[str, Any]:
        """Test connection: `anibridge check` for a profile (or one provider of it).

        Providers are built fresh from the config the service runs, so what is
        tested is what the next sync uses; nothing is locked or synced.

        Raises:
            BackendError: 404 for an unknown profile or provider.
        """
        from anibridge.app.service.check import check_profile

        if profile not in self._profiles:
            raise BackendError(f"unknown profile {profile!r}", status=404)
        if self.store is None:
            raise BackendError("the store is not open yet", status=503)
        result = await check_profile(
            self.loaded, profile, store=self.store, only=provider, environ=self._environ
        )
        return {
            "profile": result.profile,
            "ok": result.ok,
            "providers": [p.as_json() for p in result.providers],
        }

    async def refresh_mappings(self) -> str:
        """Update the dataset (conditional GET with ETag); reload it when it changed."""
        if not self.loaded.app.mappings.include_default:
            return "default dataset disabled in the config"
        from anibridge.mappings.update import update_dataset

        result = await update_dataset()
        if result.status == "updated":
            self.index = await asyncio.to_thread(self._load_index)
        detail = f": {result.error}" if getattr(result, "error", None) else ""
        return f"{result.status}{detail}"

    # -- profiles --------------------------------------------------------------
    def profiles(self) -> list[ProfileInfo]:
        """Profiles with their providers' display names and roles."""
        out = []
        for prof in self._profiles.values():
            infos = []
            for spec, role in (
                (prof.cfg.source, "source"),
                (prof.cfg.target, "target"),
            ):
                provider = prof.providers.get(spec.key)
                display = getattr(provider, "DISPLAY_NAME", None) or spec.type
                account = provider.account() if provider is not None else None
                labels = (account.title,) if account and account.title else ()
                infos.append(ProviderInfo(spec.key, spec.type, display, role, labels))
            out.append(
                ProfileInfo(
                    prof.name,
                    tuple(infos),
                    schedule_for(prof.cfg),
                    "two-way" if prof.cfg.direction == "two_way" else "one-way",
                    owner=prof.cfg.owner,
                )
            )
        return out

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Ready when the store is open and every profile initialized."""
        detail = {
            name: {"ready": p.ready, "error": p.error}
            for name, p in self._profiles.items()
        }
        ok = self.store is not None and all(p.ready for p in self._profiles.values())
        return ok, detail

    def _prof(self, name: str) -> _Profile:
        prof = self._profiles.get(name)
        if prof is None:
            raise BackendError(f"unknown profile {name!r}", status=404)
        if not prof.ready:
            raise BackendError(
                f"profile {name!r} is not ready: {prof.error or 'starting'}", status=409
            )
        return prof

    def _stores(self) -> Any:
        if self.store is None:
            raise BackendError("the store is not open", status=503)
        return self.store.bundle()

    # -- running -----------------------------------------------------------------
    async def run(self, profile: str, request: SyncRequest) -> RunResult:
        """One (possibly dry) run of a profile for a scheduler request."""
        try:
            return await self._on_profile(
                profile,
                lambda: self._run(profile, request),
                job="preview" if request.dry_run else "sync",
            )
        except ProfileBusy as exc:
            return RunResult("busy", error=str(exc))

    async def _run(self, profile: str, request: SyncRequest) -> RunResult:
        """One run through the use case the CLI runs (`service.runs.run_profile`)."""
        prof = self._prof(profile)
        assert prof.session is not None
        wanted = RunRequest(
            request.mode.value,  # type: ignore[arg-type]
            dry_run=request.dry_run,
            refs=frozenset(request.refs),
        )
        with self._backups_before_writes(prof):
            outcome = await run_profile(
                prof.session,
                self._stores(),
                prof.policy,
                wanted,
                index=self.index,
                stop=self._stop_of(prof),
                record_unchanged=False,  # polls would fill the history
            )
        reads = outcome.reads
        if reads.nothing_changed:
            return RunResult("skipped", summary={"changes": 0})
        if outcome.refused is not None:
            if request.dry_run:
                kept = self._keep(profile, outcome.plan, None)
                return RunResult(
                    "refused", plan_id=kept.id, error=outcome.refused, summary={}
                )
            return RunResult("refused", error=outcome.refused)
        result = outcome.result
        assert result is not None
        self._remember_titles(result)
        summary = dict(result.run.summary)
        if reads.touched:
            summary["refs"] = reads.touched
        if request.payloads:
            summary["payloads"] = request.payloads
        if request.dry_run:
            await self._fetch_artwork(prof, result.plan)
            self._keep(
                profile, result.plan, result.run.id, scope=list(reads.anchors) or None
            )
        return RunResult(
            result.run.status,
            result.run.id,
            result.plan.id,
            summary,
            result.run.error,
        )

    @staticmethod
    def _stop_of(prof: _Profile) -> Callable[[], bool]:
        session = prof.session
        return (lambda: False) if session is None else session.stop

    # -- plans -------------------------------------------------------------------
    def _keep(
        self,
        profile: str,
        plan: Plan,
        run_id: str | None,
        *,
        scope: list[str] | None = None,
    ) -> KeptPlan:
        data = plan_json(plan)
        self._describe_skips(profile, data["skipped"])
        kept = KeptPlan(data, _now(), run_id=run_id, scope=scope)
        dropped: list[str] = []
        with self._lock:
            plans = self._plans[profile]
            plans[kept.id] = kept
            plans.move_to_end(kept.id)
            while len(plans) > KEEP_PLANS:
                dropped.append(plans.popitem(last=False)[0])
        self._save_plan(profile, kept)
        for plan_id in dropped:
            (self._plan_dir(profile) / f"{plan_id}.json").unlink(missing_ok=True)
        return kept

    def _plan_dir(self, profile: str) -> Path:
        return self.loaded.data_dir / "plans" / profile

    def _save_plan(self, profile: str, kept: KeptPlan) -> None:
        try:
            atomic_write(
                self._plan_dir(profile) / f"{kept.id}.json",
                json.dumps(kept.to_json(), default=str),
            )
        except OSError as exc:  # review still works from memory
            log.warning("could not save plan %s: %s", kept.id, exc)

    def _load_plans(self) -> None:
        """Plans kept by an earlier run of the service (oldest first)."""
        for profile, plans in self._plans.items():
            folder = self._plan_dir(profile)
            if not folder.is_dir():
                continue
            found = []
            for path in folder.glob("*.json"):
                try:
                    raw = json.loads(path.read_text(encoding="utf-8"))
                    found.append(KeptPlan(**raw))
                except (OSError, ValueError, TypeError) as exc:
                    log.warning("ignoring unreadable kept plan %s: %s", path, exc)
            for kept in sorted(found, key=lambda k: k.created_at)[-KEEP_PLANS:]:
                plans[kept.id] = kept

    def _find_plan(self, plan_id: str) -> tuple[str, KeptPlan] | None:
        with self._lock:
            for profile, plans in self._plans.items():
                if plan_id in plans:
                    return profile, plans[plan_id]
        return None

    def _kept_plans(self, profile: str) -> list[KeptPlan]:
        """The profile's kept plans, oldest first."""
        with self._lock:
            return list(self._plans.get(profile, OrderedDict()).values())

    def _describe_skips(self, profile: str, skipped: list[dict[str, Any]]) -> None:
        """Titles, ids and seasons of unmatched entries kept with their skips."""
        cfg = self._profiles[profile].cfg
        describe_skips(skipped, self._titles, cfg.source.key, cfg.target.key)

    def plans(self, profile: str) -> list[dict[str, Any]]:
        """Kept plans, newest first, without their actions."""
        kept = self._kept_plans(profile)
        return [
            {
                "id": k.id,
                "profile": profile,
                "created_at": k.created_at,
                "status": k.status,
                "applied_count": sum(1 for o in k.outcomes.values() if o == "applied"),
                "scope": k.scope,
                "actions_count": len(k.plan["actions"]),
                "skipped_count": _skipped_count(k.plan),
                "guards": list(k.plan["guards"]),
            }
            for k in reversed(kept)
        ]

    def plan(self, plan_id: str) -> dict[str, Any] | None:
        """A kept plan with actions (titles added where known)."""
        found = self._find_plan(plan_id)
        if found is None:
            return None
        profile, kept = found
        data = copy.deepcopy(kept.plan)
        for item in data["actions"] + data["skipped"]:
            known = {k: item[k] for k in ("title", "ids", "sources") if item.get(k)}
            item.update(
                self._display(
                    item.get("origin") or item["provider"],
                    item["ref"],
                    item.get("title"),
                )
            )
            item.update(known)
        for action in data["actions"]:
            action["outcome"] = kept.outcomes.get(action["id"])
        data.update(
            profile=profile,
            created_at=kept.created_at,
            status=kept.status,
            run_id=kept.run_id,
            scope=kept.scope,
            rest=rest_of(data["actions"], kept.outcomes),
            applied_count=sum(1 for o in kept.outcomes.values() if o == "applied"),
        )
        return data

    async def apply_plan(
        self, profile: str, plan_id: str, action_ids: Sequence[str]
    ) -> RunResult:
        """Apply the approved ids of a kept plan, re-planned against live state."""
        return await self._job(
            profile, lambda: self._apply_plan(profile, plan_id, action_ids), job="apply"
        )

    async def _apply_plan(
        self, profile: str, plan_id: str, action_ids: Sequence[str]
    ) -> RunResult:
        prof = self._prof(profile)
        found = self._find_plan(plan_id)
        if found is None or found[0] != profile:
            raise BackendError(f"no kept plan {plan_id!r} for {profile!r}", status=404)
        kept = found[1]
        approved = set(action_ids)
        done = sorted(i for i in approved if kept.outcomes.get(i) == "applied")
        if done:
            raise BackendError(
                f"{len(done)} of these change(s) of plan {plan_id} were already "
                "applied; apply the rest instead",
                status=409,
            )
        unknown = approved - {a["id"] for a in kept.plan["actions"]}
        if unknown:
            raise BackendError(
                f"action ids not in plan {plan_id}: {', '.join(sorted(unknown))}"
            )
        stores = self._stores()
        assert prof.session is not None
        with self._backups_before_writes(prof):
            done_ = await apply_approved(
                prof.session,
                stores,
                prof.policy,
                approved,
                index=self.index,
                stop=self._stop_of(prof),
                force=True,  # a person approved these changes, guards included
            )
        if done_.result is None:
            return RunResult("refused", error=done_.refused)
        result, dropped = done_.result, list(done_.outdated)
        record_apply(
            kept,
            ((e.action_id, e.outcome) for e in stores.journal.entries(result.run.id)),
            approved,
            dropped,
            result.run.id,
        )
        self._save_plan(profile, kept)
        self._remember_titles(result)
        summary = {**result.run.summary, "approved": len(approved)}
        if dropped:
            summary["outdated"] = len(dropped)
        return RunResult(
            result.run.status if not dropped else "partial",
            result.run.id,
            plan_id,
            summary,
            (
                f"{len(dropped)} approved change(s) no longer apply (the data changed "
                "since the preview); preview again"
            )
            if dropped
            else None,
        )

    # -- unmatched and skipped ---------------------------------------------------
    def unmatched(self, profile: str, query: SkipQuery) -> dict[str, Any]:
        """Left-alone candidates of the newest full preview, unmatched first.

        Targeted previews made since (a mapping fixed from the UI re-plans just
        that entry) replace the rows of the anchors they re-read, and an entry
        that is matched now is listed under ``fixed`` with its preview.
        """
        kept = self._kept_plans(profile)
        fulls = [i for i, k in enumerate(kept) if k.scope is None]
        empty = {"plan": None, "rows": [], "next": None, "total": 0, "counts": {}}
        if not fulls:
            return {**empty, "fixed": []}
        base = kept[fulls[-1]]
        shown = self.plan(base.id)
        assert shown is not None
        rows = unmatched_rows(shown["skipped"])
        fixed: list[dict[str, Any]] = []
        for later in kept[fulls[-1] + 1 :]:
            scope = set(later.scope or ())
            again = self.plan(later.id)
            if again is None:
                continue
            fresh = [
                r
                for r in unmatched_rows(again["skipped"])
                if r["reason"] == UNMATCHED and r["ref"]["key"] in scope
            ]
            still = {r["ref"]["key"] for r in fresh}
            for r in rows:
                key = r["ref"]["key"]
                if r["reason"] == UNMATCHED and key in scope and key not in still:
                    fixed.append(
                        {**r, "plan_id": later.id, "actions": len(again["actions"])}
                    )
            rows = [
                r
                for r in rows
                if not (r["reason"] == UNMATCHED and r["ref"]["key"] in scope)
            ] + fresh
        rows = unmatched_rows(rows)
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["reason"]] = counts.get(r["reason"], 0) + 1
        page, cursor, total = page_skips(rows, query)
        return {
            "plan": {k: shown[k] for k in ("id", "created_at", "status")},
            "rows": page,
            "next": cursor,
            "total": total,
            "counts": counts,
            "fixed": fixed,
        }

    async def fix_mapping(
        self,
        profile: str,
        anchor: str,
        source: str,
        target: str,
        source_range: str = "1-",
        target_range: str = "1-",
    ) -> RunResult:
        """Write an override for an unmatched entry, then preview just that entry.

        The override goes into the custom mappings file (comments kept); the
        index is reloaded and a targeted dry run re-plans `anchor`, so the kept
        preview shows what the entry would now get.

        Raises:
            BackendError: a descriptor or range is malformed, or the override file
                would not load (422, naming the problem).
        """
        self._prof(profile)
        for name, value in (("source", source), ("target", target)):
            parts = value.strip().split(":")
            if len(parts) not in (2, 3) or not all(parts):
                raise BackendError(
                    f"{name} {value!r} is not an id like anilist:21 or "
                    "tvdb_show:81797:s1"
                )
        known = self._titles.get((self._profiles[profile].cfg.source.key, anchor), {})
        note = f"{known.get('title') or anchor}: fixed from the Unmatched page"
        try:
            text = add_override(
                self.overrides_text(),
                source.strip(),
                target.strip(),
                source_range.strip() or "1-",
                target_range.strip() or "1-",
                note=note,
            )
        except (YAMLError, ValueError) as exc:
            raise BackendError(
                f"{CUSTOM_MAPPINGS} cannot be edited: {clip(str(exc), 200)}",
                status=422,
            ) from exc
        await asyncio.to_thread(self.write_overrides, text)
        log.info(
            "profile %s: override %s -> %s for %s", profile, source, target, anchor
        )
        request = SyncRequest(
            SyncMode.TARGETED,
            dry_run=True,
            refs=frozenset({anchor}),
            reasons=("fix mapping",),
        )
        return await self.run(profile, request)

    def title_search(self, text: str, limit: int = 50) -> list[dict[str, Any]]:
        """Entries seen in any profile whose title has all the words, with their ids.

        The dataset has ids only; titles come from what providers returned.
        """
        words = text.lower().split()
        if not words:
            return []
        found = []
        for (provider, anchor), shown in list(self._titles.items()):
            title = str(shown.get("title") or "")
            if shown.get("borrowed") or not all(w in title.lower() for w in words):
                continue
            found.append(
                {
                    "provider": provider,
                    "anchor": anchor,
                    "title": title,
                    "kind": shown.get("kind"),
                    "ids": list(shown.get("ids") or ()),
                    "seasons": list(shown.get("seasons") or ()),
                }
            )
        found.sort(key=lambda f: (len(f["title"]), f["title"].lower()))
        return found[:limit]

    # -- history -----------------------------------------------------------------
    def runs(self, profile: str, limit: int = 50) -> list[dict[str, Any]]:
        """Recent runs, newest first."""
        if self.store is None:
            return []
        return [_run_json(r) for r in self.store.runs(profile, limit)]

    def history(
        self,
        profile: str,
        *,
        outcome: str | None = None,
        provider: str | None = None,
        run_id: str | None = None,
        query: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Journal rows with per-action diffs, newest first (one page)."""
        return self.history_page(
            profile,
            HistoryQuery(outcome, provider, run_id, query, limit=limit),
        )["rows"]

    def history_page(self, profile: str, query: HistoryQuery) -> dict[str, Any]:
        """One page of journal rows, newest first, and the cursor of the next.

        Each row says whether an undo reverted that very entry (``undone``):
        undo state belongs to a journal entry (run id, action id), not to an
        action id, which repeats when the same write is planned again.
        """
        if self.store is None:
            return {"rows": [], "next": None}
        runs, entries = self.store.profile_journal(profile)
        undone = undone_entries(runs, entries)
        kinds = {r.id: r.kind for r in runs}
        rows = []
        for seq, entry in entries:
            row = asdict(entry)
            row["seq"] = seq
            row["run_kind"] = kinds.get(entry.run_id, "")
            row["undone"] = (entry.run_id, entry.action_id) in undone
            row.update(self._display(entry.provider, entry.ref))
            rows.append(row)
        page, cursor = page_rows(rows, query)
        return {"rows": page, "next": cursor}

    def undone_runs(self, profile: str) -> set[str]:
        """Runs none of whose applied entries is left to undo (`service.undo`)."""
        if self.store is None:
            return set()
        return undo_service.undone_runs(self.store, profile)

    def _run_id(self, profile: str, run_id: str) -> str:
        """The whole id of the profile's run `run_id` names (or starts with).

        Raises:
            BackendError: 404 for no such run, 400 for an ambiguous prefix.
        """
        from anibridge.app.service.run_ids import resolve_run

        if self.store is None:
            return run_id
        return resolve_run(self.store, run_id, profile=profile).id

    async def undo_preview(self, profile: str, run_id: str) -> dict[str, Any]:
        """What undoing a whole run would write, read against current state."""
        run_id = self._run_id(profile, run_id)
        return await self._job(
            profile, lambda: self._undo_preview(profile, run_id), job="undo preview"
        )

    async def _undo_preview(self, profile: str, run_id: str) -> dict[str, Any]:
        prof = self._prof(profile)
        stores = self._stores()
        run = stores.runs.run(run_id)
        if run is None or run.profile != profile:
            raise BackendError(f"no run {run_id!r} for {profile!r}", status=404)
        plan = await undo_service.preview(
            prof.providers, stores, profile=profile, run_id=run_id
        )
        data = self.name_rows(plan_json(plan))
        data["run"] = _run_json(run)
        data["undone"] = run_id in self.undone_runs(profile)
        return data

    def name_rows(self, data: dict[str, Any]) -> dict[str, Any]:
        """A plan JSON's rows with how each names its entry (`_display`), in place."""
        for item in data["actions"] + data["skipped"]:
            item.update(self._display(item["provider"], item["ref"], item.get("title")))
        return data

    async def undo_whole_run(self, profile: str, run_id: str) -> RunResult:
        """Revert every applied change of one run (one undo run).

        Raises:
            BackendError: 404 for an unknown run, 409 when it is already undone.
        """
        run_id = self._run_id(profile, run_id)
        undo_service.check_undoable(
            self._stores(), profile, run_id, undone=self.undone_runs(profile)
        )
        return await self._job(
            profile, lambda: self._undo_whole(profile, run_id), job="undo"
        )

    async def _undo_whole(self, profile: str, run_id: str) -> RunResult:
        prof = self._prof(profile)
        with self._backups_before_writes(prof):
            result = await undo_service.revert(
                prof.providers,
                self._stores(),
                profile=profile,
                run_id=run_id,
                stop=self._stop_of(prof),
            )
        return RunResult(
            result.run.status, result.run.id, None, dict(result.run.summary)
        )

    async def undo(
        self, profile: str, action_ids: Sequence[str], run_id: str | None = None
    ) -> RunResult:
        """Revert applied actions one by one (each becomes an undo run).

        With `run_id`, that run's entries of the actions; otherwise each action's
        latest entry.
        """
        return await self._job(
            profile, lambda: self._undo(profile, action_ids, run_id), job="undo"
        )

    async def _undo(
        self, profile: str, action_ids: Sequence[str], run_id: str | None = None
    ) -> RunResult:
        prof = self._prof(profile)
        stores = self._stores()
        counts: dict[str, int] = {}
        last: SyncResult | None = None
        errors: list[str] = []
        for action_id in action_ids:
            try:
                with self._backups_before_writes(prof):
                    last = await undo_service.revert(
                        prof.providers,
                        stores,
                        profile=profile,
                        run_id=run_id,
                        action_id=action_id,
                        stop=self._stop_of(prof),
                    )
            except NotFound as exc:
                errors.append(str(exc))
                continue
            for k, v in last.run.summary.items():
                if isinstance(v, int):
                    counts[k] = counts.get(k, 0) + v
        if last is None:
            raise BackendError("; ".join(errors) or "nothing to undo", status=404)
        status = "ok" if not errors and not counts.get("failed") else "partial"
        return RunResult(status, last.run.id, None, counts, "; ".join(errors) or None)

    async def retry(self, profile: str, action_ids: Sequence[str]) -> RunResult:
        """Re-plan and apply the failed actions that are still wanted."""
        return await self._job(
            profile, lambda: self._retry(profile, action_ids), job="retry"
        )

    async def _retry(self, profile: str, action_ids: Sequence[str]) -> RunResult:
        prof = self._prof(profile)
        assert prof.session is not None
        with self._backups_before_writes(prof):
            done_ = await apply_approved(
                prof.session,
                self._stores(),
                prof.policy,
                set(action_ids),
                index=self.index,
                stop=self._stop_of(prof),
            )
        if done_.result is None:
            return RunResult("refused", error=done_.refused)
        result = done_.result
        self._remember_titles(result)
        gone = len(done_.outdated)
        return RunResult(
            result.run.status,
            result.run.id,
            result.plan.id,
            {**result.run.summary, "no_longer_needed": gone},
        )

    # -- display helpers -----------------------------------------------------------
    def _remember_titles(self, result: SyncResult) -> None:
        self._remember_snapshots(result.snapshots)
        prof = self._profiles.get(result.run.profile)
        if prof is None or self.store is None:
            return
        # Entries a run created on the target have no title there yet: borrow the
        # linked source anchor's title.
        src, tgt = prof.cfg.source.key, prof.cfg.target.key
        for a, b in ((src, tgt), (tgt, src)):
            for link in self.store.links(prof.name, a, b):
                anchor = link.target_ref.split("/", 1)[0]
                self._source_of[(b, anchor)] = (a, link.source_key)
                shown = self._titles.get((a, link.source_key))
                if shown and (b, anchor) not in self._titles:
                    self._titles[(b, anchor)] = {**shown, "borrowed": True}
        try:  # titles survive a restart (`app.service.titles`)
            atomic_write(self.loaded.data_dir / TITLES_FILE, dump_titles(self._titles))
        except OSError as exc:
            log.warning("titles not kept for the next start: %s", exc)

    def _remember_snapshots(self, snapshots: Mapping[str, Snapshot]) -> None:
        self._titles.update(titles_of(snapshots))

    async def _fetch_artwork(
        self, prof: _Profile, plan: Plan, limit: int = 200
    ) -> None:
        """Posters for the entries a plan shows, where a provider offers ARTWORK.

        One batched node read per provider, for entries not seen yet; entries a run
        would create on the target borrow the linked source's poster. Best effort:
        a failure only means no pictures.
        """
        wanted: dict[str, set[str]] = {}
        for action in plan.actions[:limit]:
            wanted.setdefault(action.provider, set()).add(action.ref.key)
            origin = self._source_of.get((action.provider, action.ref.key))
            if origin is not None:
                wanted.setdefault(origin[0], set()).add(origin[1])
        for key, anchors in wanted.items():
            provider = prof.providers.get(key)
            if not isinstance(provider, SupportsNodeReads):
                continue
            if FacetName.ARTWORK not in provider.capabilities().facets:
                continue
            todo = [a for a in sorted(anchors) if (key, a) not in self._artwork]
            for i in range(0, len(todo), 100):
                chunk = tuple(Ref(a) for a in todo[i : i + 100])
                try:
                    nodes = await _all_pages(
                        lambda c, chunk=chunk, provider=provider: provider.fetch_nodes(
                            NodeQuery(
                                refs=chunk,
                                facets=frozenset({FacetName.ARTWORK}),
                                cursor=c,
                            )
                        )
                    )
                except Exception as exc:
                    log.info("no artwork from %s: %s", key, exc)
                    break
                for ref in chunk:
                    self._artwork[(key, ref.key)] = None
                for node in nodes:
                    art = node.facets.get(FacetName.ARTWORK)
                    self._artwork[(key, node.ref.key)] = getattr(art, "poster", None)
        for action in plan.actions[:limit]:
            here = (action.provider, action.ref.key)
            origin = self._source_of.get(here)
            if not self._artwork.get(here) and origin and self._artwork.get(origin):
                self._artwork[here] = self._artwork[origin]

    def _display(
        self, provider: str, ref_json: Mapping[str, Any], title: str | None = None
    ) -> dict[str, Any]:
        """How a row names its entry; `title` is the one kept with the row, if any."""
        ref = ref_from_json(ref_json)
        shown = dict(self._titles.get((provider, ref.key), {}))
        poster = self._artwork.get((provider, ref.key))
        if poster and not shown.get("poster"):
            shown["poster"] = poster
        label = shown.get("title") or title or ref.key
        if ref.path:
            label += " · " + " ".join(f"{s.axis} {s.value}" for s in ref.path)
        shown["ref_label"] = label
        shown["ref_id"] = ref_id(ref)
        shown["anchor_id"] = ref_id(Ref(ref.key))
        return shown

    # -- pins ------------------------------------------------------------------------
    def pins(self, profile: str) -> list[dict[str, Any]]:
        """Pins of a profile (`anibridge.app.service.pins`)."""
        from anibridge.app.service.pins import list_pins

        if self.store is None:
            return []
        return [v.to_json() for v in list_pins(self.store, profile)]

    def set_pin(
        self, profile: str, provider: str, ref: str, fields: Sequence[str]
    ) -> dict[str, Any]:
        """Replace the pins of a target entry (empty `fields` unpins)."""
        from anibridge.app.service.pins import set_pins

        prof = self._prof(profile)
        view = set_pins(
            self._stores().pins,
            profile,
            provider,
            ref,
            fields,
            merge=False,
            providers=prof.providers.keys(),
        )
        return view.to_json()

    # -- inbound ---------------------------------------------------------------------
    def webhook_providers(self) -> list[str]:
        """Provider keys (sources) that parse inbound changes."""
        keys = []
        for prof in self._profiles.values():
            key = prof.cfg.source.key
            if isinstance(prof.providers.get(key), SupportsInboundChanges):
                keys.append(key)
        return sorted(set(keys))

    async def parse_inbound(self, profile: str, request: InboundRequest) -> InboundRefs:
        """Parse a webhook with the profile's source provider, never on its loop.

        `parse_inbound` only reads the payload and the provider's settings (no I/O),
        so it never waits for the profile's loop, which may be busy planning: small
        bodies are parsed right here, big ones in a worker thread on a throwaway
        loop so the web server's loop is not held either. Malformed payloads (the
        provider raises ValueError, KeyError or TypeError) are refused with 400; an
        unexpected failure is logged and turns into "read everything" so no change
        is lost.

        Raises:
            BackendError: 400 for a malformed payload, 409 if the profile is down.
        """
        prof = self._prof(profile)
        key = prof.cfg.source.key
        provider = prof.providers.get(key)
        if not isinstance(provider, SupportsInboundChanges):
            return InboundRefs(False)
        try:
            if len(request.body) <= INLINE_PARSE_BYTES:
                parsed = await provider.parse_inbound(request)
            else:
                parsed = await asyncio.to_thread(_parse_now, provider, request)
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendError(
                f"{key} webhook payload refused: {clip(str(exc), 300)}", status=400
            ) from None
        except Exception:
            log.exception("profile %s: parsing a %s webhook failed", profile, key)
            return InboundRefs(True, whole=True)
        if not parsed.matched:
            return InboundRefs(False)
        keys = {c.ref.key for c in parsed.changes if c.ref is not None}
        whole = any(c.ref is None for c in parsed.changes)
        return InboundRefs(True, frozenset(keys), whole)

    def webhook_profiles(self, provider: str) -> list[str]:
        """Profiles whose source is `provider` and that accept webhooks."""
        return [
            p.name
            for p in self._profiles.values()
            if p.cfg.source.key == provider and p.cfg.schedule.webhooks and p.ready
        ]

    # -- mappings --------------------------------------------------------------------
    @property
    def custom_mappings_path(self) -> Path:
        """The custom override file edited from the UI."""
        return self.loaded.data_dir / CUSTOM_MAPPINGS

    def mapping_lookup(self, descriptor: str) -> dict[str, Any]:
        """Edges of one descriptor in the effective dataset."""
        source = parse_descriptor(descriptor)  # the CLI's parser and message
        if self.index is None:
            raise BackendError("mappings are still loading", status=503)
        edges = edge_rows(self.index, str(source), self._origin)
        return {"descriptor": str(source), "edges": edges}

    def mapping_browse(
        self, text: str, limit: int = 20, *, titles: bool = True
    ) -> dict[str, Any]:
        """Titles matching `text` with their ids' mappings, then ids containing it.

        `titles` False searches ids only: the titles are those every profile's
        providers returned, which one account must not read of another's.
        """
        if self.index is None:
            raise BackendError("mappings are still loading", status=503)
        return browse(
            self.index,
            self.title_search(text, limit) if titles else [],
            self.mapping_search(text, limit),
            self._origin,
        )

    def mapping_search(self, text: str, limit: int = 50) -> list[str]:
        """Descriptors containing `text` (the browser's search box), sorted."""
        needle = text.strip().lower()
        if not needle or self.index is None:
            return []
        index = self.index
        if self._descriptors is None or self._descriptors[0] is not index:
            self._descriptors = (index, index.descriptors())
        found = []
        for descriptor in self._descriptors[1]:
            if needle in descriptor:
                found.append(descriptor)
                if len(found) >= limit:
                    break
        return found

    def _origin(self, origin: str) -> str:
        """Where an edge came from, as a person reads it (no server paths)."""
        if origin == str(self.custom_mappings_path):
            return "your overrides"
        if "://" in origin:
            return origin
        return Path(origin).name or origin

    def overrides_text(self) -> str:
        """The custom file's text."""
        path = self.custom_mappings_path
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def validate_overrides(self, text: str) -> list[Problem]:
        """Every problem of a custom mappings text, with its line; [] = valid."""
        return check_overrides(text)

    def write_overrides(self, text: str) -> None:
        """Save the custom file atomically and reload the index."""
        problems = self.validate_overrides(text)
        if problems:
            raise BackendError("; ".join(str(p) for p in problems), status=422)
        atomic_write(self.custom_mappings_path, text)
        self.index = self._load_index()

    # -- backups -----------------------------------------------------------------------
    @property
    def backup_dir(self) -> Path:
        """Backups live here, one folder per profile."""
        return self.loaded.backup_dir

    @contextlib.contextmanager
    def _backups_before_writes(self, prof: _Profile) -> Iterator[None]:
        """Back each provider up before its first write of this job (runtime's rule).

        `runtime.guard_writes` wraps the providers' write methods for one job; the
        wrappers are instance attributes, removed afterwards so the next job starts
        with a fresh "not backed up yet" state.
        """
        session = prof.session
        if session is None:
            yield
            return
        guard_writes(session, run_id=lambda: None)
        try:
            yield
        finally:
            for provider in session.providers.values():
                for method in ("write_records", "write_events"):
                    provider.__dict__.pop(method, None)

    def backups(self, profile: str) -> list[dict[str, Any]]:
        """Indexed backups of a profile whose file is in the folder, newest first."""
        if self.store is None:
            return []
        return [
            {
                "name": path.name,
                "provider": b.provider,
                "size": b.size,
                "created_at": b.created_at,
                "sha256": b.sha256,
            }
            for b, path in indexed(self.store, self.backup_dir, profile)
        ]

    def _backup(self, profile: str, name: str) -> tuple[BackupEntry, Path]:
        if not _SAFE_NAME.match(name) or self.store is None:
            raise BackendError(f"no backup {name!r}", status=404)
        for b, path in indexed(self.store, self.backup_dir, profile):
            if path.name == name:
                return b, path
        raise BackendError(f"no backup {name!r} for {profile!r}", status=404)

    def backup_file(self, profile: str, name: str) -> Path:
        """A backup's path: only indexed names inside the folder are served."""
        return self._backup(profile, name)[1]

    async def restore_backup(self, profile: str, name: str) -> RunResult:
        """Validate the chosen backup, back up the current state, import it."""
        return await self._job(
            profile, lambda: self._restore(profile, name), job="restore"
        )

    async def _restore(self, profile: str, name: str) -> RunResult:
        prof = self._prof(profile)
        entry, path = self._backup(profile, name)
        if entry.provider not in prof.providers:
            raise BackendError(f"provider {entry.provider!r} is not in {profile!r}")
        assert prof.session is not None
        payload = path.read_bytes()
        try:
            safety = await restore_payload(
                prof.session, entry.provider, payload, source=path
            )
        except BackupRefused as exc:
            raise BackendError(f"{name}: {exc}") from None
        log.info("profile %s: restored %s into %s", profile, name, entry.provider)
        return RunResult(
            "ok",
            summary={"restored": name, "provider": entry.provider},
            error=None if safety else "no safety backup could be taken",
        )

    # -- config ----------------------------------------------------------------------
    def config_text(self) -> str:
        """The config with every secret replaced by ``***`` (`service.config`)."""
        return config_service.masked_text(self.loaded.path)

    def validate_config(self, text: str) -> list[str]:
        """Problems with an edited config text (`service.config.check_text`)."""
        return config_service.check_text(
            text, path=self.loaded.path, environ=self._environ
        )

    def write_config(self, text: str) -> config_service.Saved:
        """Save a validated config (`service.config.save`).

        Raises:
            ConfigInvalid: the text fails validation (422); nothing is written.
        """
        return config_service.save(text, path=self.loaded.path, environ=self._environ)


def _parse_now(
    provider: SupportsInboundChanges, request: InboundRequest
) -> InboundResult:
    return asyncio.run(provider.parse_inbound(request))


def _run_json(run: Any) -> dict[str, Any]:
    data = asdict(run)
    data["summary"] = dict(run.summary)
    return data


def _skipped_count(plan: dict[str, Any]) -> int:
    """Skipped candidates as the CLI counts them (`explain.plan_counts`).

    Plans kept before the counts were stored are counted the same way here.
    """
    counts = plan.get("counts")
    if isinstance(counts, dict) and isinstance(counts.get("skipped"), dict):
        return sum(counts["skipped"].values())
    return sum(1 for s in plan["skipped"] if s.get("reason") != "unchanged")
