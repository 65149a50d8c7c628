"""`EmbyProvider`: an Emby Server (4.8/4.9) library as a source and a target.

Emby-specific, next to what `anibridge.providers._mediabrowser` shares with Jellyfin:
the ``X-Emby-Token`` header; user-scoped routes with the user in the path
(``/Users/{userId}/Items``, ``/Users/{userId}/Views``,
``/Users/{userId}/PlayedItems/{id}?DatePlayed=yyyyMMddHHmmss``); user-data updates
take the *whole* ``UserItemDataDto``, so a rating change reads the item's current user
data first and sends it back with only the rating changed (favourites, positions and
counts are preserved); webhooks in Emby's own format.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from anibridge.http import HttpError
from anibridge.provider.base import (
    InboundRequest,
    InboundResult,
    RecordField,
    WriteError,
)
from anibridge.provider.config_keys import ConfigKey
from anibridge.providers._library.model import UserState
from anibridge.providers._library.settings import library_keys
from anibridge.providers._library.shape import LibraryTraits
from anibridge.providers._mediabrowser.provider import (
    MediaBrowserProvider,
    Routes,
    iso_z,
)
from anibridge.providers._mediabrowser.webhook import json_body
from anibridge.providers.emby.webhook import payload_changes
from anibridge.providers.jellyfin.provider import MEDIABROWSER_AUTHORITIES

__all__ = ["EmbyProvider"]


def emby_date(value: datetime) -> str:
    """``DatePlayed`` as Emby's route wants it: ``yyyyMMddHHmmss`` in UTC."""
    return value.astimezone(UTC).strftime("%Y%m%d%H%M%S")


class EmbyProvider(MediaBrowserProvider):
    """Emby Server 4.8+.

    Config keys: ``base_url``, ``token`` (API key or user access token), ``user``
    (name or id; required with several users), ``sections``, ``genres``, ``strict``,
    ``ordering``, ``page_size``, ``time_scale``/``clock``.
    """

    DISPLAY_NAME = "Emby"
    NAMESPACE = "emby"
    CONFIG_KEYS = library_keys(
        base_url=ConfigKey(
            "the server's URL", required=True, example="http://127.0.0.1:8096"
        ),
        token=ConfigKey(
            "an API key (Settings > Advanced > API Keys) or a user's access token",
            required=True,
            secret=True,
            env="EMBY_API_KEY",
        ),
    )
    SIGN_IN = "an API key in `token` (Settings > Advanced > API Keys)"
    SERVER = "Emby"
    TRAITS = LibraryTraits(
        rating_step=0.5,
        writable=frozenset(
            {RecordField.STATUS, RecordField.RATING, RecordField.LAST_ACTIVITY_AT}
        ),
        authorities=MEDIABROWSER_AUTHORITIES,
    )

    def _auth_headers(self) -> dict[str, str]:
        return {"X-Emby-Token": self.settings.token}

    def _valid_key(self, key: str) -> bool:
        return key.isdigit()  # item ids are integers

    def routes(self) -> Routes:
        """The user is a path segment."""
        return Routes(
            items=(f"/Users/{self.user_id}/Items", {}),
            views=(f"/Users/{self.user_id}/Views", {}),
        )

    async def _mark_watched(
        self, key: str, state: UserState, at: datetime | None
    ) -> None:
        params = {"DatePlayed": emby_date(at)} if at is not None else None
        await self._send(
            "POST",
            f"/Users/{self.user_id}/PlayedItems/{key}",
            params=params,
            retry=False,
        )

    async def _mark_unwatched(self, key: str, state: UserState) -> None:
        await self._send("DELETE", f"/Users/{self.user_id}/PlayedItems/{key}")

    async def _set_rating(
        self, key: str, state: UserState, value: float | None
    ) -> None:
        await self._update_user_data(key, lambda data: _with(data, "Rating", value))

    async def _set_last_played(self, key: str, state: UserState, at: datetime) -> None:
        await self._update_user_data(
            key, lambda data: _with(data, "LastPlayedDate", iso_z(at))
        )

    async def _update_user_data(self, key: str, change: Any) -> None:
        response = await self.http.get(f"/Users/{self.user_id}/Items/{key}")
        current = response.json().get("UserData")
        if not isinstance(current, dict):
            raise HttpError(
                f"emby: item {key} came without UserData", code=WriteError.INTERNAL
            )
        await self._send(
            "POST",
            f"/Users/{self.user_id}/Items/{key}/UserData",
            json=change(current),
            retry=True,  # the whole DTO: safe to repeat
        )

    async def _parse_inbound(self, request: InboundRequest) -> InboundResult:
        payload = json_body(request.headers, request.body, "data")
        return payload_changes(payload, user_id=self.user_id, server_id=self.server_id)


def _with(data: dict[str, Any], key: str, value: object) -> dict[str, Any]:
    out = dict(data)
    if value is None:
        out.pop(key, None)
    else:
        out[key] = value
    return out
