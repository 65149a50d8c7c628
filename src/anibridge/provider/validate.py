"""Runtime guard for everything a provider hands to AniBridge.

The type system cannot express most of the contract's promises (UTC datetimes, no
`None` record values, projections honoured, kinds advertised, positional write
results, terminating cursors). The engine runs these checks on every object a provider
returns, and the conformance kit (`anibridge.provider.testing`) reuses them, so each
rule lives in exactly one place. A broken promise raises `ContractViolation`, which
names the provider, the offending object and the rule, so a user's data is never
planned from a malformed snapshot.

Every function takes `provider_name` first (used only in the error message) and the
optional request context (`facets`, `fields`, `capabilities`, ...). A context argument
left as `None` disables the checks that need it.
"""

from __future__ import annotations

from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Hashable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from anibridge.provider.base import (
    Account,
    AppendEvent,
    Artwork,
    Capabilities,
    ChangeKind,
    DeleteEvent,
    DeleteRecord,
    Descriptor,
    Event,
    EventChange,
    EventSummary,
    ExternalId,
    FacetName,
    Identifiers,
    Match,
    Metadata,
    Node,
    NodeChange,
    Page,
    Progress,
    Provider,
    Rating,
    Record,
    RecordChange,
    RecordField,
    Ref,
    Role,
    ScanItem,
    State,
    Status,
    Step,
    Structure,
    SupportsEventReads,
    SupportsEventSummaries,
    SupportsEventWrites,
    SupportsRecordReads,
    SupportsRecordWrites,
    SupportsScan,
    Titles,
    UpsertRecord,
    WriteError,
    WriteOp,
    WriteResult,
)

__all__ = [
    "ContractViolation",
    "PageTracker",
    "Rule",
    "check_utc",
    "collect_pages",
    "item_identity",
    "validate_account",
    "validate_capabilities",
    "validate_change",
    "validate_changes",
    "validate_event",
    "validate_event_summaries",
    "validate_event_summary",
    "validate_events",
    "validate_matches",
    "validate_node",
    "validate_nodes",
    "validate_page",
    "validate_record",
    "validate_records",
    "validate_scan_item",
    "validate_value",
    "validate_write_results",
    "write_op_of",
]


class Rule(StrEnum):
    """Stable names of the contract rules a provider can break."""

    OBJECT_TYPE = "object-type"  # a method returned the wrong kind of object
    UTC_DATETIME = "utc-datetime"  # every datetime is timezone-aware UTC
    NONE_VALUE = "no-none-value"  # a record field is unset by absence, never None
    VALUE_TYPE = "value-type"  # a record value has the type its RecordField fixes
    REQUESTED_FACETS = "requested-facets-only"
    REQUESTED_FIELDS = "requested-fields-only"
    REQUESTED_ITEMS = "requested-items-only"  # query filters (refs, kinds, records)
    DECLARED_KINDS = "declared-kinds"  # native node/record/event kinds advertised
    DECLARED_FACETS = "declared-facets"
    DECLARED_FIELDS = "declared-fields"
    DECLARED_STATUS = "declared-status-values"
    DECLARED_AUTHORITIES = "declared-authorities"
    DECLARED_CHANGE_KINDS = "declared-change-kinds"
    PAGE_LIMIT = "page-limit"  # no more items than `limit`
    PAGE_TOTAL = "page-total"  # `total`, when given, matches what paging yields
    CURSOR_TERMINATES = "cursor-terminates"
    NO_DUPLICATES = "no-duplicates"
    WRITE_RESULT_COUNT = "write-result-count"  # one result per input
    WRITE_RESULT_OP = "write-result-op"  # result op matches the input's op
    WRITE_TOKEN = "write-token-echo"
    WRITE_ERROR_CODE = "write-error-code"  # failures carry a WriteError code
    ROLES_MIXINS = "roles-mixins-write-ops"  # roles, mixins and write_ops agree
    MATCH_ECHO = "match-echoes-id"  # resolve matches echo a requested id
    EVENT_IDEMPOTENT = "event-append-idempotent"  # repeated (ref, kind, at) is one
    ACCOUNT = "account-lifecycle"  # None before initialize(), an Account after


def _describe(obj: object) -> str:
    try:
        text = repr(obj)
    except Exception:  # a malformed object must still produce a violation
        text = f"<unrepresentable {type(obj).__name__}>"
    return text if len(text) <= 160 else text[:157] + "..."


class ContractViolation(Exception):
    """A provider returned something the contract forbids.

    Attributes:
        provider: Name of the provider that broke the rule.
        obj: The offending object (a node, record, page, result, ...).
        rule: Which rule was broken.
        detail: What exactly was wrong, in words.
    """

    def __init__(self, provider: str, obj: object, rule: Rule, detail: str) -> None:
        """Build the violation and its human-readable message."""
        self.provider = provider
        self.obj = obj
        self.rule = rule
        self.detail = detail
        super().__init__(
            f"provider {provider!r} broke contract rule {rule.value!r}: {detail} "
            f"(in {type(obj).__name__} {_describe(obj)})"
        )


# --------------------------------------------------------------------------------------
# Scalars and record values
# --------------------------------------------------------------------------------------

_UTC_ZONE_KEYS = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Zulu", "Zulu"})


def _is_utc(value: datetime) -> bool:
    tz = value.tzinfo
    if tz is None or value.utcoffset() != timedelta(0):
        return False
    if isinstance(tz, timezone):
        return True
    return isinstance(tz, ZoneInfo) and tz.key in _UTC_ZONE_KEYS


def check_utc(provider_name: str, obj: object, value: object, where: str) -> None:
    """Require `value` (found at `where` in `obj`) to be an aware UTC datetime.

    Raises:
        ContractViolation: `value` is not a datetime, is naive, or is not UTC.
    """
    if not isinstance(value, datetime):
        raise ContractViolation(
            provider_name, obj, Rule.VALUE_TYPE, f"{where} must be a datetime"
        )
    if not _is_utc(value):
        state = "naive" if value.tzinfo is None else f"in {value.tzinfo}"
        raise ContractViolation(
            provider_name,
            obj,
            Rule.UTC_DATETIME,
            f"{where} is {state}; datetimes must be timezone-aware UTC",
        )


def _optional_utc(provider_name: str, obj: object, value: object, where: str) -> None:
    if value is not None:
        check_utc(provider_name, obj, value, where)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_value(
    provider_name: str, obj: object, record_field: RecordField, value: object
) -> None:
    """Check one record value against the type its `RecordField` fixes.

    Raises:
        ContractViolation: the value is `None`, of the wrong type, or a naive datetime.
    """
    where = f"values[{record_field.value}]"
    if value is None:
        raise ContractViolation(
            provider_name,
            obj,
            Rule.NONE_VALUE,
            f"{where} is None; unset fields must be absent",
        )

    def bad(expected: str) -> ContractViolation:
        return ContractViolation(
            provider_name,
            obj,
            Rule.VALUE_TYPE,
            f"{where} must be {expected}, got {type(value).__name__}",
        )

    match record_field:
        case RecordField.STATUS:
            if not isinstance(value, State):
                raise bad("a State")
            if value.native is None and value.status is None:
                raise bad("a State with a native label or a Status")
            if value.native is not None and not isinstance(value.native, str):
                raise bad("a State whose native label is a str")
            if value.status is not None and not isinstance(value.status, Status):
                raise bad("a State whose status is a Status")
        case RecordField.PROGRESS:
            if not isinstance(value, Progress):
                raise bad("a Progress")
            for name in ("current", "total"):
                part = getattr(value, name)
                if part is not None and not _is_number(part):
                    raise bad(f"a Progress whose {name} is a number")
            if value.unit is not None and not isinstance(value.unit, str):
                raise bad("a Progress whose unit is a str")
        case RecordField.RATING:
            if not isinstance(value, Rating):
                raise bad("a Rating")
            scale = value.scale
            if (
                not _is_number(value.value)
                or not isinstance(scale, tuple)
                or len(scale) != 3
                or not all(_is_number(x) for x in scale)
            ):
                raise bad("a Rating with a numeric value and a (min, max, step) scale")
            if not scale[0] <= value.value <= scale[1]:
                raise bad(f"a Rating within its scale {scale}")
        case (
            RecordField.STARTED_AT
            | RecordField.FINISHED_AT
            | RecordField.LAST_ACTIVITY_AT
        ):
            check_utc(provider_name, obj, value, where)
        case RecordField.REPEAT_COUNT:
            if not isinstance(value, int) or isinstance(value, bool):
                raise bad("an int")
        case RecordField.NOTES:
            if not isinstance(value, str):
                raise bad("a str")


# --------------------------------------------------------------------------------------
# Vocabulary helpers
# --------------------------------------------------------------------------------------


def _natives(descriptors: Iterable[Descriptor[Any]]) -> frozenset[str]:
    return frozenset(d.native for d in descriptors)


def _check_kind(
    provider_name: str,
    obj: object,
    what: str,
    kind: object,
    declared: tuple[Descriptor[Any], ...],
) -> None:
    if not isinstance(kind, str):
        raise ContractViolation(
            provider_name, obj, Rule.VALUE_TYPE, f"{what} kind must be a str"
        )
    if kind not in _natives(declared):
        raise ContractViolation(
            provider_name,
            obj,
            Rule.DECLARED_KINDS,
            f"native {what} kind {kind!r} is not declared in capabilities() "
            f"(declared: {sorted(_natives(declared))})",
        )


def _check_ref(provider_name: str, obj: object, ref: object, where: str) -> None:
    if not isinstance(ref, Ref) or not isinstance(ref.key, str):
        raise ContractViolation(
            provider_name, obj, Rule.OBJECT_TYPE, f"{where} must be a Ref"
        )
    for step in ref.path:
        if not isinstance(step, Step):
            raise ContractViolation(
                provider_name, obj, Rule.OBJECT_TYPE, f"{where}.path must hold Steps"
            )


# --------------------------------------------------------------------------------------
# Nodes
# --------------------------------------------------------------------------------------

_FACET_TYPES: Mapping[FacetName, type] = {
    FacetName.TITLES: Titles,
    FacetName.ARTWORK: Artwork,
    FacetName.IDS: Identifiers,
    FacetName.STRUCTURE: Structure,
    FacetName.METADATA: Metadata,
}


def validate_node(
    provider_name: str,
    node: object,
    *,
    facets: Collection[FacetName] | None = None,
    capabilities: Capabilities | None = None,
) -> None:
    """Check one node: its ref, kind, facets and their types.

    Args:
        provider_name: Provider named in a violation.
        node: What the provider returned as a node.
        facets: The facets the query asked for; others must be absent.
        capabilities: The provider's capabilities; kinds/facets must be declared.

    Raises:
        ContractViolation: the node breaks a rule.
    """
    if not isinstance(node, Node):
        raise ContractViolation(
            provider_name, node, Rule.OBJECT_TYPE, "expected a Node"
        )
    _check_ref(provider_name, node, node.ref, "ref")
    if capabilities is not None:
        _check_kind(provider_name, node, "node", node.kind, capabilities.node_kinds)
    for name, facet in node.facets.items():
        if not isinstance(name, FacetName):
            raise ContractViolation(
                provider_name, node, Rule.VALUE_TYPE, f"facet key {name!r} is unknown"
            )
        if facets is not None and name not in facets:
            raise ContractViolation(
                provider_name,
                node,
                Rule.REQUESTED_FACETS,
                f"facet {name.value!r} was hydrated but not requested "
                f"(requested: {sorted(f.value for f in facets)})",
            )
        if capabilities is not None and name not in capabilities.facets:
            raise ContractViolation(
                provider_name,
                node,
                Rule.DECLARED_FACETS,
                f"facet {name.value!r} is not declared in capabilities().facets",
            )
        if not isinstance(facet, _FACET_TYPES[name]):
            raise ContractViolation(
                provider_name,
                node,
                Rule.VALUE_TYPE,
                f"facet {name.value!r} must be a {_FACET_TYPES[name].__name__}",
            )
        if isinstance(facet, Identifiers):
            _check_ids(provider_name, node, facet.ids, capabilities)


def _check_ids(
    provider_name: str,
    obj: object,
    ids: Iterable[object],
    capabilities: Capabilities | None,
) -> None:
    for external_id in ids:
        if not isinstance(external_id, ExternalId):
            raise ContractViolation(
                provider_name, obj, Rule.VALUE_TYPE, "ids must be ExternalIds"
            )
        if (
            capabilities is not None
            and external_id.authority not in capabilities.external_authorities
        ):
            raise ContractViolation(
                provider_name,
                obj,
                Rule.DECLARED_AUTHORITIES,
                f"authority {external_id.authority!r} of {external_id.descriptor!r} "
                "is not declared in capabilities().external_authorities",
            )


def validate_nodes(
    provider_name: str,
    nodes: Iterable[object],
    *,
    facets: Collection[FacetName] | None = None,
    capabilities: Capabilities | None = None,
) -> None:
    """Check several nodes (see `validate_node`).

    Raises:
        ContractViolation: a node breaks a rule.
    """
    for node in nodes:
        validate_node(provider_name, node, facets=facets, capabilities=capabilities)


# --------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------


def validate_record(
    provider_name: str,
    record: object,
    *,
    fields: Collection[RecordField] | None = None,
    capabilities: Capabilities | None = None,
) -> None:
    """Check one record: UTC datetimes, no `None`, value types, projection, kinds.

    Args:
        provider_name: Provider named in a violation.
        record: What the provider returned as a record.
        fields: The fields the query asked for; others must be absent.
        capabilities: The provider's capabilities; kinds/fields must be declared.

    Raises:
        ContractViolation: the record breaks a rule.
    """
    if not isinstance(record, Record):
        raise ContractViolation(
            provider_name, record, Rule.OBJECT_TYPE, "expected a Record"
        )
    _check_ref(provider_name, record, record.ref, "ref")
    _optional_utc(provider_name, record, record.updated_at, "updated_at")
    if capabilities is not None:
        _check_kind(
            provider_name, record, "record", record.kind, capabilities.record_kinds
        )
        _check_ids(provider_name, record, record.ids, capabilities)
    for name, value in record.values.items():
        if not isinstance(name, RecordField):
            raise ContractViolation(
                provider_name,
                record,
                Rule.VALUE_TYPE,
                f"value key {name!r} is not a RecordField",
            )
        if fields is not None and name not in fields:
            raise ContractViolation(
                provider_name,
                record,
                Rule.REQUESTED_FIELDS,
                f"field {name.value!r} was hydrated but not requested "
                f"(requested: {sorted(f.value for f in fields)})",
            )
        validate_value(provider_name, record, name, value)
        if capabilities is None:
            continue
        spec = capabilities.record_fields.get(name)
        if spec is None or not spec.readable:
            raise ContractViolation(
                provider_name,
                record,
                Rule.DECLARED_FIELDS,
                f"field {name.value!r} is not declared readable in "
                "capabilities().record_fields",
            )
        if isinstance(value, State) and value.native is not None:
            declared = {d.native: d.semantic for d in spec.values}
            if value.native not in declared:
                raise ContractViolation(
                    provider_name,
                    record,
                    Rule.DECLARED_STATUS,
                    f"status label {value.native!r} is not declared in the STATUS "
                    f"FieldSpec values (declared: {sorted(declared)})",
                )
            if value.status is not None and declared[value.native] != value.status:
                raise ContractViolation(
                    provider_name,
                    record,
                    Rule.DECLARED_STATUS,
                    f"status label {value.native!r} is declared as "
                    f"{declared[value.native]!r} but returned as {value.status!r}",
                )


def validate_records(
    provider_name: str,
    records: Iterable[object],
    *,
    fields: Collection[RecordField] | None = None,
    capabilities: Capabilities | None = None,
) -> None:
    """Check several records (see `validate_record`).

    Raises:
        ContractViolation: a record breaks a rule.
    """
    for record in records:
        validate_record(provider_name, record, fields=fields, capabilities=capabilities)


# --------------------------------------------------------------------------------------
# Events, summaries, changes
# --------------------------------------------------------------------------------------


def validate_event(
    provider_name: str, event: object, *, capabilities: Capabilities | None = None
) -> None:
    """Check one event: UTC `at` and a declared kind.

    Raises:
        ContractViolation: the event breaks a rule.
    """
    if not isinstance(event, Event):
        raise ContractViolation(
            provider_name, event, Rule.OBJECT_TYPE, "expected an Event"
        )
    _check_ref(provider_name, event, event.ref, "ref")
    check_utc(provider_name, event, event.at, "at")
    if capabilities is not None:
        _check_kind(provider_name, event, "event", event.kind, capabilities.event_kinds)


def validate_events(
    provider_name: str,
    events: Iterable[object],
    *,
    capabilities: Capabilities | None = None,
) -> None:
    """Check several events (see `validate_event`).

    Raises:
        ContractViolation: an event breaks a rule.
    """
    for event in events:
        validate_event(provider_name, event, capabilities=capabilities)


def validate_event_summary(
    provider_name: str, summary: object, *, capabilities: Capabilities | None = None
) -> None:
    """Check one event summary: UTC bounds in order, a sane count, a declared kind.

    Raises:
        ContractViolation: the summary breaks a rule.
    """
    if not isinstance(summary, EventSummary):
        raise ContractViolation(
            provider_name, summary, Rule.OBJECT_TYPE, "expected an EventSummary"
        )
    _check_ref(provider_name, summary, summary.ref, "ref")
    _optional_utc(provider_name, summary, summary.first_at, "first_at")
    _optional_utc(provider_name, summary, summary.last_at, "last_at")
    if summary.count is not None and (
        not isinstance(summary.count, int)
        or isinstance(summary.count, bool)
        or summary.count < 0
    ):
        raise ContractViolation(
            provider_name, summary, Rule.VALUE_TYPE, "count must be an int >= 0"
        )
    if (
        summary.first_at is not None
        and summary.last_at is not None
        and summary.first_at > summary.last_at
    ):
        raise ContractViolation(
            provider_name, summary, Rule.VALUE_TYPE, "first_at is after last_at"
        )
    if capabilities is not None:
        _check_kind(
            provider_name, summary, "event", summary.kind, capabilities.event_kinds
        )


def validate_event_summaries(
    provider_name: str,
    summaries: Iterable[object],
    *,
    capabilities: Capabilities | None = None,
) -> None:
    """Check several event summaries (see `validate_event_summary`).

    Raises:
        ContractViolation: a summary breaks a rule.
    """
    for summary in summaries:
        validate_event_summary(provider_name, summary, capabilities=capabilities)


_CHANGE_KINDS: Mapping[type, ChangeKind] = {
    NodeChange: ChangeKind.NODE,
    RecordChange: ChangeKind.RECORD,
    EventChange: ChangeKind.EVENT,
}


def validate_change(
    provider_name: str, change: object, *, capabilities: Capabilities | None = None
) -> None:
    """Check one change: a target, a UTC `at`, declared change and native kinds.

    Raises:
        ContractViolation: the change breaks a rule.
    """
    change_kind = _CHANGE_KINDS.get(type(change))
    if change_kind is None or not isinstance(
        change, NodeChange | RecordChange | EventChange
    ):
        raise ContractViolation(
            provider_name,
            change,
            Rule.OBJECT_TYPE,
            "expected a NodeChange, RecordChange or EventChange",
        )
    if change.ref is None and change.key is None:
        raise ContractViolation(
            provider_name, change, Rule.VALUE_TYPE, "a change needs a ref or a key"
        )
    if change.ref is not None:
        _check_ref(provider_name, change, change.ref, "ref")
    _optional_utc(provider_name, change, change.at, "at")
    if capabilities is None:
        return
    if change_kind not in capabilities.change_kinds:
        raise ContractViolation(
            provider_name,
            change,
            Rule.DECLARED_CHANGE_KINDS,
            f"change kind {change_kind.value!r} is not declared in "
            "capabilities().change_kinds",
        )
    # An empty kind on a change means "unknown"; only named kinds must be declared.
    if isinstance(change, RecordChange) and change.kind:
        _check_kind(
            provider_name, change, "record", change.kind, capabilities.record_kinds
        )
    if isinstance(change, EventChange) and change.kind:
        _check_kind(
            provider_name, change, "event", change.kind, capabilities.event_kinds
        )


def validate_changes(
    provider_name: str,
    changes: Iterable[object],
    *,
    capabilities: Capabilities | None = None,
) -> None:
    """Check several changes (see `validate_change`).

    Raises:
        ContractViolation: a change breaks a rule.
    """
    for change in changes:
        validate_change(provider_name, change, capabilities=capabilities)


# --------------------------------------------------------------------------------------
# Scan items, matches, pages
# --------------------------------------------------------------------------------------


def _under(ref: Ref, root: Ref) -> bool:
    return ref.key == root.key and ref.path[: len(root.path)] == root.path


def validate_scan_item(
    provider_name: str,
    item: object,
    *,
    facets: Collection[FacetName] | None = None,
    fields: Collection[RecordField] | None = None,
    capabilities: Capabilities | None = None,
    with_records: bool = True,
    native_record_kinds: Collection[str] = (),
) -> None:
    """Check one scan item: its node, and records only when and as requested.

    Raises:
        ContractViolation: the item breaks a rule.
    """
    if not isinstance(item, ScanItem):
        raise ContractViolation(
            provider_name, item, Rule.OBJECT_TYPE, "expected a ScanItem"
        )
    validate_node(provider_name, item.node, facets=facets, capabilities=capabilities)
    if item.records and not with_records:
        raise ContractViolation(
            provider_name,
            item,
            Rule.REQUESTED_ITEMS,
            "records were returned although with_records=False",
        )
    for record in item.records:
        validate_record(provider_name, record, fields=fields, capabilities=capabilities)
        assert isinstance(record, Record)  # for the type checker; checked above
        if native_record_kinds and record.kind not in native_record_kinds:
            raise ContractViolation(
                provider_name,
                record,
                Rule.REQUESTED_ITEMS,
                f"record kind {record.kind!r} was not requested",
            )
        if not _under(record.ref, item.node.ref):
            raise ContractViolation(
                provider_name,
                item,
                Rule.REQUESTED_ITEMS,
                f"record ref {record.ref!r} is not at or below node {item.node.ref!r}",
            )


def validate_matches(
    provider_name: str,
    ids: Collection[ExternalId],
    matches: object,
) -> None:
    """Check `resolve` output: matches echo a requested id and score in [0, 1].

    Raises:
        ContractViolation: a match breaks a rule.
    """
    if isinstance(matches, str | bytes) or not isinstance(matches, Sequence):
        raise ContractViolation(
            provider_name, matches, Rule.OBJECT_TYPE, "resolve must return a sequence"
        )
    requested = set(ids)
    for match in matches:
        if not isinstance(match, Match):
            raise ContractViolation(
                provider_name, match, Rule.OBJECT_TYPE, "expected a Match"
            )
        _check_ref(provider_name, match, match.ref, "ref")
        if match.external_id not in requested:
            raise ContractViolation(
                provider_name,
                match,
                Rule.MATCH_ECHO,
                f"{match.external_id!r} was not among the ids to resolve",
            )
        if match.confidence is not None and not 0.0 <= match.confidence <= 1.0:
            raise ContractViolation(
                provider_name, match, Rule.VALUE_TYPE, "confidence must be in [0, 1]"
            )


def validate_page(
    provider_name: str,
    page: object,
    *,
    facets: Collection[FacetName] | None = None,
    fields: Collection[RecordField] | None = None,
    capabilities: Capabilities | None = None,
    limit: int | None = None,
    with_records: bool = True,
    native_record_kinds: Collection[str] = (),
    refs: Collection[Ref] = (),
    native_kinds: Collection[str] = (),
) -> None:
    """Check one page and every item in it, whatever the item type.

    Args:
        provider_name: Provider named in a violation.
        page: What the provider returned as a page.
        facets: Requested node facets (nodes and scan items).
        fields: Requested record fields (records and scan items).
        capabilities: The provider's capabilities (declared kinds/facets/fields).
        limit: The query's `limit`; a page may not hold more items.
        with_records: The scan query's `with_records`.
        native_record_kinds: The scan query's record kind filter.
        refs: The query's `refs` filter; returned nodes/records/events must be among
            them when it is not empty.
        native_kinds: The query's native kind filter (`native_node_kinds` for nodes
            and scan items, `native_record_kinds` for records, `native_event_kinds`
            for events and summaries); returned kinds must be among them when given.

    Raises:
        ContractViolation: the page or an item breaks a rule.
    """
    if not isinstance(page, Page) or not isinstance(page.items, tuple):
        raise ContractViolation(
            provider_name, page, Rule.OBJECT_TYPE, "expected a Page with a tuple"
        )
    if page.cursor is not None and not isinstance(page.cursor, str):
        raise ContractViolation(
            provider_name, page, Rule.OBJECT_TYPE, "cursor must be a str or None"
        )
    if page.total is not None and (
        not isinstance(page.total, int) or page.total < len(page.items)
    ):
        raise ContractViolation(
            provider_name,
            page,
            Rule.PAGE_TOTAL,
            f"total={page.total!r} is less than the {len(page.items)} items returned",
        )
    if limit is not None and len(page.items) > limit:
        raise ContractViolation(
            provider_name,
            page,
            Rule.PAGE_LIMIT,
            f"{len(page.items)} items returned for limit={limit}",
        )
    wanted = set(refs)
    kinds = set(native_kinds)
    for item in page.items:
        if isinstance(item, ScanItem):
            validate_scan_item(
                provider_name,
                item,
                facets=facets,
                fields=fields,
                capabilities=capabilities,
                with_records=with_records,
                native_record_kinds=native_record_kinds,
            )
            _check_filtered_kind(provider_name, item.node, kinds)
            continue
        if isinstance(item, Node):
            validate_node(provider_name, item, facets=facets, capabilities=capabilities)
        elif isinstance(item, Record):
            validate_record(
                provider_name, item, fields=fields, capabilities=capabilities
            )
        elif isinstance(item, Event):
            validate_event(provider_name, item, capabilities=capabilities)
        elif isinstance(item, EventSummary):
            validate_event_summary(provider_name, item, capabilities=capabilities)
        else:
            validate_change(provider_name, item, capabilities=capabilities)
            continue
        if wanted and item.ref not in wanted:
            raise ContractViolation(
                provider_name,
                item,
                Rule.REQUESTED_ITEMS,
                f"ref {item.ref!r} was not among the requested refs",
            )
        _check_filtered_kind(provider_name, item, kinds)


def _check_filtered_kind(provider_name: str, item: object, kinds: set[str]) -> None:
    kind = getattr(item, "kind", None)
    if kinds and kind not in kinds:
        raise ContractViolation(
            provider_name,
            item,
            Rule.REQUESTED_ITEMS,
            f"native kind {kind!r} was filtered out by the query "
            f"(requested: {sorted(kinds)})",
        )


# --------------------------------------------------------------------------------------
# Paging
# --------------------------------------------------------------------------------------


def item_identity(item: object) -> Hashable:
    """What makes a paged item the same item, for duplicate detection."""
    match item:
        case ScanItem(node=node):
            return ("node", node.ref)
        case Node(ref=ref):
            return ("node", ref)
        case Record(key=key, ref=ref, kind=kind):
            return ("record", key) if key is not None else ("record", ref, kind)
        case Event(key=key, ref=ref, kind=kind, at=at):
            return ("event", key) if key is not None else ("event", ref, kind, at)
        case EventSummary(ref=ref, kind=kind):
            return ("summary", ref, kind)
        case _:
            return ("object", repr(item))


@dataclass
class PageTracker:
    """Follows a cursor walk and enforces the paging rules as pages arrive.

    Feed every page in order; `feed` returns the cursor to request next, or `None`
    when the walk is over. `finish` checks `total` against what was collected.
    """

    provider_name: str
    max_pages: int = 10_000
    identity: Callable[[object], Hashable] = item_identity
    items: list[object] = field(default_factory=list)
    _seen_items: set[Hashable] = field(default_factory=set)
    _seen_cursors: set[str] = field(default_factory=set)
    _totals: set[int] = field(default_factory=set)
    _pages: int = 0

    def feed(self, page: Page[Any]) -> str | None:
        """Take one page; return the next cursor or `None` at the end.

        Raises:
            ContractViolation: a duplicate item, a repeated cursor, a total that
                changes between pages, or too many pages.
        """
        self._pages += 1
        for item in page.items:
            key = self.identity(item)
            if key in self._seen_items:
                raise ContractViolation(
                    self.provider_name,
                    item,
                    Rule.NO_DUPLICATES,
                    f"item returned twice while paging (page {self._pages})",
                )
            self._seen_items.add(key)
            self.items.append(item)
        if page.total is not None:
            self._totals.add(page.total)
            if len(self._totals) > 1:
                raise ContractViolation(
                    self.provider_name,
                    page,
                    Rule.PAGE_TOTAL,
                    f"total changed between pages: {sorted(self._totals)}",
                )
        cursor = page.cursor
        if cursor is None:
            return None
        if cursor in self._seen_cursors:
            raise ContractViolation(
                self.provider_name,
                page,
                Rule.CURSOR_TERMINATES,
                f"cursor {cursor!r} was returned twice: paging would never end",
            )
        if not page.items:
            raise ContractViolation(
                self.provider_name,
                page,
                Rule.CURSOR_TERMINATES,
                "an empty page must not continue with a cursor",
            )
        if self._pages >= self.max_pages:
            raise ContractViolation(
                self.provider_name,
                page,
                Rule.CURSOR_TERMINATES,
                f"still paging after {self.max_pages} pages",
            )
        self._seen_cursors.add(cursor)
        return cursor

    def finish(self) -> list[object]:
        """End the walk; return every item collected.

        Raises:
            ContractViolation: a page's `total` differs from the items collected.
        """
        if self._totals and len(self.items) not in self._totals:
            total = next(iter(self._totals))
            raise ContractViolation(
                self.provider_name,
                Page(items=(), total=total),
                Rule.PAGE_TOTAL,
                f"total={total} but paging yielded {len(self.items)} items",
            )
        return self.items


async def collect_pages[T](
    provider_name: str,
    fetch: Callable[[str | None], Awaitable[Page[T]]],
    *,
    validate: Callable[[Page[T]], None] | None = None,
    max_pages: int = 10_000,
) -> list[T]:
    """Walk a cursor from the start to the end, checking every page on the way.

    Args:
        provider_name: Provider named in a violation.
        fetch: Returns the page for a cursor (`None` for the first page).
        validate: Called on every page before it is accepted (e.g. `validate_page`).
        max_pages: Give up (as a violation) after this many pages.

    Returns:
        Every item, in order.
    """
    tracker = PageTracker(provider_name, max_pages=max_pages)
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        if validate is not None:
            validate(page)
        cursor = tracker.feed(page)
        if cursor is None:
            return tracker.finish()  # type: ignore[return-value]


# --------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------


def write_op_of(write: object) -> WriteOp:
    """The `WriteOp` a write request performs.

    Raises:
        TypeError: `write` is not a contract write request.
    """
    match write:
        case UpsertRecord():
            return WriteOp.UPSERT_RECORD
        case DeleteRecord():
            return WriteOp.DELETE_RECORD
        case AppendEvent():
            return WriteOp.APPEND_EVENT
        case DeleteEvent():
            return WriteOp.DELETE_EVENT
    raise TypeError(f"not a write request: {write!r}")


def validate_write_results(
    provider_name: str, writes: Sequence[object], results: object
) -> None:
    """Check write results: one per input, in order, echoing tokens, coded failures.

    Raises:
        ContractViolation: the results break a rule.
    """
    if isinstance(results, str | bytes) or not isinstance(results, Sequence):
        raise ContractViolation(
            provider_name, results, Rule.OBJECT_TYPE, "expected a sequence of results"
        )
    if len(results) != len(writes):
        raise ContractViolation(
            provider_name,
            results,
            Rule.WRITE_RESULT_COUNT,
            f"{len(results)} results for {len(writes)} writes",
        )
    for index, (write, result) in enumerate(zip(writes, results, strict=True)):
        if not isinstance(result, WriteResult):
            raise ContractViolation(
                provider_name,
                result,
                Rule.OBJECT_TYPE,
                f"result {index} is not a WriteResult",
            )
        expected_op = write_op_of(write)
        if result.op != expected_op:
            raise ContractViolation(
                provider_name,
                result,
                Rule.WRITE_RESULT_OP,
                f"result {index} has op {result.op!r} for a {expected_op.value} write",
            )
        token = getattr(write, "token", None)
        if result.token != token:
            raise ContractViolation(
                provider_name,
                result,
                Rule.WRITE_TOKEN,
                f"result {index} echoes token {result.token!r}, expected {token!r}",
            )
        if not result.ok and not isinstance(result.code, WriteError):
            raise ContractViolation(
                provider_name,
                result,
                Rule.WRITE_ERROR_CODE,
                f"failed result {index} carries no WriteError code",
            )
        if result.ok and result.code is not None:
            raise ContractViolation(
                provider_name,
                result,
                Rule.WRITE_ERROR_CODE,
                f"successful result {index} carries error code {result.code!r}",
            )


# --------------------------------------------------------------------------------------
# Provider-level rules
# --------------------------------------------------------------------------------------

_RECORD_OPS = frozenset({WriteOp.UPSERT_RECORD, WriteOp.DELETE_RECORD})
_EVENT_OPS = frozenset({WriteOp.APPEND_EVENT, WriteOp.DELETE_EVENT})


def validate_capabilities(provider_name: str, provider: Provider) -> Capabilities:
    """Check that roles, mixins, write ops and vocabularies agree.

    `Role.TARGET` holds exactly when the provider has a write mixin; each write mixin
    advertises at least one of its ops and no op lacks its mixin; `Role.SOURCE` needs
    a read mixin (scan, record reads or event reads); each vocabulary lists a native
    at most once; a writable field needs `UPSERT_RECORD`.

    Returns:
        The validated capabilities.

    Raises:
        ContractViolation: something disagrees.
    """
    caps = provider.capabilities()
    if not isinstance(caps, Capabilities):
        raise ContractViolation(
            provider_name, caps, Rule.OBJECT_TYPE, "capabilities() must return one"
        )

    def fail(detail: str) -> ContractViolation:
        return ContractViolation(provider_name, caps, Rule.ROLES_MIXINS, detail)

    record_writes = isinstance(provider, SupportsRecordWrites)
    event_writes = isinstance(provider, SupportsEventWrites)
    if (Role.TARGET in caps.roles) != (record_writes or event_writes):
        raise fail(
            "Role.TARGET must be declared exactly when the provider mixes in "
            "SupportsRecordWrites or SupportsEventWrites"
        )
    for has_mixin, ops, mixin in (
        (record_writes, _RECORD_OPS, "SupportsRecordWrites"),
        (event_writes, _EVENT_OPS, "SupportsEventWrites"),
    ):
        declared = caps.write_ops & ops
        if has_mixin and not declared:
            raise fail(f"{mixin} is mixed in but write_ops lists none of its ops")
        if declared and not has_mixin:
            raise fail(
                f"write_ops lists {sorted(op.value for op in declared)} without {mixin}"
            )
    reads = (SupportsScan, SupportsRecordReads, SupportsEventReads)
    if Role.SOURCE in caps.roles and not isinstance(provider, reads):
        raise fail(
            "Role.SOURCE needs SupportsScan, SupportsRecordReads or SupportsEventReads"
        )
    event_mixins = (SupportsEventReads, SupportsEventSummaries, SupportsEventWrites)
    if isinstance(provider, event_mixins) and not caps.event_kinds:
        raise fail("an event mixin is present but capabilities().event_kinds is empty")
    for what, descriptors in (
        ("node_kinds", caps.node_kinds),
        ("record_kinds", caps.record_kinds),
        ("event_kinds", caps.event_kinds),
    ):
        natives = [d.native for d in descriptors]
        if len(natives) != len(set(natives)):
            raise fail(f"{what} lists a native kind twice: {natives}")
    for name, spec in caps.record_fields.items():
        if spec.field != name:
            raise fail(f"record_fields[{name!r}] holds the spec of {spec.field!r}")
        if spec.writable and WriteOp.UPSERT_RECORD not in caps.write_ops:
            raise fail(f"field {name.value!r} is writable without UPSERT_RECORD")
    return caps


def validate_account(provider_name: str, account: object) -> Account:
    """Check `account()` after `initialize()`: an `Account` with a key.

    Returns:
        The account.

    Raises:
        ContractViolation: no account, or not an `Account`.
    """
    if not isinstance(account, Account) or not account.key:
        raise ContractViolation(
            provider_name,
            account,
            Rule.ACCOUNT,
            "account() must return an Account with a key after initialize()",
        )
    return account
