"""Check a profile's providers: reach, sign-in, identity, capabilities, item counts.

The use case behind ``anibridge check`` and the web's *Test connection* button.
Each provider is built fresh from the config (so a just-saved setting is what is
tested), started with the encrypted token store, asked who it is signed in as and
what it can do, and counted (titles with the user's state, by kind, from a scan
without records). One provider failing never hides another's result: each ends
as a `ProviderCheck` with the `Problem` a person reads
(`anibridge.app.service.problems`).

Nothing is written besides what starting a provider writes anyway (a renewed
token; a local file seeded on first use), and no profile lock is taken: a check
can run beside a sync.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from anibridge.app.service.problems import Problem, ProviderFailed, describe
from anibridge.provider.base import (
    Provider,
    ScanQuery,
    SupportsBackupExports,
    SupportsChangeFeed,
    SupportsEventReads,
    SupportsEventWrites,
    SupportsInboundChanges,
    SupportsRecordWrites,
    SupportsScan,
)

if TYPE_CHECKING:
    from anibridge.app.config import LoadedConfig, ProviderSpec
    from anibridge.store import SqlStore

__all__ = [
    "COUNT_LIMIT",
    "ProfileCheck",
    "ProviderCheck",
    "check_profile",
    "check_profiles",
]

#: Titles counted at most per provider (a check must stay quick on big libraries).
COUNT_LIMIT = 20_000
_PAGE = 500


@dataclass(frozen=True, slots=True)
class ProviderCheck:
    """What checking one provider found.

    Attributes:
        profile: The profile.
        key: The provider's key in the profile.
        type: The provider type (namespace).
        display_name: The provider's name for people.
        side: ``source`` or ``target``.
        reached: The service answered.
        signed_in: It accepted the credentials.
        user: Who it is signed in as (the account's title), when known.
        capabilities: What it can do (roles, writable fields, feeds, …).
        counts: Titles with the user's state, by kind (``total`` included).
        counts_complete: False when counting stopped at `COUNT_LIMIT`.
        problem: Why the check failed, None when it passed.
    """

    profile: str
    key: str
    type: str
    display_name: str
    side: str
    reached: bool = False
    signed_in: bool = False
    user: str | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] | None = None
    counts_complete: bool = True
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        """Whether every step passed."""
        return self.problem is None

    def as_json(self) -> dict[str, Any]:
        """A JSON-able dict (``ok`` and the problem's message/kind included)."""
        out = asdict(self)
        out["ok"] = self.ok
        out["problem"] = (
            None
            if self.problem is None
            else {"message": self.problem.message, "kind": self.problem.kind}
        )
        return out


@dataclass(frozen=True, slots=True)
class ProfileCheck:
    """Every provider of one profile, checked."""

    profile: str
    providers: tuple[ProviderCheck, ...]

    @property
    def ok(self) -> bool:
        """Whether every provider passed."""
        return all(p.ok for p in self.providers)

    @property
    def exit_code(self) -> int:
        """0 when all passed, else the first failure's exit code."""
        for provider in self.providers:
            if provider.problem is not None:
                return provider.problem.exit_code
        return 0


def capability_summary(provider: Provider) -> dict[str, Any]:
    """The capabilities a person cares about, as plain data."""
    caps = provider.capabilities()
    writable = sorted(
        str(name) for name, spec in caps.record_fields.items() if spec.writable
    )
    return {
        "roles": sorted(str(r) for r in caps.roles),
        "record_kinds": sorted(
            f"{d.native or '(default)'}: {d.semantic}" for d in caps.record_kinds
        ),
        "fields": sorted(str(name) for name in caps.record_fields),
        "writable_fields": writable,
        "writes": isinstance(provider, SupportsRecordWrites | SupportsEventWrites),
        "plays": isinstance(provider, SupportsEventReads),
        "change_feed": isinstance(provider, SupportsChangeFeed),
        "webhooks": isinstance(provider, SupportsInboundChanges),
        "backups": isinstance(provider, SupportsBackupExports),
    }


async def count_items(provider: Provider) -> tuple[dict[str, int] | None, bool]:
    """Titles with the user's state, by native kind; whether the count is whole.

    Pages through a record-less scan up to `COUNT_LIMIT` titles.
    """
    if not isinstance(provider, SupportsScan):
        return None, True
    kinds: Counter[str] = Counter()
    cursor: str | None = None
    seen = 0
    while True:
        page = await provider.scan(
            ScanQuery(
                with_records=False, require_activity=True, cursor=cursor, limit=_PAGE
            )
        )
        for item in page.items:
            kinds[item.node.kind] += 1
        seen += len(page.items)
        cursor = page.cursor
        if cursor is None:
            return {"total": seen, **dict(sorted(kinds.items()))}, True
        if seen >= COUNT_LIMIT:
            total = page.total if page.total is not None else seen
            return {"total": total, **dict(sorted(kinds.items()))}, (
                page.total is not None and page.total == seen
            )


def _problem(exc: BaseException, key: str) -> Problem | None:
    return describe(exc, provider=key)


async def check_provider(
    loaded: LoadedConfig,
    profile: str,
    side: str,
    spec: ProviderSpec,
    *,
    store: SqlStore,
    environ: Mapping[str, str] | None = None,
) -> ProviderCheck:
    """Build, start, identify, describe and count one provider.

    Raises:
        Exception: only failures that are bugs (not a `Problem`).
    """
    from anibridge.app.config import build_provider
    from anibridge.app.service.problems import start_provider
    from anibridge.app.session import Preflight
    from anibridge.store import TokenStore, load_secret_key

    base = {"profile": profile, "key": spec.key, "type": spec.type, "side": side}
    where = f"profiles.{profile}.{side}"
    try:
        key = load_secret_key(loaded.data_dir)
        provider = build_provider(
            spec,
            where=where,
            base_dir=loaded.base_dir,
            token_store=TokenStore(store, key, namespace=f"{profile}/{spec.key}"),
            environ=environ,
        )
    except Exception as exc:
        problem = _problem(exc, spec.key)
        if problem is None:
            raise
        return ProviderCheck(**base, display_name=spec.type, problem=problem)
    name = str(getattr(provider, "DISPLAY_NAME", "") or spec.type)
    try:
        if isinstance(provider, Preflight):
            provider.preflight()
        try:
            await start_provider(provider, spec.key, where=where)
        except ProviderFailed as exc:
            kind = exc.problem.kind
            return ProviderCheck(
                **base,
                display_name=name,
                reached=kind in ("auth", "config"),
                problem=exc.problem,
            )
        account = provider.account()
        capabilities = capability_summary(provider)
        try:
            counts, complete = await count_items(provider)
        except Exception as exc:
            problem = _problem(exc, spec.key)
            if problem is None:
                raise
            return ProviderCheck(
                **base,
                display_name=name,
                reached=True,
                signed_in=True,
                user=account.title if account else None,
                capabilities=capabilities,
                problem=problem,
            )
        return ProviderCheck(
            **base,
            display_name=name,
            reached=True,
            signed_in=True,
            user=account.title if account else None,
            capabilities=capabilities,
            counts=counts,
            counts_complete=complete,
        )
    except Exception as exc:
        problem = _problem(exc, spec.key)
        if problem is None:
            raise
        return ProviderCheck(**base, display_name=name, problem=problem)
    finally:
        await provider.close()


async def check_profile(
    loaded: LoadedConfig,
    profile: str | None,
    *,
    store: SqlStore,
    only: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProfileCheck:
    """Check a profile's source and target (or only the provider `only`).

    Raises:
        ConfigError: unknown profile.
        NotFound: `only` is not one of the profile's providers.
    """
    from anibridge.app.service.errors import NotFound

    name, cfg = loaded.profile(profile)
    sides = [("source", cfg.source), ("target", cfg.target)]
    if only is not None:
        sides = [(side, spec) for side, spec in sides if spec.key == only]
        if not sides:
            keys = ", ".join(sorted({cfg.source.key, cfg.target.key}))
            raise NotFound(
                f"profile {name!r} has no provider {only!r} (its providers: {keys})"
            )
    results = [
        await check_provider(loaded, name, side, spec, store=store, environ=environ)
        for side, spec in sides
    ]
    return ProfileCheck(name, tuple(results))


async def check_profiles(
    loaded: LoadedConfig,
    profiles: list[str] | None,
    *,
    store: SqlStore,
    environ: Mapping[str, str] | None = None,
) -> list[ProfileCheck]:
    """Check several profiles (None: every configured profile)."""
    names = profiles if profiles else list(loaded.app.profiles)
    return [
        await check_profile(loaded, name, store=store, environ=environ)
        for name in names
    ]
