"""Plex sign-in with a plex.tv PIN (no password ever passes through AniBridge).

``POST /api/v2/pins`` (as the app named by ``X-Plex-Client-Identifier``) hands out
a PIN id and code; the user opens ``app.plex.tv/auth#?clientID=…&code=…`` and signs
in; meanwhile we poll ``GET /api/v2/pins/{id}`` (same client identifier) until it
carries an ``authToken``. A PIN lives ``expiresIn`` seconds; plex.tv then answers 404.
The token is the account's: it works on the servers the account owns or shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from anibridge.http import HttpClient, HttpError
from anibridge.http.clock import Clock

__all__ = [
    "AUTH_APP_URL",
    "PlexLoginError",
    "PlexPin",
    "auth_app_url",
    "create_pin",
    "poll_pin",
]

AUTH_APP_URL = "https://app.plex.tv/auth"
POLL_INTERVAL = 1.0  # seconds between polls (plex.tv's own apps poll about this often)
_ROUTE = "auth"  # its own route class: sign-in never waits behind reads


class PlexLoginError(RuntimeError):
    """The sign-in could not finish; one line saying why and what to do."""


@dataclass(frozen=True, slots=True)
class PlexPin:
    """A PIN waiting for the user."""

    id: int
    code: str
    expires_in: float


async def create_pin(client: HttpClient) -> PlexPin:
    """Ask plex.tv for a PIN (the client's headers name AniBridge).

    Raises:
        PlexLoginError: plex.tv answered without a PIN.
        HttpError: plex.tv could not be reached or refused.
    """
    response = await client.post(
        "/api/v2/pins", params={"strong": "true"}, route=_ROUTE
    )
    data: Any = response.json() if response.content else None
    try:
        return PlexPin(
            id=int(data["id"]),
            code=str(data["code"]),
            expires_in=float(data.get("expiresIn") or 1800),
        )
    except (KeyError, TypeError, ValueError):
        raise PlexLoginError("plex.tv: the PIN answer has no id/code") from None


def auth_app_url(pin: PlexPin, client_id: str, base: str = AUTH_APP_URL) -> str:
    """The page where the user signs in and approves this PIN."""
    return (
        f"{base}#?clientID={quote(client_id, safe='')}&code={quote(pin.code, safe='')}"
        "&context%5Bdevice%5D%5Bproduct%5D=AniBridge"
    )


async def poll_pin(
    client: HttpClient,
    pin: PlexPin,
    *,
    clock: Clock,
    interval: float = POLL_INTERVAL,
) -> str:
    """Wait (on `clock`) until the user approves the PIN.

    Returns:
        The account's token.

    Raises:
        PlexLoginError: the PIN expired (or plex.tv forgot it) before approval.
        HttpError: plex.tv could not be reached.
    """
    started = clock.monotonic()
    while True:
        try:
            response = await client.get(f"/api/v2/pins/{pin.id}", route=_ROUTE)
        except HttpError as exc:
            if exc.status == 404:
                break  # expired and forgotten
            raise
        data: Any = response.json() if response.content else {}
        token = data.get("authToken") if isinstance(data, dict) else None
        if isinstance(token, str) and token:
            client.add_secret(token)
            return token
        if clock.monotonic() - started + interval >= pin.expires_in:
            break
        await clock.sleep(interval)
    raise PlexLoginError(
        f"plex: the PIN {pin.code} expired before it was approved; run "
        "`anibridge login plex` again and sign in on the page it opens"
    )
