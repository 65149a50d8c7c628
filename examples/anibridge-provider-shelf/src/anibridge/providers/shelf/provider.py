"""`ShelfProvider`: the Shelf watch list as an AniBridge source and target."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from anibridge.http import HttpClient, HttpError, RateLimit, clock_from_config
from anibridge.provider.base import (
    Account,
    Capabilities,
    DeleteRecord,
    Descriptor,
    ExternalId,
    FacetName,
    FieldSpec,
    Identifiers,
    Match,
    Node,
    NodeFlag,
    NodeKind,
    NumericConstraint,
    Page,
    Progress,
    ProgressConstraint,
    Provider,
    Record,
    RecordField,
    RecordKind,
    RecordQuery,
    RecordWrite,
    Ref,
    Role,
    ScanItem,
    ScanQuery,
    State,
    Status,
    SupportsMapping,
    SupportsRecordReads,
    SupportsRecordWrites,
    SupportsScan,
    UpsertRecord,
    WriteError,
    WriteOp,
    WriteResult,
)

__all__ = ["ShelfProvider"]

STATUSES = {
    "planning": Status.PLANNED,
    "watching": Status.ACTIVE,
    "completed": Status.COMPLETED,
}
NATIVE = {v: k for k, v in STATUSES.items()}
FLAGS = frozenset({NodeFlag.ANCHOR, NodeFlag.TRACKABLE, NodeFlag.SCAN_ROOT})


class ShelfProvider(Provider, SupportsScan, SupportsMapping, SupportsRecordReads,
                    SupportsRecordWrites):  # fmt: skip
    """A Shelf account's watch list.

    The mixins say which methods exist; `capabilities()` says what they can do.
    """

    DISPLAY_NAME: ClassVar[str] = "Shelf"
    NAMESPACE: ClassVar[str] = "shelf"
    CONFIG_KEYS: ClassVar[Mapping[str, str]] = {
        "base_url": "the Shelf server (required)",
        "token": "your Shelf API token (required; use {env: SHELF_TOKEN})",
        "time_scale": "tests only: real seconds per service second",
    }

    def __init__(
        self, *, logger: logging.Logger, config: Mapping[str, object] | None = None
    ) -> None:
        """Check the config now, so a typo fails before any sync starts.

        Raises:
            ValueError: a key is unknown or missing.
        """
        super().__init__(logger=logger, config=config)
        unknown = set(self.config) - set(self.CONFIG_KEYS)
        if unknown:
            raise ValueError(f"shelf: unknown config key(s) {sorted(unknown)}")
        for key in ("base_url", "token"):
            if not isinstance(self.config.get(key), str) or not self.config[key]:
                raise ValueError(f"shelf: config key {key!r} is required")
        token = str(self.config["token"])
        # The shared HTTP client brings rate limits, retries, Retry-After and
        # secret masking; Shelf allows 60 requests a minute.
        self.http = HttpClient(
            name="shelf",
            base_url=str(self.config["base_url"]),
            headers={"Authorization": f"Bearer {token}"},
            limits=[RateLimit(60, 60.0)],
            clock=clock_from_config(self.config),
            secrets=[token],
            logger=self.log,
        )
        self._account: Account | None = None

    async def initialize(self) -> None:
        """Find out whose list this is (`account()` stays None until then)."""
        me = (await self.http.get("/me")).json()
        self._account = Account(key=str(me["id"]), title=str(me["name"]))

    async def close(self) -> None:
        """Release the connection pool."""
        await self.http.aclose()

    def account(self) -> Account | None:
        """The signed-in user."""
        return self._account

    def capabilities(self) -> Capabilities:
        """What a Shelf entry holds, as data the engine plans from."""
        return Capabilities(
            roles=frozenset({Role.SOURCE, Role.TARGET}),
            facets=frozenset({FacetName.IDS}),
            node_kinds=(Descriptor("anime", NodeKind.SERIES),),
            record_kinds=(Descriptor("", RecordKind.PROGRESS),),
            record_fields={
                RecordField.STATUS: FieldSpec(
                    RecordField.STATUS,
                    writable=True,
                    values=tuple(Descriptor(k, v) for k, v in STATUSES.items()),
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
            },
            write_ops=frozenset({WriteOp.UPSERT_RECORD, WriteOp.DELETE_RECORD}),
            external_authorities=frozenset({"anilist"}),
        )

    # -- reads ---------------------------------------------------------------------

    def _node(self, item: Mapping[str, Any], facets: frozenset[FacetName]) -> Node:
        hydrated: dict[FacetName, Any] = {}
        if FacetName.IDS in facets:  # only what was asked for
            hydrated[FacetName.IDS] = Identifiers(
                (ExternalId("anilist", str(item["anilist"])),)
            )
        return Node(
            ref=Ref.anchor(str(item["id"])),
            kind="anime",
            title=item.get("title"),
            flags=FLAGS,
            facets=hydrated,
        )

    @staticmethod
    def _record(item: Mapping[str, Any], fields: frozenset[RecordField]) -> Record:
        values: dict[RecordField, Any] = {
            RecordField.STATUS: State(item["status"], STATUSES[item["status"]]),
            RecordField.PROGRESS: Progress(item["progress"], item.get("episodes")),
        }
        return Record(
            ref=Ref.anchor(str(item["id"])),
            key=str(item["id"]),
            values={f: v for f, v in values.items() if f in fields},
        )

    async def _page(
        self, cursor: str | None, limit: int | None
    ) -> tuple[list, str | None]:
        params = {"offset": int(cursor or 0), "limit": min(limit or 100, 100)}
        body = (await self.http.get("/items", params=params)).json()
        nxt = body.get("next")
        return body["items"], None if nxt is None else str(nxt)

    async def scan(self, query: ScanQuery) -> Page[ScanItem]:
        """One page of the list; the cursor is Shelf's own `next` offset."""
        items, cursor = await self._page(query.cursor, query.limit)
        wanted = {r.key for r in query.sources}
        out = []
        for item in items:
            if wanted and str(item["id"]) not in wanted:
                continue
            records = (self._record(item, query.fields),) if query.with_records else ()
            out.append(ScanItem(self._node(item, query.facets), records))
        return Page(tuple(out), cursor)

    async def fetch_records(self, query: RecordQuery) -> Page[Record]:
        """Records by ref or key (or all), one page at a time."""
        items, cursor = await self._page(query.cursor, query.limit)
        wanted = {r.key for r in query.refs} | set(query.keys)
        return Page(
            tuple(
                self._record(item, query.fields)
                for item in items
                if not wanted or str(item["id"]) in wanted
            ),
            cursor,
        )

    async def resolve(self, ids: Sequence[ExternalId]) -> Sequence[Match]:
        """Shelf items are keyed by their AniList id: no request needed."""
        return [
            Match(i, Ref.anchor(i.value), 1.0)
            for i in ids
            if i.authority == "anilist" and i.value.isdigit() and i.scope is None
        ]

    # -- writes --------------------------------------------------------------------

    async def write_records(
        self, writes: Sequence[RecordWrite]
    ) -> Sequence[WriteResult]:
        """One request per write; every write gets its own result, in order."""
        return [await self._write(w) for w in writes]

    async def _write(self, write: RecordWrite) -> WriteResult:
        op = (
            WriteOp.DELETE_RECORD
            if isinstance(write, DeleteRecord)
            else WriteOp.UPSERT_RECORD
        )
        ref = write.ref or (Ref(write.key) if write.key else None)

        def failed(code: WriteError, error: str) -> WriteResult:
            return WriteResult(
                False, op, write.token, ref=write.ref, code=code, error=error
            )

        if ref is None or not ref.key.isdigit() or not ref.is_anchor or write.kind:
            return failed(WriteError.INVALID, "shelf: writes go on an item id")
        try:
            if isinstance(write, DeleteRecord):
                response = await self.http.request(
                    "DELETE", f"/items/{ref.key}", expect=(404,)
                )
                if response.status_code == 404:
                    return failed(WriteError.NOT_FOUND, "shelf: no such item")
                return WriteResult(True, op, write.token, key=ref.key, ref=write.ref)
            body = self._body(write)
            if isinstance(body, WriteResult):
                return body
            # An absolute value: repeating the same PUT is harmless, so retry it.
            response = await self.http.request(
                "PUT", f"/items/{ref.key}", json=body, retry=True, expect=(404,)
            )
        except HttpError as exc:  # the shared client already mapped the status
            return failed(exc.code, str(exc))
        if response.status_code == 404:
            return failed(WriteError.NOT_FOUND, "shelf: not in the catalog")
        return WriteResult(True, op, write.token, key=ref.key, ref=write.ref)

    @staticmethod
    def _body(write: UpsertRecord) -> dict[str, Any] | WriteResult:
        body: dict[str, Any] = {}
        for name, value in write.set.items():
            if name is RecordField.STATUS and isinstance(value, State):
                native = (
                    value.native
                    if value.native in STATUSES
                    else NATIVE.get(value.status)
                )
                if native is None:
                    break
                body["status"] = native
            elif name is RecordField.PROGRESS and isinstance(value, Progress):
                body["progress"] = int(value.current or 0)
            else:
                break
        else:
            if not write.clear:
                return body
        return WriteResult(
            False,
            WriteOp.UPSERT_RECORD,
            write.token,
            ref=write.ref,
            code=WriteError.UNSUPPORTED,
            error="shelf: only status and progress can be set",
        )
