"""Reading a provider reports each page of each section it reads."""

from __future__ import annotations

from bridge_support import T0, watched

from anibridge.bridge.collect import collect
from anibridge.progress import Read, reporting
from anibridge.provider.base import (
    Ref,
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
    memory_provider,
    play,
)


async def test_each_page_of_each_section_is_reported():
    nodes = [*library_show("a", "A", {1: 3}), *library_show("b", "B", {1: 2})]
    records = watched("a", 1, [1, 2, 3]) + watched("b", 1, [1, 2])
    events = [play(episode_ref("a", 1, n), T0) for n in (1, 2, 3)]
    provider = memory_provider(
        library_capabilities(),
        mixins=[SupportsNodeReads, SupportsRecordReads, SupportsEventReads],
        nodes=nodes,
        records=records,
        events=events,
        page_size=2,
    )
    seen: list[Read] = []
    with reporting(seen.append):
        snap = await collect(provider, "plex")
    read = [e for e in seen if isinstance(e, Read)]
    assert {e.provider for e in read} == {"plex"}
    by_section: dict[str, list[int]] = {}
    for event in read:
        by_section.setdefault(event.section, []).append(event.items)
    # 5 records in pages of 2; 3 plays in pages of 2.
    assert by_section["records"] == [2, 2, 1]
    assert sum(by_section["plays"]) == 3
    assert all(n <= 2 for n in by_section["plays"])
    assert sum(len(e.records) for e in snap.entries.values()) == 5


def _sections(provider, **kw):
    async def run():
        seen: list[Read] = []
        with reporting(seen.append):
            await collect(provider, "plex", **kw)
        return [(e.provider, e.section, e.items) for e in seen if isinstance(e, Read)]

    return run()


def _show_server(mixins):
    return memory_provider(
        library_capabilities(),
        mixins=mixins,
        nodes=library_show("a", "A", {1: 2}),
        records=watched("a", 1, [1, 2]),
        events=[play(episode_ref("a", 1, 1), T0)],
    )


async def test_a_targeted_read_reports_entries_their_records_episodes_and_plays():
    p = _show_server([SupportsNodeReads, SupportsRecordReads, SupportsEventReads])
    assert await _sections(p, refs=[Ref("a")]) == [
        ("plex", "entries", 1),
        ("plex", "entry records", 0),
        ("plex", "episodes", 2),
        ("plex", "plays", 1),
    ]


async def test_a_scan_reports_the_library_and_summaries_their_own_section():
    p = _show_server([SupportsScan, SupportsRecordReads, SupportsEventSummaries])
    assert await _sections(p) == [
        ("plex", "library", 1),
        ("plex", "play summaries", 1),
    ]
