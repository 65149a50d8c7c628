"""Kitsu OAuth2: the password grant once, then refresh tokens.

Kitsu's API accepts ``grant_type=password`` at `/api/oauth/token` for its own users
(`anibridge login kitsu` asks for the username and password once and keeps only the
tokens), and ``grant_type=refresh_token`` to renew them. Access tokens last about a
month; they are renewed shortly before they expire and once after a 401, and every
new pair is saved to the token store before anything else can fail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anibridge.dates import utcnow
from anibridge.http import HttpClient, HttpError
from anibridge.http.errors import CredentialsError
from anibridge.provider.base import WriteError

__all__ = ["KitsuAuthError", "KitsuTokens", "TokenKeeper", "password_grant"]

REFRESH_MARGIN = 300.0


class KitsuAuthError(CredentialsError):
    """Signing in failed; the message says what to do."""

    def __init__(self, message: str, *, reason: str = "auth") -> None:
        """Carry a human message and a short machine `reason`."""
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class KitsuTokens:
    """An access token, its refresh token and when it expires (POSIX, 0 = unknown)."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float = 0.0

    @classmethod
    def from_answer(cls, body: Any) -> KitsuTokens:
        """Tokens from a token-endpoint answer (``created_at`` + ``expires_in``).

        Raises:
            KitsuAuthError: the answer has no access token.
        """
        if not isinstance(body, Mapping) or not body.get("access_token"):
            raise KitsuAuthError("kitsu: the token answer has no access_token")
        created = float(body.get("created_at") or utcnow().timestamp())
        expires_in = float(body.get("expires_in") or 0)
        return cls(
            str(body["access_token"]),
            str(body.get("refresh_token") or "") or None,
            created + expires_in if expires_in else 0.0,
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> KitsuTokens | None:
        """Tokens as saved by `to_dict` (or given in config); None without any."""
        access = str(data.get("access_token") or "")
        refresh = str(data.get("refresh_token") or "") or None
        if not access and not refresh:
            return None
        expires = data.get("expires_at") or 0
        try:
            expires_at = float(expires)
        except (TypeError, ValueError):
            expires_at = 0.0
        # Without an access token, an expiry in the past forces a refresh first.
        return cls(access, refresh, expires_at if access else 1.0)

    def to_dict(self) -> dict[str, Any]:
        """The form the token store keeps."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
        }


def _form(
    grant: Mapping[str, str], client_id: str | None, client_secret: str | None
) -> dict[str, str]:
    form = dict(grant)
    if client_id:
        form["client_id"] = client_id
    if client_secret:
        form["client_secret"] = client_secret
    return form


async def password_grant(
    client: HttpClient,
    token_url: str,
    *,
    username: str,
    password: str,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> KitsuTokens:
    """Exchange a username (or e-mail) and password for tokens.

    Returns:
        The tokens.

    Raises:
        KitsuAuthError: Kitsu refused the credentials (or answered without tokens).
    """
    client.add_secret(password)
    form = _form(
        {"grant_type": "password", "username": username, "password": password},
        client_id,
        client_secret,
    )
    try:
        response = await client.post(token_url, data=form, retry=True)
    except HttpError as exc:
        if exc.status in (400, 401):
            raise KitsuAuthError(
                "kitsu: the username or password was refused", reason="invalid_grant"
            ) from None
        raise KitsuAuthError(f"kitsu: signing in failed: {exc}") from None
    tokens = KitsuTokens.from_answer(response.json())
    client.add_secret(tokens.access_token)
    client.add_secret(tokens.refresh_token)
    return tokens


class TokenKeeper:
    """Keeps a valid access token for one account, refreshing when needed."""

    def __init__(
        self,
        *,
        tokens: KitsuTokens,
        token_url: str,
        http: HttpClient,
        client_id: str | None,
        client_secret: str | None,
        store: Any,
        store_key: str,
        redact_in: tuple[HttpClient, ...] = (),
        logger: logging.Logger | None = None,
    ) -> None:
        """Bind the tokens to the token endpoint and the store that keeps them."""
        self.tokens = tokens
        self.token_url = token_url
        self.http = http
        self.client_id = client_id
        self.client_secret = client_secret
        self.store = store
        self.store_key = store_key
        self.redact_in = (http, *redact_in)
        self.log = logger or logging.getLogger("anibridge.providers.kitsu")
        self.refreshes = 0
        self._lock = asyncio.Lock()
        for client in self.redact_in:
            client.add_secret(tokens.access_token)
            client.add_secret(tokens.refresh_token)

    def _due(self) -> bool:
        expires = self.tokens.expires_at
        return bool(expires) and expires - utcnow().timestamp() < REFRESH_MARGIN

    async def headers(self) -> Mapping[str, str]:
        """The Authorization header, renewed first when the token is due.

        Raises:
            HttpError: there is no usable token and it cannot be renewed.
        """
        if self._due() or not self.tokens.access_token:
            async with self._lock:
                if self._due() or not self.tokens.access_token:
                    await self._refresh()
        return {"Authorization": f"Bearer {self.tokens.access_token}"}

    async def on_unauthorized(self) -> bool:
        """Renew after a 401; True when a new token was obtained."""
        rejected = self.tokens.access_token
        async with self._lock:
            if self.tokens.access_token != rejected:
                return True
            try:
                await self._refresh()
            except HttpError as exc:
                self.log.info("kitsu: renewing the token failed: %s", exc)
                return False
        return True

    async def _refresh(self) -> None:
        if not self.tokens.refresh_token:
            raise HttpError(
                "kitsu: the access token expired and there is no refresh token; "
                "run `anibridge login kitsu` again",
                code=WriteError.AUTH,
            )
        form = _form(
            {"grant_type": "refresh_token", "refresh_token": self.tokens.refresh_token},
            self.client_id,
            self.client_secret,
        )
        try:
            response = await self.http.post(self.token_url, data=form, retry=True)
        except HttpError as exc:
            if exc.status in (400, 401):
                raise HttpError(
                    f"kitsu: the refresh token was refused ({exc.status}); run "
                    "`anibridge login kitsu` again",
                    code=WriteError.AUTH,
                    status=exc.status,
                ) from exc
            raise
        try:
            fresh = KitsuTokens.from_answer(response.json())
        except (ValueError, KitsuAuthError):
            raise HttpError(
                "kitsu: the token endpoint answered without a token",
                code=WriteError.TRANSIENT,
            ) from None
        if fresh.refresh_token is None:
            fresh = KitsuTokens(
                fresh.access_token, self.tokens.refresh_token, fresh.expires_at
            )
        self.tokens = fresh
        self.refreshes += 1
        for client in self.redact_in:
            client.add_secret(fresh.access_token)
            client.add_secret(fresh.refresh_token)
        if self.store is not None:
            await self.store.save(self.store_key, fresh.to_dict())
