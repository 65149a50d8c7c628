"""`KitsuProvider`: a Kitsu anime library over its JSON:API (source and target).

Request budget: one identity call (`users?filter[self]=true`) per session; the
library in ceil(n/500) `library-entries` pages (Kitsu's largest page for that route)
with each entry's anime and its external-id mappings side-loaded (``include=``);
other routes page by at most 20, as Kitsu's documentation allows. Lookups of many
anime or external ids go in comma-separated filters, 20 per request. One `POST`,
`PATCH` or `DELETE /library-entries` per write: Kitsu has no batch endpoint. Ids
Kitsu's mappings know (MAL, AniList, AniDB, TheTVDB seasons) make its entries part
of the mappings graph; `resolve` finds Kitsu anime for them through `/mappings`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from anibridge.dates import from_epoch, parse_iso
from anibridge.http import ANY, HttpClient, HttpError, RateLimit
from anibridge.provider.base import (
    Account,
    BackupArtifact,
    Capabilities,
    Change,
    ChangeQuery,
    DeleteRecord,
    ExternalId,
    FacetName,
    Match,
    Node,
    NodeQuery,
    Page,
    Provider,
    Record,
    RecordChange,
    RecordQuery,
    RecordWrite,
    Ref,
    ScanItem,
    ScanQuery,
    SupportsBackupExports,
    SupportsBackupImports,
    SupportsChangeFeed,
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
from anibridge.providers._lists import FeedPosition
from anibridge.providers._lists.writes import Rejected
from anibridge.providers.kitsu import backup as backup_format
from anibridge.providers.kitsu.auth import (
    KitsuAuthError,
    KitsuTokens,
    TokenKeeper,
    password_grant,
)
from anibridge.providers.kitsu.convert import (
    anime_node,
    entry_attributes,
    kitsu_time,
    record_from_entry,
)
from anibridge.providers.kitsu.jsonapi import (
    MEDIA_TYPE,
    Document,
    attrs,
    related,
    related_many,
)
from anibridge.providers.kitsu.settings import (
    CONFIG_KEYS,
    KitsuSettings,
    parse_settings,
)
from anibridge.providers.kitsu.vocabulary import capabilities, site_lookup

__all__ = ["KitsuProvider"]

PAGE_MAX = 20  # Kitsu's page limit for routes that do not raise it
INCLUDE = "anime,anime.mappings"
FIELDS = {
    "fields[anime]": "canonicalTitle,titles,subtype,episodeCount,slug,mappings",
    "fields[mappings]": "externalSite,externalId",
}
_WRITABLE = (
    "status",
    "progress",
    "reconsuming",
    "reconsumeCount",
    "notes",
    "private",
    "ratingTwenty",
    "startedAt",
    "finishedAt",
)


def _fail(write: Any, op: WriteOp, code: WriteError, error: str) -> WriteResult:
    return WriteResult(
        ok=False,
        op=op,
        token=write.token,
        ref=getattr(write, "ref", None),
        code=code,
        error=error,
    )


def _chunks[T](items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise ValueError(f"kitsu: not a cursor of this provider: {cursor!r}")
    return int(cursor)


class KitsuProvider(
    Provider,
    SupportsScan,
    SupportsNodeReads,
    SupportsNodeSearch,
    SupportsMapping,
    SupportsRecordReads,
    SupportsRecordWrites,
    SupportsChangeFeed,
    SupportsBackupExports,
    SupportsBackupImports,
):
    """Kitsu anime library (source and target).

    Config keys: see `CONFIG_KEYS` (tokens from `anibridge login kitsu` through the
    token store, or `access_token`/`refresh_token`, or `username`/`password`).
    """

    DISPLAY_NAME: ClassVar[str] = "Kitsu"
    NAMESPACE: ClassVar[str] = "kitsu"
    CONFIG_KEYS: ClassVar[Mapping[str, ConfigKey]] = CONFIG_KEYS
    SIGN_IN: ClassVar[str] = "`anibridge login kitsu` (username and password, once)"

    def __init__(
        self,
        *,
        logger: logging.Logger | None = None,
        config: Mapping[str, object] | None = None,
    ) -> None:
        """Validate the config; nothing is sent until `initialize`."""
        super().__init__(
            logger=logger or logging.getLogger("anibridge.providers.kitsu"),
            config=config,
        )
        self.settings: KitsuSettings = parse_settings(self.config)
        s = self.settings
        secrets = [
            x or ""
            for x in (s.access_token, s.refresh_token, s.password, s.client_secret)
        ]
        self.http = HttpClient(
            name="kitsu",
            base_url=s.base_url,
            headers={"Accept": MEDIA_TYPE},
            limits=[RateLimit(s.rate_limit, 60.0, ANY)],
            clock=s.clock,
            timeout=s.timeout,
            auth_headers=self._auth_headers,
            refresh=self._on_unauthorized,
            secrets=secrets,
            logger=self.log,
        )
        self._oauth = HttpClient(
            name="kitsu-oauth",
            base_url=s.token_url,
            headers={"Accept": "application/json"},
            clock=s.clock,
            timeout=s.timeout,
            secrets=secrets,
            logger=self.log,
        )
        self.keeper: TokenKeeper | None = None
        self._account: Account | None = None
        self._user_id: str | None = None
        self._anime: dict[str, dict[str, Any]] = {}
        self._mappings: dict[str, list[tuple[str, str]]] = {}
        self._entry_ids: dict[str, str] = {}  # anime id -> library entry id

    # -- lifecycle --------------------------------------------------------------------

    async def _auth_headers(self) -> Mapping[str, str]:
        return await self.keeper.headers() if self.keeper is not None else {}

    async def _on_unauthorized(self) -> bool:
        return self.keeper is not None and await self.keeper.on_unauthorized()

    async def _tokens(self) -> KitsuTokens:
        s = self.settings
        if s.token_store is not None:
            saved = await s.token_store.load(s.token_key)
            found = KitsuTokens.from_mapping(saved) if isinstance(saved, dict) else None
            if found is not None:
                return found
        found = KitsuTokens.from_mapping(
            {
                "access_token": s.access_token,
                "refresh_token": s.refresh_token,
                "expires_at": s.expires_at,
            }
        )
        if found is not None:
            return found
        if s.username and s.password:
            tokens = await password_grant(
                self._oauth,
                s.token_url,
                username=s.username,
                password=s.password,
                client_id=s.client_id,
                client_secret=s.client_secret,
            )
            if s.token_store is not None:
                await s.token_store.save(s.token_key, tokens.to_dict())
            return tokens
        raise KitsuAuthError(
            "kitsu: not signed in; run `anibridge login kitsu` (or set access_token)",
            reason="no_tokens",
        )

    async def initialize(self) -> None:
        """Load or obtain tokens and identify the user (`users?filter[self]=true`).

        Raises:
            KitsuAuthError: no credentials are configured or stored.
            HttpError: Kitsu refused the credentials or could not be reached.
        """
        if self._account is not None:
            return
        s = self.settings
        self.keeper = TokenKeeper(
            tokens=await self._tokens(),
            token_url=s.token_url,
            http=self._oauth,
            client_id=s.client_id,
            client_secret=s.client_secret,
            store=s.token_store,
            store_key=s.token_key,
            redact_in=(self.http,),
            logger=self.log,
        )
        doc = await self._get("/users", {"filter[self]": "true"})
        if not doc.data:
            raise KitsuAuthError("kitsu: the token does not belong to a user")
        user = doc.data[0]
        self._user_id = str(user["id"])
        a = attrs(user)
        name = str(a.get("name") or self._user_id)
        self._account = Account(
            key=self._user_id,
            title=name,
            url=f"https://kitsu.app/users/{a.get('slug') or self._user_id}",
        )

    async def close(self) -> None:
        """Close pooled connections."""
        await self.http.aclose()
        await self._oauth.aclose()

    async def clear_cache(self) -> None:
        """Forget anime, mappings and entry ids learned so far."""
        self._anime.clear()
        self._mappings.clear()
        self._entry_ids.clear()

    def account(self) -> Account | None:
        """The signed-in Kitsu user, or None before `initialize`."""
        return self._account

    def capabilities(self) -> Capabilities:
        """See `anibridge.providers.kitsu.vocabulary`."""
        return capabilities()

    # -- transport --------------------------------------------------------------------

    async def _get(self, path: str, params: Mapping[str, Any]) -> Document:
        response = await self.http.get(path, params=dict(params))
        try:
            return Document.parse(response.json())
        except ValueError as exc:
            raise HttpError(
                f"kitsu: {path} answered something that is not JSON:API ({exc})",
                code=WriteError.TRANSIENT,
            ) from None

    def _absorb(self, doc: Document) -> None:
        """Remember the anime and mappings a document side-loaded."""
        for (kind, anime_id), resource in doc.included.items():
            if kind == "anime":
                self._anime[anime_id] = resource
                self._mappings[anime_id] = self._mapping_pairs(doc, resource)

    @staticmethod
    def _mapping_pairs(
        doc: Document, anime: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        out = []
        for key in related_many(anime, "mappings"):
            mapping = doc.find(key)
            if mapping is None:
                continue
            a = attrs(mapping)
            site, value = a.get("externalSite"), a.get("externalId")
            if isinstance(site, str) and value not in (None, ""):
                out.append((site, str(value)))
        return out

    @staticmethod
    def _anime_of(entry: Mapping[str, Any]) -> str | None:
        key = related(entry, "anime") or related(entry, "media")
        return key[1] if key is not None and key[0] == "anime" else None

    def _library_params(self, offset: int, limit: int) -> dict[str, Any]:
        return {
            "filter[userId]": self._user_id,
            "filter[kind]": "anime",
            "include": INCLUDE,
            "page[limit]": limit,
            "page[offset]": offset,
            "sort": "id",
            **FIELDS,
        }

    async def _library_page(
        self, offset: int, limit: int, **filters: Any
    ) -> tuple[list[tuple[str, dict[str, Any]]], bool, int | None]:
        """One page of the library: (anime id, entry) pairs, more?, total."""
        params = self._library_params(offset, limit) | filters
        doc = await self._get("/library-entries", params)
        self._absorb(doc)
        rows = []
        for entry in doc.data:
            anime_id = self._anime_of(entry)
            if anime_id is None:
                continue
            self._entry_ids[anime_id] = str(entry["id"])
            rows.append((anime_id, entry))
        return rows, doc.next is not None, doc.count

    async def _all_entries(self, **filters: Any) -> list[tuple[str, dict[str, Any]]]:
        rows: list[tuple[str, dict[str, Any]]] = []
        offset, more = 0, True
        while more:
            page, more, _ = await self._library_page(
                offset, self.settings.page_size, **filters
            )
            rows.extend(page)
            offset += self.settings.page_size
        return rows

    async def _entries_for(self, anime_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The user's entries for these anime (500 ids per request)."""
        found: dict[str, dict[str, Any]] = {}
        ids = [i for i in dict.fromkeys(anime_ids) if i.isdigit()]
        for chunk in _chunks(ids, self.settings.page_size):
            rows = await self._all_entries(**{"filter[animeId]": ",".join(chunk)})
            found.update(rows)
        return found

    def _record(self, anime_id: str, entry: Mapping[str, Any], fields: Any) -> Record:
        return record_from_entry(
            entry,
            anime_id,
            self._anime.get(anime_id),
            self._mappings.get(anime_id, ()),
            fields,
        )

    def _node(self, anime_id: str, facets: Any) -> Node:
        return anime_node(
            anime_id,
            self._anime.get(anime_id),
            self._mappings.get(anime_id, ()),
            facets,
        )

    # -- reads ------------------------------------------------------------------------

    async def scan(self, query: ScanQuery) -> Page[ScanItem]:
        """The user's library, up to 500 entries per request, anime side-loaded."""
        if query.sources:
            wanted = [r.key for r in query.sources if r.key.isdigit()]
            found = await self._entries_for(wanted)
            rows = [(k, found[k]) for k in wanted if k in found]
            more, offset = False, 0
        else:
            offset = _offset(query.cursor)
            limit = min(
                max(query.limit or self.settings.page_size, 1), self.settings.page_size
            )
            rows, more, _ = await self._library_page(offset, limit)
            offset += limit
        items = []
        with_records = query.with_records and (
            not query.native_record_kinds or "" in query.native_record_kinds
        )
        for anime_id, entry in rows:
            node = self._node(anime_id, query.facets)
            if query.native_node_kinds and node.kind not in query.native_node_kinds:
                continue
            if not query.flags <= node.flags:
                continue
            records: tuple[Record, ...] = ()
            if with_records:
                records = (self._record(anime_id, entry, query.fields),)
                if query.require_activity and not records[0].values:
                    continue
            items.append(ScanItem(node, records))
        return Page(tuple(items), str(offset) if more else None)

    async def fetch_records(self, query: RecordQuery) -> Page[Record]:
        """Entries by anime ref and/or entry key (or the whole library)."""
        if query.native_record_kinds and "" not in query.native_record_kinds:
            return Page(())
        if not query.refs and not query.keys:
            page = await self.scan(
                ScanQuery(fields=query.fields, cursor=query.cursor, limit=query.limit)
            )
            return Page(tuple(r for i in page.items for r in i.records), page.cursor)
        anime_ids = [r.key for r in query.refs if r.is_anchor]
        records: dict[str, Record] = {}
        found = await self._entries_for(anime_ids)
        for anime_id, entry in found.items():
            records[anime_id] = self._record(anime_id, entry, query.fields)
        keys = [k for k in query.keys if k.isdigit()]
        for chunk in _chunks(keys, self.settings.page_size):
            for anime_id, entry in await self._all_entries(
                **{"filter[id]": ",".join(chunk)}
            ):
                records[anime_id] = self._record(anime_id, entry, query.fields)
        ordered = sorted(records.values(), key=lambda r: int(r.ref.key))
        start = _offset(query.cursor)
        if query.limit:
            end = start + query.limit
            return Page(
                tuple(ordered[start:end]), str(end) if end < len(ordered) else None
            )
        return Page(tuple(ordered[start:]))

    async def _load_anime(self, anime_ids: Sequence[str]) -> None:
        todo = [
            i for i in dict.fromkeys(anime_ids) if i.isdigit() and i not in self._anime
        ]
        for chunk in _chunks(todo, PAGE_MAX):
            doc = await self._get(
                "/anime",
                {
                    "filter[id]": ",".join(chunk),
                    "include": "mappings",
                    "page[limit]": PAGE_MAX,
                    "fields[anime]": FIELDS["fields[anime]"],
                    "fields[mappings]": FIELDS["fields[mappings]"],
                },
            )
            for anime in doc.data:
                anime_id = str(anime["id"])
                self._anime[anime_id] = anime
                self._mappings[anime_id] = self._mapping_pairs(doc, anime)

    async def fetch_nodes(self, query: NodeQuery) -> Page[Node]:
        """Anime by ref (20 per request), or the library's anime without refs."""
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
            return Page(tuple(i.node for i in page.items), page.cursor)
        refs = [
            r.key for r in dict.fromkeys(query.refs) if r.is_anchor and r.key.isdigit()
        ]
        start = _offset(query.cursor)
        end = start + query.limit if query.limit else len(refs)
        chunk = refs[start:end]
        await self._load_anime(chunk)
        nodes = []
        for anime_id in chunk:
            if anime_id not in self._anime:
                continue
            node = self._node(anime_id, query.facets)
            if query.native_node_kinds and node.kind not in query.native_node_kinds:
                continue
            if query.flags <= node.flags:
                nodes.append(node)
        return Page(tuple(nodes), str(end) if end < len(refs) else None)

    async def search_nodes(
        self,
        query: str,
        *,
        limit: int = 10,
        facets: frozenset[FacetName] = frozenset(),
    ) -> Page[Node]:
        """Kitsu's title search (`anime?filter[text]=`, at most 20 results)."""
        if not query.strip():
            return Page(())
        doc = await self._get(
            "/anime",
            {
                "filter[text]": query,
                "page[limit]": min(max(limit, 1), PAGE_MAX),
                "include": "mappings",
            },
        )
        nodes = []
        for anime in doc.data:
            anime_id = str(anime["id"])
            self._anime[anime_id] = anime
            self._mappings[anime_id] = self._mapping_pairs(doc, anime)
            nodes.append(self._node(anime_id, facets))
        return Page(tuple(nodes[: max(limit, 0)]))

    async def resolve(self, ids: Sequence[ExternalId]) -> Sequence[Match]:
        """``kitsu:`` ids directly; MAL/AniList/AniDB/TVDB-season ids via `/mappings`.

        Ids of one site are looked up together, 20 per request; what this session
        already saw in side-loaded mappings needs no request.
        """
        matches: list[Match] = []
        wanted: dict[tuple[str, str], list[ExternalId]] = {}
        for external_id in dict.fromkeys(ids):
            if external_id.authority == "kitsu":
                if external_id.value.isdigit() and external_id.scope is None:
                    matches.append(
                        Match(external_id, Ref.anchor(external_id.value), 1.0)
                    )
                continue
            lookup = site_lookup(external_id)
            if lookup is not None:
                wanted.setdefault(lookup, []).append(external_id)
        known: dict[tuple[str, str], set[str]] = {}
        for anime_id, pairs in self._mappings.items():
            for pair in pairs:
                known.setdefault(pair, set()).add(anime_id)
        todo: dict[str, list[str]] = {}
        for site, value in wanted:
            if (site, value) not in known:
                todo.setdefault(site, []).append(value)
        for site, values in todo.items():
            for chunk in _chunks(values, PAGE_MAX):
                doc = await self._get(
                    "/mappings",
                    {
                        "filter[externalSite]": site,
                        "filter[externalId]": ",".join(chunk),
                        "include": "item",
                        "page[limit]": PAGE_MAX,
                    },
                )
                for mapping in doc.data:
                    target = related(mapping, "item") or related(mapping, "media")
                    value = str(attrs(mapping).get("externalId"))
                    if target is not None and target[0] == "anime":
                        known.setdefault((site, value), set()).add(target[1])
                        item = doc.find(target)
                        if item is not None and target[1] not in self._anime:
                            self._anime[target[1]] = item
        for lookup, external_ids in wanted.items():
            anime_ids = sorted(known.get(lookup, ()), key=int)
            confidence = 1.0 if len(anime_ids) == 1 else 0.5
            for external_id in external_ids:
                matches.extend(
                    Match(external_id, Ref.anchor(a), confidence) for a in anime_ids
                )
        return matches

    # -- writes -----------------------------------------------------------------------

    async def write_records(
        self, writes: Sequence[RecordWrite]
    ) -> Sequence[WriteResult]:
        """One `POST`/`PATCH`/`DELETE /library-entries` per write, in input order."""
        missing = [
            w.ref.key
            for w in writes
            if w.ref is not None
            and w.ref.is_anchor
            and w.ref.key not in self._entry_ids
        ]
        if missing:
            try:
                await self._entries_for(missing)
            except HttpError as exc:
                return [_fail(w, _op(w), exc.code, str(exc)) for w in writes]
        results = []
        for write in writes:
            if isinstance(write, UpsertRecord):
                results.append(await self._upsert(write))
            elif isinstance(write, DeleteRecord):
                results.append(await self._delete(write))
            else:
                results.append(
                    WriteResult(
                        ok=False,
                        op=WriteOp.UPSERT_RECORD,
                        code=WriteError.UNSUPPORTED,
                        error=f"not a record write: {type(write).__name__}",
                    )
                )
        return results

    async def _send(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        retry = method != "POST"  # a create is not repeated blind (see _upsert)
        response = await self.http.request(
            method,
            path,
            content=json.dumps(body).encode(),
            headers={"Content-Type": MEDIA_TYPE},
            retry=retry,
            expect=(404, 422),
        )
        data = response.json() if response.content else None
        return response.status_code, data

    async def _upsert(self, write: UpsertRecord) -> WriteResult:
        op = WriteOp.UPSERT_RECORD
        values = entry_attributes(write)
        if isinstance(values, Rejected):
            return _fail(write, op, values.code, values.error)
        anime_id = write.ref.key
        try:
            entry_id = self._entry_ids.get(anime_id)
            if entry_id is None:
                status, data = await self._send(
                    "POST",
                    "/library-entries",
                    {
                        "data": {
                            "type": "libraryEntries",
                            "attributes": {"status": "planned", **values},
                            "relationships": {
                                "user": {
                                    "data": {"type": "users", "id": self._user_id}
                                },
                                "anime": {"data": {"type": "anime", "id": anime_id}},
                            },
                        }
                    },
                )
                if status == 422 and _taken(data):
                    # Created by an earlier attempt whose answer was lost: update it.
                    await self._entries_for([anime_id])
                    entry_id = self._entry_ids.get(anime_id)
                    if entry_id is None:
                        return _fail(write, op, WriteError.CONFLICT, _errors(data))
                    status, data = await self._patch(entry_id, values)
            else:
                status, data = await self._patch(entry_id, values)
        except HttpError as exc:
            return _fail(write, op, exc.code, str(exc))
        if status == 404:
            self._entry_ids.pop(anime_id, None)
            return _fail(write, op, WriteError.NOT_FOUND, f"kitsu: {_errors(data)}")
        if status == 422:
            return _fail(write, op, WriteError.INVALID, f"kitsu: {_errors(data)}")
        entry = data.get("data") if isinstance(data, Mapping) else None
        if isinstance(entry, Mapping) and entry.get("id") is not None:
            self._entry_ids[anime_id] = str(entry["id"])
        return WriteResult(
            ok=True,
            op=op,
            token=write.token,
            key=self._entry_ids.get(anime_id),
            ref=write.ref,
        )

    async def _patch(self, entry_id: str, values: Mapping[str, Any]) -> tuple[int, Any]:
        return await self._send(
            "PATCH",
            f"/library-entries/{entry_id}",
            {
                "data": {
                    "id": entry_id,
                    "type": "libraryEntries",
                    "attributes": dict(values),
                }
            },
        )

    async def _delete(self, write: DeleteRecord) -> WriteResult:
        op = WriteOp.DELETE_RECORD
        if write.kind != "":
            return _fail(
                write, op, WriteError.UNSUPPORTED, f"kitsu: no kind {write.kind!r}"
            )
        entry_id = write.key
        if entry_id is None and write.ref is not None and write.ref.is_anchor:
            entry_id = self._entry_ids.get(write.ref.key)
            if entry_id is None:
                return _fail(
                    write, op, WriteError.NOT_FOUND, "kitsu: not in the library"
                )
        if entry_id is None or not entry_id.isdigit():
            return _fail(
                write,
                op,
                WriteError.INVALID,
                "kitsu: a delete needs an entry key or anchor",
            )
        try:
            response = await self.http.request(
                "DELETE", f"/library-entries/{entry_id}", expect=(404,)
            )
        except HttpError as exc:
            return _fail(write, op, exc.code, str(exc))
        if response.status_code == 404:
            return _fail(
                write, op, WriteError.NOT_FOUND, "kitsu: no such library entry"
            )
        for anime_id, known in list(self._entry_ids.items()):
            if known == entry_id:
                del self._entry_ids[anime_id]
        return WriteResult(
            ok=True, op=op, token=write.token, key=entry_id, ref=write.ref
        )

    # -- change feed ------------------------------------------------------------------

    async def poll_changes(self, query: ChangeQuery) -> Page[Change]:
        """Entries updated since the cursor (`filter[since]`, newest first).

        The first poll (no cursor) records where the library stands and reports
        nothing. Deleted entries are not visible in this feed.
        """
        first = query.cursor is None
        position = (
            FeedPosition()
            if first
            else FeedPosition.decode(query.cursor or "", provider="kitsu")
        )
        filters: dict[str, Any] = {"sort": "-updatedAt"}
        if not first and position.stamp >= 0:
            filters["filter[since]"] = kitsu_time(from_epoch(position.stamp / 1000))
        unreported: list[tuple[int, str]] = []
        offset, more = 0, True
        size = 1 if first else PAGE_MAX
        while more:
            rows, more, _ = await self._library_page(offset, size, **filters)
            more = more and not first
            offset += size
            for anime_id, entry in rows:
                text = attrs(entry).get("updatedAt")
                stamp = (
                    int(parse_iso(text).timestamp() * 1000)
                    if isinstance(text, str)
                    else 0
                )
                if position.is_past(stamp):
                    more = False
                    break
                if position.is_new(stamp, anime_id):
                    unreported.append((stamp, anime_id))
        if first:
            return Page((), position.after(sorted(unreported)[-1:]).encode())
        reported = FeedPosition.oldest_first(unreported, query.limit)
        changes = tuple(
            RecordChange(
                ref=Ref.anchor(anime_id),
                key=self._entry_ids.get(anime_id),
                at=from_epoch(stamp / 1000) if stamp else None,
            )
            for stamp, anime_id in reported
        )
        return Page(changes, position.after(reported).encode())

    # -- backups ----------------------------------------------------------------------

    async def export_backup(self) -> BackupArtifact | None:
        """The whole library as Kitsu's own JSON:API (entries + side-loaded anime)."""
        entries = await self._all_entries()
        content = backup_format.dump(
            [entry for _, entry in entries],
            [self._anime[a] for a, _ in entries if a in self._anime],
            user=self._user_id,
        )
        return BackupArtifact(content, ".json", "application/json")

    def check_backup(self, payload: bytes) -> None:
        """Parse the whole payload as `import_backup` would; nothing is sent.

        Raises:
            ValueError: the payload is not a Kitsu backup of this format.
        """
        backup_format.load(payload)

    async def import_backup(self, payload: bytes) -> None:
        """Restore every entry of a backup (others are kept; nothing is deleted).

        Raises:
            ValueError: the payload is not a Kitsu backup of this format.
            HttpError: some entries could not be restored (the message lists them).
        """
        restored = backup_format.load(payload)
        await self._entries_for([anime_id for anime_id, _ in restored])
        failures = []
        for anime_id, attributes in restored:
            values = {k: attributes[k] for k in _WRITABLE if k in attributes}
            try:
                entry_id = self._entry_ids.get(anime_id)
                if entry_id is None:
                    status, data = await self._send(
                        "POST",
                        "/library-entries",
                        {
                            "data": {
                                "type": "libraryEntries",
                                "attributes": values,
                                "relationships": {
                                    "user": {
                                        "data": {"type": "users", "id": self._user_id}
                                    },
                                    "anime": {
                                        "data": {"type": "anime", "id": anime_id}
                                    },
                                },
                            }
                        },
                    )
                else:
                    status, data = await self._patch(entry_id, values)
            except HttpError as exc:
                failures.append(f"anime {anime_id} ({exc.code})")
                continue
            if status >= 400:
                failures.append(f"anime {anime_id} ({_errors(data)})")
            elif isinstance(data, Mapping) and isinstance(data.get("data"), Mapping):
                self._entry_ids[anime_id] = str(data["data"].get("id"))
        if failures:
            raise HttpError(
                f"kitsu backup: {len(failures)} entries not restored: "
                + ", ".join(failures[:20]),
                code=WriteError.INTERNAL,
            )


def _op(write: RecordWrite) -> WriteOp:
    return (
        WriteOp.DELETE_RECORD
        if isinstance(write, DeleteRecord)
        else WriteOp.UPSERT_RECORD
    )


def _errors(data: Any) -> str:
    """The JSON:API ``errors`` as one line."""
    errors = data.get("errors") if isinstance(data, Mapping) else None
    if not isinstance(errors, list) or not errors:
        return "rejected"
    parts = []
    for error in errors:
        if isinstance(error, Mapping):
            parts.append(str(error.get("detail") or error.get("title") or "error"))
    return "; ".join(parts) or "rejected"


def _taken(data: Any) -> bool:
    return "taken" in _errors(data) or "already" in _errors(data)
