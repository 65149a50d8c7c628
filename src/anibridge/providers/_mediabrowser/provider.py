"""What Jellyfin and Emby share (both descend from Media Browser).

Same item model (``BaseItemDto`` with ``UserData`` and ``ProviderIds``), the same
paging (``StartIndex``/``Limit`` → ``TotalRecordCount``) and the same server-side
filters (``MinDateLastSavedForUser``, ``MinDateLastSaved``). What differs — auth
header, where the user id goes in a route, the played/unplayed/user-data routes, the
webhook format — is each subclass's `routes` and hooks, kept explicit there.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from logging import Logger
from typing import Any, ClassVar

from anibridge.http import HttpClient, HttpError
from anibridge.provider.base import Account, WriteError
from anibridge.providers._library.model import (
    Changes,
    LibraryEpisode,
    LibraryItem,
    Section,
)
from anibridge.providers._library.provider import LibraryProvider
from anibridge.providers._mediabrowser.convert import (
    episode_from_json,
    item_from_json,
    section_from_json,
)

__all__ = ["MediaBrowserProvider", "Routes", "iso_z"]

ITEM_FIELDS = "ProviderIds,Genres,ProductionYear,DateCreated"
_BATCH = 100


def iso_z(value: datetime) -> str:
    """An aware datetime as the servers write it (``2024-01-02T03:04:05.0000000Z``)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


@dataclass(frozen=True, slots=True)
class Routes:
    """Where a user-scoped read goes: path and the query naming the user."""

    items: tuple[str, dict[str, str]]
    views: tuple[str, dict[str, str]]


class MediaBrowserProvider(LibraryProvider):
    """Base of the Jellyfin and Emby providers."""

    SERVER: ClassVar[str]

    def __init__(
        self, *, logger: Logger, config: Mapping[str, object] | None = None
    ) -> None:
        """Validate the config; nothing is contacted before `initialize`."""
        super().__init__(logger=logger, config=config)
        self.http = HttpClient(
            name=self.NAMESPACE,
            base_url=self.settings.base_url,
            headers={"Accept": "application/json", **self._auth_headers()},
            clock=self.settings.clock,
            secrets=[self.settings.token],
            logger=self.log,
        )
        self.user_id = ""
        self.server_id: str | None = None

    # -- per-server hooks -------------------------------------------------------------

    @abstractmethod
    def _auth_headers(self) -> dict[str, str]:
        """The credential header of this server."""

    @abstractmethod
    def routes(self) -> Routes:
        """User-scoped read routes for `self.user_id`."""

    # -- connection -------------------------------------------------------------------

    async def _json(self, path: str, **params: object) -> Any:
        response = await self.http.get(path, params=params or None)
        return response.json()

    async def _connect(self) -> Account:
        info = await self._json("/System/Info")
        self.server_id = str(info.get("Id")) if isinstance(info, dict) else None
        try:
            users = await self._json("/Users")
        except HttpError as exc:
            if exc.code is not WriteError.AUTH:
                raise
            # A non-admin user's own token may not list users: it is that user.
            users = [await self._json("/Users/Me")]
        users = [u for u in users or () if isinstance(u, dict)]
        wanted = self.settings.user
        if wanted is None:
            if len(users) != 1:
                names = ", ".join(str(u.get("Name")) for u in users)
                raise ValueError(
                    f"{self.NAMESPACE} provider config 'user': required, the server "
                    f"has several users ({names})"
                )
            match = users[0]
        else:
            match = next(
                (
                    u
                    for u in users
                    if wanted.casefold() in (str(u.get("Name", "")).casefold(),
                                             str(u.get("Id", "")).casefold())
                ),
                None,
            )  # fmt: skip
            if match is None:
                names = ", ".join(str(u.get("Name")) for u in users) or "none"
                raise ValueError(
                    f"{self.NAMESPACE} provider config 'user': no user {wanted!r} "
                    f"(users: {names})"
                )
        self.user_id = str(match["Id"])
        return Account(key=self.user_id, title=str(match.get("Name") or self.user_id))

    async def _close_client(self) -> None:
        await self.http.aclose()

    async def _list_sections(self) -> list[Section]:
        path, params = self.routes().views
        data = await self._json(path, **params)
        entries = data.get("Items") if isinstance(data, dict) else None
        return [
            s
            for e in entries or ()
            if isinstance(e, dict) and (s := section_from_json(e)) is not None
        ]

    # -- listings ---------------------------------------------------------------------

    async def _paged(self, params: Mapping[str, object]) -> list[dict[str, Any]]:
        path, user = self.routes().items
        start = 0
        out: list[dict[str, Any]] = []
        while True:
            query = {
                **user,
                "Recursive": "true",
                "EnableUserData": "true",
                "EnableImages": "false",
                **params,
                "StartIndex": start,
                "Limit": self.settings.page_size,
            }
            data = await self._json(path, **query)
            chunk = [i for i in data.get("Items") or () if isinstance(i, dict)]
            out.extend(chunk)
            start += len(chunk)
            total = data.get("TotalRecordCount")
            if not chunk or (isinstance(total, int) and start >= total):
                return out

    async def _section_items(self, section: Section) -> list[LibraryItem]:
        kind = "Series" if section.kind == "show" else "Movie"
        listing = await self._paged(
            {"ParentId": section.key, "IncludeItemTypes": kind, "Fields": ITEM_FIELDS}
        )
        return [i for m in listing if (i := item_from_json(m, section.key)) is not None]

    async def _section_episodes(self, section: Section) -> list[LibraryEpisode]:
        listing = await self._paged(
            {"ParentId": section.key, "IncludeItemTypes": "Episode"}
        )
        return [e for m in listing if (e := episode_from_json(m)) is not None]

    async def _items(self, keys: Sequence[str]) -> list[LibraryItem]:
        out: list[LibraryItem] = []
        for start in range(0, len(keys), _BATCH):
            listing = await self._paged(
                {"Ids": ",".join(keys[start : start + _BATCH]), "Fields": ITEM_FIELDS}
            )
            out.extend(i for m in listing if (i := item_from_json(m)) is not None)
        return out

    async def _episodes_of(self, show_keys: Sequence[str]) -> list[LibraryEpisode]:
        out: list[LibraryEpisode] = []
        for key in show_keys:
            listing = await self._paged(
                {"ParentId": key, "IncludeItemTypes": "Episode"}
            )
            out.extend(e for m in listing if (e := episode_from_json(m)) is not None)
        return out

    async def _changes_since(
        self, sections: Sequence[Section], since: datetime
    ) -> Changes:
        stamp = iso_z(since)
        episodes: dict[str, LibraryEpisode] = {}
        items: dict[str, LibraryItem] = {}
        added: list[str] = []
        stamps: dict[str, set[str]] = {}  # anchor -> "row@DateLastSaved" of its rows
        types = "Episode,Movie,Series"
        for section in sections:
            saved = await self._paged(
                {"ParentId": section.key, "IncludeItemTypes": types,
                 "Fields": ITEM_FIELDS, "MinDateLastSavedForUser": stamp}
            )  # fmt: skip
            for data in saved:
                if (ep := episode_from_json(data)) is not None:
                    episodes[ep.key] = ep
                elif (item := item_from_json(data, section.key)) is not None:
                    items[item.key] = item
            changed = await self._paged(
                {"ParentId": section.key, "IncludeItemTypes": types,
                 "Fields": "DateLastSaved", "MinDateLastSaved": stamp}
            )  # fmt: skip
            for data in changed:
                if data.get("Type") == "Episode" and data.get("SeriesId"):
                    anchor = str(data["SeriesId"])
                elif data.get("Type") in ("Series", "Movie") and data.get("Id"):
                    anchor = str(data["Id"])
                else:
                    continue
                added.append(anchor)
                stamps.setdefault(anchor, set()).add(
                    f"{data.get('Id')}@{data.get('DateLastSaved')}"
                )
        return Changes(
            episodes=tuple(episodes.values()),
            items=tuple(items.values()),
            added=tuple(dict.fromkeys(added)),
            revisions={k: tuple(sorted(v)) for k, v in stamps.items()},
        )

    # -- writes -----------------------------------------------------------------------

    async def _send(self, method: str, path: str, **kwargs: Any) -> None:
        try:
            await self.http.request(method, path, **kwargs)
        except HttpError as exc:
            if exc.status == 400:
                exc.code = WriteError.INVALID
            raise
