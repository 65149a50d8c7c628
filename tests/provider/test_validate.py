"""The runtime guard on its own: every rule, including those the kit cannot reach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from anibridge.provider.base import (
    AppendEvent,
    Artwork,
    Capabilities,
    ChangeKind,
    DeleteEvent,
    DeleteRecord,
    Descriptor,
    Event,
    EventChange,
    EventKind,
    EventSummary,
    ExternalId,
    FacetName,
    FieldSpec,
    Identifiers,
    Match,
    Node,
    NodeChange,
    NodeKind,
    Page,
    Progress,
    Rating,
    Record,
    RecordChange,
    RecordField,
    RecordKind,
    Ref,
    ScanItem,
    State,
    Status,
    Titles,
    UpsertRecord,
    WriteError,
    WriteOp,
    WriteResult,
)
from anibridge.provider.validate import (
    ContractViolation,
    PageTracker,
    Rule,
    check_utc,
    collect_pages,
    validate_account,
    validate_change,
    validate_event,
    validate_event_summary,
    validate_matches,
    validate_node,
    validate_page,
    validate_record,
    validate_scan_item,
    validate_value,
    validate_write_results,
    write_op_of,
)

T = datetime(2024, 1, 1, tzinfo=UTC)
CAPS = Capabilities(
    facets=frozenset({FacetName.TITLES, FacetName.IDS}),
    node_kinds=(Descriptor("show", NodeKind.SERIES),),
    record_kinds=(Descriptor("", RecordKind.PROGRESS),),
    record_fields={
        RecordField.STATUS: FieldSpec(
            RecordField.STATUS, values=(Descriptor("CURRENT", Status.ACTIVE),)
        ),
        RecordField.NOTES: FieldSpec(RecordField.NOTES, readable=False),
        RecordField.PROGRESS: FieldSpec(RecordField.PROGRESS),
    },
    event_kinds=(Descriptor("play", EventKind.PLAY),),
    change_kinds=frozenset({ChangeKind.RECORD}),
    external_authorities=frozenset({"anilist"}),
)


def rule_of(call, *args, **kwargs):
    with pytest.raises(ContractViolation) as info:
        call(*args, **kwargs)
    return info.value.rule


def test_violation_names_provider_object_and_rule():
    record = Record(Ref("a"), values={RecordField.NOTES: None})
    with pytest.raises(ContractViolation) as info:
        validate_record("plex", record)
    error = info.value
    assert (error.provider, error.obj, error.rule) == ("plex", record, Rule.NONE_VALUE)
    text = str(error)
    assert "'plex'" in text and "no-none-value" in text and "Record" in text
    assert "notes" in text


@pytest.mark.parametrize(
    "value",
    [
        T,
        datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC")),
        datetime(2024, 1, 1, tzinfo=timezone(timedelta(0))),
    ],
)
def test_utc_datetimes_accepted(value):
    check_utc("p", None, value, "at")


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (datetime(2024, 1, 1), Rule.UTC_DATETIME),
        (datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=1))), Rule.UTC_DATETIME),
        # Same offset as UTC in winter, but a zone with DST is not UTC.
        (datetime(2024, 1, 1, tzinfo=ZoneInfo("Europe/London")), Rule.UTC_DATETIME),
        ("2024-01-01T00:00:00Z", Rule.VALUE_TYPE),
    ],
)
def test_non_utc_rejected(value, rule):
    assert rule_of(check_utc, "p", None, value, "at") == rule


@pytest.mark.parametrize(
    ("record_field", "value"),
    [
        (RecordField.STATUS, State()),
        (RecordField.STATUS, State(native=1)),
        (RecordField.STATUS, State(status="active")),
        (RecordField.PROGRESS, Progress(current="3")),
        (RecordField.PROGRESS, Progress(current=True)),
        (RecordField.PROGRESS, Progress(current=1, unit=3)),
        (RecordField.RATING, Rating(value=11, scale=(0, 10, 1))),
        (RecordField.RATING, Rating(value=5, scale=(0, 10))),
        (RecordField.RATING, Rating(value="5", scale=(0, 10, 1))),
        (RecordField.REPEAT_COUNT, 1.0),
        (RecordField.NOTES, b"x"),
        (RecordField.LAST_ACTIVITY_AT, T.date()),
    ],
)
def test_value_type_rules(record_field, value):
    assert rule_of(validate_value, "p", None, record_field, value) == Rule.VALUE_TYPE


@pytest.mark.parametrize(
    ("record_field", "value"),
    [
        (RecordField.STATUS, State(status=Status.ACTIVE)),
        (RecordField.STATUS, State("CURRENT")),
        (RecordField.PROGRESS, Progress(None)),
        (RecordField.PROGRESS, Progress(2.5, 12, "episode")),
        (RecordField.RATING, Rating(10, (0, 10, 1))),
        (RecordField.REPEAT_COUNT, 0),
        (RecordField.NOTES, ""),
        (RecordField.STARTED_AT, T),
    ],
)
def test_valid_values(record_field, value):
    validate_value("p", None, record_field, value)


def test_record_rules():
    ok = Record(Ref("a"), values={RecordField.STATUS: State("CURRENT", Status.ACTIVE)})
    validate_record("p", ok, fields={RecordField.STATUS}, capabilities=CAPS)
    cases = {
        Rule.REQUESTED_FIELDS: (ok, {"fields": frozenset()}),
        Rule.DECLARED_KINDS: (Record(Ref("a"), kind="x"), {"capabilities": CAPS}),
        Rule.DECLARED_FIELDS: (
            Record(Ref("a"), values={RecordField.NOTES: "n"}),  # declared unreadable
            {"capabilities": CAPS},
        ),
        Rule.DECLARED_STATUS: (
            Record(
                Ref("a"), values={RecordField.STATUS: State("CURRENT", Status.PAUSED)}
            ),
            {"capabilities": CAPS},
        ),
        Rule.DECLARED_AUTHORITIES: (
            Record(Ref("a"), ids=(ExternalId("mal", "1"),)),
            {"capabilities": CAPS},
        ),
        Rule.OBJECT_TYPE: (Node(Ref("a"), "show"), {}),
        Rule.VALUE_TYPE: (Record(Ref("a"), values={"status": "x"}), {}),
    }
    for rule, (record, kwargs) in cases.items():
        assert rule_of(validate_record, "p", record, **kwargs) == rule, rule
    assert rule_of(validate_record, "p", Record("a")) == Rule.OBJECT_TYPE


def test_node_rules():
    ok = Node(Ref("a"), "show", facets={FacetName.TITLES: Titles("A")})
    validate_node("p", ok, facets={FacetName.TITLES}, capabilities=CAPS)
    assert rule_of(validate_node, "p", ok, facets=set()) == Rule.REQUESTED_FACETS
    wrong_type = Node(Ref("a"), "show", facets={FacetName.TITLES: Artwork()})
    assert rule_of(validate_node, "p", wrong_type) == Rule.VALUE_TYPE
    undeclared = Node(Ref("a"), "show", facets={FacetName.ARTWORK: Artwork()})
    assert (
        rule_of(validate_node, "p", undeclared, capabilities=CAPS)
        == Rule.DECLARED_FACETS
    )
    assert rule_of(validate_node, "p", Node(Ref("a"), "movie"), capabilities=CAPS) == (
        Rule.DECLARED_KINDS
    )
    bad_key = Node(Ref("a"), "show", facets={"titles": Titles("A")})
    assert rule_of(validate_node, "p", bad_key) == Rule.VALUE_TYPE
    ids = Node(Ref("a"), "show", facets={FacetName.IDS: Identifiers(("anilist:1",))})
    assert rule_of(validate_node, "p", ids) == Rule.VALUE_TYPE
    foreign = Node(
        Ref("a"),
        "show",
        facets={FacetName.IDS: Identifiers((ExternalId("tvdb", "1"),))},
    )
    assert rule_of(validate_node, "p", foreign, capabilities=CAPS) == (
        Rule.DECLARED_AUTHORITIES
    )
    assert rule_of(validate_node, "p", Node("a", "show")) == Rule.OBJECT_TYPE


def test_event_and_summary_rules():
    validate_event("p", Event(Ref("a"), "play", T), capabilities=CAPS)
    assert rule_of(validate_event, "p", Event(Ref("a"), "x", T), capabilities=CAPS) == (
        Rule.DECLARED_KINDS
    )
    assert (
        rule_of(validate_event, "p", Event(Ref("a"), "play", None)) == Rule.VALUE_TYPE
    )
    validate_event_summary(
        "p", EventSummary(Ref("a"), "play", 2, T, T), capabilities=CAPS
    )
    for summary, rule in [
        (EventSummary(Ref("a"), "play", -1), Rule.VALUE_TYPE),
        (EventSummary(Ref("a"), "play", True), Rule.VALUE_TYPE),
        (EventSummary(Ref("a"), "play", 1, T, T - timedelta(days=1)), Rule.VALUE_TYPE),
        (EventSummary(Ref("a"), "play", 1, datetime(2024, 1, 1)), Rule.UTC_DATETIME),
        (
            EventSummary(Ref("a"), "play", 1, None, datetime(2024, 1, 1)),
            Rule.UTC_DATETIME,
        ),
    ]:
        assert rule_of(validate_event_summary, "p", summary) == rule, summary


def test_change_rules():
    validate_change("p", RecordChange(Ref("a"), at=T), capabilities=CAPS)
    validate_change("p", RecordChange(key="k"), capabilities=CAPS)
    assert rule_of(validate_change, "p", RecordChange()) == Rule.VALUE_TYPE
    assert rule_of(validate_change, "p", "change") == Rule.OBJECT_TYPE
    assert rule_of(validate_change, "p", NodeChange(Ref("a")), capabilities=CAPS) == (
        Rule.DECLARED_CHANGE_KINDS
    )
    assert (
        rule_of(
            validate_change, "p", RecordChange(Ref("a"), kind="w"), capabilities=CAPS
        )
        == Rule.DECLARED_KINDS
    )
    caps = Capabilities(change_kinds=frozenset({ChangeKind.EVENT}))
    assert (
        rule_of(
            validate_change,
            "p",
            EventChange(Ref("a"), kind="scrobble"),
            capabilities=caps,
        )
        == Rule.DECLARED_KINDS
    )
    assert rule_of(
        validate_change, "p", EventChange(Ref("a"), at=datetime(2024, 1, 1))
    ) == (Rule.UTC_DATETIME)


def test_scan_item_rules():
    node = Node(Ref("a"), "show")
    record = Record(Ref.at("a", ("episode", 1)), kind="")
    validate_scan_item("p", ScanItem(node, (record,)), capabilities=CAPS)
    assert rule_of(
        validate_scan_item, "p", ScanItem(node, (record,)), with_records=False
    ) == (Rule.REQUESTED_ITEMS)
    other_kind = Record(Ref("a"), kind="watched")
    assert (
        rule_of(
            validate_scan_item,
            "p",
            ScanItem(node, (other_kind,)),
            native_record_kinds={"x"},
        )
        == Rule.REQUESTED_ITEMS
    )
    elsewhere = Record(Ref("b"))
    assert rule_of(validate_scan_item, "p", ScanItem(node, (elsewhere,))) == (
        Rule.REQUESTED_ITEMS
    )
    assert rule_of(validate_scan_item, "p", node) == Rule.OBJECT_TYPE


def test_page_rules():
    event = Event(Ref("a"), "play", T)
    validate_page("p", Page((event,), total=1), limit=1, refs=(Ref("a"),))
    assert rule_of(validate_page, "p", Page([event])) == Rule.OBJECT_TYPE
    assert rule_of(validate_page, "p", (event,)) == Rule.OBJECT_TYPE
    assert rule_of(validate_page, "p", Page((event,), cursor=2)) == Rule.OBJECT_TYPE
    assert rule_of(validate_page, "p", Page((event, event), total=1)) == Rule.PAGE_TOTAL
    assert rule_of(validate_page, "p", Page((event, event)), limit=1) == Rule.PAGE_LIMIT
    assert rule_of(validate_page, "p", Page((event,)), refs=(Ref("b"),)) == (
        Rule.REQUESTED_ITEMS
    )
    assert rule_of(validate_page, "p", Page((object(),))) == Rule.OBJECT_TYPE


def test_page_tracker_rules():
    def ev(n):
        return Event(Ref("a"), "play", T + timedelta(n), key=str(n))

    tracker = PageTracker("p")
    assert tracker.feed(Page((ev(1),), cursor="c1", total=2)) == "c1"
    assert tracker.feed(Page((ev(2),), total=2)) is None
    assert tracker.finish() == [ev(1), ev(2)]

    dup = PageTracker("p")
    dup.feed(Page((ev(1),), cursor="c1"))
    with pytest.raises(ContractViolation) as info:
        dup.feed(Page((ev(1),)))
    assert info.value.rule == Rule.NO_DUPLICATES

    loop = PageTracker("p")
    loop.feed(Page((ev(1),), cursor="c"))
    with pytest.raises(ContractViolation, match="cursor-terminates"):
        loop.feed(Page((ev(2),), cursor="c"))

    capped = PageTracker("p", max_pages=2)
    capped.feed(Page((ev(1),), cursor="c1"))
    with pytest.raises(ContractViolation, match="after 2 pages"):
        capped.feed(Page((ev(2),), cursor="c2"))

    drift = PageTracker("p")
    drift.feed(Page((ev(1),), cursor="c", total=5))
    with pytest.raises(ContractViolation, match="changed between pages"):
        drift.feed(Page((ev(2),), total=6))

    short = PageTracker("p")
    short.feed(Page((ev(1),), total=3))
    with pytest.raises(ContractViolation, match="paging yielded 1 items"):
        short.finish()


async def test_collect_pages_follows_cursors_and_validates():
    pages = {
        None: Page((Event(Ref("a"), "play", T),), cursor="2"),
        "2": Page((Event(Ref("b"), "play", T),)),
    }
    seen = []

    async def fetch(cursor):
        seen.append(cursor)
        return pages[cursor]

    items = await collect_pages("p", fetch, validate=lambda page: None)
    assert [i.ref for i in items] == [Ref("a"), Ref("b")] and seen == [None, "2"]

    def reject(page):
        raise ContractViolation("p", page, Rule.PAGE_LIMIT, "no")

    with pytest.raises(ContractViolation):
        await collect_pages("p", fetch, validate=reject)


def test_write_results_rules():
    writes = [
        UpsertRecord(Ref("a"), token="1"),
        DeleteRecord(key="k", token="2"),
        AppendEvent(Ref("a"), "play", T, token="3"),
        DeleteEvent(key="e"),
    ]
    good = [
        WriteResult(True, WriteOp.UPSERT_RECORD, token="1"),
        WriteResult(False, WriteOp.DELETE_RECORD, token="2", code=WriteError.NOT_FOUND),
        WriteResult(True, WriteOp.APPEND_EVENT, token="3"),
        WriteResult(False, WriteOp.DELETE_EVENT, code=WriteError.UNSUPPORTED),
    ]
    validate_write_results("p", writes, good)
    validate_write_results("p", writes, tuple(good))
    cases = [
        (good[:-1], Rule.WRITE_RESULT_COUNT),
        ([*good, good[0]], Rule.WRITE_RESULT_COUNT),
        ([good[1], good[0], *good[2:]], Rule.WRITE_RESULT_OP),
        ([WriteResult(True, WriteOp.UPSERT_RECORD), *good[1:]], Rule.WRITE_TOKEN),
        ([*good[:3], WriteResult(False, WriteOp.DELETE_EVENT)], Rule.WRITE_ERROR_CODE),
        (
            [*good[:3], WriteResult(False, WriteOp.DELETE_EVENT, code="unsupported")],
            Rule.WRITE_ERROR_CODE,
        ),
        (
            [
                WriteResult(True, WriteOp.UPSERT_RECORD, "1", code=WriteError.CONFLICT),
                *good[1:],
            ],
            Rule.WRITE_ERROR_CODE,
        ),
        ([None, *good[1:]], Rule.OBJECT_TYPE),
        ("abcd", Rule.OBJECT_TYPE),
        (iter(good), Rule.OBJECT_TYPE),
    ]
    for results, rule in cases:
        assert rule_of(validate_write_results, "p", writes, results) == rule, results


def test_write_op_of():
    assert write_op_of(DeleteEvent()) == WriteOp.DELETE_EVENT
    with pytest.raises(TypeError, match="not a write request"):
        write_op_of(Record(Ref("a")))


def test_match_rules():
    wanted = [ExternalId("anilist", "1")]
    validate_matches("p", wanted, [Match(wanted[0], Ref("1"), 0.5)])
    validate_matches("p", wanted, ())
    assert rule_of(
        validate_matches, "p", wanted, [Match(ExternalId("x", "1"), Ref("1"))]
    ) == (Rule.MATCH_ECHO)
    assert rule_of(
        validate_matches, "p", wanted, [Match(wanted[0], Ref("1"), 1.5)]
    ) == (Rule.VALUE_TYPE)
    assert rule_of(validate_matches, "p", wanted, [wanted[0]]) == Rule.OBJECT_TYPE
    assert rule_of(validate_matches, "p", wanted, None) == Rule.OBJECT_TYPE


def test_account_rule():
    from anibridge.provider.base import Account

    assert validate_account("p", Account("k", "t")).key == "k"
    for bad in (None, Account("", "t"), {"key": "k"}):
        assert rule_of(validate_account, "p", bad) == Rule.ACCOUNT


def test_structural_rules_and_plural_helpers():
    from anibridge.provider.base import Provider
    from anibridge.provider.validate import (
        validate_capabilities,
        validate_changes,
        validate_event_summaries,
        validate_events,
        validate_nodes,
        validate_records,
    )

    assert rule_of(validate_value, "p", None, RecordField.RATING, 5) == Rule.VALUE_TYPE
    assert rule_of(validate_node, "p", Node(Ref("a"), 3), capabilities=CAPS) == (
        Rule.VALUE_TYPE
    )
    assert rule_of(validate_node, "p", Node(Ref("a", (("e", 1),)), "show")) == (
        Rule.OBJECT_TYPE
    )
    assert rule_of(validate_event, "p", Record(Ref("a"))) == Rule.OBJECT_TYPE
    assert rule_of(validate_event_summary, "p", Event(Ref("a"), "play", T)) == (
        Rule.OBJECT_TYPE
    )
    good_event = Event(Ref("a"), "play", T)
    validate_events("p", [good_event], capabilities=CAPS)
    validate_event_summaries("p", [EventSummary(Ref("a"), "play")], capabilities=CAPS)
    validate_changes("p", [RecordChange(Ref("a"))], capabilities=CAPS)
    validate_nodes("p", [Node(Ref("a"), "show")], capabilities=CAPS)
    validate_records("p", [Record(Ref("a"))], capabilities=CAPS)
    for helper, bad in [
        (validate_events, [good_event, None]),
        (validate_event_summaries, [None]),
        (validate_changes, [None]),
        (validate_nodes, [None]),
        (validate_records, [None]),
    ]:
        assert rule_of(helper, "p", bad) == Rule.OBJECT_TYPE

    class Odd(Provider):
        def account(self):
            return None

        def capabilities(self):
            return self.caps

    odd = Odd(logger=__import__("logging").getLogger("t"))
    odd.caps = {"roles": ()}
    assert rule_of(validate_capabilities, "p", odd) == Rule.OBJECT_TYPE
    odd.caps = Capabilities(
        record_fields={RecordField.NOTES: FieldSpec(RecordField.RATING)}
    )
    with pytest.raises(ContractViolation, match="holds the spec of"):
        validate_capabilities("p", odd)
    odd.caps = Capabilities()
    assert validate_capabilities("p", odd) == Capabilities()
