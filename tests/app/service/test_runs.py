"""One read policy for every front end: what a run (or preview) reads, and when
cursors move."""

from __future__ import annotations

from types import SimpleNamespace

from anibridge.app.service.runs import RunRequest, commit, plan_reads
from anibridge.bridge.stores import MemoryStores
from anibridge.provider.base import (
    SupportsChangeFeed,
    SupportsNodeReads,
    SupportsRecordReads,
)
from anibridge.provider.testing.memory import (
    library_capabilities,
    library_show,
    list_capabilities,
    list_entry,
    memory_provider,
)

FEED = [SupportsNodeReads, SupportsRecordReads, SupportsChangeFeed]
NO_FEED = [SupportsNodeReads, SupportsRecordReads]


def _session(*, source_feed=True, target_feed=True, two_way=False):
    source = memory_provider(
        library_capabilities(),
        mixins=FEED if source_feed else NO_FEED,
        nodes=[*library_show("a", "A", {1: 2}), *library_show("b", "B", {1: 2})],
    )
    target = memory_provider(
        list_capabilities(), mixins=FEED if target_feed else NO_FEED
    )
    return SimpleNamespace(
        name="demo",
        profile=SimpleNamespace(
            source=SimpleNamespace(key="plex"),
            target=SimpleNamespace(key="anilist"),
            direction="two_way" if two_way else "one_way",
        ),
        providers={"plex": source, "anilist": target},
    )


def _touch(provider, key: str) -> None:
    node = next(n for n in provider.nodes() if n.ref.key == key and n.ref.is_anchor)
    provider.put_node(node)


async def _first_clean_run(session, stores):
    reads = await plan_reads(session, stores, RunRequest())
    commit(session, stores, reads)
    return reads


async def test_a_first_incremental_run_reads_everything_and_takes_the_heads():
    session, stores = _session(), MemoryStores().bundle()
    reads = await plan_reads(session, stores, RunRequest())
    assert reads.mode == "full" and not reads.snapshots
    assert reads.why_full == "first run, or a change named no entry"
    assert set(reads.cursors) == {"plex"}
    assert stores.cursors.cursor("demo", "plex") is None  # committed only later
    commit(session, stores, reads)
    assert stores.cursors.cursor("demo", "plex") == reads.cursors["plex"]


async def test_later_runs_reread_only_what_the_feed_reports_or_nothing():
    session, stores = _session(), MemoryStores().bundle()
    await _first_clean_run(session, stores)
    quiet = await plan_reads(session, stores, RunRequest())
    assert quiet.nothing_changed and quiet.mode == "incremental"
    _touch(session.providers["plex"], "b")
    reads = await plan_reads(session, stores, RunRequest(refs=frozenset({"a"})))
    assert reads.mode == "incremental"
    assert reads.anchors == ("a", "b")  # the feed's change plus a webhook's ref
    snap = reads.snapshots["plex"]
    assert not snap.complete and set(snap.entries) == {"a", "b"}


async def test_full_reads_everything_but_still_moves_the_cursor():
    session, stores = _session(), MemoryStores().bundle()
    await _first_clean_run(session, stores)
    _touch(session.providers["plex"], "a")
    reads = await plan_reads(session, stores, RunRequest("full"))
    assert reads.mode == "full" and not reads.snapshots and not reads.nothing_changed
    assert reads.cursors["plex"] != stores.cursors.cursor("demo", "plex")


async def test_a_source_without_a_feed_is_read_whole():
    session, stores = _session(source_feed=False), MemoryStores().bundle()
    reads = await plan_reads(session, stores, RunRequest())
    assert reads.mode == "full" and reads.cursors == {}
    assert reads.why_full == "the source has no change feed"


async def test_two_way_reads_everything_when_the_target_changed_or_has_no_feed():
    session, stores = _session(two_way=True), MemoryStores().bundle()
    await _first_clean_run(session, stores)
    assert stores.cursors.cursor("demo", "plex") is not None
    assert stores.cursors.cursor("demo", "anilist") is not None  # both feeds
    quiet = await plan_reads(session, stores, RunRequest())
    assert quiet.nothing_changed  # neither side reported a change
    session.providers["anilist"].put_node(list_entry("anilist:1", "X"))
    changed = await plan_reads(session, stores, RunRequest())
    assert changed.mode == "full" and changed.why_full == "the target changed"
    blind = _session(two_way=True, target_feed=False)
    reads = await plan_reads(blind, MemoryStores().bundle(), RunRequest())
    assert reads.mode == "full"
    assert reads.why_full == "the target has no change feed"


async def test_targeted_reads_only_the_named_anchors():
    session, stores = _session(), MemoryStores().bundle()
    reads = await plan_reads(
        session, stores, RunRequest("targeted", refs=frozenset({"b"}))
    )
    assert reads.mode == "targeted" and reads.anchors == ("b",)
    assert set(reads.snapshots["plex"].entries) == {"b"}
    assert reads.cursors == {}  # a webhook never moves the feed's cursor
    empty = await plan_reads(session, stores, RunRequest("targeted"))
    assert empty.nothing_changed
