"""`PlexProvider`: a Plex Media Server library as a source and a target.

Reads go straight to the server's JSON API with the selected user's token (a Plex Home
user is switched to through plex.tv); play history is read with the admin token
filtered by the user's ``accountID``. As a target it marks watched (``/:/scrobble``),
unwatched (``/:/unscrobble``) and rates (``/:/rate``); Plex cannot set a view date,
so ``LAST_ACTIVITY_AT`` is readable only.

Change feed: ``lastViewedAt``/``lastRatedAt``/``addedAt``/``updatedAt`` filters and the
history's ``viewedAt`` are stamped by the server or, for synced plays, by the client, so
they may lie ahead of our clock. The shared cursor rule (see
`anibridge.providers._library.provider`) reads them inclusively from the last read's
start minus a lookback and skips what it already delivered, so a play dated in the
future is read exactly once and never makes the cursor repeat; catalog changes carry
their rows' times (``revisions``) so a later one of the same show is not skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from logging import Logger
from typing import Any

from anibridge.dates import to_epoch
from anibridge.http import HttpError
from anibridge.http.errors import CredentialsError
from anibridge.provider.base import (
    Account,
    Event,
    EventQuery,
    InboundRequest,
    InboundResult,
    Page,
    RecordField,
    Ref,
    SupportsEventReads,
    WriteError,
)
from anibridge.provider.config_keys import ConfigKey
from anibridge.providers._library.model import (
    Changes,
    LibraryEpisode,
    LibraryItem,
    Play,
    Section,
    UserState,
)
from anibridge.providers._library.provider import LibraryProvider, _paged
from anibridge.providers._library.settings import library_keys
from anibridge.providers._library.shape import PLAY, LibraryTraits, episode_ref
from anibridge.providers.plex.client import PLEX_TV_URL, PlexClient, PlexTvClient
from anibridge.providers.plex.convert import (
    episode_from_json,
    item_from_json,
    play_from_json,
    section_from_json,
)
from anibridge.providers.plex.guids import SHOW_ORDERINGS
from anibridge.providers.plex.webhook import payload_changes, read_payload

__all__ = ["PlexProvider"]

_TYPES = {"movie": 1, "show": 2, "episode": 4}
#: Server-side filters of the change feed: user state (views, ratings) and catalog
#: changes (new episodes; show/movie metadata such as a fixed match).
_CHANGE_FILTERS = {
    "episode": ("lastViewedAt", "lastRatedAt", "addedAt"),
    "show": ("lastRatedAt", "updatedAt"),
    "movie": ("lastViewedAt", "lastRatedAt", "updatedAt"),
}
_PER_SHOW_HISTORY = 20  # above this many shows, read the section's history instead
OWNER_ACCOUNT_ID = "1"  # the server owner's account id on their own server


def _opt_str(config: Mapping[str, object], key: str) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"plex provider config '{key}': expected a string, got {value!r}"
        )
    return value


class PlexProvider(LibraryProvider, SupportsEventReads):
    """Plex Media Server (JSON API).

    Config keys: ``base_url`` (server URL), ``token`` (the owner's X-Plex-Token),
    ``user`` (a Plex Home user to act for; default the owner), ``pin`` (that user's
    PIN), ``account_id`` (override the server account id used for history and
    webhooks), ``plex_tv_url``, ``sections``, ``genres``, ``strict``, ``ordering``,
    ``page_size``, ``time_scale``/``clock`` (tests).
    """

    DISPLAY_NAME = "Plex"
    NAMESPACE = "plex"
    CONFIG_KEYS = library_keys(
        base_url=ConfigKey(
            "the Plex Media Server's URL",
            required=True,
            example="http://127.0.0.1:32400",
        ),
        token=ConfigKey(
            "the server owner's X-Plex-Token (else `anibridge login plex` saves one)",
            required=True,
            secret=True,
            env="PLEX_TOKEN",
            login=True,
        ),
        user=ConfigKey("a Plex Home user to sync for (default: the owner)"),
        pin=ConfigKey("that Home user's PIN", secret=True, env="PLEX_HOME_PIN"),
        account_id=ConfigKey("the server account id of the user (override)"),
        token_key=ConfigKey("name of the saved token (default 'plex')"),
        plex_tv_url=ConfigKey(f"plex.tv root (default {PLEX_TV_URL})"),
        auth_url=ConfigKey(
            "the sign-in page `anibridge login plex` opens "
            "(default https://app.plex.tv/auth)"
        ),
        client_identifier=ConfigKey(
            "X-Plex-Client-Identifier sent (default: one per server URL)"
        ),
    )
    SIGN_IN = "`anibridge login plex` (plex.tv PIN), or an X-Plex-Token in `token`"
    STORED_TOKEN = True
    TRAITS = LibraryTraits(
        rating_step=1.0,
        writable=frozenset({RecordField.STATUS, RecordField.RATING}),
        authorities=frozenset(
            {
                "tvdb_show",
                "tmdb_show",
                "imdb_show",
                "tvdb_movie",
                "tmdb_movie",
                "imdb_movie",
                "anidb",
                "mal",
            }
        ),
        events=True,
        event_changes=True,
    )

    def __init__(
        self, *, logger: Logger, config: Mapping[str, object] | None = None
    ) -> None:
        """Validate the config; nothing is contacted before `initialize`."""
        super().__init__(logger=logger, config=config)
        self._pin = _opt_str(self.config, "pin")
        self._account_override = _opt_str(self.config, "account_id")
        self._plex_tv_url = _opt_str(self.config, "plex_tv_url") or PLEX_TV_URL
        self._client_id = _opt_str(self.config, "client_identifier") or str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"anibridge:{self.settings.base_url}")
        )
        self._token = self.settings.token  # "" until loaded from the token store
        self._client = self._server_client(self._token)
        self._admin = self._client
        self._plex_tv: PlexTvClient | None = None
        self._machine_id: str | None = None
        self._account_id = OWNER_ACCOUNT_ID

    def _server_client(self, token: str) -> PlexClient:
        return PlexClient(
            self.settings.base_url,
            token,
            client_id=self._client_id,
            page_size=self.settings.page_size,
            clock=self.settings.clock,
            logger=self.log,
        )

    @property
    def client_identifier(self) -> str:
        """The X-Plex-Client-Identifier this instance sends (PINs are bound to it)."""
        return self._client_id

    @property
    def plex_tv_url(self) -> str:
        """The plex.tv root used for Home users and sign-in."""
        return self._plex_tv_url

    @property
    def clients(self) -> tuple[PlexClient, ...]:
        """The server clients in use (user, and admin when different)."""
        if self._admin is self._client:
            return (self._client,)
        return (self._client, self._admin)

    # -- connection -------------------------------------------------------------------

    async def _load_token(self) -> None:
        """Take the token `anibridge login plex` saved when the config has none.

        Raises:
            HttpError: no token is configured or saved (an AUTH error).
        """
        if self._token:
            return
        store = self.config.get("token_store")
        saved = None
        if store is not None:
            key = str(self.config.get("token_key") or "plex")
            saved = await store.load(key)  # type: ignore[attr-defined]
        token = saved.get("token") if isinstance(saved, dict) else None
        if not isinstance(token, str) or not token:
            raise CredentialsError(
                "plex: no token is configured or saved; run `anibridge login plex` "
                "or set token: {env: PLEX_TOKEN}"
            )
        self._token = token
        self._admin.use_token(token)

    async def _connect(self) -> Account:
        await self._load_token()
        identity = await self._admin.get("/identity")
        self._machine_id = identity.get("machineIdentifier")
        title = "Plex server owner"
        if self.settings.user:
            title = await self._switch_user(self.settings.user)
        if self._account_override:
            self._account_id = self._account_override
        return Account(key=self._account_id, title=title)

    async def _switch_user(self, wanted: str) -> str:
        self._plex_tv = PlexTvClient(
            self._plex_tv_url,
            self._token,
            client_id=self._client_id,
            clock=self.settings.clock,
            logger=self.log,
        )
        users = await self._plex_tv.home_users()
        match = next(
            (
                u
                for u in users
                if wanted.casefold()
                in {str(u.get(k, "")).casefold() for k in ("title", "username", "id")}
            ),
            None,
        )
        if match is None:
            names = ", ".join(str(u.get("title")) for u in users) or "none"
            raise ValueError(
                f"plex provider config 'user': no Plex Home user {wanted!r} "
                f"(home users: {names})"
            )
        title = str(match.get("title") or wanted)
        if match.get("admin"):
            return title  # the owner: the configured token already is theirs
        user_token = await self._plex_tv.switch(str(match["uuid"]), self._pin)
        server_token = await self._plex_tv.server_token(
            user_token, str(self._machine_id)
        )
        self._client = self._server_client(server_token)
        self._account_id = str(match["id"])
        return title

    async def _close_client(self) -> None:
        for client in self.clients:
            await client.aclose()
        if self._plex_tv is not None:
            await self._plex_tv.aclose()

    async def _list_sections(self) -> list[Section]:
        container = await self._client.get("/library/sections")
        sections: list[Section] = []
        for entry in container.get("Directory") or ():
            section = section_from_json(entry) if isinstance(entry, dict) else None
            if section is None:
                continue
            if section.kind == "show":
                section = Section(
                    section.key,
                    section.title,
                    section.kind,
                    await self._section_ordering(section.key),
                )
            sections.append(section)
        return sections

    async def _section_ordering(self, key: str) -> str | None:
        try:
            prefs = await self._client.get(f"/library/sections/{key}/prefs")
        except HttpError as exc:
            if exc.code not in (WriteError.NOT_FOUND, WriteError.INVALID):
                raise
            return None  # no readable prefs: the show's own setting or config decides
        for setting in prefs.get("Setting") or ():
            if isinstance(setting, dict) and setting.get("id") == "showOrdering":
                return SHOW_ORDERINGS.get(str(setting.get("value")))
        return None

    # -- reads ------------------------------------------------------------------------

    async def _section_items(self, section: Section) -> list[LibraryItem]:
        listing = await self._client.paged(
            f"/library/sections/{section.key}/all",
            {"type": _TYPES[section.kind], "includeGuids": 1},
        )
        return [i for m in listing if (i := item_from_json(m, section.key)) is not None]

    async def _section_episodes(self, section: Section) -> list[LibraryEpisode]:
        listing = await self._client.paged(
            f"/library/sections/{section.key}/all", {"type": _TYPES["episode"]}
        )
        return [e for m in listing if (e := episode_from_json(m)) is not None]

    def _valid_key(self, key: str) -> bool:
        return key.isdigit()  # ratingKeys are integers

    async def _items(self, keys: Sequence[str]) -> list[LibraryItem]:
        allowed = {s.key for s in self._sections}
        items = [
            i for m in await self._client.metadata(keys) if (i := item_from_json(m))
        ]
        return [i for i in items if not allowed or i.section in allowed]

    async def _episodes_of(self, show_keys: Sequence[str]) -> list[LibraryEpisode]:
        out: list[LibraryEpisode] = []
        for key in show_keys:
            listing = await self._client.paged(f"/library/metadata/{key}/allLeaves")
            out.extend(e for m in listing if (e := episode_from_json(m)) is not None)
        return out

    async def _changes_since(
        self, sections: Sequence[Section], since: datetime
    ) -> Changes:
        after = str(to_epoch(since) - 1)  # `>>=` is "after"; keep the boundary second
        episodes: dict[str, LibraryEpisode] = {}
        items: dict[str, LibraryItem] = {}
        added: list[str] = []
        stamps: dict[str, set[str]] = {}  # anchor -> "row@time" of its catalog rows
        for section in sections:
            path = f"/library/sections/{section.key}/all"
            kinds = ("episode", "show") if section.kind == "show" else ("movie",)
            for kind in kinds:
                for field in _CHANGE_FILTERS[kind]:
                    catalog = field in ("addedAt", "updatedAt")
                    params = {"type": _TYPES[kind], f"{field}>>": after}
                    for data in await self._client.paged(path, params):
                        if kind == "episode":
                            ep = episode_from_json(data)
                            if ep is None:
                                continue
                            if catalog:
                                added.append(ep.show_key)
                                stamps.setdefault(ep.show_key, set()).add(
                                    f"{ep.key}@{data.get(field)}"
                                )
                            else:
                                episodes[ep.key] = ep
                            continue
                        item = item_from_json(data, section.key)
                        if item is None:
                            continue
                        if catalog:
                            added.append(item.key)
                            stamps.setdefault(item.key, set()).add(
                                f"{item.key}@{data.get(field)}"
                            )
                        else:
                            items[item.key] = item
        plays = await self._history(sections, None, since)
        return Changes(
            episodes=tuple(episodes.values()),
            items=tuple(items.values()),
            added=tuple(dict.fromkeys(added)),
            plays=tuple(plays),
            revisions={k: tuple(sorted(v)) for k, v in stamps.items()},
        )

    async def _history(
        self,
        sections: Sequence[Section],
        show_keys: Sequence[str] | None,
        since: datetime | None = None,
    ) -> list[Play]:
        base: dict[str, object] = {
            "accountID": self._account_id,
            "sort": "viewedAt:desc",
        }
        if since is not None:
            base["viewedAt>"] = to_epoch(since)
        if show_keys is None:
            # One listing for the account, kept to the selected sections here.
            wanted = {s.key for s in sections}
            listing = await self._admin.paged("/status/sessions/history/all", base)
            return [
                p
                for m in listing
                if str(m.get("librarySectionID")) in wanted
                and (p := play_from_json(m)) is not None
            ]
        plays: list[Play] = []
        for key in show_keys:
            listing = await self._admin.paged(
                "/status/sessions/history/all", {**base, "metadataItemID": key}
            )
            plays.extend(p for m in listing if (p := play_from_json(m)) is not None)
        return plays

    async def fetch_events(self, query: EventQuery) -> Page[Event]:
        """Plays from the server's history for the selected account.

        A few shows are read one by one (``metadataItemID``); more than that, or no
        refs, read the account's history in pages: never a request per episode.
        """
        if query.native_event_kinds and PLAY not in query.native_event_kinds:
            return Page(())
        anchors = list(dict.fromkeys(r.key for r in query.refs))
        per_show = 0 < len(anchors) <= _PER_SHOW_HISTORY
        plays = await self._history(self._sections, anchors if per_show else None)
        wanted = set(query.refs)
        events: list[Event] = []
        for play in sorted(plays, key=lambda p: (p.at, p.key or "")):
            ref = (
                episode_ref(play.item_key, play.season, play.episode)
                if play.season is not None and play.episode is not None
                else Ref.anchor(play.item_key)
            )
            if wanted and ref not in wanted:
                continue
            events.append(Event(ref=ref, kind=PLAY, at=play.at, key=play.key))
        return _paged(events, query.cursor, query.limit, self.NAMESPACE)

    # -- writes -----------------------------------------------------------------------

    async def _mark_watched(
        self, key: str, state: UserState, at: datetime | None
    ) -> None:
        await self._client.scrobble(key)

    async def _mark_unwatched(self, key: str, state: UserState) -> None:
        await self._client.unscrobble(key)

    async def _set_rating(
        self, key: str, state: UserState, value: float | None
    ) -> None:
        await self._client.rate(key, value)

    # -- inbound ----------------------------------------------------------------------

    async def _parse_inbound(self, request: InboundRequest) -> InboundResult:
        payload: Mapping[str, Any] = read_payload(request.headers, request.body)
        return payload_changes(
            payload,
            account_id=self._account_id,
            server_id=self._machine_id,
            sections={s.key for s in self._sections},
        )
