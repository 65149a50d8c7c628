"""A saved config takes effect without restarting the service.

Saving from the settings page (or ``PUT /api/config``) writes a validated config
(`anibridge.app.service.config.save`); this module then swaps the running
runtime for one built from it: the scheduler stops (each worker finishes its
current job first), the backend closes its profiles and store and opens them
again from the new config, and a new scheduler starts with the new schedules.

Safety: a reload never happens while a job holds a profile. When a job is
running or queued, the reload waits until every worker is idle (watching the
event bus, no polling), so a sync in flight is never cut short by a settings
change. Settings of the web server itself (``web:`` — bind address, auth,
proxies) and the data folder are read once at start and still need a restart;
the answer says so. Hosted mode queues jobs for other processes and is not
reloaded here (each worker reads the config at its own start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from anibridge.app.scheduler import Scheduler

if TYPE_CHECKING:
    from anibridge.app.config import LoadedConfig
    from anibridge.app.web.context import ServiceContext

__all__ = ["RESTART_KEYS", "ReloadOutcome", "Reloader"]

log = logging.getLogger(__name__)

# Top-level config keys read only when the process starts.
RESTART_KEYS = frozenset({"web", "data_dir", "store_url", "hosted"})
_FINISHED = frozenset({"run_finished", "job_finished"})


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What became of a saved config.

    Attributes:
        state: ``applied`` (running now), ``pending`` (applied when the running
            jobs finish), ``restart`` (only a restart can apply it) or ``failed``
            (the new profiles could not start; the previous ones run again).
        restart_needed: Changed keys that only a restart applies.
        busy: Profiles whose jobs the reload waits for.
        error: Why applying failed.
    """

    state: Literal["applied", "pending", "restart", "failed"]
    restart_needed: tuple[str, ...] = ()
    busy: tuple[str, ...] = ()
    error: str | None = None

    def message(self) -> str:
        """One line for the settings page."""
        text = {
            "applied": "Settings saved and applied",
            "pending": "Settings saved; they apply when the running job of "
            + ", ".join(self.busy)
            + " finishes",
            "restart": "Settings saved; restart the service to apply them",
            "failed": "Settings saved but not applied (the previous ones still run "
            f"until a restart): {self.error}",
        }[self.state]
        if self.restart_needed and self.state != "restart":
            text += "; restart needed for: " + ", ".join(self.restart_needed)
        return text

    def to_json(self) -> dict[str, Any]:
        """The API's shape."""
        out: dict[str, Any] = {
            "reload": self.state,
            "requires_restart": list(self.restart_needed),
            "waiting_for": list(self.busy),
        }
        if self.error:
            out["error"] = self.error
        return out


class Reloader:
    """Swaps the service's runtime for a new config, when no job runs."""

    def __init__(self) -> None:
        """No reload pending."""
        self._lock = asyncio.Lock()
        self._pending: LoadedConfig | None = None
        self._waiter: asyncio.Task[None] | None = None
        self.reloads = 0

    @staticmethod
    def _busy(ctx: ServiceContext) -> tuple[str, ...]:
        workers = getattr(ctx.scheduler, "workers", {})
        return tuple(sorted(n for n, w in workers.items() if w.busy or w.queued))

    async def request(
        self, ctx: ServiceContext, loaded: LoadedConfig, changed: Iterable[str]
    ) -> ReloadOutcome:
        """Apply `loaded` now, or as soon as every profile is idle."""
        restart = set(changed) & RESTART_KEYS
        running = getattr(ctx.backend, "loaded", None)
        if running is None or not isinstance(ctx.scheduler, Scheduler):
            return ReloadOutcome("restart", tuple(sorted(restart)))
        # The store and the data folder stay what the process opened.
        if loaded.store_url != running.store_url:
            restart.add("store_url")
        if loaded.data_dir != running.data_dir:
            restart.add("data_dir")
        if restart & {"store_url", "data_dir"}:
            return ReloadOutcome("restart", tuple(sorted(restart)))
        restart_needed = tuple(sorted(restart))
        busy = self._busy(ctx)
        self._pending = loaded  # the newest save wins
        if busy:
            if self._waiter is None or self._waiter.done():
                self._waiter = asyncio.ensure_future(self._when_idle(ctx))
            return ReloadOutcome("pending", restart_needed, busy)
        error = await self._apply(ctx)
        if error is not None:
            return ReloadOutcome("failed", restart_needed, error=error)
        return ReloadOutcome("applied", restart_needed)

    async def _when_idle(self, ctx: ServiceContext) -> None:
        queue = ctx.bus.subscribe()
        try:
            while self._busy(ctx):
                event = await queue.get()
                if event["kind"] == "shutdown":
                    return
                if event["kind"] not in _FINISHED:
                    continue
            await self._apply(ctx)
        except Exception:
            log.exception("applying the saved config failed")
        finally:
            ctx.bus.unsubscribe(queue)

    async def _apply(self, ctx: ServiceContext) -> str | None:
        """Swap the runtime; the error (the old runtime running again) or None."""
        async with self._lock:
            loaded, self._pending = self._pending, None
            if loaded is None or ctx.stopping.is_set():
                return None
            from anibridge.app.web.app import make_scheduler

            log.info("applying the saved config: restarting the profiles")
            backend: Any = ctx.backend
            previous = backend.loaded
            error: str | None = None
            await ctx.scheduler.stop()
            try:
                await backend.reload(loaded)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.exception("the saved config could not be applied; reverting")
                await backend.reload(previous)
            scheduler = make_scheduler(ctx.settings, ctx.backend, ctx.bus)
            await scheduler.start()
            ctx.scheduler = scheduler
            self.reloads += 1
            ctx.bus.publish(
                "config_reloaded",
                profiles=sorted(scheduler.workers),
                count=self.reloads,
            )
            if error is None:
                log.info(
                    "saved config applied: %d profile(s) running",
                    len(scheduler.workers),
                )
            return error

    async def close(self) -> None:
        """Drop a pending reload (the service is stopping)."""
        self._pending = None
        if self._waiter is not None and not self._waiter.done():
            self._waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._waiter
