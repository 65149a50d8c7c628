"""`TraktProvider`: Trakt as a source and a target (the "History" shape).

Reads come from the user's `/sync/*` lists (one request per list, loaded once per
session and kept current after our own writes); history is paged through every page;
play counts come from `/sync/watched` so the engine need not page the history for
counts; the change feed compares `/sync/last_activities` per category. Writes go out
as batched array bodies (up to `write_batch_size` items per request) under Trakt's
separate 1 write/second limit, and history appends are deduplicated on
`(ref, watched_at)` against what Trakt already holds, so a retried or repeated sync
never adds a play twice. A history POST whose answer was lost (timeout, reset, 5xx)
is never repeated blindly: the HTTP client does not retry it, and the provider
declares appends unrepeatable (`write_semantics`, with `late_apply_window`), so the
engine journals them ``unknown`` and re-reads before any later attempt. See
`vocabulary` for the refs, kinds and fields.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from logging import Logger
from typing import Any, ClassVar

from anibridge.dates import parse_iso, utcnow
from anibridge.http import (
    READ,
    SYSTEM_CLOCK,
    USER,
    WRITE,
    HttpClient,
    HttpError,
    RateLimit,
)
from anibridge.provider.base import (
    Account,
    AppendEvent,
    BackupArtifact,
    Capabilities,
    Change,
    ChangeQuery,
    DeleteEvent,
    DeleteRecord,
    Event,
    EventChange,
    EventQuery,
    EventSummary,
    EventSummaryQuery,
    EventWrite,
    ExternalId,
    FacetName,
    Match,
    Node,
    NodeFlag,
    NodeQuery,
    Page,
    Provider,
    Rating,
    Record,
    RecordChange,
    RecordField,
    RecordQuery,
    RecordWrite,
    Ref,
    ScanItem,
    ScanQuery,
    SupportsBackupExports,
    SupportsBackupImports,
    SupportsChangeFeed,
    SupportsEventReads,
    SupportsEventSummaries,
    SupportsEventWrites,
    SupportsMapping,
    SupportsNodeReads,
    SupportsNodeSearch,
    SupportsRecordReads,
    SupportsRecordWrites,
    SupportsScan,
    UpsertRecord,
    WriteError,
    WriteOp,
    WriteResult,
)
from anibridge.provider.config_keys import ConfigKey
from anibridge.provider.semantics import WriteSemantics
from anibridge.providers.trakt import backup as backup_format
from anibridge.providers.trakt.api import API_VERSION, TraktApi
from anibridge.providers.trakt.auth import TokenKeeper, Tokens, TraktAuthError
from anibridge.providers.trakt.settings import (
    CONFIG_KEYS,
    TraktSettings,
    parse_settings,
)
from anibridge.providers.trakt.state import (
    Listed,
    Media,
    Rated,
    UserState,
    Watched,
    absorb_collection_movies,
    absorb_collection_shows,
    absorb_ratings,
    absorb_structure,
    absorb_watched_movies,
    absorb_watched_shows,
    absorb_watchlist,
    history_event,
    node_for,
    parse_record_key,
    play_key,
    record_key,
    records_for,
    summaries_for,
)
from anibridge.providers.trakt.vocabulary import (
    CHECKIN,
    COLLECTION,
    EPISODE,
    MOVIE,
    NOTES_MAX,
    PLAY_KINDS,
    PROGRESS,
    RATING_SCALE,
    RATINGS,
    RECORD_KINDS,
    SEARCH_TYPES,
    SEASON,
    SHOW,
    WATCH,
    WATCHED,
    WATCHLIST,
    TraktDataError,
    capabilities,
    parse_ref,
)
from anibridge.providers.trakt.writes import (
    Item,
    build_body,
    chunks,
    not_found_history_ids,
    not_found_positions,
)
from anibridge.ratings import convert

# GET 1000 per 5 minutes; POST/PUT/DELETE 1 per second (AUTHED_API_*_LIMIT), both per
# user. The write window gets a wider margin: one refused write costs more than 0.1 s.
TRAKT_LIMITS = (
    RateLimit(1000, 300.0, READ, scope=USER),
    RateLimit(1, 1.0, WRITE, margin=0.1, scope=USER),
)
SCAN_PAGE = 500
# last_activities fields that say a list changed, per record kind.
ACTIVITY_FIELDS: Mapping[str, tuple[str, ...]] = {
    WATCHED: ("movies.watched_at", "episodes.watched_at"),
    RATINGS: (
        "movies.rated_at",
        "shows.rated_at",
        "seasons.rated_at",
        "episodes.rated_at",
    ),
    WATCHLIST: (
        "movies.watchlisted_at",
        "shows.watchlisted_at",
        "seasons.watchlisted_at",
        "episodes.watchlisted_at",
        "watchlist.updated_at",
    ),
    COLLECTION: ("movies.collected_at", "episodes.collected_at"),
}
CURSOR_PREFIX = "trakt-activities:"
PENDING = "pending:"


def _iso(at: datetime) -> str:
    """Trakt's timestamp form: UTC with milliseconds and a Z."""
    utc = at.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


# Trakt's own statuses, refined beyond the shared HTTP mapping.
TRAKT_STATUS_CODES: Mapping[int, WriteError] = {
    420: WriteError.INVALID,  # account limit exceeded (e.g. list size): not as-is
    423: WriteError.AUTH,  # locked user account
    426: WriteError.UNSUPPORTED,  # VIP only (e.g. watchlist notes)
}


def _code(exc: HttpError) -> WriteError:
    """The contract code for a failed Trakt request."""
    if exc.status is not None and exc.status in TRAKT_STATUS_CODES:
        return TRAKT_STATUS_CODES[exc.status]
    return exc.code


def _fail(write: Any, op: WriteOp, code: WriteError, error: str) -> WriteResult:
    return WriteResult(
        ok=False,
        op=op,
        token=write.token,
        ref=getattr(write, "ref", None),
        code=code,
        error=error,
    )


@dataclass(slots=True)
class _Pending:
    """A write waiting in a batch: its input position and how to report it."""

    position: int
    write: Any
    op: WriteOp
    ref: Ref
    key: str | None
    item: Item
    apply: Callable[[], None] | None = None


class TraktProvider(
    Provider,
    SupportsNodeReads,
    SupportsNodeSearch,
    SupportsScan,
    SupportsMapping,
    SupportsRecordReads,
    SupportsRecordWrites,
    SupportsEventReads,
    SupportsEventSummaries,
    SupportsEventWrites,
    SupportsChangeFeed,
    SupportsBackupExports,
    SupportsBackupImports,
):
    """Trakt: watched history, ratings, watchlist and collection of one account.

    Config: `client_id` (required), `client_secret` (to refresh), tokens from the
    `token_store` (key `token_key`, default "trakt") or `access_token` /
    `refresh_token`, `base_url`, `page_size`, `write_batch_size`, `timeout`,
    `full_structure` (scan reads every show's season tree), `late_apply_window`
    (seconds a history POST whose answer was lost may still land; default 600),
    and for tests `clock` / `time_scale`.
    """

    DISPLAY_NAME = "Trakt"
    NAMESPACE = "trakt"
    CONFIG_KEYS: ClassVar[Mapping[str, ConfigKey]] = CONFIG_KEYS
    SIGN_IN: ClassVar[str] = "`anibridge login trakt` (device code)"

    def __init__(
        self, *, logger: Logger, config: Mapping[str, object] | None = None
    ) -> None:
        """Validate the config; nothing is sent before `initialize`."""
        super().__init__(logger=logger, config=config)
        self.settings: TraktSettings = parse_settings(self.config)
        self._client: HttpClient | None = None
        self._oauth: HttpClient | None = None
        self._api: TraktApi | None = None
        self._keeper: TokenKeeper | None = None
        self._account: Account | None = None
        self._catalog: dict[str, Media] = {}
        self._state = UserState(media=self._catalog)
        self._loaded: set[str] = set()
        self._resolved: dict[str, tuple[Ref, ...]] = {}
        self._plays: set[tuple[Ref, int]] = set()
        self._play_ids: dict[tuple[Ref, int], list[int]] = {}
        self._windows: list[tuple[datetime, datetime]] = []
        self._pending: dict[str, tuple[list[Change], str]] = {}

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def api(self) -> TraktApi:
        """The API wrapper.

        Raises:
            RuntimeError: `initialize` was not awaited.
        """
        if self._api is None:
            raise RuntimeError("trakt: call `await provider.initialize()` first")
        return self._api

    @property
    def client(self) -> HttpClient:
        """The HTTP client (its `counter` counts requests)."""
        return self.api.client

    def _headers(self) -> dict[str, str]:
        return {
            "trakt-api-version": API_VERSION,
            "trakt-api-key": self.settings.client_id,
        }

    async def initialize(self) -> None:
        """Load tokens, open the clients and identify the account.

        Raises:
            TraktAuthError: no tokens are available (run `anibridge login trakt`).
        """
        if self._api is not None:
            return
        s = self.settings
        clock = s.clock or SYSTEM_CLOCK
        self._client = HttpClient(
            name="trakt",
            base_url=s.base_url,
            headers=self._headers(),
            limits=TRAKT_LIMITS,
            clock=clock,
            timeout=s.timeout,
            auth_headers=self._auth_headers,
            refresh=self._on_unauthorized,
            secrets=[s.client_secret or ""],
            logger=self.log,
        )
        tokens = await self._load_tokens()
        self._keeper = TokenKeeper(
            client=self._oauth_client,
            client_id=s.client_id,
            client_secret=s.client_secret,
            tokens=tokens,
            store=s.token_store,
            store_key=s.token_key,
        )
        self._client.add_secret(tokens.access_token)
        self._client.add_secret(tokens.refresh_token)
        self._api = TraktApi(self._client, page_size=s.page_size)
        settings = await self._api.settings()
        user = settings.get("user") if isinstance(settings.get("user"), dict) else {}
        ids = user.get("ids") if isinstance(user.get("ids"), dict) else {}
        slug = str(ids.get("slug") or user.get("username") or "me")
        self._account = Account(
            key=slug,
            title=str(user.get("name") or user.get("username") or slug),
            url=f"https://trakt.tv/users/{slug}",
        )

    def _oauth_client(self) -> HttpClient:
        """The client for `/oauth/token`: no bearer header, made on first renewal."""
        if self._oauth is None:
            s = self.settings
            self._oauth = HttpClient(
                name="trakt-oauth",
                base_url=s.base_url,
                headers=self._headers(),
                clock=s.clock or SYSTEM_CLOCK,
                timeout=s.timeout,
                secrets=[s.client_secret or ""],
                logger=self.log,
            )
        return self._oauth

    async def _load_tokens(self) -> Tokens:
        s = self.settings
        if s.token_store is not None:
            saved = await s.token_store.load(s.token_key)
            if saved:
                return Tokens.from_dict(saved)
        if s.access_token:
            return Tokens(s.access_token, s.refresh_token, s.expires_at)
        if s.refresh_token and s.client_secret:
            # Renewed on first use: an expiry in the past forces a refresh.
            return Tokens("", s.refresh_token, 1.0)
        raise TraktAuthError(
            "trakt: not signed in; run `anibridge login trakt` (or set access_token)",
            reason="no_tokens",
        )

    async def _auth_headers(self) -> dict[str, str]:
        if self._keeper is None:
            return {}
        headers = await self._keeper.headers()
        if self._client is not None:
            self._client.add_secret(self._keeper.tokens.access_token)
        return headers

    async def _on_unauthorized(self) -> bool:
        return self._keeper is not None and await self._keeper.on_unauthorized()

    @property
    def tokens(self) -> Tokens | None:
        """The current tokens (after `initialize`)."""
        return self._keeper.tokens if self._keeper is not None else None

    async def clear_cache(self) -> None:
        """Forget the loaded lists, id resolutions and known plays."""
        self._catalog.clear()
        self._state = UserState(media=self._catalog)
        self._loaded.clear()
        self._resolved.clear()
        self._plays.clear()
        self._play_ids.clear()
        self._windows.clear()

    async def close(self) -> None:
        """Close both HTTP clients."""
        for client in (self._client, self._oauth):
            if client is not None:
                await client.aclose()
        self._client = self._oauth = None
        self._api = None

    def account(self) -> Account | None:
        """The signed-in account, or None before `initialize`."""
        return self._account

    def capabilities(self) -> Capabilities:
        """See `anibridge.providers.trakt.vocabulary`."""
        return capabilities()

    # -- loading the user's lists ------------------------------------------------------

    async def _fetch_part(self, part: str, state: UserState) -> None:
        api = self.api
        if part == WATCHED:
            movies, shows = await asyncio.gather(
                api.watched("movies"), api.watched("shows")
            )
            absorb_watched_movies(state, movies)
            absorb_watched_shows(state, shows)
        elif part == RATINGS:
            absorb_ratings(state, await api.ratings())
        elif part == WATCHLIST:
            absorb_watchlist(state, await api.watchlist())
        elif part == COLLECTION:
            movies, shows = await asyncio.gather(
                api.collection("movies"), api.collection("shows")
            )
            absorb_collection_movies(state, movies)
            absorb_collection_shows(state, shows)

    async def _ensure(self, parts: Iterable[str]) -> UserState:
        """The user state with `parts` loaded (each list is read once per session)."""
        wanted = {WATCHED if p == PROGRESS else p for p in parts}
        for part in (WATCHED, RATINGS, WATCHLIST, COLLECTION):
            if part in wanted and part not in self._loaded:
                await self._fetch_part(part, self._state)
                self._loaded.add(part)
        return self._state

    async def _media(self, media: str, trakt_id: int) -> Media | None:
        key = f"{media}:{trakt_id}"
        found = self._catalog.get(key)
        if found is not None:
            return found
        summary = await self.api.summary(media, trakt_id)
        if summary is None:
            return None
        return self._state.note_media(media, summary)

    async def _structure(self, media: Media) -> None:
        if media.media == SHOW and not media.structure_loaded:
            absorb_structure(media, await self.api.seasons(media.trakt_id))

    # -- catalog -----------------------------------------------------------------------

    @staticmethod
    def _matches(node: Node, kinds: Sequence[str], flags: frozenset[NodeFlag]) -> bool:
        return (not kinds or node.kind in kinds) and flags <= node.flags

    async def _part_node(self, media: Media, ref: Ref) -> Node | None:
        _, _, season, episode = parse_ref(ref)
        if season is None:
            return None
        if episode is None:
            return Node(
                ref=ref,
                kind=SEASON,
                title=f"{media.title} season {season}" if media.title else None,
                flags=frozenset(
                    {NodeFlag.CONTAINER, NodeFlag.ORDERED_PARTS, NodeFlag.TRACKABLE}
                ),
            )
        info = media.episodes.get((season, episode), {})
        return Node(
            ref=ref,
            kind=EPISODE,
            title=info.get("title"),
            flags=frozenset({NodeFlag.CONSUMABLE, NodeFlag.TRACKABLE}),
        )

    async def fetch_nodes(self, query: NodeQuery) -> Page[Node]:
        """Nodes by ref (catalog lookups for ids the user has no state on), or all."""
        nodes: list[Node] = []
        if query.refs:
            wanted: list[tuple[Ref, str, int]] = []
            for ref in dict.fromkeys(query.refs):
                try:
                    media_type, trakt_id, _, _ = parse_ref(ref)
                except TraktDataError:
                    continue
                wanted.append((ref, media_type, trakt_id))
            # Unknown items are looked up concurrently; the limiter paces them.
            unique = list(dict.fromkeys((m, i) for _, m, i in wanted))
            looked = await asyncio.gather(*(self._media(m, i) for m, i in unique))
            by_id = dict(zip(unique, looked, strict=True))
            found = [by_id[(m, i)] for _, m, i in wanted]
            if FacetName.STRUCTURE in query.facets:
                shows = {
                    media.ref.key: media
                    for (ref, _, _), media in zip(wanted, found, strict=True)
                    if media is not None and ref.is_anchor
                }
                await asyncio.gather(*(self._structure(m) for m in shows.values()))
            for (ref, _, _), media in zip(wanted, found, strict=True):
                if media is None:
                    continue
                if ref.is_anchor:
                    node = node_for(media, query.facets)
                else:
                    node = await self._part_node(media, ref)
                if node is not None and self._matches(
                    node, query.native_node_kinds, query.flags
                ):
                    nodes.append(node)
            return _page_of(nodes, query.cursor, query.limit)
        page = await self.scan(
            ScanQuery(
                native_node_kinds=query.native_node_kinds,
                flags=query.flags,
                facets=query.facets,
                with_records=False,
                cursor=query.cursor,
                limit=query.limit,
            )
        )
        return Page(
            items=tuple(i.node for i in page.items),
            cursor=page.cursor,
            total=page.total,
        )

    async def search_nodes(
        self,
        query: str,
        *,
        limit: int = 10,
        facets: frozenset[FacetName] = frozenset(),
    ) -> Page[Node]:
        """Movies and shows by title (`/search/movie,show`)."""
        results = await self.api.search_text(query, limit=limit)
        nodes: list[Node] = []
        for result in results:
            kind = result.get("type")
            if kind not in (MOVIE, SHOW):
                continue
            media = self._state.note_media(kind, result.get(kind))
            nodes.append(node_for(media, facets))
        return Page(items=tuple(nodes[:limit]))

    async def scan(self, query: ScanQuery) -> Page[ScanItem]:
        """The user's movies and shows (everything with state), with their records.

        A show's STRUCTURE here lists the episodes known from the user's own lists
        (no extra request); `full_structure: true` reads every show's season tree
        (one GET per show, against 1000 GETs per 5 minutes). `fetch_nodes` with
        STRUCTURE always reads the full tree of the refs asked for.
        """
        kinds = frozenset(query.native_record_kinds) or frozenset(RECORD_KINDS)
        state = await self._ensure(kinds if query.with_records else RECORD_KINDS)
        keys = state.anchors()
        if query.sources:
            wanted = {ref.key for ref in query.sources}
            keys = [k for k in keys if k in wanted]
        if query.native_node_kinds:
            keys = [k for k in keys if k.partition(":")[0] in query.native_node_kinds]
        index = state.index()
        if query.require_activity and query.native_record_kinds:
            keys = [k for k in keys if records_for(state, k, kinds, frozenset(), index)]
        start = _offset(query.cursor)
        size = query.limit or SCAN_PAGE
        chunk = keys[start : start + size]
        items: list[ScanItem] = []
        for key in chunk:
            media = self._catalog[key]
            if FacetName.STRUCTURE in query.facets and self.settings.full_structure:
                await self._structure(media)
            node = node_for(media, query.facets)
            if not self._matches(node, (), query.flags):
                continue
            records: tuple[Record, ...] = ()
            if query.with_records:
                records = tuple(records_for(state, key, kinds, query.fields, index))
            items.append(ScanItem(node=node, records=records))
        end = start + len(chunk)
        return Page(
            items=tuple(items),
            cursor=str(end) if end < len(keys) else None,
            total=len(keys),
        )

    # -- identity ----------------------------------------------------------------------

    def _known_ids(self) -> dict[tuple[str, str, str], tuple[Ref, ...]]:
        """(media, id type, value) → refs of the catalog entries carrying that id."""
        found: dict[tuple[str, str, str], list[Ref]] = {}
        for entry in self._catalog.values():
            for id_type, value in entry.ids.items():
                found.setdefault((entry.media, id_type, str(value)), []).append(
                    entry.ref
                )
        return {k: tuple(v) for k, v in found.items()}

    async def _lookup(
        self, base: ExternalId, known: Mapping[tuple[str, str, str], tuple[Ref, ...]]
    ) -> tuple[Ref, ...]:
        media, id_type = SEARCH_TYPES[base.authority]
        hit = known.get((media, id_type, base.value))
        if hit:
            return hit
        results = await self.api.search_id(id_type, base.value, media)
        refs: list[Ref] = []
        for result in results:
            if result.get("type") != media:
                continue
            entry = self._state.note_media(media, result.get(media))
            refs.append(entry.ref)
        return tuple(dict.fromkeys(refs))

    async def resolve(self, ids: Sequence[ExternalId]) -> Sequence[Match]:
        """External ids → our anchors via `/search/{id_type}/{id}`, cached.

        A season-scoped id resolves to its show's anchor (the engine places the
        season). Ids already seen in the user's data are answered without a request.
        """
        wanted = [i for i in dict.fromkeys(ids) if i.authority in SEARCH_TYPES]
        bases = {ExternalId(i.authority, i.value) for i in wanted}
        todo = [b for b in bases if b.descriptor not in self._resolved]
        known = self._known_ids() if todo else {}
        found = await asyncio.gather(*(self._lookup(b, known) for b in todo))
        for base, refs in zip(todo, found, strict=True):
            self._resolved[base.descriptor] = refs
        matches: list[Match] = []
        for external_id in wanted:
            base = ExternalId(external_id.authority, external_id.value)
            refs = self._resolved[base.descriptor]
            confidence = 1.0 if len(refs) == 1 else 0.5
            matches.extend(Match(external_id, ref, confidence) for ref in refs)
        return tuple(matches)

    # -- records -----------------------------------------------------------------------

    async def fetch_records(self, query: RecordQuery) -> Page[Record]:
        """Records by exact ref and/or key (or all), per kind, projected."""
        kinds = frozenset(query.native_record_kinds) or frozenset(RECORD_KINDS)
        wanted_keys: set[str] = set(query.keys)
        refs = set(query.refs)
        key_refs: set[Ref] = set()
        for key in wanted_keys:
            parsed = parse_record_key(key)
            if parsed is not None:
                key_refs.add(parsed[1])
        anchors = {r.key for r in refs | key_refs}
        state = await self._ensure(kinds)
        keys = sorted(anchors) if anchors else state.anchors()
        index = state.index()
        found = [
            record
            for key in keys
            for record in records_for(state, key, kinds, query.fields, index)
            if (not refs or record.ref in refs)
            and (not wanted_keys or record.key in wanted_keys)
        ]
        return _page_of(found, query.cursor, query.limit)

    # -- events ------------------------------------------------------------------------

    def _remember(self, event: Event) -> None:
        key = play_key(event.ref, event.at)
        self._plays.add(key)
        if event.key is not None and event.key.isdigit():
            ids = self._play_ids.setdefault(key, [])
            if int(event.key) not in ids:
                ids.append(int(event.key))

    def _event(self, item: Mapping[str, Any]) -> Event:
        event = history_event(self._state, item)
        self._remember(event)
        return event

    async def fetch_events(self, query: EventQuery) -> Page[Event]:
        """History entries; with refs: each anchor's whole history, else page by page.

        Without refs, the cursor is Trakt's page number, so a caller pages through
        every page of `/sync/history` (honouring `X-Pagination-Page-Count`).
        """
        kinds = set(query.native_event_kinds)
        if query.refs:
            refs = set(query.refs)
            events: list[Event] = []
            for key in sorted({r.key for r in refs}):
                try:
                    media, trakt_id, _, _ = parse_ref(Ref(key))
                except TraktDataError:
                    continue
                items = await self.api.get_all(f"/sync/history/{media}s/{trakt_id}")
                for item in items:
                    event = self._event(item)
                    if event.ref in refs and (not kinds or event.kind in kinds):
                        events.append(event)
            events.sort(key=lambda e: (e.at, e.key or ""))
            return _page_of(events, query.cursor, query.limit)
        page = _offset(query.cursor) or 1
        limit = query.limit or self.settings.page_size
        items, info = await self.api.get_page("/sync/history", page=page, limit=limit)
        found = [self._event(item) for item in items]
        found = [e for e in found if not kinds or e.kind in kinds]
        more = page < info.page_count and bool(items)
        return Page(
            items=tuple(found),
            cursor=str(page + 1) if more else None,
            total=info.item_count,
        )

    async def fetch_event_summaries(
        self, query: EventSummaryQuery
    ) -> Page[EventSummary]:
        """Play counts and last play per episode/movie from `/sync/watched`.

        One or two requests for the whole account instead of paging the history.
        `first_at` is unknown to `/sync/watched` and left unset.
        """
        if query.native_event_kinds and WATCH not in query.native_event_kinds:
            return Page(items=())
        state = await self._ensure({WATCHED})
        refs = set(query.refs)
        keys = sorted({r.key for r in refs}) if refs else state.anchors()
        index = state.index()
        found = [
            s
            for key in keys
            for s in summaries_for(state, key, index)
            if not refs or s.ref in refs
        ]
        return _page_of(found, query.cursor, query.limit)

    async def _read_window(self, start: datetime, end: datetime) -> None:
        """Learn every play between `start` and `end` (for deduplication)."""
        start = start - timedelta(seconds=1)
        end = end + timedelta(seconds=1)
        if any(a <= start and end <= b for a, b in self._windows):
            return
        async for items in self.api.pages(
            "/sync/history", start_at=_iso(start), end_at=_iso(end)
        ):
            for item in items:
                self._event(item)
        self._windows.append((start, end))

    # -- writes ------------------------------------------------------------------------

    async def _send(
        self,
        path: str,
        pending: list[_Pending],
        results: list[WriteResult | None],
        *,
        safe: bool,
    ) -> None:
        """Send `pending` in batches to `path`; fill in each one's result."""
        for batch in chunks(pending, self.settings.write_batch_size):
            items = [p.item for p in batch]
            try:
                envelope = await self.api.post(path, build_body(items), safe=safe)
            except HttpError as exc:
                for p in batch:
                    results[p.position] = _fail(p.write, p.op, _code(exc), str(exc))
                continue
            missing = not_found_positions(items, envelope)
            for p in batch:
                if p.item.position in missing:
                    results[p.position] = _fail(
                        p.write, p.op, WriteError.NOT_FOUND, f"trakt: {p.ref!r} unknown"
                    )
                    continue
                if p.apply is not None:
                    p.apply()
                results[p.position] = WriteResult(
                    ok=True, op=p.op, token=p.write.token, key=p.key, ref=p.ref
                )

    async def write_records(
        self, writes: Sequence[RecordWrite]
    ) -> Sequence[WriteResult]:
        """Ratings, watchlist and collection upserts/deletes, un-watching, batched."""
        results: list[WriteResult | None] = [None] * len(writes)
        groups: dict[str, list[_Pending]] = {}
        for position, write in enumerate(writes):
            outcome = self._plan_record_write(position, write)
            if isinstance(outcome, WriteResult):
                results[position] = outcome
            else:
                path, pending = outcome
                groups.setdefault(path, []).append(pending)
        for path, pending in groups.items():
            await self._send(path, pending, results, safe=True)
        return _complete(writes, results, WriteOp.UPSERT_RECORD)

    def _plan_record_write(
        self, position: int, write: RecordWrite
    ) -> WriteResult | tuple[str, _Pending]:
        if isinstance(write, DeleteRecord):
            op = WriteOp.DELETE_RECORD
            ref, kind = write.ref, write.kind
            if write.key is not None:
                parsed = parse_record_key(write.key)
                if parsed is None:
                    return _fail(write, op, WriteError.INVALID, "trakt: bad record key")
                kind, ref = parsed
        else:
            op = WriteOp.UPSERT_RECORD
            ref, kind = write.ref, write.kind
        if ref is None:
            return _fail(write, op, WriteError.INVALID, "trakt: write without a ref")
        try:
            media, trakt_id, season, episode = parse_ref(ref)
        except TraktDataError as exc:
            return _fail(write, op, WriteError.INVALID, str(exc))
        key = record_key(kind, ref)

        def pending(path: str, fields: dict[str, Any], apply: Callable[[], None]):
            item = Item(position, media, trakt_id, season, episode, fields)
            return path, _Pending(position, write, op, ref, key, item, apply)

        state = self._state
        if kind == RATINGS:
            if isinstance(write, DeleteRecord) or RecordField.RATING in write.clear:
                if isinstance(write, UpsertRecord) and write.set:
                    return _fail(write, op, WriteError.INVALID, "trakt: set and clear")
                return pending(
                    "/sync/ratings/remove", {}, lambda: state.ratings.pop(ref, None)
                )
            extra = set(write.set) - {RecordField.RATING}
            if extra or write.clear:
                names = ", ".join(sorted(f.value for f in extra | set(write.clear)))
                return _fail(
                    write,
                    op,
                    WriteError.UNSUPPORTED,
                    f"trakt: {names} not writable on ratings",
                )
            value = write.set.get(RecordField.RATING)
            rating = _trakt_rating(value)
            if rating is None:
                return _fail(
                    write,
                    op,
                    WriteError.INVALID,
                    f"trakt: rating {value!r} is not 1-10 in steps of 1",
                )

            def rate() -> None:
                state.ratings[ref] = Rated(rating, utcnow())

            return pending("/sync/ratings", {"rating": rating}, rate)
        if kind == WATCHLIST:
            if isinstance(write, DeleteRecord):
                return pending(
                    "/sync/watchlist/remove",
                    {},
                    lambda: state.watchlist.pop(ref, None),
                )
            extra = (set(write.set) | set(write.clear)) - {RecordField.NOTES}
            if extra:
                names = ", ".join(sorted(f.value for f in extra))
                return _fail(
                    write,
                    op,
                    WriteError.UNSUPPORTED,
                    f"trakt: {names} not writable on the watchlist",
                )
            notes = write.set.get(RecordField.NOTES)
            if notes is not None and (
                not isinstance(notes, str) or len(notes) > NOTES_MAX
            ):
                return _fail(
                    write,
                    op,
                    WriteError.INVALID,
                    f"trakt: watchlist notes must be text of at most {NOTES_MAX}",
                )
            fields: dict[str, Any] = {}
            if notes:
                fields["notes"] = notes
            elif RecordField.NOTES in write.clear:
                fields["notes"] = None

            def listed() -> None:
                old = state.watchlist.get(ref)
                keep = old is not None and RecordField.NOTES not in write.clear
                kept = old.notes if old is not None and keep else None
                state.watchlist[ref] = Listed(
                    old.listed_at if old else utcnow(), notes or kept
                )

            return pending("/sync/watchlist", fields, listed)
        if kind == WATCHED and isinstance(write, DeleteRecord):
            if media == SHOW and episode is None:
                return _fail(
                    write,
                    op,
                    WriteError.INVALID,
                    "trakt: un-watch episodes or movies, not whole shows/seasons",
                )

            def unwatched() -> None:
                state.watched.pop(ref, None)
                for play in [p for p in self._plays if p[0] == ref]:
                    self._plays.discard(play)
                    self._play_ids.pop(play, None)

            return pending("/sync/history/remove", {}, unwatched)
        if kind == COLLECTION:
            if isinstance(write, DeleteRecord):

                def uncollected() -> None:
                    for known in [r for r in state.collection if _under(r, ref)]:
                        del state.collection[known]

                return pending("/sync/collection/remove", {}, uncollected)
            if write.set or write.clear:
                return _fail(
                    write,
                    op,
                    WriteError.UNSUPPORTED,
                    "trakt: a collection record has no writable fields",
                )
            return pending(
                "/sync/collection",
                {},
                lambda: state.collection.setdefault(ref, utcnow()),
            )
        if kind in (WATCHED, PROGRESS):
            return _fail(
                write,
                op,
                WriteError.UNSUPPORTED,
                f"trakt: {kind!r} records are read-only (append plays as events)",
            )
        return _fail(
            write, op, WriteError.UNSUPPORTED, f"trakt: unknown record kind {kind!r}"
        )

    def write_semantics(self) -> WriteSemantics:
        """History appends are unrepeatable; a lost one may land late.

        Trakt keeps every POSTed play (it does not deduplicate `(item,
        watched_at)`), so re-sending a batch whose answer was lost duplicates
        every play in it if the first POST landed — possibly after the timeout.
        Ratings, watchlist and collection writes set absolute state and removals
        go by history id: those are safe to repeat.

        Returns:
            Appends unrepeatable, settling within `late_apply_window` seconds.
        """
        return WriteSemantics(
            unrepeatable=frozenset({WriteOp.APPEND_EVENT}),
            settle=timedelta(seconds=self.settings.late_apply_window),
        )

    async def write_events(self, writes: Sequence[EventWrite]) -> Sequence[WriteResult]:
        """Append plays to / remove entries from the history, batched.

        Appends are idempotent on `(ref, watched_at)` to the second: plays Trakt
        already holds (read for the appends' time window) or that appear twice in
        one call are reported ok without being sent again.
        """
        results: list[WriteResult | None] = [None] * len(writes)
        appends: list[tuple[int, AppendEvent, Ref, str]] = []
        deletes: list[tuple[int, DeleteEvent]] = []
        for position, write in enumerate(writes):
            if isinstance(write, AppendEvent):
                checked = self._check_append(write)
                if isinstance(checked, WriteResult):
                    results[position] = checked
                else:
                    appends.append((position, write, write.ref, checked))
            else:
                deletes.append((position, write))
        if appends:
            await self._append(appends, results)
        if deletes:
            await self._delete_events(deletes, results)
        return _complete(writes, results, WriteOp.APPEND_EVENT)

    def _check_append(self, write: AppendEvent) -> WriteResult | str:
        op = WriteOp.APPEND_EVENT
        if write.kind == CHECKIN:
            return _fail(
                write, op, WriteError.UNSUPPORTED, "trakt: check-ins are live only"
            )
        if write.kind not in PLAY_KINDS:
            return _fail(
                write, op, WriteError.UNSUPPORTED, f"trakt: event kind {write.kind!r}"
            )
        if write.at.tzinfo is None or write.at.utcoffset() is None:
            return _fail(write, op, WriteError.INVALID, "trakt: naive datetime")
        try:
            media, _, _, episode = parse_ref(write.ref)
        except TraktDataError as exc:
            return _fail(write, op, WriteError.INVALID, str(exc))
        if media == SHOW and episode is None:
            return _fail(
                write,
                op,
                WriteError.INVALID,
                "trakt: plays go on episodes or movies, not shows or seasons",
            )
        return media

    async def _append(
        self,
        appends: list[tuple[int, AppendEvent, Ref, str]],
        results: list[WriteResult | None],
    ) -> None:
        op = WriteOp.APPEND_EVENT
        unknown = [a for a in appends if play_key(a[2], a[1].at) not in self._plays]
        if unknown:
            try:
                await self._read_window(
                    min(a[1].at for a in unknown), max(a[1].at for a in unknown)
                )
            except HttpError as exc:
                for position, write, _, _ in unknown:
                    results[position] = _fail(write, op, _code(exc), str(exc))
                appends = [a for a in appends if a not in unknown]
        pending: list[_Pending] = []
        batch_keys: set[tuple[Ref, int]] = set()
        for position, write, ref, _ in appends:
            if results[position] is not None:
                continue
            key = play_key(ref, write.at)
            if key in self._plays or key in batch_keys:
                results[position] = WriteResult(
                    ok=True, op=op, token=write.token, ref=ref
                )
                continue
            batch_keys.add(key)
            media, trakt_id, season, episode = parse_ref(ref)
            fields = {"watched_at": _iso(write.at)}
            item = Item(position, media, trakt_id, season, episode, fields)
            apply = self._played(ref, write.at)
            pending.append(_Pending(position, write, op, ref, None, item, apply))
        await self._send("/sync/history", pending, results, safe=False)
        if any(
            (r := results[p.position]) is not None
            and not r.ok
            and r.code is not WriteError.NOT_FOUND
            for p in pending
        ):
            # The request may have been applied with its answer lost: what we read
            # of those windows is stale, so the next append reads them again.
            self._windows.clear()

    def _played(self, ref: Ref, at: datetime) -> Callable[[], None]:
        def apply() -> None:
            self._plays.add(play_key(ref, at))
            if WATCHED in self._loaded:
                old = self._state.watched.get(ref)
                last = max(at, old.last_at) if old and old.last_at else at
                self._state.watched[ref] = Watched((old.plays if old else 0) + 1, last)

        return apply

    async def _delete_events(
        self, deletes: list[tuple[int, DeleteEvent]], results: list[WriteResult | None]
    ) -> None:
        op = WriteOp.DELETE_EVENT
        by_signature = [
            (p, w) for p, w in deletes if w.key is None and w.ref and w.at is not None
        ]
        if by_signature:
            try:
                await self._read_window(
                    min(w.at for _, w in by_signature if w.at),
                    max(w.at for _, w in by_signature if w.at),
                )
            except HttpError as exc:
                for position, write in by_signature:
                    results[position] = _fail(write, op, _code(exc), str(exc))
                deletes = [d for d in deletes if d not in by_signature]
        targets: list[tuple[int, DeleteEvent, list[int]]] = []
        for position, write in deletes:
            if write.key is not None:
                if not write.key.isdigit():
                    results[position] = _fail(
                        write, op, WriteError.INVALID, "trakt: history ids are numbers"
                    )
                    continue
                targets.append((position, write, [int(write.key)]))
                continue
            if write.ref is None or write.at is None:
                results[position] = _fail(
                    write, op, WriteError.INVALID, "trakt: delete needs key or ref+at"
                )
                continue
            ids = self._play_ids.get(play_key(write.ref, write.at), [])
            if not ids:
                results[position] = _fail(
                    write, op, WriteError.NOT_FOUND, "trakt: no such play"
                )
                continue
            targets.append((position, write, list(ids)))
        for batch in chunks(targets, self.settings.write_batch_size):
            body = {"ids": [i for _, _, ids in batch for i in ids]}
            try:
                envelope = await self.api.post("/sync/history/remove", body, safe=True)
            except HttpError as exc:
                for position, write, _ in batch:
                    results[position] = _fail(write, op, _code(exc), str(exc))
                continue
            missing = not_found_history_ids(envelope)
            for position, write, ids in batch:
                if set(ids) <= missing:
                    results[position] = _fail(
                        write, op, WriteError.NOT_FOUND, "trakt: no such history entry"
                    )
                    continue
                self._forget_ids(ids)
                results[position] = WriteResult(
                    ok=True, op=op, token=write.token, key=write.key, ref=write.ref
                )

    def _forget_ids(self, ids: Iterable[int]) -> None:
        gone = set(ids)
        for key, known in list(self._play_ids.items()):
            left = [i for i in known if i not in gone]
            if left:
                self._play_ids[key] = left
            else:
                del self._play_ids[key]
                self._plays.discard(key)
        self._loaded.discard(WATCHED)  # counts changed: reread when next needed
        self._state.watched.clear()

    # -- change feed -------------------------------------------------------------------

    async def poll_changes(self, query: ChangeQuery) -> Page[Change]:
        """Changes since the cursor, from `/sync/last_activities` per category.

        The first poll (no cursor) only establishes the baseline: the caller has just
        scanned everything. Later polls re-read only the lists whose timestamp moved
        and report the refs that differ (`ref=None` when only "something was removed
        from this list" is known). More changes than `limit` are handed out over
        several polls; a cursor whose remainder this process no longer holds falls
        back to its baseline (changes may repeat, none are lost).
        """
        cursor = query.cursor
        if cursor is not None and cursor.startswith(CURSOR_PREFIX + PENDING):
            token, _, baseline = cursor[len(CURSOR_PREFIX + PENDING) :].partition(":")
            stash = self._pending.pop(token, None)
            if stash is not None:
                rest, final = stash
                return self._hand_out(rest, final, query.limit, baseline)
            cursor = CURSOR_PREFIX + baseline
        activities = await self.api.last_activities()
        current = _flatten(activities)
        final = CURSOR_PREFIX + json.dumps(current, sort_keys=True)
        if cursor is None:
            return Page(items=(), cursor=final)
        previous = _parse_cursor(cursor)
        changes: list[Change] = []
        for kind, names in ACTIVITY_FIELDS.items():
            moved = [n for n in names if _later(current.get(n), previous.get(n))]
            if not moved:
                continue
            since = min(
                (parse_iso(previous[n]) for n in moved if previous.get(n)),
                default=None,
            )
            changes.extend(await self._changes_for(kind, since))
        baseline = cursor[len(CURSOR_PREFIX) :]
        return self._hand_out(changes, final, query.limit, baseline)

    def _hand_out(
        self, changes: list[Change], final: str, limit: int | None, baseline: str
    ) -> Page[Change]:
        if not limit or len(changes) <= limit:
            return Page(items=tuple(changes), cursor=final)
        token = secrets.token_hex(6)
        self._pending[token] = (changes[limit:], final)
        return Page(
            items=tuple(changes[:limit]),
            cursor=f"{CURSOR_PREFIX}{PENDING}{token}:{baseline}",
        )

    async def _changes_for(self, kind: str, since: datetime | None) -> list[Change]:
        had = kind in self._loaded
        old = _snapshot(self._state, kind)
        fresh = UserState(media=self._catalog)
        await self._fetch_part(kind, fresh)
        new = _snapshot(fresh, kind)
        _replace(self._state, fresh, kind)
        self._loaded.add(kind)
        changed: set[Ref] = set()
        if had:
            changed = {r for r in old.keys() | new.keys() if old.get(r) != new.get(r)}
        elif since is not None:
            changed = {r for r, v in new.items() if _stamp(v) and _stamp(v) > since}
        out: list[Change] = []
        if kind == WATCHED and not had and since is not None:
            changed |= {Ref(k) for k, at in fresh.updated.items() if at > since}
        for ref in sorted(changed, key=repr):
            out.append(RecordChange(ref=ref, kind=kind, at=_stamp(new.get(ref))))
            if kind == WATCHED and not (ref.key.startswith(SHOW) and ref.is_anchor):
                out.append(EventChange(ref=ref, kind=WATCH, at=_stamp(new.get(ref))))
        if not out:
            out.append(RecordChange(kind=kind))
            if kind == WATCHED:
                out.append(EventChange(kind=WATCH))
        return out

    # -- backups -----------------------------------------------------------------------

    async def export_backup(self) -> BackupArtifact | None:
        """Everything: watched counts, ratings, watchlist, collection, full history."""
        state = await self._ensure(RECORD_KINDS)
        history: list[Event] = []
        async for items in self.api.pages("/sync/history"):
            history.extend(self._event(item) for item in items)
        content = backup_format.dump(
            state, history, account=self._account.key if self._account else None
        )
        return BackupArtifact(
            content=content, file_extension=".json", media_type="application/json"
        )

    def check_backup(self, payload: bytes) -> None:
        """Parse the whole payload as `import_backup` would; nothing is sent.

        Raises:
            TraktDataError: the payload is not a Trakt backup of this format.
        """
        backup_format.load(payload)

    async def import_backup(self, payload: bytes) -> None:
        """Restore ratings, watchlist entries and plays (never deletes anything).

        Raises:
            TraktDataError: the payload is not a Trakt backup of this format.
            RuntimeError: some items could not be restored (the rest were).
        """
        restored = backup_format.load(payload)
        state = await self._ensure({RATINGS, WATCHLIST})
        records: list[RecordWrite] = []
        for ref, rating in restored.ratings.items():
            current = state.ratings.get(ref)
            if current is None or current.rating != rating:
                records.append(
                    UpsertRecord(
                        ref=ref,
                        kind=RATINGS,
                        set={RecordField.RATING: Rating(float(rating), RATING_SCALE)},
                    )
                )
        for ref, notes in restored.watchlist.items():
            current_entry = state.watchlist.get(ref)
            if current_entry is None or (notes and current_entry.notes != notes):
                values = {RecordField.NOTES: notes} if notes else {}
                records.append(UpsertRecord(ref=ref, kind=WATCHLIST, set=values))
        events = [AppendEvent(ref=e.ref, kind=WATCH, at=e.at) for e in restored.plays]
        outcomes = list(await self.write_records(records)) if records else []
        outcomes += list(await self.write_events(events)) if events else []
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise RuntimeError(
                f"trakt: {len(failed)} of {len(outcomes)} backup items were not "
                f"restored (first: {failed[0].ref!r}: {failed[0].error})"
            )


# -- helpers ---------------------------------------------------------------------------


def _under(ref: Ref, root: Ref) -> bool:
    """Whether `ref` is `root` or a part inside it."""
    return ref.key == root.key and ref.path[: len(root.path)] == root.path


def _complete(
    writes: Sequence[Any], results: list[WriteResult | None], op: WriteOp
) -> list[WriteResult]:
    """Positional results; a write left without one is reported, never dropped."""
    return [
        r
        if r is not None
        else _fail(w, op, WriteError.INTERNAL, "trakt: write was not processed")
        for w, r in zip(writes, results, strict=True)
    ]


def _page_of[T](items: Sequence[T], cursor: str | None, limit: int | None) -> Page[T]:
    """One page of an in-memory list; the cursor is the next offset."""
    start = _offset(cursor)
    chunk = items[start : start + limit] if limit else items[start:]
    end = start + len(chunk)
    return Page(
        items=tuple(chunk),
        cursor=str(end) if end < len(items) else None,
        total=len(items),
    )


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise ValueError(f"trakt: not a cursor of this provider: {cursor!r}")
    return int(cursor)


def _trakt_rating(value: Any) -> int | None:
    """A contract rating as Trakt's integer 1-10, or None when not representable."""
    if not isinstance(value, Rating):
        return None
    if tuple(value.scale) != RATING_SCALE:
        try:
            value = convert(value, RATING_SCALE)
        except ValueError:
            return None
    if value.value != int(value.value) or not 1 <= value.value <= 10:
        return None
    return int(value.value)


def _flatten(activities: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for group, values in activities.items():
        if isinstance(values, Mapping):
            for name, stamp in values.items():
                if isinstance(stamp, str):
                    out[f"{group}.{name}"] = stamp
        elif isinstance(values, str):
            out[group] = values
    return out


def _parse_cursor(cursor: str) -> dict[str, str]:
    if not cursor.startswith(CURSOR_PREFIX):
        raise ValueError(f"trakt: not a change cursor of this provider: {cursor!r}")
    try:
        data = json.loads(cursor[len(CURSOR_PREFIX) :])
    except ValueError as exc:
        raise ValueError(f"trakt: damaged change cursor {cursor!r}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"trakt: damaged change cursor {cursor!r}")
    return {str(k): str(v) for k, v in data.items()}


def _later(now: str | None, before: str | None) -> bool:
    if now is None:
        return False
    if before is None:
        return True
    try:
        return parse_iso(now) > parse_iso(before)
    except ValueError:
        return now != before


def _snapshot(state: UserState, kind: str) -> dict[Ref, Any]:
    source: Mapping[Ref, Any] = {
        WATCHED: state.watched,
        RATINGS: state.ratings,
        WATCHLIST: state.watchlist,
        COLLECTION: state.collection,
    }[kind]
    return dict(source)


def _replace(state: UserState, fresh: UserState, kind: str) -> None:
    if kind == WATCHED:
        state.watched = fresh.watched
        state.updated = fresh.updated
    elif kind == RATINGS:
        state.ratings = fresh.ratings
    elif kind == WATCHLIST:
        state.watchlist = fresh.watchlist
    else:
        state.collection = fresh.collection


def _stamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, Watched):
        return value.last_at
    if isinstance(value, Rated):
        return value.rated_at
    if isinstance(value, Listed):
        return value.listed_at
    return None
