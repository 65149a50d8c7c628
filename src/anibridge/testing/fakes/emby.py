"""A fake Emby Server 4.8/4.9 on loopback, plus Emby webhook payloads.

Routes (see docs/media-servers.md): ``/System/Info``, ``/Users``,
``/Users/{userId}/Views``, ``/Users/{userId}/Items`` (paged, filtered),
``GET /Users/{userId}/Items/{id}``,
``POST|DELETE /Users/{userId}/PlayedItems/{id}?DatePlayed=yyyyMMddHHmmss``,
``POST /Users/{userId}/Items/{id}/UserData`` (the whole ``UserItemDataDto``).
Auth: ``X-Emby-Token`` (or ``api_key``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from anibridge.testing.fakes.media import MediaLibrary
from anibridge.testing.fakes.mediabrowser import FakeMediaBrowser, iso
from anibridge.testing.fakes.server import FakeRequest, HttpFault

__all__ = ["EMBY_VERSION", "FakeEmby", "emby_webhook"]

EMBY_VERSION = "4.9.0.42"
_USER = r"/Users/(?P<user>[0-9a-fA-F-]+)"


class FakeEmby(FakeMediaBrowser):
    """Emby: numeric item ids, the user as a path segment."""

    PRODUCT = "Emby Server"
    VERSION = EMBY_VERSION

    def __init__(self, library: MediaLibrary, **kwargs: Any) -> None:
        """Serve `library` with Emby's routes."""
        super().__init__(library, **kwargs)
        r = self.route
        r("GET", _USER + r"/Views", self.user_views, kind="identity")
        r("GET", _USER + r"/Items", self.items)
        r("GET", _USER + r"/Items/(?P<id>\d+)", self.item)
        r("POST", _USER + r"/PlayedItems/(?P<id>\d+)", self.mark_played, kind="write")
        r(
            "DELETE",
            _USER + r"/PlayedItems/(?P<id>\d+)",
            self.mark_unplayed,
            kind="write",
        )
        r("POST", _USER + r"/Items/(?P<id>\d+)/UserData", self.user_data_update,
          kind="write")  # fmt: skip

    def item_id(self, key: str) -> str:
        """Emby ids are the database's integers."""
        return key

    def _user(self, request: FakeRequest) -> str:
        user = self.authorize(request, request.params["user"])
        assert user is not None
        return user

    def user_views(self, request: FakeRequest) -> dict:
        """``/Users/{userId}/Views``."""
        return self.views(self._user(request))

    def items(self, request: FakeRequest) -> dict:
        """``/Users/{userId}/Items``."""
        return self.list_items(request, self._user(request))

    def item(self, request: FakeRequest) -> dict:
        """``/Users/{userId}/Items/{id}``."""
        user = self._user(request)
        key = self.key_of(request.params["id"])
        lib = self.library
        if key in lib.items:
            return self.item_json(lib.items[key], user)
        return self.episode_json(lib.episodes[key], user)

    def mark_played(self, request: FakeRequest) -> dict:
        """Mark played at ``DatePlayed`` (``yyyyMMddHHmmss``, UTC)."""
        user = self._user(request)
        key = self.key_of(request.params["id"])
        raw = request.arg("DatePlayed")
        when = None
        if raw:
            try:
                when = int(
                    datetime.strptime(raw, "%Y%m%d%H%M%S")
                    .replace(tzinfo=UTC)
                    .timestamp()
                )
            except ValueError as exc:
                raise HttpFault(400, "DatePlayed must be yyyyMMddHHmmss") from exc
        self.library.play(user, key, when)
        return self.user_data(user, key)

    def mark_unplayed(self, request: FakeRequest) -> dict:
        """Mark unplayed."""
        user = self._user(request)
        key = self.key_of(request.params["id"])
        self.library.unplay(user, key)
        return self.user_data(user, key)

    def user_data_update(self, request: FakeRequest) -> Any:
        """Replace the user data with the posted DTO (absent fields are reset)."""
        user = self._user(request)
        key = self.key_of(request.params["id"])
        dto = request.json()
        if not isinstance(dto, dict):
            raise HttpFault(400, "body must be a UserItemDataDto")
        self.update_user_data(user, key, dto, partial=False)
        return ""


def emby_webhook(
    server: FakeEmby,
    event: str,
    key: str,
    *,
    user: str | None = None,
    multipart: bool = False,
    **extra: Any,
) -> tuple[dict[str, str], bytes]:
    """Headers and body of an Emby webhook about library item `key`."""
    lib = server.library
    if key in lib.episodes:
        item = server.episode_json(lib.episodes[key], user)
    else:
        item = server.item_json(lib.items[key], user)
    payload: dict[str, Any] = {
        "Title": f"{event} {item['Name']}",
        "Date": iso(1_700_000_000),
        "Event": event,
        "Severity": "Info",
        "Item": item,
        "Server": {
            "Name": "Fake Emby",
            "Id": server.server_id,
            "Version": EMBY_VERSION,
        },
    }
    if user is not None:
        payload["User"] = {"Name": lib.users[user].name, "Id": server.user_id(user)}
    payload |= extra
    body = json.dumps(payload).encode()
    if not multipart:
        return {"Content-Type": "application/json"}, body
    boundary = "emby-boundary-42"
    parts = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="data"\r\n\r\n'.encode()
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, parts
