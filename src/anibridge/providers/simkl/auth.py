"""Simkl's PIN login (the device flow for apps without a browser).

`GET /oauth/pin?client_id=` hands out a short user code and a verification URL; the
user enters the code on simkl.com/pin while we poll `GET /oauth/pin/{user_code}` at
the interval Simkl gave us. Answers arrive as ``{"result": "KO", "message": ...}``
("Authorization pending", "Slow down") until ``{"result": "OK", "access_token":
...}``. Simkl access tokens do not expire, so there is nothing to refresh; a revoked
token shows up as 401 and needs a new login.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from anibridge.http import HttpClient, HttpError
from anibridge.http.clock import Clock
from anibridge.http.errors import CredentialsError

__all__ = [
    "AUTH_ROUTE",
    "PinCode",
    "SimklAuthError",
    "poll_pin_login",
    "start_pin_login",
]

AUTH_ROUTE = "auth"  # its own route class: logins never wait behind sync reads


class SimklAuthError(CredentialsError):
    """Signing in failed; the message says what to do."""

    def __init__(self, message: str, *, reason: str = "auth") -> None:
        """Carry a human message and a short machine `reason`."""
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PinCode:
    """The codes that start a PIN login."""

    user_code: str
    verification_url: str
    expires_in: float
    interval: float


async def start_pin_login(
    client: HttpClient, client_id: str, params: dict[str, str] | None = None
) -> PinCode:
    """Ask Simkl for a user code to show.

    Returns:
        The code, URL, lifetime and polling interval.

    Raises:
        SimklAuthError: Simkl refused the client id or answered without a code.
    """
    try:
        response = await client.get(
            "/oauth/pin",
            params={"client_id": client_id, **(params or {})},
            route=AUTH_ROUTE,
        )
    except HttpError as exc:
        raise SimklAuthError(
            f"simkl: could not start the PIN login ({exc.status}); check client_id",
            reason="pin",
        ) from exc
    data = response.json() if response.content else {}
    try:
        return PinCode(
            user_code=str(data["user_code"]),
            verification_url=str(
                data.get("verification_url") or "https://simkl.com/pin/"
            ),
            expires_in=float(data.get("expires_in") or 900),
            interval=float(data.get("interval") or 5),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SimklAuthError(
            f"simkl: PIN answer is missing {exc}", reason="pin"
        ) from exc


async def poll_pin_login(
    client: HttpClient,
    code: PinCode,
    *,
    client_id: str,
    clock: Clock,
    params: dict[str, str] | None = None,
    on_poll: Callable[[int, float], Awaitable[None] | None] | None = None,
) -> str:
    """Poll until the user enters the code, or it expires.

    Polls at the announced interval and backs off by 5 seconds on "Slow down"; never
    polls past `expires_in`.

    Args:
        client: An HTTP client on the Simkl API root.
        code: The codes from `start_pin_login`.
        client_id: The app's client id.
        clock: The clock to wait on (service seconds).
        params: Extra query parameters (app-name, app-version).
        on_poll: Called after each pending answer with (attempt, interval).

    Returns:
        The access token.

    Raises:
        SimklAuthError: the code expired or is not valid any more.
    """
    interval = max(code.interval, 0.0)
    started = clock.monotonic()
    attempt = 0
    query = {"client_id": client_id, **(params or {})}
    while True:
        if clock.monotonic() - started + interval > code.expires_in:
            raise SimklAuthError(
                "simkl: the code expired before it was entered; start again",
                reason="expired",
            )
        await clock.sleep(interval)
        attempt += 1
        response = await client.get(
            f"/oauth/pin/{code.user_code}",
            params=query,
            route=AUTH_ROUTE,
            expect=(400, 404),
        )
        if response.status_code in (400, 404):
            raise SimklAuthError(
                "simkl: the code is not valid any more; start the login again",
                reason="invalid",
            )
        data = response.json() if response.content else {}
        token = data.get("access_token") if isinstance(data, dict) else None
        if isinstance(token, str) and token and data.get("result") == "OK":
            client.add_secret(token)
            return token
        message = str(data.get("message") or "") if isinstance(data, dict) else ""
        if message.lower().startswith("slow down"):
            interval += 5.0
        if on_poll is not None:
            result = on_poll(attempt, interval)
            if result is not None:
                await result
