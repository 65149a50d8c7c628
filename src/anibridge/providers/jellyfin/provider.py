"""`JellyfinProvider`: a Jellyfin (10.9+) library as a source and a target.

Jellyfin-specific, next to what `anibridge.providers._mediabrowser` shares with Emby:
the ``Authorization: MediaBrowser Token=…`` header; the 10.9 routes that take the
user as a ``userId`` query parameter (``/Items``, ``/UserViews``,
``/UserPlayedItems/{id}``, ``/UserItems/{id}/UserData``); mark played *with a date*;
partial user-data updates (``null`` means unchanged, so a rating can be set but not
cleared); webhooks from jellyfin-plugin-webhook.
"""

from __future__ import annotations

import re
from datetime import datetime

from anibridge.provider.base import (
    InboundRequest,
    InboundResult,
    RecordField,
    WriteError,
)
from anibridge.provider.config_keys import ConfigKey
from anibridge.providers._library.model import UserState
from anibridge.providers._library.provider import WriteRejected
from anibridge.providers._library.settings import library_keys
from anibridge.providers._library.shape import LibraryTraits
from anibridge.providers._mediabrowser.provider import (
    MediaBrowserProvider,
    Routes,
    iso_z,
)
from anibridge.providers._mediabrowser.webhook import json_body
from anibridge.providers.jellyfin.webhook import payload_changes

__all__ = ["MEDIABROWSER_AUTHORITIES", "JellyfinProvider"]

_GUID = re.compile(
    r"^[0-9a-fA-F]{32}$|^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$"
)

MEDIABROWSER_AUTHORITIES = frozenset(
    {
        "tvdb_show",
        "tmdb_show",
        "imdb_show",
        "tvdb_movie",
        "tmdb_movie",
        "imdb_movie",
        "anidb",
        "anilist",
        "mal",
    }
)


class JellyfinProvider(MediaBrowserProvider):
    """Jellyfin 10.9+.

    Config keys: ``base_url``, ``token`` (an API key or a user's access token),
    ``user`` (name or id; required when the server has several users), ``sections``,
    ``genres``, ``strict``, ``ordering``, ``page_size``, ``time_scale``/``clock``.
    """

    DISPLAY_NAME = "Jellyfin"
    NAMESPACE = "jellyfin"
    CONFIG_KEYS = library_keys(
        base_url=ConfigKey(
            "the server's URL", required=True, example="http://127.0.0.1:8096"
        ),
        token=ConfigKey(
            "an API key (Dashboard > API Keys) or a user's access token",
            required=True,
            secret=True,
            env="JELLYFIN_API_KEY",
        ),
    )
    SIGN_IN = "an API key in `token` (Dashboard > API Keys)"
    SERVER = "Jellyfin"
    TRAITS = LibraryTraits(
        rating_step=0.5,
        writable=frozenset(
            {RecordField.STATUS, RecordField.RATING, RecordField.LAST_ACTIVITY_AT}
        ),
        authorities=MEDIABROWSER_AUTHORITIES,
    )

    def _auth_headers(self) -> dict[str, str]:
        return {
            "Authorization": (
                'MediaBrowser Client="AniBridge", Device="AniBridge", '
                f'DeviceId="anibridge", Version="0.1.0", Token="{self.settings.token}"'
            )
        }

    def _valid_key(self, key: str) -> bool:
        return bool(_GUID.match(key))  # item ids are GUIDs

    def routes(self) -> Routes:
        """10.9+: the user is a query parameter."""
        user = {"userId": self.user_id}
        return Routes(items=("/Items", user), views=("/UserViews", user))

    async def _mark_watched(
        self, key: str, state: UserState, at: datetime | None
    ) -> None:
        params = {"userId": self.user_id}
        if at is not None:
            params["datePlayed"] = iso_z(at)
        # Marking played may add a play: never resent blindly.
        await self._send("POST", f"/UserPlayedItems/{key}", params=params, retry=False)

    async def _mark_unwatched(self, key: str, state: UserState) -> None:
        await self._send(
            "DELETE", f"/UserPlayedItems/{key}", params={"userId": self.user_id}
        )

    async def _set_rating(
        self, key: str, state: UserState, value: float | None
    ) -> None:
        if value is None:
            raise WriteRejected(
                WriteError.UNSUPPORTED,
                "Jellyfin cannot clear a rating (a null Rating means 'unchanged')",
            )
        await self._user_data(key, {"Rating": value})

    async def _set_last_played(self, key: str, state: UserState, at: datetime) -> None:
        await self._user_data(key, {"LastPlayedDate": iso_z(at)})

    async def _user_data(self, key: str, changes: dict[str, object]) -> None:
        await self._send(
            "POST",
            f"/UserItems/{key}/UserData",
            params={"userId": self.user_id},
            json=changes,
            retry=True,  # absolute values: safe to repeat
        )

    async def _parse_inbound(self, request: InboundRequest) -> InboundResult:
        payload = json_body(request.headers, request.body, "payload")
        return payload_changes(payload, user_id=self.user_id, server_id=self.server_id)
