"""`SimklProvider`: a Simkl account as a source and a target.

Reads follow Simkl's two-phase sync rules (https://api.simkl.org/guides/sync): every
read starts at `/sync/activities`; the first one pulls the library of each type that
has ever changed (`/sync/all-items/{type}` with watched episodes, their dates and
memos); later ones (after `refresh_interval` seconds) pull only what moved since
(`date_from`), patch ratings from `/sync/ratings/{type}?date_from=`, and find removals
by diffing an ids-only listing when ``removed_from_list`` moved. The library is never
polled without that gate, and it is kept (with the activities it matches) in the
token store, so the next session — a new CLI process — continues with deltas. The
change feed works the same way from a stored cursor.

Writes go out as batched array bodies under 1 POST per second: statuses through
`/sync/add-to-list`, ratings through `/sync/ratings` (`/remove`), memos through
`/sync/history` (the only endpoint that keeps them), plays through `/sync/history`
with each episode's watch date, removals through `/sync/history/remove`. Simkl keeps
one watch per episode: an episode already watched is acknowledged without a
request, so a repeated or retried append never sends anything twice; after a history
request whose outcome is unknown, the library is re-read before the next append
instead of sending blind. See `vocabulary` for refs, kinds and ids.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from logging import Logger
from typing import Any, ClassVar

from anibridge.dates import parse_iso, utcnow
from anibridge.http import HttpClient, HttpError
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
    State,
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
from anibridge.providers._lists.writes import native_status
from anibridge.providers.simkl import backup as backup_format
from anibridge.providers.simkl.api import SIMKL_LIMITS, SimklApi, simkl_time
from anibridge.providers.simkl.auth import SimklAuthError
from anibridge.providers.simkl.library import (
    Library,
    Title,
    event_key,
    parse_event_key,
)
from anibridge.providers.simkl.settings import (
    CONFIG_KEYS,
    SimklSettings,
    parse_settings,
)
from anibridge.providers.simkl.vocabulary import (
    ANIME,
    BUCKETS,
    MEMO_MAX,
    MOVIE,
    MOVIE_STATUSES,
    RATING_SCALE,
    SEARCH_KEYS,
    SHOW,
    SIMKL_TYPES,
    STATUS_FROM_NATIVE,
    STATUS_TO_NATIVE,
    TYPES,
    WATCH,
    SimklDataError,
    capabilities,
    parse_ref,
)
from anibridge.providers.simkl.writes import (
    Item,
    build_body,
    chunks,
    not_found_ids,
    statuses_by_id,
)
from anibridge.ratings import convert

__all__ = ["SimklProvider"]

CURSOR_PREFIX = "simkl:"
SCAN_PAGE = 500
SNAPSHOT_VERSION = 1
_LIST_STAMPS = ("plantowatch", "watching", "completed", "hold", "dropped")
_OTHER_STAMPS = ("rated_at", "removed_from_list", "playback")
_SHOW_AUTHORITIES = frozenset({"tvdb_show", "tmdb_show", "imdb_show"})
_MOVIE_AUTHORITIES = frozenset({"tmdb_movie", "imdb_movie"})
_CLEAR: Any = object()


def _fail(write: Any, op: WriteOp, code: WriteError, error: str) -> WriteResult:
    return WriteResult(
        ok=False,
        op=op,
        token=write.token,
        ref=getattr(write, "ref", None),
        code=code,
        error=error,
    )


def _group(activities: Mapping[str, Any], kind: str) -> dict[str, str]:
    values = activities.get(BUCKETS[kind][1])
    if not isinstance(values, Mapping):
        return {}
    return {k: v for k, v in values.items() if isinstance(v, str) and v}


def _later(now: str | None, before: str | None) -> bool:
    if now is None:
        return False
    if before is None:
        return True
    try:
        return parse_iso(now) > parse_iso(before)
    except ValueError:
        return now != before


def _list_moved(now: Mapping[str, str], before: Mapping[str, str]) -> bool:
    """Whether a type's list entries changed (not only its ratings or removals).

    A status stamp moved, or ``all`` moved past everything the other stamps
    explain (a change Simkl files under no status, such as a memo).
    """
    if any(_later(now.get(n), before.get(n)) for n in _LIST_STAMPS):
        return True
    if not _later(now.get("all"), before.get("all")):
        return False
    others = [now[n] for n in _OTHER_STAMPS if now.get(n)]
    return not any(not _later(now["all"], o) for o in others)


def _since(stamp: str | None) -> str | None:
    """`date_from` for a bucket last seen at `stamp` (one second of overlap)."""
    if not stamp:
        return None
    try:
        return simkl_time(parse_iso(stamp) - timedelta(seconds=1))
    except ValueError:
        return None


def _page_of[T](items: Sequence[T], cursor: str | None, limit: int | None) -> Page[T]:
    start = 0
    if cursor is not None:
        if not cursor.isdigit():
            raise ValueError(f"simkl: not a cursor of this provider: {cursor!r}")
        start = int(cursor)
    chunk = items[start : start + limit] if limit else items[start:]
    end = start + len(chunk)
    return Page(
        items=tuple(chunk),
        cursor=str(end) if end < len(items) else None,
        total=len(items),
    )


@dataclass(slots=True)
class _RecordPlan:
    """What one record write asks Simkl to do."""

    position: int
    write: RecordWrite
    op: WriteOp
    title: Title
    status: str | None = None
    rating: Any = None  # int, _CLEAR or None (untouched)
    memo: Any = None  # str, _CLEAR or None
    delete: bool = False
    failed: WriteResult | None = None
    applied: list[Callable[[], None]] = field(default_factory=list)


class SimklProvider(
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
    """Simkl: one account's shows, anime and movies.

    Config keys: see `CONFIG_KEYS` (`client_id` is required; the token comes from
    `anibridge login simkl` through the token store, or `access_token`).
    """

    DISPLAY_NAME: ClassVar[str] = "Simkl"
    NAMESPACE: ClassVar[str] = "simkl"
    CONFIG_KEYS: ClassVar[Mapping[str, ConfigKey]] = CONFIG_KEYS
    SIGN_IN: ClassVar[str] = "`anibridge login simkl` (PIN code)"

    def __init__(
        self, *, logger: Logger, config: Mapping[str, object] | None = None
    ) -> None:
        """Validate the config; nothing is sent before `initialize`."""
        super().__init__(logger=logger, config=config)
        self.settings: SimklSettings = parse_settings(self.config)
        self._api: SimklApi | None = None
        self._account: Account | None = None
        self._library = Library()
        self._activities: dict[str, Any] | None = None
        self._fresh_until = 0.0
        self._refresh_lock = asyncio.Lock()
        self._resolved: dict[str, tuple[Ref, ...]] = {}
        self._snapshot_checked = False
        self._dirty = False

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def api(self) -> SimklApi:
        """The API wrapper.

        Raises:
            RuntimeError: `initialize` was not awaited.
        """
        if self._api is None:
            raise RuntimeError("simkl: call `await provider.initialize()` first")
        return self._api

    @property
    def client(self) -> HttpClient:
        """The HTTP client (its `counter` counts requests)."""
        return self.api.client

    async def _token(self) -> str:
        s = self.settings
        if s.token_store is not None:
            saved = await s.token_store.load(s.token_key)
            token = saved.get("access_token") if isinstance(saved, dict) else None
            if isinstance(token, str) and token:
                return token
        if s.access_token:
            return s.access_token
        raise SimklAuthError(
            "simkl: not signed in; run `anibridge login simkl` (or set access_token)",
            reason="no_token",
        )

    async def initialize(self) -> None:
        """Load the token, open the client and identify the account.

        Raises:
            SimklAuthError: no token is available.
        """
        if self._api is not None:
            return
        s = self.settings
        token = await self._token()
        client = HttpClient(
            name="simkl",
            base_url=s.base_url,
            headers={
                "simkl-api-key": s.client_id,
                "User-Agent": f"anibridge/{s.app_version}",
                "Accept": "application/json",
            },
            limits=SIMKL_LIMITS,
            limit_key=s.client_id,
            clock=s.clock,
            timeout=s.timeout,
            auth_headers=lambda: _bearer(token),
            secrets=[token],
            logger=self.log,
        )
        self._api = SimklApi(client, client_id=s.client_id, app_version=s.app_version)
        settings = await self._api.settings()
        user = settings.get("user") if isinstance(settings.get("user"), dict) else {}
        account = settings.get("account")
        account = account if isinstance(account, dict) else {}
        key = str(account.get("id") or user.get("name") or "me")
        self._account = Account(
            key=key,
            title=str(user.get("name") or key),
            url=f"https://simkl.com/{key}/" if account.get("id") else None,
        )

    async def close(self) -> None:
        """Keep the library for the next session, then close the HTTP client."""
        if self._dirty:
            await self._save_snapshot()
        if self._api is not None:
            await self._api.client.aclose()
        self._api = None

    async def clear_cache(self) -> None:
        """Forget the library and id resolutions (the next read starts over)."""
        self._library = Library()
        self._activities = None
        self._fresh_until = 0.0
        self._resolved.clear()
        self._snapshot_checked = True  # and do not reload the kept copy either

    # -- the library kept between sessions --------------------------------------------
    #
    # Simkl asks clients to pull a library once and then only what the activities
    # say moved. A CLI run is a new process each time, so the library and the
    # activities it matches are kept in the token store (encrypted, per profile and
    # provider) and the next session starts from there with `date_from` deltas.

    @property
    def _snapshot_key(self) -> str:
        return f"{self.settings.token_key}.library"

    async def _load_snapshot(self) -> None:
        self._snapshot_checked = True
        store = self.settings.token_store
        if store is None or self._account is None:
            return
        try:
            saved = await store.load(self._snapshot_key)
        except Exception as exc:  # a damaged copy only costs a full read
            self.log.warning(
                "simkl: kept library unreadable (%s); reading it again", exc
            )
            return
        if (
            not isinstance(saved, dict)
            or saved.get("v") != SNAPSHOT_VERSION
            or saved.get("account") != self._account.key
            or not isinstance(saved.get("activities"), dict)
            or not isinstance(saved.get("rows"), dict)
        ):
            return
        library = Library()
        for kind in TYPES:
            rows = saved["rows"].get(BUCKETS[kind][0]) or []
            for row in rows if isinstance(rows, list) else ():
                if isinstance(row, dict):
                    library.absorb(kind, row)
        self._library = library
        self._activities = saved["activities"]

    async def _save_snapshot(self) -> None:
        store = self.settings.token_store
        if store is None or self._account is None or self._activities is None:
            return
        rows: dict[str, list[dict[str, Any]]] = {}
        for title in self._library.listed():
            rows.setdefault(BUCKETS[title.kind][0], []).append(self._library.row(title))
        try:
            await store.save(
                self._snapshot_key,
                {
                    "v": SNAPSHOT_VERSION,
                    "account": self._account.key,
                    "activities": self._activities,
                    "rows": rows,
                },
            )
            self._dirty = False
        except Exception as exc:  # keeping it is an optimisation, never a failure
            self.log.warning("simkl: could not keep the library: %s", exc)

    def account(self) -> Account | None:
        """The signed-in account, or None before `initialize`."""
        return self._account

    def capabilities(self) -> Capabilities:
        """See `anibridge.providers.simkl.vocabulary`."""
        return capabilities()

    # -- the library, gated on /sync/activities ---------------------------------------

    async def _refresh(self, *, force: bool = False) -> Library:
        """The library, brought up to date when the activities say it moved."""
        async with self._refresh_lock:
            clock = self.settings.clock
            fresh = clock.monotonic() < self._fresh_until
            if not force and self._activities is not None and fresh:
                return self._library
            if self._activities is None and not self._snapshot_checked:
                await self._load_snapshot()
            activities = await self.api.activities()
            first = self._activities is None
            moved = first or activities != self._activities
            for kind in TYPES:
                now = _group(activities, kind)
                before = {} if first else _group(self._activities or {}, kind)
                await self._catch_up(kind, now, before, first=first)
            self._activities = activities
            self._fresh_until = clock.monotonic() + self.settings.refresh_interval
            if moved:
                await self._save_snapshot()
            return self._library

    async def _catch_up(
        self,
        kind: str,
        now: Mapping[str, str],
        before: Mapping[str, str],
        *,
        first: bool,
    ) -> list[Title]:
        """Apply one type's changes between two activity readings.

        Returns:
            Titles that left the list.
        """
        bucket = BUCKETS[kind][0]
        library = self._library
        if first:
            if now.get("all"):
                for row in await self.api.all_items(bucket):
                    library.absorb(kind, row)
            return []
        if _list_moved(now, before):
            since = _since(before.get("all"))
            for row in await self.api.all_items(bucket, date_from=since):
                library.absorb(kind, row)
        if _later(now.get("rated_at"), before.get("rated_at")):
            since = _since(before.get("rated_at") or before.get("all"))
            if since is None:
                rows = await self.api.all_items(bucket)
                for row in rows:
                    library.absorb(kind, row)
            else:
                for row in await self.api.ratings(bucket, date_from=since):
                    library.absorb_rating(kind, row)
        if _later(now.get("removed_from_list"), before.get("removed_from_list")):
            rows = await self.api.all_items(bucket, ids_only=True)
            listed = set()
            for row in rows:
                media = row.get("movie" if kind == MOVIE else "show")
                ids = media.get("ids") if isinstance(media, Mapping) else None
                value = ids.get("simkl") if isinstance(ids, Mapping) else None
                if isinstance(value, int) or (
                    isinstance(value, str) and value.isdigit()
                ):
                    listed.add(int(value))
            return library.keep_only(kind, listed)
        return []

    def _title(self, ref: Ref) -> Title | None:
        try:
            kind, simkl_id, _, _ = parse_ref(Ref(ref.key))
        except SimklDataError:
            return None
        return self._library.titles.get(f"{kind}:{simkl_id}")

    async def _catalog_title(
        self, key: str, *, structure: bool = False
    ) -> Title | None:
        """A title by anchor key, looked up in the catalog when not known yet."""
        try:
            kind, simkl_id, _, _ = parse_ref(Ref(key))
        except SimklDataError:
            return None
        title = self._library.titles.get(key)
        segment = {SHOW: "tv", ANIME: "anime", MOVIE: "movies"}[kind]
        unknown = title is None or (
            not title.listed
            and (
                (kind != MOVIE and title.total is None)
                or (kind == ANIME and title.anime_type is None)
            )
        )
        if unknown:
            summary = await self.api.summary(segment, simkl_id)
            if summary is None:
                return title
            title = self._library.note(kind, summary)
        if title is not None and structure and kind == SHOW and title.parts is None:
            episodes = await self.api.episodes("tv", simkl_id)
            parts = []
            for ep in episodes:
                season, number = ep.get("season"), ep.get("episode")
                if isinstance(season, int) and isinstance(number, int) and season > 0:
                    parts.append((season, number))
            title.parts = tuple(sorted(set(parts)))
        return title

    # -- catalog -----------------------------------------------------------------------

    async def scan(self, query: ScanQuery) -> Page[ScanItem]:
        """The user's shows, anime and movies with their list entries."""
        library = await self._refresh()
        titles = library.listed()
        if query.sources:
            wanted = {ref.key for ref in query.sources}
            titles = [t for t in titles if t.key in wanted]
        if query.native_node_kinds:
            titles = [t for t in titles if t.native_kind in query.native_node_kinds]
        with_records = query.with_records and (
            not query.native_record_kinds or "" in query.native_record_kinds
        )
        if query.require_activity:
            titles = [t for t in titles if library.record(t, query.fields).values]
        page = _page_of(titles, query.cursor, query.limit or SCAN_PAGE)
        items = []
        for title in page.items:
            node = library.node(title, query.facets)
            if not query.flags <= node.flags:
                continue
            records = (library.record(title, query.fields),) if with_records else ()
            items.append(ScanItem(node=node, records=records))
        return Page(items=tuple(items), cursor=page.cursor, total=page.total)

    async def fetch_nodes(self, query: NodeQuery) -> Page[Node]:
        """Nodes by ref (catalog lookups for titles not on the list), or all."""
        library = await self._refresh()
        if not query.refs:
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
        anchors = [r for r in dict.fromkeys(query.refs) if r.is_anchor]
        structure = FacetName.STRUCTURE in query.facets
        found = await asyncio.gather(
            *(self._catalog_title(r.key, structure=structure) for r in anchors)
        )
        nodes = []
        for title in found:
            if title is None:
                continue
            node = library.node(title, query.facets)
            if query.native_node_kinds and node.kind not in query.native_node_kinds:
                continue
            if query.flags <= node.flags:
                nodes.append(node)
        return _page_of(nodes, query.cursor, query.limit)

    async def search_nodes(
        self,
        query: str,
        *,
        limit: int = 10,
        facets: frozenset[FacetName] = frozenset(),
    ) -> Page[Node]:
        """Anime, shows and movies by title (`/search/{type}?q=`)."""
        if not query.strip():
            return Page(items=())
        nodes: list[Node] = []
        for kind, segment in ((ANIME, "anime"), (SHOW, "tv"), (MOVIE, "movie")):
            if len(nodes) >= limit:
                break
            for hit in await self.api.search_text(segment, query, limit):
                title = self._library.note(kind, hit)
                if title is not None:
                    nodes.append(self._library.node(title, facets))
        return Page(items=tuple(nodes[:limit]))

    # -- identity ----------------------------------------------------------------------

    @staticmethod
    def _accepts(authority: str, title: Title) -> bool:
        """Whether `title` may answer for an id of `authority`."""
        if authority == "simkl":
            return True
        if authority in _SHOW_AUTHORITIES:
            return title.kind == SHOW
        if authority in _MOVIE_AUTHORITIES:
            return title.is_film
        return title.kind == ANIME

    async def _lookup(self, base: ExternalId) -> tuple[Ref, ...]:
        key, kind_param = SEARCH_KEYS[base.authority]
        if base.authority == "simkl":
            hits = [
                t
                for t in self._library.titles.values()
                if t.simkl_id == int(base.value)
            ]
        else:
            hits = [
                t
                for t in self._library.titles.values()
                if str(t.ids.get(key)) == base.value
                and self._accepts(base.authority, t)
            ]
        if hits:
            return tuple(dict.fromkeys(t.ref for t in hits))
        refs: list[Ref] = []
        for result in await self.api.search_id(key, base.value, kind_param):
            kind = SIMKL_TYPES.get(str(result.get("type")))
            if kind is None:
                continue
            title = self._library.note(kind, result)
            if title is None:
                continue
            if key != "simkl":
                title.ids.setdefault(key, base.value)
            if kind == ANIME and base.authority in _MOVIE_AUTHORITIES:
                title = await self._catalog_title(title.key) or title
            if self._accepts(base.authority, title):
                refs.append(title.ref)
        return tuple(dict.fromkeys(refs))

    async def resolve(self, ids: Sequence[ExternalId]) -> Sequence[Match]:
        """External ids → titles, from the library first, else `/search/id`.

        Show ids (TVDB/TMDB/IMDb) only ever name TV shows and movie ids only films:
        Simkl files each anime season as its own title, so a series-wide id never
        answers for an anime (anime are found by their MAL, AniList or AniDB id,
        directly or through the mappings). A season-scoped show id resolves to its
        show; the engine places the season.
        """
        await self._refresh()
        wanted: list[ExternalId] = []
        for i in dict.fromkeys(ids):
            if i.authority not in SEARCH_KEYS or not i.value:
                continue
            if i.authority == "simkl" and not i.value.isdigit():
                continue
            scope_ok = (
                i.scope is None
                or (i.authority == "anidb" and i.scope == "R")
                or (
                    i.authority in _SHOW_AUTHORITIES
                    and i.scope[:1] == "s"
                    and i.scope[1:].isdigit()
                )
            )
            if scope_ok:
                wanted.append(i)
        bases = {ExternalId(i.authority, i.value) for i in wanted}
        todo = [b for b in bases if b.descriptor not in self._resolved]
        found = await asyncio.gather(*(self._lookup(b) for b in todo))
        for base, refs in zip(todo, found, strict=True):
            self._resolved[base.descriptor] = refs
        matches: list[Match] = []
        for external_id in wanted:
            refs = self._resolved[
                ExternalId(external_id.authority, external_id.value).descriptor
            ]
            confidence = 1.0 if len(refs) == 1 else 0.5
            matches.extend(Match(external_id, ref, confidence) for ref in refs)
        return tuple(matches)

    # -- records and events ------------------------------------------------------------

    async def fetch_records(self, query: RecordQuery) -> Page[Record]:
        """List entries by exact anchor ref and/or key (or all), projected."""
        library = await self._refresh()
        if query.native_record_kinds and "" not in query.native_record_kinds:
            return Page(items=())
        titles = library.listed()
        refs = set(query.refs)
        keys = set(query.keys)
        if refs or keys:
            titles = [t for t in titles if t.ref in refs or t.key in keys]
        records = [library.record(t, query.fields) for t in titles]
        return _page_of(records, query.cursor, query.limit)

    def _events_for(self, refs: Iterable[Ref]) -> list[Event]:
        refs = set(refs)
        library = self._library
        titles = (
            {t.key: t for r in refs if (t := self._title(r)) is not None}.values()
            if refs
            else library.listed()
        )
        events = [e for t in titles for e in library.events(t)]
        if refs:
            events = [e for e in events if e.ref in refs]
        return events

    async def fetch_events(self, query: EventQuery) -> Page[Event]:
        """Plays: one per watched episode or film, with its watch date."""
        await self._refresh()
        if query.native_event_kinds and WATCH not in query.native_event_kinds:
            return Page(items=())
        return _page_of(self._events_for(query.refs), query.cursor, query.limit)

    async def fetch_event_summaries(
        self, query: EventSummaryQuery
    ) -> Page[EventSummary]:
        """One play per watched episode or film (Simkl keeps one watch each)."""
        await self._refresh()
        if query.native_event_kinds and WATCH not in query.native_event_kinds:
            return Page(items=())
        summaries = [
            EventSummary(e.ref, WATCH, 1, e.at, e.at)
            for e in self._events_for(query.refs)
        ]
        return _page_of(summaries, query.cursor, query.limit)

    # -- record writes -----------------------------------------------------------------

    def _plan_record(self, position: int, write: RecordWrite) -> _RecordPlan:
        op = (
            WriteOp.DELETE_RECORD
            if isinstance(write, DeleteRecord)
            else WriteOp.UPSERT_RECORD
        )
        ref = write.ref
        if isinstance(write, DeleteRecord) and write.key is not None:
            ref = Ref(write.key)
        placeholder = Title(SHOW, 0)
        plan = _RecordPlan(position, write, op, placeholder)

        def refuse(code: WriteError, error: str) -> _RecordPlan:
            plan.failed = _fail(write, op, code, f"simkl: {error}")
            return plan

        if write.kind != "":
            return refuse(WriteError.UNSUPPORTED, f"no record kind {write.kind!r}")
        if ref is None:
            return refuse(WriteError.INVALID, "a write needs a ref or key")
        try:
            kind, simkl_id, season, _ = parse_ref(ref)
        except SimklDataError as exc:
            return refuse(WriteError.INVALID, str(exc).removeprefix("simkl: "))
        if season is not None or not ref.is_anchor:
            return refuse(WriteError.INVALID, f"records live on anchors, not {ref!r}")
        title = self._library.titles.get(f"{kind}:{simkl_id}")
        if isinstance(write, DeleteRecord):
            if title is None or not title.listed:
                return refuse(WriteError.NOT_FOUND, f"{ref!r} is not on the list")
            plan.title = title
            plan.delete = True
            return plan
        if title is None:
            title = Title(kind, simkl_id)
        plan.title = title
        if write.expected_revision is not None:
            return refuse(WriteError.UNSUPPORTED, "no optimistic concurrency check")
        both = set(write.set) & set(write.clear)
        if both:
            names = ", ".join(sorted(f.value for f in both))
            return refuse(WriteError.INVALID, f"fields both set and cleared: {names}")
        for name in (*write.set, *write.clear):
            if name in (RecordField.PROGRESS, RecordField.LAST_ACTIVITY_AT):
                return refuse(
                    WriteError.UNSUPPORTED,
                    f"{name.value} is read-only (append plays as events)",
                )
            if name not in (RecordField.STATUS, RecordField.RATING, RecordField.NOTES):
                return refuse(WriteError.UNSUPPORTED, f"no field {name.value}")
        if RecordField.STATUS in write.clear:
            return refuse(
                WriteError.UNSUPPORTED,
                "an entry always has a status; delete it instead",
            )
        state = write.set.get(RecordField.STATUS)
        if state is not None:
            native = (
                native_status(state, STATUS_FROM_NATIVE, STATUS_TO_NATIVE)
                if isinstance(state, State)
                else None
            )
            if native is None:
                return refuse(WriteError.INVALID, f"no Simkl status for {state!r}")
            if title.is_film and native not in MOVIE_STATUSES:
                return refuse(
                    WriteError.UNSUPPORTED,
                    f"movies have no {native!r} (plantowatch, completed or dropped)",
                )
            if native != title.status or not title.listed:
                plan.status = native
        rating = write.set.get(RecordField.RATING)
        if rating is not None:
            value = _simkl_rating(rating)
            if value is None:
                return refuse(WriteError.INVALID, f"rating {rating!r} is not 1-10")
            plan.rating = value
        elif RecordField.RATING in write.clear:
            plan.rating = _CLEAR
        notes = write.set.get(RecordField.NOTES)
        if notes is not None:
            if not isinstance(notes, str) or len(notes) > MEMO_MAX:
                return refuse(
                    WriteError.INVALID,
                    f"a memo is text of at most {MEMO_MAX} characters",
                )
            plan.memo = notes
        elif RecordField.NOTES in write.clear:
            plan.memo = _CLEAR
        if (
            not title.listed
            and plan.status is None
            and plan.rating in (None, _CLEAR)
            and plan.memo is not None
        ):
            return refuse(WriteError.INVALID, "a new entry needs a status")
        return plan

    async def _send(
        self,
        path: str,
        items: list[tuple[Item, list[_RecordPlan]]],
        *,
        safe: bool,
        apply: Callable[[_RecordPlan, Mapping[int, str]], None],
    ) -> None:
        """POST `items` in batches; fail or apply each plan they serve."""
        for batch in chunks(items, self.settings.write_batch_size):
            try:
                envelope = await self.api.post(
                    path, build_body(i for i, _ in batch), safe=safe
                )
            except HttpError as exc:
                for _, plans in batch:
                    for p in plans:
                        if p.failed is None:
                            p.failed = _fail(p.write, p.op, exc.code, str(exc))
                continue
            missing = not_found_ids(envelope)
            statuses = statuses_by_id(envelope)
            for item, plans in batch:
                for p in plans:
                    if p.failed is not None:
                        continue
                    if item.title.simkl_id in missing:
                        p.failed = _fail(
                            p.write,
                            p.op,
                            WriteError.NOT_FOUND,
                            f"simkl: {item.title.key} is not in Simkl's catalog",
                        )
                        continue
                    apply(p, statuses)

    async def write_records(
        self, writes: Sequence[RecordWrite]
    ) -> Sequence[WriteResult]:
        """Status, rating and memo upserts and entry removals, batched per endpoint.

        Statuses go first (a rating on an unlisted title would otherwise file it
        under a status Simkl picks), then ratings, then memos; removals last.
        """
        if not writes:
            return []
        await self._refresh()
        plans = [self._plan_record(i, w) for i, w in enumerate(writes)]
        live = [p for p in plans if p.failed is None]

        def items(select: Callable[[_RecordPlan], dict[str, Any] | None]):
            out: list[tuple[Item, list[_RecordPlan]]] = []
            by_title: dict[str, tuple[Item, list[_RecordPlan]]] = {}
            for p in live:
                if p.failed is not None:
                    continue
                fields = select(p)
                if fields is None:
                    continue
                found = by_title.get(p.title.key)
                if found is None:
                    found = by_title[p.title.key] = (Item(p.title, fields=fields), [])
                    out.append(found)
                found[0].fields.update(fields)
                found[1].append(p)
            return out

        def listed(p: _RecordPlan, statuses: Mapping[int, str]) -> None:
            t = p.title
            self._library.titles.setdefault(t.key, t)
            t.listed = True
            new = p.status or t.status
            if t.is_film and new == "watching":
                new = "completed"
            t.status = statuses.get(t.simkl_id, new)

        await self._send(
            "/sync/add-to-list",
            items(lambda p: {"to": p.status} if p.status else None),
            safe=True,
            apply=listed,
        )

        def rated(p: _RecordPlan, statuses: Mapping[int, str]) -> None:
            if not p.title.listed:
                listed(p, statuses)
            p.title.rating = p.rating
            p.title.rated_at = utcnow()

        await self._send(
            "/sync/ratings",
            items(
                lambda p: {"rating": p.rating} if isinstance(p.rating, int) else None
            ),
            safe=True,
            apply=rated,
        )

        def unrated(p: _RecordPlan, _: Mapping[int, str]) -> None:
            p.title.rating = p.title.rated_at = None

        await self._send(
            "/sync/ratings/remove",
            items(lambda p: {} if p.rating is _CLEAR and p.title.listed else None),
            safe=True,
            apply=unrated,
        )

        def memo_fields(p: _RecordPlan) -> dict[str, Any] | None:
            if p.memo is None:
                return None
            text = "" if p.memo is _CLEAR else p.memo
            status = p.status or p.title.status
            if status is None:
                return None
            return {
                "status": status,
                "memo": {"text": text, "is_private": p.title.memo_private},
            }

        def memoed(p: _RecordPlan, statuses: Mapping[int, str]) -> None:
            listed(p, statuses)
            p.title.memo = "" if p.memo is _CLEAR else p.memo

        await self._send("/sync/history", items(memo_fields), safe=True, apply=memoed)

        def removed(p: _RecordPlan, _: Mapping[int, str]) -> None:
            self._library.unlist(p.title)

        await self._send(
            "/sync/history/remove",
            items(lambda p: {} if p.delete else None),
            safe=True,
            apply=removed,
        )
        self._dirty = True  # the kept library must learn what was written
        return [
            p.failed
            if p.failed is not None
            else WriteResult(
                ok=True,
                op=p.op,
                token=p.write.token,
                key=p.title.key,
                ref=p.write.ref if p.write.ref is not None else p.title.ref,
            )
            for p in plans
        ]

    # -- event writes ------------------------------------------------------------------

    def _event_target(
        self, write: EventWrite, op: WriteOp
    ) -> WriteResult | tuple[Title, tuple[int | None, int] | None]:
        ref = write.ref
        if isinstance(write, DeleteEvent) and write.key is not None:
            try:
                ref = parse_event_key(write.key)
            except SimklDataError as exc:
                return _fail(write, op, WriteError.INVALID, str(exc))
        if ref is None:
            return _fail(write, op, WriteError.INVALID, "simkl: a play needs a ref")
        try:
            kind, simkl_id, season, episode = parse_ref(ref)
        except SimklDataError as exc:
            return _fail(write, op, WriteError.INVALID, str(exc))
        title = self._library.titles.get(f"{kind}:{simkl_id}")
        if title is None:
            return _fail(
                write, op, WriteError.NOT_FOUND, f"simkl: no title {ref.key} in Simkl"
            )
        if episode is None:
            if not title.is_film:
                return _fail(
                    write,
                    op,
                    WriteError.INVALID,
                    "simkl: plays go on episodes or films, not on a whole series",
                )
            return title, None
        return title, (season, episode)

    async def write_events(self, writes: Sequence[EventWrite]) -> Sequence[WriteResult]:
        """Append plays to / remove plays from the history, batched.

        An episode (or film) Simkl already has as watched is acknowledged without a
        request: Simkl's history keeps one watch per episode and would ignore it,
        so repeating or retrying an append never sends it again. Several plays of
        one episode in one call become one watch at the earliest time.
        """
        results: list[WriteResult | None] = [None] * len(writes)
        if not writes:
            return []
        await self._refresh()
        unknown = {
            w.ref.key
            for w in writes
            if w.ref is not None and w.ref.key not in self._library.titles
        }
        await asyncio.gather(*(self._catalog_title(k) for k in sorted(unknown)))
        appends: dict[str, tuple[Item, list[int]]] = {}
        removals: dict[str, tuple[Item, list[int]]] = {}
        for position, write in enumerate(writes):
            op = (
                WriteOp.APPEND_EVENT
                if isinstance(write, AppendEvent)
                else WriteOp.DELETE_EVENT
            )
            if isinstance(write, AppendEvent):
                if write.kind != WATCH:
                    results[position] = _fail(
                        write, op, WriteError.UNSUPPORTED, f"simkl: kind {write.kind!r}"
                    )
                    continue
                if write.at.tzinfo is None or write.at.utcoffset() is None:
                    results[position] = _fail(
                        write, op, WriteError.INVALID, "simkl: naive datetime"
                    )
                    continue
            target = self._event_target(write, op)
            if isinstance(target, WriteResult):
                results[position] = target
                continue
            title, episode = target
            if isinstance(write, AppendEvent):
                watched = (
                    title.watched_at is not None
                    if episode is None
                    else episode in title.episodes
                )
                if watched and title.listed:
                    results[position] = WriteResult(
                        ok=True, op=op, token=write.token, ref=write.ref
                    )
                    continue
                item, positions = appends.setdefault(title.key, (Item(title), []))
                at = write.at.replace(microsecond=0)
                if episode is None:
                    old = item.fields.get("watched_at")
                    if old is None or simkl_time(at) < old:
                        item.fields["watched_at"] = simkl_time(at)
                else:
                    old_at = item.episodes.get(episode)
                    item.episodes[episode] = at if old_at is None else min(old_at, at)
                positions.append(position)
                continue
            if episode is None:
                results[position] = _fail(
                    write,
                    op,
                    WriteError.UNSUPPORTED,
                    "simkl: removing a film's watch removes the film and its rating; "
                    "delete the record instead",
                )
                continue
            current = title.episodes.get(episode) if title.listed else None
            if current is None or (
                write.at is not None
                and current.replace(microsecond=0) != write.at.replace(microsecond=0)
            ):
                results[position] = _fail(
                    write, op, WriteError.NOT_FOUND, "simkl: no such play"
                )
                continue
            item, positions = removals.setdefault(title.key, (Item(title), []))
            item.episodes[episode] = None
            positions.append(position)
        await self._append(list(appends.values()), writes, results)
        await self._remove_plays(list(removals.values()), writes, results)
        self._dirty = True
        return [
            r
            if r is not None
            else _fail(w, WriteOp.APPEND_EVENT, WriteError.INTERNAL, "simkl: not sent")
            for w, r in zip(writes, results, strict=True)
        ]

    async def _append(
        self,
        groups: list[tuple[Item, list[int]]],
        writes: Sequence[EventWrite],
        results: list[WriteResult | None],
    ) -> None:
        op = WriteOp.APPEND_EVENT
        for batch in chunks(groups, self.settings.write_batch_size):
            try:
                # Not retried: a request that may have landed is never sent blind;
                # the next append re-reads the library first (see below).
                envelope = await self.api.post(
                    "/sync/history", build_body(i for i, _ in batch), safe=False
                )
            except HttpError as exc:
                self._fresh_until = 0.0  # the outcome is unknown: read before writing
                for _, positions in batch:
                    for p in positions:
                        results[p] = _fail(writes[p], op, exc.code, str(exc))
                continue
            missing = not_found_ids(envelope)
            statuses = statuses_by_id(envelope)
            for item, positions in batch:
                title = item.title
                if title.simkl_id in missing:
                    for p in positions:
                        results[p] = _fail(
                            writes[p],
                            op,
                            WriteError.NOT_FOUND,
                            f"simkl: {title.key} is not in Simkl's catalog",
                        )
                    continue
                self._played(item, statuses)
                for p in positions:
                    results[p] = WriteResult(
                        ok=True, op=op, token=writes[p].token, ref=writes[p].ref
                    )

    def _played(self, item: Item, statuses: Mapping[int, str]) -> None:
        title = item.title
        self._library.titles.setdefault(title.key, title)
        times = [t for t in item.episodes.values() if t is not None]
        if "watched_at" in item.fields:
            film_at = parse_iso(item.fields["watched_at"])
            title.watched_at = title.watched_at or film_at
            times.append(film_at)
        for key, at in item.episodes.items():
            if at is not None:
                title.episodes.setdefault(key, at)
        if times:
            latest = max(times)
            if title.last_watched_at is None or latest > title.last_watched_at:
                title.last_watched_at = latest
        if not title.listed:
            title.listed = True
            title.added_at = title.added_at or max(times, default=None)
        status = statuses.get(title.simkl_id)
        if status in STATUS_FROM_NATIVE:
            title.status = status
        elif title.status is None:
            title.status = "completed" if title.is_film else "watching"

    async def _remove_plays(
        self,
        groups: list[tuple[Item, list[int]]],
        writes: Sequence[EventWrite],
        results: list[WriteResult | None],
    ) -> None:
        op = WriteOp.DELETE_EVENT
        for batch in chunks(groups, self.settings.write_batch_size):
            try:
                envelope = await self.api.post(
                    "/sync/history/remove",
                    build_body(i for i, _ in batch),
                    safe=True,
                )
            except HttpError as exc:
                for _, positions in batch:
                    for p in positions:
                        results[p] = _fail(writes[p], op, exc.code, str(exc))
                continue
            missing = not_found_ids(envelope)
            for item, positions in batch:
                title = item.title
                if title.simkl_id in missing:
                    for p in positions:
                        results[p] = _fail(
                            writes[p], op, WriteError.NOT_FOUND, "simkl: no such play"
                        )
                    continue
                for key in item.episodes:
                    title.episodes.pop(key, None)
                if title.status == "completed":
                    title.status = "watching"
                for p in positions:
                    w = writes[p]
                    key = w.key
                    if key is None and w.ref is not None:
                        key = event_key(w.ref)
                    results[p] = WriteResult(
                        ok=True, op=op, token=w.token, key=key, ref=w.ref
                    )

    # -- change feed -------------------------------------------------------------------

    async def poll_changes(self, query: ChangeQuery) -> Page[Change]:
        """Changes since the cursor, from `/sync/activities` and `date_from` deltas.

        The first poll (no cursor) only records where the activities stand. Later
        polls read the deltas of the lists whose timestamps moved and name the titles
        they touched. A removal from the list names the removed titles when this
        instance knew them, and always adds a change without a ref so the caller
        reads everything before judging deletions. More changes than `limit` are
        handed out over several polls (the rest rides in the cursor).
        """
        cursor = query.cursor
        if cursor is not None and not cursor.startswith(CURSOR_PREFIX):
            raise ValueError(f"simkl: not a change cursor of this provider: {cursor!r}")
        state: dict[str, Any] = {}
        if cursor is not None:
            try:
                state = json.loads(cursor[len(CURSOR_PREFIX) :])
            except ValueError as exc:
                raise ValueError(f"simkl: damaged change cursor {cursor!r}") from exc
            if not isinstance(state, dict) or not isinstance(state.get("a"), dict):
                raise ValueError(f"simkl: damaged change cursor {cursor!r}")
        pending = state.get("p")
        if isinstance(pending, list) and pending:
            return self._hand_out(
                [_change_from(c) for c in pending], state["a"], query.limit
            )
        activities = await self.api.activities()
        if cursor is None:
            return Page(items=(), cursor=_cursor(activities, []))
        before = state["a"]
        changes: list[Change] = []
        loaded = self._activities is not None
        for kind in TYPES:
            now, then = _group(activities, kind), _group(before, kind)
            bucket = BUCKETS[kind][0]
            if _list_moved(now, then):
                for row in await self.api.all_items(
                    bucket, date_from=_since(then.get("all"))
                ):
                    title = (
                        self._library.absorb(kind, row)
                        if loaded
                        else Library().absorb(kind, row)
                    )
                    if title is not None:
                        changes.append(
                            RecordChange(ref=title.ref, kind="", at=title.updated_at())
                        )
                        changes.append(
                            EventChange(
                                ref=title.ref, kind=WATCH, at=title.last_watched_at
                            )
                        )
            if _later(now.get("rated_at"), then.get("rated_at")):
                since = _since(then.get("rated_at") or then.get("all"))
                rows = await self.api.ratings(bucket, date_from=since) if since else []
                for row in rows:
                    media = row.get("movie" if kind == MOVIE else "show")
                    title = Library().note(kind, media)
                    if title is not None:
                        if loaded:
                            self._library.absorb_rating(kind, row)
                        changes.append(
                            RecordChange(
                                ref=title.ref,
                                kind="",
                                fields=frozenset({RecordField.RATING}),
                            )
                        )
                if since is None:
                    changes.append(RecordChange(kind=""))
            if _later(now.get("removed_from_list"), then.get("removed_from_list")):
                if loaded:
                    gone = await self._catch_up(
                        kind,
                        {"removed_from_list": now["removed_from_list"]},
                        {"removed_from_list": then.get("removed_from_list", "")},
                        first=False,
                    )
                    changes.extend(RecordChange(ref=t.ref, kind="") for t in gone)
                changes.append(RecordChange(kind=""))
        if loaded:
            self._activities = activities
        return self._hand_out(_dedupe(changes), activities, query.limit)

    def _hand_out(
        self, changes: list[Change], activities: Mapping[str, Any], limit: int | None
    ) -> Page[Change]:
        if not limit or len(changes) <= limit:
            return Page(items=tuple(changes), cursor=_cursor(activities, []))
        return Page(
            items=tuple(changes[:limit]),
            cursor=_cursor(activities, changes[limit:]),
        )

    # -- backups -----------------------------------------------------------------------

    async def export_backup(self) -> BackupArtifact | None:
        """The whole library as Simkl's own all-items shape (episodes, dates, memos)."""
        library = await self._refresh()
        content = backup_format.dump(
            library, account=self._account.key if self._account else None
        )
        return BackupArtifact(content, ".json", "application/json")

    def check_backup(self, payload: bytes) -> None:
        """Parse the whole payload as `import_backup` would; nothing is sent.

        Raises:
            SimklDataError: the payload is not a Simkl backup of this format.
        """
        backup_format.load(payload)

    async def import_backup(self, payload: bytes) -> None:
        """Restore statuses, watched episodes with dates, ratings and memos.

        Adds what the backup has and the account lacks; never removes anything.

        Raises:
            SimklDataError: the payload is not a Simkl backup of this format.
            RuntimeError: some items could not be restored (the rest were).
        """
        restored = backup_format.load(payload)
        library = await self._refresh()
        records: list[RecordWrite] = []
        events: list[EventWrite] = []
        for saved in restored:
            current = library.titles.get(saved.key)
            values: dict[RecordField, Any] = {}
            if saved.status and (current is None or current.status != saved.status):
                values[RecordField.STATUS] = State(
                    saved.status, STATUS_FROM_NATIVE[saved.status]
                )
            if saved.rating and (current is None or current.rating != saved.rating):
                values[RecordField.RATING] = Rating(float(saved.rating), RATING_SCALE)
            if saved.memo and (current is None or current.memo != saved.memo):
                values[RecordField.NOTES] = saved.memo
            if values:
                records.append(UpsertRecord(ref=saved.ref, set=values))
            have = current.episodes if current is not None else {}
            for key, at in saved.episodes.items():
                if key not in have:
                    events.append(
                        AppendEvent(ref=saved.episode_ref(key), kind=WATCH, at=at)
                    )
            if (
                saved.is_film
                and saved.watched_at
                and (current is None or current.watched_at is None)
            ):
                events.append(
                    AppendEvent(ref=saved.ref, kind=WATCH, at=saved.watched_at)
                )
            library.titles.setdefault(saved.key, _catalog_copy(saved))
        # Plays first: a film filed as completed by its status alone would be
        # "watched now" and keep that date.
        outcomes = list(await self.write_events(events)) if events else []
        outcomes += list(await self.write_records(records)) if records else []
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise RuntimeError(
                f"simkl: {len(failed)} of {len(outcomes)} backup items were not "
                f"restored (first: {failed[0].ref!r}: {failed[0].error})"
            )


# -- helpers ---------------------------------------------------------------------------


async def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _simkl_rating(value: Any) -> int | None:
    """A contract rating as Simkl's integer 1-10, or None when not representable."""
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


def _catalog_copy(saved: Title) -> Title:
    return Title(
        saved.kind,
        saved.simkl_id,
        title=saved.title,
        year=saved.year,
        ids=dict(saved.ids),
        anime_type=saved.anime_type,
        total=saved.total,
    )


def _cursor(activities: Mapping[str, Any], pending: Sequence[Change]) -> str:
    state: dict[str, Any] = {"a": activities}
    if pending:
        state["p"] = [_change_json(c) for c in pending]
    return CURSOR_PREFIX + json.dumps(state, sort_keys=True, separators=(",", ":"))


def _change_json(change: Change) -> list[Any]:
    kind = "e" if isinstance(change, EventChange) else "r"
    ref = change.ref.key if change.ref is not None else None
    fields = sorted(f.value for f in getattr(change, "fields", ()))
    return [kind, ref, fields]


def _change_from(data: Any) -> Change:
    try:
        kind, ref, fields = data
    except (TypeError, ValueError) as exc:
        raise ValueError(f"simkl: damaged change cursor entry {data!r}") from exc
    target = Ref(ref) if isinstance(ref, str) else None
    if kind == "e":
        return EventChange(ref=target, kind=WATCH)
    return RecordChange(
        ref=target, kind="", fields=frozenset(RecordField(f) for f in fields)
    )


def _dedupe(changes: list[Change]) -> list[Change]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for c in changes:
        key = (type(c), c.ref, getattr(c, "fields", None))
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out
