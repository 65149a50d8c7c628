"""Each kit check fails on a provider that breaks its rule.

The kit's test methods are called directly with hand-made fixture values, on
`MemoryProvider` variants broken in exactly one way.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from anibridge.provider.base import (
    AppendEvent,
    Event,
    ExternalId,
    Match,
    Page,
    RecordField,
    Ref,
    Role,
    State,
    Status,
    SupportsEventReads,
    SupportsEventWrites,
    SupportsNodeReads,
    SupportsRecordReads,
    SupportsRecordWrites,
    SupportsScan,
    UpsertRecord,
    WriteOp,
)
from anibridge.provider.testing import ProviderContractTests
from anibridge.provider.testing.contract import (
    default_record_write,
    default_sample_event,
    discover_sample_refs,
)
from anibridge.provider.testing.memory import (
    ALL_MIXINS,
    MemoryProvider,
    episode_ref,
    library_capabilities,
    library_show,
    list_capabilities,
    list_entry,
    list_record,
    make_library_provider,
    make_list_provider,
    memory_provider,
    play,
)
from anibridge.provider.validate import ContractViolation, Rule

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
KIT = ProviderContractTests()


def nodes():
    return [
        list_entry("1", "Bebop", episodes=26, ids=["anilist:1"]),
        list_entry("2", "Naruto", episodes=220, ids=["anilist:20"]),
        list_entry("3", "Evangelion", episodes=26, ids=["anilist:30"]),
    ]


def good_records():
    return [
        list_record("1", status=Status.ACTIVE, progress=3, updated_at=T0),
        list_record("2", status=Status.COMPLETED, progress=220, updated_at=T0),
        list_record("3", status=Status.PLANNED, updated_at=T0),
    ]


async def ready(provider):
    await provider.initialize()
    return provider


async def refs_of(provider):
    return await discover_sample_refs(provider)


def violation(rule):
    return pytest.raises(ContractViolation, match=rule.value)


async def expect(rule, coro):
    with pytest.raises(ContractViolation) as info:
        await coro
    assert info.value.rule == rule, info.value
    assert info.value.provider == "memory"
    return info.value


# -- control: the unbroken providers pass the checks used below -----------------------


async def test_control_list_provider_passes():
    p = await ready(make_list_provider(nodes(), good_records()))
    refs = await refs_of(p)
    await KIT.test_fetch_records(provider=p, sample_refs=refs)
    await KIT.test_scan_pages_are_valid_and_terminate(provider=p)
    await KIT.test_scan_hydrates_only_requested(provider=p)
    await KIT.test_fetch_nodes(provider=p, sample_refs=refs)
    await KIT.test_resolve_echoes_ids_and_round_trips(provider=p, sample_refs=refs)
    await KIT.test_record_write_results(
        provider=p, sample_record_write=default_record_write(p.capabilities(), Ref("3"))
    )
    await KIT.test_capabilities_agree_with_mixins(provider=p)


# -- datetimes ------------------------------------------------------------------------


async def test_naive_event_time_fails():
    events = [Event(episode_ref("s", 1, 1), "play", datetime(2024, 1, 1, 20, 0))]
    p = await ready(
        make_library_provider(library_show("s", "S", {1: 1}), events=events)
    )
    error = await expect(Rule.UTC_DATETIME, KIT.test_fetch_events(provider=p))
    assert "naive" in str(error) and "at" in error.detail
    await expect(Rule.UTC_DATETIME, KIT.test_fetch_event_summaries(provider=p))


async def test_naive_record_timestamp_fails():
    records = [dataclasses.replace(good_records()[0], updated_at=datetime(2024, 1, 1))]
    p = await ready(make_list_provider(nodes(), records))
    await expect(Rule.UTC_DATETIME, KIT.test_fetch_records(provider=p, sample_refs=()))
    await expect(
        Rule.UTC_DATETIME, KIT.test_scan_pages_are_valid_and_terminate(provider=p)
    )


async def test_non_utc_aware_value_fails():
    plus_two = timezone(timedelta(hours=2))
    record = list_record("1", started=datetime(2024, 1, 1, tzinfo=plus_two))
    p = await ready(make_list_provider(nodes(), [record]))
    error = await expect(
        Rule.UTC_DATETIME, KIT.test_fetch_records(provider=p, sample_refs=())
    )
    assert "started_at" in error.detail


async def test_naive_change_time_fails():
    p = await ready(
        make_list_provider(nodes(), good_records(), clock=lambda: datetime(2024, 1, 1))
    )
    await p.write_records([UpsertRecord(Ref("1"), set={RecordField.NOTES: "x"})])
    await expect(Rule.UTC_DATETIME, KIT.test_poll_changes_drains(provider=p))


# -- record values --------------------------------------------------------------------


async def test_none_value_fails():
    record = dataclasses.replace(good_records()[0], values={RecordField.NOTES: None})
    p = await ready(make_list_provider(nodes(), [record]))
    await expect(Rule.NONE_VALUE, KIT.test_fetch_records(provider=p, sample_refs=()))
    await expect(
        Rule.NONE_VALUE, KIT.test_scan_pages_are_valid_and_terminate(provider=p)
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (RecordField.REPEAT_COUNT, "3"),
        (RecordField.REPEAT_COUNT, True),
        (RecordField.STATUS, "COMPLETED"),
        (RecordField.PROGRESS, 3),
        (RecordField.NOTES, 5),
        (RecordField.STARTED_AT, "2024-01-01"),
    ],
)
async def test_wrong_value_type_fails(field, value):
    record = dataclasses.replace(good_records()[0], values={field: value})
    p = await ready(make_list_provider(nodes(), [record]))
    error = await expect(
        Rule.VALUE_TYPE, KIT.test_fetch_records(provider=p, sample_refs=())
    )
    assert field.value in error.detail


# -- projections ----------------------------------------------------------------------


class AllFacets(MemoryProvider):
    @staticmethod
    def _project_node(node, facets):
        return node


class AllFields(MemoryProvider):
    @staticmethod
    def _project_record(record, fields):
        return record


class RecordsAlways(MemoryProvider):
    async def scan(self, query):
        return await super().scan(dataclasses.replace(query, with_records=True))


async def test_unrequested_facet_fails():
    p = await ready(AllFacets(nodes=nodes()))
    await expect(
        Rule.REQUESTED_FACETS, KIT.test_scan_hydrates_only_requested(provider=p)
    )
    await expect(
        Rule.REQUESTED_FACETS, KIT.test_fetch_nodes(provider=p, sample_refs=(Ref("1"),))
    )
    await expect(
        Rule.REQUESTED_FACETS, KIT.test_search_nodes(provider=p, search_text="Bebop")
    )


async def test_unrequested_field_fails():
    p = await ready(AllFields(nodes=nodes(), records=good_records()))
    await expect(
        Rule.REQUESTED_FIELDS,
        KIT.test_fetch_records(provider=p, sample_refs=(Ref("1"),)),
    )
    await expect(
        Rule.REQUESTED_FIELDS, KIT.test_scan_hydrates_only_requested(provider=p)
    )


async def test_records_despite_with_records_false_fail():
    p = await ready(RecordsAlways(nodes=nodes(), records=good_records()))
    await expect(
        Rule.REQUESTED_ITEMS, KIT.test_scan_hydrates_only_requested(provider=p)
    )


async def test_unrequested_refs_fail():
    class AllNodes(MemoryProvider):
        async def fetch_nodes(self, query):
            return await super().fetch_nodes(dataclasses.replace(query, refs=()))

    p = await ready(AllNodes(nodes=nodes()))
    await expect(
        Rule.REQUESTED_ITEMS, KIT.test_fetch_nodes(provider=p, sample_refs=(Ref("1"),))
    )


async def test_scan_record_outside_its_node_fails():
    class Misfiled(MemoryProvider):
        async def scan(self, query):
            page = await super().scan(query)
            stray = list_record("elsewhere")
            items = tuple(
                dataclasses.replace(i, records=(*i.records, stray)) for i in page.items
            )
            return dataclasses.replace(page, items=items)

    p = await ready(Misfiled(nodes=nodes()))
    error = await expect(
        Rule.REQUESTED_ITEMS, KIT.test_scan_pages_are_valid_and_terminate(provider=p)
    )
    assert "elsewhere" in error.detail


async def test_search_ignoring_limit_fails():
    class Unlimited(MemoryProvider):
        async def search_nodes(self, query, *, limit=10, facets=frozenset()):
            return await super().search_nodes("", limit=100, facets=facets)

    many = [*nodes(), list_entry("4", "Bebop 2"), list_entry("5", "Bebop 3")]
    p = await ready(Unlimited(nodes=many))
    await expect(
        Rule.PAGE_LIMIT, KIT.test_search_nodes(provider=p, search_text="Bebop")
    )


# -- paging ---------------------------------------------------------------------------


async def test_cursor_loop_fails():
    class Loop(MemoryProvider):
        served = 0

        async def fetch_events(self, query):
            # Fresh items every time, but the same cursor: paging never ends.
            self.served += 1
            event = play(Ref("1"), T0 + timedelta(minutes=self.served))
            return Page(
                items=(dataclasses.replace(event, key=f"k{self.served}"),),
                cursor="next",
            )

    p = await ready(Loop(nodes=nodes()))
    error = await expect(Rule.CURSOR_TERMINATES, KIT.test_fetch_events(provider=p))
    assert "'next'" in error.detail


async def test_empty_page_with_cursor_fails():
    class Stuck(MemoryProvider):
        async def fetch_records(self, query):
            return Page(items=(), cursor="more")

    p = await ready(Stuck(nodes=nodes()))
    await expect(
        Rule.CURSOR_TERMINATES, KIT.test_fetch_records(provider=p, sample_refs=())
    )


async def test_overlapping_pages_fail():
    class Overlap(MemoryProvider):
        @staticmethod
        def _offset(cursor):
            return max(0, MemoryProvider._offset(cursor) - 1)

    p = await ready(Overlap(nodes=nodes(), records=good_records()))
    await expect(
        Rule.NO_DUPLICATES, KIT.test_scan_pages_are_valid_and_terminate(provider=p)
    )
    await expect(Rule.NO_DUPLICATES, KIT.test_fetch_records(provider=p, sample_refs=()))


async def test_wrong_total_fails():
    class Overcount(MemoryProvider):
        def _page(self, items, cursor, limit):
            page = super()._page(items, cursor, limit)
            return dataclasses.replace(page, total=len(items) + 1)

    p = await ready(Overcount(nodes=nodes(), records=good_records()))
    error = await expect(
        Rule.PAGE_TOTAL, KIT.test_scan_pages_are_valid_and_terminate(provider=p)
    )
    assert "total=4" in error.detail


async def test_total_changing_between_pages_fails():
    class Drifting(MemoryProvider):
        def _page(self, items, cursor, limit):
            page = super()._page(items, cursor, limit)
            return dataclasses.replace(page, total=len(items) + self._offset(cursor))

    p = await ready(Drifting(nodes=nodes()))
    await expect(
        Rule.PAGE_TOTAL, KIT.test_scan_pages_are_valid_and_terminate(provider=p)
    )


async def test_page_over_limit_fails():
    class Greedy(MemoryProvider):
        def _page(self, items, cursor, limit):
            return super()._page(items, cursor, None)

    p = await ready(Greedy(nodes=nodes()))
    await expect(
        Rule.PAGE_LIMIT, KIT.test_scan_pages_are_valid_and_terminate(provider=p)
    )


async def test_change_feed_that_never_advances_fails():
    class Stalled(MemoryProvider):
        async def poll_changes(self, query):
            page = await super().poll_changes(dataclasses.replace(query, cursor=None))
            return dataclasses.replace(page, cursor="change:0")

    p = await ready(Stalled(nodes=nodes(), clock=lambda: T0))
    await p.write_records([UpsertRecord(Ref("1"), set={RecordField.NOTES: "x"})])
    await expect(Rule.CURSOR_TERMINATES, KIT.test_poll_changes_drains(provider=p))


# -- writes ---------------------------------------------------------------------------


def broken_results(transform):
    class Broken(MemoryProvider):
        async def write_records(self, writes):
            return transform(list(await super().write_records(writes)))

        async def write_events(self, writes):
            return transform(list(await super().write_events(writes)))

    return Broken


@pytest.mark.parametrize(
    ("transform", "rule"),
    [
        (lambda rs: rs[:-1], Rule.WRITE_RESULT_COUNT),
        (lambda rs: [*rs, rs[0]] if rs else rs, Rule.WRITE_RESULT_COUNT),
        (lambda rs: list(reversed(rs)), Rule.WRITE_RESULT_OP),
        (lambda rs: [dataclasses.replace(r, token=None) for r in rs], Rule.WRITE_TOKEN),
        (
            lambda rs: [dataclasses.replace(r, code=None) for r in rs],
            Rule.WRITE_ERROR_CODE,
        ),
        (
            lambda rs: [dataclasses.replace(r, op=WriteOp.DELETE_EVENT) for r in rs],
            Rule.WRITE_RESULT_OP,
        ),
    ],
    ids=["short", "long", "reordered", "token", "no-code", "op"],
)
async def test_broken_write_results_fail(transform, rule):
    p = await ready(broken_results(transform)(nodes=nodes(), records=good_records()))
    caps = p.capabilities()
    await expect(
        rule,
        KIT.test_record_write_results(
            provider=p, sample_record_write=default_record_write(caps, Ref("3"))
        ),
    )
    await expect(
        rule,
        KIT.test_event_write_results(
            provider=p, sample_event=default_sample_event(caps, Ref("3"))
        ),
    )


async def test_code_on_success_fails():
    class Coded(MemoryProvider):
        async def write_records(self, writes):
            results = await super().write_records(writes)
            return [dataclasses.replace(r, code=r.code or "conflict") for r in results]

    p = await ready(Coded(nodes=nodes()))
    await expect(
        Rule.WRITE_ERROR_CODE,
        KIT.test_record_write_results(
            provider=p,
            sample_record_write=default_record_write(p.capabilities(), Ref("3")),
        ),
    )


async def test_duplicating_append_fails():
    class Duplicating(MemoryProvider):
        def _apply_event_write(self, write):
            if isinstance(write, AppendEvent):
                self.put_event(Event(write.ref, write.kind, write.at))
            return super()._apply_event_write(write)

    p = await ready(Duplicating(nodes=nodes()))
    error = await expect(
        Rule.EVENT_IDEMPOTENT,
        KIT.test_repeated_append_event_is_idempotent(
            provider=p, sample_event=default_sample_event(p.capabilities(), Ref("1"))
        ),
    )
    assert "from 0 to" in error.detail


async def test_duplicating_append_is_caught_through_summaries_too():
    caps = MemoryProvider().capabilities()
    without_reads = [m for m in ALL_MIXINS if m is not SupportsEventReads]
    base = type(memory_provider(caps, mixins=without_reads))

    class DuplicatingNoReads(base):
        def _apply_event_write(self, write):
            if isinstance(write, AppendEvent):
                self.put_event(Event(write.ref, write.kind, write.at))
            return super()._apply_event_write(write)

    p = await ready(DuplicatingNoReads(capabilities=caps, nodes=nodes()))
    assert not isinstance(p, SupportsEventReads)
    await expect(
        Rule.EVENT_IDEMPOTENT,
        KIT.test_repeated_append_event_is_idempotent(
            provider=p, sample_event=default_sample_event(caps, Ref("1"))
        ),
    )


# -- kinds and vocabularies -----------------------------------------------------------


async def test_undeclared_node_kind_fails():
    odd = dataclasses.replace(list_entry("9", "Bebop OVA"), kind="ova")
    p = await ready(make_list_provider([*nodes(), odd], good_records()))
    error = await expect(
        Rule.DECLARED_KINDS, KIT.test_scan_pages_are_valid_and_terminate(provider=p)
    )
    assert "'ova'" in error.detail


async def test_single_list_provider_must_declare_empty_record_kind():
    caps = dataclasses.replace(list_capabilities(), record_kinds=())
    p = await ready(make_list_provider(nodes(), good_records(), capabilities=caps))
    error = await expect(
        Rule.DECLARED_KINDS, KIT.test_fetch_records(provider=p, sample_refs=())
    )
    assert "''" in error.detail


async def test_undeclared_record_kind_fails():
    record = dataclasses.replace(good_records()[0], kind="watchlist")
    p = await ready(make_list_provider(nodes(), [record]))
    await expect(
        Rule.DECLARED_KINDS, KIT.test_fetch_records(provider=p, sample_refs=())
    )


async def test_undeclared_event_kind_fails():
    events = [play(episode_ref("s", 1, 1), T0, kind="scrobble")]
    p = await ready(
        make_library_provider(library_show("s", "S", {1: 1}), events=events)
    )
    await expect(Rule.DECLARED_KINDS, KIT.test_fetch_events(provider=p))
    await expect(Rule.DECLARED_KINDS, KIT.test_fetch_event_summaries(provider=p))


async def test_undeclared_status_label_fails():
    record = dataclasses.replace(
        good_records()[0], values={RecordField.STATUS: State("WATCHING", Status.ACTIVE)}
    )
    p = await ready(make_list_provider(nodes(), [record]))
    await expect(
        Rule.DECLARED_STATUS, KIT.test_fetch_records(provider=p, sample_refs=())
    )


async def test_undeclared_authority_fails():
    p = await ready(make_list_provider([list_entry("1", "Bebop", ids=["kitsu:1"])]))
    await expect(
        Rule.DECLARED_AUTHORITIES,
        KIT.test_scan_pages_are_valid_and_terminate(provider=p),
    )


async def test_undeclared_change_kind_fails():
    caps = dataclasses.replace(list_capabilities(), change_kinds=frozenset({"node"}))
    p = await ready(
        make_list_provider(nodes(), good_records(), capabilities=caps, clock=lambda: T0)
    )
    await p.write_records([UpsertRecord(Ref("1"), set={RecordField.NOTES: "x"})])
    await expect(Rule.DECLARED_CHANGE_KINDS, KIT.test_poll_changes_drains(provider=p))


# -- roles, mixins and write ops ------------------------------------------------------


@pytest.mark.parametrize(
    ("capabilities", "mixins", "needle"),
    [
        (
            list_capabilities(),
            [SupportsNodeReads, SupportsScan, SupportsRecordReads],
            "Role.TARGET",
        ),
        (
            dataclasses.replace(list_capabilities(), roles=frozenset({Role.SOURCE})),
            [SupportsScan, SupportsRecordWrites],
            "Role.TARGET",
        ),
        (list_capabilities(), [SupportsRecordWrites, SupportsNodeReads], "Role.SOURCE"),
        (
            dataclasses.replace(
                list_capabilities(),
                write_ops=frozenset({WriteOp.UPSERT_RECORD, WriteOp.APPEND_EVENT}),
            ),
            [SupportsScan, SupportsRecordWrites],
            "without SupportsEventWrites",
        ),
        (
            dataclasses.replace(
                list_capabilities(), write_ops=frozenset({WriteOp.APPEND_EVENT})
            ),
            [SupportsScan, SupportsRecordWrites, SupportsEventWrites],
            "SupportsRecordWrites is mixed in",
        ),
        (
            list_capabilities(),
            [SupportsScan, SupportsRecordWrites, SupportsEventReads],
            "event_kinds is empty",
        ),
        (
            dataclasses.replace(library_capabilities(), write_ops=frozenset()),
            None,
            "writable",
        ),
    ],
    ids=[
        "target-without-writes",
        "writes-without-target",
        "source-without-reads",
        "op-without-mixin",
        "mixin-without-op",
        "events-without-kinds",
        "writable-field",
    ],
)
async def test_roles_mixins_and_write_ops_must_agree(capabilities, mixins, needle):
    if needle == "writable":
        fields = dict(capabilities.record_fields)
        fields[RecordField.RATING] = dataclasses.replace(
            fields[RecordField.RATING], writable=True
        )
        capabilities = dataclasses.replace(capabilities, record_fields=fields)
    p = await ready(memory_provider(capabilities, mixins=mixins))
    error = await expect(
        Rule.ROLES_MIXINS, KIT.test_capabilities_agree_with_mixins(provider=p)
    )
    assert needle in error.detail


async def test_duplicate_native_kind_fails():
    caps = list_capabilities()
    caps = dataclasses.replace(caps, node_kinds=(*caps.node_kinds, *caps.node_kinds))
    p = await ready(make_list_provider(capabilities=caps))
    await expect(Rule.ROLES_MIXINS, KIT.test_capabilities_agree_with_mixins(provider=p))


# -- account and mapping --------------------------------------------------------------


async def test_account_before_initialize_fails():
    class Eager(MemoryProvider):
        def account(self):
            return self._account

    await expect(
        Rule.ACCOUNT, KIT.test_account_is_none_until_initialized(make_provider=Eager)
    )


async def test_no_account_after_initialize_fails():
    await expect(
        Rule.ACCOUNT,
        KIT.test_account_is_none_until_initialized(
            make_provider=lambda: MemoryProvider(account=None)
        ),
    )


async def test_match_for_unrequested_id_fails():
    class Wrong(MemoryProvider):
        async def resolve(self, ids):
            return [Match(ExternalId("anilist", "999"), Ref("1"))]

    p = await ready(Wrong(capabilities=list_capabilities(), nodes=nodes()))
    await expect(
        Rule.MATCH_ECHO,
        KIT.test_resolve_echoes_ids_and_round_trips(
            provider=p, sample_refs=(Ref("1"),)
        ),
    )


async def test_ids_that_do_not_resolve_back_fail():
    class Forgetful(MemoryProvider):
        async def resolve(self, ids):
            return []

    p = await ready(Forgetful(capabilities=list_capabilities(), nodes=nodes()))
    error = await expect(
        Rule.MATCH_ECHO,
        KIT.test_resolve_echoes_ids_and_round_trips(
            provider=p, sample_refs=(Ref("1"),)
        ),
    )
    assert "resolve back" in error.detail


# -- skipping -------------------------------------------------------------------------


async def test_checks_skip_without_their_mixin_or_fixture():
    p = await ready(make_list_provider(nodes(), good_records()))
    for check in (
        KIT.test_fetch_events(provider=p),
        KIT.test_fetch_event_summaries(provider=p),
        KIT.test_event_write_results(provider=p, sample_event=None),
        KIT.test_repeated_append_event_is_idempotent(provider=p, sample_event=None),
    ):
        with pytest.raises(
            pytest.skip.Exception, match="does not mix in SupportsEvent"
        ):
            await check
    with pytest.raises(pytest.skip.Exception, match="writable_ref"):
        await KIT.test_record_write_results(provider=p, sample_record_write=None)
    with pytest.raises(pytest.skip.Exception, match="sample_refs"):
        await KIT.test_fetch_nodes(provider=p, sample_refs=())
    with pytest.raises(pytest.skip.Exception, match="search_text"):
        await KIT.test_search_nodes(provider=p, search_text=None)
    source = await ready(make_library_provider(library_show("s", "S", {1: 1})))
    with pytest.raises(pytest.skip.Exception, match="SupportsRecordWrites"):
        await KIT.test_record_write_results(provider=source, sample_record_write=None)
    reads_only = await ready(
        memory_provider(
            library_capabilities(), mixins=[SupportsScan, SupportsEventWrites]
        )
    )
    with pytest.raises(pytest.skip.Exception, match="count events"):
        await KIT.test_repeated_append_event_is_idempotent(
            provider=reads_only, sample_event=AppendEvent(Ref("s"), "play", T0)
        )


async def test_ignored_kind_filters_fail():
    class IgnoresKinds(MemoryProvider):
        async def fetch_events(self, query):
            return await super().fetch_events(
                dataclasses.replace(query, native_event_kinds=())
            )

        async def fetch_records(self, query):
            return await super().fetch_records(
                dataclasses.replace(query, native_record_kinds=())
            )

        async def scan(self, query):
            return await super().scan(dataclasses.replace(query, native_node_kinds=()))

    show = library_show("s", "S", {1: 1})
    events = [
        play(episode_ref("s", 1, 1), T0),
        play(episode_ref("s", 1, 1), T0, kind="checkin"),
    ]
    records = [list_record("1", notes="a"), list_record("1", kind="watchlist")]
    p = await ready(
        IgnoresKinds(nodes=[*nodes(), *show], events=events, records=records)
    )
    error = await expect(Rule.REQUESTED_ITEMS, KIT.test_fetch_events(provider=p))
    assert "filtered out" in error.detail
    await expect(
        Rule.REQUESTED_ITEMS, KIT.test_fetch_records(provider=p, sample_refs=())
    )
    await expect(
        Rule.REQUESTED_ITEMS, KIT.test_scan_hydrates_only_requested(provider=p)
    )
