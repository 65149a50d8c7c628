"""A fake Jellyfin 10.9/10.10 server on loopback, plus webhook-plugin payloads.

Routes (see docs/media-servers.md): ``/System/Info``, ``/Users``,
``/UserViews?userId=``, ``/Items?userId=…`` (paged, filtered),
``POST|DELETE /UserPlayedItems/{itemId}?userId=&datePlayed=``,
``POST /UserItems/{itemId}/UserData?userId=`` (partial ``UpdateUserItemDataDto``).
Auth: ``Authorization: MediaBrowser Token="…"`` (or ``X-Emby-Token``/``api_key``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from anibridge.testing.fakes.media import MediaLibrary
from anibridge.testing.fakes.mediabrowser import FakeMediaBrowser, _epoch, iso
from anibridge.testing.fakes.server import FakeRequest, HttpFault

__all__ = ["JELLYFIN_VERSION", "FakeJellyfin", "jellyfin_webhook"]

JELLYFIN_VERSION = "10.10.3"
_TOKEN = re.compile(r'Token="([^"]*)"')


class FakeJellyfin(FakeMediaBrowser):
    """Jellyfin: 32-hex ids, user as a ``userId`` query parameter."""

    PRODUCT = "Jellyfin Server"
    VERSION = JELLYFIN_VERSION

    def __init__(self, library: MediaLibrary, **kwargs: Any) -> None:
        """Serve `library` with Jellyfin's 10.9+ routes."""
        super().__init__(library, **kwargs)
        r = self.route
        r("GET", r"/UserViews", self.user_views, kind="identity")
        r("GET", r"/Items", self.items)
        r(
            "POST",
            r"/UserPlayedItems/(?P<id>[0-9a-fA-F-]+)",
            self.mark_played,
            kind="write",
        )
        r(
            "DELETE",
            r"/UserPlayedItems/(?P<id>[0-9a-fA-F-]+)",
            self.mark_unplayed,
            kind="write",
        )
        r("POST", r"/UserItems/(?P<id>[0-9a-fA-F-]+)/UserData", self.user_data_update,
          kind="write")  # fmt: skip

    def item_id(self, key: str) -> str:
        """Jellyfin ids are GUIDs printed as 32 hex digits."""
        return f"{int(key):032x}"

    def valid_id(self, item_id: str) -> bool:
        """Jellyfin binds ids as GUIDs: anything else is a 400."""
        return bool(re.fullmatch(r"[0-9a-fA-F]{32}|[0-9a-fA-F-]{36}", item_id))

    def token_of(self, request: FakeRequest) -> str | None:
        """``Authorization: MediaBrowser … Token="…"`` first."""
        found = _TOKEN.search(request.header("Authorization") or "")
        return found.group(1) if found else super().token_of(request)

    def _user(self, request: FakeRequest) -> str | None:
        user_id = request.arg("userId") or request.arg("UserId")
        user = self.authorize(request, user_id)
        return user

    def user_views(self, request: FakeRequest) -> dict:
        """``/UserViews?userId=``."""
        user = self._user(request)
        if user is None:
            raise HttpFault(400, "userId is required")
        return self.views(user)

    def items(self, request: FakeRequest) -> dict:
        """``/Items?userId=…``."""
        return self.list_items(request, self._user(request))

    def _acting(self, request: FakeRequest) -> tuple[str, str]:
        user = self._user(request)
        if user is None:
            raise HttpFault(400, "userId is required")
        return user, self.key_of(request.params["id"])

    def mark_played(self, request: FakeRequest) -> dict:
        """Mark played, at ``datePlayed`` when given (a play is added)."""
        user, key = self._acting(request)
        when = request.arg("datePlayed")
        self.library.play(user, key, _epoch(when) if when else None)
        return self.user_data(user, key)

    def mark_unplayed(self, request: FakeRequest) -> dict:
        """Mark unplayed."""
        user, key = self._acting(request)
        self.library.unplay(user, key)
        return self.user_data(user, key)

    def user_data_update(self, request: FakeRequest) -> dict:
        """Partial update: null fields are left unchanged."""
        user, key = self._acting(request)
        dto = request.json()
        if not isinstance(dto, dict):
            raise HttpFault(400, "body must be an UpdateUserItemDataDto")
        self.update_user_data(user, key, dto, partial=True)
        return self.user_data(user, key)


def jellyfin_webhook(
    server: FakeJellyfin,
    notification: str,
    key: str,
    *,
    user: str | None = None,
    form: bool = False,
    **extra: Any,
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a jellyfin-plugin-webhook post about library item `key`.

    Fields follow the plugin's data object (``NotificationType``, ``ItemId``,
    ``SeriesId``, ``SeasonNumber``, ``EpisodeNumber``, ``UserId``…); `extra` adds or
    overrides fields (``SaveReason``, ``PlayedToCompletion``…).
    """
    lib = server.library
    payload: dict[str, Any] = {
        "ServerId": server.server_id,
        "ServerName": "Fake Jellyfin",
        "ServerVersion": JELLYFIN_VERSION,
        "ServerUrl": "http://127.0.0.1",
        "NotificationType": notification,
        "Timestamp": iso(1_700_000_000),
        "UtcTimestamp": iso(1_700_000_000),
        "ItemId": server.item_id(key),
    }
    if key in lib.episodes:
        ep = lib.episodes[key]
        show = lib.items[ep.show_key]
        payload |= {
            "ItemType": "Episode", "Name": ep.title, "SeriesName": show.title,
            "SeriesId": server.item_id(show.key), "SeasonNumber": ep.season,
            "EpisodeNumber": ep.episode,
            **{f"Provider_{k.lower()}": v for k, v in show.provider_ids.items()},
        }  # fmt: skip
    else:
        item = lib.items[key]
        payload |= {
            "ItemType": "Series" if item.kind == "show" else "Movie",
            "Name": item.title,
            "Year": item.year,
            **{f"Provider_{k.lower()}": v for k, v in item.provider_ids.items()},
        }
    if user is not None:
        payload["UserId"] = server.user_id(user)
        payload["NotificationUsername"] = lib.users[user].name
    payload |= extra
    body = json.dumps(payload).encode()
    if form:
        from urllib.parse import urlencode

        return (
            {"Content-Type": "application/x-www-form-urlencoded"},
            urlencode({"payload": body.decode()}).encode(),
        )
    return {"Content-Type": "application/json"}, body
