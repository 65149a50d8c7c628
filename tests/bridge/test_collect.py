"""Targeted collects reach part-level state; ref-less changes force a full read."""

from __future__ import annotations

from datetime import timedelta

from bridge_support import T0, watched

from anibridge.bridge.collect import changes_since, collect
from anibridge.provider.base import (
    RecordChange,
    Ref,
    SupportsEventReads,
    SupportsEventSummaries,
    SupportsNodeReads,
    SupportsRecordReads,
)
from anibridge.provider.testing.memory import (
    episode_ref,
    library_capabilities,
    library_show,
    memory_provider,
    play,
)


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
