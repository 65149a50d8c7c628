"""Trakt OAuth: device-code login and refresh-token renewal.

The device flow suits a CLI and a headless service: the user types a short code on
trakt.tv while we poll `/oauth/device/token` at the interval Trakt gave us. Its status
codes carry the answer (400 pending, 404 invalid code, 409 already used, 410 expired,
418 denied, 429 slow down), so they are all accepted as answers, not errors.

Access tokens expire (Trakt: 7 days); the refresh token renews them through
`/oauth/token`. Renewed tokens are handed to a token store so they survive restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from anibridge.http import HttpClient, HttpError
from anibridge.http.clock import Clock
from anibridge.http.errors import CredentialsError
from anibridge.provider.base import WriteError

OOB_REDIRECT = "urn:ietf:wg:oauth:2.0:oob"
AUTH_ROUTE = "auth"  # its own route class: OAuth calls never wait behind sync writes
REFRESH_MARGIN = 300.0  # renew this many seconds before the access token expires


class TokenStoreLike(Protocol):
    """What a token store offers (the app's encrypted store, or a file)."""

    async def load(self, key: str) -> dict[str, Any] | None:
        """The tokens saved under `key`, or None."""
        ...

    async def save(self, key: str, tokens: dict[str, Any]) -> None:
        """Persist `tokens` under `key`."""
        ...


class TraktAuthError(CredentialsError):
    """Signing in or renewing the session failed; the message says what to do."""

    def __init__(self, message: str, *, reason: str = "auth") -> None:
        """Carry a human message and a short machine `reason`."""
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Tokens:
    """An OAuth token set; `expires_at` is POSIX seconds."""

    access_token: str
    refresh_token: str | None
    expires_at: float
    scope: str | None = None

    @classmethod
    def from_response(cls, payload: Mapping[str, Any]) -> Tokens:
        """Tokens from a Trakt token answer (`created_at` + `expires_in`).

        Raises:
            TraktAuthError: the answer has no access token.
        """
        access = payload.get("access_token")
        if not isinstance(access, str) or not access:
            raise TraktAuthError("trakt: token answer without an access_token")
        created = float(payload.get("created_at") or time.time())
        expires_in = float(payload.get("expires_in") or 0)
        return cls(
            access_token=access,
            refresh_token=payload.get("refresh_token") or None,
            expires_at=created + expires_in if expires_in else 0.0,
            scope=payload.get("scope"),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tokens:
        """Tokens as saved by `to_dict` (or given in config).

        Raises:
            TraktAuthError: the saved data has no access token.
        """
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise TraktAuthError("trakt: saved tokens have no access_token")
        return cls(
            access_token=access,
            refresh_token=data.get("refresh_token") or None,
            expires_at=float(data.get("expires_at") or 0.0),
            scope=data.get("scope"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The form a token store keeps."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "scope": self.scope,
        }

    def expires_soon(self, now: float, margin: float = REFRESH_MARGIN) -> bool:
        """Whether the access token is (nearly) expired; 0 means unknown → no."""
        return bool(self.expires_at) and self.expires_at - margin <= now


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """The codes that start a device login."""

    device_code: str
    user_code: str
    verification_url: str
    expires_in: float
    interval: float


class TokenKeeper:
    """Holds the current tokens, renews them once when needed, saves renewals.

    Args:
        client: An HTTP client without auth headers for `/oauth/token`, or a
            callable making one on first use (most sessions never renew).
        client_id: The app's client id.
        client_secret: The app's client secret (needed to refresh).
        tokens: The tokens to start from.
        store: Where renewed tokens are saved, if anywhere.
        store_key: The key under which the store keeps them.
        now: Wall-clock seconds (tokens expire in real time).
    """

    def __init__(
        self,
        *,
        client: HttpClient | Callable[[], HttpClient],
        client_id: str,
        client_secret: str | None,
        tokens: Tokens,
        store: TokenStoreLike | None = None,
        store_key: str = "trakt",
        now: Callable[[], float] = time.time,
    ) -> None:
        """Start from `tokens`."""
        self._client_or_factory = client
        self._client_id = client_id
        self._client_secret = client_secret
        self.tokens = tokens
        self._store = store
        self._store_key = store_key
        self._now = now
        self._lock = asyncio.Lock()
        self.refreshes = 0

    @property
    def _client(self) -> HttpClient:
        if not isinstance(self._client_or_factory, HttpClient):
            self._client_or_factory = self._client_or_factory()
        client = self._client_or_factory
        for secret in (
            self.tokens.access_token,
            self.tokens.refresh_token,
            self._client_secret,
        ):
            client.add_secret(secret)
        return client

    async def headers(self) -> dict[str, str]:
        """The bearer header, renewing first when the token is about to expire.

        A refused renewal is not raised here: the request goes out, Trakt answers
        401 and the caller gets one `HttpError` with code AUTH, like any other
        request failure.
        """
        if self.tokens.expires_soon(self._now()) and self.tokens.refresh_token:
            with contextlib.suppress(TraktAuthError):
                await self.refresh(stale=self.tokens.access_token)
        return {"Authorization": f"Bearer {self.tokens.access_token}"}

    async def on_unauthorized(self) -> bool:
        """Renew once after a 401; True when new credentials are in place."""
        if not self.tokens.refresh_token or not self._client_secret:
            return False
        try:
            await self.refresh(stale=self.tokens.access_token)
        except TraktAuthError:
            return False
        return True

    async def refresh(self, *, stale: str | None = None) -> Tokens:
        """Exchange the refresh token for new tokens and save them.

        Concurrent callers that saw the same stale token share one renewal.

        Returns:
            The current tokens.

        Raises:
            TraktAuthError: there is no refresh token or client secret, or Trakt
                refused the refresh token (sign in again).
        """
        async with self._lock:
            if stale is not None and self.tokens.access_token != stale:
                return self.tokens
            if not self.tokens.refresh_token or not self._client_secret:
                raise TraktAuthError(
                    "trakt: the access token expired and cannot be renewed without "
                    "a refresh token and client_secret; run `anibridge login trakt`",
                    reason="no_refresh",
                )
            body = {
                "refresh_token": self.tokens.refresh_token,
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "redirect_uri": OOB_REDIRECT,
                "grant_type": "refresh_token",
            }
            try:
                response = await self._client.post(
                    "/oauth/token", json=body, route=AUTH_ROUTE, retry=False
                )
            except HttpError as exc:
                if exc.code is WriteError.AUTH or exc.status == 400:
                    raise TraktAuthError(
                        "trakt: the refresh token was refused; run "
                        "`anibridge login trakt` to sign in again",
                        reason="refresh_refused",
                    ) from exc
                raise
            fresh = Tokens.from_response(response.json())
            if fresh.refresh_token is None:
                fresh = Tokens(
                    fresh.access_token,
                    self.tokens.refresh_token,
                    fresh.expires_at,
                    fresh.scope,
                )
            self._client.add_secret(fresh.access_token)
            self._client.add_secret(fresh.refresh_token)
            self.tokens = fresh
            self.refreshes += 1
            if self._store is not None:
                await self._store.save(self._store_key, fresh.to_dict())
            return fresh


async def start_device_login(client: HttpClient, client_id: str) -> DeviceCode:
    """Ask Trakt for a device code and the user code to show.

    Returns:
        The codes, URL, lifetime and polling interval.

    Raises:
        TraktAuthError: Trakt refused the client id.
    """
    try:
        response = await client.post(
            "/oauth/device/code",
            json={"client_id": client_id},
            route=AUTH_ROUTE,
            retry=True,
        )
    except HttpError as exc:
        raise TraktAuthError(
            f"trakt: could not start the device login ({exc.status}); check the "
            "client_id",
            reason="device_code",
        ) from exc
    data = response.json()
    try:
        return DeviceCode(
            device_code=str(data["device_code"]),
            user_code=str(data["user_code"]),
            verification_url=str(data["verification_url"]),
            expires_in=float(data["expires_in"]),
            interval=float(data.get("interval") or 5),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TraktAuthError(
            f"trakt: device code answer is missing {exc}", reason="device_code"
        ) from exc


_DEVICE_FAILURES = {
    404: ("invalid", "the device code is not valid; start the login again"),
    409: ("already_used", "this device code was already used; start again"),
    410: ("expired", "the code expired before it was entered; start again"),
    418: ("denied", "the login was denied on trakt.tv"),
}


async def poll_device_login(
    client: HttpClient,
    code: DeviceCode,
    *,
    client_id: str,
    client_secret: str,
    clock: Clock,
    on_poll: Callable[[int, float], Awaitable[None] | None] | None = None,
) -> Tokens:
    """Poll until the user approves, denies, or the code expires.

    Polls at the announced interval and backs off by 5 seconds on each "slow down"
    (429), as the device-flow rules require; never polls past `expires_in`.

    Args:
        client: An HTTP client on the Trakt base URL.
        code: The codes from `start_device_login`.
        client_id: The app's client id.
        client_secret: The app's client secret.
        clock: The clock to wait on (service seconds).
        on_poll: Called after each pending answer with (attempt, interval).

    Returns:
        The new tokens.

    Raises:
        TraktAuthError: denied, expired, invalid or already used (`reason` says).
    """
    interval = max(code.interval, 0.0)
    started = clock.monotonic()
    attempt = 0
    body = {
        "code": code.device_code,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    while True:
        if clock.monotonic() - started + interval > code.expires_in:
            raise TraktAuthError(
                "trakt: the code expired before it was entered; start again",
                reason="expired",
            )
        await clock.sleep(interval)
        attempt += 1
        response = await client.post(
            "/oauth/device/token",
            json=body,
            route=AUTH_ROUTE,
            retry=True,
            expect=(400, 404, 409, 410, 418, 429),
        )
        status = response.status_code
        if status < 300:
            tokens = Tokens.from_response(response.json())
            client.add_secret(tokens.access_token)
            client.add_secret(tokens.refresh_token)
            return tokens
        if status in _DEVICE_FAILURES:
            reason, message = _DEVICE_FAILURES[status]
            raise TraktAuthError(f"trakt: {message}", reason=reason)
        if status == 429:
            interval += 5.0
        if on_poll is not None:
            result = on_poll(attempt, interval)
            if result is not None:
                await result
