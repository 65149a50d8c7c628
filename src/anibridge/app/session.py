"""An open profile session and its run summary: what the use cases work on.

Below `anibridge.app.service` and `anibridge.app.runtime` alike: the service's use
cases take a `Session` and return `summarize`'s shape, while `anibridge.app.runtime`
opens and closes sessions (lock, providers, recovery) and wraps their writes with
the service's backups. Keeping these here, not in the runtime, keeps the layers
one-directional (`tests/app/service/test_layering.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from anibridge.app.config import LoadedConfig, ProfileConfig
from anibridge.bridge.model import Plan
from anibridge.bridge.reconcile import Reconciled
from anibridge.bridge.sync import Pair, SyncResult
from anibridge.provider.base import Provider
from anibridge.store import ProfileLock, SqlStore

__all__ = ["Preflight", "Recovery", "Session", "StopFlag", "summarize"]


@dataclass(slots=True)
class Recovery:
    """What the start of a job found and repaired.

    Attributes:
        interrupted: Runs left ``running`` by a process that is gone, now
            ``interrupted``.
        reconciled: Journal rows settled by re-reading (and those still waiting).
    """

    interrupted: list[str] = field(default_factory=list)
    reconciled: Reconciled = field(default_factory=Reconciled)

    def notes(self) -> list[str]:
        """One line per thing a person should know, for the CLI and the log."""
        out = []
        if self.interrupted:
            out.append(
                f"{len(self.interrupted)} earlier run(s) ended without finishing "
                f"(process gone): marked interrupted: {', '.join(self.interrupted)}"
            )
        settled = self.reconciled.settled
        if settled:
            parts = ", ".join(f"{n} {what}" for what, n in sorted(settled.items()))
            out.append(
                f"settled {sum(settled.values())} journal row(s) of earlier runs "
                f"by re-reading their targets: {parts}"
            )
        waiting = self.reconciled.waiting
        if waiting:
            out.append(
                f"{len(waiting)} write(s) of earlier runs are still unconfirmed and "
                f"are not sent again yet: {waiting[0].error_text or 'no answer'}"
            )
        return out


@dataclass(slots=True)
class StopFlag:
    """Set by Ctrl-C or SIGTERM: writes stop after the batch in flight.

    `signal` names what asked (``SIGINT``/``SIGTERM``), for the exit code.
    """

    requested: bool = False
    writes_started: bool = False
    signal: str = ""

    def __call__(self) -> bool:
        """Whether a stop was requested (the engine's ``stop`` callable)."""
        return self.requested


@dataclass(slots=True)
class Session:
    """Everything needed to run one profile."""

    config: LoadedConfig
    store: SqlStore
    name: str
    profile: ProfileConfig
    providers: dict[str, Provider]
    stop: StopFlag = field(default_factory=StopFlag)
    backups: list[Path] = field(default_factory=list)
    lock: ProfileLock | None = None
    recovery: Recovery | None = None

    @property
    def pairs(self) -> list[Pair]:
        """The profile's provider pair."""
        return [Pair(self.profile.source.key, self.profile.target.key)]


@runtime_checkable
class Preflight(Protocol):
    """A provider that can check its local resources before anything is created."""

    def preflight(self) -> None:
        """Raise the provider's own clear error if initialize() would fail on a file.

        Must not create or change any file.
        """
        ...


def summarize(
    result: SyncResult | None,
    plan: Plan,
    *,
    profile: str,
    dry_run: bool,
    duration_s: float,
    run_id: str,
) -> dict[str, Any]:
    """The run summary in the documented `--json` shape."""
    from anibridge.bridge.sync import run_counts

    report = None if dry_run or result is None else result.report
    return {
        "run_id": run_id,
        "profile": profile,
        "dry_run": dry_run,
        "status": result.run.status if result is not None else "ok",
        "planned": len(plan.actions),
        **run_counts(plan, report),
        "duration_s": round(duration_s, 3),
    }
