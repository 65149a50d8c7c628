"""The provider conformance kit: `ProviderContractTests`.

A provider's test module subclasses `ProviderContractTests` and supplies a
`make_provider` fixture; pytest then runs every contract check the provider's mixins
call for and skips the rest with a reason. The checks call the runtime guard
(`anibridge.provider.validate`), so the kit and the engine enforce the same rules, and
a failure is a `ContractViolation` naming the provider, the object and the rule.

Example::

    from anibridge.provider.testing import ProviderContractTests


    class TestMyProviderContract(ProviderContractTests):
        @pytest.fixture
        def make_provider(self, fake_server):
            return lambda: MyProvider(
                logger=logging.getLogger("t"), config={"base_url": fake_server.url}
            )

        @pytest.fixture
        def writable_ref(self):
            return Ref("42")

The kit needs pytest and pytest-asyncio; it marks its tests `asyncio` itself, so it
runs in strict and auto mode alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from anibridge.provider.base import (
    AppendEvent,
    Capabilities,
    ChangeQuery,
    DeleteEvent,
    DeleteRecord,
    EventQuery,
    EventSummaryQuery,
    ExternalId,
    FacetName,
    FieldSpec,
    Identifiers,
    Node,
    NodeQuery,
    NumericConstraint,
    Page,
    Progress,
    ProgressConstraint,
    Provider,
    Rating,
    RecordField,
    RecordQuery,
    RecordWrite,
    Ref,
    ScanItem,
    ScanQuery,
    State,
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
    TextConstraint,
    UpsertRecord,
    Value,
)
from anibridge.provider.validate import (
    ContractViolation,
    Rule,
    collect_pages,
    item_identity,
    validate_account,
    validate_capabilities,
    validate_matches,
    validate_page,
    validate_write_results,
)

__all__ = [
    "KIT_TIME",
    "ProviderContractTests",
    "default_record_write",
    "default_sample_event",
    "discover_sample_refs",
]

# The instant the kit writes (a midnight, so DATE-precision providers keep it exactly).
KIT_TIME = datetime(2024, 1, 2, tzinfo=UTC)
_PAGE = 2  # small page size so even a small catalogue is paged
_MAX_POLLS = 1000


def _name(provider: Provider) -> str:
    return getattr(provider, "NAMESPACE", None) or type(provider).__name__


def _require(provider: Provider, mixin: type) -> None:
    if not isinstance(provider, mixin):
        pytest.skip(f"{type(provider).__name__} does not mix in {mixin.__name__}")


def _readable_fields(caps: Capabilities) -> frozenset[RecordField]:
    return frozenset(f for f, spec in caps.record_fields.items() if spec.readable)


async def discover_sample_refs(provider: Provider, count: int = 5) -> tuple[Ref, ...]:
    """A few refs that exist, found by `scan` or `fetch_nodes` (the default fixture)."""
    page: Page[Any] | None = None
    if isinstance(provider, SupportsScan):
        page = await provider.scan(ScanQuery(with_records=False, limit=count))
        return tuple(item.node.ref for item in page.items if isinstance(item, ScanItem))
    if isinstance(provider, SupportsNodeReads):
        page = await provider.fetch_nodes(NodeQuery(limit=count))
        return tuple(node.ref for node in page.items if isinstance(node, Node))
    return ()


def _numeric(constraint: NumericConstraint | None, preferred: float) -> float:
    if constraint is None:
        return preferred
    low = constraint.minimum if constraint.minimum is not None else 0.0
    high = constraint.maximum if constraint.maximum is not None else max(low, preferred)
    value = min(max(preferred, low), high)
    if constraint.step is not None:
        value = low + constraint.step * int((value - low) // constraint.step)
    return value


def _sample_value(spec: FieldSpec) -> Value | None:
    numeric = next(
        (c for c in spec.constraints if isinstance(c, NumericConstraint)), None
    )
    match spec.field:
        case RecordField.STATUS:
            first = spec.values[0]
            return State(first.native, first.semantic)
        case RecordField.PROGRESS:
            progress = next(
                (c for c in spec.constraints if isinstance(c, ProgressConstraint)), None
            )
            current = _numeric(progress.current if progress else None, 1)
            return Progress(
                current=int(current) if current == int(current) else current
            )
        case RecordField.RATING:
            if (
                numeric is None
                or numeric.minimum is None
                or numeric.maximum is None
                or numeric.step is None
            ):
                return None  # the scale is not fully known: leave ratings alone
            low, high, step = numeric.minimum, numeric.maximum, numeric.step
            return Rating(_numeric(numeric, (low + high) / 2), (low, high, step))
        case RecordField.STARTED_AT | RecordField.FINISHED_AT:
            return KIT_TIME
        case RecordField.LAST_ACTIVITY_AT:
            return KIT_TIME
        case RecordField.REPEAT_COUNT:
            return int(_numeric(numeric, 1))
        case RecordField.NOTES:
            text = next(
                (c for c in spec.constraints if isinstance(c, TextConstraint)), None
            )
            limit = text.max_length if text and text.max_length is not None else 64
            return "AniBridge conformance kit"[:limit]
    return None


def default_record_write(caps: Capabilities, ref: Ref) -> UpsertRecord:
    """An upsert of every writable field with a value its constraints accept."""
    values: dict[RecordField, Value] = {}
    for name, spec in caps.record_fields.items():
        if spec.writable:
            value = _sample_value(spec)
            if value is not None:
                values[name] = value
    kind = caps.record_kinds[0].native if caps.record_kinds else ""
    return UpsertRecord(ref=ref, kind=kind, set=values)


def default_sample_event(caps: Capabilities, ref: Ref) -> AppendEvent | None:
    """A first-declared-kind event on `ref` at `KIT_TIME`, or None without kinds."""
    if not caps.event_kinds:
        return None
    return AppendEvent(ref=ref, kind=caps.event_kinds[0].native, at=KIT_TIME)


class ProviderContractTests:
    """Contract checks every provider must pass; subclass it in a provider's tests.

    Fixtures to supply:

    - `make_provider` (required): a zero-argument callable returning a fresh,
      *uninitialized* provider. It may depend on other fixtures (a fake HTTP server
      on loopback, a temporary database) and may return an object whose
      `initialize()` talks to them.

    Fixtures that may be overridden:

    - `provider`: the initialized provider the checks use (async; default: calls
      `make_provider()`, awaits `initialize()`, closes it afterwards).
    - `sample_refs`: refs that exist (default: the first few from `scan`, else
      `fetch_nodes`). Node, record, mapping and search checks use them.
    - `search_text`: text `search_nodes` should find something for (default: the
      title of the first sample node; `None` skips the search check).
    - `writable_ref`: a ref the kit may write to (default `None`: write checks skip).
      The kit upserts a record there and appends/deletes events at `KIT_TIME`.
    - `sample_record_write`: an `UpsertRecord` that must succeed (default: every
      writable field with a value its constraints accept, on `writable_ref`).
    - `sample_event`: an `AppendEvent` that must succeed and is appended twice to
      check idempotency (default: the first declared event kind on `writable_ref`
      at `KIT_TIME`).

    Every check skips, with the reason, when the provider lacks the mixin or the
    fixture it needs. A broken rule raises `ContractViolation` (see
    `anibridge.provider.validate.Rule`).
    """

    pytestmark = pytest.mark.asyncio

    # -- fixtures -------------------------------------------------------------------

    @pytest.fixture
    def make_provider(self) -> Callable[[], Provider]:
        """Supplied by the subclass."""
        pytest.fail(
            "a ProviderContractTests subclass must define a `make_provider` fixture"
        )

    @pytest_asyncio.fixture
    async def provider(
        self, make_provider: Callable[[], Provider]
    ) -> AsyncIterator[Provider]:
        """An initialized provider, closed after the test."""
        instance = make_provider()
        await instance.initialize()
        try:
            yield instance
        finally:
            await instance.close()

    @pytest_asyncio.fixture
    async def sample_refs(self, provider: Provider) -> tuple[Ref, ...]:
        """Refs that exist, discovered through the provider."""
        return await discover_sample_refs(provider)

    @pytest_asyncio.fixture
    async def search_text(
        self, provider: Provider, sample_refs: tuple[Ref, ...]
    ) -> str | None:
        """The title of the first sample node, if it has one."""
        if not sample_refs or not isinstance(provider, SupportsNodeReads):
            return None
        page = await provider.fetch_nodes(NodeQuery(refs=sample_refs[:1]))
        return next((n.title for n in page.items if n.title), None)

    @pytest.fixture
    def writable_ref(self) -> Ref | None:
        """No writes unless the subclass names a ref the kit may write to."""
        return None

    @pytest.fixture
    def sample_record_write(
        self, provider: Provider, writable_ref: Ref | None
    ) -> UpsertRecord | None:
        """Every writable field on `writable_ref`."""
        if writable_ref is None:
            return None
        return default_record_write(provider.capabilities(), writable_ref)

    @pytest.fixture
    def sample_event(
        self, provider: Provider, writable_ref: Ref | None
    ) -> AppendEvent | None:
        """The first declared event kind on `writable_ref` at `KIT_TIME`."""
        if writable_ref is None:
            return None
        return default_sample_event(provider.capabilities(), writable_ref)

    # -- provider-level rules -------------------------------------------------------

    async def test_account_is_none_until_initialized(
        self, make_provider: Callable[[], Provider]
    ) -> None:
        """`account()` is None before `initialize()` and an Account after it."""
        instance = make_provider()
        try:
            before = instance.account()
            if before is not None:
                raise ContractViolation(
                    _name(instance),
                    before,
                    Rule.ACCOUNT,
                    "account() must be None before initialize()",
                )
            await instance.initialize()
            validate_account(_name(instance), instance.account())
        finally:
            await instance.close()

    async def test_capabilities_agree_with_mixins(self, provider: Provider) -> None:
        """Roles, mixins, write ops and vocabularies agree."""
        validate_capabilities(_name(provider), provider)

    # -- node reads -----------------------------------------------------------------

    async def test_scan_pages_are_valid_and_terminate(self, provider: Provider) -> None:
        """A full scan, paged small: valid items, no duplicates, a matching total."""
        _require(provider, SupportsScan)
        assert isinstance(provider, SupportsScan)
        name, caps = _name(provider), provider.capabilities()
        query = ScanQuery(facets=caps.facets, fields=_readable_fields(caps))

        async def fetch(cursor: str | None, limit: int | None) -> Page[ScanItem]:
            return await provider.scan(
                ScanQuery(
                    facets=query.facets, fields=query.fields, cursor=cursor, limit=limit
                )
            )

        def check(limit: int | None) -> Callable[[Page[ScanItem]], None]:
            return lambda page: validate_page(
                name,
                page,
                facets=query.facets,
                fields=query.fields,
                capabilities=caps,
                limit=limit,
            )

        paged = await collect_pages(
            name, lambda c: fetch(c, _PAGE), validate=check(_PAGE)
        )
        whole = await collect_pages(
            name, lambda c: fetch(c, None), validate=check(None)
        )
        if {item_identity(i) for i in paged} != {item_identity(i) for i in whole}:
            raise ContractViolation(
                name,
                paged,
                Rule.NO_DUPLICATES,
                f"paging by {_PAGE} yields other items than an unpaged scan",
            )

    async def test_scan_hydrates_only_requested(self, provider: Provider) -> None:
        """Scan returns only the requested facets, fields, records and kinds."""
        _require(provider, SupportsScan)
        assert isinstance(provider, SupportsScan)
        name, caps = _name(provider), provider.capabilities()
        queries = [ScanQuery(with_records=False, limit=5)]
        queries += [
            ScanQuery(facets=frozenset({facet}), fields=frozenset(), limit=5)
            for facet in caps.facets
        ]
        queries += [
            ScanQuery(fields=frozenset({f}), require_activity=True, limit=5)
            for f in _readable_fields(caps)
        ]
        queries += [
            ScanQuery(native_node_kinds=(d.native,), with_records=False, limit=5)
            for d in caps.node_kinds
        ]
        queries += [
            ScanQuery(native_record_kinds=frozenset({d.native}), limit=5)
            for d in caps.record_kinds
        ]
        for query in queries:
            page = await provider.scan(query)
            validate_page(
                name,
                page,
                facets=query.facets,
                fields=query.fields,
                capabilities=caps,
                limit=query.limit,
                with_records=query.with_records,
                native_record_kinds=query.native_record_kinds,
                native_kinds=query.native_node_kinds,
            )

    async def test_fetch_nodes(
        self, provider: Provider, sample_refs: tuple[Ref, ...]
    ) -> None:
        """Nodes by ref: each projection honoured, paging by one terminates."""
        _require(provider, SupportsNodeReads)
        assert isinstance(provider, SupportsNodeReads)
        if not sample_refs:
            pytest.skip("no sample_refs to fetch")
        name, caps = _name(provider), provider.capabilities()
        for facets in (
            caps.facets,
            frozenset(),
            *(frozenset({f}) for f in caps.facets),
        ):
            page = await provider.fetch_nodes(
                NodeQuery(refs=sample_refs, facets=facets)
            )
            validate_page(
                name, page, facets=facets, capabilities=caps, refs=sample_refs
            )

        async def fetch(cursor: str | None) -> Page[Node]:
            return await provider.fetch_nodes(
                NodeQuery(refs=sample_refs, cursor=cursor, limit=1)
            )

        await collect_pages(
            name,
            fetch,
            validate=lambda page: validate_page(
                name,
                page,
                facets=frozenset(),
                capabilities=caps,
                limit=1,
                refs=sample_refs,
            ),
        )

    async def test_search_nodes(
        self, provider: Provider, search_text: str | None
    ) -> None:
        """Search respects `limit` and the requested facets."""
        _require(provider, SupportsNodeSearch)
        assert isinstance(provider, SupportsNodeSearch)
        if not search_text:
            pytest.skip("no search_text")
        name, caps = _name(provider), provider.capabilities()
        facets = frozenset({FacetName.TITLES}) & caps.facets
        page = await provider.search_nodes(search_text, limit=3, facets=facets)
        validate_page(name, page, facets=facets, capabilities=caps, limit=3)
        if not page.items:
            pytest.fail(f"search_nodes({search_text!r}) found nothing")

    async def test_resolve_echoes_ids_and_round_trips(
        self, provider: Provider, sample_refs: tuple[Ref, ...]
    ) -> None:
        """Matches echo a requested id; a node's own ids resolve back to it."""
        _require(provider, SupportsMapping)
        assert isinstance(provider, SupportsMapping)
        name, caps = _name(provider), provider.capabilities()
        if FacetName.IDS not in caps.facets or not sample_refs:
            pytest.skip("no IDS facet or no sample_refs to take ids from")
        nodes = await self._nodes_with_ids(provider, sample_refs)
        owned = {
            node.ref: facet.ids
            for node in nodes
            if isinstance(facet := node.facets.get(FacetName.IDS), Identifiers)
            and facet.ids
        }
        if not owned:
            pytest.skip("the sample nodes have no external ids")
        ids: list[ExternalId] = list(
            dict.fromkeys(i for v in owned.values() for i in v)
        )
        unknown = ExternalId("anibridge-kit-unknown", "0")
        matches = await provider.resolve([*ids, unknown])
        validate_matches(name, [*ids, unknown], matches)
        resolved_keys = {m.ref.key for m in matches}
        for ref in owned:
            if ref.key not in resolved_keys:
                raise ContractViolation(
                    name,
                    owned[ref],
                    Rule.MATCH_ECHO,
                    f"none of the IDS of {ref!r} resolve back to its anchor",
                )

    @staticmethod
    async def _nodes_with_ids(
        provider: Provider, refs: tuple[Ref, ...]
    ) -> Sequence[Node]:
        ids = frozenset({FacetName.IDS})
        if isinstance(provider, SupportsNodeReads):
            return (await provider.fetch_nodes(NodeQuery(refs=refs, facets=ids))).items
        if isinstance(provider, SupportsScan):
            scan = ScanQuery(sources=refs, facets=ids, with_records=False)
            return [i.node for i in (await provider.scan(scan)).items]
        pytest.skip("neither SupportsNodeReads nor SupportsScan to read IDS")

    # -- record and event reads -----------------------------------------------------

    async def test_fetch_records(
        self, provider: Provider, sample_refs: tuple[Ref, ...]
    ) -> None:
        """Records: valid values, only requested fields, terminating paging."""
        _require(provider, SupportsRecordReads)
        assert isinstance(provider, SupportsRecordReads)
        name, caps = _name(provider), provider.capabilities()
        readable = _readable_fields(caps)
        projections = [readable, frozenset(), *(frozenset({f}) for f in readable)]
        for fields in projections:
            query = RecordQuery(refs=sample_refs, fields=fields)
            page = await provider.fetch_records(query)
            validate_page(
                name, page, fields=fields, capabilities=caps, refs=sample_refs
            )
        for descriptor in caps.record_kinds:
            kind = (descriptor.native,)
            query = RecordQuery(native_record_kinds=kind, fields=readable)
            page = await provider.fetch_records(query)
            validate_page(
                name, page, fields=readable, capabilities=caps, native_kinds=kind
            )

        async def fetch(cursor: str | None) -> Page[Any]:
            return await provider.fetch_records(
                RecordQuery(fields=readable, cursor=cursor, limit=_PAGE)
            )

        await collect_pages(
            name,
            fetch,
            validate=lambda page: validate_page(
                name, page, fields=readable, capabilities=caps, limit=_PAGE
            ),
        )

    async def test_fetch_events(self, provider: Provider) -> None:
        """Events: UTC times, declared kinds, terminating paging without duplicates."""
        _require(provider, SupportsEventReads)
        assert isinstance(provider, SupportsEventReads)
        name, caps = _name(provider), provider.capabilities()

        async def fetch(cursor: str | None) -> Page[Any]:
            return await provider.fetch_events(EventQuery(cursor=cursor, limit=_PAGE))

        await collect_pages(
            name,
            fetch,
            validate=lambda page: validate_page(
                name, page, capabilities=caps, limit=_PAGE
            ),
        )
        for descriptor in caps.event_kinds:
            kind = (descriptor.native,)
            page = await provider.fetch_events(EventQuery(native_event_kinds=kind))
            validate_page(name, page, capabilities=caps, native_kinds=kind)

    async def test_fetch_event_summaries(self, provider: Provider) -> None:
        """Summaries: UTC bounds, declared kinds, terminating paging."""
        _require(provider, SupportsEventSummaries)
        assert isinstance(provider, SupportsEventSummaries)
        name, caps = _name(provider), provider.capabilities()

        async def fetch(cursor: str | None) -> Page[Any]:
            return await provider.fetch_event_summaries(
                EventSummaryQuery(cursor=cursor, limit=_PAGE)
            )

        await collect_pages(
            name,
            fetch,
            validate=lambda page: validate_page(
                name, page, capabilities=caps, limit=_PAGE
            ),
        )

    async def test_poll_changes_drains(self, provider: Provider) -> None:
        """Polling from the start reaches an empty page; every change is valid."""
        _require(provider, SupportsChangeFeed)
        assert isinstance(provider, SupportsChangeFeed)
        name, caps = _name(provider), provider.capabilities()
        cursor: str | None = None
        for _ in range(_MAX_POLLS):
            page = await provider.poll_changes(ChangeQuery(cursor=cursor, limit=_PAGE))
            validate_page(name, page, capabilities=caps, limit=_PAGE)
            if not page.items or page.cursor is None:
                return
            if page.cursor == cursor:
                raise ContractViolation(
                    name,
                    page,
                    Rule.CURSOR_TERMINATES,
                    f"changes were returned but the cursor stayed {cursor!r}",
                )
            cursor = page.cursor
        raise ContractViolation(
            name,
            cursor,
            Rule.CURSOR_TERMINATES,
            f"the change feed did not drain within {_MAX_POLLS} polls",
        )

    # -- writes ---------------------------------------------------------------------

    async def test_record_write_results(
        self, provider: Provider, sample_record_write: UpsertRecord | None
    ) -> None:
        """Results are positional, as many as the writes, echo tokens, carry codes."""
        _require(provider, SupportsRecordWrites)
        assert isinstance(provider, SupportsRecordWrites)
        if sample_record_write is None:
            pytest.skip("no writable_ref / sample_record_write")
        name, caps = _name(provider), provider.capabilities()
        empty = await provider.write_records([])
        validate_write_results(name, [], empty)
        writes: list[RecordWrite] = [
            UpsertRecord(
                ref=sample_record_write.ref,
                kind=sample_record_write.kind,
                key=sample_record_write.key,
                token="kit-upsert",
                expected_revision=sample_record_write.expected_revision,
                set=sample_record_write.set,
                clear=sample_record_write.clear,
            ),
            UpsertRecord(
                ref=Ref("anibridge-kit-missing-anchor"),
                kind=sample_record_write.kind,
                token="kit-missing",
                set=sample_record_write.set,
            ),
            DeleteRecord(key="anibridge-kit-missing-record", token="kit-delete"),
        ]
        results = await provider.write_records(writes)
        validate_write_results(name, writes, results)
        if not results[0].ok:
            pytest.fail(
                f"sample_record_write failed: {results[0].code} {results[0].error}"
            )
        if isinstance(provider, SupportsRecordReads):
            query = RecordQuery(
                refs=(sample_record_write.ref,), fields=_readable_fields(caps)
            )
            page = await provider.fetch_records(query)
            validate_page(name, page, fields=query.fields, capabilities=caps)

    async def test_event_write_results(
        self, provider: Provider, sample_event: AppendEvent | None
    ) -> None:
        """Event write results are positional, echo tokens and carry codes."""
        _require(provider, SupportsEventWrites)
        assert isinstance(provider, SupportsEventWrites)
        if sample_event is None:
            pytest.skip("no writable_ref / sample_event")
        name = _name(provider)
        writes = [
            AppendEvent(
                ref=sample_event.ref,
                kind=sample_event.kind,
                at=sample_event.at,
                token="kit-append",
                metadata=sample_event.metadata,
            ),
            DeleteEvent(key="anibridge-kit-missing-event", token="kit-delete"),
        ]
        results = await provider.write_events(writes)
        validate_write_results(name, writes, results)
        if not results[0].ok:
            pytest.fail(f"sample_event failed: {results[0].code} {results[0].error}")

    async def test_repeated_append_event_is_idempotent(
        self, provider: Provider, sample_event: AppendEvent | None
    ) -> None:
        """A repeated `(ref, kind, at)` append does not create a second event."""
        _require(provider, SupportsEventWrites)
        assert isinstance(provider, SupportsEventWrites)
        if sample_event is None:
            pytest.skip("no writable_ref / sample_event")
        if not isinstance(provider, SupportsEventReads | SupportsEventSummaries):
            pytest.skip("no event reads or summaries to count events with")
        name = _name(provider)
        before = await self._count_events(provider, sample_event)
        for batch in ([sample_event], [sample_event], [sample_event, sample_event]):
            results = await provider.write_events(batch)
            validate_write_results(name, batch, results)
            if not all(r.ok for r in results):
                pytest.fail(f"sample_event failed: {results}")
        after = await self._count_events(provider, sample_event)
        if after - before > 1 or after < 1:
            raise ContractViolation(
                name,
                sample_event,
                Rule.EVENT_IDEMPOTENT,
                f"4 appends of one (ref, kind, at) changed the event count "
                f"from {before} to {after}",
            )

    @staticmethod
    async def _count_events(provider: Provider, event: AppendEvent) -> int:
        name = _name(provider)
        if isinstance(provider, SupportsEventReads):

            async def fetch(cursor: str | None) -> Page[Any]:
                query = EventQuery(
                    refs=(event.ref,), native_event_kinds=(event.kind,), cursor=cursor
                )
                return await provider.fetch_events(query)

            events = await collect_pages(name, fetch)
            return sum(1 for e in events if getattr(e, "at", None) == event.at)
        assert isinstance(provider, SupportsEventSummaries)

        async def summaries(cursor: str | None) -> Page[Any]:
            query = EventSummaryQuery(
                refs=(event.ref,), native_event_kinds=(event.kind,), cursor=cursor
            )
            return await provider.fetch_event_summaries(query)

        total = 0
        for summary in await collect_pages(name, summaries):
            with contextlib.suppress(TypeError):
                total += summary.count or 0  # type: ignore[attr-defined]
        return total
