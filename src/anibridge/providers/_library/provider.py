"""The contract behaviour Plex, Jellyfin and Emby share, over per-server hooks.

A subclass only talks to its server: list sections, items and episodes (paged, a few
requests per section, never one per episode), look items up by key, report what
changed since a time with server-side filters, and write watched / unwatched /
rating. Everything the contract adds on top — projections, paging cursors, records,
summaries, the change feed, resolving ids, safe idempotent writes — lives here once.

The change cursor never trusts that a server's timestamps are behind our clock (a
server or client clock ahead of ours dates plays in the future; one behind ours dates
them in the past). A read asks for everything stamped at or after ``since`` minus
`FEED_LOOKBACK`, drops what the cursor's ``seen`` tokens
say was already delivered, and then moves ``since`` to our clock at the read's start
and keeps as ``seen`` the tokens of everything that read returned. A token digests the
change *and its content* (state, catalog times, history row), so a future-dated play is
delivered once and then skipped until the window passes it, while a new change of the
same item is delivered again. The first poll (no cursor) reads the lookback only to
fill ``seen`` (a full read covers it). Paged reads (``limit``) keep ``since`` and grow
``seen``.
A cursor of the previous version (``{"since": t}``, paged or not) is read from its
``since``; one this version does not know asks for a full read (a change without ref).
"""

from __future__ import annotations

import hashlib
import uuid
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from logging import Logger
from typing import ClassVar

from anibridge.dates import from_epoch, to_epoch
from anibridge.http import HttpError
from anibridge.provider.base import (
    Account,
    Capabilities,
    Change,
    ChangeQuery,
    DeleteRecord,
    EventChange,
    EventSummary,
    EventSummaryQuery,
    ExternalId,
    FacetName,
    InboundRequest,
    InboundResult,
    Match,
    Node,
    NodeChange,
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
    Status,
    SupportsChangeFeed,
    SupportsEventSummaries,
    SupportsInboundChanges,
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
from anibridge.providers._library.cursor import cursor_int, decode_cursor, encode_cursor
from anibridge.providers._library.model import (
    Changes,
    LibraryEpisode,
    LibraryItem,
    Section,
    UserState,
)
from anibridge.providers._library.settings import (
    LIBRARY_KEYS,
    LibrarySettings,
    parse_library_settings,
)
from anibridge.providers._library.shape import (
    PLAY,
    WATCHED,
    LibraryTraits,
    episode_ref,
    group_episodes,
    item_node,
    library_capabilities,
    records_for,
    state_summary,
)

__all__ = ["LibraryProvider", "WriteRejected"]

_DEFAULT_LIMIT = 100
_PER_SHOW_READS = 20  # above this many shows, read whole sections' episodes
_MAX_SCANS = 4
_FEED_VERSION = 2
#: Seconds the change feed reads back before its last "now": a server whose clock is
#: behind ours stamps changes made just after a read before that read's "now".
FEED_LOOKBACK = 900
PLAYED_FIELDS = frozenset(
    {RecordField.STATUS, RecordField.REPEAT_COUNT, RecordField.LAST_ACTIVITY_AT}
)


class WriteRejected(Exception):
    """A write the provider refuses before sending anything, with its code."""

    def __init__(self, code: WriteError, message: str) -> None:
        """Carry the contract code and a human message."""
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class _Catalog:
    """Items and their episodes, as one scan (or read) saw them."""

    items: list[LibraryItem]
    episodes: Mapping[str, list[LibraryEpisode]]


class LibraryProvider(
    Provider,
    SupportsScan,
    SupportsNodeReads,
    SupportsNodeSearch,
    SupportsRecordReads,
    SupportsRecordWrites,
    SupportsEventSummaries,
    SupportsMapping,
    SupportsChangeFeed,
    SupportsInboundChanges,
):
    """Base of the media-server providers (library shape; see the module docstring)."""

    TRAITS: ClassVar[LibraryTraits]
    DEFAULT_URL: ClassVar[str | None] = None
    #: Every config key the server's provider accepts (others are refused).
    CONFIG_KEYS: ClassVar[Mapping[str, ConfigKey]] = LIBRARY_KEYS
    #: ``token`` may come from the token store (`anibridge login`) instead.
    STORED_TOKEN: ClassVar[bool] = False

    def __init__(
        self, *, logger: Logger, config: Mapping[str, object] | None = None
    ) -> None:
        """Validate the config; nothing is contacted before `initialize`."""
        super().__init__(logger=logger, config=config)
        self.settings: LibrarySettings = parse_library_settings(
            self.NAMESPACE,
            self.config,
            default_url=self.DEFAULT_URL,
            keys=self.CONFIG_KEYS,
            stored_token=self.STORED_TOKEN,
        )
        self._account: Account | None = None
        self._sections: list[Section] = []
        self._scans: dict[str, _Catalog] = {}
        self._id_index: dict[str, list[str]] | None = None

    # -- server hooks -----------------------------------------------------------------

    @abstractmethod
    async def _connect(self) -> Account:
        """Authenticate, pick the user, return the account."""

    @abstractmethod
    async def _list_sections(self) -> list[Section]:
        """Every show and movie section of the server visible to the user."""

    @abstractmethod
    async def _section_items(self, section: Section) -> list[LibraryItem]:
        """Every show/movie of a section with ids and the user's state (paged)."""

    @abstractmethod
    async def _section_episodes(self, section: Section) -> list[LibraryEpisode]:
        """Every episode of a show section with the user's state (paged)."""

    @abstractmethod
    async def _items(self, keys: Sequence[str]) -> list[LibraryItem]:
        """Shows/movies by key (batched); unknown keys are left out."""

    @abstractmethod
    async def _episodes_of(self, show_keys: Sequence[str]) -> list[LibraryEpisode]:
        """Every episode of the given shows."""

    @abstractmethod
    async def _changes_since(
        self, sections: Sequence[Section], since: datetime
    ) -> Changes:
        """What changed since `since`, found with server-side filters."""

    @abstractmethod
    async def _mark_watched(
        self, key: str, state: UserState, at: datetime | None
    ) -> None:
        """Mark an episode/movie watched (at `at` when the server can store it)."""

    @abstractmethod
    async def _mark_unwatched(self, key: str, state: UserState) -> None:
        """Mark an episode/movie unwatched."""

    @abstractmethod
    async def _set_rating(
        self, key: str, state: UserState, value: float | None
    ) -> None:
        """Set (or clear, with None) the user's rating of an item."""

    async def _set_last_played(self, key: str, state: UserState, at: datetime) -> None:
        """Change the last-played time of a watched item (servers that can).

        Raises:
            WriteRejected: the server cannot store a view date.
        """
        raise WriteRejected(
            WriteError.UNSUPPORTED, f"{self.DISPLAY_NAME} cannot set a view date"
        )

    @abstractmethod
    async def _parse_inbound(self, request: InboundRequest) -> InboundResult:
        """Parse one webhook request of this server."""

    async def _close_client(self) -> None:
        """Release HTTP connections."""
        return

    # -- lifecycle --------------------------------------------------------------------

    async def initialize(self) -> None:
        """Authenticate, select the user and read the sections once."""
        self._account = await self._connect()
        all_sections = await self._list_sections()
        self._sections = self._select_sections(all_sections)

    def _select_sections(self, sections: Sequence[Section]) -> list[Section]:
        wanted = {name.casefold() for name in self.settings.sections}
        usable = [s for s in sections if s.kind in ("show", "movie")]
        if not wanted:
            return usable
        chosen = [s for s in usable if s.title.casefold() in wanted]
        missing = wanted - {s.title.casefold() for s in chosen}
        if missing:
            known = ", ".join(sorted(s.title for s in usable)) or "none"
            raise ValueError(
                f"{self.NAMESPACE} provider config 'sections': no show/movie section "
                f"named {sorted(missing)} (the server has: {known})"
            )
        return chosen

    def account(self) -> Account | None:
        """The user this instance reads and writes for."""
        return self._account

    def capabilities(self) -> Capabilities:
        """What the server supports (see `LibraryTraits`)."""
        return library_capabilities(self.TRAITS)

    async def clear_cache(self) -> None:
        """Forget cached scans and the id index."""
        self._scans.clear()
        self._id_index = None

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._close_client()

    @property
    def sections(self) -> tuple[Section, ...]:
        """The sections this instance covers."""
        return tuple(self._sections)

    # -- reading helpers --------------------------------------------------------------

    def _keep(self, item: LibraryItem) -> bool:
        if not self.settings.genres:
            return True
        wanted = {g.casefold() for g in self.settings.genres}
        return any(g.casefold() in wanted for g in item.genres)

    def _preferred(self, item: LibraryItem) -> str | None:
        section = next((s for s in self._sections if s.key == item.section), None)
        return (
            item.ordering
            or (section.ordering if section else None)
            or (self.settings.ordering)
        )

    def _node(
        self, item: LibraryItem, episodes: Sequence[LibraryEpisode], facets: frozenset
    ) -> Node:
        return item_node(
            item,
            episodes,
            facets,
            preferred=self._preferred(item),
            strict=self.settings.strict,
        )

    async def _catalog(self, *, episodes: bool) -> _Catalog:
        items: list[LibraryItem] = []
        eps: list[LibraryEpisode] = []
        for section in self._sections:
            items.extend(i for i in await self._section_items(section) if self._keep(i))
            if episodes and section.kind == "show":
                eps.extend(await self._section_episodes(section))
        keys = {i.key for i in items}
        grouped = group_episodes(e for e in eps if e.show_key in keys)
        return _Catalog(items, grouped)

    def _valid_key(self, key: str) -> bool:
        """Whether `key` can be a key of this server (others are simply unknown)."""
        return bool(key)

    async def _catalog_of(self, keys: Sequence[str], *, episodes: bool) -> _Catalog:
        unique = [k for k in dict.fromkeys(keys) if self._valid_key(k)]
        items = await self._items(unique) if unique else []
        by_key = {i.key: i for i in items}
        items = [by_key[k] for k in unique if k in by_key]
        shows = [i.key for i in items if i.kind == "show"]
        eps: list[LibraryEpisode] = []
        if episodes and len(shows) > _PER_SHOW_READS:
            # Many shows: a few section listings beat one request per show.
            wanted = set(shows)
            known = {i.section for i in items if i.kind == "show"}
            for section in self._sections:
                if section.kind == "show" and (section.key in known or "" in known):
                    listing = await self._section_episodes(section)
                    eps.extend(e for e in listing if e.show_key in wanted)
        elif episodes and shows:
            eps = await self._episodes_of(shows)
        return _Catalog(items, group_episodes(eps))

    def _readable(self, fields: frozenset[RecordField]) -> frozenset[RecordField]:
        caps = self.capabilities().record_fields
        readable = frozenset(f for f, spec in caps.items() if spec.readable)
        return fields & readable  # nothing requested, nothing hydrated

    # -- scan -------------------------------------------------------------------------

    async def scan(self, query: ScanQuery) -> Page[ScanItem]:
        """Enumerate shows and movies with per-episode records, O(pages) requests.

        The first page reads the whole selection (a few paged listings per section)
        and later pages are served from that read, so a scan costs the same number of
        requests whatever the page size.
        """
        values = decode_cursor(query.cursor, self.NAMESPACE)
        offset = cursor_int(values, "offset", self.NAMESPACE)
        token = values.get("scan")
        catalog = self._scans.get(token) if isinstance(token, str) else None
        if catalog is None:
            catalog = await self._scan_catalog(query)
            token = uuid.uuid4().hex
            self._scans[token] = catalog
            while len(self._scans) > _MAX_SCANS:
                self._scans.pop(next(iter(self._scans)))
        limit = query.limit or _DEFAULT_LIMIT
        chunk = catalog.items[offset : offset + limit]
        fields = self._readable(query.fields)
        records_wanted = query.with_records and (
            not query.native_record_kinds or "" in query.native_record_kinds
        )
        out: list[ScanItem] = []
        for item in chunk:
            episodes = catalog.episodes.get(item.key, [])
            node = self._node(item, episodes, query.facets)
            records = (
                records_for(item, episodes, fields, self.TRAITS.scale)
                if records_wanted
                else []
            )
            out.append(ScanItem(node, tuple(records)))
        end = offset + len(chunk)
        cursor = None
        if end < len(catalog.items):
            cursor = encode_cursor({"scan": token, "offset": end})
        else:
            self._scans.pop(token, None)  # type: ignore[arg-type]
        return Page(tuple(out), cursor, len(catalog.items))

    async def _scan_catalog(self, query: ScanQuery) -> _Catalog:
        need_episodes = (
            query.with_records
            or query.require_activity
            or bool(query.facets & {FacetName.IDS, FacetName.STRUCTURE})
        )
        if query.sources:
            catalog = await self._catalog_of(
                [r.key for r in query.sources], episodes=need_episodes
            )
        else:
            catalog = await self._catalog(episodes=need_episodes)
        items = catalog.items
        if query.native_node_kinds:
            items = [i for i in items if i.kind in query.native_node_kinds]
        if query.require_activity:
            items = [
                i
                for i in items
                if i.state.active
                or any(e.state.active for e in catalog.episodes.get(i.key, []))
            ]
        return _Catalog(items, catalog.episodes)

    # -- node reads -------------------------------------------------------------------

    async def fetch_nodes(self, query: NodeQuery) -> Page[Node]:
        """Anchors by ref (batched lookups), or the whole selection without refs."""
        offset = cursor_int(decode_cursor(query.cursor, self.NAMESPACE), "offset", "")
        need_episodes = bool(query.facets & {FacetName.IDS, FacetName.STRUCTURE})
        if query.refs:
            keys = list(dict.fromkeys(r.key for r in query.refs if r.is_anchor))
            limit = query.limit or len(keys) or 1
            window = keys[offset : offset + limit]
            catalog = await self._catalog_of(window, episodes=need_episodes)
            total = len(keys)
        else:
            catalog = await self._catalog(episodes=need_episodes)
            limit = query.limit or _DEFAULT_LIMIT
            catalog = _Catalog(catalog.items[offset : offset + limit], catalog.episodes)
            total = None
        nodes = [
            self._node(i, catalog.episodes.get(i.key, []), query.facets)
            for i in catalog.items
            if not query.native_node_kinds or i.kind in query.native_node_kinds
        ]
        end = offset + limit
        more = end < total if total is not None else len(catalog.items) == limit
        cursor = encode_cursor({"offset": end}) if more else None
        return Page(tuple(nodes), cursor, total)

    async def search_nodes(
        self,
        query: str,
        *,
        limit: int = 10,
        facets: frozenset[FacetName] = frozenset(),
    ) -> Page[Node]:
        """Shows/movies of the selection whose titles resemble `query`.

        Titles come from the section listings (a few requests); only the best
        matches are hydrated with the requested facets.
        """
        from rapidfuzz import fuzz

        wanted = query.strip().casefold()
        if not wanted:
            return Page(())
        catalog = await self._catalog(episodes=False)
        scored = [
            (fuzz.WRatio(wanted, item.title.casefold()), item.key)
            for item in catalog.items
        ]
        best = [k for score, k in sorted(scored, key=lambda p: -p[0]) if score >= 60]
        need = bool(facets & {FacetName.IDS, FacetName.STRUCTURE})
        found = await self._catalog_of(best[:limit], episodes=need)
        nodes = [
            self._node(i, found.episodes.get(i.key, []), facets) for i in found.items
        ]
        return Page(tuple(nodes))

    # -- records and summaries --------------------------------------------------------

    async def _records(
        self, refs: Sequence[Ref], fields: frozenset[RecordField]
    ) -> list[Record]:
        if refs:
            catalog = await self._catalog_of([r.key for r in refs], episodes=True)
        else:
            catalog = await self._catalog(episodes=True)
        wanted = set(refs)
        out = []
        for item in catalog.items:
            eps = catalog.episodes.get(item.key, [])
            for rec in records_for(item, eps, fields, self.TRAITS.scale):
                if not wanted or rec.ref in wanted:
                    out.append(rec)
        return out

    async def fetch_records(self, query: RecordQuery) -> Page[Record]:
        """Records on exactly the requested refs (all records without refs)."""
        if query.native_record_kinds and "" not in query.native_record_kinds:
            return Page(())
        records = await self._records(query.refs, self._readable(query.fields))
        if query.keys:
            keys = set(query.keys)
            records = [r for r in records if r.key in keys]
        return _paged(records, query.cursor, query.limit, self.NAMESPACE)

    async def fetch_event_summaries(
        self, query: EventSummaryQuery
    ) -> Page[EventSummary]:
        """Play count and last play per watched episode/movie."""
        if query.native_event_kinds and PLAY not in query.native_event_kinds:
            return Page(())
        if query.refs:
            catalog = await self._catalog_of([r.key for r in query.refs], episodes=True)
        else:
            catalog = await self._catalog(episodes=True)
        wanted = set(query.refs)
        out: list[EventSummary] = []
        for item in catalog.items:
            pairs: list[tuple[Ref, UserState]] = []
            if item.kind == "movie":
                pairs.append((Ref.anchor(item.key), item.state))
            for ep in catalog.episodes.get(item.key, []):
                pairs.append((episode_ref(item.key, ep.season, ep.episode), ep.state))
            for ref, state in pairs:
                summary = state_summary(ref, state)
                if summary is not None and (not wanted or ref in wanted):
                    out.append(summary)
        return _paged(out, query.cursor, query.limit, self.NAMESPACE)

    # -- mapping ----------------------------------------------------------------------

    async def resolve(self, ids: Sequence[ExternalId]) -> Sequence[Match]:
        """Ids → anchors, from an index of the selection built once per instance."""
        if self._id_index is None:
            catalog = await self._catalog(episodes=False)
            index: dict[str, list[str]] = {}
            for item in catalog.items:
                for source in item.ids:
                    index.setdefault(source.external.descriptor, []).append(item.key)
            self._id_index = index
        out: list[Match] = []
        for eid in ids:
            base = ExternalId(eid.authority, eid.value).descriptor
            for key in dict.fromkeys(self._id_index.get(base, [])):
                out.append(Match(eid, Ref.anchor(key)))
        return out

    # -- change feed ------------------------------------------------------------------

    async def poll_changes(self, query: ChangeQuery) -> Page[Change]:
        """Changes since the cursor, found with the server's date filters.

        A first poll (no cursor) returns no changes and a cursor at "now" that counts
        what the lookback holds as read. See the module docstring for the rule.
        """
        values = decode_cursor(query.cursor, self.NAMESPACE)
        now = self.settings.now()
        if not values:
            return Page((), await self._head(now))
        version = values.get("v")
        if version is None and isinstance(values.get("since"), int):
            if "offset" in values:  # mid-read of an older version: read it again
                self.log.info(
                    "%s: change cursor of an older version; re-reading its window",
                    self.NAMESPACE,
                )
            values = {"v": _FEED_VERSION, "since": values["since"], "seen": []}
        elif version != _FEED_VERSION:
            self.log.warning(
                "%s: change cursor %r is not one this version reads; "
                "asking for a full read",
                self.NAMESPACE,
                query.cursor,
            )
            return Page((NodeChange(),), await self._head(now))
        since = _cursor_epoch(values, "since", self.NAMESPACE)
        upto = values.get("upto")
        upto = _cursor_epoch(values, "upto", self.NAMESPACE) if upto else now
        seen = values.get("seen")
        if not isinstance(seen, list) or not all(isinstance(t, str) for t in seen):
            raise ValueError(f"{self.NAMESPACE}: cursor field 'seen' is not a list")
        bound = since - FEED_LOOKBACK
        found = self._feed(await self._changes_since(self._sections, from_epoch(bound)))
        delivered = set(seen)
        tokens: dict[Change, set[str]] = {}  # a catalog change may have several
        for token, change in found.items():
            tokens.setdefault(change, set()).add(token)
        fresh = [(c, t) for c, t in tokens.items() if not t <= delivered]
        limit = query.limit or len(fresh) or 1
        chunk = fresh[:limit]
        if len(fresh) > limit:
            kept = delivered.union(*(t for _, t in chunk))
            cursor = _feed_cursor(since, kept, upto=upto)
        else:
            cursor = _feed_cursor(upto, found)  # set back with our clock: no loss
        return Page(tuple(c for c, _ in chunk), cursor)

    async def _head(self, now: int) -> str:
        """A cursor at `now` that counts what the lookback holds as read."""
        head = await self._changes_since(
            self._sections, from_epoch(now - FEED_LOOKBACK)
        )
        return _feed_cursor(now, self._feed(head))

    def _feed(self, changes: Changes) -> dict[str, Change]:
        """The changes keyed by a token of what each reports (one per token).

        A token names the change *and its content* (state, catalog row, play), so the
        same change read again is recognised, while a new change of the same item is
        not mistaken for it. A catalog change has a token per catalog row (one anchor
        may list several), so rows leaving the window never make it look new.
        """
        out: dict[str, Change] = {}
        for key in dict.fromkeys(changes.added):
            node = NodeChange(ref=Ref.anchor(key), key=key)
            for row in changes.revisions.get(key) or ("",):
                out.setdefault(_token("n", key, row), node)  # one token per row
        for item in changes.items:
            ref = Ref.anchor(item.key)
            fields = {RecordField.RATING} if item.kind == "show" else set()
            change = RecordChange(
                ref=ref,
                key=item.key,
                at=item.state.updated_at,
                fields=frozenset(fields),
            )
            out.setdefault(_token("r", item.key, _state_text(item.state)), change)
        for ep in changes.episodes:
            change = RecordChange(
                ref=episode_ref(ep.show_key, ep.season, ep.episode),
                key=ep.key,
                at=ep.state.updated_at,
            )
            out.setdefault(_token("r", ep.key, _state_text(ep.state)), change)
        if self.TRAITS.event_changes:
            for play in changes.plays:
                ref = (
                    episode_ref(play.item_key, play.season, play.episode)
                    if play.season is not None and play.episode is not None
                    else Ref.anchor(play.item_key)
                )
                token = _token("p", play.key or ref.key, f"{ref}@{to_epoch(play.at)}")
                out.setdefault(
                    token, EventChange(ref=ref, key=play.key, kind=PLAY, at=play.at)
                )
        return out

    # -- inbound ----------------------------------------------------------------------

    async def parse_inbound(self, request: InboundRequest) -> InboundResult:
        """Parse a webhook; malformed or foreign payloads are `matched=False`."""
        try:
            return await self._parse_inbound(request)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.log.debug(
                "%s: ignoring unparsable inbound request: %s", self.NAMESPACE, exc
            )
            return InboundResult(matched=False)

    # -- writes -----------------------------------------------------------------------

    async def write_records(
        self, writes: Sequence[RecordWrite]
    ) -> Sequence[WriteResult]:
        """Mark watched/unwatched and rate; every result independent and positional.

        The current state of every touched anchor is read first (one batched read),
        so a write that is already true sends nothing: marking a watched episode
        watched again would add a view on servers that count views.
        """
        if not writes:
            return []
        keys = [w.ref.key for w in writes if w.ref is not None]
        catalog = (
            await self._catalog_of(keys, episodes=True) if keys else _Catalog([], {})
        )
        items = {i.key: i for i in catalog.items}
        episodes = {
            (e.show_key, e.season, e.episode): e
            for eps in catalog.episodes.values()
            for e in eps
        }
        results: list[WriteResult] = []
        uncertain: set[Ref] = set()  # a write failed midway: state unknown
        for write in writes:
            op = _op(write)
            try:
                if write.ref in uncertain:
                    raise WriteRejected(
                        WriteError.CONFLICT,
                        f"an earlier write to {write.ref!r} failed; re-read it first",
                    )
                key, state, ref = self._target(write, items, episodes)
                show_anchor = ref.is_anchor and items[ref.key].kind == "show"
                new_state = await self._apply(write, key, state, ref, show_anchor)
                self._remember(items, episodes, ref, key, new_state)
                results.append(WriteResult(True, op, write.token, key, ref))
            except WriteRejected as exc:
                results.append(
                    WriteResult(False, op, write.token, ref=write.ref, code=exc.code,
                                error=str(exc))
                )  # fmt: skip
            except HttpError as exc:
                if write.ref is not None:
                    uncertain.add(write.ref)
                results.append(
                    WriteResult(False, op, write.token, ref=write.ref, code=exc.code,
                                error=str(exc))
                )  # fmt: skip
        if any(r.ok for r in results) or uncertain:
            self._scans.clear()
        return results

    def _target(
        self,
        write: RecordWrite,
        items: Mapping[str, LibraryItem],
        episodes: Mapping[tuple[str, int, int], LibraryEpisode],
    ) -> tuple[str, UserState, Ref]:
        if write.kind != "":
            raise WriteRejected(
                WriteError.UNSUPPORTED, f"no record kind {write.kind!r}"
            )
        ref = write.ref
        if ref is None:
            raise WriteRejected(
                WriteError.NOT_FOUND, "a record of a media server is addressed by ref"
            )
        item = items.get(ref.key)
        if item is None:
            raise WriteRejected(WriteError.NOT_FOUND, f"no show or movie {ref.key!r}")
        if ref.is_anchor:
            return item.key, item.state, ref
        coords = {step.axis: step.value for step in ref.path}
        season, number = coords.get("season"), coords.get("episode")
        if (
            item.kind != "show"
            or len(ref.path) != 2
            or not isinstance(season, int)
            or not isinstance(number, int)
        ):
            raise WriteRejected(WriteError.INVALID, f"not an episode ref: {ref!r}")
        episode = episodes.get((item.key, season, number))
        if episode is None:
            raise WriteRejected(WriteError.NOT_FOUND, f"no episode at {ref!r}")
        return episode.key, episode.state, ref

    async def _apply(
        self,
        write: RecordWrite,
        key: str,
        state: UserState,
        ref: Ref,
        show_anchor: bool,
    ) -> UserState:
        if isinstance(write, DeleteRecord):
            if state.watched and not show_anchor:
                await self._mark_unwatched(key, state)
                state = replace(state, view_count=0, last_viewed_at=None)
            if state.rating is not None:
                await self._set_rating(key, state, None)
                state = replace(state, rating=None)
            return state
        touched = set(write.set) | set(write.clear)
        caps = self.capabilities().record_fields
        for name in touched:
            spec = caps.get(name)
            if spec is None or not spec.writable:
                raise WriteRejected(
                    WriteError.UNSUPPORTED,
                    f"{self.DISPLAY_NAME} cannot write {name.value}",
                )
        if show_anchor and touched - {RecordField.RATING}:
            raise WriteRejected(
                WriteError.UNSUPPORTED,
                "a show holds only a rating; watched state lives on its episodes",
            )
        status = write.set.get(RecordField.STATUS)
        when = write.set.get(RecordField.LAST_ACTIVITY_AT)
        if when is not None and not isinstance(when, datetime):
            raise WriteRejected(
                WriteError.INVALID, "LAST_ACTIVITY_AT must be a datetime"
            )
        if status is not None:
            if not isinstance(status, State) or not (
                status.status is Status.COMPLETED or status.native == WATCHED
            ):
                raise WriteRejected(
                    WriteError.INVALID,
                    f"{self.DISPLAY_NAME} only knows watched; got {status!r}",
                )
            if not state.watched:
                await self._mark_watched(key, state, when)
                state = replace(
                    state, view_count=1, last_viewed_at=when or state.last_viewed_at
                )
            elif when is not None and when != state.last_viewed_at:
                await self._set_last_played(key, state, when)
                state = replace(state, last_viewed_at=when)
        elif RecordField.STATUS in write.clear:
            if state.watched:
                await self._mark_unwatched(key, state)
                state = replace(state, view_count=0, last_viewed_at=None)
        elif when is not None:
            if not state.watched:
                raise WriteRejected(
                    WriteError.INVALID, "a view date needs the item to be watched"
                )
            if when != state.last_viewed_at:
                await self._set_last_played(key, state, when)
                state = replace(state, last_viewed_at=when)
        rating = write.set.get(RecordField.RATING)
        if rating is not None:
            value = _native_rating(rating, self.TRAITS.scale)
            if value != state.rating:
                await self._set_rating(key, state, value)
                state = replace(state, rating=value)
        elif RecordField.RATING in write.clear and state.rating is not None:
            await self._set_rating(key, state, None)
            state = replace(state, rating=None)
        return state

    def _remember(
        self,
        items: dict[str, LibraryItem],
        episodes: dict[tuple[str, int, int], LibraryEpisode],
        ref: Ref,
        key: str,
        state: UserState,
    ) -> None:
        if ref.is_anchor:
            items[ref.key] = replace(items[ref.key], state=state)
            return
        coords = tuple(int(step.value) for step in ref.path)
        ident = (ref.key, coords[0], coords[1])
        episodes[ident] = replace(episodes[ident], state=state)


def _op(write: RecordWrite) -> WriteOp:
    if isinstance(write, UpsertRecord):
        return WriteOp.UPSERT_RECORD
    return WriteOp.DELETE_RECORD


def _native_rating(value: object, scale: tuple[float, float, float]) -> float:
    if isinstance(value, Rating):
        low, high, _ = value.scale
        if (low, high) != (scale[0], scale[1]):
            raise WriteRejected(
                WriteError.INVALID,
                f"rating scale {value.scale} is not the server's {scale}",
            )
        number = value.value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        raise WriteRejected(WriteError.INVALID, f"not a rating: {value!r}")
    low, high, step = scale
    if not low <= number <= high:
        raise WriteRejected(
            WriteError.INVALID, f"rating {number} is outside {low}-{high}"
        )
    snapped = low + round((number - low) / step) * step
    return round(snapped, 6)


def _paged[T](
    items: Sequence[T], cursor: str | None, limit: int | None, name: str
) -> Page[T]:
    offset = cursor_int(decode_cursor(cursor, name), "offset", name)
    size = limit or max(len(items) - offset, 1)
    chunk = tuple(items[offset : offset + size])
    end = offset + len(chunk)
    nxt = encode_cursor({"offset": end}) if end < len(items) else None
    return Page(chunk, nxt, len(items))


def _token(kind: str, key: str, content: object) -> str:
    """A short stable digest of one change and its content (cursors stay small)."""
    raw = f"{kind}:{key}:{content}".encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def _state_text(state: UserState) -> str:
    seen = to_epoch(state.last_viewed_at) if state.last_viewed_at else None
    rated = to_epoch(state.rated_at) if state.rated_at else None
    return f"{state.view_count}/{seen}/{state.rating}/{rated}"


def _cursor_epoch(values: Mapping[str, object], key: str, name: str) -> int:
    value = values.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name}: cursor field {key!r} is not a time: {value!r}")
    return value


def _feed_cursor(
    since: int,
    seen: Iterable[str],
    *,
    upto: int | None = None,
) -> str:
    """A change-feed cursor (version 2); see the module docstring."""
    values: dict[str, object] = {
        "v": _FEED_VERSION,
        "since": since,
        "seen": sorted(seen),
    }
    if upto is not None:
        values["upto"] = upto
    return encode_cursor(values)
