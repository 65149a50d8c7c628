"""Targeted collects reach part-level state; ref-less changes force a full read."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from bridge_support import T0, watched

from anibridge.bridge import collect as collect_module
from anibridge.bridge.collect import (
    CollectError,
    _by_anchor,
    _pages,
    changes_since,
    collect,
    fetch_anchors,
    part_refs,
)
from anibridge.bridge.model import Snapshot
from anibridge.provider.base import (
    Event,
    EventSummary,
    FacetName,
    Page,
    RecordChange,
    RecordField,
    Ref,
    ScanItem,
    Status,
    Step,
    SupportsChangeFeed,
    SupportsEventReads,
    SupportsEventSummaries,
    SupportsNodeReads,
    SupportsRecordReads,
    SupportsScan,
)
from anibridge.provider.testing.memory import (
    episode_ref,
    library_capabilities,
    library_show,
    list_capabilities,
    list_entry,
    list_record,
    memory_provider,
    play,
)
from anibridge.provider.validate import ContractViolation, Rule


def _server(mixins):
    nodes = [
        *library_show("a", "A", {1: 3, 2: 2}, ids=["tvdb_show:1"]),
        *library_show("b", "B", {1: 2}, ids=["tvdb_show:2"]),
    ]
    records = watched("a", 1, [1, 2]) + watched("a", 2, [1]) + watched("b", 1, [1])
    events = [
        play(episode_ref("a", 1, 1), T0),
        play(episode_ref("a", 2, 1), T0 + timedelta(hours=3)),
        play(episode_ref("b", 1, 1), T0),
    ]
    return memory_provider(
        library_capabilities(),
        mixins=mixins,
        nodes=nodes,
        records=records,
        events=events,
    )


async def test_targeted_collect_reads_part_records_and_plays():
    # No scan: anchors come from node reads, so part state needs part-ref fetches.
    p = _server([SupportsNodeReads, SupportsRecordReads, SupportsEventReads])
    snap = await collect(p, "plex", refs=[Ref("a")])
    assert not snap.complete
    assert set(snap.entries) == {"a"}
    entry = snap.entries["a"]
    assert sorted(repr(r.ref) for r in entry.records) == [
        "a:season=1,episode=1",
        "a:season=1,episode=2",
        "a:season=2,episode=1",
    ]
    assert sorted((repr(e.ref), e.at) for e in entry.events) == [
        ("a:season=1,episode=1", T0),
        ("a:season=2,episode=1", T0 + timedelta(hours=3)),
    ]


async def test_targeted_collect_reads_part_summaries():
    p = _server([SupportsNodeReads, SupportsRecordReads, SupportsEventSummaries])
    snap = await collect(p, "plex", refs=[Ref("a")])
    assert sorted(repr(s.ref) for s in snap.entries["a"].summaries) == [
        "a:season=1,episode=1",
        "a:season=2,episode=1",
    ]


async def test_targeted_and_full_collect_agree_on_touched_anchors():
    p = _server(None)
    full = await collect(p, "plex")
    targeted = await collect(p, "plex", refs=[Ref("a")])

    def state(snap):
        e = snap.entries["a"]
        return (
            sorted(repr(r.ref) for r in e.records),
            sorted((repr(x.ref), x.at) for x in e.events),
        )

    assert state(targeted) == state(full)


async def test_a_change_without_ref_means_read_everything():
    p = _server(None)
    keys, cursor = await changes_since(p, "plex", None)
    p.put_record(watched("b", 1, [2])[0])
    keys, after = await changes_since(p, "plex", cursor)
    assert keys == {"b"} and after != cursor
    p._changes.append(RecordChange(ref=None, at=T0))  # "something was removed"
    keys, last = await changes_since(p, "plex", after)
    assert keys is None and last is not None and last != after


# -- paging, batching and the read paths, pinned directly ------------------------------


class _Feed(SupportsChangeFeed):
    """A change feed that answers scripted pages by cursor (edge cases of paging)."""

    def __init__(self, pages):
        self.pages = pages
        self.asked: list[str | None] = []

    async def poll_changes(self, query):
        self.asked.append(query.cursor)
        return self.pages[query.cursor]


def _change(key):
    return RecordChange(ref=Ref(key), at=T0)


async def test_pages_collects_every_page_until_the_cursor_ends():
    pages = {None: Page(items=(1, 2), cursor="p2"), "p2": Page(items=(3,), cursor=None)}
    asked = []

    async def call(cursor):
        asked.append(cursor)
        return pages[cursor]

    assert await _pages("plex", "records", call) == [1, 2, 3]
    assert asked == [None, "p2"]


async def test_pages_refuses_a_repeated_cursor_naming_provider_and_cursor():
    pages = {None: Page(items=(1,), cursor="a"), "a": Page(items=(2,), cursor="a")}

    async def call(cursor):
        return pages[cursor]

    with pytest.raises(CollectError) as info:
        await _pages("plex", "records", call)
    assert str(info.value) == "plex: cursor 'a' repeated; paging aborted"


async def test_pages_stops_after_the_page_limit(monkeypatch):
    monkeypatch.setattr(collect_module, "_MAX_PAGES", 3)
    calls = []

    async def call(cursor):
        calls.append(cursor)
        return Page(items=(len(calls),), cursor=f"c{len(calls)}")

    with pytest.raises(CollectError) as info:
        await _pages("plex", "records", call)
    assert str(info.value) == "plex: more than 3 pages"
    assert calls == [None, "c1", "c2"]


def test_by_anchor_keeps_an_anchors_refs_together_where_they_fit(monkeypatch):
    monkeypatch.setattr(collect_module, "_MAX_REFS", 3)
    a = [episode_ref("a", 1, n) for n in (1, 2)]
    b = [episode_ref("b", 1, n) for n in (1, 2)]
    c = [episode_ref("c", 1, n) for n in range(1, 6)]
    d = [episode_ref("d", 1, 1)]
    assert _by_anchor([*a, *b, *c, *d]) == [
        tuple(a),
        tuple(b),
        tuple(c[:3]),
        (*c[3:], *d),
    ]
    assert _by_anchor([]) == []
    assert _by_anchor([a[0], b[0], a[1]]) == [(a[0], a[1], b[0])]


def test_part_refs_come_from_each_anchors_structure():
    snap = Snapshot("plex", library_capabilities())
    show = library_show("a", "A", {1: 2, 2: 1})[0]
    snap.entry("a").node = show
    snap.entry("bare")  # no node: no parts
    assert part_refs(snap, ["missing", "bare", "a"]) == [
        episode_ref("a", 1, 1),
        episode_ref("a", 1, 2),
        episode_ref("a", 2, 1),
    ]


async def test_a_provider_that_can_neither_scan_nor_read_records_is_refused():
    p = _server([SupportsNodeReads])
    with pytest.raises(CollectError) as info:
        await collect(p, "plex")
    assert str(info.value) == "plex: provider can neither scan nor read records"


async def test_full_collect_from_record_reads_groups_records_per_anchor():
    p = _server([SupportsRecordReads])
    snap = await collect(p, "plex")
    assert snap.complete and snap.provider == "plex"
    assert snap.collected_at is not None
    assert {k: len(e.records) for k, e in snap.entries.items()} == {"a": 3, "b": 1}
    assert all(e.events == [] for e in snap.entries.values())


async def test_full_scan_keeps_anchor_nodes_and_records():
    p = _server([SupportsScan, SupportsRecordReads, SupportsEventReads])
    snap = await collect(p, "plex")
    assert snap.complete
    assert {k: e.node.ref for k, e in snap.entries.items()} == {
        "a": Ref("a"),
        "b": Ref("b"),
    }
    assert sorted(repr(r.ref) for r in snap.entries["a"].records) == [
        "a:season=1,episode=1",
        "a:season=1,episode=2",
        "a:season=2,episode=1",
    ]
    assert len(snap.entries["a"].events) == 2 and len(snap.entries["b"].events) == 1


async def test_targeted_scan_reads_only_the_named_anchors_in_batches(monkeypatch):
    monkeypatch.setattr(collect_module, "_BATCH", 1)
    p = _server([SupportsScan, SupportsRecordReads, SupportsEventReads])
    snap = await collect(p, "plex", refs=[episode_ref("b", 1, 1), Ref("a")])
    assert not snap.complete
    assert set(snap.entries) == {"a", "b"}
    assert snap.entries["a"].node is not None and snap.entries["b"].node is not None
    assert len(snap.entries["a"].records) == 3
    assert len(snap.entries["b"].events) == 1


async def test_an_empty_targeted_read_reads_nothing():
    p = _server([SupportsScan, SupportsRecordReads, SupportsEventReads])
    snap = await collect(p, "plex", refs=[])
    assert not snap.complete and snap.entries == {}


async def test_plays_are_skipped_when_not_wanted():
    p = _server([SupportsScan, SupportsRecordReads, SupportsEventReads])
    snap = await collect(p, "plex", events=False)
    assert all(e.events == [] and e.summaries == [] for e in snap.entries.values())


async def test_summaries_replace_plays_only_when_preferred_or_the_only_read():
    both = [
        SupportsScan,
        SupportsRecordReads,
        SupportsEventReads,
        SupportsEventSummaries,
    ]
    full = await collect(_server(both), "plex")
    assert len(full.entries["a"].events) == 2 and full.entries["a"].summaries == []
    brief = await collect(_server(both), "plex", prefer_summaries=True)
    assert brief.entries["a"].events == [] and len(brief.entries["a"].summaries) == 2
    only = await collect(_server([SupportsScan, SupportsEventSummaries]), "plex")
    assert only.entries["a"].events == [] and len(only.entries["a"].summaries) == 2


async def test_fetch_anchors_reads_records_only_into_an_incomplete_snapshot():
    entries = [list_entry(k, k.upper(), episodes=2) for k in ("a", "b", "c")]
    records = [list_record(k, status=Status.ACTIVE, progress=1) for k in ("a", "b")]

    def tracker_(mixins):
        return memory_provider(
            list_capabilities(), mixins=mixins, nodes=entries, records=records,
            page_size=1,
        )  # fmt: skip

    p = tracker_([SupportsNodeReads, SupportsRecordReads])
    complete = Snapshot("al", p.capabilities())
    await fetch_anchors(p, complete, [Ref("b"), Ref("a"), Ref("a", (Step("e", 1),))])
    assert {k: e.node.ref for k, e in complete.entries.items()} == {
        "a": Ref("a"),
        "b": Ref("b"),
    }
    assert all(e.records == [] for e in complete.entries.values())
    assert [name for name, _ in p.calls] == ["fetch_nodes"] * 2
    partial = Snapshot("al", p.capabilities(), complete=False)
    await fetch_anchors(p, partial, [Ref("c"), Ref("a"), Ref("b")])
    assert {k: [r.values for r in e.records] for k, e in partial.entries.items()} == {
        "a": [records[0].values],
        "b": [records[1].values],
        "c": [],
    }
    nodes_only = tracker_([SupportsNodeReads])
    partial = Snapshot("al", nodes_only.capabilities(), complete=False)
    await fetch_anchors(nodes_only, partial, [Ref("a")])
    assert partial.entries["a"].records == []


async def test_fetch_anchors_batches_anchors(monkeypatch):
    monkeypatch.setattr(collect_module, "_BATCH", 2)
    entries = [list_entry(k, k.upper()) for k in ("a", "b", "c")]
    p = memory_provider(
        list_capabilities(), mixins=[SupportsNodeReads], nodes=entries
    )  # fmt: skip
    snap = Snapshot("al", p.capabilities())
    await fetch_anchors(p, snap, [Ref("c"), Ref("b"), Ref("a")])
    assert [q.refs for name, q in p.calls] == [(Ref("a"), Ref("b")), (Ref("c"),)]
    assert set(snap.entries) == {"a", "b", "c"}


async def test_a_re_read_replaces_records_of_the_same_ref_and_kind():
    p = _server([SupportsNodeReads, SupportsRecordReads])
    snap = await collect(p, "plex", refs=[Ref("a")])
    again = watched("a", 1, [1], start=T0 + timedelta(days=1))[0]
    p.put_record(again)
    await collect_module._part_records(
        p, snap, [episode_ref("a", 1, 1)], frozenset(p.capabilities().record_fields)
    )
    ep1 = [r for r in snap.entries["a"].records if r.ref == episode_ref("a", 1, 1)]
    assert [r.updated_at for r in ep1] == [again.updated_at]
    assert len(snap.entries["a"].records) == 3


async def test_changes_since_without_a_feed_says_so():
    p = _server([SupportsScan, SupportsRecordReads])
    assert await changes_since(p, "plex", "c1") == (None, None)


async def test_changes_since_follows_pages_to_the_end_of_the_feed():
    feed = _Feed(
        {
            "c0": Page(items=(_change("a"),), cursor="c1"),
            "c1": Page(items=(_change("b"), _change("a")), cursor="c2"),
            "c2": Page(items=(), cursor="c2"),
        }
    )
    assert await changes_since(feed, "plex", "c0") == ({"a", "b"}, "c2")
    assert feed.asked == ["c0", "c1", "c2"]


async def test_changes_since_keeps_the_last_cursor_when_the_feed_ends_without_one():
    feed = _Feed(
        {
            "c0": Page(items=(_change("a"),), cursor="c1"),
            "c1": Page(items=(_change("b"),), cursor=None),
        }
    )
    assert await changes_since(feed, "plex", "c0") == ({"a", "b"}, "c1")
    whole = _Feed(
        {
            "c0": Page(items=(RecordChange(ref=None, at=T0),), cursor="c1"),
            "c1": Page(items=(_change("b"),), cursor=None),
        }
    )
    assert await changes_since(whole, "plex", "c0") == (None, "c1")


async def test_changes_since_refuses_a_repeated_cursor():
    feed = _Feed(
        {
            "c0": Page(items=(_change("a"),), cursor="c1"),
            "c1": Page(items=(_change("b"),), cursor="c1"),
        }
    )
    with pytest.raises(CollectError) as info:
        await changes_since(feed, "plex", "c0")
    assert str(info.value) == "plex: change cursor 'c1' repeated"


async def test_changes_since_stops_after_the_page_limit(monkeypatch):
    monkeypatch.setattr(collect_module, "_MAX_PAGES", 2)
    feed = _Feed(
        {f"c{n}": Page(items=(_change("a"),), cursor=f"c{n + 1}") for n in range(5)}
    )
    with pytest.raises(CollectError) as info:
        await changes_since(feed, "plex", "c0")
    assert str(info.value) == "plex: change feed longer than 2 pages"


# -- every read path checks what the provider returned ------------------------------

_NAIVE = datetime(2024, 1, 1)


def _answer(*items):
    async def call(query):
        return Page(items=tuple(items), cursor=None)

    return call


def _library(mixins):
    return memory_provider(
        library_capabilities(), mixins=mixins,
        nodes=library_show("a", "A", {1: 2}, ids=["tvdb_show:1"]),
        records=watched("a", 1, [1]), events=[play(episode_ref("a", 1, 1), T0)],
    )  # fmt: skip


def _good_show():
    return library_show("a", "A", {1: 2}, ids=["tvdb_show:1"])[0]


def _facets(node, *names):
    return replace(node, facets={n: node.facets[n] for n in names if n in node.facets})


async def _violation(provider, **kw):
    with pytest.raises(ContractViolation) as info:
        await collect(provider, "plex", **kw)
    assert info.value.provider == "plex"
    return info.value.rule


async def test_scanned_nodes_and_records_are_checked():
    p = _library([SupportsScan, SupportsRecordReads])
    node = _good_show()
    p.scan = _answer(ScanItem(replace(node, kind="bogus")))
    assert await _violation(p) is Rule.DECLARED_KINDS
    p.scan = _answer(ScanItem(node))  # every facet, IDS and STRUCTURE asked for
    assert await _violation(p) is Rule.REQUESTED_FACETS
    good = _facets(node, FacetName.IDS, FacetName.STRUCTURE)
    bad = replace(watched("a", 1, [1])[0], kind="bogus")
    p.scan = _answer(ScanItem(good, (bad,)))
    assert await _violation(p) is Rule.DECLARED_KINDS
    rated = watched("a", 1, [1])[0]
    rated = replace(rated, values={**rated.values, RecordField.NOTES: "x"})
    p.scan = _answer(ScanItem(good, (rated,)))
    assert await _violation(p) is Rule.REQUESTED_FIELDS


async def test_a_provider_declaring_no_facets_is_told_what_it_did_not_declare():
    # An empty facet declaration is read as "not filled in", not as "none": the
    # scan still asks for the default facets (ids, structure), so a provider that
    # returns them without declaring them hears that it did not declare them,
    # rather than that it hydrated facets nobody asked for.
    p = _library([SupportsScan, SupportsRecordReads])
    caps = replace(p.capabilities(), facets=frozenset())
    p.capabilities = lambda: caps
    asked = []
    node = _facets(_good_show(), FacetName.IDS, FacetName.STRUCTURE)

    async def scan(query):
        asked.append(query.facets)
        return Page(items=(ScanItem(node),), cursor=None)

    p.scan = scan
    assert await _violation(p) is Rule.DECLARED_FACETS
    assert asked == [frozenset({FacetName.IDS, FacetName.STRUCTURE})]


async def test_records_read_without_a_scan_are_checked():
    p = _library([SupportsRecordReads])
    p.fetch_records = _answer(replace(watched("a", 1, [1])[0], kind="bogus"))
    assert await _violation(p) is Rule.DECLARED_KINDS
    noted = watched("a", 1, [1])[0]
    noted = replace(noted, values={**noted.values, RecordField.NOTES: "x"})
    p.fetch_records = _answer(noted)
    assert await _violation(p) is Rule.REQUESTED_FIELDS


async def test_targeted_reads_check_nodes_records_and_part_records():
    p = _library([SupportsNodeReads, SupportsRecordReads])
    node = _good_show()
    p.fetch_nodes = _answer(replace(node, kind="bogus"))
    assert await _violation(p, refs=[Ref("a")]) is Rule.DECLARED_KINDS
    p.fetch_nodes = _answer(node)
    assert await _violation(p, refs=[Ref("a")]) is Rule.REQUESTED_FACETS
    p.fetch_nodes = _answer(_facets(node, FacetName.IDS, FacetName.STRUCTURE))
    bad = replace(watched("a", 1, [1])[0], kind="bogus")
    p.fetch_records = _answer(bad)
    assert await _violation(p, refs=[Ref("a")]) is Rule.DECLARED_KINDS
    noted = watched("a", 1, [1])[0]
    noted = replace(noted, values={**noted.values, RecordField.NOTES: "x"})
    p.fetch_records = _answer(noted)
    assert await _violation(p, refs=[Ref("a")]) is Rule.REQUESTED_FIELDS

    async def parts_only(query):
        bad_part = any(r.path for r in query.refs)
        return Page(items=(bad,) if bad_part else (), cursor=None)

    p.fetch_records = parts_only
    assert await _violation(p, refs=[Ref("a")]) is Rule.DECLARED_KINDS

    async def noted_parts(query):
        return Page(
            items=(noted,) if any(r.path for r in query.refs) else (), cursor=None
        )

    p.fetch_records = noted_parts
    assert await _violation(p, refs=[Ref("a")]) is Rule.REQUESTED_FIELDS


async def test_plays_and_summaries_are_checked():
    p = _library([SupportsScan, SupportsRecordReads, SupportsEventReads])
    p.fetch_events = _answer(Event(episode_ref("a", 1, 1), "bogus", T0))
    assert await _violation(p) is Rule.DECLARED_KINDS
    s = _library([SupportsScan, SupportsRecordReads, SupportsEventSummaries])
    s.fetch_event_summaries = _answer(EventSummary(episode_ref("a", 1, 1), "bogus", 1))
    assert await _violation(s) is Rule.DECLARED_KINDS


async def test_a_naive_time_anywhere_is_refused_naming_the_provider():
    p = _library([SupportsScan, SupportsRecordReads, SupportsEventReads])
    p.fetch_events = _answer(Event(episode_ref("a", 1, 1), "play", _NAIVE))
    assert await _violation(p) is Rule.UTC_DATETIME


async def test_entry_records_are_checked_before_part_records():
    p = _library([SupportsNodeReads, SupportsRecordReads])
    p.fetch_nodes = _answer(_facets(_good_show(), FacetName.IDS, FacetName.STRUCTURE))
    bad = replace(list_record("a"), kind="bogus")

    async def anchors_only(query):
        anchor = any(not r.path for r in query.refs)
        return Page(items=(bad,) if anchor else (), cursor=None)

    p.fetch_records = anchors_only
    assert await _violation(p, refs=[Ref("a")]) is Rule.DECLARED_KINDS


async def test_targeted_part_records_page_to_the_end():
    p = memory_provider(
        library_capabilities(), mixins=[SupportsNodeReads, SupportsRecordReads],
        nodes=library_show("a", "A", {1: 3}), records=watched("a", 1, [1, 2, 3]),
        page_size=1,
    )  # fmt: skip
    snap = await collect(p, "plex", refs=[Ref("a")])
    assert len(snap.entries["a"].records) == 3


async def test_a_targeted_re_read_replaces_only_the_same_ref_and_kind():
    entries = [list_entry("a", "A", episodes=2)]
    fresh = list_record("a", status=Status.COMPLETED, progress=2)
    p = memory_provider(
        list_capabilities(), mixins=[SupportsNodeReads, SupportsRecordReads],
        nodes=entries, records=[fresh],
    )  # fmt: skip
    snap = Snapshot("al", p.capabilities(), complete=False)
    old = list_record("a", status=Status.ACTIVE, progress=1)
    other_kind = replace(old, kind="other")
    part = list_record(Ref("a", (Step("episode", 1),)), status=Status.ACTIVE)
    snap.entry("a").records = [old, other_kind, part]
    await fetch_anchors(p, snap, [Ref("a")])
    assert [(r.ref, r.kind, r.values) for r in snap.entries["a"].records] == [
        (other_kind.ref, "other", other_kind.values),
        (part.ref, "", part.values),
        (fresh.ref, "", fresh.values),
    ]


async def test_a_targeted_read_always_asks_for_structure_a_full_one_as_told():
    p = _library([SupportsNodeReads, SupportsRecordReads])
    snap = await collect(p, "plex", refs=[Ref("a")], facets=frozenset({FacetName.IDS}))
    assert len(snap.entries["a"].records) == 1  # the part record, found via STRUCTURE
    s = _library([SupportsScan, SupportsRecordReads])
    full = await collect(s, "plex", facets=frozenset({FacetName.IDS}))
    assert set(full.entries["a"].node.facets) == {FacetName.IDS}


async def test_only_facets_the_provider_declares_are_asked_for():
    p = _library([SupportsScan, SupportsRecordReads])
    p._capabilities = replace(
        p.capabilities(), facets=frozenset({FacetName.IDS, FacetName.STRUCTURE})
    )
    wanted = frozenset({FacetName.IDS, FacetName.STRUCTURE, FacetName.TITLES})
    snap = await collect(p, "plex", facets=wanted)
    assert set(snap.entries["a"].node.facets) <= {FacetName.IDS, FacetName.STRUCTURE}


async def test_targeted_summaries_are_read_for_the_named_anchors_page_by_page():
    p = memory_provider(
        library_capabilities(),
        mixins=[SupportsNodeReads, SupportsRecordReads, SupportsEventSummaries],
        nodes=[*library_show("a", "A", {1: 3}), *library_show("b", "B", {1: 1})],
        events=[play(episode_ref("a", 1, n), T0) for n in (1, 2, 3)]
        + [play(episode_ref("b", 1, 1), T0)],
        page_size=1,
    )
    snap = await collect(p, "plex", refs=[Ref("a")])
    assert set(snap.entries) == {"a"}
    assert len(snap.entries["a"].summaries) == 3


async def test_a_targeted_scan_reads_each_anchor_once():
    p = memory_provider(
        library_capabilities(), mixins=[SupportsScan, SupportsRecordReads],
        nodes=[*library_show("a", "A", {1: 2}), *library_show("b", "B", {1: 1})],
        records=watched("a", 1, [1, 2]) + watched("b", 1, [1]),
    )  # fmt: skip
    snap = await collect(p, "plex", refs=[Ref("a"), Ref("b")])
    assert {k: len(e.records) for k, e in snap.entries.items()} == {"a": 2, "b": 1}
    assert [name for name, _ in p.calls].count("scan") == 1


async def test_a_targeted_read_hydrates_the_facets_asked_for():
    p = _library([SupportsNodeReads, SupportsRecordReads])
    wanted = frozenset({FacetName.IDS, FacetName.TITLES})
    snap = await collect(p, "plex", refs=[Ref("a")], facets=wanted)
    assert set(snap.entries["a"].node.facets) == {
        FacetName.IDS,
        FacetName.TITLES,
        FacetName.STRUCTURE,
    }


async def test_records_read_without_a_scan_are_kept_as_read():
    p = _library([SupportsRecordReads])
    snap = await collect(p, "plex")
    expected = watched("a", 1, [1])[0]
    assert [(r.ref, r.values) for r in snap.entries["a"].records] == [
        (expected.ref, expected.values)
    ]
