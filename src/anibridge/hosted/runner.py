"""`EngineRunner`: runs hosted jobs with the same engine and store as the CLI.

A job of a profile opens its session (providers built and initialized, the store),
runs one use case, and closes it again: a worker holds nothing of a profile between
jobs, so any worker can take the next one. Failures are sorted for the queue: a
rate limit, an unreachable service or a busy profile is `RetryLater`; an unknown
profile, an unusable config or rejected credentials is `JobFailed`; a plan refused
by a guard is a run outcome, not a job failure. Provider failures carry the one
line of `anibridge.app.service.problems`.

A preview keeps its plan in the shared database (`anibridge.hosted.plans`) for the
web service to show; an apply of a kept plan records there what it wrote, as the
single-user service does in its plan files. An undo preview only reads: its
result is the plan an undo would run, shown by the web service when the job is
done.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from anibridge.hosted.inbox import InboxEntry, consume, pending
from anibridge.hosted.jobs import Job, JobFailed, RetryLater

log = logging.getLogger("anibridge.hosted")

__all__ = ["EngineRunner"]


class EngineRunner:
    """Runs jobs for the profiles of one loaded config.

    Args:
        config: The deployment's loaded config.
        busy_wait: Seconds before a job whose profile another process holds is
            tried again.
    """

    def __init__(self, config: Any, *, busy_wait: float = 30.0) -> None:
        """Bind to `config`; nothing is opened until a job runs."""
        self.config = config
        self.busy_wait = busy_wait
        self._index: Any = None
        self._overrides = 0  # the version of the shared overrides in `_index`
        self._index_lock = threading.Lock()  # jobs run on several threads

    def _mappings(self, engine: Any = None) -> Any:
        """The mappings index: the config's files, then the shared overrides.

        The overrides the web service edits live in the database
        (`anibridge.hosted.overrides`); the index is rebuilt when their version
        moved, so a job plans with the overrides saved before it started.
        """
        from anibridge.hosted import overrides

        with self._index_lock:
            number = overrides.version(engine) if engine is not None else 0
            if self._index is not None and number == self._overrides:
                return self._index
            from anibridge.mappings import load_index

            app = self.config.app
            paths = [str(self.config.resolve(p)) for p in app.mappings.custom]
            if number:
                number, text = overrides.read(engine)
                folder = self.config.data_dir / "hosted"
                paths.append(str(overrides.local_copy(folder, number, text)))
            self._index = load_index(
                paths, include_default=app.mappings.include_default, notice=None
            )
            self._overrides = number
            return self._index

    async def run(self, job: Job) -> dict[str, Any]:
        """Run `job` (see the module docstring for how failures are sorted).

        Returns:
            The use case's summary.

        Raises:
            RetryLater: a service limited or failed us; try again later.
            JobFailed: the job cannot succeed.
        """
        from anibridge.app.config import ConfigError, ProviderLoadError, SecretError
        from anibridge.app.service.problems import ProviderFailed, message_of
        from anibridge.http import HttpError
        from anibridge.provider.base import WriteError
        from anibridge.store import ProfileBusy

        try:
            if job.kind == "sync":
                return await self._sync(job)
            if job.kind == "apply":
                return await self._apply(job)
            if job.kind == "undo":
                return await self._undo(job)
            if job.kind == "retry":
                return await self._retry(job)
            if job.kind == "restore":
                return await self._restore(job)
            if job.kind == "undo_preview":
                return await self._undo_preview(job)
            if job.kind == "mappings_refresh":
                return await self._refresh_mappings()
        except ProfileBusy as exc:
            # Another process runs this profile (a CLI run, or this very job from a
            # worker that only looked dead): try again once it is done.
            raise RetryLater(str(exc), wait=self.busy_wait) from exc
        except (ConfigError, ProviderLoadError, SecretError) as exc:
            raise JobFailed(str(exc)) from exc
        except ProviderFailed as exc:
            # A provider could not start: the one line a person reads. Down,
            # unreachable or rate limited is worth another try; rejected
            # credentials or a rejected config are not.
            cause = exc.__cause__
            if isinstance(cause, HttpError) and cause.code in (
                WriteError.RATE_LIMITED,
                WriteError.TRANSIENT,
            ):
                raise RetryLater(str(exc), wait=60.0) from exc
            raise JobFailed(str(exc)) from exc
        except HttpError as exc:
            if exc.code in (WriteError.RATE_LIMITED, WriteError.TRANSIENT):
                raise RetryLater(message_of(exc), wait=60.0) from exc
            raise
        raise JobFailed(f"job kind {job.kind!r} is not run by this worker")

    async def _refresh_mappings(self) -> dict[str, Any]:
        from anibridge.mappings.update import update_dataset

        result = await update_dataset()
        if result.status == "updated":
            self._index = None
        return {"status": result.status}

    async def _open(self, job: Job) -> Any:
        """The job's profile session, under the profile lock (`open_session`)."""
        from anibridge.app.runtime import guard_writes, open_session

        if job.profile not in self.config.app.profiles:
            raise JobFailed(f"profile {job.profile!r} does not exist (any more)")
        session = await open_session(
            self.config, job.profile, purpose=f"job {job.id}", wait=0
        )
        guard_writes(session, run_id=lambda: None)
        return session

    async def _apply_ids(
        self, job: Job, what: str, *, force: bool
    ) -> tuple[list[str], Any, Any]:
        """Re-plan live and apply the job's action ids; (ids, session, outcome)."""
        from anibridge.app.runtime import close_session, policy_for
        from anibridge.app.service.runs import apply_approved

        ids = [str(i) for i in job.args.get("action_ids") or ()]
        if not ids:
            raise JobFailed(f"{what} job names no action ids")
        session = await self._open(job)
        try:
            done = await apply_approved(
                session,
                session.store.bundle(),
                policy_for(session.name, session.profile, self.config),
                set(ids),
                index=self._mappings(session.store.engine),
                stop=session.stop,
                force=force,
            )
        finally:
            await close_session(session)
        return ids, session, done

    async def _apply(self, job: Job) -> dict[str, Any]:
        """Apply a reviewed plan's approved action ids (`service.runs.apply_approved`).

        The plan is made again against live state: an approved id it no longer has
        is outdated and never written, so a retried job cannot write twice.
        """
        # A person approved these changes, guards included.
        approved, session, done = await self._apply_ids(job, "an apply", force=True)
        plan_id = job.args.get("plan_id")
        out: dict[str, Any] = {"plan_id": plan_id}
        if done.result is None:
            return {**out, "run_id": None, "refused": done.refused}
        run = done.result.run
        if plan_id:
            out["plan_status"] = await asyncio.to_thread(
                _record_on_plan, session, str(plan_id), approved, done
            )
        return {
            **out,
            "run_id": run.id,
            "status": run.status if not done.outdated else "partial",
            "applied_ids": list(done.applied),
            "outdated": list(done.outdated),
            **{k: v for k, v in run.summary.items() if isinstance(v, int)},
        }

    async def _undo(self, job: Job) -> dict[str, Any]:
        """Undo a whole run, or some of its actions (`service.undo.revert`)."""
        from anibridge.app.runtime import close_session
        from anibridge.app.service import undo as undo_service
        from anibridge.app.service.errors import NotFound, ServiceError

        run_id = job.args.get("run_id")
        action_ids = [str(i) for i in job.args.get("action_ids") or ()]
        if not run_id and not action_ids:
            raise JobFailed("an undo job names neither a run nor actions")
        session = await self._open(job)
        try:
            stores = session.store.bundle()
            try:
                if not action_ids:
                    undo_service.check_undoable(
                        stores,
                        session.name,
                        run_id,
                        undone=undo_service.undone_runs(session.store, session.name),
                    )
                    result = await undo_service.revert(
                        session.providers,
                        stores,
                        profile=session.name,
                        run_id=run_id,
                        stop=session.stop,
                    )
                    run = result.run
                    return {"run_id": run.id, "undoes": run_id, **run.summary}
                counts: dict[str, int] = {}
                errors: list[str] = []
                last = None
                for action_id in action_ids:
                    try:
                        last = await undo_service.revert(
                            session.providers,
                            stores,
                            profile=session.name,
                            run_id=run_id,
                            action_id=action_id,
                            stop=session.stop,
                        )
                    except NotFound as exc:
                        errors.append(str(exc))
                        continue
                    for k, v in last.run.summary.items():
                        if isinstance(v, int):
                            counts[k] = counts.get(k, 0) + v
                if last is None:
                    raise JobFailed("; ".join(errors) or "nothing to undo")
                return {"run_id": last.run.id, "errors": errors, **counts}
            except ServiceError as exc:
                # Already undone, a dry run, no such run: retrying cannot help.
                raise JobFailed(str(exc)) from exc
        finally:
            await close_session(session)

    async def _retry(self, job: Job) -> dict[str, Any]:
        """Retry failed actions: re-plan live, apply the ones still wanted.

        Guards apply (no one reviewed this plan), unlike an approved apply.
        """
        _, _, done = await self._apply_ids(job, "a retry", force=False)
        if done.result is None:
            return {"run_id": None, "refused": done.refused}
        run = done.result.run
        return {
            "run_id": run.id,
            "status": run.status,
            "applied_ids": list(done.applied),
            "no_longer_needed": len(done.outdated),
            **{k: v for k, v in run.summary.items() if isinstance(v, int)},
        }

    async def _restore(self, job: Job) -> dict[str, Any]:
        """Restore one indexed backup (`service.backups.restore_payload`).

        The backup files are in the deployment's backups folder, which every
        worker must see (a shared volume: docs/hosting.md); the current state is
        backed up first.
        """
        from anibridge.app.runtime import close_session
        from anibridge.app.service.backups import BackupRefused, indexed

        name = str(job.args.get("name") or "")
        if not name:
            raise JobFailed("a restore job names no backup")
        session = await self._open(job)
        try:
            root = self.config.backup_dir
            found = [
                (entry, path)
                for entry, path in indexed(session.store, root, session.name)
                if path.name == name
            ]
            if not found:
                raise JobFailed(
                    f"no backup {name!r} of {session.name!r} in {root} on this worker"
                )
            entry, path = found[0]
            if entry.provider not in session.providers:
                raise JobFailed(f"provider {entry.provider!r} is not in the profile")
            payload = await asyncio.to_thread(path.read_bytes)
            try:
                safety = await _restore_unguarded(
                    session, entry.provider, payload, path
                )
            except BackupRefused as exc:
                raise JobFailed(f"{name}: {exc}") from exc
        finally:
            await close_session(session)
        return {
            "restored": name,
            "provider": entry.provider,
            "safety_backup": safety.name if safety else None,
        }

    async def _undo_preview(self, job: Job) -> dict[str, Any]:
        """What undoing a whole run would write, read live; nothing is written.

        Returns:
            The undo plan's JSON with ``run`` (the run it would undo) and
            ``undone`` (whether it already is).
        """
        from dataclasses import asdict

        from anibridge.app.runtime import close_session
        from anibridge.app.service import undo as undo_service
        from anibridge.bridge.explain import plan_json

        run_id = str(job.args.get("run_id") or "")
        if not run_id:
            raise JobFailed("an undo preview names no run")
        session = await self._open(job)
        try:
            stores = session.store.bundle()
            run = stores.runs.run(run_id)
            if run is None or run.profile != session.name:
                raise JobFailed(f"no run {run_id!r} for {session.name!r}")
            plan = await undo_service.preview(
                session.providers, stores, profile=session.name, run_id=run_id
            )
            undone = run_id in undo_service.undone_runs(session.store, session.name)
        finally:
            await close_session(session)
        data = plan_json(plan)
        data["run"] = {**asdict(run), "summary": dict(run.summary)}
        data["undone"] = undone
        return data

    async def _sync(self, job: Job) -> dict[str, Any]:
        from anibridge.app.runtime import (
            close_session,
            commit_cursor,
            guard_writes,
            open_session,
            plan_incremental,
            policy_for,
            summarize,
        )
        from anibridge.bridge.model import GuardError, Plan
        from anibridge.bridge.sync import run_sync

        dry_run = bool(job.args.get("dry_run", False))
        full = job.args.get("mode") == "full"
        refs = [str(r) for r in job.args.get("refs") or ()]
        if job.profile not in self.config.app.profiles:
            raise JobFailed(f"profile {job.profile!r} does not exist (any more)")
        # The profile's lock, then recovery (runs left by dead processes marked
        # interrupted, the journal reconciled): `open_session` does both.
        session = await open_session(
            self.config, job.profile, purpose=f"job {job.id}", wait=0
        )
        run_id = uuid.uuid4().hex
        started = time.monotonic()
        try:
            guard_writes(session, run_id=lambda: run_id)
            policy = policy_for(session.name, session.profile, self.config)
            engine = session.store.engine
            inbox = await asyncio.to_thread(pending, engine, job.profile)
            incremental = await plan_incremental(session, full=full, refs=refs)
            if not full and not refs:
                await _target_webhooks(session, incremental, inbox)
            if incremental.nothing_changed:
                await asyncio.to_thread(consume, engine, [e.id for e in inbox], job.id)
                return {"run_id": None, "planned": 0, "changes": 0}
            planned: list[Plan] = []
            try:
                result = await run_sync(
                    session.providers,
                    session.pairs,
                    policy,
                    session.store.bundle(),
                    index=self._mappings(session.store.engine),
                    dry_run=dry_run,
                    run_id=run_id,
                    snapshots=incremental.snapshots or None,
                    on_plan=planned.append,
                )
            except GuardError as exc:
                refused: dict[str, Any] = {"run_id": run_id, "refused": str(exc)}
                if dry_run and planned:
                    # Kept for review: a person may approve what a guard stopped.
                    refused["plan_id"] = await asyncio.to_thread(
                        _keep_plan, session, planned[0], {}, None, incremental
                    )
                return refused
            summary = summarize(
                result,
                result.plan if result else Plan(session.name),
                profile=session.name,
                dry_run=dry_run,
                duration_s=time.monotonic() - started,
                run_id=run_id,
            )
            if dry_run and result is not None:
                summary["plan_id"] = await asyncio.to_thread(
                    _keep_plan,
                    session,
                    result.plan,
                    result.snapshots,
                    result.run.id,
                    incremental,
                )
            if not dry_run and not summary["failed"]:
                commit_cursor(session, incremental)
                await asyncio.to_thread(consume, engine, [e.id for e in inbox], job.id)
            return summary
        finally:
            await close_session(session)


async def _target_webhooks(
    session: Any, incremental: Any, inbox: Sequence[InboxEntry]
) -> None:
    """Narrow a run of a source without a change feed to what its webhooks name.

    A source with a change feed already told `plan_incremental` what changed. One
    without would be read whole; when every recorded webhook parsed into refs, only
    those entries are read (a webhook that names nothing, or cannot be parsed, keeps
    the whole read so no change is lost).
    """
    from anibridge.bridge.collect import collect
    from anibridge.provider.base import Ref, SupportsInboundChanges

    if not inbox or incremental.snapshots or incremental.nothing_changed:
        return
    if incremental.cursor_after is not None:
        return  # a change feed answered: it is the authority
    if session.profile.direction == "two_way":
        return
    key = session.profile.source.key
    source = session.providers.get(key)
    if not isinstance(source, SupportsInboundChanges):
        return
    keys: set[str] = set()
    for entry in inbox:
        try:
            parsed = await source.parse_inbound(entry.request)
        except Exception as exc:  # a stored body that no longer parses: read all
            log.warning(
                "profile %s: webhook %s unreadable: %s", session.name, entry.id, exc
            )
            return
        if not parsed.matched:
            continue
        for change in parsed.changes:
            if change.ref is None:
                return
            keys.add(change.ref.key)
    if keys:
        incremental.snapshots[key] = await collect(
            source, key, refs=[Ref(k) for k in sorted(keys)]
        )


async def _restore_unguarded(session: Any, key: str, payload: bytes, path: Any) -> Any:
    """`restore_payload` with the job's backups-before-writes guard lifted.

    The restore takes its own safety backup first; the job's write guard would
    take a second one of the same state.
    """
    from anibridge.app.service.backups import restore_payload

    provider = session.providers[key]
    for method in ("write_records", "write_events"):
        provider.__dict__.pop(method, None)
    return await restore_payload(session, key, payload, source=path)


def _keep_plan(
    session: Any,
    plan: Any,
    snapshots: Any,
    run_id: str | None,
    incremental: Any,
) -> str:
    """Keep a preview's plan in the shared database, named from `snapshots`; its id."""
    from datetime import UTC, datetime

    from anibridge.app.service.kept_plans import KeptPlan, describe_skips, name_items
    from anibridge.app.service.titles import titles_of
    from anibridge.bridge.explain import plan_json
    from anibridge.hosted.plans import keep

    data = plan_json(plan)
    titles = titles_of(snapshots)
    profile = session.profile
    describe_skips(data["skipped"], titles, profile.source.key, profile.target.key)
    name_items([*data["actions"], *data["skipped"]], titles)
    anchors = sorted(
        {a for snap in incremental.snapshots.values() for a in snap.entries}
    )
    kept = KeptPlan(
        data,
        datetime.now(UTC).isoformat(),
        run_id=run_id,
        scope=anchors or None,
    )
    keep(session.store.engine, session.name, kept)
    return kept.id


def _record_on_plan(session: Any, plan_id: str, approved: Any, done: Any) -> str | None:
    """Note an apply's outcomes on its kept plan; the plan's new status.

    None when the plan is no longer kept (replaced by a newer preview).
    """
    from anibridge.app.service.kept_plans import record_apply
    from anibridge.hosted.plans import find, save

    engine = session.store.engine
    found = find(engine, plan_id)
    if found is None or found[0] != session.name:
        return None
    kept = found[1]
    run_id = done.result.run.id
    entries = session.store.bundle().journal.entries(run_id)
    record_apply(
        kept,
        ((e.action_id, e.outcome) for e in entries),
        approved,
        done.outdated,
        run_id,
    )
    return kept.status if save(engine, session.name, kept) else None
