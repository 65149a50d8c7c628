"""`anibridge.bridge.oneway`: one direction's candidate writes, rule by rule.

The helpers and the planner's steps are asked directly (hand-made observations and
target entries, real capabilities), so a broken rule fails here in milliseconds.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from bridge_support import custom_index, history, history_capabilities, tracker

from anibridge.bridge.collect import collect
from anibridge.bridge.derive import Desired
from anibridge.bridge.identity import Identity, identify
from anibridge.bridge.model import Direction, Entry, Policy, Rule, SkipReason, Snapshot
from anibridge.bridge.observe import Observation
from anibridge.bridge.oneway import (
    ENTRY,
    Candidate,
    DirectionPlanner,
    EntryPlan,
    _absolute_parts,
    _total,
    anchor_record,
    deletions,
    encoded,
    in_sync_baselines,
    later_pass,
    native_kind,
    pass_index,
    pin_map,
    regresses,
)
from anibridge.bridge.plan import plan_direction
from anibridge.bridge.stores import Baseline, Pin, link_id
from anibridge.provider.base import (
    Descriptor,
    Event,
    EventSummary,
    FieldSpec,
    NumericConstraint,
    Progress,
    Rating,
    Record,
    RecordField,
    RecordKind,
    Ref,
    State,
    Status,
    TemporalConstraint,
    TemporalPrecision,
    WriteOp,
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
    watched_record,
)

F = RecordField
T = datetime(2024, 3, 1, tzinfo=UTC)


def st(s: Status | None, native: str = "x") -> State:
    return State(native, s)


# -- regresses -----------------------------------------------------------------


def test_nothing_regresses_from_or_to_unset():
    assert not regresses(F.PROGRESS, None, Progress(1))
    assert not regresses(F.PROGRESS, Progress(5), None)
    assert not regresses(F.STATUS, None, st(Status.PLANNED))


@pytest.mark.parametrize(
    ("before", "after", "back"),
    [
        (Status.COMPLETED, Status.ACTIVE, True),
        (Status.REPEATING, Status.PAUSED, True),
        (Status.ACTIVE, Status.PLANNED, True),
        (Status.DROPPED, Status.PLANNED, True),
        (Status.PAUSED, Status.PLANNED, True),
        (Status.ACTIVE, Status.COMPLETED, False),
        (Status.PLANNED, Status.ACTIVE, False),
        # the same rank is a sideways move, not backwards
        (Status.ACTIVE, Status.PAUSED, False),
        (Status.ACTIVE, Status.DROPPED, False),
        (Status.REPEATING, Status.COMPLETED, False),
        (Status.COMPLETED, Status.REPEATING, False),
    ],
)
def test_status_regresses_down_its_rank(before, after, back):
    assert regresses(F.STATUS, st(before), st(after)) is back


def test_status_without_a_semantic_never_regresses():
    assert not regresses(F.STATUS, st(None), st(Status.PLANNED))
    assert not regresses(F.STATUS, st(Status.COMPLETED), st(None))
    assert not regresses(F.STATUS, "COMPLETED", st(Status.PLANNED))
    assert not regresses(F.STATUS, st(Status.COMPLETED), "PLANNING")


def test_progress_regresses_when_the_position_goes_down():
    assert regresses(F.PROGRESS, Progress(5, 12), Progress(4, 12))
    assert not regresses(F.PROGRESS, Progress(5, 12), Progress(5, 24))
    assert not regresses(F.PROGRESS, Progress(5), Progress(6))
    assert not regresses(F.PROGRESS, Progress(None), Progress(1))
    assert not regresses(F.PROGRESS, Progress(3), Progress(None))


@pytest.mark.parametrize("f", [F.STARTED_AT, F.FINISHED_AT])
def test_start_and_finish_dates_regress_when_they_move_later(f):
    assert regresses(f, T, T + timedelta(days=1))
    assert not regresses(f, T, T)
    assert not regresses(f, T, T - timedelta(days=1))


@pytest.mark.parametrize("f", [F.LAST_ACTIVITY_AT, F.REPEAT_COUNT])
def test_activity_and_repeat_count_regress_when_they_go_down(f):
    lo, hi = (T, T + timedelta(days=1)) if f is F.LAST_ACTIVITY_AT else (1, 2)
    assert regresses(f, hi, lo)
    assert not regresses(f, lo, lo)
    assert not regresses(f, lo, hi)


def test_ratings_and_notes_never_regress():
    assert not regresses(F.RATING, Rating(9, (1, 10, 1)), Rating(1, (1, 10, 1)))
    assert not regresses(F.NOTES, "b", "a")


# -- passes ----------------------------------------------------------------------


def test_pass_index_counts_completed_passes():
    assert pass_index(Status.REPEATING, 0) == 1
    assert pass_index(Status.REPEATING, 2) == 3
    assert pass_index(Status.COMPLETED, 0) == 0
    assert pass_index(Status.COMPLETED, 2) == 2
    assert pass_index(Status.ACTIVE, 3) == 0
    assert pass_index(None, 3) == 0


def desired(repeat=None) -> Desired:
    d = Desired()
    if repeat is not None:
        d.set(F.REPEAT_COUNT, repeat, "")
    return d


def rec(status=None, repeat=None) -> Record:
    return list_record("1", status=status, repeat=repeat)


def test_a_rewatch_starting_on_a_completed_entry_is_a_later_pass():
    repeating = st(Status.REPEATING)
    assert later_pass(desired(), repeating, rec(Status.COMPLETED))
    assert later_pass(desired(1), repeating, rec(Status.COMPLETED, 1))
    # REPEATING with no rewatch counted is the second pass; the target's COMPLETED
    # with one rewatch finished that one already
    assert not later_pass(desired(0), repeating, rec(Status.COMPLETED, 1))
    # a new entry written as REPEATING is past its first pass
    assert later_pass(desired(), repeating, None)


def test_the_same_rewatch_is_not_a_later_pass_until_its_count_moves():
    kept = None  # status already REPEATING on the target: not written again
    assert not later_pass(desired(1), kept, rec(Status.REPEATING, 1))
    assert later_pass(desired(2), kept, rec(Status.REPEATING, 1))
    assert not later_pass(desired(), kept, rec(Status.REPEATING, 1))


def test_only_repeating_makes_a_later_pass():
    assert not later_pass(desired(3), st(Status.COMPLETED), rec(Status.ACTIVE))
    assert not later_pass(desired(3), None, rec(Status.COMPLETED))
    assert not later_pass(desired(3), st(None), rec(Status.REPEATING, 0))


def test_odd_repeat_values_count_as_the_targets_own():
    # a repeat count that is not an int on either side is "no change in count"
    weird = Record(
        Ref("1"), values={F.STATUS: st(Status.REPEATING), F.REPEAT_COUNT: "2"}
    )
    assert not later_pass(desired(), None, weird)
    assert later_pass(desired(1), None, weird)
    d = Desired()
    d.set(F.REPEAT_COUNT, "3", "")
    assert not later_pass(d, None, rec(Status.REPEATING, 1))
    assert later_pass(d, st(Status.REPEATING), rec(Status.COMPLETED, 1))


# -- kinds, records, pins ----------------------------------------------------------


def snapshot(*kinds: tuple[str, RecordKind | None]) -> Snapshot:
    kinds_ = tuple(Descriptor(n, s) for n, s in kinds)
    return Snapshot("p", replace(list_capabilities(), record_kinds=kinds_))


def test_native_kind_names_the_declared_kind_of_a_semantic():
    snap = snapshot(("watchlist", RecordKind.PLANNED), ("ratings", RecordKind.RATINGS))
    assert native_kind(snap, RecordKind.PLANNED) == "watchlist"
    assert native_kind(snap, RecordKind.RATINGS) == "ratings"
    assert native_kind(snap, RecordKind.COLLECTION) is None
    # declared kinds without "": the default kind is not a progress record there
    assert native_kind(snap, RecordKind.PROGRESS) is None


def test_the_default_kind_is_progress_unless_other_kinds_leave_it_out():
    assert native_kind(snapshot(), RecordKind.PROGRESS) == ""
    with_default = snapshot(("", RecordKind.PROGRESS), ("ratings", RecordKind.RATINGS))
    assert native_kind(with_default, RecordKind.PROGRESS) == ""
    named = snapshot(("list", RecordKind.PROGRESS), ("ratings", RecordKind.RATINGS))
    assert native_kind(named, RecordKind.PROGRESS) == "list"
    # an unnamed kind only ever stands for PROGRESS
    assert native_kind(snapshot(("", RecordKind.RATINGS)), RecordKind.RATINGS) is None


def test_anchor_record_is_the_anchors_own_record_of_that_kind():
    part = Record(Ref.at("1", ("episode", 1)), kind="")
    rating = Record(Ref("1"), kind="ratings")
    main = Record(Ref("1"), kind="")
    entry = Entry("1", records=[part, rating, main])
    assert anchor_record(entry, "") is main
    assert anchor_record(entry, "ratings") is rating
    assert anchor_record(entry, "watchlist") is None
    assert anchor_record(None, "") is None
    assert anchor_record(Entry("1", records=[part]), "") is None


def test_encoded_is_the_json_form_or_none():
    assert encoded(F.PROGRESS, None) is None
    assert encoded(F.PROGRESS, Progress(3, 12)) == {
        "current": 3,
        "total": 12,
        "unit": None,
    }


def test_pin_map_unions_the_fields_pinned_per_target_ref():
    pins = [
        Pin("p", "al", "1", frozenset({"status"})),
        Pin("p", "al", "1", frozenset({"rating"})),
        Pin("p", "al", "2", frozenset({"notes"})),
        Pin("p", "mal", "1", frozenset({"progress"})),
    ]
    assert pin_map(pins) == {
        ("al", "1"): frozenset({"status", "rating"}),
        ("al", "2"): frozenset({"notes"}),
        ("mal", "1"): frozenset({"progress"}),
    }


# -- the planner, asked directly ---------------------------------------------------

SHOW = Ref("t")


def ep(season, n):
    return episode_ref("t", season, n)


def planner(target_caps, *, policy=None, pins=None, sent=None, source_caps=None):
    source = Snapshot("src", source_caps or library_capabilities())
    target = Snapshot("dst", target_caps)
    return DirectionPlanner(
        source, target, Identity(), policy or Policy(), pins or {}, UTC, sent
    )


def observation(units=(), events=(), **kw):
    return Observation(
        SHOW,
        sources=["s"],
        units={k: list(v) for k, v in dict(units).items()},
        events=list(events),
        **kw,
    )


def skip_list(p):
    return [(s.ref, s.field, s.reason, s.detail) for s in p.skips]


# event targets


def test_plays_already_in_the_history_or_sent_are_not_appended_again():
    t1 = T + timedelta(hours=1)
    sent_calls = []

    def sent(provider, ref, kind, at):
        sent_calls.append((provider, ref, kind, at))
        return ref == "t/season=1/episode=5"

    p = planner(history_capabilities(), sent=sent)
    entry = Entry(
        "t",
        events=[
            Event(ep(1, 1), "watch", T + timedelta(milliseconds=400)),
            Event(ep(1, 2), "rating", T),  # not a play
        ],
    )
    o = observation(
        events=[
            ((1, 1), T),
            ((1, 2), T),
            ((1, 2), T + timedelta(microseconds=5)),
            ((1, 5), t1),
        ],
    )
    p.plan_events(o, entry)
    appended = [(a.op, a.ref, a.kind, a.at, a.reason) for a in p.actions]
    # episode 1 is there to the second; episode 2 once (the second copy is the same
    # second); episode 5 was sent by an earlier run
    assert appended == [(WriteOp.APPEND_EVENT, ep(1, 2), "watch", T, "source play")]
    assert sent_calls[-1] == ("dst", "t/season=1/episode=5", "watch", t1.isoformat())
    assert skip_list(p) == [(ep(1, 5), None, SkipReason.UNCHANGED, "play already sent")]


def test_consumed_units_without_plays_are_appended_unless_already_played():
    p = planner(history_capabilities())
    entry = Entry(
        "t",
        summaries=[
            EventSummary(ep(1, 1), "watch", count=2, first_at=T, last_at=T),
            EventSummary(ep(1, 2), "watch", count=0),
            EventSummary(ep(1, 3), "rating", count=1, last_at=T),
            EventSummary(ep(1, 4), "watch", count=1, first_at=None, last_at=None),
        ],
    )
    t1 = T + timedelta(hours=1)
    o = observation(
        units={
            (1, 1): (1, T, t1),
            (1, 2): (1, T, t1),
            (1, 3): (1, None, T),
            (1, 4): (1, T, t1),
            (1, 6): (1, None, None),
        },
    )
    p.plan_events(o, entry)
    appended = [(a.ref, a.at, a.reason) for a in p.actions]
    # a unit counts by its last play, else its first; 1 and 4 were played already
    assert appended == [
        (ep(1, 2), t1, "consumed on the source"),
        (ep(1, 3), T, "consumed on the source"),
    ]
    assert skip_list(p) == [
        (ep(1, 6), None, SkipReason.NO_TARGET, "no play time known")
    ]


def test_a_summary_time_counts_as_a_play_already_there():
    p = planner(history_capabilities())
    entry = Entry(
        "t",
        summaries=[
            EventSummary(
                ep(1, 1), "watch", count=1, first_at=T, last_at=T + timedelta(hours=1)
            )
        ],
    )
    o = observation(
        events=[
            ((1, 1), T),
            ((1, 1), T + timedelta(hours=1)),
            ((1, 1), T + timedelta(hours=2)),
        ]
    )
    p.plan_events(o, entry)
    assert [a.at for a in p.actions] == [T + timedelta(hours=2)]


def test_an_event_unit_is_not_appended_twice_through_its_consumed_unit():
    p = planner(history_capabilities())
    o = observation(
        units={(1, 1): (2, T, T + timedelta(hours=1))}, events=[((1, 1), T)]
    )
    p.plan_events(o, None)
    assert [(a.ref, a.at) for a in p.actions] == [(ep(1, 1), T)]


def test_no_plays_planned_without_a_play_kind():
    caps = history_capabilities()
    p = planner(replace(caps, event_kinds=()))
    assert p.play_kind is None
    p.plan_events(observation(events=[((1, 1), T)]), None)
    assert p.actions == []


# server (granular) targets


def server_caps(*, status=True, repeat=True, last=True):
    caps = library_capabilities(writable=True)
    fields = dict(caps.record_fields)
    for f, on in (
        (F.STATUS, status),
        (F.REPEAT_COUNT, repeat),
        (F.LAST_ACTIVITY_AT, last),
    ):
        spec = fields[f]
        fields[f] = FieldSpec(
            f, writable=on, constraints=spec.constraints, values=spec.values
        )
    return replace(caps, record_fields=fields)


def server_entry(records=(), seasons=None):
    node = library_show("t", "Show", seasons or {1: 3})[0]
    return Entry("t", node=node, records=list(records))


def test_a_server_gets_watched_repeat_count_and_played_date_per_episode():
    p = planner(server_caps())
    t1 = T + timedelta(hours=1)
    o = observation(units={(1, 1): (3, T, t1), (1, 2): (1, T, T)})
    p.plan_units(o, server_entry())
    got = {a.ref: (dict(a.before), dict(a.after), a.created) for a in p.actions}
    watched = p.caps.record_fields[F.STATUS].values[0]
    assert got[ep(1, 1)][1][F.REPEAT_COUNT] == 2  # three plays: two repeats
    assert got[ep(1, 1)][1][F.LAST_ACTIVITY_AT] == t1
    assert got[ep(1, 1)][1][F.STATUS].status is Status.COMPLETED
    assert watched.semantic is Status.COMPLETED
    # one play: no repeat count written where none is recorded
    assert F.REPEAT_COUNT not in got[ep(1, 2)][1]
    assert all(before == {} and created for before, _, created in got.values())
    assert {a.reason for a in p.actions} == {"consumed on the source"}


def test_a_server_keeps_higher_counts_and_later_dates_it_has():
    t1 = T + timedelta(hours=1)
    have = [
        replace(watched_record(ep(1, 1), last_viewed=t1, repeat_count=5), key="k1"),
        replace(
            watched_record(ep(1, 2), last_viewed=T, repeat_count=0, in_progress=True),
            revision="r2",
        ),
        watched_record(ep(1, 3), last_viewed=T, repeat_count=0),
    ]
    p = planner(server_caps())
    o = observation(units={(1, 1): (3, T, T), (1, 2): (2, T, t1), (1, 3): (1, T, T)})
    p.plan_units(o, server_entry(have))
    got = {a.ref: a for a in p.actions}
    # episode 1: watched, 5 repeats, played later than the source says: nothing
    # episode 3: the same as the source (0 repeats recorded, one play): nothing
    assert set(got) == {ep(1, 2)}
    a = got[ep(1, 2)]
    assert a.before == {
        F.STATUS: have[1].values[F.STATUS],
        F.REPEAT_COUNT: 0,
        F.LAST_ACTIVITY_AT: T,
    }
    assert a.after[F.REPEAT_COUNT] == 1 and a.after[F.LAST_ACTIVITY_AT] == t1
    assert a.after[F.STATUS].status is Status.COMPLETED
    assert (a.created, a.record_key, a.revision) == (False, None, "r2")


def test_approximate_times_are_never_written_as_played_dates():
    p = planner(server_caps())
    o = observation(units={(1, 1): (1, T, T)}, approximate_times=True)
    p.plan_units(o, server_entry())
    assert F.LAST_ACTIVITY_AT not in p.actions[0].after


def test_read_only_repeat_counts_and_dates_are_not_written():
    p = planner(server_caps(repeat=False, last=False))
    p.plan_units(observation(units={(1, 1): (3, T, T)}), server_entry())
    assert set(p.actions[0].after) == {F.STATUS}
    no_fields = Policy(fields=frozenset({F.STATUS}))
    p = planner(server_caps(), policy=no_fields)
    p.plan_units(observation(units={(1, 1): (3, T, T)}), server_entry())
    assert set(p.actions[0].after) == {F.STATUS}


def test_a_server_episode_it_does_not_list_is_skipped():
    p = planner(server_caps())
    o = observation(units={(1, 2): (1, T, T), (1, 7): (1, T, T)})
    p.plan_units(o, server_entry())
    assert [a.ref for a in p.actions] == [ep(1, 2)]
    assert skip_list(p) == [
        (ep(1, 7), None, SkipReason.NO_TARGET, "episode not on target")
    ]
    # without a structure nothing is known to be missing
    p = planner(server_caps())
    p.plan_units(o, Entry("t"))
    assert [a.ref for a in p.actions] == [ep(1, 2), ep(1, 7)]


def test_a_server_whose_status_is_not_writable_or_pinned_gets_nothing():
    o = observation(units={(1, 1): (1, T, T)})
    p = planner(server_caps(status=False))
    p.plan_units(o, server_entry())
    assert p.actions == []
    assert skip_list(p) == [(SHOW, F.STATUS, SkipReason.NOT_WRITABLE, "")]
    p = planner(server_caps(), pins={("dst", "t"): frozenset({"status"})})
    p.plan_units(o, server_entry())
    assert p.actions == []
    assert skip_list(p) == [(SHOW, F.STATUS, SkipReason.PINNED, "")]
    p = planner(server_caps(), policy=Policy(fields=frozenset({F.RATING})))
    p.plan_units(o, server_entry())
    assert p.actions == [] and p.skips == []


def test_a_server_without_a_watched_status_gets_nothing_more():
    caps = server_caps()
    spec = caps.record_fields[F.STATUS]
    only_started = tuple(d for d in spec.values if d.semantic is Status.ACTIVE)
    fields = dict(caps.record_fields)
    fields[F.STATUS] = FieldSpec(F.STATUS, writable=True, values=only_started)
    p = planner(replace(caps, record_fields=fields))
    p.plan_units(
        observation(units={(1, 1): (1, T, T), (1, 2): (1, T, T)}), server_entry()
    )
    assert p.actions == []
    assert skip_list(p) == [
        (ep(1, 1), F.STATUS, SkipReason.NOT_WRITABLE, "target has no completed status")
    ]


# totals


def test_the_total_is_the_records_own_else_the_structures():
    entry = server_entry(seasons={1: 12})
    assert _total(entry, list_record("t", progress=3, total=24)) == 24
    assert _total(entry, list_record("t", progress=3)) == 12
    assert _total(entry, list_record("t", progress=3, total=0)) == 12
    assert _total(entry, None) == 12
    assert _total(Entry("t"), None) is None
    assert _total(None, list_record("t", status=Status.ACTIVE)) is None


# where a unit lands on the target


def test_unit_refs_follow_the_targets_coordinates():
    p = planner(server_caps())
    show = server_entry(seasons={0: 1, 1: 3, 2: 2})
    assert p.unit_ref(SHOW, 1, 0, show) == SHOW  # unit 0 is the work itself
    assert p.unit_ref(SHOW, 2, 1, show) == ep(2, 1)
    # an absolute position over the regular seasons (specials have none)
    assert p.unit_ref(SHOW, None, 4, show) == ep(2, 1)
    assert p.unit_ref(SHOW, None, 3, show) == ep(1, 3)
    # past the structure: the position as the leaf number (not on the target)
    assert p.unit_ref(SHOW, None, 9, show) == SHOW.child("episode", 9)
    # a seasoned target whose structure was not read cannot place it at all
    assert p.unit_ref(SHOW, None, 2, None) is None
    assert p.unit_ref(SHOW, None, 2, Entry("t")) is None
    # so does a show listed without its episodes; a node whose kind has no seasons
    # (a season kept as its own title) or no coordinates takes the position as is
    from anibridge.provider.base import Node

    assert p.unit_ref(SHOW, None, 2, Entry("t", node=Node(SHOW, "show"))) is None
    for kind in ("season", "movie"):
        bare = Entry("t", node=Node(SHOW, kind))
        assert p.unit_ref(SHOW, None, 2, bare) == SHOW.child("episode", 2)
    flat = planner(replace(server_caps(), coordinate_axes={"show": ("episode",)}))
    assert flat.unit_ref(SHOW, None, 2, None) == SHOW.child("episode", 2)
    assert p.unit_ref(SHOW, 1, 2, None) == ep(1, 2)
    # a season kept as its own title has episodes, no seasons
    season = Entry("t", node=library_show("t", "Show", {1: 3})[1])
    assert p.unit_ref(SHOW, 1, 2, season) == SHOW.child("episode", 2)


def test_the_leaf_axis_is_the_last_axis_of_the_first_kind_that_has_one():
    axes = {"movie": (), "book": ("volume", "chapter"), "show": ("season", "episode")}
    caps = replace(server_caps(), coordinate_axes=axes)
    p = planner(caps)
    assert p.leaf_axis == "chapter"
    assert p.unit_ref(SHOW, 1, 2, None) == Ref.at("t", ("season", 1), ("chapter", 2))
    assert planner(replace(caps, coordinate_axes={})).leaf_axis == "episode"


def test_absolute_positions_skip_parts_that_are_not_season_episodes():
    from anibridge.provider.base import FacetName, Node, Part, Step, Structure

    parts = (
        Part((Step("season", 1), Step("episode", 2))),
        Part((Step("season", 1), Step("episode", 1))),
        Part((Step("episode", 9),)),
        Part((Step("disc", 1), Step("episode", 3))),
        Part((Step("season", "x"), Step("episode", 4))),
        Part((Step("season", 0), Step("episode", 1))),
        Part((Step("season", 2), Step("episode", 1))),
        # a deeper position counts by its last step (the leaf), not the middle one
        Part((Step("season", 3), Step("arc", 1), Step("episode", 2))),
        Part((Step("season", 3), Step("arc", 1), Step("episode", 1))),
    )
    node = Node(SHOW, "show", facets={FacetName.STRUCTURE: Structure(parts=parts)})
    got = _absolute_parts(Entry("t", node=node))
    assert got == {
        1: (Step("season", 1), Step("episode", 1)),
        2: (Step("season", 1), Step("episode", 2)),
        3: (Step("season", 2), Step("episode", 1)),
        4: (Step("season", 3), Step("arc", 1), Step("episode", 1)),
        5: (Step("season", 3), Step("arc", 1), Step("episode", 2)),
    }
    assert _absolute_parts(Entry("t")) == {}
    assert _absolute_parts(Entry("t", node=Node(SHOW, "show"))) == {}


# watchlist and collection kinds


def kinds_caps(*kinds, upsert=True):
    caps = list_capabilities()
    ops = caps.write_ops if upsert else caps.write_ops - {WriteOp.UPSERT_RECORD}
    return replace(
        caps,
        record_kinds=tuple(Descriptor(n, s) for n, s in kinds),
        write_ops=ops,
    )


WATCH = kinds_caps(
    ("", RecordKind.PROGRESS),
    ("watchlist", RecordKind.PLANNED),
    ("owned", RecordKind.COLLECTION),
)


def test_planned_goes_to_the_watchlist_only_where_the_target_has_nothing():
    o = observation()
    p = planner(WATCH)
    p.watchlist(o, None, None, Status.PLANNED, "L")
    [a] = p.actions
    assert (a.op, a.ref, a.kind, a.created, a.link) == (
        WriteOp.UPSERT_RECORD,
        SHOW,
        "watchlist",
        True,
        "L",
    )
    assert a.reason == "planned on the source: add to the watchlist"
    listed = Entry("t", records=[Record(SHOW, kind="watchlist")])
    other = Entry("t", records=[Record(ep(1, 1), kind="")])
    main = list_record("t", status=Status.ACTIVE)
    for entry, record, want in (
        (listed, None, Status.PLANNED),  # already on the watchlist
        (None, main, Status.PLANNED),  # already on the list
        (other, None, Status.PLANNED),  # the target has something for it
        (None, None, Status.ACTIVE),  # not planned
    ):
        p = planner(WATCH)
        p.watchlist(o, entry, record, want, "L")
        assert p.actions == []
    p = planner(
        kinds_caps(
            ("", RecordKind.PROGRESS), ("watchlist", RecordKind.PLANNED), upsert=False
        )
    )
    p.watchlist(o, None, None, Status.PLANNED, "L")
    assert p.actions == []
    # a target whose main list holds planned entries needs no separate add
    p = planner(kinds_caps(("", RecordKind.PROGRESS), ("", RecordKind.PLANNED)))
    p.watchlist(o, None, None, Status.PLANNED, "L")
    assert p.actions == []


def test_a_collected_work_is_added_to_the_targets_collection_once():
    p = planner(WATCH)
    p.collection(observation(collected=True), None, "L")
    [a] = p.actions
    assert (a.kind, a.created, a.reason) == ("owned", True, "in the source collection")
    for o, entry, caps in (
        (observation(collected=False), None, WATCH),
        (
            observation(collected=True),
            Entry("t", records=[Record(SHOW, kind="owned")]),
            WATCH,
        ),
        (observation(collected=True), None, kinds_caps(("", RecordKind.PROGRESS))),
        (
            observation(collected=True),
            None,
            kinds_caps(
                ("", RecordKind.PROGRESS),
                ("owned", RecordKind.COLLECTION),
                upsert=False,
            ),
        ),
    ):
        p = planner(caps)
        p.collection(o, entry, "L")
        assert p.actions == []


# ratings on their own kind, and on a server's work


def test_a_server_rates_the_work_on_its_anchor_record():
    rating = Rating(8, (1, 10, 1))
    p = planner(server_caps())
    p.plan_anchor_rating(observation(explicit={F.RATING: rating}), server_entry())
    [a] = p.actions
    assert (a.ref, a.kind, a.after, a.before, a.created) == (
        SHOW,
        "",
        {F.RATING: Rating(8, (0, 10, 1))},
        {},
        True,
    )
    assert a.reason == "rating: source rating"
    # the same rating already there: nothing
    have = Record(SHOW, key="k", revision="r", values={F.RATING: Rating(8, (0, 10, 1))})
    p = planner(server_caps())
    p.plan_anchor_rating(observation(explicit={F.RATING: rating}), server_entry([have]))
    assert p.actions == []
    # a different one replaces it, with its record's key and revision
    p = planner(server_caps())
    p.plan_anchor_rating(
        observation(explicit={F.RATING: Rating(3, (1, 10, 1))}), server_entry([have])
    )
    [a] = p.actions
    assert (a.before, a.created, a.record_key, a.revision) == (
        {F.RATING: Rating(8, (0, 10, 1))},
        False,
        "k",
        "r",
    )
    # no rating, or ratings not synced: nothing
    p = planner(server_caps(), policy=Policy(fields=frozenset({F.STATUS})))
    p.plan_anchor_rating(observation(explicit={F.RATING: rating}), server_entry())
    p.plan_anchor_rating(observation(), server_entry())
    assert p.actions == []


def test_no_rating_is_planned_where_the_target_has_no_record_kind_for_it():
    caps = kinds_caps(("watchlist", RecordKind.PLANNED))
    p = planner(caps)
    assert p.main_kind is None and p.ratings_kind is None
    p.plan_anchor_rating(observation(explicit={F.RATING: Rating(8, (1, 10, 1))}), None)
    assert p.actions == []
    d = Desired()
    d.set(F.RATING, Rating(8, (1, 10, 1)), "r")
    p.plan_rating(observation(), d, None, frozenset(), "L", None)
    assert p.actions == []


# deletions and baselines


def pair_setup(
    *, source_keys=(), target_records=(), caps=None, pins=None, complete=True
):
    source = Snapshot("src", list_capabilities(), complete=complete)
    for k in source_keys:
        source.entry(k)
    target = Snapshot("dst", caps or list_capabilities())
    for rec in target_records:
        target.entry(rec.ref.key).records.append(rec)
    d = DirectionPlanner(source, target, Identity(), Policy(), pins or {}, UTC, None)
    return source, target, d


def entry_base(d, skey, tref, profile="default"):
    link = d.pair_id(skey, Ref(tref))
    return {(link, ENTRY): Baseline(profile, link, ENTRY, skey, tref)}, link


DELETES = Policy(allow_deletes=True)


def test_an_entry_gone_on_the_source_is_deleted_on_the_target():
    have = replace(list_record("t", status=Status.ACTIVE, progress=3), key="k9")
    source, target, d = pair_setup(target_records=[have])
    base, link = entry_base(d, "s", "t")
    [a] = deletions(DELETES, source, target, base, d, set())
    assert (a.provider, a.op, a.ref, a.kind, a.link, a.record_key, a.source) == (
        "dst",
        WriteOp.DELETE_RECORD,
        SHOW,
        "",
        link,
        "k9",
        "src",
    )
    assert a.before == dict(have.values)
    assert a.reason == "removed on src since the last sync"


def test_deletions_need_a_complete_source_a_pair_in_sync_and_a_target_record():
    have = list_record("t", status=Status.ACTIVE)
    source, target, d = pair_setup(target_records=[have], complete=False)
    base, link = entry_base(d, "s", "t")
    assert deletions(DELETES, source, target, base, d, set()) == []  # partial read
    source, target, d = pair_setup(target_records=[have])
    assert deletions(DELETES, source, target, base, d, {link}) == []  # handled
    field_base = {(link, "status"): Baseline("default", link, "status", "s", "t")}
    assert deletions(DELETES, source, target, field_base, d, set()) == []
    odd = {(link, ENTRY): Baseline("default", link, ENTRY, 1, "t")}
    assert deletions(DELETES, source, target, odd, d, set()) == []
    odd = {(link, ENTRY): Baseline("default", link, ENTRY, "s", None)}
    assert deletions(DELETES, source, target, odd, d, set()) == []
    # a baseline filed under another pair's id
    stale = {("elsewhere", ENTRY): Baseline("default", "elsewhere", ENTRY, "s", "t")}
    assert deletions(DELETES, source, target, stale, d, set()) == []
    # still on the source
    source, target, d = pair_setup(source_keys=["s"], target_records=[have])
    assert deletions(DELETES, source, target, base, d, set()) == []
    # nothing on the target to delete
    source, target, d = pair_setup()
    assert deletions(DELETES, source, target, base, d, set()) == []
    # a record on a part, or of another kind, is not the entry
    part = Record(ep(1, 1))
    source, target, d = pair_setup(target_records=[part])
    assert deletions(DELETES, source, target, base, d, set()) == []


def test_a_deletion_is_held_by_policy_capability_or_pin_with_the_reason():
    have = list_record("t", status=Status.ACTIVE)
    source, target, d = pair_setup(target_records=[have])
    base, _ = entry_base(d, "s", "t")
    assert deletions(Policy(), source, target, base, d, set()) == []
    assert skip_list(d) == [
        (SHOW, None, SkipReason.REGRESSION, "gone on the source; deletes off")
    ]
    caps = list_capabilities()
    no_delete = replace(caps, write_ops=caps.write_ops - {WriteOp.DELETE_RECORD})
    source, target, d = pair_setup(target_records=[have], caps=no_delete)
    assert deletions(DELETES, source, target, base, d, set()) == []
    assert skip_list(d) == [
        (SHOW, None, SkipReason.NOT_WRITABLE, "cannot delete records")
    ]
    pins = {("dst", "t"): frozenset({"status"})}
    source, target, d = pair_setup(target_records=[have], pins=pins)
    assert deletions(DELETES, source, target, base, d, set()) == []
    assert skip_list(d) == [(SHOW, F.STATUS, SkipReason.PINNED, "delete blocked")]
    other_pin = {("dst", "t"): frozenset({"notes"})}
    source, target, d = pair_setup(target_records=[have], pins=other_pin)
    assert len(deletions(DELETES, source, target, base, d, set())) == 1


def test_baselines_mark_pairs_in_sync_and_two_way_fields_that_agree():
    have = list_record("t", status=Status.ACTIVE, progress=3, notes="n")
    _, _, d = pair_setup(target_records=[have])
    link = d.pair_id("s", SHOW)
    ep_ = EntryPlan(SHOW, "", have, "s", ())
    ep_.fields = {
        F.PROGRESS: Candidate(F.PROGRESS, Progress(3), Progress(3), "", {"current": 3}),
        F.NOTES: Candidate(F.NOTES, "n", "n", "", "n"),
        F.STATUS: Candidate(F.STATUS, have.values[F.STATUS], None, "", None),
    }
    d.entries[("s", "t")] = ep_
    d.entries[("s2", "u")] = EntryPlan(Ref("u"), "", None, "s2", ())
    one_way = in_sync_baselines(Policy(), d, {}, None)
    assert one_way == [Baseline("default", link, ENTRY, "s", "t")]
    two = Policy(direction=Direction.TWO_WAY, profile="p")
    got = in_sync_baselines(two, d, {("s", "t"): {F.NOTES}}, None)
    assert got == [
        Baseline("p", link, ENTRY, "s", "t"),
        Baseline(
            "p",
            link,
            "progress",
            {"current": 3},
            {"current": 3, "total": None, "unit": None},
        ),
    ]


# list (aggregate) targets

LIST = list_capabilities()
UNITS3 = {
    (None, n): (1, T + timedelta(hours=n), T + timedelta(hours=n)) for n in (1, 2, 3)
}


def aggregate(o, record=None, *, caps=None, policy=None, pins=None, entry=None):
    p = planner(caps or LIST, policy=policy, pins=pins)
    if entry is None and record is not None:
        entry = Entry("t", records=[record])
    p.plan_aggregate(o, entry)
    return p, p.one_way_actions()


def test_a_new_list_entry_is_created_with_every_derived_field():
    p, [a] = aggregate(observation(units=UNITS3, weighted=3.0))
    assert (a.op, a.ref, a.kind, a.created, a.source) == (
        WriteOp.UPSERT_RECORD,
        SHOW,
        "",
        True,
        "src",
    )
    assert a.after[F.STATUS].status is Status.ACTIVE
    assert a.after[F.PROGRESS].current == 3
    assert a.before == {} and a.clear == frozenset()
    assert a.source_values["@entry"] == ["s", "t"]
    assert a.reason.startswith("status: ")
    assert a.link == p.pair_id("s", SHOW)


def test_an_existing_entry_gets_only_what_changed_with_its_before_values():
    have = replace(
        list_record("t", status=Status.ACTIVE, progress=2, total=12),
        key="k",
        revision="r7",
    )
    _, [a] = aggregate(observation(units=UNITS3, weighted=3.0), have)
    assert set(a.after) >= {F.PROGRESS}
    assert F.STATUS not in a.after  # already ACTIVE
    assert a.before[F.PROGRESS] == Progress(2, 12)
    assert a.after[F.PROGRESS] == Progress(3, 12)
    assert (a.created, a.record_key, a.revision) == (False, "k", "r7")
    assert "@entry" not in a.source_values


def test_an_entry_already_in_sync_is_reported_unchanged():
    have = list_record(
        "t", status=Status.ACTIVE, progress=3, started=T + timedelta(hours=1)
    )
    o = observation(units=UNITS3, weighted=3.0)
    p, actions = aggregate(
        o, have, policy=Policy(fields=frozenset({F.STATUS, F.PROGRESS}))
    )
    assert actions == []
    assert skip_list(p) == [(SHOW, None, SkipReason.UNCHANGED, "")]
    assert p.skips[0].link == p.pair_id("s", SHOW)


def test_progress_never_moves_backwards_on_a_list():
    have = list_record("t", status=Status.ACTIVE, progress=7)
    p, actions = aggregate(
        observation(units=UNITS3, weighted=3.0),
        have,
        policy=Policy(fields=frozenset({F.PROGRESS})),
    )
    assert actions == []
    [(ref, f, reason, detail)] = [s for s in skip_list(p) if s[1] is not None]
    assert (ref, f, reason) == (SHOW, F.PROGRESS, SkipReason.REGRESSION)
    assert detail.endswith(": would move backwards")
    # unless non-regression is off for progress
    p, [a] = aggregate(
        observation(units=UNITS3, weighted=3.0),
        have,
        policy=Policy(fields=frozenset({F.PROGRESS}), non_regression=frozenset()),
    )
    assert a.after[F.PROGRESS].current == 3
    # or the other side changed since both were in sync (two-way)
    p = planner(LIST, policy=Policy(fields=frozenset({F.PROGRESS})))
    p.may_regress = lambda s, t, f: (s, t, f) == ("s", "t", F.PROGRESS)
    p.plan_aggregate(
        observation(units=UNITS3, weighted=3.0), Entry("t", records=[have])
    )
    [a] = p.one_way_actions()
    assert a.after[F.PROGRESS].current == 3


def test_pinned_and_ruled_out_fields_are_skipped_with_their_reason():

    have = list_record("t", status=Status.PLANNED, progress=0)
    pins = {("dst", "t"): frozenset({"progress"})}
    rule = Rule(
        "no status on lists",
        frozenset({F.STATUS}),
        when_target_status=frozenset({Status.PLANNED}),
    )
    p, actions = aggregate(
        observation(units=UNITS3, weighted=3.0),
        have,
        pins=pins,
        policy=Policy(rules=(rule,)),
    )
    skipped = {(s.field, s.reason, s.detail) for s in p.skips}
    assert (F.PROGRESS, SkipReason.PINNED, "") in skipped
    assert (F.STATUS, SkipReason.RULE, "no status on lists") in skipped
    assert all(F.STATUS not in a.after and F.PROGRESS not in a.after for a in actions)
    # the rule does not match another provider
    other = Rule("x", frozenset({F.STATUS}), when_provider=frozenset({"mal"}))
    _, [a] = aggregate(
        observation(units=UNITS3, weighted=3.0), have, policy=Policy(rules=(other,))
    )
    assert a.after[F.STATUS].status is Status.ACTIVE


def test_a_field_the_target_cannot_write_is_skipped_where_it_has_a_record():
    fields = dict(LIST.record_fields)
    fields[F.STARTED_AT] = FieldSpec(F.STARTED_AT, writable=False)
    caps = replace(LIST, record_fields=fields)
    have = list_record("t", status=Status.ACTIVE, progress=1)
    p, _ = aggregate(observation(units=UNITS3, weighted=3.0), have, caps=caps)
    assert (SHOW, F.STARTED_AT, SkipReason.NOT_WRITABLE, "") in skip_list(p)
    # no record: nothing to say about a field it does not have
    p, _ = aggregate(observation(units=UNITS3, weighted=3.0), caps=caps)
    assert F.STARTED_AT not in {s.field for s in p.skips}
    # not readable either: nothing to say
    fields[F.STARTED_AT] = FieldSpec(F.STARTED_AT, readable=False, writable=False)
    p, _ = aggregate(
        observation(units=UNITS3, weighted=3.0),
        have,
        caps=replace(LIST, record_fields=fields),
    )
    assert F.STARTED_AT not in {s.field for s in p.skips}


def test_a_target_without_upserts_gets_no_field_writes():
    caps = replace(LIST, write_ops=LIST.write_ops - {WriteOp.UPSERT_RECORD})
    have = list_record("t", status=Status.PLANNED)
    p, actions = aggregate(observation(units=UNITS3, weighted=3.0), have, caps=caps)
    assert actions == []
    assert (SHOW, F.STATUS, SkipReason.NOT_WRITABLE, "") in skip_list(p)


def test_a_new_entry_needs_a_status_it_can_write():
    # the target cannot represent ACTIVE: no entry is invented without a status
    statuses = tuple(
        d
        for d in LIST.record_fields[F.STATUS].values
        if d.semantic is not Status.ACTIVE
    )
    caps = list_capabilities(statuses=statuses)
    p, actions = aggregate(observation(units=UNITS3, weighted=3.0), caps=caps)
    assert actions == []
    assert (SHOW, None, SkipReason.NOT_WRITABLE, "no status to create") in skip_list(p)
    assert (
        SHOW,
        F.STATUS,
        SkipReason.NOT_WRITABLE,
        "target has no active status",
    ) in skip_list(p)
    assert p.entries == {}
    # with status not synced at all, the entry is created from the other fields
    p, [a] = aggregate(
        observation(units=UNITS3, weighted=3.0),
        caps=caps,
        policy=Policy(fields=frozenset({F.PROGRESS})),
    )
    assert set(a.after) == {F.PROGRESS}


def test_a_planned_source_never_downgrades_an_entry_on_the_target():
    have = list_record("t", status=Status.COMPLETED, progress=12)
    p, actions = aggregate(observation(planned=True), have)
    assert actions == []
    assert (
        SHOW,
        F.STATUS,
        SkipReason.REGRESSION,
        "planned on the source, completed on the target",
    ) in skip_list(p)
    # already planned there: nothing to say
    p, actions = aggregate(
        observation(planned=True), list_record("t", status=Status.PLANNED)
    )
    assert actions == []
    assert SkipReason.REGRESSION not in {s.reason for s in p.skips}
    # nothing there: it is added as planned
    _, [a] = aggregate(observation(planned=True))
    assert a.after[F.STATUS].status is Status.PLANNED


def test_held_fields_are_reported_as_rules():
    have = list_record(
        "t", status=Status.PAUSED, progress=1, updated_at=T + timedelta(days=30)
    )
    p, _ = aggregate(observation(units=UNITS3, weighted=3.0), have)
    # The held field is reported on the target entry, for its pair, with the why.
    assert [(s.ref, s.field, s.reason, s.detail, s.link) for s in p.skips] == [
        (
            SHOW,
            F.STATUS,
            SkipReason.RULE,
            "user-set paused kept: no play after the entry changed",
            p.pair_id("s", SHOW),
        )
    ]


def test_a_rating_goes_to_its_own_kind_where_the_target_keeps_one():
    caps = replace(
        LIST,
        record_kinds=(
            Descriptor("", RecordKind.PROGRESS),
            Descriptor("ratings", RecordKind.RATINGS),
        ),
    )
    o = observation(
        units=UNITS3, weighted=3.0, explicit={F.RATING: Rating(80, (0, 100, 1))}
    )
    _, actions = aggregate(o, caps=caps)
    rated = [a for a in actions if a.kind == "ratings"]
    [r] = rated
    assert r.after == {F.RATING: Rating(80, (0, 100, 1))} and r.created
    assert r.reason.startswith("rating: ")
    main = [a for a in actions if a.kind == ""]
    assert all(F.RATING not in a.after for a in main)
    # on the main record where the target has no ratings kind
    _, [a] = aggregate(o)
    assert a.after[F.RATING] == Rating(80, (0, 100, 1))


def test_an_imprecise_date_is_skipped_as_imprecise_with_the_reason():
    from anibridge.provider.precision import partial_date

    o = observation(
        units=UNITS3, weighted=3.0, explicit={F.STARTED_AT: partial_date(2020, 3)}
    )
    p, _ = aggregate(o)
    [s] = [s for s in p.skips if s.field is F.STARTED_AT]
    assert s.reason is SkipReason.IMPRECISE
    assert s.detail.startswith("only the month is known (2020-03)")


def test_a_translation_note_is_added_to_the_reason():
    caps = list_capabilities(notes_max_length=3)
    o = observation(units=UNITS3, weighted=3.0, explicit={F.NOTES: "abcdef"})
    _, [a] = aggregate(o, caps=caps)
    assert a.after[F.NOTES] == "abc"
    assert "notes: " in a.reason
    assert "; notes truncated from 6 to 3 characters" in a.reason


def test_plays_all_removed_on_the_source_are_held_not_zeroed():
    have = list_record("t", status=Status.ACTIVE, progress=5)
    p = planner(LIST)
    link = p.pair_id("s", SHOW)
    p.in_sync_before = frozenset({link})
    p.plan_aggregate(observation(), Entry("t", records=[have]))
    assert p.one_way_actions() == []
    assert skip_list(p) == [
        (
            SHOW,
            F.PROGRESS,
            SkipReason.DELETES_OFF,
            "nothing left on the source (plays removed); deletes not allowed",
        )
    ]
    assert p.held == {link}
    p = planner(LIST, policy=Policy(allow_deletes=True))
    p.in_sync_before = frozenset({link})
    p.plan_aggregate(observation(), Entry("t", records=[have]))
    assert skip_list(p)[0][2:] == (
        SkipReason.REGRESSION,
        "nothing left on the source (plays removed); progress kept",
    )
    # never in sync, or still something on the source, or nothing on the target
    for o, rec, in_sync in (
        (observation(), have, frozenset()),
        (observation(units=UNITS3, weighted=3.0), have, frozenset({link})),
        (observation(planned=True), have, frozenset({link})),
        (observation(explicit={F.NOTES: "x"}), have, frozenset({link})),
        (observation(weighted=1.0), have, frozenset({link})),
        (
            observation(),
            list_record("t", status=Status.ACTIVE, progress=0),
            frozenset({link}),
        ),
    ):
        p = planner(LIST)
        p.in_sync_before = in_sync
        p.plan_aggregate(o, Entry("t", records=[rec]))
        assert not p.held


def test_a_collected_source_entry_reaches_the_collection_kind():
    caps = replace(
        LIST,
        record_kinds=(
            Descriptor("", RecordKind.PROGRESS),
            Descriptor("owned", RecordKind.COLLECTION),
        ),
    )
    _, actions = aggregate(
        observation(units=UNITS3, weighted=3.0, collected=True), caps=caps
    )
    assert "owned" in {a.kind for a in actions}


# what the planner reads from the target's capabilities


def test_plays_go_only_to_histories_whose_records_do_not_say_it():
    from anibridge.provider.base import EventKind

    hist = history_capabilities()
    assert planner(hist).play_kind == "watch"
    assert planner(hist, policy=Policy(sync_events=False)).play_kind is None
    no_append = replace(hist, write_ops=hist.write_ops - {WriteOp.APPEND_EVENT})
    assert planner(no_append).play_kind is None
    # a server's watched flag already says an episode was consumed
    assert planner(server_caps()).play_kind is None
    # without a writable status the records say nothing: plays are appended
    assert planner(server_caps(status=False)).play_kind == "play"
    # a list's progress says it, where writable
    listy = replace(
        LIST,
        event_kinds=(Descriptor("scrobble", EventKind.PLAY),),
        write_ops=LIST.write_ops | {WriteOp.APPEND_EVENT},
    )
    assert planner(listy).play_kind is None
    fields = dict(listy.record_fields)
    fields[F.PROGRESS] = FieldSpec(F.PROGRESS, writable=False)
    assert planner(replace(listy, record_fields=fields)).play_kind == "scrobble"
    no_upsert = replace(listy, write_ops=listy.write_ops - {WriteOp.UPSERT_RECORD})
    assert planner(no_upsert).play_kind == "scrobble"
    # check-ins count as plays already there, but plays are appended as plays
    mixed = replace(
        hist,
        event_kinds=(
            Descriptor("checkin", EventKind.CHECKIN),
            Descriptor("watch", EventKind.PLAY),
            Descriptor("rate", None),
        ),
    )
    p = planner(mixed)
    assert p.play_kind == "watch"
    assert p.play_kinds == frozenset({"checkin", "watch"})


def test_the_target_shape_comes_from_its_capabilities():
    assert planner(server_caps()).granular
    assert not planner(LIST).granular
    no_axes = replace(server_caps(), coordinate_axes={})
    assert not planner(no_axes).granular
    assert planner(LIST).upsert
    assert not planner(
        replace(LIST, write_ops=LIST.write_ops - {WriteOp.UPSERT_RECORD})
    ).upsert


def test_rewatches_show_as_repeating_only_where_the_target_can_write_it():
    assert planner(LIST).repeating
    statuses = tuple(
        d
        for d in LIST.record_fields[F.STATUS].values
        if d.semantic is not Status.REPEATING
    )
    assert not planner(list_capabilities(statuses=statuses)).repeating
    fields = dict(LIST.record_fields)
    spec = fields[F.STATUS]
    fields[F.STATUS] = FieldSpec(F.STATUS, writable=False, values=spec.values)
    assert not planner(replace(LIST, record_fields=fields)).repeating
    del fields[F.STATUS]
    assert not planner(replace(LIST, record_fields=fields)).repeating


def test_pair_ids_are_per_source_and_target_anchor():
    from anibridge.bridge.stores import link_id

    p = planner(LIST, policy=Policy(profile="me"))
    anchor = p.pair_id("s", SHOW)
    assert anchor == link_id("me", "src", "s", "", "dst", "t")
    assert p.pair_id("s", SHOW) == anchor
    # a part of the target is its own pair, never the anchor's cached id
    part = p.pair_id("s", ep(1, 1))
    assert part == link_id("me", "src", "s", "", "dst", "t/season=1/episode=1")
    assert p.pair_id("s", SHOW) == anchor
    assert p.pair_id("s2", SHOW) == link_id("me", "src", "s2", "", "dst", "t")


def test_the_sources_own_value_travels_with_the_write():
    src = list_record("s", status=Status.ACTIVE, notes="mine")
    o = observation(units=UNITS3, weighted=3.0, explicit={F.NOTES: "mine"},
                    source_records=[src])  # fmt: skip
    _, [a] = aggregate(o)
    assert a.source_values["notes"] == "mine"
    assert a.source_values["status"] == {"native": "CURRENT", "status": "active"}
    assert a.source_values["progress"] is None  # the source record has none


def test_an_entry_action_clears_fields_whose_candidate_is_none():
    p = planner(LIST)
    have = replace(list_record("t", notes="x", status=Status.ACTIVE), key="k")
    ep_ = EntryPlan(SHOW, "", have, "s", ("edge",))
    a = p.entry_action(
        ep_,
        [
            Candidate(F.NOTES, "x", None, "cleared on the other side", "x"),
            Candidate(F.REPEAT_COUNT, None, 2, "rewatched"),
        ],
    )
    assert (a.before, a.after, a.clear) == (
        {F.NOTES: "x"},
        {F.REPEAT_COUNT: 2},
        frozenset({F.NOTES}),
    )
    assert a.reason == "notes: cleared on the other side; repeat_count: rewatched"
    assert a.source_values == {"notes": "x", "repeat_count": None}
    assert (a.provenance, a.created, a.record_key) == (("edge",), False, "k")


def test_sources_without_a_target_are_reported():
    p = planner(LIST)
    p.identity = Identity(unresolved={"k1": "no mapping", "k2": "ambiguous"})
    p.run()
    assert skip_list(p) == [
        (Ref("k1"), None, SkipReason.NO_TARGET, "no mapping"),
        (Ref("k2"), None, SkipReason.NO_TARGET, "ambiguous"),
    ]


def test_a_structure_without_parts_gives_no_total():
    from anibridge.provider.base import FacetName, Node, Structure

    node = Node(SHOW, "show", facets={FacetName.STRUCTURE: Structure()})
    assert _total(Entry("t", node=node), None) is None


# -- through plan_direction: real providers, collected and identified ---------------

H = timedelta(hours=1)


async def one_way(
    source,
    target,
    tmp_path,
    mappings=None,
    *,
    target_refs=None,
    policy=None,
    pins=(),
    sent=None,
    baselines=None,
):
    """The one-way plan from `source` to `target` (named "src" and "tgt")."""
    index = custom_index(tmp_path, mappings) if mappings else None
    a = await collect(source, "src")
    b = await collect(target, "tgt", refs=target_refs)
    routes = await identify(a, b, index, provider=target)
    return plan_direction(a, b, routes, policy or Policy(), pins=pins, sent=sent,
                          baselines=baselines)  # fmt: skip


def pair(source_key, target_key, profile="default"):
    """The pair id a plan gives the (source anchor, target anchor) entry pair."""
    return link_id(profile, "src", source_key, "", "tgt", target_key)


def skipped(plan):
    return [(s.ref, s.field, s.reason, s.detail, s.link) for s in plan.skipped]


def seen_on(key, season, n, at=None):
    """A media-server episode record: watched, with its last play time if known."""
    if at is not None:
        return watched_record(episode_ref(key, season, n), last_viewed=at)
    watched = State("watched", Status.COMPLETED)
    return Record(episode_ref(key, season, n), values={F.STATUS: watched})


async def test_plays_reach_a_history_on_its_seasons_with_their_pair_and_route(
    tmp_path,
):
    # An unscoped target id: source episodes 13-14 are the target's absolute
    # positions, season 2's episodes 1-2 (placed through the target's structure).
    mappings = 'tmdb_show:900:s1:\n  tvdb_show:500:\n    "1-24": "1-24"\n'
    records = [seen_on("s", 1, 1, T), seen_on("s", 1, 2), seen_on("s", 1, 3, T + 3 * H)]
    plays = [
        play(episode_ref("s", 1, 1), T + timedelta(minutes=10)),
        play(episode_ref("s", 1, 13), T + H),
        play(episode_ref("s", 1, 14), T + 2 * H),
    ]
    src = memory_provider(
        library_capabilities(),
        nodes=library_show("s", "Show", {1: 24}, ids=["tmdb_show:900"]),
        records=records,
        events=plays,
    )
    dst = history([("h", "Show", {1: 12, 2: 12}, ["tvdb_show:500"])])
    already = (T + H).isoformat()
    plan = await one_way(
        src, dst, tmp_path, mappings, sent=lambda _p, _r, _k, at: at == already
    )
    link = pair("s", "h")
    route = ("tmdb_show:900:s1 -> tvdb_show:500 {1-24: 1-24}",)
    assert [(a.ref, a.at, a.reason) for a in plan.actions] == [
        # episode 1 has a play of its own: that play, not its record's time
        (episode_ref("h", 1, 1), T + timedelta(minutes=10), "source play"),
        # episode 13's play was sent by an earlier run; 14's was not
        (episode_ref("h", 2, 2), T + 2 * H, "source play"),
        # episode 3 is only known as watched: its last play time is appended
        (episode_ref("h", 1, 3), T + 3 * H, "consumed on the source"),
    ]
    every = {(a.op, a.kind, a.link, a.provenance, a.source) for a in plan.actions}
    assert every == {(WriteOp.APPEND_EVENT, "watch", link, route, "src")}
    assert skipped(plan) == [
        (Ref("h"), F.STATUS, SkipReason.NOT_WRITABLE, "", link),  # no watched flag
        (
            episode_ref("h", 1, 2),
            None,
            SkipReason.NO_TARGET,
            "no play time known",
            link,
        ),
        (episode_ref("h", 2, 1), None, SkipReason.UNCHANGED, "play already sent", link),
    ]


async def test_a_history_without_its_show_read_gets_no_guessed_absolute_episode(
    tmp_path,
):
    # Season 1 reaches the history through its unscoped id, season 2 through its
    # season 3; a targeted read left the show out. Season 3's episodes are placed
    # by their season; season 1's (absolute 13-15) cannot be, so nothing is
    # appended at a made-up "episode=13" (a seasoned history has no such address).
    mappings = (
        'tmdb_show:900:s1:\n  tvdb_show:500:\n    "1-24": "1-24"\n'
        'tmdb_show:900:s2:\n  tvdb_show:500:s3:\n    "1-12": "1-12"\n'
    )
    plays = [
        play(episode_ref("s", 1, 14), T),
        play(episode_ref("s", 1, 13), T + H),
        play(episode_ref("s", 2, 1), T + 2 * H),
    ]
    src = memory_provider(
        library_capabilities(),
        nodes=library_show("s", "Show", {1: 24, 2: 12}, ids=["tmdb_show:900"]),
        records=[
            seen_on("s", 1, 13, T + H),
            seen_on("s", 1, 15, T + 3 * H),
            seen_on("s", 2, 2, T + 4 * H),
        ],
        events=plays,
    )
    dst = history(
        [
            ("h", "Show", {1: 12, 2: 12, 3: 12}, ["tvdb_show:500"]),
            ("g", "Other", {1: 2}, ["tvdb_show:501"]),
        ]
    )
    plan = await one_way(src, dst, tmp_path, mappings, target_refs=[Ref("g")])
    link = pair("s", "h")
    assert [(a.ref, a.at, a.link) for a in plan.actions] == [
        (episode_ref("h", 3, 1), T + 2 * H, link),
        (episode_ref("h", 3, 2), T + 4 * H, link),
    ]
    # the plays in time order, then the episode only known as watched
    assert [s for s in skipped(plan) if s[2] is SkipReason.NO_TARGET] == [
        (Ref("h"), None, SkipReason.NO_TARGET, f"absolute episode {n}: {UNREAD}", link)
        for n in (14, 13, 15)
    ]


UNREAD = "the target's seasons were not read"


def two_routes_tracker():
    """Two tracker entries routed to one show: one by season, one by absolute place."""
    records = [
        list_record("100", status=Status.ACTIVE, progress=2, updated_at=T),
        list_record("200", status=Status.ACTIVE, progress=1, updated_at=T),
    ]
    entries = [
        ("100", "Show", 12, ["anilist:100"]),
        ("200", "Part 2", 12, ["anilist:200"]),
    ]
    return tracker(entries, records)


TWO_ROUTES = (
    'anilist:100:\n  tvdb_show:500:s1:\n    "1-12": "1-12"\n'
    'anilist:200:\n  tvdb_show:500:\n    "1-12": "13-24"\n'
)


def server(shows, records=(), caps=None):
    nodes = [
        n
        for key, seasons, ids in shows
        for n in library_show(key, key.upper(), seasons, ids=ids)
    ]
    return memory_provider(caps or server_caps(), nodes=nodes, records=records)


async def test_a_server_is_written_in_episode_order_absolute_positions_first(tmp_path):
    dst = server(
        [("t", {1: 12, 2: 12}, ["tvdb_show:500"]), ("u", {1: 2}, ["tvdb_show:501"])]
    )
    plan = await one_way(two_routes_tracker(), dst, tmp_path, TWO_ROUTES)
    routes = (
        "anilist:100 -> tvdb_show:500:s1 {1-12: 1-12}",
        "anilist:200 -> tvdb_show:500 {1-12: 13-24}",
    )
    link = pair("100", "t")  # the pair is the first source's
    got = [
        (
            a.op,
            a.ref,
            a.kind,
            a.link,
            a.provenance,
            a.source,
            a.created,
            a.before,
            set(a.after),
        )
        for a in plan.actions
    ]
    upsert = WriteOp.UPSERT_RECORD
    assert got == [
        (
            upsert,
            episode_ref("t", ref_s, ref_n),
            "",
            link,
            routes,
            "src",
            True,
            {},
            {F.STATUS},
        )
        for ref_s, ref_n in ((2, 1), (1, 1), (1, 2))
    ]
    assert all(a.after[F.STATUS].status is Status.COMPLETED for a in plan.actions)
    # A targeted read without the show: nothing is known there, every episode is new,
    # and an absolute position cannot be placed in its season (no guessed episode=13).
    plan = await one_way(
        two_routes_tracker(), dst, tmp_path, TWO_ROUTES, target_refs=[Ref("u")]
    )
    assert [a.ref for a in plan.actions] == [
        episode_ref("t", 1, 1),
        episode_ref("t", 1, 2),
    ]
    assert all(a.created and a.before == {} for a in plan.actions)
    why = "absolute episode 13: the target's seasons were not read"
    assert skipped(plan) == [(Ref("t"), None, SkipReason.NO_TARGET, why, link)]


async def test_a_server_show_listed_without_its_episodes_gets_no_absolute_episode(
    tmp_path,
):
    # The show is there but its episode list is not (no Structure): the season
    # route's episodes are addressed by season, the absolute one cannot be placed.
    from anibridge.provider.base import FacetName

    show = library_show("t", "T", {1: 12, 2: 12}, ids=["tvdb_show:500"])[0]
    facets = {k: v for k, v in show.facets.items() if k is not FacetName.STRUCTURE}
    dst = memory_provider(server_caps(), nodes=[replace(show, facets=facets)])
    plan = await one_way(two_routes_tracker(), dst, tmp_path, TWO_ROUTES)
    link = pair("100", "t")
    assert [(a.ref, a.link) for a in plan.actions] == [
        (episode_ref("t", 1, 1), link),
        (episode_ref("t", 1, 2), link),
    ]
    why = f"absolute episode 13: {UNREAD}"
    assert skipped(plan) == [(Ref("t"), None, SkipReason.NO_TARGET, why, link)]


async def test_a_server_episode_missing_there_is_skipped_and_the_next_still_written(
    tmp_path,
):
    # Season 2 is not on the target (its episode 1 either); season 3 is.
    mappings = (
        'anilist:200:\n  tvdb_show:500:s2:\n    "1-12": "1-12"\n'
        'anilist:300:\n  tvdb_show:500:s3:\n    "1-12": "1-12"\n'
    )
    src = tracker(
        [("200", "S2", 12, ["anilist:200"]), ("300", "S3", 12, ["anilist:300"])],
        [
            list_record(k, status=Status.ACTIVE, progress=1, updated_at=T)
            for k in ("200", "300")
        ],
    )
    dst = server([("t", {1: 10, 3: 5}, ["tvdb_show:500"])])
    plan = await one_way(src, dst, tmp_path, mappings)
    link = pair("200", "t")
    assert [(a.ref, a.link) for a in plan.actions] == [(episode_ref("t", 3, 1), link)]
    assert skipped(plan) == [
        (
            episode_ref("t", 2, 1),
            None,
            SkipReason.NO_TARGET,
            "episode not on target",
            link,
        ),
    ]


async def test_a_server_that_cannot_or_may_not_take_the_status_says_so_per_pair(
    tmp_path,
):
    src = two_routes_tracker()
    read_only = server(
        [("t", {1: 12, 2: 12}, ["tvdb_show:500"])], caps=library_capabilities()
    )
    plan = await one_way(src, read_only, tmp_path, TWO_ROUTES)
    link = pair("100", "t")
    assert plan.actions == ()
    assert skipped(plan) == [(Ref("t"), F.STATUS, SkipReason.NOT_WRITABLE, "", link)]
    pinned = [Pin("default", "tgt", "t", frozenset({"status"}))]
    dst = server([("t", {1: 12, 2: 12}, ["tvdb_show:500"])])
    plan = await one_way(src, dst, tmp_path, TWO_ROUTES, pins=pinned)
    assert plan.actions == ()
    assert skipped(plan) == [(Ref("t"), F.STATUS, SkipReason.PINNED, "", link)]


def field_spec(caps, f, *constraints, writable=True):
    """`caps` with field `f` given these constraints."""
    fields = dict(caps.record_fields)
    fields[f] = FieldSpec(f, writable=writable, constraints=constraints)
    return replace(caps, record_fields=fields)


async def test_a_server_gets_a_repeat_count_it_lacks_or_can_hold_never_the_same(
    tmp_path,
):
    src = memory_provider(
        library_capabilities(),
        nodes=library_show("s", "S", {1: 3}, ids=["tvdb_show:500"]),
        records=[
            watched_record(episode_ref("s", 1, n), last_viewed=T, repeat_count=r)
            for n, r in ((1, 1), (2, 2), (3, 5))
        ],
    )
    # a server that counts at most 3 rewatches, and has episode 2 as the source does
    caps = field_spec(
        server_caps(), F.REPEAT_COUNT, NumericConstraint(minimum=0, maximum=3, step=1)
    )
    have = watched_record(episode_ref("t", 1, 2), last_viewed=T, repeat_count=2)
    dst = server([("t", {1: 3}, ["tvdb_show:500"])], [have], caps=caps)
    plan = await one_way(src, dst, tmp_path)
    assert [(a.ref, a.before, a.after.get(F.REPEAT_COUNT)) for a in plan.actions] == [
        (episode_ref("t", 1, 1), {}, 1),  # two plays: one rewatch
        (episode_ref("t", 1, 3), {}, 3),  # six plays, as many as it can hold
    ]


async def test_a_day_only_play_date_is_the_users_day_on_the_server(tmp_path):
    # The source knows only the day it was watched (midnight UTC stands for it).
    day_only = field_spec(
        library_capabilities(),
        F.LAST_ACTIVITY_AT,
        TemporalConstraint(TemporalPrecision.DATE),
        writable=False,
    )
    src = memory_provider(
        day_only,
        nodes=library_show("s", "S", {1: 1}, ids=["tvdb_show:500"]),
        records=[watched_record(episode_ref("s", 1, 1), last_viewed=T)],
    )
    tokyo = Policy(timezone="Asia/Tokyo")
    instant = field_spec(
        server_caps(),
        F.LAST_ACTIVITY_AT,
        TemporalConstraint(TemporalPrecision.DATETIME),
    )
    dst = server([("t", {1: 1}, ["tvdb_show:500"])], caps=instant)
    [a] = (await one_way(src, dst, tmp_path, policy=tokyo)).actions
    # an instant target gets the start of that day where the user lives
    assert a.after[F.LAST_ACTIVITY_AT] == datetime(2024, 2, 29, 15, tzinfo=UTC)
    days = field_spec(
        server_caps(), F.LAST_ACTIVITY_AT, TemporalConstraint(TemporalPrecision.DATE)
    )
    dst = server([("t", {1: 1}, ["tvdb_show:500"])], caps=days)
    [a] = (await one_way(src, dst, tmp_path, policy=tokyo)).actions
    # a day-only target gets the same day
    assert a.after[F.LAST_ACTIVITY_AT] == T


RATED = 'anilist:100:\n  mal:900:\n    "1-12": "1-12"\n'


def rated_tracker():
    record = list_record(
        "100", status=Status.COMPLETED, progress=12, rating=80, updated_at=T
    )
    return tracker([("100", "Show", 12, ["anilist:100"])], [record])


def ratings_list(*more):
    """A list keeping ratings as their own record kind; the show completed there."""
    caps = replace(
        list_capabilities(authorities=("mal",)),
        record_kinds=(
            Descriptor("", RecordKind.PROGRESS),
            Descriptor("ratings", RecordKind.RATINGS),
        ),
    )
    done = list_record("900", status=Status.COMPLETED, progress=12, updated_at=T)
    node = list_entry("900", "Show", episodes=12, ids=["mal:900"])
    return memory_provider(caps, nodes=[node], records=[done, *more])


async def test_a_rating_on_its_own_kind_carries_its_pair_and_route(tmp_path):
    plan = await one_way(rated_tracker(), ratings_list(), tmp_path, RATED)
    link = pair("100", "900")
    got = [
        (
            a.op,
            a.ref,
            a.kind,
            a.before,
            a.after,
            a.reason,
            a.provenance,
            a.source,
            a.link,
            a.created,
        )
        for a in plan.actions
    ]
    assert got == [
        (
            WriteOp.UPSERT_RECORD,
            Ref("900"),
            "ratings",
            {},
            {F.RATING: Rating(80, (0, 100, 1))},
            "rating: source rating",
            ("anilist:100 -> mal:900 {1-12: 1-12}",),
            "src",
            link,
            True,
        ),
    ]
    # A rule on the main record's status holds it; so does a pin, for this pair.
    once_done = Rule(
        "keep ratings once completed",
        frozenset({F.RATING}),
        when_target_status=frozenset({Status.COMPLETED}),
    )
    plan = await one_way(
        rated_tracker(),
        ratings_list(),
        tmp_path,
        RATED,
        policy=Policy(rules=(once_done,)),
    )
    assert plan.actions == ()
    assert (Ref("900"), F.RATING, SkipReason.RULE, once_done.name, link) in skipped(
        plan
    )
    pinned = [Pin("default", "tgt", "900", frozenset({"rating"}))]
    plan = await one_way(rated_tracker(), ratings_list(), tmp_path, RATED, pins=pinned)
    assert plan.actions == ()
    assert (Ref("900"), F.RATING, SkipReason.PINNED, "", link) in skipped(plan)


async def test_a_rating_on_its_own_kind_replaces_the_one_there_or_leaves_it(tmp_path):
    def with_rating(score):
        return ratings_list(list_record("900", rating=score, kind="ratings"))

    plan = await one_way(rated_tracker(), with_rating(60), tmp_path, RATED)
    assert [(a.kind, a.before, a.after, a.created) for a in plan.actions] == [
        (
            "ratings",
            {F.RATING: Rating(60, (0, 100, 1))},
            {F.RATING: Rating(80, (0, 100, 1))},
            False,
        )
    ]
    # the same rating there already: nothing to write
    plan = await one_way(rated_tracker(), with_rating(80), tmp_path, RATED)
    assert plan.actions == ()


async def test_a_server_rates_the_show_for_its_pair_unless_pinned(tmp_path):
    mappings = 'anilist:100:\n  tvdb_show:500:s1:\n    "1-12": "1-12"\n'
    ratings_only = Policy(fields=frozenset({F.RATING}))
    dst = server([("t", {1: 12}, ["tvdb_show:500"])])
    plan = await one_way(rated_tracker(), dst, tmp_path, mappings, policy=ratings_only)
    link = pair("100", "t")
    got = [(a.ref, a.kind, a.after, a.link, a.source) for a in plan.actions]
    assert got == [(Ref("t"), "", {F.RATING: Rating(8, (0, 10, 1))}, link, "src")]
    # the show rated so there already: nothing; rated otherwise: replaced
    for score, want in ((8, []), (6, [({F.RATING: Rating(6, (0, 10, 1))}, False)])):
        rated = Record(Ref("t"), values={F.RATING: Rating(score, (0, 10, 1))})
        have = server([("t", {1: 12}, ["tvdb_show:500"])], [rated])
        plan = await one_way(
            rated_tracker(), have, tmp_path, mappings, policy=ratings_only
        )
        assert [(a.before, a.created) for a in plan.actions] == want
    pinned = [Pin("default", "tgt", "t", frozenset({"rating"}))]
    plan = await one_way(
        rated_tracker(), dst, tmp_path, mappings, policy=ratings_only, pins=pinned
    )
    assert plan.actions == ()
    assert skipped(plan) == [(Ref("t"), F.RATING, SkipReason.PINNED, "", link)]


async def test_a_server_episode_it_has_is_updated_under_its_key_and_revision(
    tmp_path,
):
    src = memory_provider(
        library_capabilities(),
        nodes=library_show("s", "S", {1: 2}, ids=["tvdb_show:500"]),
        records=[
            watched_record(episode_ref("s", 1, n), last_viewed=T, repeat_count=1)
            for n in (1, 2)
        ],
    )
    seen_once = watched_record(episode_ref("t", 1, 1), last_viewed=T, repeat_count=0)
    have = replace(seen_once, key="k1", revision="r1")
    plan = await one_way(src, server([("t", {1: 2}, ["tvdb_show:500"])], [have]),
                         tmp_path)  # fmt: skip
    got = [(a.provider, a.op, a.ref, a.kind, a.created, a.record_key, a.revision,
            a.before, a.after.get(F.REPEAT_COUNT)) for a in plan.actions]  # fmt: skip
    upsert = WriteOp.UPSERT_RECORD
    assert got == [
        (
            "tgt", upsert, episode_ref("t", 1, 1), "", False, "k1", "r1",
            {F.REPEAT_COUNT: 0}, 1,
        ),
        ("tgt", upsert, episode_ref("t", 1, 2), "", True, None, None, {}, 1),
    ]  # fmt: skip


async def test_a_server_keeping_watched_episodes_as_a_named_kind_is_read_and_written_so(
    tmp_path,
):
    src = memory_provider(
        library_capabilities(),
        nodes=library_show("s", "S", {1: 2}, ids=["tvdb_show:500"]),
        records=[watched_record(episode_ref("s", 1, n), last_viewed=T) for n in (1, 2)],
    )
    views = replace(
        server_caps(), record_kinds=(Descriptor("views", RecordKind.PROGRESS),)
    )
    have = replace(watched_record(episode_ref("t", 1, 1), last_viewed=T), kind="views")
    dst = server([("t", {1: 2}, ["tvdb_show:500"])], [have], caps=views)
    plan = await one_way(src, dst, tmp_path)
    # episode 1 is watched there already (a "views" record); episode 2 is added as one
    assert [(a.ref, a.kind, a.created) for a in plan.actions] == [
        (episode_ref("t", 1, 2), "views", True)
    ]


async def test_every_pair_in_sync_gets_its_entry_baseline_after_a_new_one(tmp_path):
    # Three titles: the first is new on the target (no baseline: it is only being
    # created), the other two are there already, after it.
    keys = (("100", "900"), ("200", "901"), ("300", "902"))
    mappings = "".join(
        f'anilist:{s}:\n  mal:{t}:\n    "1-12": "1-12"\n' for s, t in keys
    )
    src = tracker(
        [(s, s, 12, [f"anilist:{s}"]) for s, _ in keys],
        [list_record(s, status=Status.ACTIVE, progress=3, updated_at=T)
         for s, _ in keys],
    )  # fmt: skip
    dst = memory_provider(
        list_capabilities(authorities=("mal",)),
        nodes=[list_entry(t, t, episodes=12, ids=[f"mal:{t}"]) for _, t in keys],
        records=[list_record(t, status=Status.ACTIVE, progress=1, updated_at=T)
                 for t in ("901", "902")],
    )  # fmt: skip
    plan = await one_way(src, dst, tmp_path, mappings)
    assert [(a.ref, a.created) for a in plan.actions] == [
        (Ref("900"), True),
        (Ref("901"), False),
        (Ref("902"), False),
    ]
    assert plan.in_sync == tuple(
        Baseline("default", pair(s, t), ENTRY, s, t) for s, t in keys[1:]
    )


LISTED = 'anilist:100:\n  mal:900:\n    "1-12": "1-12"\n'


def mal_list(records, caps=None):
    caps = caps or list_capabilities(authorities=("mal",))
    node = list_entry("900", "A", episodes=12, ids=["mal:900"])
    return memory_provider(caps, nodes=[node], records=records)


def watching(progress=12):
    record = list_record("100", status=Status.ACTIVE, progress=progress, updated_at=T)
    return tracker([("100", "A", 12, ["anilist:100"])], [record])


async def test_a_list_keeping_its_entries_as_a_named_kind_is_read_and_written_so(
    tmp_path,
):
    named = replace(
        list_capabilities(authorities=("mal",)),
        record_kinds=(Descriptor("list", RecordKind.PROGRESS),),
    )
    have = list_record("900", status=Status.ACTIVE, progress=3, updated_at=T)
    plan = await one_way(watching(), mal_list([replace(have, kind="list")], named),
                         tmp_path, LISTED)  # fmt: skip
    # the entry it has is found under that kind and updated, not created again
    [a] = plan.actions
    assert (a.ref, a.kind, a.created) == (Ref("900"), "list", False)
    assert (a.before, a.after) == (
        {F.PROGRESS: Progress(3)},
        {F.PROGRESS: Progress(12)},
    )


async def test_the_targets_own_episode_count_decides_completion_over_its_episode_list(
    tmp_path,
):
    # Twelve episodes watched; the target lists 12 but counts 13 on the entry.
    src = memory_provider(
        library_capabilities(),
        nodes=library_show("s", "S", {1: 12}, ids=["tvdb_show:500"]),
        records=[
            watched_record(episode_ref("s", 1, n), last_viewed=T + n * H)
            for n in range(1, 13)
        ],
    )
    mappings = 'tvdb_show:500:s1:\n  mal:900:\n    "1-12": "1-12"\n'
    have = list_record("900", status=Status.ACTIVE, progress=3, total=13, updated_at=T)
    [a] = (await one_way(src, mal_list([have]), tmp_path, mappings)).actions
    assert F.STATUS not in a.after  # one episode left: still watching
    assert a.after[F.PROGRESS] == Progress(12, 13)
    # counting only its episode list, it is complete
    have = list_record("900", status=Status.ACTIVE, progress=3, updated_at=T)
    [a] = (await one_way(src, mal_list([have]), tmp_path, mappings)).actions
    assert a.after[F.STATUS].status is Status.COMPLETED


async def test_a_one_episode_entry_is_complete_after_its_one_episode(tmp_path):
    # The target counts one episode on the entry and lists none: that count is
    # the total, so the one episode watched completes it.
    src = memory_provider(
        library_capabilities(),
        nodes=library_show("s", "S", {1: 1}, ids=["tvdb_show:500"]),
        records=[watched_record(episode_ref("s", 1, 1), last_viewed=T)],
    )
    mappings = 'tvdb_show:500:s1:\n  mal:900:\n    "1": "1"\n'
    have = list_record("900", status=Status.ACTIVE, progress=0, total=1, updated_at=T)
    node = list_entry("900", "A", ids=["mal:900"])
    dst = memory_provider(list_capabilities(authorities=("mal",)), nodes=[node],
                          records=[have])  # fmt: skip
    [a] = (await one_way(src, dst, tmp_path, mappings)).actions
    assert a.after[F.STATUS].status is Status.COMPLETED
    assert a.after[F.PROGRESS] == Progress(1, 1)


async def test_single_field_skips_name_their_field_reason_and_pair(tmp_path):
    from anibridge.provider.precision import partial_date

    record = list_record("100", status=Status.ACTIVE, progress=12, rating=70)
    started = {**record.values, F.STARTED_AT: partial_date(2020, 3)}
    src = tracker([("100", "A", 12, ["anilist:100"])],
                  [replace(record, values=started)])  # fmt: skip
    caps = field_spec(list_capabilities(authorities=("mal",)), F.RATING,
                      writable=False)  # fmt: skip
    have = list_record("900", status=Status.ACTIVE, progress=3, updated_at=T)
    plan = await one_way(src, mal_list([have], caps), tmp_path, LISTED)
    link = pair("100", "900")
    [a] = plan.actions
    assert a.after == {F.PROGRESS: Progress(12)}
    month = (
        "only the month is known (2020-03) and the target stores full dates: "
        "not padded to an invented day"
    )
    assert skipped(plan) == [
        (Ref("900"), F.STARTED_AT, SkipReason.IMPRECISE, month, link),
        (Ref("900"), F.RATING, SkipReason.NOT_WRITABLE, "", link),
    ]


async def test_a_regression_skip_says_what_would_move_back_for_its_pair(tmp_path):
    have = list_record("900", status=Status.ACTIVE, progress=8, updated_at=T)
    plan = await one_way(watching(3), mal_list([have]), tmp_path, LISTED)
    link = pair("100", "900")
    assert plan.actions == ()
    assert skipped(plan) == [
        (Ref("900"), F.PROGRESS, SkipReason.REGRESSION,
         "consumed episodes: 3 of 12: would move backwards", link),
        (Ref("900"), None, SkipReason.UNCHANGED, "", link),
    ]  # fmt: skip


async def test_rules_hold_fields_by_target_provider_and_by_the_status_kept(tmp_path):
    have = list_record("900", status=Status.ACTIVE, progress=3, updated_at=T)
    link = pair("100", "900")
    for provider, held in (("tgt", True), ("mal", False)):
        rule = Rule("no progress", frozenset({F.PROGRESS}),
                    when_provider=frozenset({provider}))  # fmt: skip
        plan = await one_way(watching(), mal_list([have]), tmp_path, LISTED,
                             policy=Policy(rules=(rule,)))  # fmt: skip
        assert [set(a.after) for a in plan.actions] == ([] if held else [{F.PROGRESS}])
        rule_skip = (Ref("900"), F.PROGRESS, SkipReason.RULE, "no progress", link)
        assert (rule_skip in skipped(plan)) is held
    # A planned source never moves a completed entry's status, so the status a
    # rule sees as wanted is the one kept there: completed.
    planned = list_record("100", status=Status.PLANNED, rating=80, updated_at=T)
    src = tracker([("100", "A", 12, ["anilist:100"])], [planned])
    done = list_record("900", status=Status.COMPLETED, progress=12, rating=60)
    keep = Rule("keep completed ratings", frozenset({F.RATING}),
                when_desired_status=frozenset({Status.COMPLETED}))  # fmt: skip
    plan = await one_way(src, mal_list([done]), tmp_path, LISTED,
                         policy=Policy(rules=(keep,)))  # fmt: skip
    assert plan.actions == ()
    assert (Ref("900"), F.RATING, SkipReason.RULE, keep.name, link) in skipped(plan)


async def test_a_target_owning_its_progress_total_gets_its_episode_count(tmp_path):
    from anibridge.provider.base import ProgressConstraint

    caps = field_spec(list_capabilities(authorities=("mal",)), F.PROGRESS,
                      ProgressConstraint())  # fmt: skip
    [a] = (await one_way(watching(3), mal_list([], caps), tmp_path, LISTED)).actions
    assert a.after[F.PROGRESS] == Progress(3, 12, "episode")


async def test_a_source_without_list_records_sends_no_source_values(tmp_path):
    # A media server's consumption is per episode: there is no source list value
    # for a field, so each travels as None (a two-way baseline compares it so).
    src = memory_provider(
        library_capabilities(),
        nodes=library_show("s", "S", {1: 12}, ids=["tvdb_show:500"]),
        records=[watched_record(episode_ref("s", 1, 1), last_viewed=T)],
    )
    mappings = 'tvdb_show:500:s1:\n  mal:900:\n    "1-12": "1-12"\n'
    [a] = (await one_way(src, mal_list([]), tmp_path, mappings)).actions
    assert a.source_values == {
        "status": None,
        "progress": None,
        "started_at": None,
        ENTRY: ["s", "900"],
    }


def in_sync(source_key, target_key):
    """Stored baselines saying the pair was in sync on an earlier run."""
    link = pair(source_key, target_key)
    return {(link, ENTRY): Baseline("default", link, ENTRY, source_key, target_key)}


async def test_a_pair_in_sync_whose_target_entry_is_gone_is_written_again(tmp_path):
    plan = await one_way(watching(3), mal_list([]), tmp_path, LISTED,
                         baselines=in_sync("100", "900"))  # fmt: skip
    [a] = plan.actions
    assert (a.ref, a.created, a.link) == (Ref("900"), True, pair("100", "900"))
    assert a.after[F.PROGRESS] == Progress(3)


async def test_plays_all_removed_on_a_server_hold_the_list_entry_for_its_pair(
    tmp_path,
):
    # The show is still on the server, every play of it removed; the pair was in
    # sync, so lowering the list to nothing would be a deletion: held, and said.
    src = memory_provider(
        library_capabilities(),
        nodes=library_show("s", "S", {1: 12}, ids=["tvdb_show:500"]),
    )
    mappings = 'tvdb_show:500:s1:\n  mal:900:\n    "1-12": "1-12"\n'
    have = list_record("900", status=Status.ACTIVE, progress=5, updated_at=T)
    link = pair("s", "900")
    for allow, reason, why in (
        (False, SkipReason.DELETES_OFF, "deletes not allowed"),
        (True, SkipReason.REGRESSION, "progress kept"),
    ):
        plan = await one_way(src, mal_list([have]), tmp_path, mappings,
                             baselines=in_sync("s", "900"),
                             policy=Policy(allow_deletes=allow))  # fmt: skip
        assert plan.actions == ()
        detail = f"nothing left on the source (plays removed); {why}"
        assert skipped(plan) == [(Ref("900"), F.PROGRESS, reason, detail, link)]


async def test_every_pair_gone_on_the_source_is_deleted_or_held_for_its_pair(
    tmp_path,
):
    # A list keeping its entries as a named kind; four pairs were in sync: 100-900
    # is still on the source, 102-902 is gone on both sides, 101-901 and 103-903
    # only on the source. A field baseline of the live pair comes first.
    named = replace(
        list_capabilities(authorities=("mal",)),
        record_kinds=(Descriptor("list", RecordKind.PROGRESS),),
    )
    kept = {k: list_record(k, status=Status.ACTIVE, progress=3, kind="list")
            for k in ("900", "901", "903")}  # fmt: skip

    def target(caps=named):
        nodes = [list_entry(k, k, episodes=12, ids=[f"mal:{k}"]) for k in kept]
        return memory_provider(caps, nodes=nodes, records=list(kept.values()))

    live = pair("100", "900")
    baselines = {(live, "status"): Baseline("default", live, "status", None, None)}
    # a malformed stored pair (not two keys) is passed over, not a stop
    baselines[("odd", ENTRY)] = Baseline("default", "odd", ENTRY, 7, "901")
    for skey, tkey in (("102", "902"), ("101", "901"), ("103", "903"), ("100", "900")):
        baselines |= in_sync(skey, tkey)
    gone = [("901", pair("101", "901")), ("903", pair("103", "903"))]
    deletes = Policy(allow_deletes=True)
    plan = await one_way(watching(3), target(), tmp_path, LISTED,
                         baselines=baselines, policy=deletes)  # fmt: skip
    assert [(a.op, a.ref, a.kind, a.link, a.before) for a in plan.actions] == [
        (WriteOp.DELETE_RECORD, Ref(k), "list", link, dict(kept[k].values))
        for k, link in gone
    ]
    unchanged = (Ref("900"), None, SkipReason.UNCHANGED, "", live)
    # deletes off; a target that cannot delete; a pin on the first one's status
    no_delete = replace(named, write_ops=named.write_ops - {WriteOp.DELETE_RECORD})
    for policy, caps, why in (
        (Policy(), named, "gone on the source; deletes off"),
        (deletes, no_delete, "cannot delete records"),
    ):
        plan = await one_way(watching(3), target(caps), tmp_path, LISTED,
                             baselines=baselines, policy=policy)  # fmt: skip
        assert plan.actions == ()
        reason = SkipReason.REGRESSION if caps is named else SkipReason.NOT_WRITABLE
        assert skipped(plan) == [
            unchanged,
            *[(Ref(k), None, reason, why, link) for k, link in gone],
        ]
    pin = Pin("default", "tgt", "901", frozenset({"status"}))
    plan = await one_way(watching(3), target(), tmp_path, LISTED,
                         baselines=baselines, policy=deletes, pins=[pin])  # fmt: skip
    assert [a.ref for a in plan.actions] == [Ref("903")]
    assert skipped(plan) == [
        unchanged,
        (Ref("901"), F.STATUS, SkipReason.PINNED, "delete blocked", gone[0][1]),
    ]


async def test_a_target_entry_without_a_status_gets_one(tmp_path):
    have = list_record("900", progress=3, updated_at=T)
    assert F.STATUS not in have.values
    [a] = (await one_way(watching(), mal_list([have]), tmp_path, LISTED)).actions
    assert a.before == {F.PROGRESS: Progress(3)}
    assert a.after[F.STATUS].status is Status.ACTIVE
    assert a.after[F.PROGRESS] == Progress(12)


async def test_a_source_entry_without_a_target_is_reported_outside_any_pair(tmp_path):
    src = tracker(
        [("100", "A", 12, ["anilist:100"]), ("101", "B", 12, ["anilist:101"])],
        [list_record(k, status=Status.ACTIVE, progress=1, updated_at=T)
         for k in ("100", "101")],
    )  # fmt: skip
    plan = await one_way(src, mal_list([]), tmp_path, LISTED)
    assert [a.link for a in plan.actions] == [pair("100", "900")]
    assert skipped(plan) == [
        (Ref("101"), None, SkipReason.NO_TARGET, "no mapping to mal", "")
    ]


WATCHLISTED = replace(
    list_capabilities(authorities=("mal",)),
    record_kinds=(
        Descriptor("", RecordKind.PROGRESS),
        Descriptor("watchlist", RecordKind.PLANNED),
    ),
)


async def test_a_planned_source_entry_is_watchlisted_for_its_pair_once(tmp_path):
    planned = list_record("100", status=Status.PLANNED, updated_at=T)
    src = tracker([("100", "A", 12, ["anilist:100"])], [planned])
    node = list_entry("900", "A", episodes=12, ids=["mal:900"])
    plan = await one_way(src, memory_provider(WATCHLISTED, nodes=[node]), tmp_path,
                         LISTED)  # fmt: skip
    route = ("anilist:100 -> mal:900 {1-12: 1-12}",)
    link = pair("100", "900")
    assert [(a.provider, a.op, a.ref, a.kind, a.created, a.link, a.provenance,
             a.source) for a in plan.actions] == [
        ("tgt", WriteOp.UPSERT_RECORD, Ref("900"), kind, True, link, route, "src")
        for kind in ("watchlist", "")
    ]  # fmt: skip
    # already on the target's watchlist (and nothing else): not added again
    listed = Record(Ref("900"), kind="watchlist")
    dst = memory_provider(WATCHLISTED, nodes=[node], records=[listed])
    plan = await one_way(src, dst, tmp_path, LISTED)
    assert [a.kind for a in plan.actions] == [""]


async def test_a_collected_source_entry_is_collected_for_its_pair_once(tmp_path):
    owning = replace(
        list_capabilities(authorities=("mal",)),
        record_kinds=(
            Descriptor("", RecordKind.PROGRESS),
            Descriptor("owned", RecordKind.COLLECTION),
        ),
    )
    src = memory_provider(
        replace(owning, external_authorities=frozenset({"anilist"})),
        nodes=[list_entry("100", "A", episodes=12, ids=["anilist:100"])],
        records=[
            list_record("100", status=Status.ACTIVE, progress=3, updated_at=T),
            Record(Ref("100"), kind="owned"),
        ],
    )
    node = list_entry("900", "A", episodes=12, ids=["mal:900"])
    have = list_record("900", status=Status.ACTIVE, progress=3, updated_at=T)
    plan = await one_way(src, memory_provider(owning, nodes=[node], records=[have]),
                         tmp_path, LISTED)  # fmt: skip
    route = ("anilist:100 -> mal:900 {1-12: 1-12}",)
    assert [(a.provider, a.op, a.ref, a.kind, a.created, a.reason, a.link,
             a.provenance, a.source) for a in plan.actions] == [
        ("tgt", WriteOp.UPSERT_RECORD, Ref("900"), "owned", True,
         "in the source collection", pair("100", "900"), route, "src"),
    ]  # fmt: skip
    # already in the target's collection: nothing
    owned = Record(Ref("900"), kind="owned")
    dst = memory_provider(owning, nodes=[node], records=[have, owned])
    assert (await one_way(src, dst, tmp_path, LISTED)).actions == ()


async def test_a_planned_source_leaves_a_completed_entry_alone_and_says_why(tmp_path):
    planned = list_record("100", status=Status.PLANNED, updated_at=T)
    src = tracker([("100", "A", 12, ["anilist:100"])], [planned])
    done = list_record("900", status=Status.COMPLETED, progress=12, updated_at=T)
    plan = await one_way(src, mal_list([done]), tmp_path, LISTED)
    link = pair("100", "900")
    assert plan.actions == ()
    assert skipped(plan) == [
        (Ref("900"), F.STATUS, SkipReason.REGRESSION,
         "planned on the source, completed on the target", link),
        (Ref("900"), None, SkipReason.UNCHANGED, "", link),
    ]  # fmt: skip


async def test_an_entry_with_nothing_to_compare_is_still_a_pair_in_sync(tmp_path):
    # Only notes are synced and the source has none: no candidate, yet the pair is
    # there on both sides (unchanged, and in sync for later deletions).
    have = list_record("900", status=Status.ACTIVE, progress=1, updated_at=T)
    notes_only = Policy(fields=frozenset({F.NOTES}))
    plan = await one_way(watching(3), mal_list([have]), tmp_path, LISTED,
                         policy=notes_only)  # fmt: skip
    link = pair("100", "900")
    assert plan.actions == ()
    assert skipped(plan) == [(Ref("900"), None, SkipReason.UNCHANGED, "", link)]
    assert plan.in_sync == (Baseline("default", link, ENTRY, "100", "900"),)


async def test_notes_are_planned_after_a_rating_on_its_own_kind(tmp_path):
    record = list_record("100", status=Status.COMPLETED, progress=12, rating=80,
                         notes="seen twice", updated_at=T)  # fmt: skip
    src = tracker([("100", "Show", 12, ["anilist:100"])], [record])
    plan = await one_way(src, ratings_list(), tmp_path, RATED)
    assert [(a.kind, a.after) for a in plan.actions] == [
        ("ratings", {F.RATING: Rating(80, (0, 100, 1))}),
        ("", {F.NOTES: "seen twice"}),
    ]


async def test_a_new_entry_without_a_status_it_can_write_is_skipped_for_its_pair(
    tmp_path,
):
    no_active = tuple(d for d in LIST.record_fields[F.STATUS].values
                      if d.semantic is not Status.ACTIVE)  # fmt: skip
    caps = list_capabilities(authorities=("mal",), statuses=no_active)
    plan = await one_way(watching(3), mal_list([], caps), tmp_path, LISTED)
    assert plan.actions == ()
    assert (Ref("900"), None, SkipReason.NOT_WRITABLE, "no status to create",
            pair("100", "900")) in skipped(plan)  # fmt: skip
