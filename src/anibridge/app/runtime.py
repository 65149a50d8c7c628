"""Running a profile: config → store → lock → providers → `run_sync` → summary.

Shared by the CLI and the service: it builds the providers a profile names (with
the encrypted token store), takes the profile lock and recovers the profile
(`anibridge.app.lifecycle`) before they initialize, backs each target up before its
first write, reports progress per written batch, carries the stop request (Ctrl-C,
SIGTERM) the engine honours between batches, and condenses the result into the
summary the CLI prints and `--json` emits.

It sits above `anibridge.app.service` (backups, the read policy) and below the front
ends; what the use cases are handed (`Session`, `StopFlag`, `summarize`) lives in
`anibridge.app.session` and is re-exported here for the front ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from anibridge import progress
from anibridge.app.config import LoadedConfig, ProfileConfig, build_provider
from anibridge.app.service.backups import write_backup
from anibridge.app.service.problems import start_provider
from anibridge.app.session import Preflight, Session, StopFlag, summarize
from anibridge.bridge.model import (
    DEFAULT_NON_REGRESSION,
    ConflictRule,
    Direction,
    Policy,
    ProgressMode,
    Rule,
    SkipReason,
)
from anibridge.provider.base import (
    Provider,
    RecordField,
)
from anibridge.store import ProfileLock, SqlStore, TokenStore, load_secret_key

__all__ = [
    "HELD_BACK",
    "Preflight",
    "Session",
    "StopFlag",
    "close_session",
    "open_session",
    "policy_for",
    "start_provider",
    "summarize",
    "write_backup",
]

log = logging.getLogger("anibridge.app")

# Skip reasons that mean "a wanted change was held back by policy".
HELD_BACK = frozenset(
    {
        SkipReason.PINNED,
        SkipReason.REGRESSION,
        SkipReason.NOT_WRITABLE,
        SkipReason.RULE,
        SkipReason.GUARD,
        SkipReason.CONFLICT,
        SkipReason.DELETES_OFF,
        SkipReason.IMPRECISE,
    }
)


def _non_regression(allowed: bool | list[RecordField]) -> frozenset[RecordField]:
    """The fields kept from moving backwards, given the profile's exceptions."""
    if allowed is True:
        return frozenset()
    if allowed is False:
        return DEFAULT_NON_REGRESSION
    return DEFAULT_NON_REGRESSION - frozenset(allowed)


def policy_for(name: str, profile: ProfileConfig, config: LoadedConfig) -> Policy:
    """The engine policy a profile's settings describe."""
    fields = (
        frozenset(RecordField)
        if profile.fields == "all"
        else frozenset(RecordField(f) for f in profile.fields)
    )
    return Policy(
        profile=name,
        direction=Direction(profile.direction),
        fields=fields,
        non_regression=_non_regression(profile.allow_regression),
        allow_deletes=profile.allow_deletes,
        progress_mode=ProgressMode(profile.progress_mode),
        timezone=profile.timezone or config.app.timezone,
        conflict=ConflictRule(profile.conflict),
        priority=tuple(profile.priority),
        max_delete_fraction=profile.max_delete_fraction,
        rules=tuple(
            Rule(
                r.name,
                frozenset(RecordField(f) for f in r.fields),
                frozenset(r.when_target_status),
                frozenset(r.when_desired_status),
                frozenset(r.when_provider),
            )
            for r in profile.rules
        ),
        status_inference_overrides=profile.status_inference_overrides,
        sync_events=profile.sync_events,
        fuzzy_threshold=profile.fuzzy_threshold,
        empty_status=profile.empty_status,
    )


async def open_session(
    config: LoadedConfig,
    profile_name: str | None,
    *,
    purpose: str = "run",
    wait: float | None = None,
) -> Session:
    """Open the store, take the profile lock, initialize the providers, recover.

    The lock is held until `close_session` (`lifecycle.release` lets go earlier);
    it is taken before any provider initializes, so nothing of the profile is read
    or created (a local file seeded) while another run holds it. Then runs left
    ``running`` by dead processes are marked interrupted and the journal is
    reconciled (`session.recovery`).

    Args:
        config: The loaded config.
        profile_name: The profile (None: the only/default one).
        purpose: What the lock holder is doing (shown to a waiting run).
        wait: Seconds to wait for the lock (default: ``lock_wait``).

    Raises:
        ConfigError: unknown profile.
        StoreError: the store cannot be opened.
        ProviderLoadError: a provider is unknown, missing or rejects its config.
        SecretError: a secret cannot be resolved.
        ProfileBusy: another run holds the profile's lock.
    """
    from anibridge.app.lifecycle import recover, take_lock

    name, profile = config.profile(profile_name)
    specs = (("source", profile.source), ("target", profile.target))
    # Build first (no I/O): a bad provider config fails before anything is touched.
    holders = {spec.key: _TokenHolder() for _, spec in specs}
    providers: dict[str, Provider] = {
        spec.key: build_provider(
            spec,
            where=f"profiles.{name}.{side}",
            base_dir=config.base_dir,
            token_store=holders[spec.key],
        )
        for side, spec in specs
    }
    # Then check every provider's files without writing: one unusable file must
    # fail before the store, the secret key or another provider's file appears.
    for provider in providers.values():
        if isinstance(provider, Preflight):
            provider.preflight()
    store = SqlStore(config.store_url)
    initialized: list[Provider] = []
    lock: ProfileLock | None = None
    try:
        lock = await take_lock(
            store,
            name,
            purpose=purpose,
            wait=config.app.lock_wait if wait is None else wait,
        )
        key = load_secret_key(config.data_dir)
        for spec_key, holder in holders.items():
            holder.inner = TokenStore(store, key, namespace=f"{name}/{spec_key}")
        for side, spec in specs:
            provider = providers[spec.key]
            if provider in initialized:
                continue
            await start_provider(provider, spec.key, where=f"profiles.{name}.{side}")
            initialized.append(provider)
        recovery = await recover(store, providers, name)
    except BaseException:
        for provider in initialized:
            await provider.close()
        if lock is not None:
            lock.release()
        store.close()
        raise
    return Session(
        config, store, name, profile, providers, lock=lock, recovery=recovery
    )


class _TokenHolder:
    """The token store handed to a provider before the store is open."""

    def __init__(self) -> None:
        self.inner: TokenStore | None = None

    async def load(self, key: str) -> dict[str, Any] | None:
        """See `TokenStore.load`."""
        return None if self.inner is None else await self.inner.load(key)

    async def save(self, key: str, tokens: dict[str, Any]) -> None:
        """See `TokenStore.save`."""
        if self.inner is not None:
            await self.inner.save(key, tokens)


async def close_session(session: Session) -> None:
    """Close providers, release the profile lock, close the store."""
    from anibridge.app.lifecycle import release

    try:
        for provider in session.providers.values():
            await provider.close()
    finally:
        release(session)
        session.store.close()


def guard_writes(
    session: Session,
    *,
    run_id: Callable[[], str | None],
    on_batch: Callable[[int], None] | None = None,
) -> None:
    """Wrap every provider's write methods: backup first, then progress.

    The wrappers are instance attributes, so `isinstance` checks and the engine see
    the same provider; nothing in the engine changes. (Stopping between batches is
    the engine's job: pass ``stop=session.stop`` to `run_sync`.)
    """
    backed_up: set[str] = set()
    settings = session.config.app.backups

    for key, provider in session.providers.items():
        for method in ("write_records", "write_events"):
            original = getattr(provider, method, None)
            if original is None:
                continue

            async def wrapped(
                writes: Any,
                *,
                _key: str = key,
                _original: Any = original,
                _method: str = method,
            ) -> Any:
                session.stop.writes_started = True
                if settings.before_write and _key not in backed_up and writes:
                    backed_up.add(_key)
                    await write_backup(session, _key, run_id=run_id())
                try:
                    results = await _original(writes)
                finally:
                    progress.emit(progress.Wrote(_key, len(writes)))
                if on_batch is not None:
                    on_batch(len(writes))
                return results

            setattr(provider, method, wrapped)


@dataclass(slots=True)
class Incremental:
    """What the change feeds say since the last committed run.

    The hosted runner's view of `anibridge.app.service.runs.Reads`.
    """

    snapshots: dict[str, Any] = field(default_factory=dict)
    cursor_after: str | None = None
    nothing_changed: bool = False
    touched: int = 0
    cursors: dict[str, str] = field(default_factory=dict)


async def plan_incremental(
    session: Session, *, full: bool, refs: Iterable[str] = ()
) -> Incremental:
    """What a run reads: `anibridge.app.service.runs.plan_reads` (one policy).

    A first run, `full`, a source without a change feed, a change that names no
    ref, earlier writes that recovery just found did not land, or a two-way
    profile whose target changed (or has no feed) reads everything; otherwise
    only the touched anchors are re-read. The feeds' heads are taken before
    anything is read, so changes made during the run are seen
    next time. `refs` makes it a targeted read of those source anchors only
    (a preview of a fixed mapping).
    """
    from anibridge.app.service.runs import RunRequest, plan_reads

    wanted = frozenset(refs)
    mode = "targeted" if wanted else "full" if full else "incremental"
    reads = await plan_reads(
        session, session.store.bundle(), RunRequest(mode, refs=wanted)
    )
    return Incremental(
        snapshots=reads.snapshots,
        cursor_after=reads.cursors.get(session.profile.source.key),
        nothing_changed=reads.nothing_changed,
        touched=reads.touched,
        cursors=dict(reads.cursors),
    )


def commit_cursor(session: Session, incremental: Incremental) -> None:
    """Remember where the change feeds were read up to (after a clean run)."""
    for key, cursor in incremental.cursors.items():
        session.store.set_cursor(session.name, key, cursor)
