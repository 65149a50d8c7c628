"""Everything a request handler needs, in one object on ``app.state.ctx``."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from anibridge.app.scheduler import (
    EventBus,
    InboundItem,
    Scheduler,
    SyncMode,
    SyncRequest,
)
from anibridge.app.web.auth_store import AuthStore
from anibridge.app.web.backend import Backend
from anibridge.app.web.hosts import HostPolicy
from anibridge.app.web.logbuffer import LogBuffer
from anibridge.app.web.settings import WebSettings
from anibridge.app.web.throttle import LoginThrottle
from anibridge.provider.base import InboundRequest

__all__ = ["ServiceContext"]

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
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    flash_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    hosts: HostPolicy = field(
        default_factory=lambda: HostPolicy.build(bind_host="127.0.0.1")
    )

    def __post_init__(self) -> None:
        """Derive the Host policy from the settings."""
        self.hosts = self.settings.host_policy()

    def webhook_urls(self, request_base: str) -> list[dict[str, Any]]:
        """Each webhook provider's URL (with its secret) and the profiles it feeds.

        The base is ``web.public_url`` when set (what the media server must call),
        else the URL this request came in on.
        """
        base = (self.settings.public_url or request_base).rstrip("/")
        return [
            {
                "provider": key,
                "url": f"{base}/webhook/{key}/{self.auth.webhook_secret(key)}",
                "profiles": self.backend.webhook_profiles(key),
            }
            for key in self.backend.webhook_providers()
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

    def webhook(self, provider: str, request: InboundRequest) -> list[str]:
        """Queue a targeted sync on every profile fed by `provider`; never waits.

        Returns:
            The profiles that were triggered.
        """
        self.webhooks_received += 1
        item = InboundItem(provider, request, datetime.now(UTC).isoformat())
        profiles = self.backend.webhook_profiles(provider)
        for profile in profiles:
            self.scheduler.trigger(
                profile,
                SyncRequest(
                    SyncMode.TARGETED, inbound=(item,), reasons=(f"webhook:{provider}",)
                ),
            )
        self.bus.publish("webhook", provider=provider, profiles=profiles)
        log.info("webhook from %s → %s", provider, ", ".join(profiles) or "no profile")
        return profiles
