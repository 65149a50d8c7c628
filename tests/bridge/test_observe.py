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
from anibridge.bridge.observe import (
    Observation,
    observe,
    observe_each,
    record_kind_semantics,
)
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


# -- route shapes: target seasons, direct ids, ranges, ratios -----------------------


def lib_target():
    return library([("t", "Show", {1: 12, 2: 12}, ["tvdb_show:500"])])


async def observed(tmp_path, yaml_text, source, target_provider, key):
    """The observation of target anchor `key` for `source` through `yaml_text`."""
    a = await collect(source, "src")
    b = await collect(target_provider, "tgt")
    index = custom_index(tmp_path, yaml_text)
    ident = await identify(a, b, index, provider=target_provider)
    return observe(a, ident).get(key)


async def test_a_season_scoped_target_places_units_in_that_season(tmp_path):
    to_s2 = 'anilist:100:\n  tvdb_show:500:s2:\n    "1-12": "1-12"\n'
    rec = list_record("100", status=Status.ACTIVE, progress=3, updated_at=T0)
    source = tracker([("100", "Show", 12, ["anilist:100"])], [rec])
    o = await observed(tmp_path, to_s2, source, lib_target(), "t")
    assert sorted(o.units) == [(2, 1), (2, 2), (2, 3)]
    assert o.span == 12  # the route's highest target episode


async def test_a_direct_id_keeps_the_source_season_and_number(tmp_path):
    records = [watched_record(episode_ref("s", 1, 2), last_viewed=T0)]
    events = [play(episode_ref("s", 2, 3), T0 + H)]
    summaries = [EventSummary(episode_ref("s", 2, 5), "play", count=2, last_at=T0)]
    source = library([("s", "Show", {1: 12, 2: 12}, ["tvdb_show:500"])],
                     records, events)  # fmt: skip
    a, b = await collect(source, "src"), await collect(lib_target(), "tgt")
    a.entries["s"].summaries.extend(summaries)
    index = custom_index(tmp_path, "anilist:1:\n  anilist:2:\n")
    o = observe(a, await identify(a, b, index, provider=lib_target()))["t"]
    assert o.units == {(1, 2): [1, T0, T0], (2, 3): [1, T0 + H, T0 + H],
                       (2, 5): [2, None, T0]}  # fmt: skip
    assert o.events == [((2, 3), T0 + H)]
    assert o.weighted == 3.0  # one per source unit: direct ids have no ratio
    assert o.span == 0  # no range caps a direct id
    assert o.provenance == ["tvdb_show:500", "tvdb_show:500:s1", "tvdb_show:500:s2"]
    assert o.target == Ref.anchor("t") and o.sources == ["s"]


async def test_the_span_is_the_highest_routed_target_unit_or_none_when_open(tmp_path):
    two = ('tvdb_show:500:s1:\n  anilist:100:\n    "1-12": "1-12"\n'
           'tvdb_show:500:s2:\n  anilist:100:\n    "1-6": "13-18"\n')  # fmt: skip
    source = show(seasons={1: 12, 2: 12})
    o = await seen(tmp_path, two, source, extra=[play(ep(1), T0)])
    assert o.span == 18
    assert len(o.provenance) == 2
    gapped = 'tvdb_show:500:s1:\n  anilist:100:\n    "1-2": "1,5"\n'
    o = await seen(tmp_path, gapped, source, extra=[play(ep(1), T0)])
    assert o.span == 5
    open_ended = 'tvdb_show:500:s1:\n  anilist:100:\n    "13-": "1-"\n'
    o = await seen(tmp_path, open_ended, source, extra=[play(ep(13), T0)])
    assert o.span is None and o.units == {(None, 1): [1, T0, T0]}
    o = await seen(tmp_path, two + open_ended.replace(":s1:", ":s3:"),
                   show(seasons={1: 12, 2: 12, 3: 20}),
                   extra=[play(ep(1), T0)])  # fmt: skip
    assert o.span is None


async def test_positions_past_a_shorter_target_range_map_to_nothing(tmp_path):
    short = 'tvdb_show:500:s1:\n  anilist:100:\n    "1-8": "1-6"\n'
    o = await seen(tmp_path, short, show(events=[play(ep(n), T0) for n in (6, 7, 8)]))
    assert sorted(o.units) == [(None, 6)]
    assert o.weighted == 1.0
    shifted = 'tvdb_show:500:s1:\n  anilist:100:\n    "3-10": "1-6"\n'
    o = await seen(tmp_path, shifted, show(events=[play(ep(n), T0) for n in (8, 9)]))
    assert sorted(o.units) == [(None, 6)]


async def test_several_ranges_and_segments_translate_each_episode(tmp_path):
    pairs = ('tvdb_show:500:s1:\n  anilist:100:\n'
             '    "1-4": "1-2,5-6"\n    "5-8": "20-23"\n')  # fmt: skip
    records = [watched_record(ep(n), last_viewed=T0) for n in (3, 6)]
    o = await seen(tmp_path, pairs, show(records))
    assert sorted(o.units) == [(None, 5), (None, 21)]
    open_target = 'tvdb_show:500:s1:\n  anilist:100:\n    "1-12": "3-"\n'
    o = await seen(tmp_path, open_target, show(records))
    assert sorted(o.units) == [(None, 5), (None, 8)]
    assert o.span is None


async def test_a_ratio_weights_the_count_and_merges_episodes_into_one_unit(tmp_path):
    halves = 'tvdb_show:500:s1:\n  anilist:100:\n    "1-8": "1-4|2"\n'
    untimed = Record(ep(5), values={F.STATUS: watched_record(ep(5), last_viewed=T0)
                                    .values[F.STATUS]})  # fmt: skip
    records = [
        # unit 1: the second episode has more plays and an earlier time
        watched_record(ep(1), last_viewed=T0 + 2 * H),
        watched_record(ep(2), last_viewed=T0 + H, repeat_count=2),
        # unit 2: the second episode has fewer plays and a later time
        watched_record(ep(3), last_viewed=T0, repeat_count=2),
        watched_record(ep(4), last_viewed=T0 + H),
        # unit 3: an untimed episode, then a timed one
        untimed,
        watched_record(ep(6), last_viewed=T0),
        # unit 4: a timed episode, then an untimed one
        watched_record(ep(7), last_viewed=T0 + H),
        replace(untimed, ref=ep(8)),
    ]
    o = await seen(tmp_path, halves, show(records))
    assert o.units == {
        (None, 1): [3, T0 + H, T0 + 2 * H],
        (None, 2): [3, T0, T0 + H],
        (None, 3): [1, T0, T0],
        (None, 4): [1, T0 + H, T0 + H],
    }
    assert o.weighted == 4.0  # eight episodes at half a unit each


async def test_the_shortest_containing_range_decides_and_the_first_wins_ties(tmp_path):
    nested = ('tvdb_show:500:s1:\n  anilist:100:\n'
              '    "1-12": "1-12"\n    "5-6": "30-31"\n')  # fmt: skip
    o = await seen(tmp_path, nested, show(events=[play(ep(5), T0), play(ep(7), T0)]))
    assert sorted(o.units) == [(None, 7), (None, 30)]
    overlapping = ('tvdb_show:500:s1:\n  anilist:100:\n'
                   '    "1-3": "1-3"\n    "2-4": "11-13"\n')  # fmt: skip
    o = await seen(tmp_path, overlapping, show(events=[play(ep(2), T0)]))
    assert sorted(o.units) == [(None, 2)]


async def test_an_unscoped_route_skips_a_season_its_scoped_route_already_counts(
    tmp_path,
):
    both = ('tvdb_show:500:s2:\n  anilist:100:\n    "1-12": "1-12"\n'
            'tvdb_show:500:\n  anilist:100:\n    "13-24": "1-12"\n')  # fmt: skip
    records = [watched_record(ep(1, season=2), last_viewed=T0, repeat_count=1)]
    events = [play(ep(2, season=2), T0)]
    o = await seen(tmp_path, both, show(records, events, seasons={1: 12, 2: 12}))
    assert o.units == {(None, 1): [2, T0, T0], (None, 2): [1, T0, T0]}
    assert o.weighted == 2.0  # each episode once, not once per route


async def test_episode_records_reach_an_unscoped_route_by_absolute_position(tmp_path):
    whole = 'tvdb_show:500:\n  anilist:100:\n    "13-24": "1-12"\n'
    records = [
        watched_record(ep(1, season=2), last_viewed=T0, repeat_count=2),
        watched_record(ep(3, season=2), last_viewed=T0 + H),
        watched_record(ep(1, season=0), last_viewed=T0),  # a special: no position
    ]
    o = await seen(tmp_path, whole, show(records, seasons={0: 1, 1: 12, 2: 12}))
    assert o.units == {(None, 1): [3, T0, T0], (None, 3): [1, T0 + H, T0 + H]}
    assert o.weighted == 2.0


async def test_plays_of_the_anchor_itself_are_unit_zero(tmp_path):
    """A film's plays, and a play summary of the whole, count as unit 0."""
    from anibridge.provider.testing.memory import library_capabilities, library_movie

    film = 'tmdb_movie:77:\n  anilist:100:\n    "1": "1"\n'
    movie = Ref.anchor("m")
    source = memory_provider(
        library_capabilities(),
        nodes=[library_movie("m", "Film", ids=["tmdb_movie:77"])],
        events=[play(movie, T0 + H), play(movie, T0)],
    )
    o = await observed(tmp_path, film, source, target(), "100")
    assert o.units == {(None, 0): [2, T0, T0 + H]}
    assert sorted(o.events) == [((None, 0), T0), ((None, 0), T0 + H)]
    assert o.weighted == 1.0
    source = memory_provider(
        library_capabilities(),
        nodes=[library_movie("m", "Film", ids=["tmdb_movie:77"])],
    )
    a, b = await collect(source, "src"), await collect(target(), "tgt")
    a.entries["m"].summaries.append(
        EventSummary(movie, "play", count=3, first_at=T0, last_at=T0 + H)
    )
    index = custom_index(tmp_path, film)
    o = observe(a, await identify(a, b, index, provider=target()))["100"]
    assert o.units == {(None, 0): [3, T0, T0 + H]}
    assert o.events == [] and o.weighted == 1.0


def episode_tracker(records=(), caps=None):
    """A tracker that also keeps per-episode facts (episodes without seasons)."""
    from anibridge.provider.testing.memory import list_entry

    return memory_provider(
        caps or list_capabilities(),
        nodes=[list_entry("1", "Show", episodes=12, ids=["mal:5"])],
        records=records,
    )


MAL = 'mal:5:\n  anilist:100:\n    "1-12": "3-14"\n'


def episode(n):
    return Ref.at("1", ("episode", n))


async def test_episodes_without_seasons_go_through_the_anchors_routes(tmp_path):
    records = [
        list_record(episode(1), status=Status.COMPLETED, repeat=1),
        list_record(episode(2), status=Status.ACTIVE),
    ]
    o = await observed(tmp_path, MAL, episode_tracker(records), target(), "100")
    assert o.units == {(None, 3): [2, None, None]}
    assert o.in_progress  # episode 2 (target 4) is started


async def test_a_progress_count_is_ignored_where_the_anchor_has_episode_facts(
    tmp_path,
):
    progress = list_record("1", status=Status.ACTIVE, progress=5, updated_at=T0)
    parts = [list_record(episode(2), status=Status.COMPLETED)]
    o = await observed(tmp_path, MAL, episode_tracker([progress, *parts]),
                       target(), "100")  # fmt: skip
    assert sorted(o.units) == [(None, 4)]
    assert o.explicit_at == T0 and not o.approximate_times
    o = await observed(tmp_path, MAL, episode_tracker([progress]), target(), "100")
    assert sorted(o.units) == [(None, n) for n in range(3, 8)]


async def test_plays_count_where_a_source_declares_no_event_kinds(tmp_path):
    """A tracker's history without declared event kinds: every event is a play, and
    those plays, not the progress count beside them, say which episodes were seen."""
    progress = list_record("1", status=Status.ACTIVE, progress=5, updated_at=T0)
    a = await collect(episode_tracker([progress]), "src")
    a.entries["1"].events.extend(
        [play(episode(2), T0, kind="watch"), play(episode(2), T0 + H, kind="x")]
    )
    b = await collect(target(), "tgt")
    ident = await identify(a, b, custom_index(tmp_path, MAL), provider=target())
    o = observe(a, ident)["100"]
    assert o.units == {(None, 4): [2, T0, T0 + H]}
    assert sorted(o.events) == [((None, 4), T0), ((None, 4), T0 + H)]


async def test_record_kinds_default_to_progress_for_the_unnamed_kind():
    caps = replace(list_capabilities(), record_kinds=())
    snap = await collect(episode_tracker(caps=caps), "src")
    assert record_kind_semantics(snap) == {"": RecordKind.PROGRESS}
    kinds = (Descriptor("", RecordKind.PROGRESS), Descriptor("w", RecordKind.PLANNED))
    caps = replace(list_capabilities(), record_kinds=kinds)
    snap = await collect(episode_tracker(caps=caps), "src")
    assert record_kind_semantics(snap) == {
        "": RecordKind.PROGRESS,
        "w": RecordKind.PLANNED,
    }


async def test_other_events_and_plays_of_the_whole_show_do_not_stop_the_reading(
    tmp_path,
):
    events = [
        Event(ep(3), "rating", T0 - 2 * H),
        play(Ref.anchor("s"), T0 - H),
        play(ep(1), T0),
    ]
    o = await seen(tmp_path, S1, show(), extra=events)
    assert o.units == {(None, 0): [1, T0 - H, T0 - H], (None, 1): [1, T0, T0]}
    assert sorted(o.events) == [((None, 0), T0 - H), ((None, 1), T0)]


def three_shows(records=()):
    return library(
        [("s", "A", {1: 12}, ["tvdb_show:500"]),
         ("u", "B", {1: 12}, ["tvdb_show:600"]),
         ("w", "C", {1: 12}, ["tvdb_show:700"])],
        records,
    )  # fmt: skip


THREE = ('tvdb_show:500:s1:\n  anilist:100:\n    "1-6": "1-6"\n'
         'tvdb_show:600:s1:\n  anilist:100:\n    "1-6": "7-12"\n'
         'tvdb_show:700:s1:\n  anilist:200:\n    "1-6": "1-6"\n')  # fmt: skip


async def test_observe_each_hands_over_each_target_once_its_last_source_is_read(
    tmp_path,
):
    records = [watched_record(episode_ref(k, 1, 2), last_viewed=T0) for k in "suw"]
    a = await collect(three_shows(records), "src")
    targets = tracker([("100", "A", 12, ["anilist:100"]),
                       ("200", "C", 6, ["anilist:200"])])  # fmt: skip
    b = await collect(targets, "tgt")
    ident = await identify(a, b, custom_index(tmp_path, THREE), provider=targets)
    assert list(ident.routes) == ["s", "u", "w"]
    whole = observe(a, ident)
    each = observe_each(a, ident)
    first = next(each)
    # AniList 100 is complete after "u" and handed over before "w" is read
    assert first.target == Ref.anchor("100") and first.sources == ["s", "u"]
    assert sorted(first.units) == [(None, 2), (None, 8)]
    rest = list(each)
    assert [o.target for o in rest] == [Ref.anchor("200")]
    assert [(o.target, o.units) for o in [first, *rest]] == [
        (o.target, o.units) for o in whole.values()
    ]


async def test_routes_of_anchors_missing_from_the_snapshot_are_skipped(tmp_path):
    records = [watched_record(episode_ref("s", 1, 2), last_viewed=T0)]
    a = await collect(three_shows(records), "src")
    b = await collect(target(), "tgt")
    ident = await identify(a, b, custom_index(tmp_path, THREE), provider=target())
    del a.entries["u"]  # a partial read: "u" was not read this time
    ident.routes["w"] = []
    assert list(observe(a, ident)) == ["100"]
    assert [o.sources for o in observe_each(a, ident)] == [["s"]]


def season_flag(season, *, status=Status.COMPLETED, at=T0):
    """A media server's "season watched" record on the season container."""
    state = watched_record(ep(1), last_viewed=at, in_progress=status is Status.ACTIVE)
    return Record(Ref.at("s", ("season", season)), updated_at=at,
                  values={F.STATUS: state.values[F.STATUS],
                          F.LAST_ACTIVITY_AT: at})  # fmt: skip


async def test_a_season_flag_counts_the_parts_its_structure_lists(tmp_path):
    two = ('tvdb_show:500:s1:\n  anilist:100:\n    "1-3": "1-3"\n'
           'tvdb_show:500:s2:\n  anilist:100:\n    "1-2": "4-5"\n')  # fmt: skip
    records = [
        season_flag(1, status=Status.ACTIVE),  # started, not watched: no units
        season_flag(2, at=T0 + H),
        season_flag(3),  # no route reaches season 3
    ]
    o = await seen(tmp_path, two, show(records, seasons={1: 3, 2: 2, 3: 2}))
    assert o.units == {(None, 4): [1, T0 + H, T0 + H], (None, 5): [1, T0 + H, T0 + H]}
    assert o.weighted == 2.0


async def test_a_season_flag_is_a_container_where_the_source_declares_no_axes(
    tmp_path,
):
    """Declared axes are optional: a record ending in a season step is the season
    (its listed parts), never read as the episode of the season's number."""
    from anibridge.provider.testing.memory import library_capabilities, library_show

    caps = replace(library_capabilities(), coordinate_axes={})
    source = memory_provider(
        caps, nodes=library_show("s", "Show", {1: 3}, ids=["tvdb_show:500"]),
        records=[season_flag(1)],
    )  # fmt: skip
    o = await seen(tmp_path, S1, source)
    assert o.units == {(None, n): [1, T0, T0] for n in (1, 2, 3)}


async def test_a_season_flag_through_a_direct_id_keeps_its_season(tmp_path):
    records = [season_flag(2)]
    source = library([("s", "Show", {1: 12, 2: 2}, ["tvdb_show:500"])], records)
    a, b = await collect(source, "src"), await collect(lib_target(), "tgt")
    index = custom_index(tmp_path, "anilist:1:\n  anilist:2:\n")
    o = observe(a, await identify(a, b, index, provider=lib_target()))["t"]
    assert o.units == {(2, 1): [1, T0, T0], (2, 2): [1, T0, T0]}


async def test_an_episode_in_progress_marks_only_the_entry_whose_range_holds_it(
    tmp_path,
):
    split = ('tvdb_show:500:s1:\n  anilist:100:\n    "1-12": "1-12"\n'
             'tvdb_show:500:s2:\n  anilist:200:\n    "1-8": "1-6"\n')  # fmt: skip
    targets = tracker([("100", "A", 12, ["anilist:100"]),
                       ("200", "B", 6, ["anilist:200"])])  # fmt: skip
    source = show([watched_record(ep(3, season=2), last_viewed=T0, in_progress=True)],
                  [play(ep(2, season=2), T0)], seasons={1: 12, 2: 8})  # fmt: skip
    got = await _observe_all(tmp_path, split, source, targets)
    assert got["200"].in_progress and not got["100"].in_progress
    assert got["200"].units == {(None, 2): [1, T0, T0]} and got["100"].units == {}
    # an episode past the end of its entry's range is in progress nowhere
    source = show([watched_record(ep(7, season=2), last_viewed=T0, in_progress=True)],
                  seasons={1: 12, 2: 8})  # fmt: skip
    got = await _observe_all(tmp_path, split, source, targets)
    assert not any(o.in_progress for o in got.values())


async def _observe_all(tmp_path, yaml_text, source, targets):
    a, b = await collect(source, "src"), await collect(targets, "tgt")
    index = custom_index(tmp_path, yaml_text)
    return observe(a, await identify(a, b, index, provider=targets))


async def test_open_source_ranges_and_episode_zero_targets(tmp_path):
    rest = 'tvdb_show:500:s1:\n  anilist:100:\n    "13-": "1-12"\n'
    source = show(events=[play(ep(n), T0) for n in (12, 14, 25)], seasons={1: 30})
    o = await seen(tmp_path, rest, source)
    assert sorted(o.units) == [(None, 2)]
    assert o.span == 12
    zero = 'tvdb_show:500:s1:\n  anilist:100:\n    "1": "0"\n'
    o = await seen(tmp_path, zero, show(events=[play(ep(1), T0)]))
    assert o.units == {(None, 0): [1, T0, T0]}
    assert o.span == 0


TWO = 'mal:5:\n  anilist:100:\n    "1-12": "1-12"\n  anilist:200:\n    "1-12": "1-12"\n'


def two_targets():
    return tracker(
        [("100", "A", 12, ["anilist:100"]), ("200", "B", 12, ["anilist:200"])]
    )


async def test_aggregate_facts_reach_every_target_of_the_anchor(tmp_path):
    rating = Rating(8, (1, 10, 1))
    records = [
        Record(Ref("1"), kind="plan"),
        Record(Ref("1"), kind="owned"),
        Record(Ref("1"), kind="rates", values={F.RATING: rating}),
        Record(Ref("1"), kind="other", values={F.NOTES: "not a fact"}),
        list_record("1", status=Status.COMPLETED, notes="n", updated_at=T0),
    ]
    kinds = [("", RecordKind.PROGRESS), ("plan", RecordKind.PLANNED),
             ("owned", RecordKind.COLLECTION), ("rates", RecordKind.RATINGS),
             ("other", None)]  # fmt: skip
    caps = replace(
        list_capabilities(), record_kinds=tuple(Descriptor(n, s) for n, s in kinds)
    )
    got = await _observe_all(
        tmp_path, TWO, episode_tracker(records, caps), two_targets()
    )
    for o in got.values():
        assert o.planned and o.collected
        assert [(r.kind, r.values) for r in o.source_records] == [
            (r.kind, r.values) for r in records
        ]
        assert o.explicit == {F.RATING: rating, F.NOTES: "n", F.STATUS: records[4]
                              .values[F.STATUS]}  # fmt: skip
        assert o.explicit_at == T0
        assert o.units == {(None, 0): [1, None, None]}


async def test_a_progress_count_takes_its_dates_and_counts_one_play_without_repeats(
    tmp_path,
):
    rec = list_record("1", progress=2, started=T0, finished=T0 + H)
    got = await _observe_all(tmp_path, TWO, episode_tracker([rec]), two_targets())
    for o in got.values():
        assert o.units == {(None, 1): [1, T0, T0 + H], (None, 2): [1, T0, T0 + H]}
        assert o.approximate_times and o.explicit_at is None
    # with per-episode facts the count is skipped on every route, not just the first
    parts = [list_record(episode(1), status=Status.COMPLETED)]
    got = await _observe_all(
        tmp_path, TWO, episode_tracker([rec, *parts]), two_targets()
    )
    for o in got.values():
        assert sorted(o.units) == [(None, 1)]
        assert [r.values for r in o.source_records] == [rec.values]
        assert o.explicit[F.STARTED_AT] == T0


async def test_the_latest_update_of_two_anchors_feeding_one_entry_is_kept(tmp_path):
    """Whichever anchor is read first, an undated record keeps the other's date."""
    from anibridge.provider.testing.memory import list_entry

    both = ('mal:5:\n  anilist:100:\n    "1-6": "1-6"\n'
            'mal:6:\n  anilist:100:\n    "1-6": "7-12"\n')  # fmt: skip
    for dated in ("1", "2"):
        source = memory_provider(
            list_capabilities(),
            nodes=[list_entry("1", "A", episodes=6, ids=["mal:5"]),
                   list_entry("2", "B", episodes=6, ids=["mal:6"])],
            records=[list_record(k, status=Status.ACTIVE, progress=1,
                                 updated_at=T0 if k == dated else None)
                     for k in ("1", "2")],
        )  # fmt: skip
        o = await observed(tmp_path, both, source, target(), "100")
        assert sorted(o.units) == [(None, 1), (None, 7)]
        assert o.explicit_at == T0


async def test_a_completed_count_without_progress_is_the_whole_in_the_target_season(
    tmp_path,
):
    to_s2 = 'anilist:100:\n  tvdb_show:500:s2:\n    "1-12": "1-12"\n'
    rec = list_record("100", status=Status.COMPLETED, started=T0, finished=T0 + H)
    source = tracker([("100", "Show", 12, ["anilist:100"])], [rec])
    o = await observed(tmp_path, to_s2, source, lib_target(), "t")
    assert o.units == {(2, 0): [1, T0, T0 + H]}


async def test_a_disabled_range_counts_nothing(tmp_path):
    off = 'tvdb_show:500:s1:\n  anilist:100:\n    "1-6": "1-6|0"\n    "7-12": "1-6"\n'
    o = await seen(tmp_path, off, show(events=[play(ep(n), T0) for n in (3, 8)]))
    assert o.units == {(None, 2): [1, T0, T0]}
    assert o.weighted == 1.0


async def test_play_summaries_after_other_kinds_and_without_seasons_count(tmp_path):
    summaries = [
        EventSummary(ep(3), "rating", count=2, last_at=T0),
        EventSummary(ep(1), "play", count=2, first_at=T0, last_at=T0 + H),
    ]
    o = await seen(tmp_path, S1, show(), summaries=summaries)
    assert o.units == {(None, 1): [2, T0, T0 + H]}
    # a tracker without declared event kinds: every summary is of plays
    a = await collect(episode_tracker(), "src")
    a.entries["1"].summaries.append(
        EventSummary(episode(2), "watch", count=3, first_at=T0, last_at=T0 + H)
    )
    b = await collect(target(), "tgt")
    ident = await identify(a, b, custom_index(tmp_path, MAL), provider=target())
    assert observe(a, ident)["100"].units == {(None, 4): [3, T0, T0 + H]}


WHOLE = 'tvdb_show:500:\n  anilist:100:\n    "1-24": "1-24"\n'


async def whole_show_units(tmp_path, events, change_node):
    """Units of AniList 100 through an unscoped (absolute) route, after
    `change_node` rewrote the collected show node (or dropped it)."""
    source = show(seasons={1: 12, 2: 12})
    a, b = await collect(source, "src"), await collect(target(), "tgt")
    a.entries["s"].events.extend(events)
    ident = await identify(a, b, custom_index(tmp_path, WHOLE), provider=target())
    entry = a.entries["s"]
    entry.node = change_node(entry.node)
    return observe(a, ident)["100"].units


async def test_without_a_structure_only_season_one_has_absolute_positions(tmp_path):
    events = [play(ep(3), T0), play(ep(4, season=2), T0)]
    units = await whole_show_units(tmp_path, events, lambda node: None)
    assert sorted(units) == [(None, 3)]
    units = await whole_show_units(tmp_path, events, lambda node: node)
    assert sorted(units) == [(None, 3), (None, 16)]


async def test_a_part_without_an_episode_number_has_no_absolute_position(tmp_path):
    from anibridge.provider.base import FacetName, Part, Step, Structure

    def with_unnumbered_special(node):
        st = node.facets[FacetName.STRUCTURE]
        odd = Part(position=(Step("season", 1), Step("episode", "SP")))
        parts = Structure(axes=st.axes, parts=(odd, *st.parts))
        return replace(node, facets={**node.facets, FacetName.STRUCTURE: parts})

    events = [play(ep(4, season=2), T0)]
    units = await whole_show_units(tmp_path, events, with_unnumbered_special)
    assert sorted(units) == [(None, 16)]


async def test_a_volume_flag_counts_its_chapters_not_chapter_n(tmp_path):
    """A container that is not a season (a manga volume) is expanded through the
    structure too: the leaf axis (chapter) is the unit, the volume number is not."""
    from anibridge.provider.base import FacetName, Part, Step, Structure
    from anibridge.provider.testing.memory import list_entry

    chapters = tuple(
        Part(position=(Step("volume", 1 + (c - 1) // 3), Step("chapter", c)))
        for c in range(1, 10)
    )
    node = list_entry("1", "Manga", ids=["mal:5"], kind="manga")
    node = replace(node, facets={**node.facets, FacetName.STRUCTURE: Structure(
        axes=("volume", "chapter"), parts=chapters)})  # fmt: skip
    caps = replace(
        list_capabilities(node_kind="manga"),
        coordinate_axes={"manga": ("volume", "chapter")},
    )
    volume = list_record(Ref.at("1", ("volume", 2)), status=Status.COMPLETED)
    source = memory_provider(caps, nodes=[node], records=[volume])
    o = await observed(tmp_path, MAL, source, target(), "100")
    assert sorted(o.units) == [(None, 6), (None, 7), (None, 8)]
    # a chapter record: its volume is no season
    chapter = list_record(Ref.at("1", ("volume", 2), ("chapter", 5)),
                          status=Status.COMPLETED)  # fmt: skip
    source = memory_provider(caps, nodes=[node], records=[chapter])
    o = await observed(tmp_path, MAL, source, target(), "100")
    assert sorted(o.units) == [(None, 7)]


async def test_a_progress_count_prefers_the_last_activity_to_the_finish_date(tmp_path):
    from anibridge.provider.base import Progress
    from anibridge.provider.testing.memory import full_capabilities, list_entry

    rec = Record(Ref.anchor("1"), values={
        F.PROGRESS: Progress(1, None), F.STARTED_AT: T0,
        F.FINISHED_AT: T0 + H, F.LAST_ACTIVITY_AT: T0 + 2 * H})  # fmt: skip
    source = memory_provider(
        full_capabilities(),
        nodes=[list_entry("1", "Show", episodes=12, ids=["mal:5"])],
        records=[rec],
    )
    o = await observed(tmp_path, MAL, source, target(), "100")
    assert o.units == {(None, 3): [1, T0, T0 + 2 * H]}


async def test_an_unscoped_direct_id_keeps_each_units_season(tmp_path):
    """Without per-season ids the show's own id routes every season one to one."""
    from anibridge.provider.testing.memory import library_capabilities, library_show

    nodes = library_show("s", "Show", {1: 12, 2: 12}, ids=["tvdb_show:500"],
                         scoped_ids=False)  # fmt: skip
    source = memory_provider(
        library_capabilities(),
        nodes=nodes,
        records=[watched_record(episode_ref("s", 1, 2), last_viewed=T0)],
        events=[play(episode_ref("s", 2, 3), T0 + H)],
    )
    a, b = await collect(source, "src"), await collect(lib_target(), "tgt")
    a.entries["s"].summaries.append(
        EventSummary(episode_ref("s", 2, 5), "play", count=2, last_at=T0)
    )
    index = custom_index(tmp_path, "anilist:1:\n  anilist:2:\n")
    ident = await identify(a, b, index, provider=lib_target())
    assert [r.season for r in ident.routes["s"]] == [None]
    o = observe(a, ident)["t"]
    assert o.units == {(1, 2): [1, T0, T0], (2, 3): [1, T0 + H, T0 + H],
                       (2, 5): [2, None, T0]}  # fmt: skip
    assert o.events == [((2, 3), T0 + H)]


async def test_a_season_flag_reaches_unscoped_routes_like_its_episodes_would(
    tmp_path,
):
    """A watched season 2 through the show's unscoped mapping counts its episodes
    at their absolute positions (13-15), as episode records of them would; through
    an unscoped direct id it keeps its season. (It used to count nothing.)"""
    whole = 'tvdb_show:500:\n  anilist:100:\n    "1-24": "1-24"\n'
    flagged = show([season_flag(2, at=T0)], seasons={1: 12, 2: 3})
    o = await seen(tmp_path, whole, flagged)
    assert o.units == {(None, n): [1, T0, T0] for n in (13, 14, 15)}
    records = [watched_record(ep(n, season=2), last_viewed=T0) for n in (1, 2, 3)]
    episodes = show(records, seasons={1: 12, 2: 3})
    assert (await seen(tmp_path, whole, episodes)).units == o.units
    from anibridge.provider.testing.memory import library_capabilities, library_show

    nodes = library_show("s", "Show", {1: 12, 2: 2}, ids=["tvdb_show:500"],
                         scoped_ids=False)  # fmt: skip
    source = memory_provider(library_capabilities(), nodes=nodes,
                             records=[season_flag(2)])  # fmt: skip
    a, b = await collect(source, "src"), await collect(lib_target(), "tgt")
    index = custom_index(tmp_path, "anilist:1:\n  anilist:2:\n")
    o = observe(a, await identify(a, b, index, provider=lib_target()))["t"]
    assert o.units == {(2, 1): [1, T0, T0], (2, 2): [1, T0, T0]}


async def test_episode_records_of_other_kinds_leave_the_progress_count_in_charge(
    tmp_path,
):
    """An episode rating is no per-episode watch fact: the count still decides."""
    kinds = (Descriptor("progress", RecordKind.PROGRESS),
             Descriptor("rates", RecordKind.RATINGS))  # fmt: skip
    caps = replace(list_capabilities(), record_kinds=kinds)
    records = [
        list_record("1", status=Status.ACTIVE, progress=3, kind="progress"),
        list_record(episode(2), rating=80, kind="rates"),
    ]
    o = await observed(tmp_path, MAL, episode_tracker(records, caps), target(), "100")
    assert sorted(o.units) == [(None, 3), (None, 4), (None, 5)]


async def test_the_same_show_in_two_libraries_names_its_route_once(tmp_path):
    source = library(
        [("s", "Show", {1: 12}, ["tvdb_show:500"]),
         ("s4k", "Show", {1: 12}, ["tvdb_show:500"])],
        [watched_record(episode_ref("s", 1, 1), last_viewed=T0),
         watched_record(episode_ref("s4k", 1, 2), last_viewed=T0)],
    )  # fmt: skip
    o = await seen(tmp_path, S1, source)
    assert o.sources == ["s", "s4k"]
    assert len(o.provenance) == 1
    assert sorted(o.units) == [(None, 1), (None, 2)]


async def test_times_through_a_ratio_keep_the_earliest_first_and_latest_last(
    tmp_path,
):
    halves = 'tvdb_show:500:s1:\n  anilist:100:\n    "1-8": "1-4|2"\n'
    events = [play(ep(1), T0), play(ep(1), T0 + 2 * H), play(ep(2), T0 + H)]
    summaries = [
        EventSummary(ep(3), "play", count=1, first_at=T0 + H),
        EventSummary(ep(4), "play", count=1, first_at=T0 + 2 * H),
    ]
    o = await seen(tmp_path, halves, show(events=events), summaries=summaries)
    assert o.units == {(None, 1): [2, T0, T0 + 2 * H], (None, 2): [1, T0 + H, None]}


async def test_plays_and_summaries_of_unnumbered_episodes_are_skipped(tmp_path):
    odd = Ref.at("s", ("season", 1), ("episode", "x"))
    o = await seen(
        tmp_path, S1, show(),
        extra=[play(odd, T0), play(ep(1), T0)],
        summaries=[EventSummary(odd, "play", count=2, last_at=T0),
                   EventSummary(ep(2), "play", count=1, last_at=T0)],
    )  # fmt: skip
    assert o.units == {(None, 1): [1, T0, T0], (None, 2): [1, None, T0]}


SPLIT = ('tvdb_show:500:s1:\n  anilist:100:\n    "1-12": "1-12"\n'
         'tvdb_show:500:s2:\n  anilist:200:\n    "1-12": "1-12"\n')  # fmt: skip


async def test_an_episode_without_a_season_goes_to_every_entry_of_the_show(tmp_path):
    """A server episode that lacks a season number is read through the anchor's
    routes (every entry), not through the season read just before it."""
    targets = tracker([("100", "A", 12, ["anilist:100"]),
                       ("200", "B", 12, ["anilist:200"])])  # fmt: skip
    loose = Ref.at("s", ("episode", 5))
    records = [
        watched_record(ep(1), last_viewed=T0),
        watched_record(loose, last_viewed=T0),
        watched_record(ep(3, season=2), last_viewed=T0),
    ]
    source = show(seasons={1: 12, 2: 12})
    a, b = await collect(source, "src"), await collect(targets, "tgt")
    ident = await identify(a, b, custom_index(tmp_path, SPLIT), provider=targets)
    a.entries["s"].records.extend(records)
    got = observe(a, ident)
    assert sorted(got["100"].units) == [(None, 1), (None, 5)]
    assert sorted(got["200"].units) == [(None, 3), (None, 5)]
    a.entries["s"].records[:] = [records[2], records[1], records[0]]
    got = observe(a, ident)
    assert sorted(got["100"].units) == [(None, 1), (None, 5)]
    assert sorted(got["200"].units) == [(None, 3), (None, 5)]


async def test_every_route_of_a_season_reads_each_record(tmp_path):
    """One season feeding two entries: a record outside the first range, or read
    through a ratio, still reaches the second entry."""
    targets = tracker([("100", "A", 12, ["anilist:100"]),
                       ("200", "B", 12, ["anilist:200"])])  # fmt: skip
    halves = ('tvdb_show:500:s1:\n  anilist:100:\n    "1-6": "1-6"\n'
              '  anilist:200:\n    "7-12": "1-6"\n')  # fmt: skip
    records = [watched_record(ep(n), last_viewed=T0) for n in (2, 8, 9)]
    got = await _observe_all(tmp_path, halves, show(records), targets)
    assert sorted(got["100"].units) == [(None, 2)]
    assert sorted(got["200"].units) == [(None, 2), (None, 3)]
    assert got["200"].weighted == 2.0
    ratio = ('tvdb_show:500:s1:\n  anilist:100:\n    "1-12": "1-6|2"\n'
             '  anilist:200:\n    "1-12": "1-12"\n')  # fmt: skip
    got = await _observe_all(tmp_path, ratio, show(records), targets)
    assert sorted(got["100"].units) == [(None, 1), (None, 4), (None, 5)]
    assert sorted(got["200"].units) == [(None, 2), (None, 8), (None, 9)]


async def test_record_reading_goes_on_past_unplayed_unnumbered_and_other_records(
    tmp_path,
):
    kinds = (Descriptor("", RecordKind.PROGRESS),
             Descriptor("rates", RecordKind.RATINGS))  # fmt: skip
    caps = replace(list_capabilities(), record_kinds=kinds)
    records = [
        list_record(episode(1), rating=80, kind="rates"),
        list_record(episode(2)),  # nothing played
        list_record(Ref.at("1", ("episode", "x")), status=Status.COMPLETED),
        list_record(episode(3), status=Status.COMPLETED),
    ]
    source = episode_tracker(records, caps)
    a, b = await collect(source, "src"), await collect(target(), "tgt")
    ident = await identify(a, b, custom_index(tmp_path, MAL), provider=target())
    a.entries["1"].records[:] = records  # in this order
    assert observe(a, ident)["100"].units == {(None, 5): [1, None, None]}


async def test_a_season_number_given_as_text_is_read_as_that_season(tmp_path):
    texted = Ref.at("s", ("season", "1"), ("episode", 2))
    a = await collect(show(), "src")
    b = await collect(target(), "tgt")
    ident = await identify(a, b, custom_index(tmp_path, S1), provider=target())
    a.entries["s"].records.append(watched_record(texted, last_viewed=T0))
    assert observe(a, ident)["100"].units == {(None, 2): [1, T0, T0]}


async def test_a_record_with_plays_counts_once_in_the_weight(tmp_path):
    records = [watched_record(ep(1), last_viewed=T0 + 5 * H)]
    events = [play(ep(1), T0), play(ep(1), T0 + H)]
    o = await seen(tmp_path, S1, show(records, events))
    assert o.weighted == 1.0


async def test_two_records_of_one_unit_keep_the_earliest_of_a_played_range(tmp_path):
    both = ('tvdb_show:500:s1:\n  anilist:100:\n    "1": "1"\n'
            'tvdb_show:500:s0:\n  anilist:100:\n    "1": "1"\n')  # fmt: skip
    records = [
        watched_record(ep(1, season=0), last_viewed=T0 + 2 * H),
        watched_record(ep(1), last_viewed=T0 + H),
    ]
    events = [play(ep(1, season=0), T0), play(ep(1, season=0), T0 + 2 * H)]
    o = await seen(tmp_path, both, show(records, events, seasons={0: 1, 1: 12}))
    assert o.units[(None, 1)] == [2, T0, T0 + 2 * H]


async def test_plays_and_summaries_after_recorded_or_whole_show_ones_still_count(
    tmp_path,
):
    targets = tracker([("100", "A", 12, ["anilist:100"]),
                       ("200", "B", 12, ["anilist:200"])])  # fmt: skip
    a = await collect(show(seasons={1: 12, 2: 12}), "src")
    b = await collect(targets, "tgt")
    ident = await identify(a, b, custom_index(tmp_path, SPLIT), provider=targets)
    entry = a.entries["s"]
    entry.records.append(watched_record(ep(1), last_viewed=T0))
    entry.events.extend([play(ep(1), T0), play(ep(3, season=2), T0)])
    entry.summaries.extend([
        EventSummary(ep(1), "play", count=2, last_at=T0),
        EventSummary(Ref.anchor("s"), "play", count=1, last_at=T0),
        EventSummary(ep(5, season=2), "play", count=1, last_at=T0),
    ])  # fmt: skip
    got = observe(a, ident)
    assert sorted(got["100"].units) == [(None, 0), (None, 1)]
    assert sorted(got["200"].units) == [(None, 0), (None, 3), (None, 5)]
    assert got["100"].events == [((None, 1), T0)]
    assert got["200"].events == [((None, 3), T0)]


async def test_a_season_flag_without_its_show_node_counts_nothing(tmp_path):
    a = await collect(show([season_flag(1)]), "src")
    b = await collect(target(), "tgt")
    ident = await identify(a, b, custom_index(tmp_path, S1), provider=target())
    a.entries["s"].node = None  # a partial read: the records without the node
    assert observe(a, ident)["100"].units == {}


async def test_plays_of_a_whole_show_in_two_libraries_keep_the_most(tmp_path):
    source = library(
        [("s", "Show", {1: 12}, ["tvdb_show:500"]),
         ("s4k", "Show", {1: 12}, ["tvdb_show:500"])],
        events=[play(Ref.anchor("s"), T0), play(Ref.anchor("s"), T0 + H),
                play(Ref.anchor("s4k"), T0 + 2 * H)],
    )  # fmt: skip
    o = await seen(tmp_path, S1, source)
    assert o.sources == ["s", "s4k"]
    assert o.units[(None, 0)] == [2, T0, T0 + 2 * H]


async def test_a_season_flag_skips_an_unnumbered_part_and_counts_the_rest(tmp_path):
    from anibridge.provider.base import FacetName, Part, Step, Structure

    a = await collect(show([season_flag(1)], seasons={1: 3}), "src")
    b = await collect(target(), "tgt")
    ident = await identify(a, b, custom_index(tmp_path, S1), provider=target())
    node = a.entries["s"].node
    st = node.facets[FacetName.STRUCTURE]
    odd = Part(position=(Step("season", 1), Step("episode", "SP")))
    parts = Structure(axes=st.axes, parts=(odd, *st.parts))
    a.entries["s"].node = replace(
        node, facets={**node.facets, FacetName.STRUCTURE: parts}
    )
    assert sorted(observe(a, ident)["100"].units) == [(None, 1), (None, 2), (None, 3)]


async def test_every_play_of_the_anchor_widens_its_first_and_last_times(tmp_path):
    """Plays of a whole reach the entry's dates however many facts feed unit 0.

    A second library's plays of the same show, or plays beside a tracker's
    COMPLETED record without dates, move the first and last consumption; the
    first fact read must not fix them.
    """
    from anibridge.bridge.derive import derive
    from anibridge.bridge.model import Policy

    source = library(
        [("s", "Show", {1: 12}, ["tvdb_show:500"]),
         ("s4k", "Show", {1: 12}, ["tvdb_show:500"])],
        events=[play(Ref.anchor("s"), T0 + H),
                play(Ref.anchor("s4k"), T0), play(Ref.anchor("s4k"), T0 + 3 * H)],
    )  # fmt: skip
    o = await seen(tmp_path, S1, source)
    assert o.units == {(None, 0): [2, T0, T0 + 3 * H]}
    d = derive(o, None, 12, Policy())
    assert d.values[F.STARTED_AT] == T0
    assert d.values[F.LAST_ACTIVITY_AT] == T0 + 3 * H
    rec = list_record("1", status=Status.COMPLETED, updated_at=T0 + 5 * H)
    a = await collect(kinds_tracker([rec], ("", RecordKind.PROGRESS)), "src")
    a.entries["1"].summaries.append(
        EventSummary(Ref.anchor("1"), "play", count=2, first_at=T0, last_at=T0 + H)
    )
    b = await collect(target(), "tgt")
    ident = await identify(a, b, custom_index(tmp_path, S1), provider=target())
    o = observe(a, ident)["100"]
    assert o.units == {(None, 0): [2, T0, T0 + H]}
    d = derive(o, None, 12, Policy())
    assert d.values[F.STARTED_AT] == T0
    assert d.values[F.LAST_ACTIVITY_AT] == T0 + H


async def test_a_fact_of_the_whole_never_narrows_or_clears_its_times(tmp_path):
    """A play inside the known span, or a fact missing one time, keeps the span."""
    from anibridge.bridge.derive import derive
    from anibridge.bridge.model import Policy

    source = library(
        [("s", "Show", {1: 12}, ["tvdb_show:500"]),
         ("s4k", "Show", {1: 12}, ["tvdb_show:500"])],
        events=[play(Ref.anchor("s"), T0), play(Ref.anchor("s"), T0 + 3 * H),
                play(Ref.anchor("s4k"), T0 + H)],
    )  # fmt: skip
    o = await seen(tmp_path, S1, source)
    assert o.sources == ["s", "s4k"]
    assert o.units == {(None, 0): [2, T0, T0 + 3 * H]}
    # a COMPLETED record with only a finish date, then plays known only from
    # their first time: each time is kept, neither overwrites the other with None
    rec = list_record("1", status=Status.COMPLETED, finished=T0 + 5 * H)
    a = await collect(kinds_tracker([rec], ("", RecordKind.PROGRESS)), "src")
    a.entries["1"].summaries.append(
        EventSummary(Ref.anchor("1"), "play", count=2, first_at=T0, last_at=None)
    )
    b = await collect(target(), "tgt")
    ident = await identify(a, b, custom_index(tmp_path, S1), provider=target())
    o = observe(a, ident)["100"]
    assert o.units == {(None, 0): [2, T0, T0 + 5 * H]}
    d = derive(o, None, 12, Policy())
    assert d.values[F.STARTED_AT] == T0
    assert d.values[F.LAST_ACTIVITY_AT] == T0 + 5 * H


async def test_an_episode_first_known_by_its_last_time_takes_another_first_time(
    tmp_path,
):
    """A record without a date whose summary has only a last time, then another
    library's record of the same episode: the unit gets that record's time as its
    first, and keeps the later last time."""
    undated = watched_record(ep(1), last_viewed=T0)
    undated = Record(ep(1), values={F.STATUS: undated.values[F.STATUS]})
    source = library(
        [("s", "Show", {1: 12}, ["tvdb_show:500"]),
         ("s4k", "Show", {1: 12}, ["tvdb_show:500"])],
        [undated, watched_record(episode_ref("s4k", 1, 1), last_viewed=T0)],
    )  # fmt: skip
    summaries = [EventSummary(ep(1), "play", count=1, last_at=T0 + H)]
    o = await seen(tmp_path, S1, source, summaries=summaries)
    assert o.sources == ["s", "s4k"]
    assert o.units == {(None, 1): [1, T0, T0 + H]}


async def test_an_unscoped_source_id_reaches_the_target_season_it_maps_to(tmp_path):
    """Through an unscoped id with ranges into a target season, episodes (by
    absolute position), plays of the whole and a play summary of the whole all
    land in that season."""
    to_s2 = 'tmdb_show:9:\n  tvdb_show:500:s2:\n    "13-24": "1-12"\n'

    def src(records=(), events=()):
        return library([("s", "Show", {1: 12, 2: 12}, ["tmdb_show:9"])],
                       records, events)  # fmt: skip

    records = [watched_record(ep(2, season=2), last_viewed=T0)]
    o = await observed(tmp_path, to_s2, src(records), lib_target(), "t")
    assert o.units == {(2, 2): [1, T0, T0]}
    o = await observed(tmp_path, to_s2, src(events=[play(Ref.anchor("s"), T0)]),
                       lib_target(), "t")  # fmt: skip
    assert o.units == {(2, 0): [1, T0, T0]}
    assert o.events == [((2, 0), T0)]
    a, b = await collect(src(), "src"), await collect(lib_target(), "tgt")
    a.entries["s"].summaries.append(
        EventSummary(Ref.anchor("s"), "play", count=2, first_at=T0, last_at=T0 + H)
    )
    index = custom_index(tmp_path, to_s2)
    o = observe(a, await identify(a, b, index, provider=lib_target()))["t"]
    assert o.units == {(2, 0): [2, T0, T0 + H]}


async def test_plays_of_a_seasonless_first_episode_are_its_exact_plays(tmp_path):
    """Episode 1 without a season is an episode, not the whole: its plays are
    replayed as plays of the episode it maps to."""
    a = await collect(episode_tracker(), "src")
    a.entries["1"].events.extend([play(episode(1), T0), play(episode(2), T0 + H)])
    b = await collect(target(), "tgt")
    ident = await identify(a, b, custom_index(tmp_path, MAL), provider=target())
    o = observe(a, ident)["100"]
    assert sorted(o.events) == [((None, 3), T0), ((None, 4), T0 + H)]


async def test_plays_of_a_seasons_episode_zero_go_through_that_seasons_routes(
    tmp_path,
):
    """Episode 0 of a season (a special numbered 0) is no play of the whole: its
    plays are replayed through the season's routes, not the show's unscoped ones."""
    yaml_text = ('tvdb_show:500:s1:\n  anilist:100:\n    "0": "1"\n'
                 'tvdb_show:500:\n  anilist:200:\n    "1-12": "1-12"\n')  # fmt: skip
    targets = tracker([("100", "A", 12, ["anilist:100"]),
                       ("200", "B", 12, ["anilist:200"])])  # fmt: skip
    source = show(events=[play(ep(0), T0)], seasons={1: 12})
    got = await _observe_all(tmp_path, yaml_text, source, targets)
    assert got["100"].units == {(None, 1): [1, T0, T0]}
    assert got["100"].events == [((None, 1), T0)]
    assert got["200"].units == {} and got["200"].events == []
