"""`anibridge.bridge.derive`: each desired value and the reason a plan shows for it.

The reasons are what `plan` and the web plan review print next to each change ("why
this write"), so they are pinned with the values: a user reading "all episodes
consumed" next to a COMPLETED must be able to trust it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from anibridge.bridge.derive import derive
from anibridge.bridge.model import Policy, ProgressMode
from anibridge.bridge.observe import Observation
from anibridge.provider.base import (
    Progress,
    Rating,
    Record,
    RecordField,
    Ref,
    State,
    Status,
)

S, P, R = RecordField.STATUS, RecordField.PROGRESS, RecordField.REPEAT_COUNT
ST, FIN, LAST = (
    RecordField.STARTED_AT,
    RecordField.FINISHED_AT,
    RecordField.LAST_ACTIVITY_AT,
)
T0 = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)


def _at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _played(*plays: tuple[int, float], timed: bool = True) -> Observation:
    """Observation of exact plays `(episode, hours after T0)`, as observe makes it."""
    obs = Observation(Ref("100"))
    for n, hours in plays:
        at = _at(hours)
        unit = obs.units.setdefault((None, n), [0, at, at])
        unit[0] += 1
        unit[1] = min(unit[1], at)
        unit[2] = max(unit[2], at)
        if timed:
            obs.events.append(((None, n), at))
    obs.weighted = float(len(obs.units))
    return obs


def _reasons(d):
    return {f: (d.values[f], d.reasons[f]) for f in d.values}


def test_some_episodes_watched():
    d = derive(_played((1, 0), (2, 1), (3, 2), (4, 3)), None, 12, Policy())
    assert _reasons(d) == {
        P: (4, "consumed episodes: 4 of 12"),
        S: (Status.ACTIVE, "some episodes consumed"),
        ST: (_at(0), "first activity"),
        LAST: (_at(3), "latest activity"),
    }
    assert d.inferred_status and d.consumed == 4 and d.total == 12
    assert d.held == {}


def test_progress_without_a_known_total_names_no_total():
    d = derive(_played((1, 0), (2, 1)), None, None, Policy())
    assert d.values[P] == 2
    assert d.reasons[P] == "consumed episodes: 2"


def test_every_episode_watched_once():
    plays = [(n, n - 1) for n in range(1, 13)]
    d = derive(_played(*plays), None, 12, Policy())
    assert _reasons(d) == {
        P: (12, "consumed episodes: 12 of 12"),
        S: (Status.COMPLETED, "all episodes consumed"),
        R: (0, "1 complete pass(es)"),
        ST: (_at(0), "first activity"),
        FIN: (_at(11), "last episode completed"),
        LAST: (_at(11), "latest activity"),
    }


def test_the_finish_is_when_the_last_unit_was_first_completed_not_its_replay():
    # Episode 12 first at hour 11, episode 1 replayed at hour 30 (a rewatch begins).
    plays = [(n, n - 1) for n in range(1, 13)] + [(12, 20)]
    d = derive(_played(*plays), None, 12, Policy())
    assert d.values[FIN] == _at(11)
    assert d.values[LAST] == _at(20)


def test_index_mode_takes_the_highest_episode():
    policy = Policy(progress_mode=ProgressMode.INDEX)
    d = derive(_played((1, 0), (2, 1), (5, 2)), None, 12, policy)
    assert d.values[P] == 5
    assert d.reasons[P] == "highest consumed episode: 5 of 12"


def test_progress_is_capped_by_the_targets_total():
    d = derive(_played(*[(n, n) for n in range(1, 15)]), None, 12, Policy())
    assert d.values[P] == 12
    assert d.reasons[P] == "consumed episodes: 12 of 12"


def test_a_rewatch_under_way_names_its_pass():
    plays = [(n, n) for n in range(1, 13)] + [(1, 100), (2, 101), (3, 102)]
    d = derive(_played(*plays), None, 12, Policy())
    assert d.values[S] is Status.REPEATING
    assert d.reasons[S] == "rewatch under way: pass 2 started after pass 1 completed"
    assert d.values[P] == 3
    assert d.reasons[P] == "rewatch (pass 2): consumed episodes: 3 of 12"
    assert (d.values[R], d.reasons[R]) == (0, "1 complete pass(es)")
    index = derive(_played(*plays[:12], (2, 100), (5, 101)), None, 12,
                   Policy(progress_mode=ProgressMode.INDEX))  # fmt: skip
    assert index.values[P] == 5
    assert index.reasons[P] == "rewatch (pass 2): highest consumed episode: 5 of 12"


def test_two_complete_passes_repeat_once():
    plays = [(n, n) for n in range(1, 13)] + [(n, 100 + n) for n in range(1, 13)]
    d = derive(_played(*plays), None, 12, Policy())
    assert d.values[S] is Status.COMPLETED
    assert (d.values[R], d.reasons[R]) == (1, "2 complete pass(es)")


def test_a_rewatch_where_the_target_has_no_rewatch_status_shows_completed():
    obs = _played((1, 0), (2, 1))
    obs.explicit[S] = State("CURRENT", Status.REPEATING)
    d = derive(obs, None, 12, Policy(), repeating=False)
    assert d.values[P] == 12
    assert d.reasons[P] == "rewatch shown as completed: 12 of 12"
    assert d.reasons[S] == "source status repeating"
    # where the target holds REPEATING, progress is what was consumed
    assert derive(obs, None, 12, Policy()).values[P] == 2


def test_counts_without_times_give_full_rounds_never_a_rewatch():
    # every episode played twice, from a view count: no times, so no passes
    plays = [(n, n) for n in range(1, 13)] * 2
    d = derive(_played(*plays, timed=False), None, 12, Policy())
    assert d.values[S] is Status.COMPLETED
    assert (d.values[R], d.reasons[R]) == (1, "every episode consumed 2 time(s)")


def test_a_whole_title_play_count_is_its_repeat():
    obs = Observation(Ref("m"))
    obs.units[(None, 0)] = [3, _at(0), _at(5)]
    d = derive(obs, None, None, Policy())
    assert (d.values[S], d.reasons[S]) == (Status.COMPLETED, "all episodes consumed")
    assert (d.values[R], d.reasons[R]) == (2, "3 play(s)")
    assert (d.values[P], d.reasons[P]) == (1, "consumed episodes: 1")


def test_user_set_source_values_are_taken_with_their_source_named():
    obs = _played((1, 0), (2, 1))
    rating = Rating(80, (0.0, 100.0, 1.0))
    obs.explicit.update({
        S: State("COMPLETED", Status.COMPLETED),
        R: 2,
        ST: _at(-50),
        FIN: _at(-10),
        LAST: _at(-5),
        RecordField.RATING: rating,
        RecordField.NOTES: "great",
    })  # fmt: skip
    d = _reasons(derive(obs, None, 12, Policy()))
    assert d[S] == (Status.COMPLETED, "source status completed")
    assert d[R] == (2, "source repeat count")
    assert d[ST] == (_at(-50), "source start date")
    assert d[FIN] == (_at(-10), "source finish date")
    assert d[LAST] == (_at(-5), "source last activity")
    assert d[RecordField.RATING] == (rating, "source rating")
    assert d[RecordField.NOTES] == ("great", "source notes")


def test_a_source_progress_without_units_is_zero():
    obs = Observation(Ref("100"))
    obs.explicit[P] = Progress(0)
    obs.explicit[S] = State("PLANNING", Status.PLANNED)
    d = derive(obs, None, 12, Policy())
    assert (d.values[P], d.reasons[P]) == (0, "source progress")


def test_watchlist_and_empty_entries_are_planned_with_their_reason():
    listed = Observation(Ref("100"), planned=True)
    d = derive(listed, None, 12, Policy())
    assert (d.values[S], d.reasons[S]) == (Status.PLANNED, "on the source watchlist")
    bare = Observation(Ref("100"))
    assert S not in derive(bare, None, 12, Policy()).values
    d = derive(bare, None, 12, Policy(empty_status=True))
    assert (d.values[S], d.reasons[S]) == (
        Status.PLANNED,
        "in the source without activity",
    )


def test_an_episode_in_progress_makes_the_entry_active():
    obs = Observation(Ref("100"), in_progress=True)
    d = derive(obs, None, 12, Policy())
    assert (d.values[S], d.reasons[S]) == (Status.ACTIVE, "some episodes consumed")


def test_a_user_set_pause_is_held_with_the_reason():
    target = Record(
        Ref("100"), values={S: State("PAUSED", Status.PAUSED)}, updated_at=_at(10)
    )
    d = derive(_played((1, 0), (2, 1)), target, 12, Policy())
    assert S not in d.values
    assert d.held == {S: "user-set paused kept: no play after the entry changed"}
    # a play after the pause was set lets the inference through
    later = derive(_played((1, 0), (2, 11)), target, 12, Policy())
    assert later.values[S] is Status.ACTIVE and later.held == {}


def test_a_derived_start_after_the_finish_is_clamped_a_typed_one_is_not():
    obs = _played((1, 10), (2, 11))
    obs.explicit.update({S: State("COMPLETED", Status.COMPLETED), FIN: _at(5)})
    d = derive(obs, None, 12, Policy())
    assert (d.values[ST], d.reasons[ST]) == (_at(5), "clamped to the finish date")
    obs.explicit[ST] = _at(8)  # typed by the user: kept as is
    assert derive(obs, None, 12, Policy()).values[ST] == _at(8)
    # a start equal to the finish is not after it
    same = _played((1, 5))
    same.explicit.update({S: State("COMPLETED", Status.COMPLETED), FIN: _at(5)})
    d = derive(same, None, 12, Policy())
    assert (d.values[ST], d.reasons[ST]) == (_at(5), "first activity")


def test_no_finish_date_is_invented_for_a_tracker_entry_without_one():
    plays = [(n, n) for n in range(1, 13)]
    obs = _played(*plays)
    obs.explicit[S] = State("COMPLETED", Status.COMPLETED)
    assert FIN not in derive(obs, None, 12, Policy()).values


def test_a_source_finish_date_is_written_only_for_completed_entries():
    completed = Record(Ref("100"), values={S: State("COMPLETED", Status.COMPLETED)})
    watching = Record(Ref("100"), values={S: State("CURRENT", Status.ACTIVE)})
    obs = Observation(Ref("100"))
    obs.explicit[FIN] = _at(5)
    d = derive(obs, completed, 12, Policy())
    assert (d.values[FIN], d.reasons[FIN]) == (_at(5), "source finish date")
    assert FIN not in derive(obs, watching, 12, Policy()).values
    # a target completed without plays on the source gets no derived finish
    assert FIN not in derive(Observation(Ref("100")), completed, 12, Policy()).values


def test_one_episode_makes_the_entry_active():
    d = derive(_played((1, 0)), None, 12, Policy())
    assert (d.values[S], d.values[P]) == (Status.ACTIVE, 1)


def test_a_rewatch_counts_the_episodes_of_the_pass_in_count_mode():
    plays = [(n, n) for n in range(1, 13)] + [(1, 100), (2, 101), (5, 102)]
    assert derive(_played(*plays), None, 12, Policy()).values[P] == 3


def test_untimed_counts_beyond_the_timed_passes_raise_the_repeat():
    # one timed pass, but every episode's count says 2 (a play without a date)
    obs = _played(*[(n, n) for n in range(1, 13)])
    for unit in obs.units.values():
        unit[0] += 1
    d = derive(obs, None, 12, Policy())
    assert (d.values[R], d.reasons[R]) == (1, "1 complete pass(es)")


def test_one_untimed_round_is_no_repeat_and_rounds_count_the_least_played():
    once = _played(*[(n, n) for n in range(1, 13)], timed=False)
    d = derive(once, None, 12, Policy())
    assert (d.values[R], d.reasons[R]) == (0, "every episode consumed 1 time(s)")
    uneven = _played(*[(n, n) for n in range(1, 13)] * 2, (3, 50), timed=False)
    d = derive(uneven, None, 12, Policy())
    assert (d.values[R], d.reasons[R]) == (1, "every episode consumed 2 time(s)")


def test_units_outside_the_total_never_complete_a_round():
    plays = [(n, n) for n in range(1, 12)] * 2 + [(13, 40), (13, 41)]
    d = derive(_played(*plays, timed=False), None, 12, Policy())
    assert R not in d.values


def test_a_unit_under_two_keys_counts_its_larger_play_count():
    obs = _played(*[(n, n) for n in range(2, 13)] * 2, timed=False)
    obs.units[("a", 1)] = [2, _at(0), _at(1)]
    obs.units[("b", 1)] = [1, _at(0), _at(0)]
    d = derive(obs, None, 12, Policy())
    assert (d.values[R], d.reasons[R]) == (1, "every episode consumed 2 time(s)")


def test_units_without_times_mix_with_timed_ones():
    obs = _played((1, 3))
    obs.units[(None, 2)] = [1, None, None]
    obs.weighted = 2.0
    d = derive(obs, None, 12, Policy())
    assert d.values[P] == 2
    assert d.values[ST] == _at(3) and d.values[LAST] == _at(3)


def test_index_mode_on_a_whole_title_play_is_the_full_count():
    obs = Observation(Ref("100"))
    obs.units[(None, 0)] = [1, _at(0), _at(0)]
    d = derive(obs, None, 12, Policy(progress_mode=ProgressMode.INDEX))
    assert d.values[P] == 12


def test_no_source_progress_no_progress():
    assert (
        P
        not in derive(Observation(Ref("100"), planned=True), None, 12, Policy()).values
    )


def test_a_pause_without_a_change_time_or_without_plays_is_held():
    paused = State("PAUSED", Status.PAUSED)
    undated = Record(Ref("100"), values={S: paused})
    d = derive(_played((1, 0)), undated, 12, Policy())
    assert S not in d.values and S in d.held
    dated = Record(Ref("100"), values={S: paused}, updated_at=_at(0))
    listed = Observation(Ref("100"), planned=True)
    d = derive(listed, dated, 12, Policy())
    assert S not in d.values and S in d.held
    # a target record without a status is no user-set status
    bare = Record(Ref("100"), values={}, updated_at=_at(10))
    assert derive(_played((1, 0)), bare, 12, Policy()).values[S] is Status.ACTIVE


def test_a_whole_title_record_never_makes_passes():
    # A whole-title play (n = 0) beside timed episode plays: the aggregate cannot
    # be placed in time, so no rewatch is inferred from the episode times.
    obs = _played(*[(n, n) for n in range(1, 13)], (1, 100))
    obs.units[(None, 0)] = [1, _at(0), _at(0)]
    d = derive(obs, None, 12, Policy())
    assert d.values[S] is Status.COMPLETED
    assert (d.values[R], d.reasons[R]) == (1, "2 play(s)")
