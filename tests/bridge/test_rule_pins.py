"""Rules the suite did not pin (issue 14 point 8): each test kills one rule break.

Every test here was checked against its deliberate break in the engine (applied by
hand, test seen failing, reverted); the break is named in the test's comment.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from bridge_support import (
    T0,
    by_field,
    custom_index,
    history,
    library,
    plan_between,
    tracker,
)

from anibridge.bridge.collect import collect
from anibridge.bridge.guards import finish_plan
from anibridge.bridge.identity import identify
from anibridge.bridge.model import (
    Action,
    Direction,
    Entry,
    Policy,
    ProgressMode,
    SkipReason,
    Snapshot,
)
from anibridge.bridge.observe import observe
from anibridge.bridge.oneway import regresses
from anibridge.bridge.stores import MemoryStores
from anibridge.bridge.sync import Pair, run_sync
from anibridge.provider.base import (
    Record,
    RecordField,
    Ref,
    State,
    Status,
    WriteOp,
)
from anibridge.provider.testing.memory import (
    episode_ref,
    library_capabilities,
    library_movie,
    list_capabilities,
    list_record,
    memory_provider,
    play,
    watched_record,
)

S, P, R = RecordField.STATUS, RecordField.PROGRESS, RecordField.REPEAT_COUNT
ST, FIN, NOTES = RecordField.STARTED_AT, RecordField.FINISHED_AT, RecordField.NOTES
SHOW12 = 'anilist:100:\n  tvdb_show:500:s1:\n    "1-12": "1-12"\n'


@pytest.fixture
def idx12(tmp_path):
    return custom_index(tmp_path, SHOW12)


def show12(records=(), events=()):
    return library([("s", "Show", {1: 12}, ["tvdb_show:500"])], records, events)


def list12(record=None):
    return tracker([("100", "Show", 12, ["anilist:100"])], [record] if record else [])


def plays(episodes, start=T0, minutes=30):
    return [
        play(episode_ref("s", 1, e), start + timedelta(minutes=minutes * i))
        for i, e in enumerate(episodes)
    ]


def skipped(plan, field, reason):
    return [s for s in plan.skipped if s.field is field and s.reason is reason]


# -- user-held statuses and the newer-play boundary ------------------------------------


@pytest.mark.parametrize("held", [Status.PAUSED, Status.DROPPED])
async def test_a_user_set_paused_or_dropped_is_held(idx12, held):
    # break: _USER_HELD without DROPPED (the README promises both)
    target = list_record(
        "100", status=held, progress=3, updated_at=T0 + timedelta(days=10)
    )
    plan = await plan_between(show12(events=plays(range(1, 6))), list12(target),
                              index=idx12)  # fmt: skip
    assert ("100", S) not in by_field(plan)
    assert skipped(plan, S, SkipReason.RULE)


async def test_a_play_at_the_very_moment_the_entry_changed_is_not_newer(idx12):
    # break: `last >= target.updated_at` instead of `>` in derive._newer_play
    last = T0 + timedelta(minutes=30 * 4)
    at_once = list_record("100", status=Status.PAUSED, progress=3, updated_at=last)
    plan = await plan_between(show12(events=plays(range(1, 6))), list12(at_once),
                              index=idx12)  # fmt: skip
    assert ("100", S) not in by_field(plan)
    a_second_before = list_record(
        "100", status=Status.PAUSED, progress=3, updated_at=last - timedelta(seconds=1)
    )
    plan = await plan_between(show12(events=plays(range(1, 6))),
                              list12(a_second_before), index=idx12)  # fmt: skip
    assert by_field(plan)[("100", S)].status is Status.ACTIVE


# -- two-way: only one side changed since the baseline ---------------------------------


async def test_two_way_an_edit_on_one_side_wins_over_a_newer_untouched_side(tmp_path):
    # break: _conflict skips "only one side changed" and lets the newer updated_at
    # win, so the untouched side (newer only because another field changed there)
    # reverts the real edit.
    index = custom_index(tmp_path, 'anilist:100:\n  mal:900:\n    "1-12": "1-12"\n')

    def side(key, authority, notes, rating, updated):
        rec = list_record(key, status=Status.ACTIVE, progress=4, notes=notes,
                          rating=rating, updated_at=updated)  # fmt: skip
        return tracker([(key, "Show", 12, [f"{authority}:{key}"])], [rec],
                       authorities=(authority,))  # fmt: skip

    stores = MemoryStores().bundle()
    policy = Policy(direction=Direction.TWO_WAY)
    pair = [Pair("a", "b", Direction.TWO_WAY)]
    a, b = side("100", "anilist", "n", 70, T0), side("900", "mal", "n", 70, T0)
    await run_sync({"a": a, "b": b}, pair, policy, stores, index=index)
    # a edits the notes (older); b only re-rates (newer) and keeps the old notes
    a = side("100", "anilist", "edited on a", 70, T0 + timedelta(days=1))
    b = side("900", "mal", "n", 80, T0 + timedelta(days=2))
    result = await run_sync({"a": a, "b": b}, pair, policy, stores, index=index,
                            dry_run=True)  # fmt: skip
    writes = {
        (x.provider, f): v for x in result.plan.actions for f, v in x.after.items()
    }
    assert writes[("b", NOTES)] == "edited on a"
    assert ("a", NOTES) not in writes
    assert ("a", RecordField.RATING) in writes  # b's own edit goes the other way


# -- guards and deletions --------------------------------------------------------------


def _target(n):
    caps = list_capabilities()
    return Snapshot("tgt", caps, {str(k): Entry(str(k)) for k in range(n)})


def _source(n):
    caps = list_capabilities()
    return Snapshot("src", caps, {str(k): Entry(str(k)) for k in range(n)})


def _delete(key):
    return Action("tgt", WriteOp.DELETE_RECORD, Ref(key), source="src")


def _clear(key):
    return Action("tgt", WriteOp.UPSERT_RECORD, Ref(key), clear=frozenset({NOTES}))


def test_the_delete_guard_refuses_only_above_its_fraction():
    # break: `>=` instead of `>` at the guard's exact fraction
    policy = Policy(max_delete_fraction=0.1, allow_deletes=True)
    pairs = [(_source(10), _target(10))]
    exact = finish_plan(policy, [_delete("1")], [], pairs, [])
    assert exact.guards == ()
    above = finish_plan(policy, [_delete("1"), _delete("2")], [], pairs, [])
    assert len(above.guards) == 1 and "2 of 10" in above.guards[0]


def test_field_clears_count_as_deletions_for_the_guard():
    # break: only DELETE ops counted, clears not
    policy = Policy(max_delete_fraction=0.1, allow_deletes=True)
    plan = finish_plan(policy, [_clear("1"), _clear("2")], [],
                       [(_source(10), _target(10))], [])  # fmt: skip
    assert len(plan.guards) == 1 and "delete or clear 2 of 10" in plan.guards[0]


async def test_no_deletion_is_planned_from_an_incomplete_source_snapshot(tmp_path):
    # break: deletions() ignoring Snapshot.complete (a targeted/incremental read)
    two = "".join(f'anilist:{a}:\n  mal:{m}:\n    "1-12": "1-12"\n'
                  for a, m in ((100, 900), (101, 901)))  # fmt: skip
    index = custom_index(tmp_path, two)

    def src(keys):
        recs = [list_record(k, status=Status.COMPLETED, progress=12, updated_at=T0)
                for k in keys]  # fmt: skip
        return tracker([(k, k, 12, [f"anilist:{k}"]) for k in keys], recs)

    tgt = tracker([("900", "A", 12, ["mal:900"]), ("901", "B", 12, ["mal:901"])],
                  authorities=("mal",))  # fmt: skip
    stores = MemoryStores().bundle()
    policy = Policy(allow_deletes=True, max_delete_fraction=1.0)
    await run_sync({"src": src(["100", "101"]), "tgt": tgt}, [Pair("src", "tgt")],
                   policy, stores, index=index)  # fmt: skip
    gone = src(["100"])  # 101 removed on the source
    partial = await collect(gone, "src", refs=[Ref("100")])
    assert partial.complete is False
    result = await run_sync({"src": gone, "tgt": tgt}, [Pair("src", "tgt")], policy,
                            stores, index=index, dry_run=True,
                            snapshots={"src": partial})  # fmt: skip
    assert not [a for a in result.plan.actions if a.op is WriteOp.DELETE_RECORD]
    full = await run_sync({"src": gone, "tgt": tgt}, [Pair("src", "tgt")], policy,
                          stores, index=index, dry_run=True)  # fmt: skip
    deletes = [a for a in full.plan.actions if a.op is WriteOp.DELETE_RECORD]
    assert [a.ref.key for a in deletes] == ["901"]


# -- counting units --------------------------------------------------------------------


async def test_ratio_weighted_progress_rounds_down(tmp_path):
    # break: math.ceil / round instead of floor on the weighted count
    index = custom_index(
        tmp_path, 'tvdb_show:500:s1:\n  anilist:100:\n    "1-24": "1-12|2"\n'
    )
    # 11 source episodes on a 2:1 range are 5.5 target episodes
    src = library([("s", "Show", {1: 24}, ["tvdb_show:500"])],
                  events=plays(range(1, 12)))  # fmt: skip
    assert (
        by_field(await plan_between(src, list12(), index=index))[("100", P)].current
        == 5
    )


async def _units(tmp_path, yaml_text, events, seasons=None):
    index = custom_index(tmp_path, yaml_text)
    src = library([("s", "Show", seasons or {1: 12}, ["tvdb_show:500"])], events=events)
    dst = list12()
    a, b = await collect(src, "src"), await collect(dst, "tgt")
    ident = await identify(a, b, index, provider=dst)
    return observe(a, ident)["100"].units


async def test_the_shortest_containing_range_wins(tmp_path):
    # break: the longest containing range chosen (observe._translate)
    yaml_text = ('tvdb_show:500:s1:\n  anilist:100:\n    "1-12": "1-12"\n'
                 '    "5-6": "9-10"\n')  # fmt: skip
    units = await _units(tmp_path, yaml_text, plays([5]))
    assert sorted(units) == [(None, 9)]


async def test_ties_between_containing_ranges_keep_the_first(tmp_path):
    # break: the last of equally short containing ranges wins (`<=`)
    yaml_text = ('tvdb_show:500:s1:\n  anilist:100:\n    "1-2": "3-4"\n'
                 '    "2-3": "7-8"\n')  # fmt: skip
    units = await _units(tmp_path, yaml_text, plays([2]))
    assert sorted(units) == [(None, 4)]


async def test_a_unit_reached_by_two_routes_counts_its_plays_once(tmp_path):
    # break: plays of one target unit summed across routes instead of max'ed
    # Season 1 episode 12 and special 1 both map onto AniList episode 12.
    yaml_text = ('tvdb_show:500:s1:\n  anilist:100:\n    "1-12": "1-12"\n'
                 'tvdb_show:500:s0:\n  anilist:100:\n    "1": "12"\n')  # fmt: skip
    events = plays(range(1, 13)) + plays([12], start=T0 + timedelta(days=1))
    events += [play(episode_ref("s", 0, 1), T0 + timedelta(days=2))]
    units = await _units(tmp_path, yaml_text, events, {0: 1, 1: 12})
    assert units[(None, 12)][0] == 2  # two plays of s1e12; s0e1's play is the same unit
    assert units[(None, 1)][0] == 1


# -- plays onto a history -------------------------------------------------------------


async def test_plays_already_in_the_history_are_not_appended_again(idx12):
    # breaks: the target's existing plays not consulted, or compared to the
    # microsecond instead of the second (histories store no finer).
    shows = [("s", "Show", {1: 12}, ["tvdb_show:500"])]
    first, second = T0, T0 + timedelta(hours=1, microseconds=400_000)
    src = library(shows, events=[play(episode_ref("s", 1, 1), first),
                                 play(episode_ref("s", 1, 2), second),
                                 play(episode_ref("s", 1, 3), second)])  # fmt: skip
    have = [
        play(episode_ref("h", 1, 1), first, kind="watch"),
        play(episode_ref("h", 1, 2), second.replace(microsecond=0), kind="watch"),
    ]
    dst = history([("h", "Show", {1: 12}, ["tvdb_show:500"])], events=have)
    plan = await plan_between(src, dst, index=idx12)
    appended = [a for a in plan.actions if a.op is WriteOp.APPEND_EVENT]
    assert [a.ref for a in appended] == [episode_ref("h", 1, 3)]


# -- season-level watched flags (upstream #43) -----------------------------------------


SPECIALS = 'tvdb_show:500:s0:\n  anilist:100:\n    "1-10": "1-10"\n'


def _season_flag(status):
    native = "watched" if status is Status.COMPLETED else "in_progress"
    return Record(
        ref=Ref.at("s", ("season", 0)), values={S: State(native, status)}, updated_at=T0
    )


async def test_a_watched_season_flag_expands_to_that_seasons_episodes_only(tmp_path):
    # breaks: the flag ignored; or expanded to every mapped episode (1-10) instead of
    # the three specials the season holds.
    index = custom_index(tmp_path, SPECIALS)
    src = library([("s", "Show", {0: 3, 1: 12}, ["tvdb_show:500"])],
                  [_season_flag(Status.COMPLETED)])  # fmt: skip
    fields = by_field(await plan_between(src, list12(), index=index))
    assert fields[("100", P)].current == 3
    assert fields[("100", S)].status is Status.ACTIVE


async def test_an_unwatched_season_flag_is_not_expanded(tmp_path):
    # break: the flag expanded whatever its status
    index = custom_index(tmp_path, SPECIALS)
    src = library([("s", "Show", {0: 3, 1: 12}, ["tvdb_show:500"])],
                  [_season_flag(Status.ACTIVE)])  # fmt: skip
    fields = by_field(await plan_between(src, list12(), index=index))
    assert ("100", P) not in fields


# -- dates and films -------------------------------------------------------------------


def test_start_and_finish_dates_may_only_move_earlier():
    # break: the non-regression direction inverted for STARTED_AT / FINISHED_AT
    early, late = T0, T0 + timedelta(days=3)
    for f in (ST, FIN):
        assert regresses(f, early, late)
        assert not regresses(f, late, early)
    assert regresses(RecordField.LAST_ACTIVITY_AT, late, early)
    assert not regresses(RecordField.LAST_ACTIVITY_AT, early, late)


async def test_a_later_start_date_is_held_as_a_regression(idx12):
    target = list_record("100", status=Status.COMPLETED, progress=12,
                         started=T0 - timedelta(days=30), updated_at=T0)  # fmt: skip
    plan = await plan_between(show12(events=plays(range(1, 13))), list12(target),
                              index=idx12)  # fmt: skip
    assert ("100", ST) not in by_field(plan)
    assert skipped(plan, ST, SkipReason.REGRESSION)


@pytest.mark.parametrize("mode", list(ProgressMode))
async def test_a_film_played_three_times_is_completed_with_two_rewatches(
    tmp_path, mode
):
    # breaks: a film's repeat count off by one; its progress left at 0 (a film's
    # single unit has no position: index mode must still count it)
    index = custom_index(tmp_path, 'tmdb_movie:77:\n  anilist:300:\n    "1": "1"\n')
    movie = library_movie("m", "Film", ids=["tmdb_movie:77"])
    at = [T0, T0 + timedelta(days=1), T0 + timedelta(days=2)]
    src = memory_provider(library_capabilities(), nodes=[movie],
                          events=[play(Ref("m"), t) for t in at])  # fmt: skip
    dst = tracker([("300", "Film", 1, ["anilist:300"])])
    policy = Policy(progress_mode=mode)
    fields = by_field(await plan_between(src, dst, policy, index=index))
    assert fields[("300", S)].status is Status.COMPLETED
    assert fields[("300", P)].current == 1
    assert fields[("300", R)] == 2


async def test_an_in_progress_episode_alone_makes_the_entry_active_in_index_mode(idx12):
    # break: in-progress evidence no longer makes the entry ACTIVE
    rec = watched_record(episode_ref("s", 1, 4), last_viewed=T0, in_progress=True)
    policy = Policy(progress_mode=ProgressMode.INDEX)
    fields = by_field(await plan_between(show12([rec]), list12(), policy, index=idx12))
    assert fields[("100", S)].status is Status.ACTIVE
