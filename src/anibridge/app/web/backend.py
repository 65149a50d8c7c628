"""What the web service needs from the rest of the app, as one protocol.

The web layer never imports the engine, the store or providers directly: it talks to
a `Backend`, which the app implements on top of `anibridge.bridge`, `anibridge.store`
and the configured providers (see `anibridge.app.web.engine_backend`). Everything
returned is plain JSON-able data, so routes stay thin and tests can read the shapes.

Shapes (dicts) returned by the read methods:
- run: ``{id, profile, kind, status, started_at, finished_at, plan_id, summary,
  error}`` (as `anibridge.bridge.stores.RunRecord`).
- history row: a journal entry (``run_id, action_id, provider, ref, op, kind, before,
  after, clear, outcome, error_text, reason, started_at, finished_at, created,
  undoes``) plus optional ``title``, ``poster``, ``url``, ``labels`` for display.
- plan: `anibridge.bridge.model.Plan.to_json()` plus ``created_at`` and ``status``
  (``pending``, ``applied``, ``expired``); actions may carry ``title``/``poster``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from anibridge.app.scheduler import InboundRefs, ProfileSchedule, Runner, RunResult
from anibridge.app.service.errors import ServiceError
from anibridge.app.service.overrides import Problem
from anibridge.app.service.plan_view import SkipQuery
from anibridge.app.service.timeline import HistoryQuery
from anibridge.provider.base import InboundRequest

if TYPE_CHECKING:
    from anibridge.app.service.config import Saved

__all__ = ["Backend", "BackendError", "ProfileInfo", "ProviderInfo"]


# The application layer's errors carry their HTTP status; routes catch this name.
BackendError = ServiceError


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """A configured provider instance, as the UI shows it."""

    key: str
    namespace: str
    display_name: str
    role: str  # source | target | both
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProfileInfo:
    """A sync profile: who syncs to whom, and when."""

    name: str
    providers: tuple[ProviderInfo, ...]
    schedule: ProfileSchedule = field(default_factory=ProfileSchedule)
    direction: str = "one-way"
    description: str = ""
    owner: str | None = None  # the owning account; None: the built-in admin

    def to_json(self) -> dict[str, Any]:
        """JSON form for the API."""
        return {
            "name": self.name,
            "direction": self.direction,
            "description": self.description,
            "providers": [
                {
                    "key": p.key,
                    "namespace": p.namespace,
                    "display_name": p.display_name,
                    "role": p.role,
                    "labels": list(p.labels),
                }
                for p in self.providers
            ],
            "webhooks": self.schedule.webhooks,
            "owner": self.owner or "admin",
        }


class Backend(Runner, Protocol):
    """The app as the web service sees it (also the scheduler's `Runner`)."""

    def profiles(self) -> Sequence[ProfileInfo]:
        """Configured profiles."""
        ...

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Whether the app can sync (store open, providers initialized)."""
        ...

    async def start(self) -> None:
        """Open stores and initialize providers (called once at service start)."""
        ...

    async def close(self) -> None:
        """Release providers and stores."""
        ...

    async def refresh_mappings(self) -> str:
        """Update the mappings dataset (ETag-aware); return a short status."""
        ...

    async def check(self, profile: str, provider: str | None = None) -> dict[str, Any]:
        """Test connection: reach, sign-in, account, capabilities, counts (JSON)."""
        ...

    # -- plans, runs, history --------------------------------------------------
    def plans(self, profile: str) -> list[dict[str, Any]]:
        """Kept dry-run plans of a profile, newest first (without actions)."""
        ...

    def plan(self, plan_id: str) -> dict[str, Any] | None:
        """A kept plan with its actions and skips."""
        ...

    async def apply_plan(
        self, profile: str, plan_id: str, action_ids: Sequence[str]
    ) -> RunResult:
        """Apply exactly the chosen actions of a kept plan (re-checked live)."""
        ...

    def runs(self, profile: str, limit: int = 50) -> list[dict[str, Any]]:
        """Recent runs of a profile, newest first."""
        ...

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
        """Journal rows (per-action diffs), newest first, filtered."""
        ...

    def history_page(self, profile: str, query: HistoryQuery) -> dict[str, Any]:
        """One page: ``{rows, next}`` (``next`` is the cursor of the page after)."""
        ...

    def undone_runs(self, profile: str) -> set[str]:
        """Runs with no applied change left to undo."""
        ...

    async def undo(
        self, profile: str, action_ids: Sequence[str], run_id: str | None = None
    ) -> RunResult:
        """Revert applied actions (writes their `before` back).

        `run_id` picks that run's entries, otherwise each action's latest entry.
        """
        ...

    async def undo_preview(self, profile: str, run_id: str) -> dict[str, Any]:
        """The inverse plan of a whole run against current state (nothing written)."""
        ...

    async def undo_whole_run(self, profile: str, run_id: str) -> RunResult:
        """Revert every applied change of a run (409 when already undone)."""
        ...

    async def retry(self, profile: str, action_ids: Sequence[str]) -> RunResult:
        """Re-plan and apply the refs of failed actions."""
        ...

    # -- unmatched -------------------------------------------------------------
    def unmatched(self, profile: str, query: SkipQuery) -> dict[str, Any]:
        """Left-alone candidates of the newest full preview, unmatched first.

        Returns ``{plan, rows, next, total, counts, fixed}``.
        """
        ...

    async def fix_mapping(
        self,
        profile: str,
        anchor: str,
        source: str,
        target: str,
        source_range: str = "1-",
        target_range: str = "1-",
    ) -> RunResult:
        """Write a mapping override for an unmatched entry and preview it again."""
        ...

    def title_search(self, text: str, limit: int = 50) -> list[dict[str, Any]]:
        """Entries seen by providers whose title has the words, with their ids."""
        ...

    # -- pins ------------------------------------------------------------------
    def pins(self, profile: str) -> list[dict[str, Any]]:
        """Pinned fields per target ref: ``{provider, ref, fields}``."""
        ...

    def set_pin(
        self, profile: str, provider: str, ref: str, fields: Sequence[str]
    ) -> dict[str, Any]:
        """Pin fields of one target entry (empty `fields` unpins)."""
        ...

    # -- inbound ---------------------------------------------------------------
    def webhook_profiles(self, provider: str) -> list[str]:
        """Profiles whose source includes provider key `provider` and accept hooks."""
        ...

    def webhook_providers(self) -> list[str]:
        """Provider keys that can receive webhooks (implement inbound changes)."""
        ...

    async def parse_inbound(self, profile: str, request: InboundRequest) -> InboundRefs:
        """What a webhook payload asks `profile` to re-read (no I/O, bounded).

        Raises:
            BackendError: status 400 when the payload is addressed to the profile's
                source but malformed (the message says what, never echoes it all).
        """
        ...

    # -- mappings --------------------------------------------------------------
    def mapping_lookup(self, descriptor: str) -> dict[str, Any]:
        """Edges of a descriptor (``anilist:21``) in the effective dataset."""
        ...

    def mapping_search(self, text: str, limit: int = 50) -> list[str]:
        """Descriptors that contain `text`, for browsing the dataset."""
        ...

    def mapping_browse(
        self, text: str, limit: int = 20, *, titles: bool = True
    ) -> dict[str, Any]:
        """Titles matching `text` with each id's edges, then ids containing it.

        See `anibridge.app.service.mapping_view.browse` for the shape.
        """
        ...

    def overrides_text(self) -> str:
        """The custom mappings file as text ("" when absent)."""
        ...

    def validate_overrides(self, text: str) -> list[Problem]:
        """Problems in a custom mappings text, each with its line; [] = valid."""
        ...

    def write_overrides(self, text: str) -> None:
        """Validate, then atomically replace the custom mappings file."""
        ...

    # -- backups ---------------------------------------------------------------
    def backups(self, profile: str) -> list[dict[str, Any]]:
        """Stored backups: ``{name, provider, size, created_at}``, newest first."""
        ...

    def backup_file(self, profile: str, name: str) -> Path:
        """The path of one backup (validated: no traversal)."""
        ...

    async def restore_backup(self, profile: str, name: str) -> RunResult:
        """Restore a backup into its provider (a backup of the current state first)."""
        ...

    # -- config ----------------------------------------------------------------
    def config_text(self) -> str:
        """The config file with secrets replaced by ``***``."""
        ...

    def validate_config(self, text: str) -> list[str]:
        """Problems in a config text, each with its key path; [] = valid."""
        ...

    def write_config(self, text: str) -> Saved:
        """Validate and write the config; ``***`` keeps the stored secret.

        Returns:
            What was saved: the changed keys and the loaded config, which the
            web applies without a restart (`anibridge.app.web.reload`).

        Raises:
            ConfigInvalid: the text fails validation; nothing is written.
        """
        ...
