"""The MyAnimeList provider: the user's anime list over the official API v2.

Request budget: one identity call (`users/@me`) per session; the whole list in
ceil(n/1000) `users/@me/animelist` pages with every list field selected in the same
request; one `PATCH`/`DELETE my_list_status` per write (MAL has no batch endpoint).
`resolve` needs no request: a ``mal:`` id is the anchor key. Tokens are refreshed
before they expire and once on 401, and every new pair is saved to the token store.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from anibridge.dates import from_epoch, parse_iso
from anibridge.http import (
    ANY,
    READ,
    HttpClient,
    HttpError,
    RateLimit,
    clock_from_config,
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
    TextConstraint,
    UpsertRecord,
    WriteError,
    WriteOp,
    WriteResult,
)
from anibridge.provider.config_keys import ConfigKey, unknown_keys
from anibridge.provider.precision import PartialDates
from anibridge.providers._lists import FeedPosition, number_option, page_refs
from anibridge.providers.mal.auth import MalTokens, TokenManager
from anibridge.providers.mal.backup import backup_document, restore_forms
from anibridge.providers.mal.convert import (
    LIST_STATUS_FIELDS,
    MEDIA_TYPES,
    SCORE_SCALE,
    Rejected,
    anime_node,
    form_for,
    record_from_status,
    status_descriptors,
)
from anibridge.providers.mal.settings import (
    CONFIG_KEYS,
    DEFAULT_AUTHORIZE_URL,
    DEFAULT_BASE_URL,
    DEFAULT_TOKEN_URL,
)

__all__ = ["MalProvider"]

PAGE_SIZE = 1000  # the API's maximum `limit` for user lists
CHANGE_PAGE = 100
NODE_FIELDS = "num_episodes,media_type,alternative_titles"
LIST_FIELDS = f"list_status{{{','.join(LIST_STATUS_FIELDS)}}},{NODE_FIELDS}"
DETAIL_FIELDS = f"my_list_status{{{','.join(LIST_STATUS_FIELDS)}}},{NODE_FIELDS}"
#: List pages assumed when the list size is not known yet (most lists fit in two).
ASSUMED_LIST_PAGES = 2


def _authorize_url(config: Mapping[str, object]) -> str:
    """The sign-in page: ``authorize_url``, else beside ``base_url``'s host."""
    if config.get("authorize_url"):
        return str(config["authorize_url"])
    if config.get("base_url"):
        parts = urlsplit(str(config["base_url"]))
        return f"{parts.scheme}://{parts.netloc}/v1/oauth2/authorize"
    return DEFAULT_AUTHORIZE_URL


def _token_url(config: Mapping[str, object]) -> str:
    if config.get("token_url"):
        return str(config["token_url"])
    if config.get("base_url"):
        parts = urlsplit(str(config["base_url"]))
        return f"{parts.scheme}://{parts.netloc}/v1/oauth2/token"
    return DEFAULT_TOKEN_URL


class MalProvider(
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
    """MyAnimeList anime list (source and target).

    Config keys: ``client_id``, ``client_secret`` (if the app has one),
    ``access_token``, ``refresh_token``, ``expires_at`` (epoch seconds or ISO),
    ``token_store`` + ``token_key`` (default ``"mal"``), ``base_url``,
    ``token_url``, ``rate_limit`` (requests per minute, default 60), ``timeout``,
    ``clock`` / ``time_scale`` (tests only).
    """

    DISPLAY_NAME: ClassVar[str] = "MyAnimeList"
    NAMESPACE: ClassVar[str] = "mal"
    CONFIG_KEYS: ClassVar[Mapping[str, ConfigKey]] = CONFIG_KEYS
    SIGN_IN: ClassVar[str] = (
        "`anibridge login mal` (OAuth2 with PKCE in the browser; needs client_id)"
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
            logger=logger or logging.getLogger("anibridge.providers.mal"),
            config=config,
        )
        cfg = self.config
        unknown = unknown_keys("mal", cfg, CONFIG_KEYS)
        if unknown:
            raise ValueError(unknown)
        per_minute = int(number_option(cfg, "rate_limit", 60, provider="mal", low=1))
        clock = clock_from_config(cfg)
        timeout = number_option(
            cfg, "timeout", 30.0, provider="mal", low=0.001, integer=False
        )
        tokens = MalTokens.from_mapping(cfg)
        secrets = [
            str(cfg.get(k) or "")
            for k in ("client_secret", "access_token", "refresh_token")
        ]
        self.http = HttpClient(
            name="mal",
            base_url=str(cfg.get("base_url") or DEFAULT_BASE_URL),
            headers={"Accept": "application/json"},
            limits=[RateLimit(per_minute, 60.0, ANY)],
            limit_key=str(cfg.get("client_id") or "") or None,
            clock=clock,
            timeout=timeout,
            auth_headers=self._auth_headers,
            refresh=self._on_unauthorized,
            secrets=secrets,
            logger=self.log,
        )
        self._oauth_http = HttpClient(
            name="mal-oauth",
            base_url=_token_url(cfg),
            clock=clock,
            timeout=timeout,
            secrets=secrets,
            logger=self.log,
        )
        self.auth = TokenManager(
            tokens=tokens,
            token_url=_token_url(cfg),
            client_id=str(cfg.get("client_id") or "") or None,
            client_secret=str(cfg.get("client_secret") or "") or None,
            http=self._oauth_http,
            store=cfg.get("token_store"),  # type: ignore[arg-type]
            store_key=str(cfg.get("token_key") or "mal"),
            logger=self.log,
            redact_in=(self.http,),
        )
        self._account: Account | None = None
        self._list_size: int | None = None

    # -- lifecycle ------------------------------------------------------------------

    async def _auth_headers(self) -> Mapping[str, str]:
        return await self.auth.headers()

    async def _on_unauthorized(self) -> bool:
        return await self.auth.on_unauthorized()

    async def initialize(self) -> None:
        """Load saved tokens and identify the user (`users/@me`).

        Raises:
            ValueError: no token is configured or stored.
            HttpError: MAL refused the credentials or could not be reached.
        """
        await self.auth.load_saved()
        tokens = self.auth.tokens
        if not tokens.access_token and not tokens.refresh_token:
            raise ValueError(
                "mal: config needs 'access_token' or 'refresh_token' (+ 'client_id'); "
                "run `anibridge login mal` to sign in"
            )
        me = await self._json("GET", "/users/@me")
        self._account = Account(
            key=str(me["id"]),
            title=str(me["name"]),
            url=f"https://myanimelist.net/profile/{me['name']}",
        )

    async def close(self) -> None:
        """Close pooled connections."""
        await self.http.aclose()
        await self._oauth_http.aclose()

    def account(self) -> Account | None:
        """The authenticated MAL user."""
        return self._account

    def capabilities(self) -> Capabilities:
        """What a MAL list entry holds and which of it AniBridge can write."""
        # Calendar dates, partial ones (a year, a year and month) kept as such.
        date_only = (PartialDates(),)
        date_note = "can be set but not cleared: MAL's API has no way to remove a date"
        fields = {
            RecordField.STATUS: FieldSpec(
                RecordField.STATUS,
                writable=True,
                values=status_descriptors(),
                description="'rewatching' is status completed + is_rewatching=true",
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
                constraints=(NumericConstraint(*SCORE_SCALE),),
                description="0 means not scored",
            ),
            RecordField.STARTED_AT: FieldSpec(
                RecordField.STARTED_AT,
                writable=True,
                constraints=date_only,
                description=date_note,
            ),
            RecordField.FINISHED_AT: FieldSpec(
                RecordField.FINISHED_AT,
                writable=True,
                constraints=date_only,
                description=date_note,
            ),
            RecordField.REPEAT_COUNT: FieldSpec(
                RecordField.REPEAT_COUNT,
                writable=True,
                constraints=(NumericConstraint(0, None, 1),),
            ),
            RecordField.NOTES: FieldSpec(
                RecordField.NOTES, writable=True, constraints=(TextConstraint(65535),)
            ),
        }
        kinds = tuple(Descriptor(k, v) for k, v in MEDIA_TYPES.items())
        return Capabilities(
            roles=frozenset({Role.SOURCE, Role.TARGET}),
            facets=frozenset({FacetName.IDS, FacetName.TITLES, FacetName.STRUCTURE}),
            node_kinds=kinds,
            coordinate_axes={d.native: ("episode",) for d in kinds},
            record_kinds=(Descriptor("", RecordKind.PROGRESS),),
            record_fields=fields,
            write_ops=frozenset({WriteOp.UPSERT_RECORD, WriteOp.DELETE_RECORD}),
            change_kinds=frozenset({ChangeKind.RECORD}),
            external_authorities=frozenset({"mal"}),
        )

    # -- transport ------------------------------------------------------------------

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A request; MAL's 403 ("DoS detected") means "back off", not "no access".

        Raises:
            HttpError: the request failed for good (403 as RATE_LIMITED).
        """
        try:
            return await self.http.request(method, url, **kwargs)
        except HttpError as exc:
            if exc.status != 403:
                raise
            raise HttpError(
                f"{exc} (MAL refuses clients it considers abusive: slow down)",
                code=WriteError.RATE_LIMITED,
                status=403,
                response=exc.response,
                service=exc.service,
                address=exc.address,
                url=exc.url,
                attempts=exc.attempts,
            ) from exc

    async def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        """A request whose JSON body matters; one malformed body is asked again."""
        for attempt in (1, 2):
            response = await self._request(method, url, **kwargs)
            try:
                return response.json()
            except ValueError:
                if attempt == 2:
                    raise HttpError(
                        f"mal: malformed response body for {method} {url}",
                        code=WriteError.TRANSIENT,
                        status=response.status_code,
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _list_page(
        self,
        offset: int,
        limit: int,
        *,
        sort: str | None = None,
        fields: str = LIST_FIELDS,
    ) -> tuple[list[dict[str, Any]], bool]:
        params: dict[str, Any] = {
            "limit": limit,
            "offset": offset,
            "nsfw": "true",
            "fields": fields,
        }
        if sort:
            params["sort"] = sort
        body = await self._json(
            "GET", "/users/@me/animelist", params=params, route=READ
        )
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise HttpError(
                "mal: animelist answer has no data list", code=WriteError.TRANSIENT
            )
        more = bool((body.get("paging") or {}).get("next"))
        if not more:
            self._list_size = offset + len(body["data"])
        return [row for row in body["data"] if isinstance(row, dict)], more

    async def _all_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        offset, more = 0, True
        while more:
            page, more = await self._list_page(offset, PAGE_SIZE)
            rows.extend(page)
            offset += PAGE_SIZE
        return rows

    @staticmethod
    def _offset(cursor: str | None) -> int:
        if cursor is None:
            return 0
        if not cursor.isdigit():
            raise ValueError(f"mal: not a list cursor: {cursor!r}")
        return int(cursor)

    # -- reads ----------------------------------------------------------------------

    async def scan(self, query: ScanQuery) -> Page[ScanItem]:
        """The user's list, up to 1000 entries per request (nsfw entries included)."""
        offset = self._offset(query.cursor)
        limit = min(max(query.limit or PAGE_SIZE, 1), PAGE_SIZE)
        rows, more = await self._list_page(offset, limit)
        wanted = {ref.key for ref in query.sources}
        items = []
        for row in rows:
            node = anime_node(row["node"], query.facets)
            if wanted and node.ref.key not in wanted:
                continue
            if query.native_node_kinds and node.kind not in query.native_node_kinds:
                continue
            records: tuple[Record, ...] = ()
            if query.with_records and (
                not query.native_record_kinds or "" in query.native_record_kinds
            ):
                records = (
                    record_from_status(
                        row["node"], row.get("list_status") or {}, query.fields
                    ),
                )
            items.append(ScanItem(node, records))
        return Page(tuple(items), str(offset + limit) if more else None)

    async def _details(self, anime_id: int, fields: str) -> dict[str, Any] | None:
        response = await self._request(
            "GET", f"/anime/{anime_id}", params={"fields": fields}, expect=(404,)
        )
        if response.status_code == 404:
            return None
        try:
            body = response.json()
        except ValueError:
            body = await self._json(
                "GET", f"/anime/{anime_id}", params={"fields": fields}
            )
        return body if isinstance(body, dict) else None

    async def fetch_records(self, query: RecordQuery) -> Page[Record]:
        """Records by ref (per id, or the list when that is fewer requests)."""
        if query.native_record_kinds and "" not in query.native_record_kinds:
            return Page(())
        if not query.refs and not query.keys:
            offset = self._offset(query.cursor)
            limit = min(max(query.limit or PAGE_SIZE, 1), PAGE_SIZE)
            rows, more = await self._list_page(offset, limit)
            records = tuple(
                record_from_status(r["node"], r.get("list_status") or {}, query.fields)
                for r in rows
            )
            return Page(records, str(offset + limit) if more else None)
        refs, cursor = page_refs(
            (*query.refs, *(Ref.anchor(k) for k in query.keys)),
            query.cursor,
            query.limit,
            provider="mal",
        )
        ids = list(
            dict.fromkeys(int(r.key) for r in refs if r.is_anchor and r.key.isdigit())
        )
        records: list[Record] = []
        # One `GET anime/{id}` per ref, or the whole list: whichever is fewer requests.
        list_pages = (
            max(1, -(-self._list_size // PAGE_SIZE))
            if self._list_size is not None
            else ASSUMED_LIST_PAGES
        )
        if len(ids) >= list_pages:
            wanted = set(ids)
            for row in await self._all_rows():
                if int(row["node"]["id"]) in wanted:
                    records.append(
                        record_from_status(
                            row["node"], row.get("list_status") or {}, query.fields
                        )
                    )
            return Page(tuple(records), cursor)
        for anime_id in ids:
            node = await self._details(anime_id, DETAIL_FIELDS)
            if node and node.get("my_list_status"):
                records.append(
                    record_from_status(node, node["my_list_status"], query.fields)
                )
        return Page(tuple(records), cursor)

    async def fetch_nodes(self, query: NodeQuery) -> Page[Node]:
        """Anime by ref (`GET anime/{id}` each), or the list's anime without refs."""
        if not query.refs:
            offset = self._offset(query.cursor)
            limit = min(max(query.limit or PAGE_SIZE, 1), PAGE_SIZE)
            rows, more = await self._list_page(offset, limit)
            nodes = [anime_node(r["node"], query.facets) for r in rows]
            if query.native_node_kinds:
                nodes = [n for n in nodes if n.kind in query.native_node_kinds]
            return Page(tuple(nodes), str(offset + limit) if more else None)
        refs, cursor = page_refs(query.refs, query.cursor, query.limit, provider="mal")
        nodes = []
        for ref in refs:
            if not ref.is_anchor or not ref.key.isdigit():
                continue
            node = await self._details(int(ref.key), NODE_FIELDS)
            if node:
                built = anime_node(node, query.facets)
                if not query.native_node_kinds or built.kind in query.native_node_kinds:
                    nodes.append(built)
        return Page(tuple(nodes), cursor)

    async def search_nodes(
        self,
        query: str,
        *,
        limit: int = 10,
        facets: frozenset[FacetName] = frozenset(),
    ) -> Page[Node]:
        """MAL's title search (`GET anime?q=`, one request, at most 100 results)."""
        if not query.strip():
            return Page(())
        body = await self._json(
            "GET",
            "/anime",
            params={
                "q": query,
                "limit": min(max(limit, 1), 100),
                "nsfw": "true",
                "fields": NODE_FIELDS,
            },
        )
        rows = body.get("data") if isinstance(body, dict) else None
        nodes = [
            anime_node(row["node"], facets)
            for row in rows or ()
            if isinstance(row, dict) and isinstance(row.get("node"), dict)
        ]
        return Page(tuple(nodes[: max(limit, 0)]))

    async def resolve(self, ids: Sequence[ExternalId]) -> Sequence[Match]:
        """``mal:`` ids are MAL anchors already: no request is needed."""
        return [
            Match(ext, Ref.anchor(str(int(ext.value))), 1.0)
            for ext in ids
            if ext.authority == "mal" and ext.value.isdigit() and ext.scope is None
        ]

    # -- writes ---------------------------------------------------------------------

    async def write_records(
        self, writes: Sequence[RecordWrite]
    ) -> Sequence[WriteResult]:
        """One `PATCH` (upsert) or `DELETE` per write; results in input order."""
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

    async def _upsert(self, write: UpsertRecord) -> WriteResult:
        form = form_for(write)
        if isinstance(form, Rejected):
            return WriteResult(
                ok=False,
                op=WriteOp.UPSERT_RECORD,
                token=write.token,
                ref=write.ref,
                code=form.code,
                error=form.error,
            )
        return await self._patch(write, int(write.ref.key), form)

    async def _patch(
        self, write: RecordWrite, anime_id: int, form: dict[str, str]
    ) -> WriteResult:
        try:
            # Absolute values: repeating the same PATCH is harmless, so retry.
            await self._request(
                "PATCH", f"/anime/{anime_id}/my_list_status", data=form, retry=True
            )
        except HttpError as exc:
            return WriteResult(
                ok=False,
                op=WriteOp.UPSERT_RECORD,
                token=write.token,
                ref=write.ref,
                code=exc.code,
                error=str(exc),
            )
        # A 2xx means MAL applied it, even if the echoed body were unreadable.
        return WriteResult(
            ok=True,
            op=WriteOp.UPSERT_RECORD,
            token=write.token,
            key=str(anime_id),
            ref=write.ref,
        )

    async def _delete(self, write: DeleteRecord) -> WriteResult:
        key = (
            write.key
            if write.key is not None
            else (write.ref.key if write.ref else None)
        )
        if (
            write.kind != ""
            or key is None
            or not key.isdigit()
            or (write.ref is not None and not write.ref.is_anchor)
        ):
            return WriteResult(
                ok=False,
                op=WriteOp.DELETE_RECORD,
                token=write.token,
                ref=write.ref,
                code=WriteError.INVALID if write.kind == "" else WriteError.UNSUPPORTED,
                error="a MAL delete needs a numeric anime id (key or anchor ref)",
            )
        try:
            await self._request("DELETE", f"/anime/{int(key)}/my_list_status")
        except HttpError as exc:
            return WriteResult(
                ok=False,
                op=WriteOp.DELETE_RECORD,
                token=write.token,
                ref=write.ref,
                code=exc.code,
                error=str(exc),
            )
        return WriteResult(
            ok=True, op=WriteOp.DELETE_RECORD, token=write.token, key=key, ref=write.ref
        )

    # -- change feed ----------------------------------------------------------------

    async def poll_changes(self, query: ChangeQuery) -> Page[Change]:
        """Entries updated since the cursor, via ``sort=list_updated_at``.

        The first poll (no cursor) records where the list stands and reports
        nothing. Deleted entries are not visible in this feed.
        """
        fields = f"list_status{{{','.join(LIST_STATUS_FIELDS)}}}"
        first = query.cursor is None
        position = (
            FeedPosition()
            if first
            else FeedPosition.decode(query.cursor or "", provider="mal")
        )
        unreported: list[tuple[int, str]] = []
        offset, more = 0, True
        size = 1 if first else CHANGE_PAGE
        while more:
            rows, more = await self._list_page(
                offset, size, sort="list_updated_at", fields=fields
            )
            more = more and not first
            offset += size
            for row in rows:
                text = (row.get("list_status") or {}).get("updated_at")
                stamp = int(parse_iso(text).timestamp()) if text else 0
                key = str(int(row["node"]["id"]))
                if position.is_past(stamp):
                    more = False
                    break
                if position.is_new(stamp, key):
                    unreported.append((stamp, key))
        if first:
            return Page((), position.after(sorted(unreported)[-1:]).encode())
        reported = FeedPosition.oldest_first(unreported, query.limit)
        changes = tuple(
            RecordChange(
                ref=Ref.anchor(key), key=key, at=from_epoch(stamp) if stamp else None
            )
            for stamp, key in reported
        )
        return Page(changes, position.after(reported).encode())

    # -- backups --------------------------------------------------------------------

    async def export_backup(self) -> BackupArtifact | None:
        """The whole list as JSON, every list_status field MAL returns."""
        content = backup_document(
            await self._all_rows(),
            user_name=self._account.title if self._account else None,
        )
        return BackupArtifact(content, ".json", "application/json")

    def check_backup(self, payload: bytes) -> None:
        """Parse the whole payload as `import_backup` would; nothing is sent.

        Raises:
            ValueError: the payload is not an AniBridge MAL backup.
        """
        restore_forms(payload)

    async def import_backup(self, payload: bytes) -> None:
        """Restore every entry of a backup as upserts (other entries are kept).

        Dates an entry has now but the backup lacks stay: MAL cannot clear them.

        Raises:
            ValueError: the payload is not an AniBridge MAL backup.
            HttpError: some entries could not be restored (the message lists them).
        """
        failures = []
        for anime_id, form in restore_forms(payload):
            result = await self._patch(
                UpsertRecord(Ref.anchor(str(anime_id))), anime_id, form
            )
            if not result.ok:
                failures.append(f"anime {anime_id} ({result.code})")
        if failures:
            raise HttpError(
                f"mal backup: {len(failures)} entries not restored: "
                + ", ".join(failures[:20]),
                code=WriteError.INTERNAL,
            )
