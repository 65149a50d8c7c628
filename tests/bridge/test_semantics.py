"""Derivation rules, each named after the upstream complaint it fixes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bridge_support import (
    T0,
    by_field,
    custom_index,
    library,
    plan_between,
    tracker,
    watched,
)

from anibridge.bridge.derive import derive
from anibridge.bridge.model import Policy, ProgressMode, SkipReason
from anibridge.bridge.observe import Observation
from anibridge.provider.base import (
    Descriptor,
    Progress,
    Rating,
    RecordField,
    RecordKind,
    Ref,
    State,
    Status,
)
from anibridge.provider.testing.memory import (
    episode_ref,
    list_capabilities,
    list_entry,
    list_record,
    memory_provider,
    watched_record,
)

S = RecordField.STATUS
P = RecordField.PROGRESS
SHOW12 = 'anilist:100:\n  tvdb_show:500:s1:\n    "1-12": "1-12"\n'


@pytest.fixture
def idx12(tmp_path):
    return custom_index(tmp_path, SHOW12)


def show12(records=()):
    return library([("s", "Show", {1: 12}, ["tvdb_show:500"])], records)


def list12(record=None, **caps):
    return tracker(
        [("100", "Show", 12, ["anilist:100"])], [record] if record else [], **caps
    )


def skipped(plan, field, reason):
    return [s for s in plan.skipped if s.field is field and s.reason is reason]


# -- progress ------------------------------------------------------------------


async def test_issue_249_index_mode_for_pruned_libraries(idx12):
    # Episodes 1-9 were watched and deleted; only episode 10 is left (watched).
    src = show12(watched("s", 1, [10]))
    count = by_field(await plan_between(src, list12(), index=idx12))
    index = by_field(
        await plan_between(
            src, list12(), Policy(progress_mode=ProgressMode.INDEX), index=idx12
        )
    )
    assert count[("100", P)].current == 1  # default mode: count (documented)
    assert index[("100", P)].current == 10


async def test_issue_262_offset_season_reaches_the_target_position():
    # One Piece S11 1-99 is AniList 227-325; 89 watched must read as 315 in index mode.
    src = library(
        [("op", "One Piece", {11: 99}, ["tvdb_show:81797"])],
        watched("op", 11, range(1, 90)),
    )
    dst = tracker(
        [("21", "One Piece", 1100, ["anilist:21"])],
        [list_record("21", status=Status.ACTIVE, progress=305, updated_at=T0)],
    )
    plan = await plan_between(src, dst, Policy(progress_mode=ProgressMode.INDEX))
    assert by_field(plan)[("21", P)].current == 315
    # count mode says 89, which is behind the list: never a silent regression
    plan = await plan_between(src, dst)
    assert ("21", P) not in by_field(plan)
    assert skipped(plan, P, SkipReason.REGRESSION)


async def test_count_mode_weights_by_mapping_ratio(tmp_path):
    index = custom_index(
        tmp_path, 'tvdb_show:500:s1:\n  anilist:100:\n    "1-24": "1-12|2"\n'
    )
    src = library(
        [("s", "Show", {1: 24}, ["tvdb_show:500"])], watched("s", 1, range(1, 11))
    )
    plan = await plan_between(src, list12(), index=index)
    assert by_field(plan)[("100", P)].current == 5


async def test_progress_is_capped_by_the_target_total(tmp_path):
    index = custom_index(
        tmp_path, 'anilist:100:\n  tvdb_show:500:s1:\n    "1-30": "1-30"\n'
    )
    src = library(
        [("s", "Show", {1: 30}, ["tvdb_show:500"])], watched("s", 1, range(1, 31))
    )
    plan = await plan_between(src, list12(), index=index)
    assert by_field(plan)[("100", P)].current == 12
    assert by_field(plan)[("100", S)].status is Status.COMPLETED


# -- status --------------------------------------------------------------------


async def test_issue_219_user_set_paused_is_not_overwritten_by_inference(idx12):
    target = list_record(
        "100", status=Status.PAUSED, progress=3, updated_at=T0 + timedelta(days=10)
    )
    src = show12(watched("s", 1, range(1, 6)))  # plays on day 0, before the pause
    plan = await plan_between(src, list12(target), index=idx12)
    fields = by_field(plan)
    assert ("100", S) not in fields
    assert fields[("100", P)].current == 5  # progress still syncs
    assert skipped(plan, S, SkipReason.RULE)


async def test_issue_219_a_newer_play_resumes_a_paused_entry(idx12):
    target = list_record("100", status=Status.PAUSED, progress=3, updated_at=T0)
    src = show12(watched("s", 1, range(1, 6), start=T0 + timedelta(days=1)))
    plan = await plan_between(src, list12(target), index=idx12)
    assert by_field(plan)[("100", S)].status is Status.ACTIVE


async def test_issue_122_completed_is_not_flipped_to_repeating_without_a_rewatch(idx12):
    target = list_record("100", status=Status.COMPLETED, progress=12, updated_at=T0)
    recs = watched("s", 1, range(2, 13))
    recs.append(
        watched_record(episode_ref("s", 1, 1), last_viewed=T0, in_progress=True)
    )
    recs += watched("s", 1, [1])
    plan = await plan_between(show12(recs), list12(target), index=idx12)
    assert ("100", S) not in by_field(plan)


async def test_play_counts_without_times_never_infer_repeating(idx12):
    # Episodes 1-3 were seen twice, but a view count says how often, not when:
    # the replays may all lie inside the first pass.
    target = list_record("100", status=Status.COMPLETED, progress=12, updated_at=T0)
    recs = watched("s", 1, range(1, 4), repeat=1) + watched("s", 1, range(4, 13))
    plan = await plan_between(show12(recs), list12(target), index=idx12)
    assert ("100", S) not in by_field(plan)
    assert ("100", P) not in by_field(plan)  # progress stays 12, no pass position


async def test_issue_263_repeating_falls_back_when_the_target_cannot_write_it(idx12):
    statuses = tuple(
        d
        for d in list_capabilities().record_fields[S].values
        if d.semantic is not Status.REPEATING
    )
    target = list_record(
        "100", status=Status.ACTIVE, progress=11, updated_at=T0, statuses=statuses
    )
    src = tracker(
        [("100", "Show", 12, ["anilist:100"])],
        [list_record("100", status=Status.REPEATING, progress=3, updated_at=T0)],
    )
    plan = await plan_between(src, list12(target, statuses=statuses), index=idx12)
    (action,) = plan.actions
    assert action.after[S].status is Status.COMPLETED  # not ACTIVE/CURRENT
    assert "fallback" in action.reason and "repeating" in action.reason
    # shown as completed, so at the full count (not the rewatch position 3)
    assert action.after[P].current == 12


async def test_issue_244_earlier_completed_season_is_not_reset():
    # TVDB season 2 is AniList 117197 (1-13) and 151803 (14-25).
    done = list_record("117197", status=Status.COMPLETED, progress=13, updated_at=T0)
    dst = tracker(
        [
            ("117197", "Part 1", 13, ["anilist:117197"]),
            ("151803", "Part 2", 12, ["anilist:151803"]),
        ],
        [done],
    )
    recs = watched("p", 2, range(14, 17), start=T0 + timedelta(days=30))
    recs.append(
        watched_record(
            episode_ref("p", 2, 17),
            last_viewed=T0 + timedelta(days=31),
            in_progress=True,
        )
    )
    src = library([("p", "Split", {2: 25}, ["tvdb_show:246381"])], recs)
    plan = await plan_between(src, dst)
    fields = by_field(plan)
    assert not [k for k in fields if k[0] == "117197"]
    assert fields[("151803", S)].status is Status.ACTIVE
    assert fields[("151803", P)].current == 3


async def test_issue_43_only_watched_specials_are_marked():
    # Naruto specials: s0e1 -> anilist:761, s0e4 -> anilist:442, s0e9 -> anilist:7367.
    src = library([("n", "Naruto", {0: 9}, ["tvdb_show:78857"])], watched("n", 0, [4]))
    dst = tracker(
        [
            ("442", "Special A", 1, ["anilist:442"]),
            ("761", "Special B", 1, ["anilist:761"]),
            ("7367", "Special C", 1, ["anilist:7367"]),
        ]
    )
    plan = await plan_between(src, dst)
    fields = by_field(plan)
    assert {k[0] for k in fields} == {"442"}
    assert fields[("442", S)].status is Status.COMPLETED
    assert fields.get(("442", RecordField.REPEAT_COUNT), 0) == 0  # one play, no rewatch


# -- repeat count -------------------------------------------------------------


async def test_issue_174_repeat_count_is_not_inflated_by_a_partial_library(idx12):
    target = list_record(
        "100", status=Status.COMPLETED, progress=12, repeat=0, updated_at=T0
    )
    src = show12(watched("s", 1, [1, 2, 3], repeat=2))  # three episodes, 3 plays each
    plan = await plan_between(src, list12(target), index=idx12)
    assert ("100", RecordField.REPEAT_COUNT) not in by_field(plan)


async def test_repeat_count_counts_completed_rounds(idx12):
    src = show12(watched("s", 1, range(1, 13), repeat=1))
    plan = await plan_between(src, list12(), index=idx12)
    assert by_field(plan)[("100", RecordField.REPEAT_COUNT)] == 1
    assert by_field(plan)[("100", S)].status is Status.COMPLETED


# -- dates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "day"), [("UTC", 1), ("America/New_York", 1), ("Asia/Tokyo", 2)]
)
async def test_issue_207_date_only_targets_get_the_users_calendar_day(idx12, tz, day):
    late = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)
    src = show12(watched("s", 1, range(1, 13), start=late, step_hours=0))
    plan = await plan_between(src, list12(), Policy(timezone=tz), index=idx12)
    fields = by_field(plan)
    assert fields[("100", RecordField.STARTED_AT)] == datetime(2024, 3, day, tzinfo=UTC)
    assert fields[("100", RecordField.FINISHED_AT)] == datetime(
        2024, 3, day, tzinfo=UTC
    )


async def test_issue_207_same_calendar_day_is_not_a_change(idx12):
    late = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)
    target = list_record(
        "100",
        status=Status.COMPLETED,
        progress=12,
        started=datetime(2024, 3, 2, tzinfo=UTC),
        finished=datetime(2024, 3, 2, tzinfo=UTC),
        repeat=0,
        updated_at=T0,
    )
    src = show12(watched("s", 1, range(1, 13), start=late, step_hours=0))
    plan = await plan_between(
        src, list12(target), Policy(timezone="Asia/Tokyo"), index=idx12
    )
    assert plan.actions == ()


async def test_started_never_after_finished_and_finished_only_when_completed(idx12):
    partial = await plan_between(
        show12(watched("s", 1, range(1, 5))), list12(), index=idx12
    )
    assert ("100", RecordField.FINISHED_AT) not in by_field(partial)
    assert by_field(partial)[("100", RecordField.STARTED_AT)] == datetime(
        2024, 3, 1, tzinfo=UTC
    )
    # A derived start (first activity) never lies after a known finish date.
    obs = Observation(Ref("100"))
    obs.units[(None, 1)] = [1, datetime(2024, 5, 1, tzinfo=UTC), None]
    obs.explicit[S] = State("COMPLETED", Status.COMPLETED)
    obs.explicit[RecordField.FINISHED_AT] = datetime(2024, 4, 1, tzinfo=UTC)
    d = derive(obs, None, 1, Policy())
    assert d.values[RecordField.STARTED_AT] == datetime(2024, 4, 1, tzinfo=UTC)
    assert "clamped" in d.reasons[RecordField.STARTED_AT]


# -- user-set values -------------------------------------------------------------


async def test_rating_rounding_noise_is_not_a_change():
    src = list12(
        list_record(
            "100", status=Status.COMPLETED, progress=12, rating=85, updated_at=T0
        )
    )
    target = list_record(
        "100",
        status=Status.COMPLETED,
        progress=12,
        rating=9,
        updated_at=T0,
        rating_scale=(0.0, 10.0, 1.0),
    )
    dst = list12(target, rating_scale=(0.0, 10.0, 1.0))
    assert (await plan_between(src, dst)).actions == ()
    target = list_record(
        "100",
        status=Status.COMPLETED,
        progress=12,
        rating=6,
        updated_at=T0,
        rating_scale=(0.0, 10.0, 1.0),
    )
    plan = await plan_between(src, list12(target, rating_scale=(0.0, 10.0, 1.0)))
    assert by_field(plan)[("100", RecordField.RATING)] == Rating(9, (0.0, 10.0, 1.0))


async def test_notes_are_truncated_and_the_truncation_reported():
    src = list12(
        list_record(
            "100", status=Status.ACTIVE, progress=1, notes="x" * 40, updated_at=T0
        )
    )
    plan = await plan_between(src, list12(notes_max_length=10))
    (action,) = plan.actions
    assert action.after[RecordField.NOTES] == "x" * 10
    assert "truncated from 40 to 10" in action.reason


# -- record kinds ---------------------------------------------------------------


def _watchlist_source(records):
    caps = list_capabilities()
    caps = type(caps)(
        **{
            **{f: getattr(caps, f) for f in caps.__dataclass_fields__},
            "record_kinds": (
                Descriptor("", RecordKind.PROGRESS),
                Descriptor("watchlist", RecordKind.PLANNED),
                Descriptor("ratings", RecordKind.RATINGS),
                Descriptor("owned", RecordKind.COLLECTION),
            ),
        }
    )
    return memory_provider(
        caps,
        nodes=[list_entry("100", "Show", episodes=12, ids=["anilist:100"])],
        records=records,
    )


async def test_watchlist_means_planned_only_where_the_target_has_no_entry():
    src = _watchlist_source([list_record("100", kind="watchlist", updated_at=T0)])
    fresh = by_field(await plan_between(src, list12(authorities=("anilist",))))
    assert fresh[("100", S)].status is Status.PLANNED
    target = list_record("100", status=Status.ACTIVE, progress=2, updated_at=T0)
    plan = await plan_between(src, list12(target, authorities=("anilist",)))
    assert plan.actions == ()  # never a downgrade
    assert skipped(plan, S, SkipReason.REGRESSION)


async def test_planned_status_goes_to_a_watchlist_kind_on_the_target():
    src = list12(
        list_record("100", status=Status.PLANNED, updated_at=T0),
        authorities=("anilist",),
    )
    dst = _watchlist_source([])
    plan = await plan_between(src, dst)
    kinds = {a.kind for a in plan.actions}
    assert "watchlist" in kinds


async def test_ratings_kind_feeds_the_rating_field():
    src = _watchlist_source(
        [list_record("100", kind="ratings", rating=70, updated_at=T0)]
    )
    existing = list_record("100", status=Status.ACTIVE, progress=1, updated_at=T0)
    plan = await plan_between(src, list12(existing, authorities=("anilist",)))
    assert by_field(plan)[("100", RecordField.RATING)] == Rating(70, (0.0, 100.0, 1.0))
    # ... but a rating alone never invents a list entry (it needs a status)
    plan = await plan_between(src, list12(authorities=("anilist",)))
    assert plan.actions == ()
    assert [s.detail for s in plan.skipped] == ["no status to create"]


async def test_collection_syncs_only_to_targets_that_declare_it():
    src = _watchlist_source([list_record("100", kind="owned", updated_at=T0)])
    plain = await plan_between(src, list12(authorities=("anilist",)))
    assert not [a for a in plain.actions if a.kind == "owned"]
    declared = await plan_between(src, _watchlist_source([]))
    assert [a.kind for a in declared.actions] == ["owned"]


async def test_unchanged_state_plans_nothing_and_says_why(idx12):
    target = list_record(
        "100",
        status=Status.ACTIVE,
        progress=4,
        started=datetime(2024, 3, 1, tzinfo=UTC),
        updated_at=T0,
    )
    plan = await plan_between(
        show12(watched("s", 1, range(1, 5))), list12(target), index=idx12
    )
    assert plan.actions == ()
    assert [s.reason for s in plan.skipped] == [SkipReason.UNCHANGED]


async def test_pinned_field_is_never_written(idx12):
    from anibridge.bridge.stores import MemoryStores, Pin

    stores = MemoryStores()
    stores.set_pin(Pin("default", "tgt", "100", frozenset({"progress"})))
    plan = await plan_between(
        show12(watched("s", 1, range(1, 5))), list12(), index=idx12, stores=stores
    )
    assert ("100", P) not in by_field(plan)
    assert ("100", S) in by_field(plan)
    assert skipped(plan, P, SkipReason.PINNED)


async def test_declarative_rule_skips_fields(idx12):
    from anibridge.bridge.model import Rule

    rule = Rule(
        "no rating unless completed",
        frozenset({RecordField.STARTED_AT}),
        when_desired_status=frozenset({Status.ACTIVE}),
    )
    plan = await plan_between(
        show12(watched("s", 1, range(1, 5))),
        list12(),
        Policy(rules=(rule,)),
        index=idx12,
    )
    assert ("100", RecordField.STARTED_AT) not in by_field(plan)
    assert skipped(plan, RecordField.STARTED_AT, SkipReason.RULE)


def test_state_and_progress_types_are_what_the_contract_says():
    assert State("CURRENT", Status.ACTIVE).status is Status.ACTIVE
    assert Progress(1).current == 1


async def test_two_descriptors_of_one_target_count_once():
    # tvdb s1 maps to anilist:20 and to mal:20; an AniList-like target resolves both.
    src = library(
        [("n", "Naruto", {1: 35}, ["tvdb_show:78857"])], watched("n", 1, range(1, 6))
    )
    dst = tracker([("20", "Naruto", 220, ["anilist:20", "mal:20"])])
    plan = await plan_between(src, dst)
    assert by_field(plan)[("20", P)].current == 5


async def test_rating_goes_to_the_ratings_kind_even_without_records():
    from dataclasses import replace as dc_replace

    caps = list_capabilities(authorities=("anilist",))
    fields = dict(caps.record_fields)
    fields[P] = dc_replace(fields[P], writable=False)
    fields[S] = dc_replace(fields[S], writable=False)
    caps = dc_replace(
        caps,
        record_kinds=(
            Descriptor("watched", RecordKind.PROGRESS),
            Descriptor("ratings", RecordKind.RATINGS),
        ),
        record_fields=fields,
    )
    dst = memory_provider(
        caps, nodes=[list_entry("100", "Show", episodes=12, ids=["anilist:100"])]
    )
    src = list12(
        list_record("100", status=Status.ACTIVE, progress=2, rating=90, updated_at=T0),
        authorities=("anilist",),
    )
    plan = await plan_between(src, dst)
    assert [(a.kind, a.after[RecordField.RATING].value) for a in plan.actions] == [
        ("ratings", 90)
    ]


async def test_empty_status_plans_untouched_entries_only_where_the_target_has_none(
    idx12,
):
    src = show12()  # in the library, nothing watched
    assert (await plan_between(src, list12(), index=idx12)).actions == ()
    plan = await plan_between(src, list12(), Policy(empty_status=True), index=idx12)
    assert by_field(plan)[("100", S)].status is Status.PLANNED
    existing = list_record("100", status=Status.DROPPED, updated_at=T0)
    plan = await plan_between(
        src, list12(existing), Policy(empty_status=True), index=idx12
    )
    assert plan.actions == ()
