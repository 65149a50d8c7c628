"""MyAnimeList OAuth2 tokens: refresh before expiry and on 401, persist every change.

MAL rotates refresh tokens: after a refresh the old one is dead, so the new pair
must be saved (through the app's token store) before anything else can fail, or the
next run would be locked out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from anibridge.dates import parse_iso, utcnow
from anibridge.http import HttpClient, HttpError
from anibridge.provider.base import WriteError

__all__ = ["MalTokens", "TokenManager", "TokenStore"]

#: Refresh this many seconds before the access token's announced expiry.
REFRESH_MARGIN = 300.0


class TokenStore(Protocol):
    """Where refreshed tokens are persisted (the app's encrypted store)."""

    async def load(self, provider_key: str) -> dict[str, Any] | None:
        """The saved tokens for `provider_key`, if any."""
        ...

    async def save(self, provider_key: str, tokens: dict[str, Any]) -> None:
        """Persist `tokens` for `provider_key`."""
        ...


@dataclass(slots=True)
class MalTokens:
    """An access token, the refresh token and when the access token expires."""

    access_token: str | None
    refresh_token: str | None
    expires_at: float | None  # POSIX seconds

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> MalTokens:
        """Read tokens from config or a store (``expires_at`` epoch or ISO-8601).

        Raises:
            ValueError: ``expires_at`` is neither a number nor an ISO timestamp.
        """
        expires = data.get("expires_at")
        if isinstance(expires, datetime):
            expires_at: float | None = expires.timestamp()
        elif isinstance(expires, str) and expires.strip():
            try:
                expires_at = float(expires)
            except ValueError:
                expires_at = parse_iso(expires).timestamp()
        elif isinstance(expires, int | float) and not isinstance(expires, bool):
            expires_at = float(expires)
        elif expires in (None, ""):
            expires_at = None
        else:
            raise ValueError(
                f"mal: expires_at must be epoch seconds or ISO, got {expires!r}"
            )
        return cls(
            str(data.get("access_token") or "") or None,
            str(data.get("refresh_token") or "") or None,
            expires_at,
        )

    def as_dict(self) -> dict[str, Any]:
        """The form saved in the token store."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
        }


class TokenManager:
    """Keeps a valid access token for one account, refreshing when needed."""

    def __init__(
        self,
        *,
        tokens: MalTokens,
        token_url: str,
        client_id: str | None,
        client_secret: str | None,
        http: HttpClient,
        store: TokenStore | None = None,
        store_key: str = "mal",
        logger: logging.Logger | None = None,
        redact_in: tuple[HttpClient, ...] = (),
    ) -> None:
        """Bind the tokens to the token endpoint, client credentials and store.

        `redact_in` lists other clients whose logs must mask the new tokens too.
        """
        self.tokens = tokens
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.http = http
        self.store = store
        self.store_key = store_key
        self.log = logger or logging.getLogger("anibridge.providers.mal")
        self.refreshes = 0
        self.redact_in = (http, *redact_in)
        self._lock = asyncio.Lock()

    async def load_saved(self) -> None:
        """Prefer tokens saved by an earlier run (they are newer than the config)."""
        if self.store is None:
            return
        saved = await self.store.load(self.store_key)
        if saved and (saved.get("refresh_token") or saved.get("access_token")):
            self.tokens = MalTokens.from_mapping(saved)

    def _expiring(self) -> bool:
        expires = self.tokens.expires_at
        return expires is not None and expires - utcnow().timestamp() < REFRESH_MARGIN

    async def headers(self) -> Mapping[str, str]:
        """The Authorization header, refreshing first when the token is due.

        Raises:
            HttpError: there is no usable token and it cannot be refreshed.
        """
        if self.tokens.access_token is None or self._expiring():
            async with self._lock:
                if self.tokens.access_token is None or self._expiring():
                    await self._refresh()
        return {"Authorization": f"Bearer {self.tokens.access_token}"}

    async def on_unauthorized(self) -> bool:
        """Refresh after a 401; True when a new token was obtained."""
        rejected = self.tokens.access_token
        async with self._lock:
            if self.tokens.access_token != rejected:
                return True  # another request refreshed meanwhile
            try:
                await self._refresh()
            except HttpError as exc:
                self.log.info("mal: refreshing the token failed: %s", exc)
                return False
        return True

    async def _refresh(self) -> None:
        if not self.tokens.refresh_token or not self.client_id:
            raise HttpError(
                "mal: the access token expired and no refresh_token/client_id is "
                "configured; re-authorize AniBridge with MyAnimeList",
                code=WriteError.AUTH,
                service="mal",
            )
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self.tokens.refresh_token,
            "client_id": self.client_id,
        }
        if self.client_secret:
            form["client_secret"] = self.client_secret
        try:
            response = await self.http.post(self.token_url, data=form, retry=True)
        except HttpError as exc:
            if exc.status in (400, 401):
                raise HttpError(
                    f"mal: the refresh token was refused ({exc.status}); "
                    "re-authorize AniBridge with MyAnimeList",
                    code=WriteError.AUTH,
                    status=exc.status,
                    service="mal",
                    address=exc.address,
                    url=exc.url,
                ) from exc
            raise
        try:
            body = response.json()
            access = str(body["access_token"])
            refresh = str(body.get("refresh_token") or self.tokens.refresh_token)
            expires_in = float(body.get("expires_in") or 0) or None
        except (ValueError, KeyError, TypeError):
            raise HttpError(
                "mal: the token endpoint answered without a token",
                code=WriteError.TRANSIENT,
            ) from None
        now = utcnow().timestamp()
        self.tokens = MalTokens(
            access, refresh, now + expires_in if expires_in else None
        )
        self.refreshes += 1
        for client in self.redact_in:
            client.add_secret(access)
            client.add_secret(refresh)
        if self.store is not None:
            await self.store.save(self.store_key, self.tokens.as_dict())
