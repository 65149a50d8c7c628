"""`anibridge.bridge.observe`: source facts → per-target-anchor observations.

Each test reads a real memory source through `collect`, routes it with real mappings
(`identify`) and asks `observe` what the target entry saw: which units, how many
plays, when, and the facts set on aggregate records.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bridge_support import T0, custom_index, library, tracker

from anibridge.bridge.collect import collect
from anibridge.bridge.identity import identify
from anibridge.bridge.observe import Observation, observe, observe_each
from anibridge.provider.base import (
    Descriptor,
    Event,
    EventSummary,
    Rating,
    Record,
    RecordField,
    RecordKind,
    Ref,
    Status,
)
from anibridge.provider.testing.memory import (
    episode_ref,
    list_capabilities,
    list_record,
    memory_provider,
    play,
    watched_record,
)

F = RecordField
S1 = 'tvdb_show:500:s1:\n  anilist:100:\n    "1-12": "1-12"\n'
H = timedelta(hours=1)


def target():
    return tracker([("100", "Show", 12, ["anilist:100"])])


async def seen(
    tmp_path, yaml_text, source, *, summaries=(), extra=()
) -> Observation | None:
    """The observation of AniList 100; `summaries` and `extra` events are added
    to the collected source as another read (or provider) would hold them."""
    index = custom_index(tmp_path, yaml_text)
    a, b = await collect(source, "src"), await collect(target(), "tgt")
    for sm in summaries:
        a.entries[sm.ref.key].summaries.append(sm)
    for ev in extra:
        a.entries[ev.ref.key].events.append(ev)
    ident = await identify(a, b, index, provider=target())
    return observe(a, ident).get("100")


def show(records=(), events=(), seasons=None):
    return library([("s", "Show", seasons or {1: 12}, ["tvdb_show:500"])],
                   records, events)  # fmt: skip


def ep(n, season=1):
    return episode_ref("s", season, n)


def test_first_and_last_consumption_times():
    o = Observation(Ref("t"), units={(None, 1): [1, T0, T0 + H],
                                     (None, 2): [1, None, None],
                                     (None, 3): [2, T0 - H, T0]})  # fmt: skip
    assert o.first_at == T0 - H
    assert o.last_at == T0 + H
    assert Observation(Ref("t")).first_at is None
    assert Observation(Ref("t")).last_at is None


async def test_plays_become_units_with_counts_times_and_exact_events(tmp_path):
    events = [play(ep(1), T0), play(ep(1), T0 + 2 * H), play(ep(2), T0 + H)]
    o = await seen(tmp_path, S1, show(events=events),
                   extra=[Event(ep(3), "rating", T0)])  # fmt: skip
    assert o.units == {(None, 1): [2, T0, T0 + 2 * H], (None, 2): [1, T0 + H, T0 + H]}
    assert sorted(o.events) == [((None, 1), T0), ((None, 1), T0 + 2 * H),
                                ((None, 2), T0 + H)]  # fmt: skip
    assert o.weighted == 2.0
    assert o.sources == ["s"] and o.provenance


async def test_summaries_count_as_plays_where_there_are_no_single_plays(tmp_path):
    summaries = [
        EventSummary(ep(1), "play", count=3, first_at=T0, last_at=T0 + H),
        EventSummary(ep(2), "play", count=0, last_at=T0),
        EventSummary(ep(3), "rating", count=2, last_at=T0),
        EventSummary(ep(4), "play", count=None, last_at=T0),
    ]
    o = await seen(tmp_path, S1, show(), summaries=summaries)
    assert o.units == {(None, 1): [3, T0, T0 + H]}
    assert o.events == []


async def test_a_summary_and_plays_of_one_episode_count_the_larger(tmp_path):
    events = [play(ep(1), T0 + H)]
    summaries = [EventSummary(ep(1), "play", count=4, first_at=T0, last_at=T0 + H)]
    o = await seen(tmp_path, S1, show(events=events), summaries=summaries)
    assert o.units == {(None, 1): [4, T0 + H, T0 + H]}


async def test_episode_records_count_their_repeats_and_take_play_times(tmp_path):
    records = [
        watched_record(ep(1), last_viewed=T0, repeat_count=2),
        watched_record(ep(2), last_viewed=T0 + H, repeat_count=0),
        watched_record(ep(3), last_viewed=T0 + H, in_progress=True),
    ]
    o = await seen(tmp_path, S1, show(records))
    assert o.units == {(None, 1): [3, T0, T0], (None, 2): [1, T0 + H, T0 + H]}
    assert o.in_progress
    # a record with plays: the plays' count (if larger) and their times
    records = [watched_record(ep(1), last_viewed=T0 + 5 * H, repeat_count=0)]
    events = [play(ep(1), T0), play(ep(1), T0 + H)]
    o = await seen(tmp_path, S1, show(records, events))
    assert o.units[(None, 1)] == [2, T0, T0 + H]
    summaries = [EventSummary(ep(1), "play", count=5, first_at=T0 - H, last_at=None)]
    o = await seen(tmp_path, S1, show(records), summaries=summaries)
    assert o.units[(None, 1)] == [5, T0 - H, T0 + 5 * H]


async def test_an_unplayed_episode_record_is_no_unit(tmp_path):
    unplayed = Record(ep(1), values={F.LAST_ACTIVITY_AT: T0})
    o = await seen(tmp_path, S1, show([unplayed]))
    assert o is None or o.units == {}


async def test_units_outside_every_range_are_not_counted(tmp_path):
    part = 'tvdb_show:500:s1:\n  anilist:100:\n    "3-4": "1-2"\n'
    o = await seen(tmp_path, part, show(events=[play(ep(n), T0) for n in (1, 3, 4, 5)]))
    assert sorted(o.units) == [(None, 1), (None, 2)]
    assert o.weighted == 2.0


async def test_two_records_of_one_unit_keep_the_most_plays_and_widest_times(tmp_path):
    both = ('tvdb_show:500:s1:\n  anilist:100:\n    "1": "1"\n'
            'tvdb_show:500:s0:\n  anilist:100:\n    "1": "1"\n')  # fmt: skip
    records = [
        watched_record(ep(1), last_viewed=T0 + H, repeat_count=1),
        watched_record(ep(1, season=0), last_viewed=T0 + 3 * H),
    ]
    o = await seen(tmp_path, both, show(records, seasons={0: 1, 1: 12}))
    assert o.units[(None, 1)] == [2, T0 + H, T0 + 3 * H]
    records = [
        watched_record(ep(1), last_viewed=T0 + 3 * H),
        watched_record(ep(1, season=0), last_viewed=T0 + H, repeat_count=2),
    ]
    o = await seen(tmp_path, both, show(records, seasons={0: 1, 1: 12}))
    assert o.units[(None, 1)] == [3, T0 + H, T0 + 3 * H]


async def test_an_unscoped_id_counts_later_seasons_by_absolute_position(tmp_path):
    whole = 'tvdb_show:500:\n  anilist:100:\n    "13-24": "1-12"\n'
    events = [play(ep(1, season=2), T0), play(ep(2, season=2), T0),
              play(ep(1, season=0), T0), play(ep(5, season=1), T0)]  # fmt: skip
    o = await seen(tmp_path, whole, show(events=events, seasons={0: 2, 1: 12, 2: 12}))
    assert sorted(o.units) == [(None, 1), (None, 2)]


# -- aggregate records (trackers) --------------------------------------------------


def kinds_tracker(records, *kinds):
    caps = replace(
        list_capabilities(),
        record_kinds=tuple(Descriptor(n, s) for n, s in kinds),
    )
    from anibridge.provider.testing.memory import list_entry

    return memory_provider(
        caps, nodes=[list_entry("1", "Show", episodes=12, ids=["anilist:100"])],
        records=records,
    )  # fmt: skip


async def tracker_seen(tmp_path, source):
    a, b = await collect(source, "src"), await collect(target(), "tgt")
    ident = await identify(a, b, custom_index(tmp_path, S1), provider=target())
    return observe(a, ident).get("100")


async def test_aggregate_kinds_say_planned_collected_and_rated(tmp_path):
    rating = Rating(8, (1, 10, 1))
    records = [
        Record(Ref("1"), kind="plan"),
        Record(Ref("1"), kind="owned"),
        Record(Ref("1"), kind="rates", values={F.RATING: rating}),
        Record(Ref("1"), kind="other", values={F.NOTES: "not a fact"}),
    ]
    src = kinds_tracker(
        records,
        ("", RecordKind.PROGRESS),
        ("plan", RecordKind.PLANNED),
        ("owned", RecordKind.COLLECTION),
        ("rates", RecordKind.RATINGS),
        ("other", None),
    )
    o = await tracker_seen(tmp_path, src)
    assert o.planned and o.collected
    assert o.explicit == {F.RATING: rating}
    assert o.units == {}
    assert len(o.source_records) == 4


async def test_a_progress_record_counts_its_episodes_and_carries_its_facts(tmp_path):
    rec = list_record("1", status=Status.ACTIVE, progress=3, repeat=1, notes="n",
                      started=T0, updated_at=T0 + H)  # fmt: skip
    o = await tracker_seen(tmp_path, kinds_tracker([rec], ("", RecordKind.PROGRESS)))
    assert sorted(o.units) == [(None, 1), (None, 2), (None, 3)]
    assert o.units[(None, 1)][0] == 2  # one rewatch: two plays each
    assert o.units[(None, 1)][1] == T0
    assert o.approximate_times
    assert o.explicit[F.NOTES] == "n"
    assert o.explicit_at == T0 + H


async def test_a_completed_record_without_progress_consumed_the_whole(tmp_path):
    rec = list_record("1", status=Status.COMPLETED, updated_at=T0)
    o = await tracker_seen(tmp_path, kinds_tracker([rec], ("", RecordKind.PROGRESS)))
    assert sorted(o.units) == [(None, 0)]
    assert not o.in_progress
    rec = list_record("1", status=Status.ACTIVE, updated_at=T0)
    o = await tracker_seen(tmp_path, kinds_tracker([rec], ("", RecordKind.PROGRESS)))
    assert o.units == {} and o.in_progress
    rec = list_record("1", status=Status.ACTIVE, progress=0, updated_at=T0)
    o = await tracker_seen(tmp_path, kinds_tracker([rec], ("", RecordKind.PROGRESS)))
    assert o.units == {} and not o.approximate_times


async def test_observe_each_hands_over_every_observation_once():
    from anibridge.bridge.identity import Identity

    assert list(observe_each(await collect(show(), "src"), Identity())) == []
