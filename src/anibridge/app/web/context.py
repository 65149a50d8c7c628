"""Everything a request handler needs, in one object on ``app.state.ctx``."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from anibridge.app.scheduler import EventBus, Scheduler, SyncRequest
from anibridge.app.web.auth_store import ADMIN_USER, AuthStore
from anibridge.app.web.backend import Backend, BackendError
from anibridge.app.web.envelope import envelope_problem
from anibridge.app.web.hosts import HostPolicy
from anibridge.app.web.logbuffer import LogBuffer
from anibridge.app.web.reload import Reloader
from anibridge.app.web.settings import WebSettings
from anibridge.app.web.throttle import LoginThrottle
from anibridge.provider.base import InboundRequest

__all__ = ["ServiceContext", "WebhookOutcome"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ServiceContext:
    """The running service: settings, credentials, backend, scheduler, live feeds."""

    settings: WebSettings
    auth: AuthStore
    backend: Backend
    scheduler: Scheduler
    bus: EventBus
    logs: LogBuffer
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    webhooks_received: int = 0
    # Bytes of webhook bodies held in memory at once (read, parsed, dropped).
    webhook_budget: ByteBudget = field(default_factory=lambda: ByteBudget(16 << 20))
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    flash_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    hosts: HostPolicy = field(
        default_factory=lambda: HostPolicy.build(bind_host="127.0.0.1")
    )
    # Applies a config saved from the UI without a restart (see `web.reload`).
    reloader: Reloader = field(default_factory=Reloader)

    def __post_init__(self) -> None:
        """Derive the Host policy from the settings."""
        self.hosts = self.settings.host_policy()

    def webhook_urls(
        self, request_base: str, user: str = ADMIN_USER
    ) -> list[dict[str, Any]]:
        """`user`'s webhook URL (with their secret) per provider, and what it feeds.

        A URL leads only to the profiles `user` owns (`webhook_profiles`). The
        base is ``web.public_url`` when set (what the media server must call),
        else the URL this request came in on. Other accounts see no entry for a
        provider key only someone else's profiles use.
        """
        base = (self.settings.public_url or request_base).rstrip("/")
        out = []
        for key in self.backend.webhook_providers():
            profiles = self.webhook_profiles(key, user)
            if not profiles and user != ADMIN_USER:
                continue
            secret = self.auth.webhook_secret(key, user)
            out.append(
                {
                    "provider": key,
                    "url": f"{base}/webhook/{key}/{secret}",
                    "profiles": profiles,
                }
            )
        return out

    def webhook_profiles(self, provider: str, owner: str) -> list[str]:
        """Profiles fed by `provider` that `owner` owns (None owner: the admin)."""
        owners = {p.name: p.owner or ADMIN_USER for p in self.backend.profiles()}
        return [
            name
            for name in self.backend.webhook_profiles(provider)
            if owners.get(name) == owner
        ]

    def sign_flash(self, message: str) -> str:
        """Signature for a status message carried in a redirect URL."""
        digest = hmac.new(self.flash_key, message.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def flash(self, message: str | None, signature: str | None) -> str | None:
        """The message if this service wrote it (links from elsewhere show nothing)."""
        if not message or not signature:
            return None
        ok = hmac.compare_digest(self.sign_flash(message), signature)
        return message if ok else None

    async def webhook(
        self, provider: str, request: InboundRequest, owner: str = ADMIN_USER
    ) -> WebhookOutcome:
        """Parse a webhook now and queue only the refs it names; never waits for a run.

        Each profile of `owner` (the account whose secret the URL carried) fed by
        `provider` parses the payload with its own source provider; profiles the
        payload names get a targeted sync (coalesced while busy, bounded). The
        body is not kept.

        Raises:
            BackendError: 400 when the payload is malformed for a profile's source,
                or when it is not JSON or a form at all.
        """
        self.webhooks_received += 1
        record = getattr(self.scheduler, "record_webhook", None)
        if record is not None:
            return await self._record_webhook(record, provider, request, owner)
        triggered: list[str] = []
        matched = False
        refs = 0
        for profile in self.webhook_profiles(provider, owner):
            found = await self.backend.parse_inbound(profile, request)
            matched = matched or found.matched
            if found.empty:
                continue
            self.scheduler.trigger(
                profile,
                SyncRequest.for_refs(
                    found.keys, whole=found.whole, reason=f"webhook:{provider}"
                ),
            )
            triggered.append(profile)
            refs += len(found.keys)
        if not matched:
            problem = envelope_problem(request.headers, request.body)
            if problem is not None:
                raise BackendError(f"webhook refused: {problem}", status=400)
        self.bus.publish("webhook", provider=provider, profiles=triggered)
        log.info(
            "webhook from %s → %s",
            provider,
            ", ".join(triggered) or ("nothing to sync" if matched else "not for us"),
        )
        return WebhookOutcome(matched, triggered, refs)

    async def _record_webhook(
        self, record: Any, provider: str, request: InboundRequest, owner: str
    ) -> WebhookOutcome:
        """Hosted mode: record the webhook and queue its syncs in one transaction.

        The web service initializes no provider, so it cannot parse the payload;
        the job does (`anibridge.hosted.inbox`). A body that is neither JSON nor a
        form is still refused here.

        Raises:
            BackendError: 400 when the body is not JSON or a form at all.
        """
        problem = envelope_problem(request.headers, request.body)
        if problem is not None:
            raise BackendError(f"webhook refused: {problem}", status=400)
        profiles = self.webhook_profiles(provider, owner)
        queued = await asyncio.to_thread(record, provider, request, profiles)
        self.bus.publish("webhook", provider=provider, profiles=queued)
        log.info(
            "webhook from %s → recorded for %s",
            provider,
            ", ".join(queued) or "no profile",
        )
        return WebhookOutcome(True, queued, 0)


class ByteBudget:
    """A weighted semaphore over bytes: how much webhook body may be in memory.

    Each request reserves its declared size (or the limit when undeclared) before
    reading, so small webhooks flow freely while a flood of big ones waits its turn,
    and a slow sender holds only its own share.
    """

    def __init__(self, total: int) -> None:
        """A budget of `total` bytes."""
        self.total = total
        self.free = total
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        """Reserve `size` bytes (at most the whole budget) for the block."""
        size = max(0, min(size, self.total))
        async with self._changed:
            await self._changed.wait_for(lambda: self.free >= size)
            self.free -= size
        try:
            yield
        finally:
            async with self._changed:
                self.free += size
                self._changed.notify_all()


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """What a webhook led to: whether it was ours, who syncs, how many refs."""

    matched: bool
    profiles: list[str]
    refs: int
