"""What the Jellyfin and Emby fakes share: item JSON, listings, filters, auth.

Both servers answer ``BaseItemDto`` objects (``Items`` + ``TotalRecordCount``), page
with ``StartIndex``/``Limit``, filter with ``ParentId``, ``IncludeItemTypes``, ``Ids``,
``MinDateLastSaved`` and ``MinDateLastSavedForUser``, and carry per-user ``UserData``.
Ids: Jellyfin prints 32-hex GUIDs, Emby numbers; the subclass picks (`item_id`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from anibridge.testing.fakes.media import FakeEpisode, FakeItem, MediaLibrary
from anibridge.testing.fakes.server import FakeRequest, FakeService, HttpFault

__all__ = ["FakeMediaBrowser", "iso"]

_TYPES = {"show": "Series", "movie": "Movie"}


def iso(epoch: int | None) -> str | None:
    """Epoch seconds as the servers print dates (7 fractional digits, ``Z``)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _epoch(text: str) -> int:
    cleaned = text.strip().replace("Z", "+00:00")
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", cleaned)
    parsed = datetime.fromisoformat(cleaned)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


class FakeMediaBrowser(FakeService):
    """Base of `FakeJellyfin` and `FakeEmby`; subclasses add their routes."""

    PRODUCT = "Media Browser"
    VERSION = "0"

    def __init__(self, library: MediaLibrary, *, api_key: str = "api-key",
                 time_scale: float = 1.0, **kwargs: Any) -> None:  # fmt: skip
        """Serve `library`; `api_key` is an admin key without a user."""
        super().__init__(time_scale=time_scale, **kwargs)
        self.library = library
        self.server_id = uuid.uuid5(uuid.NAMESPACE_DNS, self.PRODUCT).hex
        self.api_key = api_key
        self.user_tokens: dict[str, str] = {}  # token -> library user id
        self._ids: dict[str, str] = {}
        self.route("GET", r"/System/Info", self.system_info, kind="identity")
        self.route("GET", r"/Users", self.users, kind="identity")
        self.route("GET", r"/Users/Me", self.me, kind="identity")

    # -- ids --------------------------------------------------------------------------

    def item_id(self, key: str) -> str:
        """The server id of a library key."""
        raise NotImplementedError

    def user_id(self, user: str) -> str:
        """The server id of a library user."""
        return f"{int(user):032x}"

    def key_of(self, item_id: str) -> str:
        """The library key of a server id.

        Raises:
            HttpFault: 404 for an unknown id.
        """
        lib = self.library
        size = len(lib.items) + len(lib.episodes)
        if len(self._ids) != size:
            self._ids = {self.item_id(k): k for k in (*lib.items, *lib.episodes)}
        key = self._ids.get(item_id.replace("-", "").lower())
        if key is None:
            raise HttpFault(404, "Item not found")
        return key

    def valid_id(self, item_id: str) -> bool:
        """Whether `item_id` is well-formed for this server."""
        return True

    def _lookup(self, item_id: str) -> str | None:
        if not self.valid_id(item_id):
            raise HttpFault(400, f"The value '{item_id}' is not valid.")
        try:
            return self.key_of(item_id)
        except HttpFault:
            return None

    def library_user(self, user_id: str | None) -> str:
        """The library user of a server user id.

        Raises:
            HttpFault: 400/404 when missing or unknown.
        """
        if not user_id:
            raise HttpFault(400, "userId is required")
        wanted = user_id.replace("-", "").lower()
        for user in self.library.users:
            if self.user_id(user) == wanted:
                return user
        raise HttpFault(404, "User not found")

    # -- auth -------------------------------------------------------------------------

    def token_of(self, request: FakeRequest) -> str | None:
        """The access token of a request (header or ``api_key``)."""
        return request.header("X-Emby-Token") or request.arg("api_key")

    def authorize(self, request: FakeRequest, user_id: str | None = None) -> str | None:
        """Check the token; the library user acted for (None for the bare API key).

        Raises:
            HttpFault: 401 for a bad token, 403 for another user's token.
        """
        token = self.token_of(request)
        if token == self.api_key:
            return self.library_user(user_id) if user_id else None
        owner = self.user_tokens.get(token or "")
        if owner is None:
            raise HttpFault(401, "Access token is invalid or expired.")
        if user_id and self.library_user(user_id) != owner:
            raise HttpFault(403, "Forbidden")
        return owner

    # -- JSON -------------------------------------------------------------------------

    def user_data(self, user: str, key: str) -> dict[str, Any]:
        """``UserData`` of one item for one user."""
        w = self.library.peek(user, key)
        data: dict[str, Any] = {
            "PlaybackPositionTicks": 0,
            "PlayCount": w.view_count if w else 0,
            "IsFavorite": bool(w and w.favorite),
            "Played": bool(w and w.view_count),
            "Key": key,
        }
        if w and w.last_viewed_at:
            data["LastPlayedDate"] = iso(w.last_viewed_at)
        if w and w.rating is not None:
            data["Rating"] = w.rating
        return data

    def item_json(self, item: FakeItem, user: str | None) -> dict[str, Any]:
        """A series or movie."""
        data: dict[str, Any] = {
            "Name": item.title,
            "ServerId": self.server_id,
            "Id": self.item_id(item.key),
            "Type": _TYPES[item.kind],
            "IsFolder": item.kind == "show",
            "ProductionYear": item.year,
            "ProviderIds": dict(item.provider_ids),
            "Genres": list(item.genres),
            "DateCreated": iso(item.added_at),
            "DateLastSaved": iso(item.updated_at),
        }
        if user is not None:
            data["UserData"] = self.user_data(user, item.key)
            if item.kind == "show":
                keys = self.library.show_episodes[item.key]
                unplayed = sum(
                    1
                    for k in keys
                    if not (w := self.library.peek(user, k)) or not w.view_count
                )
                data["UserData"]["UnplayedItemCount"] = unplayed
                data["UserData"]["Played"] = unplayed == 0 and bool(keys)
        return data

    def episode_json(self, ep: FakeEpisode, user: str | None) -> dict[str, Any]:
        """An episode."""
        show = self.library.items[ep.show_key]
        data: dict[str, Any] = {
            "Name": ep.title,
            "ServerId": self.server_id,
            "Id": self.item_id(ep.key),
            "Type": "Episode",
            "SeriesName": show.title,
            "SeriesId": self.item_id(show.key),
            "SeasonName": f"Season {ep.season}",
            "ParentIndexNumber": ep.season,
            "IndexNumber": ep.episode,
            "DateCreated": iso(ep.added_at),
            "DateLastSaved": iso(ep.added_at),
        }
        if user is not None:
            data["UserData"] = self.user_data(user, ep.key)
        return data

    # -- handlers ---------------------------------------------------------------------

    def system_info(self, request: FakeRequest) -> dict:
        """``/System/Info``."""
        self.authorize(request)
        return {
            "ServerName": f"Fake {self.PRODUCT}",
            "Version": self.VERSION,
            "ProductName": self.PRODUCT,
            "Id": self.server_id,
            "OperatingSystem": "Linux",
        }

    def users(self, request: FakeRequest) -> list:
        """``/Users`` (administrators and API keys only)."""
        owner = self.authorize(request)
        if owner is not None and not self.library.users[owner].admin:
            raise HttpFault(403, "Forbidden")
        return [
            {"Name": u.name, "ServerId": self.server_id, "Id": self.user_id(u.id),
             "HasPassword": True, "Policy": {"IsAdministrator": u.admin}}
            for u in self.library.users.values()
        ]  # fmt: skip

    def me(self, request: FakeRequest) -> dict:
        """``/Users/Me``: the token's own user (400 for a bare API key)."""
        owner = self.authorize(request)
        if owner is None:
            raise HttpFault(400, "The API key has no user")
        u = self.library.users[owner]
        return {"Name": u.name, "ServerId": self.server_id, "Id": self.user_id(u.id),
                "Policy": {"IsAdministrator": u.admin}}  # fmt: skip

    def views(self, user: str) -> dict:
        """The user's views (libraries)."""
        kinds = {"show": "tvshows", "movie": "movies", "artist": "music"}
        rows = [
            {"Name": s.title, "ServerId": self.server_id, "Id": self.item_id(s.key),
             "Type": "CollectionFolder", "CollectionType": kinds.get(s.kind, "mixed")}
            for s in self.library.sections.values()
        ]  # fmt: skip
        return {"Items": rows, "TotalRecordCount": len(rows), "StartIndex": 0}

    def list_items(self, request: FakeRequest, user: str | None) -> dict:
        """The ``Items`` query both servers share (user = whose ``UserData``)."""
        q: Mapping[str, str | None] = {
            k.lower(): v[0] for k, v in request.query.items()
        }
        types = set((q.get("includeitemtypes") or "").split(",")) - {""}
        lib = self.library
        with lib.lock:
            parent = q.get("parentid")
            ids = q.get("ids")
            if ids:
                keys = [k for i in ids.split(",") if (k := self._lookup(i))]
            elif parent is not None:
                keys = self._children(parent)
            else:
                keys = [*lib.items, *lib.episodes]
            kept: list[str] = []
            for key in keys:
                if key in lib.items:
                    if types and _TYPES[lib.items[key].kind] not in types:
                        continue
                elif key not in lib.episodes or (types and "Episode" not in types):
                    continue
                kept.append(key)
            since_user = q.get("mindatelastsavedforuser")
            if since_user:
                if user is None:
                    raise HttpFault(400, "MinDateLastSavedForUser needs a user")
                bound = _epoch(since_user)
                kept = [
                    k for k in kept
                    if (w := lib.peek(user, k)) and (w.saved_at or 0) >= bound
                ]  # fmt: skip
            since = q.get("mindatelastsaved")
            if since:
                bound = _epoch(since)
                kept = [k for k in kept if self._saved(k) >= bound]
            start = int(q.get("startindex") or 0)
            limit = q.get("limit")
            window = kept[start : start + int(limit)] if limit else kept[start:]
            rows = [
                self.item_json(lib.items[k], user)
                if k in lib.items
                else self.episode_json(lib.episodes[k], user)
                for k in window
            ]
        return {"Items": rows, "TotalRecordCount": len(kept), "StartIndex": start}

    def _saved(self, key: str) -> int:
        lib = self.library
        if key in lib.items:
            return lib.items[key].updated_at
        return lib.episodes[key].added_at

    def _children(self, parent: str) -> list[str]:
        lib = self.library
        for section in lib.sections.values():
            if self.item_id(section.key) == parent:
                out: list[str] = []
                for item in lib.items.values():
                    if item.section == section.key:
                        out.append(item.key)
                        out.extend(lib.show_episodes.get(item.key, ()))
                return out
        key = self.key_of(parent)
        return list(lib.show_episodes.get(key, ()))

    def update_user_data(self, user: str, key: str, dto: Mapping[str, Any], *,
                         partial: bool) -> None:  # fmt: skip
        """Apply a user-data update (partial: null/absent fields stay unchanged)."""
        lib = self.library
        with lib.lock:
            w = lib.watch(user, key)
            if "Rating" in dto or not partial:
                rating = dto.get("Rating")
                if rating is not None or not partial:
                    lib.rate(user, key, float(rating) if rating is not None else None)
            if dto.get("LastPlayedDate"):
                w.last_viewed_at = _epoch(str(dto["LastPlayedDate"]))
            if dto.get("Played") is not None and not dto["Played"]:
                lib.unplay(user, key)
            if dto.get("PlayCount") is not None and dto.get("Played"):
                w.view_count = int(dto["PlayCount"])
            if dto.get("IsFavorite") is not None:
                w.favorite = bool(dto["IsFavorite"])
