"""The AniList provider: the user's anime list over AniList's GraphQL API.

Request budget, by design: one identity call (`Viewer`) per session; the whole list
in ceil(n/500) `MediaListCollection` chunks (custom lists included, so entries
hidden from status lists are not lost; entries are deduplicated by entry id); ids
resolved 50 per request in both directions; writes sent as aliased
`SaveMediaListEntry` mutations, `batch_size` per request, with one result per write.
Every request goes through `anibridge.http` under AniList's per-minute limit
(30/min while the service is degraded; `rate_limit` overrides).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from anibridge.dates import from_epoch
from anibridge.http import (
    ANY,
    READ,
    WRITE,
    HttpClient,
    HttpError,
    RateLimit,
    clock_from_config,
    write_error_for_status,
)
from anibridge.provider.base import (
    Account,
    BackupArtifact,
    Capabilities,
    Change,
    ChangeKind,
    ChangeQuery,
    DeleteRecord,
    Descriptor,
    ExternalId,
    FacetName,
    FieldSpec,
    Match,
    Node,
    NodeQuery,
    NumericConstraint,
    Page,
    ProgressConstraint,
    Provider,
    Record,
    RecordChange,
    RecordField,
    RecordKind,
    RecordQuery,
    RecordWrite,
    Ref,
    Role,
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
from anibridge.provider.config_keys import ConfigKey, unknown_keys
from anibridge.provider.precision import PartialDates
from anibridge.providers._lists import FeedPosition, number_option, page_refs
from anibridge.providers.anilist import documents as docs
from anibridge.providers.anilist.backup import backup_document, restore_arguments
from anibridge.providers.anilist.convert import (
    Rejected,
    media_node,
    record_from_entry,
    save_arguments,
)
from anibridge.providers.anilist.settings import CONFIG_KEYS, DEFAULT_BASE_URL
from anibridge.providers.anilist.vocabulary import (
    SCORE_SCALES,
    node_kind_descriptors,
    status_descriptors,
)

__all__ = ["DEFAULT_BATCH_SIZE", "AniListError", "AniListProvider"]

#: Writes per aliased mutation. Measured with `bench/anilist_batch.py` against the
#: fake at 30 requests/minute (see that script); 25 keeps a 300-write sync to 12
#: requests while one failed request costs at most 25 retried entries.
DEFAULT_BATCH_SIZE = 25
MAX_BATCH_SIZE = 50
CHUNK_SIZE = 500
PAGE_SIZE = 50


class AniListError(HttpError):
    """AniList answered with GraphQL errors for a read."""

    def __init__(self, message: str, **details: Any) -> None:
        """An `HttpError` whose service is AniList (for the advice shown)."""
        details.setdefault("service", "anilist")
        super().__init__(message, **details)


def _error_code(error: Mapping[str, Any]) -> WriteError:
    message = str(error.get("message") or "")
    if message.lower() in ("invalid token", "unauthorized."):
        return WriteError.AUTH
    status = error.get("status")
    if isinstance(status, int):
        return write_error_for_status(status)
    return WriteError.INVALID if message == "validation" else WriteError.INTERNAL


def _describe(error: Mapping[str, Any]) -> str:
    detail = error.get("validation")
    message = str(error.get("message") or "error")
    return f"{message}: {json.dumps(detail)}" if detail else message


def _chunks[T](items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class AniListProvider(
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
    """AniList anime list (source and target).

    Config keys: ``token`` (personal access token; or from ``token_store`` under
    ``token_key``, default ``"anilist"``), ``base_url``, ``rate_limit`` (requests
    per minute, default 30), ``batch_size`` (writes per mutation, 1-50, default
    25), ``timeout``, ``clock`` / ``time_scale`` (tests only).
    """

    DISPLAY_NAME: ClassVar[str] = "AniList"
    NAMESPACE: ClassVar[str] = "anilist"
    CONFIG_KEYS: ClassVar[Mapping[str, ConfigKey]] = CONFIG_KEYS
    SIGN_IN: ClassVar[str] = (
        "`anibridge login anilist` (authorize in the browser, paste the token)"
    )

    def __init__(
        self,
        *,
        logger: logging.Logger | None = None,
        config: Mapping[str, object] | None = None,
    ) -> None:
        """Read the config; nothing is sent until `initialize`.

        Raises:
            ValueError: a config value is out of range.
        """
        super().__init__(
            logger=logger or logging.getLogger("anibridge.providers.anilist"),
            config=config,
        )
        cfg = self.config
        unknown = unknown_keys("anilist", cfg, CONFIG_KEYS)
        if unknown:
            raise ValueError(unknown)
        self.batch_size = int(
            number_option(
                cfg,
                "batch_size",
                DEFAULT_BATCH_SIZE,
                provider="anilist",
                low=1,
                high=MAX_BATCH_SIZE,
            )
        )
        per_minute = int(
            number_option(cfg, "rate_limit", 30, provider="anilist", low=1)
        )
        self._token = str(cfg.get("token") or "") or None
        self.http = HttpClient(
            name="anilist",
            base_url=str(cfg.get("base_url") or DEFAULT_BASE_URL),
            headers={"Accept": "application/json", "Content-Type": "application/json"},
            limits=[RateLimit(per_minute, 60.0, ANY)],
            clock=clock_from_config(cfg),
            timeout=number_option(
                cfg, "timeout", 30.0, provider="anilist", low=0.001, integer=False
            ),
            auth_headers=self._auth_headers,
            secrets=[self._token] if self._token else [],
            logger=self.log,
        )
        self._account: Account | None = None
        self.user_id: int | None = None
        self.score_format = "POINT_100"
        self.custom_lists: tuple[str, ...] = ()

    # -- lifecycle ------------------------------------------------------------------

    async def _auth_headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    async def initialize(self) -> None:
        """Authenticate with one `Viewer` call (the user, their score format).

        Raises:
            ValueError: no token is configured or stored.
            HttpError: AniList refused the token or could not be reached.
        """
        store = self.config.get("token_store")
        if store is not None and not self._token:
            saved = await store.load(str(self.config.get("token_key") or "anilist"))  # type: ignore[attr-defined]
            if saved and saved.get("token"):
                self._token = str(saved["token"])
                self.http.add_secret(self._token)
        if not self._token:
            raise ValueError(
                "anilist: config 'token' (a personal access token) is required; "
                "run `anibridge login anilist` or set token: {env: ANILIST_TOKEN}"
            )
        try:
            data = await self._query(docs.VIEWER, {})
        except HttpError as exc:
            if exc.code is not WriteError.AUTH:
                raise
            raise AniListError(
                f"{exc}: AniList refused the token; create a new personal access "
                "token (anilist.co/settings/developer) and update the config",
                code=WriteError.AUTH,
                status=exc.status,
            ) from exc
        viewer = data["Viewer"]
        self.user_id = int(viewer["id"])
        options = viewer.get("mediaListOptions") or {}
        score_format = options.get("scoreFormat") or "POINT_100"
        if score_format not in SCORE_SCALES:
            # Guessing a scale would misread and rewrite every score on the list.
            raise AniListError(
                f"anilist: unknown scoreFormat {score_format!r} on account "
                f"{viewer.get('name')!r} (known: {', '.join(SCORE_SCALES)}); "
                "AniBridge cannot tell what these scores mean, so it reads and "
                "writes nothing: please report this format",
                code=WriteError.UNSUPPORTED,
            )
        self.score_format = score_format
        self.custom_lists = tuple(
            (options.get("animeList") or {}).get("customLists") or ()
        )
        self._account = Account(
            key=str(self.user_id),
            title=str(viewer["name"]),
            url=viewer.get("siteUrl"),
        )

    async def close(self) -> None:
        """Close pooled connections."""
        await self.http.aclose()

    def account(self) -> Account | None:
        """The authenticated AniList user."""
        return self._account

    def capabilities(self) -> Capabilities:
        """What AniList can hold; the rating scale follows the user's score format."""
        lo, hi, step = SCORE_SCALES[self.score_format]
        # Calendar dates, partial ones (a year, a year and month) kept as such.
        date_only = (PartialDates(),)
        count = (NumericConstraint(0, None, 1),)
        fields = {
            RecordField.STATUS: FieldSpec(
                RecordField.STATUS, writable=True, values=status_descriptors()
            ),
            RecordField.PROGRESS: FieldSpec(
                RecordField.PROGRESS,
                writable=True,
                constraints=(
                    ProgressConstraint(
                        NumericConstraint(0, None, 1), total=False, unit=False
                    ),
                ),
            ),
            RecordField.RATING: FieldSpec(
                RecordField.RATING,
                writable=True,
                constraints=(NumericConstraint(lo, hi, step),),
                description=f"score in the user's format ({self.score_format}); "
                "0 means no score",
            ),
            RecordField.STARTED_AT: FieldSpec(
                RecordField.STARTED_AT, writable=True, constraints=date_only
            ),
            RecordField.FINISHED_AT: FieldSpec(
                RecordField.FINISHED_AT, writable=True, constraints=date_only
            ),
            RecordField.REPEAT_COUNT: FieldSpec(
                RecordField.REPEAT_COUNT, writable=True, constraints=count
            ),
            RecordField.NOTES: FieldSpec(RecordField.NOTES, writable=True),
        }
        kinds = node_kind_descriptors()
        return Capabilities(
            roles=frozenset({Role.SOURCE, Role.TARGET}),
            facets=frozenset({FacetName.IDS, FacetName.TITLES, FacetName.STRUCTURE}),
            node_kinds=kinds,
            coordinate_axes={d.native: ("episode",) for d in kinds},
            record_kinds=(Descriptor("", RecordKind.PROGRESS),),
            record_fields=fields,
            write_ops=frozenset({WriteOp.UPSERT_RECORD, WriteOp.DELETE_RECORD}),
            change_kinds=frozenset({ChangeKind.RECORD}),
            external_authorities=frozenset({"anilist", "mal"}),
        )

    # -- transport ------------------------------------------------------------------

    async def _post(
        self, query: str, variables: Mapping[str, Any], *, route: str
    ) -> tuple[Any, list[dict[str, Any]]]:
        """Send one document; return ``(data, errors)`` as AniList answered them."""
        for attempt in (1, 2):
            response = await self.http.post(
                "/",
                json={"query": query, "variables": dict(variables)},
                route=route,
                retry=True,  # queries are reads; our mutations are absolute upserts
                expect=(400, 404),
            )
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and ("data" in body or "errors" in body):
                errors = [e for e in body.get("errors") or () if isinstance(e, dict)]
                return body.get("data"), errors
            if attempt == 2:
                raise HttpError(
                    f"anilist: malformed response body ({response.status_code})",
                    code=WriteError.TRANSIENT,
                    status=response.status_code,
                    response=response,
                    service="anilist",
                    url=self.http.redact(str(response.request.url)),
                )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _query(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        data, errors = await self._post(query, variables, route=READ)
        if errors:
            first = errors[0]
            raise AniListError(
                f"anilist: {_describe(first)}",
                code=_error_code(first),
                status=first.get("status")
                if isinstance(first.get("status"), int)
                else None,
            )
        if not isinstance(data, dict):
            raise HttpError("anilist: response without data", code=WriteError.TRANSIENT)
        return data

    def _need_user(self) -> int:
        if self.user_id is None:
            raise RuntimeError("AniListProvider.initialize() has not run")
        return self.user_id

    # -- reads ----------------------------------------------------------------------

    async def _collection_chunk(
        self, chunk: int, per_chunk: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """One chunk of the list: unique entries (custom lists included), has-next."""
        data = await self._query(
            docs.COLLECTION,
            {"userId": self._need_user(), "chunk": chunk, "perChunk": per_chunk},
        )
        collection = data.get("MediaListCollection") or {}
        seen: dict[int, dict[str, Any]] = {}
        for group in collection.get("lists") or ():
            for entry in (group or {}).get("entries") or ():
                if entry and entry["id"] not in seen:
                    seen[entry["id"]] = entry
        return list(seen.values()), bool(collection.get("hasNextChunk"))

    async def _all_entries(self) -> list[dict[str, Any]]:
        entries: dict[int, dict[str, Any]] = {}
        chunk, more = 1, True
        while more:
            found, more = await self._collection_chunk(chunk, CHUNK_SIZE)
            for entry in found:
                entries.setdefault(entry["id"], entry)
            chunk += 1
        return list(entries.values())

    @staticmethod
    def _parse_chunk_cursor(cursor: str | None, limit: int | None) -> tuple[int, int]:
        if cursor is None:
            per = min(max(limit or CHUNK_SIZE, 1), CHUNK_SIZE)
            return 1, per
        try:
            chunk, per = (int(p) for p in cursor.split(":"))
        except ValueError:
            raise ValueError(f"anilist: not a scan cursor: {cursor!r}") from None
        return chunk, per

    async def scan(self, query: ScanQuery) -> Page[ScanItem]:
        """The user's list, one `MediaListCollection` chunk per page."""
        chunk, per = self._parse_chunk_cursor(query.cursor, query.limit)
        entries, more = await self._collection_chunk(chunk, per)
        wanted = {ref.key for ref in query.sources}
        items = []
        for entry in entries:
            node = media_node(
                entry.get("media") or {"id": entry["mediaId"]}, query.facets
            )
            if wanted and node.ref.key not in wanted:
                continue
            if query.native_node_kinds and node.kind not in query.native_node_kinds:
                continue
            records: tuple[Record, ...] = ()
            if query.with_records and (
                not query.native_record_kinds or "" in query.native_record_kinds
            ):
                records = (record_from_entry(entry, self.score_format, query.fields),)
            items.append(ScanItem(node, records))
        return Page(tuple(items), f"{chunk + 1}:{per}" if more else None)

    @staticmethod
    def _groups(ids: Sequence[int]) -> Iterable[list[Sequence[int]]]:
        """Requests of up to `PAGES_PER_REQUEST` aliased pages of 50 ids."""
        groups = list(_chunks(ids, PAGE_SIZE))
        for start in range(0, len(groups), docs.PAGES_PER_REQUEST):
            yield groups[start : start + docs.PAGES_PER_REQUEST]

    async def _entries_for_media(
        self, media_ids: Sequence[int]
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for groups in self._groups(media_ids):
            query, variables = docs.entries_by_media(groups)
            data = await self._query(query, {"userId": self._need_user(), **variables})
            for block in data.values():
                found.extend(e for e in (block or {}).get("mediaList") or () if e)
        return found

    async def _entries_for_keys(self, keys: Sequence[int]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for batch in _chunks(keys, PAGE_SIZE):
            query, variables = docs.entries_by_key(batch)
            data, errors = await self._post(query, variables, route=READ)
            for error in errors:
                if _error_code(error) is not WriteError.NOT_FOUND:
                    raise AniListError(
                        f"anilist: {_describe(error)}", code=_error_code(error)
                    )
            found.extend(e for e in (data or {}).values() if e)
        return found

    @staticmethod
    def _media_ids(refs: Iterable[Ref]) -> list[int]:
        ids = []
        for ref in refs:
            if ref.key.isdigit() and int(ref.key) not in ids:
                ids.append(int(ref.key))
        return ids

    async def fetch_records(self, query: RecordQuery) -> Page[Record]:
        """Records for refs (50 per request) or entry keys; all records otherwise."""
        if query.native_record_kinds and "" not in query.native_record_kinds:
            return Page(())
        if not query.refs and not query.keys:
            chunk, per = self._parse_chunk_cursor(query.cursor, query.limit)
            entries, more = await self._collection_chunk(chunk, per)
            records = tuple(
                record_from_entry(e, self.score_format, query.fields) for e in entries
            )
            return Page(records, f"{chunk + 1}:{per}" if more else None)
        refs, cursor = page_refs(
            query.refs, query.cursor, query.limit, provider="anilist"
        )
        entries: dict[int, dict[str, Any]] = {}
        for entry in await self._entries_for_media(self._media_ids(refs)):
            entries[entry["id"]] = entry
        if query.cursor is None or not query.refs:
            keys = [int(k) for k in query.keys if k.isdigit()]
            for entry in await self._entries_for_keys(keys):
                entries[entry["id"]] = entry
        return Page(
            tuple(
                record_from_entry(e, self.score_format, query.fields)
                for e in entries.values()
            ),
            cursor,
        )

    async def fetch_nodes(self, query: NodeQuery) -> Page[Node]:
        """Catalog nodes for refs, 50 per request (the user's list when no refs)."""
        if not query.refs:
            chunk, per = self._parse_chunk_cursor(query.cursor, query.limit)
            entries, more = await self._collection_chunk(chunk, per)
            nodes = [
                media_node(e["media"], query.facets) for e in entries if e.get("media")
            ]
            if query.native_node_kinds:
                nodes = [n for n in nodes if n.kind in query.native_node_kinds]
            return Page(tuple(nodes), f"{chunk + 1}:{per}" if more else None)
        refs, cursor = page_refs(
            query.refs, query.cursor, query.limit, provider="anilist"
        )
        nodes = []
        for groups in self._groups(self._media_ids(refs)):
            data = await self._query(*docs.media_by_id(groups))
            found = [
                m for block in data.values() for m in (block or {}).get("media") or ()
            ]
            for media in found:
                if media:
                    node = media_node(media, query.facets)
                    if (
                        not query.native_node_kinds
                        or node.kind in query.native_node_kinds
                    ):
                        nodes.append(node)
        return Page(tuple(nodes), cursor)

    async def search_nodes(
        self,
        query: str,
        *,
        limit: int = 10,
        facets: frozenset[FacetName] = frozenset(),
    ) -> Page[Node]:
        """AniList's own title search (one request, at most 50 results)."""
        if not query.strip():
            return Page(())
        data = await self._query(
            docs.SEARCH, {"search": query, "perPage": min(max(limit, 1), PAGE_SIZE)}
        )
        media = (data.get("Page") or {}).get("media") or ()
        return Page(tuple(media_node(m, facets) for m in media if m)[: max(limit, 0)])

    async def resolve(self, ids: Sequence[ExternalId]) -> Sequence[Match]:
        """Map ``anilist:`` and ``mal:`` ids to AniList media, 200 ids per request."""
        anilist = [
            i
            for i in ids
            if i.authority == "anilist" and i.value.isdigit() and not i.scope
        ]
        mal = [
            i for i in ids if i.authority == "mal" and i.value.isdigit() and not i.scope
        ]
        matches: list[Match] = []
        pages = [
            ("anilist", group)
            for group in _chunks(
                list(dict.fromkeys(int(i.value) for i in anilist)), PAGE_SIZE
            )
        ] + [
            ("mal", group)
            for group in _chunks(
                list(dict.fromkeys(int(i.value) for i in mal)), PAGE_SIZE
            )
        ]
        known_a: set[int] = set()
        by_mal: dict[int, list[int]] = {}
        for start in range(0, len(pages), docs.PAGES_PER_REQUEST):
            batch = pages[start : start + docs.PAGES_PER_REQUEST]
            data = await self._query(*docs.resolve(batch))
            for n, (authority, _ids) in enumerate(batch):
                for media in (data.get(f"r{n}") or {}).get("media") or ():
                    if not media:
                        continue
                    if authority == "anilist":
                        known_a.add(int(media["id"]))
                    elif media.get("idMal"):
                        targets = by_mal.setdefault(int(media["idMal"]), [])
                        if int(media["id"]) not in targets:
                            targets.append(int(media["id"]))
        for ext in anilist:
            if int(ext.value) in known_a:
                matches.append(Match(ext, Ref.anchor(str(int(ext.value))), 1.0))
        for ext in mal:
            targets = by_mal.get(int(ext.value), [])
            for target in targets:
                confidence = 1.0 if len(targets) == 1 else 0.5
                matches.append(Match(ext, Ref.anchor(str(target)), confidence))
        return matches

    # -- writes ---------------------------------------------------------------------

    async def write_records(
        self, writes: Sequence[RecordWrite]
    ) -> Sequence[WriteResult]:
        """Upserts as aliased `SaveMediaListEntry` batches; deletes likewise."""
        results: list[WriteResult | None] = [None] * len(writes)
        upserts: list[tuple[int, dict[str, Any]]] = []
        deletes: list[int] = []
        for index, write in enumerate(writes):
            if isinstance(write, UpsertRecord):
                args = save_arguments(write, self.score_format)
                if isinstance(args, Rejected):
                    results[index] = self._failed(write, args.code, args.error)
                else:
                    upserts.append((index, args))
            elif isinstance(write, DeleteRecord):
                deletes.append(index)
            else:
                results[index] = WriteResult(
                    ok=False,
                    op=WriteOp.UPSERT_RECORD,
                    code=WriteError.UNSUPPORTED,
                    error=f"not a record write: {type(write).__name__}",
                )
        for batch in _chunks(upserts, self.batch_size):
            for index, result in await self._save_batch(writes, batch):
                results[index] = result
        if deletes:
            for index, result in await self._delete(writes, deletes):
                results[index] = result
        return [r for r in results if r is not None]

    @staticmethod
    def _failed(write: RecordWrite, code: WriteError, error: str) -> WriteResult:
        op = (
            WriteOp.UPSERT_RECORD
            if isinstance(write, UpsertRecord)
            else WriteOp.DELETE_RECORD
        )
        return WriteResult(
            ok=False, op=op, token=write.token, ref=write.ref, code=code, error=error
        )

    async def _save_batch(
        self,
        writes: Sequence[RecordWrite],
        batch: Sequence[tuple[int, dict[str, Any]]],
    ) -> list[tuple[int, WriteResult]]:
        query, variables = docs.save_batch([args for _, args in batch])
        try:
            data, errors = await self._post(query, variables, route=WRITE)
        except HttpError as exc:
            return [(i, self._failed(writes[i], exc.code, str(exc))) for i, _ in batch]
        by_alias: dict[str, dict[str, Any]] = {}
        general: list[dict[str, Any]] = []
        for error in errors:
            path = error.get("path") or ()
            if path and isinstance(path[0], str) and path[0].startswith("e"):
                by_alias.setdefault(path[0], error)
            else:
                general.append(error)
        if general and not isinstance(data, dict):
            if len(batch) > 1 and _error_code(general[0]) is WriteError.INVALID:
                # A document-level rejection names no alias: find the culprit(s)
                # by sending the batch's writes one by one.
                out = []
                for item in batch:
                    out.extend(await self._save_batch(writes, [item]))
                return out
            code, message = _error_code(general[0]), _describe(general[0])
            return [
                (i, self._failed(writes[i], code, f"anilist: {message}"))
                for i, _ in batch
            ]
        out = []
        for position, (index, _args) in enumerate(batch):
            alias = f"e{position}"
            saved = (data or {}).get(alias)
            write = writes[index]
            if saved:
                out.append(
                    (
                        index,
                        WriteResult(
                            ok=True,
                            op=WriteOp.UPSERT_RECORD,
                            token=write.token,
                            key=str(saved["id"]),
                            ref=write.ref,
                        ),
                    )
                )
                continue
            error = by_alias.get(alias) or (
                general[0] if general else {"message": "no result"}
            )
            out.append(
                (
                    index,
                    self._failed(
                        write, _error_code(error), f"anilist: {_describe(error)}"
                    ),
                )
            )
        return out

    async def _delete(
        self, writes: Sequence[RecordWrite], indexes: Sequence[int]
    ) -> list[tuple[int, WriteResult]]:
        out: list[tuple[int, WriteResult]] = []
        entry_ids: dict[int, int] = {}
        lookups: list[int] = []
        for index in indexes:
            write = writes[index]
            assert isinstance(write, DeleteRecord)
            if write.kind != "":
                out.append(
                    (
                        index,
                        self._failed(
                            write,
                            WriteError.UNSUPPORTED,
                            f"AniList has no record kind {write.kind!r}",
                        ),
                    )
                )
            elif write.key is not None and write.key.isdigit():
                entry_ids[index] = int(write.key)
            elif (
                write.ref is not None
                and write.ref.is_anchor
                and write.ref.key.isdigit()
            ):
                lookups.append(index)
            else:
                out.append(
                    (
                        index,
                        self._failed(
                            write,
                            WriteError.INVALID,
                            "delete needs an entry key or a media anchor ref",
                        ),
                    )
                )
        if lookups:
            media_ids = [int(writes[i].ref.key) for i in lookups]  # type: ignore[union-attr]
            try:
                found = await self._entries_for_media(media_ids)
            except HttpError as exc:
                return out + [
                    (i, self._failed(writes[i], exc.code, str(exc))) for i in lookups
                ]
            by_media = {int(e["mediaId"]): int(e["id"]) for e in found}
            for index in lookups:
                media_id = int(writes[index].ref.key)  # type: ignore[union-attr]
                if media_id in by_media:
                    entry_ids[index] = by_media[media_id]
                else:
                    out.append(
                        (
                            index,
                            self._failed(
                                writes[index],
                                WriteError.NOT_FOUND,
                                f"anime {media_id} is not on the list",
                            ),
                        )
                    )
        pending = list(entry_ids.items())
        for batch in _chunks(pending, self.batch_size):
            query, variables = docs.delete_batch([entry for _, entry in batch])
            try:
                data, errors = await self._post(query, variables, route=WRITE)
            except HttpError as exc:
                out.extend(
                    (i, self._failed(writes[i], exc.code, str(exc))) for i, _ in batch
                )
                continue
            by_alias = {
                e["path"][0]: e
                for e in errors
                if e.get("path") and isinstance(e["path"][0], str)
            }
            for position, (index, entry_id) in enumerate(batch):
                alias = f"d{position}"
                result = (data or {}).get(alias) if isinstance(data, dict) else None
                write = writes[index]
                if result and result.get("deleted"):
                    out.append(
                        (
                            index,
                            WriteResult(
                                ok=True,
                                op=WriteOp.DELETE_RECORD,
                                token=write.token,
                                key=str(entry_id),
                                ref=write.ref,
                            ),
                        )
                    )
                else:
                    error = by_alias.get(alias) or (
                        errors[0] if errors else {"message": "not deleted"}
                    )
                    out.append(
                        (
                            index,
                            self._failed(
                                write,
                                _error_code(error),
                                f"anilist: {_describe(error)}",
                            ),
                        )
                    )
        return out

    # -- change feed ----------------------------------------------------------------

    async def poll_changes(self, query: ChangeQuery) -> Page[Change]:
        """Entries updated since the cursor (read newest first, reported oldest first).

        The first poll (no cursor) records where the list stands and reports
        nothing: a full read is how a first sync starts. Deleted entries are not
        visible in this feed.
        """
        first = query.cursor is None
        position = (
            FeedPosition()
            if first
            else FeedPosition.decode(query.cursor or "", provider="anilist")
        )
        unreported: dict[tuple[int, str], dict[str, Any]] = {}
        page, more = 1, True
        while more:
            data = await self._query(
                docs.CHANGES,
                {
                    "userId": self._need_user(),
                    "page": page,
                    "perPage": 1 if first else PAGE_SIZE,
                },
            )
            block = data.get("Page") or {}
            more = not first and bool((block.get("pageInfo") or {}).get("hasNextPage"))
            for row in block.get("mediaList") or ():
                if not row:
                    continue
                stamp, key = int(row.get("updatedAt") or 0), str(row["id"])
                if position.is_past(stamp):
                    more = False
                    break
                if position.is_new(stamp, key):
                    unreported[(stamp, key)] = row
            page += 1
        if first:
            return Page((), position.after(sorted(unreported)[-1:]).encode())
        reported = FeedPosition.oldest_first(list(unreported), query.limit)
        changes = tuple(
            RecordChange(
                ref=Ref.anchor(str(unreported[item]["mediaId"])),
                key=item[1],
                at=from_epoch(item[0]) if item[0] else None,
            )
            for item in reported
        )
        return Page(changes, position.after(reported).encode())

    # -- backups --------------------------------------------------------------------

    async def export_backup(self) -> BackupArtifact | None:
        """The whole list as JSON with every field AniList keeps for an entry."""
        content = backup_document(
            await self._all_entries(),
            user_id=self.user_id,
            user_name=self._account.title if self._account else None,
            score_format=self.score_format,
        )
        return BackupArtifact(content, ".json", "application/json")

    def check_backup(self, payload: bytes) -> None:
        """Parse the whole payload as `import_backup` would; nothing is sent.

        Raises:
            ValueError: the payload is not an AniBridge AniList backup.
        """
        restore_arguments(payload)

    async def import_backup(self, payload: bytes) -> None:
        """Restore every entry of a backup as upserts (other entries are kept).

        Raises:
            ValueError: the payload is not an AniBridge AniList backup.
            AniListError: some entries could not be restored (the message lists them).
        """
        items = restore_arguments(payload)
        failures: list[str] = []
        for batch in _chunks(items, self.batch_size):
            query, variables = docs.save_batch(batch)
            try:
                data, errors = await self._post(query, variables, route=WRITE)
            except HttpError as exc:
                failures.extend(f"mediaId {a['mediaId']} ({exc.code})" for a in batch)
                continue
            for position, args in enumerate(batch):
                if not (data or {}).get(f"e{position}"):
                    failures.append(f"mediaId {args['mediaId']}")
            if errors and not failures:
                failures.append(_describe(errors[0]))
        if failures:
            raise AniListError(
                f"anilist backup: {len(failures)} entries not restored: "
                + ", ".join(failures[:20]),
                code=WriteError.INTERNAL,
            )
