from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from bridge_support import T0, curated, nosleep, tracker

from anibridge.bridge.model import ConflictRule, Direction, Policy
from anibridge.bridge.stores import MemoryStores
from anibridge.bridge.sync import Pair, run_sync
from anibridge.provider.base import Progress, Rating, RecordField, Ref, Status, WriteOp
from anibridge.provider.testing.memory import list_record

LATER = datetime(2030, 1, 1, tzinfo=UTC)
LATEST = datetime(2031, 1, 1, tzinfo=UTC)
TWO = Policy(direction=Direction.TWO_WAY)
PAIR = [Pair("al", "mal")]


def lists(a_records=(), b_records=()):
    al = tracker(
        [
            ("20", "Naruto", 220, ["anilist:20", "mal:20"]),
            ("21", "One Piece", 1100, ["anilist:21", "mal:21"]),
        ],
        a_records,
        authorities=("anilist", "mal"),
    )
    mal = tracker(
        [("20", "Naruto", 220, ["mal:20"]), ("21", "One Piece", 1100, ["mal:21"])],
        b_records,
        authorities=("mal",),
        rating_scale=(0.0, 10.0, 1.0),
    )
    return {"al": al, "mal": mal}


async def sync(providers, stores, policy=TWO):
    return await run_sync(
        providers, PAIR, policy, stores.bundle(), index=curated(), sleep=nosleep
    )


def edit(provider, key, updated_at, **changes):
    rec = provider.record(Ref(key))
    values = dict(rec.values)
    for name, value in changes.items():
        f = RecordField(name)
        if value is None:
            values.pop(f, None)
        else:
            values[f] = value
    provider.put_record(replace(rec, values=values, updated_at=updated_at))


def value(provider, key, field):
    rec = provider.record(Ref(key))
    return None if rec is None else rec.values.get(field)


async def test_first_sync_merges_both_sides_then_is_quiet():
    providers = lists(
        [list_record("20", status=Status.ACTIVE, progress=5, rating=80, updated_at=T0)],
        [
            list_record(
                "21",
                status=Status.COMPLETED,
                progress=1100,
                updated_at=T0,
                rating_scale=(0.0, 10.0, 1.0),
            )
        ],
    )
    stores = MemoryStores()
    first = await sync(providers, stores)
    assert first.report.counts() == {"applied": 2}
    assert value(providers["mal"], "20", RecordField.RATING) == Rating(
        8, (0.0, 10.0, 1.0)
    )
    assert value(providers["al"], "21", RecordField.STATUS).status is Status.COMPLETED
    second = await sync(providers, stores)
    assert second.plan.actions == ()


async def test_change_on_one_side_propagates_even_backwards():
    providers = lists(
        [list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0)],
        [list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0)],
    )
    stores = MemoryStores()
    await sync(providers, stores)  # establishes baselines
    edit(providers["mal"], "20", LATER, progress=Progress(3))  # the user corrects MAL
    result = await sync(providers, stores)
    assert [a.provider for a in result.plan.actions] == ["al"]
    assert value(providers["al"], "20", RecordField.PROGRESS).current == 3
    assert (await sync(providers, stores)).plan.actions == ()


async def test_change_on_both_sides_newest_wins():
    providers = lists(
        [list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0)],
        [list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0)],
    )
    stores = MemoryStores()
    await sync(providers, stores)
    edit(providers["al"], "20", LATER, progress=Progress(8))
    edit(providers["mal"], "20", LATEST, progress=Progress(9))
    result = await sync(providers, stores)
    assert value(providers["al"], "20", RecordField.PROGRESS).current == 9
    assert any(s.reason.value == "conflict" for s in result.plan.skipped)


async def test_change_on_both_sides_priority_wins():
    providers = lists(
        [list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0)],
        [list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0)],
    )
    stores = MemoryStores()
    policy = replace(TWO, conflict=ConflictRule.PRIORITY, priority=("al", "mal"))
    await sync(providers, stores, policy)
    edit(providers["al"], "20", LATER, progress=Progress(8))
    edit(providers["mal"], "20", LATEST, progress=Progress(9))
    await sync(providers, stores, policy)
    assert value(providers["mal"], "20", RecordField.PROGRESS).current == 8


async def test_removal_propagates_only_when_deletes_are_allowed():
    rec = [
        list_record("20", status=Status.ACTIVE, progress=5, notes="hi", updated_at=T0)
    ]
    providers = lists(
        rec,
        [
            list_record(
                "20", status=Status.ACTIVE, progress=5, notes="hi", updated_at=T0
            )
        ],
    )
    stores = MemoryStores()
    await sync(providers, stores)
    # Notes cleared on AniList: held (neither propagated nor reverted) while deletes
    # are off.
    edit(providers["al"], "20", LATER, notes=None)
    held = await sync(providers, stores)
    assert held.plan.actions == ()
    assert [(s.field, s.reason.value) for s in held.plan.skipped if s.field] == [
        (RecordField.NOTES, "deletes-off")
    ]
    assert value(providers["mal"], "20", RecordField.NOTES) == "hi"
    assert value(providers["al"], "20", RecordField.NOTES) is None
    await sync(
        providers, stores, replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    )
    assert value(providers["mal"], "20", RecordField.NOTES) is None
    # The whole entry removed on MAL: held while deletes are off (not re-created) ...
    providers["mal"].remove_record(Ref("20"))
    for _ in range(2):
        kept = await sync(providers, stores)
        assert kept.plan.actions == ()
        assert providers["mal"].record(Ref("20")) is None
        [held] = [s for s in kept.plan.skipped if s.reason.value == "deletes-off"]
        assert (held.ref, held.field, held.detail) == (
            Ref("20"), None, "removed on mal; deletes not allowed",
        )  # fmt: skip
        assert held.link
    # ... and propagated (guarded) when they are on.
    result = await sync(
        providers, stores, replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    )
    assert [a.op for a in result.plan.actions] == [WriteOp.DELETE_RECORD]
    assert providers["al"].record(Ref("20")) is None


async def test_undo_never_carries_the_revert_over_to_the_other_side():
    from anibridge.bridge.sync import undo_run

    providers = lists(
        [list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0)],
        [list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0)],
    )
    stores = MemoryStores()
    await sync(providers, stores)
    edit(providers["al"], "20", LATER, progress=Progress(9))
    run = await sync(providers, stores)
    assert value(providers["mal"], "20", RecordField.PROGRESS).current == 9
    await undo_run(
        providers, stores.bundle(), profile="default", run_id=run.run.id, sleep=nosleep
    )
    assert value(providers["mal"], "20", RecordField.PROGRESS).current == 5
    after = await sync(providers, stores, replace(TWO, allow_deletes=True))
    assert {a.provider for a in after.plan.actions} <= {"mal"}  # AniList keeps its 9
    assert value(providers["al"], "20", RecordField.PROGRESS).current == 9


async def test_undoing_a_created_entry_is_not_a_deletion_to_propagate():
    from anibridge.bridge.sync import undo_run

    providers = lists(
        [list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0)]
    )
    stores = MemoryStores()
    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    run = await sync(providers, stores, deletes)
    assert providers["mal"].record(Ref("20")) is not None
    await sync(providers, stores, deletes)  # in sync: the pair now has a baseline
    await undo_run(
        providers, stores.bundle(), profile="default", run_id=run.run.id, sleep=nosleep
    )
    assert providers["mal"].record(Ref("20")) is None
    after = await sync(providers, stores, deletes)
    assert WriteOp.DELETE_RECORD not in {a.op for a in after.plan.actions}
    assert providers["al"].record(Ref("20")) is not None


async def test_rating_across_scales_is_written_once_and_never_bounces_back():
    # AniList 73/100 creates MAL 7/10; the next run must not "correct" 73 to 70.
    providers = lists(
        [list_record("20", status=Status.ACTIVE, progress=5, rating=73, updated_at=T0)]
    )
    stores = MemoryStores()
    first = await sync(providers, stores)
    assert [a.provider for a in first.plan.actions] == ["mal"]
    assert value(providers["mal"], "20", RecordField.RATING).value == 7
    second = await sync(providers, stores)
    assert second.plan.actions == ()
    assert value(providers["al"], "20", RecordField.RATING).value == 73


async def test_ratings_agreeing_at_the_coarser_scale_are_equal():
    providers = lists(
        [list_record("20", status=Status.ACTIVE, progress=5, rating=77, updated_at=T0)],
        [
            list_record(
                "20",
                status=Status.ACTIVE,
                progress=5,
                rating=8,
                updated_at=T0,
                rating_scale=(0.0, 10.0, 1.0),
            )
        ],
    )
    stores = MemoryStores()
    first = await sync(providers, stores)
    assert first.plan.actions == ()
    assert value(providers["al"], "20", RecordField.RATING).value == 77
    assert (await sync(providers, stores)).plan.actions == ()
    # A real change on the coarse side still propagates.
    edit(providers["mal"], "20", LATER, rating=Rating(5, (0.0, 10.0, 1.0)))
    third = await sync(providers, stores)
    assert [a.provider for a in third.plan.actions] == ["al"]
    assert value(providers["al"], "20", RecordField.RATING).value == 50
    assert (await sync(providers, stores)).plan.actions == ()


async def test_two_way_counts_linked_entries_in_sync_as_unchanged():
    from anibridge.app.runtime import summarize

    rec = list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0)
    providers = lists([rec], [rec])
    stores = MemoryStores()
    await sync(providers, stores)
    second = await sync(providers, stores)
    summary = summarize(
        second,
        second.plan,
        profile="default",
        dry_run=False,
        duration_s=0.0,
        run_id="r",
    )
    assert summary["unchanged"] == 1
    assert summary["planned"] == 0


async def test_dates_and_notes_agreeing_at_the_coarser_precision_are_left_alone():
    from anibridge.provider.base import TemporalPrecision

    al = tracker(
        [("20", "Naruto", 220, ["anilist:20", "mal:20"])],
        [
            list_record(
                "20",
                status=Status.COMPLETED,
                progress=220,
                started=datetime(2024, 1, 5, 18, 30, tzinfo=UTC),
                notes="a long note about the ending",
                updated_at=T0,
            )
        ],
        authorities=("anilist", "mal"),
        date_precision=TemporalPrecision.DATETIME,
    )
    mal = tracker(
        [("20", "Naruto", 220, ["mal:20"])],
        [
            list_record(
                "20",
                status=Status.COMPLETED,
                progress=220,
                started=datetime(2024, 1, 5, tzinfo=UTC),
                notes="a long",
                updated_at=LATER,
                rating_scale=(0.0, 10.0, 1.0),
            )
        ],
        authorities=("mal",),
        rating_scale=(0.0, 10.0, 1.0),
        notes_max_length=6,
    )
    providers, stores = {"al": al, "mal": mal}, MemoryStores()
    first = await sync(providers, stores)
    written = {(a.provider, f) for a in first.plan.actions for f in a.after}
    assert not {f for _, f in written} & {RecordField.STARTED_AT, RecordField.NOTES}
    assert value(al, "20", RecordField.NOTES) == "a long note about the ending"
    assert value(al, "20", RecordField.STARTED_AT).hour == 18
    assert (await sync(providers, stores)).plan.actions == ()


def skips(result, reason):
    return [(s.provider, s.field, s.detail) for s in result.plan.skipped
            if s.reason.value == reason]  # fmt: skip


def in_sync_pair(**fields):
    """Both lists hold entry 20 with the same values; synced once (baselines)."""
    a = list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0, **fields)
    b = list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0,
                    rating_scale=(0.0, 10.0, 1.0), **fields)  # fmt: skip
    return lists([a], [b])


def pin(stores, provider, field):
    from anibridge.bridge.stores import Pin

    stores.set_pin(Pin("default", provider, "20", frozenset({field})))


async def test_an_edit_is_not_reverted_from_a_side_that_cannot_take_it_back():
    # MAL's notes edited; AniList's notes pinned, so the backward write is blocked:
    # the old AniList value must not be pushed onto MAL's edit instead.
    providers, stores = in_sync_pair(notes="hi"), MemoryStores()
    await sync(providers, stores)
    pin(stores, "al", "notes")
    edit(providers["mal"], "20", LATER, notes="edited")
    result = await sync(providers, stores)
    assert result.plan.actions == ()
    assert skips(result, "conflict") == [
        ("mal", RecordField.NOTES, "changed on mal since the last sync")
    ]
    [held] = [s for s in result.plan.skipped if s.reason.value == "conflict"]
    assert held.ref == Ref("20") and held.link
    assert value(providers["mal"], "20", RecordField.NOTES) == "edited"


async def test_an_edit_on_the_first_side_is_not_reverted_either():
    providers, stores = in_sync_pair(notes="hi"), MemoryStores()
    await sync(providers, stores)
    pin(stores, "mal", "notes")
    edit(providers["al"], "20", LATER, notes="edited")
    result = await sync(providers, stores)
    assert result.plan.actions == ()
    assert skips(result, "conflict") == [
        ("al", RecordField.NOTES, "changed on al since the last sync")
    ]
    [held] = [s for s in result.plan.skipped if s.reason.value == "conflict"]
    assert held.ref == Ref("20") and held.link
    assert value(providers["al"], "20", RecordField.NOTES) == "edited"


async def test_priority_decides_when_both_changed_in_its_order():
    providers, stores = in_sync_pair(), MemoryStores()
    policy = replace(TWO, conflict=ConflictRule.PRIORITY, priority=("mal", "al"))
    await sync(providers, stores, policy)
    edit(providers["al"], "20", LATEST, progress=Progress(8))
    edit(providers["mal"], "20", LATER, progress=Progress(9))
    result = await sync(providers, stores, policy)
    assert value(providers["al"], "20", RecordField.PROGRESS).current == 9
    # the write that lost is the one onto MAL
    assert skips(result, "conflict") == [
        ("mal", RecordField.PROGRESS, "changed on both sides; mal wins (priority)")
    ]


async def test_a_conflict_without_a_deciding_rule_keeps_the_first_side():
    providers, stores = in_sync_pair(), MemoryStores()
    # newest, but both edited at the same moment: no priority named either
    await sync(providers, stores)
    edit(providers["al"], "20", LATER, progress=Progress(8))
    edit(providers["mal"], "20", LATER, progress=Progress(9))
    await sync(providers, stores)
    assert value(providers["mal"], "20", RecordField.PROGRESS).current == 8
    # a priority list naming neither side decides nothing either
    providers, stores = in_sync_pair(), MemoryStores()
    policy = replace(TWO, conflict=ConflictRule.PRIORITY, priority=("simkl",))
    await sync(providers, stores, policy)
    edit(providers["al"], "20", LATER, progress=Progress(8))
    edit(providers["mal"], "20", LATEST, progress=Progress(9))
    await sync(providers, stores, policy)
    assert value(providers["mal"], "20", RecordField.PROGRESS).current == 8


async def test_newest_edit_wins_in_either_direction():
    providers, stores = in_sync_pair(), MemoryStores()
    await sync(providers, stores)
    edit(providers["al"], "20", LATEST, progress=Progress(8))
    edit(providers["mal"], "20", LATER, progress=Progress(9))
    result = await sync(providers, stores)
    assert value(providers["mal"], "20", RecordField.PROGRESS).current == 8
    # the write that lost is the one onto AniList
    assert skips(result, "conflict") == [
        ("al", RecordField.PROGRESS, "changed on both sides; al wins (newest)")
    ]


async def test_a_clear_is_held_where_the_other_side_cannot_clear():
    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    providers, stores = in_sync_pair(notes="hi"), MemoryStores()
    await sync(providers, stores, deletes)
    pin(stores, "mal", "notes")
    edit(providers["al"], "20", LATER, notes=None)
    result = await sync(providers, stores, deletes)
    assert result.plan.actions == ()
    assert skips(result, "pinned") == [("mal", RecordField.NOTES, "clear blocked")]
    [held] = [s for s in result.plan.skipped if s.reason.value == "pinned"]
    assert held.ref == Ref("20") and held.link
    assert value(providers["mal"], "20", RecordField.NOTES) == "hi"
    # and the other way round
    providers, stores = in_sync_pair(notes="hi"), MemoryStores()
    await sync(providers, stores, deletes)
    pin(stores, "al", "notes")
    edit(providers["mal"], "20", LATER, notes=None)
    result = await sync(providers, stores, deletes)
    assert skips(result, "pinned") == [("al", RecordField.NOTES, "clear blocked")]
    [held] = [s for s in result.plan.skipped if s.reason.value == "pinned"]
    assert held.ref == Ref("20")
    assert held.link in {link for link, _ in stores.baselines("default")}
    assert value(providers["al"], "20", RecordField.NOTES) == "hi"


async def test_a_clear_propagates_backwards_when_deletes_are_allowed():
    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    providers, stores = in_sync_pair(notes="hi"), MemoryStores()
    await sync(providers, stores, deletes)
    edit(providers["mal"], "20", LATER, notes=None)
    result = await sync(providers, stores, deletes)
    assert [(a.provider, a.clear) for a in result.plan.actions] == [
        ("al", frozenset({RecordField.NOTES}))
    ]
    assert result.plan.actions[0].reason == "notes: cleared on the other side"
    assert value(providers["al"], "20", RecordField.NOTES) is None


async def test_an_entry_removed_on_both_sides_is_left_alone():
    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    providers, stores = in_sync_pair(), MemoryStores()
    await sync(providers, stores, deletes)
    providers["al"].remove_record(Ref("20"))
    providers["mal"].remove_record(Ref("20"))
    result = await sync(providers, stores, deletes)
    assert result.plan.actions == ()
    assert [s for s in result.plan.skipped if s.ref == Ref("20")] == []  # no report
    # Even where an entry without activity would be planned (as PLANNED), a pair
    # removed on both sides is neither re-created nor reported.
    planned = await sync(providers, stores, replace(deletes, empty_status=True))
    assert [a for a in planned.plan.actions if a.ref == Ref("20")] == []
    assert [s for s in planned.plan.skipped if s.ref == Ref("20")] == []


async def test_an_entry_removed_on_the_first_side_is_deleted_on_the_other():
    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    providers, stores = in_sync_pair(), MemoryStores()
    await sync(providers, stores, deletes)
    providers["al"].remove_record(Ref("20"))
    have = providers["mal"].record(Ref("20"))
    result = await sync(providers, stores, deletes)
    [action] = result.plan.actions
    assert (action.provider, action.op) == ("mal", WriteOp.DELETE_RECORD)
    assert action.reason == "removed on al since the last sync"
    assert (action.ref, action.kind, action.source, action.record_key) == (
        Ref("20"), have.kind, "al", have.key,
    )  # fmt: skip
    assert action.before == dict(have.values)
    assert action.link and action.link in {
        link for link, _ in stores.baselines("default")
    }
    assert providers["mal"].record(Ref("20")) is None


async def test_a_removal_is_not_propagated_to_a_side_that_cannot_delete():
    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    providers, stores = in_sync_pair(), MemoryStores()
    await sync(providers, stores, deletes)
    providers["al"].remove_record(Ref("20"))
    caps = providers["mal"].capabilities()
    no_delete = replace(caps, write_ops=caps.write_ops - {WriteOp.DELETE_RECORD})
    providers["mal"].capabilities = lambda: no_delete
    result = await sync(providers, stores, deletes)
    assert result.plan.actions == ()
    assert skips(result, "not-writable") == [("mal", None, "cannot delete records")]
    [held] = [s for s in result.plan.skipped if s.reason.value == "not-writable"]
    assert held.ref == Ref("20") and held.link


async def test_an_entry_missing_from_a_partial_read_is_not_deleted():
    from anibridge.bridge.collect import collect
    from anibridge.bridge.sync import run_sync

    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    providers, stores = in_sync_pair(), MemoryStores()
    await sync(providers, stores, deletes)
    # AniList's 20 removed, but AniList read only for entry 21 (a targeted re-read):
    # a partial read never says an entry is gone
    providers["al"].remove_record(Ref("20"))
    partial = await collect(providers["al"], "al", refs=[Ref("21")])
    assert partial.complete is False
    result = await run_sync(
        providers, PAIR, deletes, stores.bundle(), index=curated(), sleep=nosleep,
        snapshots={"al": partial},
    )  # fmt: skip
    assert WriteOp.DELETE_RECORD not in {a.op for a in result.plan.actions}
    assert providers["mal"].record(Ref("20")) is not None


async def test_a_clear_is_held_where_the_other_side_cannot_write_the_field():
    from anibridge.provider.base import FieldSpec

    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    providers, stores = in_sync_pair(notes="hi"), MemoryStores()
    await sync(providers, stores, deletes)
    caps = providers["mal"].capabilities()
    fields = dict(caps.record_fields)
    spec = fields[RecordField.NOTES]
    fields[RecordField.NOTES] = FieldSpec(
        RecordField.NOTES, writable=False, constraints=spec.constraints
    )
    read_only = replace(caps, record_fields=fields)
    providers["mal"].capabilities = lambda: read_only
    edit(providers["al"], "20", LATER, notes=None)
    result = await sync(providers, stores, deletes)
    assert result.plan.actions == ()
    [held] = [s for s in result.plan.skipped if s.reason.value == "not-writable"]
    assert (held.provider, held.ref, held.field, held.detail) == (
        "mal", Ref("20"), RecordField.NOTES, "cannot clear",
    )  # fmt: skip
    assert held.link
    assert value(providers["mal"], "20", RecordField.NOTES) == "hi"


async def test_equal_edit_times_leave_a_newest_conflict_to_the_priority():
    providers, stores = in_sync_pair(), MemoryStores()
    policy = replace(TWO, priority=("mal",))
    await sync(providers, stores, policy)
    edit(providers["al"], "20", LATER, progress=Progress(8))
    edit(providers["mal"], "20", LATER, progress=Progress(9))
    await sync(providers, stores, policy)
    assert value(providers["al"], "20", RecordField.PROGRESS).current == 9


async def test_a_propagated_deletion_names_the_targets_own_record_kind():
    from anibridge.provider.base import Descriptor, RecordKind
    from anibridge.provider.testing.memory import list_capabilities, memory_provider

    def named(key, ids, authorities, scale, records):
        from anibridge.provider.testing.memory import list_entry

        caps = replace(
            list_capabilities(authorities=authorities, rating_scale=scale),
            record_kinds=(Descriptor("list", RecordKind.PROGRESS),),
        )
        node = list_entry(key, "Naruto", episodes=220, ids=ids)
        return memory_provider(caps, nodes=[node], records=records)

    rec = replace(list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0),
                  kind="list")  # fmt: skip
    providers = {
        "al": named("20", ["anilist:20", "mal:20"], ("anilist", "mal"),
                    (0.0, 100.0, 1.0), [rec]),
        "mal": named("20", ["mal:20"], ("mal",), (0.0, 10.0, 1.0), [rec]),
    }  # fmt: skip
    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    stores = MemoryStores()
    await sync(providers, stores, deletes)
    providers["al"].remove_record(Ref("20"), "list")
    result = await sync(providers, stores, deletes)
    [action] = result.plan.actions
    assert (action.op, action.kind) == (WriteOp.DELETE_RECORD, "list")
    assert providers["mal"].record(Ref("20"), "list") is None


async def test_a_raise_on_the_second_side_is_written_back_alone():
    # MAL's progress raised to 7: AniList gets 7; the forward write of AniList's 5
    # would be a regression on MAL and is not even a candidate, so no conflict.
    providers, stores = in_sync_pair(), MemoryStores()
    await sync(providers, stores)
    edit(providers["mal"], "20", LATER, progress=Progress(7))
    result = await sync(providers, stores)
    assert [(a.provider, a.after[RecordField.PROGRESS].current)
            for a in result.plan.actions] == [("al", 7)]  # fmt: skip
    assert not skips(result, "conflict")
    assert value(providers["al"], "20", RecordField.PROGRESS).current == 7
    assert (await sync(providers, stores)).plan.actions == ()


def rated_pair():
    """Entry 20 rated 80/100 on AniList and 8/10 on MAL: in sync, in two scales."""
    a = list_record("20", status=Status.ACTIVE, progress=5, rating=80, updated_at=T0)
    b = list_record("20", status=Status.ACTIVE, progress=5, rating=8, updated_at=T0,
                    rating_scale=(0.0, 10.0, 1.0))  # fmt: skip
    return lists([a], [b])


def rating(provider):
    return value(provider, "20", RecordField.RATING).value


async def test_only_the_side_that_changed_counts_as_changed_across_scales():
    # MAL's rating edited; AniList touched later (notes), its rating untouched. The
    # baseline holds each side's own encoding (80/100, 8/10): comparing a side
    # with the other side's baseline would call both changed and let the newer
    # AniList revert MAL's edit.
    providers, stores = rated_pair(), MemoryStores()
    await sync(providers, stores)
    edit(providers["mal"], "20", LATER, rating=Rating(9, (0.0, 10.0, 1.0)))
    edit(providers["al"], "20", LATEST, notes="touched")
    await sync(providers, stores)
    assert (rating(providers["al"]), rating(providers["mal"])) == (90, 9)
    # and the other way round
    providers, stores = rated_pair(), MemoryStores()
    await sync(providers, stores)
    edit(providers["al"], "20", LATER, rating=Rating(60, (0.0, 100.0, 1.0)))
    edit(providers["mal"], "20", LATEST, notes="touched")
    await sync(providers, stores)
    assert (rating(providers["al"]), rating(providers["mal"])) == (60, 6)


async def test_a_value_written_back_is_remembered_on_its_own_side():
    # MAL's edit is written back onto AniList; the baseline stored after that write
    # must hold AniList's value on AniList's side, or AniList's next edit looks
    # like a change on both sides and the newer MAL wins.
    providers, stores = rated_pair(), MemoryStores()
    await sync(providers, stores)
    edit(providers["mal"], "20", LATEST, rating=Rating(9, (0.0, 10.0, 1.0)))
    await sync(providers, stores)
    assert rating(providers["al"]) == 90
    edit(providers["al"], "20", LATER, rating=Rating(70, (0.0, 100.0, 1.0)))
    await sync(providers, stores)
    assert (rating(providers["al"]), rating(providers["mal"])) == (70, 7)


async def test_a_value_written_forward_is_remembered_on_its_own_side():
    providers, stores = rated_pair(), MemoryStores()
    await sync(providers, stores)
    edit(providers["al"], "20", LATEST, rating=Rating(90, (0.0, 100.0, 1.0)))
    await sync(providers, stores)
    assert rating(providers["mal"]) == 9
    edit(providers["mal"], "20", LATER, rating=Rating(6, (0.0, 10.0, 1.0)))
    await sync(providers, stores)
    assert (rating(providers["al"]), rating(providers["mal"])) == (60, 6)


async def test_dates_are_read_in_the_profiles_timezone():
    from anibridge.provider.base import TemporalPrecision

    late = datetime(2024, 1, 5, 23, 30, tzinfo=UTC)  # 6 January in Tokyo
    al = tracker(
        [("20", "Naruto", 220, ["anilist:20", "mal:20"])],
        [list_record("20", status=Status.ACTIVE, progress=5, started=late,
                     updated_at=T0)],
        authorities=("anilist", "mal"),
        date_precision=TemporalPrecision.DATETIME,
    )  # fmt: skip
    mal = tracker([("20", "Naruto", 220, ["mal:20"])], authorities=("mal",),
                  rating_scale=(0.0, 10.0, 1.0))  # fmt: skip
    providers, stores = {"al": al, "mal": mal}, MemoryStores()
    await sync(providers, stores, replace(TWO, timezone="Asia/Tokyo"))
    got = value(mal, "20", RecordField.STARTED_AT)
    assert got == datetime(2024, 1, 6, tzinfo=UTC)


async def test_a_raise_on_the_first_side_is_written_forward_alone():
    providers, stores = in_sync_pair(), MemoryStores()
    await sync(providers, stores)
    edit(providers["al"], "20", LATER, progress=Progress(7))
    result = await sync(providers, stores)
    assert [(a.provider, a.after[RecordField.PROGRESS].current)
            for a in result.plan.actions] == [("mal", 7)]  # fmt: skip
    assert not skips(result, "conflict")


def dated_pair(start):
    from anibridge.provider.base import TemporalPrecision

    al = tracker(
        [("20", "Naruto", 220, ["anilist:20", "mal:20"])],
        [list_record("20", status=Status.ACTIVE, progress=5, started=start,
                     updated_at=T0)],
        authorities=("anilist", "mal"),
        date_precision=TemporalPrecision.DATETIME,
    )  # fmt: skip
    mal = tracker([("20", "Naruto", 220, ["mal:20"])], authorities=("mal",),
                  rating_scale=(0.0, 10.0, 1.0))  # fmt: skip
    return {"al": al, "mal": mal}


async def test_an_earlier_start_corrected_on_one_side_is_no_conflict():
    # AniList keeps instants, MAL days: the baseline holds each side's own form.
    # MAL's start corrected a day earlier goes back to AniList; AniList did not
    # change, so its (now later) start is no candidate for MAL at all.
    providers, stores = (
        dated_pair(datetime(2024, 1, 5, 18, 30, tzinfo=UTC)),
        (MemoryStores()),
    )
    await sync(providers, stores)
    edit(providers["mal"], "20", LATER, started_at=datetime(2024, 1, 4, tzinfo=UTC))
    result = await sync(providers, stores)
    assert [a.provider for a in result.plan.actions] == ["al"]
    assert not skips(result, "conflict")


async def test_dates_written_back_are_read_in_the_profiles_timezone():
    # MAL's day 6 January written back onto AniList (instants) is Tokyo's midnight
    providers = dated_pair(datetime(2024, 1, 5, 18, 30, tzinfo=UTC))
    stores = MemoryStores()
    tokyo = replace(TWO, timezone="Asia/Tokyo")
    await sync(providers, stores, tokyo)
    edit(providers["mal"], "20", LATER, started_at=datetime(2024, 1, 3, tzinfo=UTC))
    await sync(providers, stores, tokyo)
    got = value(providers["al"], "20", RecordField.STARTED_AT)
    assert got == datetime(2024, 1, 2, 15, 0, tzinfo=UTC)


async def test_a_removed_pair_does_not_stop_the_pairs_after_it():
    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    both = [
        list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0),
        list_record("21", status=Status.ACTIVE, progress=5, updated_at=T0),
    ]
    providers, stores = lists(both, both), MemoryStores()
    await sync(providers, stores, deletes)
    providers["al"].remove_record(Ref("20"))
    edit(providers["al"], "21", LATER, progress=Progress(9))
    await sync(providers, stores, deletes)
    assert providers["mal"].record(Ref("20")) is None
    assert value(providers["mal"], "21", RecordField.PROGRESS).current == 9


async def test_a_field_already_equal_when_an_entry_is_created_is_baselined():
    # no rewatches on AniList equals none recorded on the new MAL entry: that field
    # is in sync from the start, each side's own value remembered on its side
    rec = list_record("20", status=Status.ACTIVE, progress=5, repeat=0, updated_at=T0)
    providers, stores = lists([rec]), MemoryStores()
    result = await sync(providers, stores)
    [created] = result.plan.actions
    got = [b for b in result.plan.in_sync if b.field == "repeat_count"]
    assert [(b.profile, b.link, b.source_value, b.target_value) for b in got] == [
        ("default", created.link, 0, None)
    ]
    # and the same when the entry is created on the first side
    mal_rec = replace(rec, values={**rec.values})
    providers, stores = lists([], [mal_rec]), MemoryStores()
    result = await sync(providers, stores)
    [created] = result.plan.actions
    assert created.provider == "al"
    got = [b for b in result.plan.in_sync if b.field == "repeat_count"]
    assert [(b.link, b.source_value, b.target_value) for b in got] == [
        (created.link, None, 0)
    ]


async def test_a_held_clear_names_the_side_it_was_cleared_on():
    for cleared, kept in (("al", "mal"), ("mal", "al")):
        providers, stores = in_sync_pair(notes="hi"), MemoryStores()
        await sync(providers, stores)
        edit(providers[cleared], "20", LATER, notes=None)
        result = await sync(providers, stores)
        assert result.plan.actions == ()
        assert skips(result, "deletes-off") == [
            (kept, RecordField.NOTES, f"cleared on {cleared}; deletes not allowed")
        ]


async def test_an_entry_created_backwards_is_remembered_on_its_own_sides():
    # MAL's 8/10 creates AniList's entry (80/100). The baselines of that write must
    # hold AniList's value on AniList's side: then AniList's next edit is its own
    # one-sided change, even when MAL was touched later (notes).
    b = list_record("20", status=Status.ACTIVE, progress=5, rating=8, updated_at=T0,
                    rating_scale=(0.0, 10.0, 1.0))  # fmt: skip
    providers, stores = lists([], [b]), MemoryStores()
    await sync(providers, stores)
    assert rating(providers["al"]) == 80
    edit(providers["al"], "20", LATER, rating=Rating(70, (0.0, 100.0, 1.0)))
    edit(providers["mal"], "20", LATEST, notes="touched")
    await sync(providers, stores)
    assert (rating(providers["al"]), rating(providers["mal"])) == (70, 7)


def keyed_pair(**fields):
    """Entry "a20" on AniList and "20" on MAL (other keys, one title), in sync."""
    al = tracker([("a20", "Naruto", 220, ["anilist:20", "mal:20"])],
                 [list_record("a20", status=Status.ACTIVE, progress=5, updated_at=T0,
                              **fields)],
                 authorities=("anilist", "mal"))  # fmt: skip
    mal = tracker([("20", "Naruto", 220, ["mal:20"])],
                  [list_record("20", status=Status.ACTIVE, progress=5, updated_at=T0,
                               rating_scale=(0.0, 10.0, 1.0), **fields)],
                  authorities=("mal",), rating_scale=(0.0, 10.0, 1.0))  # fmt: skip
    return {"al": al, "mal": mal}


async def test_skips_name_the_ref_and_pair_of_the_side_whose_write_is_held():
    providers, stores = keyed_pair(notes="hi"), MemoryStores()
    await sync(providers, stores)
    # a conflict AniList wins: the write held is the one onto AniList's "a20"
    edit(providers["al"], "a20", LATEST, progress=Progress(8))
    edit(providers["mal"], "20", LATER, progress=Progress(9))
    result = await sync(providers, stores)
    [held] = [s for s in result.plan.skipped if s.reason.value == "conflict"]
    assert (held.provider, held.ref) == ("al", Ref("a20"))
    assert held.link and held.link == result.plan.actions[0].link
    # a conflict MAL wins: the write held is the one onto MAL's "20"
    providers, stores = keyed_pair(notes="hi"), MemoryStores()
    await sync(providers, stores)
    edit(providers["al"], "a20", LATER, progress=Progress(8))
    edit(providers["mal"], "20", LATEST, progress=Progress(9))
    result = await sync(providers, stores)
    [held] = [s for s in result.plan.skipped if s.reason.value == "conflict"]
    assert (held.provider, held.ref) == ("mal", Ref("20"))
    # a clear held on the side that still has the value, with the pair's id
    for cleared, kept, ref in (("al", "mal", "20"), ("mal", "al", "a20")):
        providers, stores = keyed_pair(notes="hi"), MemoryStores()
        await sync(providers, stores)
        edit(providers[cleared], "a20" if cleared == "al" else "20", LATER,
             notes=None)  # fmt: skip
        result = await sync(providers, stores)
        [held] = [s for s in result.plan.skipped if s.reason.value == "deletes-off"]
        assert (held.provider, held.ref) == (kept, Ref(ref))
        assert held.link and held.link == next(
            s.link for s in (await sync(providers, stores)).plan.skipped if s.link
        )


async def test_a_held_field_does_not_stop_the_fields_after_it():
    providers, stores = in_sync_pair(notes="hi", repeat=1), MemoryStores()
    await sync(providers, stores)
    # AniList clears its repeat count (held: deletes off) and edits its notes,
    # which come later in the field order
    edit(providers["al"], "20", LATER, repeat_count=None, notes="edited")
    result = await sync(providers, stores)
    assert skips(result, "deletes-off") == [
        ("mal", RecordField.REPEAT_COUNT, "cleared on al; deletes not allowed")
    ]
    assert value(providers["mal"], "20", RecordField.NOTES) == "edited"
    assert value(providers["mal"], "20", RecordField.REPEAT_COUNT) == 1


async def test_a_pair_in_sync_is_reported_unchanged_once_with_its_pair_id():
    providers, stores = in_sync_pair(), MemoryStores()
    await sync(providers, stores)
    result = await sync(providers, stores)
    [same] = [s for s in result.plan.skipped if s.reason.value == "unchanged"]
    assert (same.provider, same.ref, same.field, same.detail) == (
        "mal", Ref("20"), None, "",
    )  # fmt: skip
    assert same.link
    # a pair with a write one way is not "unchanged"
    edit(providers["al"], "20", LATER, progress=Progress(9))
    result = await sync(providers, stores)
    assert [a.provider for a in result.plan.actions] == ["mal"]
    assert not skips(result, "unchanged")


async def test_an_edit_held_against_a_pin_does_not_stop_the_fields_after_it():
    for edited, pinned, key in (("mal", "al", "20"), ("al", "mal", "20")):
        providers = in_sync_pair(notes="hi", rating=8)
        stores = MemoryStores()
        await sync(providers, stores)
        pin(stores, pinned, "rating")
        scale = (0.0, 10.0, 1.0) if edited == "mal" else (0.0, 100.0, 1.0)
        edit(providers[edited], key, LATER, rating=Rating(scale[1] / 2, scale),
             notes="edited")  # fmt: skip
        result = await sync(providers, stores)
        assert "conflict" in {s.reason.value for s in result.plan.skipped}
        assert value(providers[pinned], "20", RecordField.NOTES) == "edited"


async def test_an_entry_gone_entirely_from_the_first_side_is_deleted_on_the_other():
    # AniList lost the title itself (no node, no record): the pair is planned by
    # neither direction, and the removal still propagates when deletes are on
    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    providers, stores = in_sync_pair(), MemoryStores()
    await sync(providers, stores, deletes)
    providers["al"].remove_record(Ref("20"))
    providers["al"].remove_node(Ref("20"))
    result = await sync(providers, stores, deletes)
    assert [(a.provider, a.op) for a in result.plan.actions] == [
        ("mal", WriteOp.DELETE_RECORD)
    ]
    held = await sync(providers, stores)  # deletes off: held, not re-created
    assert held.plan.actions == ()


async def test_a_pair_unlinked_in_one_direction_still_syncs_the_other_way():
    # Overrides are per direction: unlinking AniList's 20 from MAL leaves MAL's 20
    # routed to AniList, so the pair is planned backwards only (both records are
    # there) and MAL's edit still reaches AniList; and the other way round.
    from anibridge.bridge.stores import Override

    for unlinked, edited, other in (("al", "mal", "al"), ("mal", "al", "mal")):
        providers, stores = in_sync_pair(), MemoryStores()
        await sync(providers, stores)
        target = "mal" if unlinked == "al" else "al"
        stores.put_override(Override("default", unlinked, "20", target, None))
        edit(providers[edited], "20", LATER, progress=Progress(7))
        result = await sync(providers, stores)
        assert [(a.provider, a.after[RecordField.PROGRESS].current)
                for a in result.plan.actions] == [(other, 7)]  # fmt: skip
        assert value(providers[other], "20", RecordField.PROGRESS).current == 7


async def test_ratings_agreeing_at_the_coarser_scale_are_equal_coarse_side_first():
    # The mirror of the test above: AniList keeps 7/10 and MAL 73/100. Only the
    # backward comparison (73 -> 7) sees them equal; the forward one (7 -> 70)
    # alone must not rewrite MAL's finer 73 as 70.
    ten = (0.0, 10.0, 1.0)
    al = tracker([("20", "Naruto", 220, ["anilist:20", "mal:20"])],
                 [list_record("20", status=Status.ACTIVE, progress=5, rating=7,
                              updated_at=T0, rating_scale=ten)],
                 authorities=("anilist", "mal"), rating_scale=ten)  # fmt: skip
    mal = tracker([("20", "Naruto", 220, ["mal:20"])],
                  [list_record("20", status=Status.ACTIVE, progress=5, rating=73,
                               updated_at=T0)],
                  authorities=("mal",))  # fmt: skip
    providers, stores = {"al": al, "mal": mal}, MemoryStores()
    first = await sync(providers, stores)
    assert first.plan.actions == ()
    assert [b.field for b in first.plan.in_sync if b.field == "rating"] == ["rating"]
    assert value(al, "20", RecordField.RATING) == Rating(7, ten)
    assert value(mal, "20", RecordField.RATING) == Rating(73, (0.0, 100.0, 1.0))
    assert (await sync(providers, stores)).plan.actions == ()


async def test_a_field_left_out_of_the_policy_does_not_stop_the_fields_after_it():
    # Status is not synced: the sides may differ there (MAL paused), and the
    # progress edited on AniList, later in the field order, still goes across.
    from anibridge.bridge.model import ALL_FIELDS

    policy = replace(TWO, fields=ALL_FIELDS - {RecordField.STATUS})
    providers, stores = in_sync_pair(), MemoryStores()
    await sync(providers, stores, policy)
    paused = list_record("20", status=Status.PAUSED).values[RecordField.STATUS]
    edit(providers["mal"], "20", LATER, status=paused)
    edit(providers["al"], "20", LATER, progress=Progress(7))
    result = await sync(providers, stores, policy)
    assert [(a.provider, set(a.after)) for a in result.plan.actions] == [
        ("mal", {RecordField.PROGRESS})
    ]
    assert value(providers["mal"], "20", RecordField.PROGRESS).current == 7
    assert value(providers["mal"], "20", RecordField.STATUS).status is Status.PAUSED


async def test_a_difference_neither_side_made_does_not_stop_the_fields_after_it():
    # The start was synced as Tokyo's 6 January; read in UTC the same instant is
    # the 5th, so the sides now differ though neither changed since the baseline:
    # no write either way. AniList's notes edit, later in the field order, goes
    # across all the same.
    providers = dated_pair(datetime(2024, 1, 5, 23, 30, tzinfo=UTC))
    stores = MemoryStores()
    tokyo = replace(TWO, timezone="Asia/Tokyo")
    await sync(providers, stores, tokyo)
    await sync(providers, stores, tokyo)
    assert (await sync(providers, stores)).plan.actions == ()
    edit(providers["al"], "20", LATER, notes="edited")
    result = await sync(providers, stores)
    assert [(a.provider, set(a.after)) for a in result.plan.actions] == [
        ("mal", {RecordField.NOTES})
    ]
    assert value(providers["mal"], "20", RecordField.NOTES) == "edited"
    started = value(providers["mal"], "20", RecordField.STARTED_AT)
    assert started == datetime(2024, 1, 6, tzinfo=UTC)


async def test_an_entry_gone_from_the_first_side_of_a_pair_unlinked_backwards():
    # MAL's 20 is unlinked from AniList (that direction's override), so only the
    # forward baseline knows the pair: AniList losing the title is still a removal
    # there, held with deletes off and propagated when they are on.
    from anibridge.bridge.stores import Override

    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    providers, stores = in_sync_pair(), MemoryStores()
    await sync(providers, stores, deletes)
    stores.put_override(Override("default", "mal", "20", "al", None))
    providers["al"].remove_record(Ref("20"))
    providers["al"].remove_node(Ref("20"))
    held = await sync(providers, stores)
    assert held.plan.actions == ()
    assert skips(held, "regression") == [
        ("mal", None, "gone on the source; deletes off")
    ]
    result = await sync(providers, stores, deletes)
    assert [(a.provider, a.op) for a in result.plan.actions] == [
        ("mal", WriteOp.DELETE_RECORD)
    ]
    assert providers["mal"].record(Ref("20")) is None


# -- a side that keeps plays, not list records ----------------------------------------

SHOW12 = 'anilist:100:\n  tvdb_show:500:s1:\n    "1-12": "1-12"\n'


def played(episodes, server="library"):
    """A server whose show 's' has `episodes` played (season 1).

    ``library``: a media server's watched episode records; ``history``: a
    Trakt-like history of plays (events).
    """
    from bridge_support import history, library, watched

    from anibridge.provider.testing.memory import episode_ref, play

    shows = [("s", "Show", {1: 12}, ["tvdb_show:500"])]
    if server == "history":
        plays = [play(episode_ref("s", 1, n), T0.replace(hour=n), kind="watch")
                 for n in episodes]  # fmt: skip
        return history(shows, events=plays)
    return library(shows, watched("s", 1, episodes), writable=True)


SERVERS = pytest.mark.parametrize(
    ("library_first", "server"),
    [(True, "library"), (False, "library"), (True, "history"), (False, "history")],
)


async def sync_with_library(tmp_path, library, the_list, stores, policy=TWO, *,
                            library_first=True, dry_run=False):  # fmt: skip
    from bridge_support import custom_index

    providers = {"plex": library, "al": the_list}
    pair = [Pair("plex", "al") if library_first else Pair("al", "plex")]
    return await run_sync(
        providers, pair, policy, stores.bundle(), sleep=nosleep, dry_run=dry_run,
        index=custom_index(tmp_path, SHOW12),
    )  # fmt: skip


def show_list():
    return tracker([("100", "Show", 12, ["anilist:100"])])


@SERVERS
async def test_new_plays_on_a_media_server_reach_the_list_after_the_first_sync(
    tmp_path, library_first, server
):
    # A server keeps plays per episode, no list record: that is not a removal. Each
    # run carries its new plays over, whichever side of the pair it is.
    the_list, stores = show_list(), MemoryStores()
    for episodes, progress in ((range(1, 5), 4), (range(1, 7), 6)):
        result = await sync_with_library(
            tmp_path, played(episodes, server), the_list, stores,
            library_first=library_first,
        )  # fmt: skip
        [action] = result.plan.actions
        assert action.provider == "al"
        assert not skips(result, "deletes-off")
        assert not skips(result, "unchanged")  # it moved
        assert value(the_list, "100", RecordField.PROGRESS).current == progress
    # Written to the pair's id, marked with the side it wrote (the list is the
    # second side when the server is first).
    [pair] = {link for link, _ in stores.baselines("default")}
    assert action.link == pair
    assert ("@side" in action.source_values) is not library_first
    quiet = await sync_with_library(tmp_path, played(range(1, 7), server), the_list,
                                    stores, library_first=library_first)  # fmt: skip
    assert quiet.plan.actions == ()
    assert [(s.provider, s.ref, s.field, s.reason.value, s.detail, s.link)
            for s in quiet.plan.skipped if s.provider == "al"] == [
        ("al", Ref("100"), None, "unchanged", "", pair)
    ]  # fmt: skip


@SERVERS
async def test_plays_removed_on_a_media_server_are_held_in_two_way_too(
    tmp_path, library_first, server
):
    # Every play removed on the server: as one way, reported and never lowered
    # to nothing nor deleted, deletes allowed or not (the same delete guard).
    the_list, stores = show_list(), MemoryStores()
    await sync_with_library(tmp_path, played(range(1, 5), server), the_list, stores,
                            library_first=library_first)  # fmt: skip
    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    for policy, reason, why in (
        (TWO, "deletes-off", "deletes not allowed"),
        (deletes, "regression", "progress kept"),
    ):
        result = await sync_with_library(tmp_path, played((), server), the_list,
                                         stores, policy, library_first=library_first,
                                         dry_run=True)  # fmt: skip
        assert result.plan.actions == ()
        # (a history has no status to take: that skip is the server's own)
        assert [(s.provider, s.field, s.reason.value, s.detail)
                for s in result.plan.skipped if s.provider == "al"] == [
            ("al", RecordField.PROGRESS, reason,
             f"nothing left on the source (plays removed); {why}"),
        ]  # fmt: skip
    assert value(the_list, "100", RecordField.PROGRESS).current == 4


async def test_an_entry_gone_entirely_from_the_second_side_of_a_pair_unlinked_forward():
    # The mirror of the test above it: AniList's 20 is unlinked from MAL, so only
    # the backward direction knows the pair, and MAL losing the title is a removal
    # all the same: held with deletes off, propagated when they are on.
    from anibridge.bridge.stores import Override

    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    providers, stores = in_sync_pair(), MemoryStores()
    await sync(providers, stores, deletes)
    stores.put_override(Override("default", "al", "20", "mal", None))
    providers["mal"].remove_record(Ref("20"))
    providers["mal"].remove_node(Ref("20"))
    held = await sync(providers, stores)
    assert held.plan.actions == ()
    assert skips(held, "regression") == [
        ("al", None, "gone on the source; deletes off")
    ]
    [skip] = [s for s in held.plan.skipped if s.reason.value == "regression"]
    assert skip.link in {link for link, _ in stores.baselines("default")}
    result = await sync(providers, stores, deletes)
    [action] = result.plan.actions
    assert (action.provider, action.op, action.source) == (
        "al", WriteOp.DELETE_RECORD, "mal",
    )  # fmt: skip
    assert action.link == skip.link
    assert providers["al"].record(Ref("20")) is None


@pytest.mark.parametrize("gone", ["al", "mal"])
async def test_a_pinned_status_blocks_a_two_way_deletion_as_one_way(gone):
    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    providers, stores = in_sync_pair(), MemoryStores()
    await sync(providers, stores, deletes)
    kept = "mal" if gone == "al" else "al"
    pin(stores, kept, "status")
    providers[gone].remove_record(Ref("20"))
    result = await sync(providers, stores, deletes)
    assert result.plan.actions == ()
    assert skips(result, "pinned") == [(kept, RecordField.STATUS, "delete blocked")]
    [held] = [s for s in result.plan.skipped if s.reason.value == "pinned"]
    assert held.ref == Ref("20")
    assert held.link in {link for link, _ in stores.baselines("default")}
    assert providers[kept].record(Ref("20")) is not None


@SERVERS
async def test_a_list_entry_removed_while_the_server_keeps_its_plays_is_held(
    tmp_path, library_first, server
):
    # Removed from the list, still played on the server: a removal, held with
    # deletes off (not re-created from the plays); with deletes on, plays are not
    # records the server side can delete.
    the_list, stores = show_list(), MemoryStores()
    await sync_with_library(tmp_path, played(range(1, 5), server), the_list, stores,
                            library_first=library_first)  # fmt: skip
    the_list.remove_record(Ref("100"))
    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    for policy, reason, why in (
        (TWO, "deletes-off", "removed on al; deletes not allowed"),
        (deletes, "not-writable", "cannot delete plays"),
    ):
        result = await sync_with_library(tmp_path, played(range(1, 5), server),
                                         the_list, stores, policy,
                                         library_first=library_first,
                                         dry_run=True)  # fmt: skip
        assert result.plan.actions == ()
        held = [s for s in result.plan.skipped if s.field is None]
        assert [(s.provider, s.ref, s.field, s.reason.value, s.detail)
                for s in held] == [("plex", Ref("s"), None, reason, why)]  # fmt: skip
        assert held[0].link in {link for link, _ in stores.baselines("default")}


async def test_plays_removed_on_one_show_do_not_stop_the_shows_after_it(tmp_path):
    # Show a lost every play on the server (held), show b gained two: b's new
    # plays still reach the list, in the same run.
    from bridge_support import TWO_SHOWS, custom_index, library, watched

    shows = [("a", "A", {1: 12}, ["tvdb_show:500"]),
             ("b", "B", {1: 12}, ["tvdb_show:600"])]  # fmt: skip
    the_list = tracker([("100", "A", 12, ["anilist:100"]),
                        ("200", "B", 12, ["anilist:200"])])  # fmt: skip
    index, stores = custom_index(tmp_path, TWO_SHOWS), MemoryStores()

    async def two_way(plays):
        server = library(shows, plays, writable=True)
        return await run_sync(
            {"plex": server, "al": the_list}, [Pair("plex", "al")], TWO,
            stores.bundle(), index=index, sleep=nosleep,
        )  # fmt: skip

    await two_way(watched("a", 1, range(1, 4)) + watched("b", 1, range(1, 4)))
    result = await two_way(watched("b", 1, range(1, 6)))
    assert [(a.provider, a.ref) for a in result.plan.actions] == [("al", Ref("200"))]
    assert value(the_list, "200", RecordField.PROGRESS).current == 5
    assert value(the_list, "100", RecordField.PROGRESS).current == 3
    assert [s.ref for s in result.plan.skipped] == [Ref("100")]
    # New plays on both: the first show's write does not stop the second's.
    both = await two_way(watched("a", 1, range(1, 5)) + watched("b", 1, range(1, 7)))
    assert [(a.provider, a.ref) for a in both.plan.actions] == [
        ("al", Ref("100")), ("al", Ref("200")),
    ]  # fmt: skip


@pytest.mark.parametrize("library_first", [True, False])
async def test_a_server_show_never_played_is_not_a_pair_in_sync(
    tmp_path, library_first
):
    # The list has the title, the server has it unplayed: the list's progress goes
    # to the server as plays, and the pair is not remembered as in sync (nor
    # reported unchanged) until both sides hold it.
    the_list = tracker(
        [("100", "Show", 12, ["anilist:100"])],
        [list_record("100", status=Status.ACTIVE, progress=3, updated_at=T0)],
    )
    result = await sync_with_library(
        tmp_path, played(()), the_list, MemoryStores(), dry_run=True,
        library_first=library_first,
    )  # fmt: skip
    assert [(a.provider, a.op) for a in result.plan.actions] == [
        ("plex", WriteOp.UPSERT_RECORD)
    ] * 3
    assert result.plan.in_sync == ()
    assert result.plan.skipped == ()


@pytest.mark.parametrize("library_first", [True, False])
async def test_a_server_that_lost_its_plays_never_deletes_the_list_entry(
    tmp_path, library_first
):
    # The list entry keeps no progress (the user cleared it) and the server lost
    # every play: nothing is "plays removed" to report, and still the server's
    # emptiness is never a removal that deletes the list entry.
    the_list, stores = show_list(), MemoryStores()
    await sync_with_library(tmp_path, played(range(1, 5)), the_list, stores,
                            library_first=library_first)  # fmt: skip
    rec = the_list.record(Ref("100"))
    values = {f: v for f, v in rec.values.items() if f is not RecordField.PROGRESS}
    the_list.put_record(replace(rec, values=values, updated_at=LATER))
    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    result = await sync_with_library(tmp_path, played(()), the_list, stores, deletes,
                                     library_first=library_first)  # fmt: skip
    assert result.plan.actions == ()
    assert [s for s in result.plan.skipped if s.provider == "al"] == []
    assert the_list.record(Ref("100")) is not None


async def test_titles_gone_from_the_second_side_are_each_deleted_once():
    # Lists with their own keys (AniList 20, MAL m20). MAL loses both titles
    # outright; AniList's 21 is unlinked from MAL, so only the backward search
    # finds that pair, past a pair the planners handled and past another provider
    # pair's baseline of the profile. Each title is deleted on AniList once.
    from anibridge.bridge.stores import Baseline, Override

    ids = [("20", "Naruto", 220), ("21", "One Piece", 1100), ("22", "Bleach", 366)]
    al = tracker(
        [(k, t, n, [f"anilist:{k}", f"mal:{k}"]) for k, t, n in ids],
        [list_record(k, status=Status.ACTIVE, progress=5, updated_at=T0)
         for k, _, _ in ids],
        authorities=("anilist", "mal"),
    )  # fmt: skip
    mal = tracker(
        [(f"m{k}", t, n, [f"mal:{k}"]) for k, t, n in ids],
        [list_record(f"m{k}", status=Status.ACTIVE, progress=5, updated_at=T0)
         for k, _, _ in ids],
        authorities=("mal",),
    )  # fmt: skip
    providers, stores = {"al": al, "mal": mal}, MemoryStores()
    other = Baseline("default", "another-pair", "@entry", "x", "y", "")
    stores.put_baselines([other])  # another pair of the profile, listed first
    deletes = replace(TWO, allow_deletes=True, max_delete_fraction=1.0)
    await sync(providers, stores, deletes)
    links = {(b.source_value, b.target_value): link
             for (link, f), b in stores.baselines("default").items()
             if f == "@entry"}  # fmt: skip
    assert list(links)[:3] == [("x", "y"), ("20", "m20"), ("21", "m21")]
    stores.put_override(Override("default", "al", "21", "mal", None))
    for key in ("m20", "m21"):
        mal.remove_record(Ref(key))
        mal.remove_node(Ref(key))
    result = await sync(providers, stores, deletes)
    assert sorted(
        (a.provider, a.op.value, a.ref.key, a.source, a.link)
        for a in result.plan.actions
    ) == [
        ("al", "delete_record", "20", "mal", links[("20", "m20")]),
        ("al", "delete_record", "21", "mal", links[("21", "m21")]),
    ]
    assert al.record(Ref("20")) is None and al.record(Ref("21")) is None
    assert al.record(Ref("22")) is not None


@pytest.mark.parametrize("library_first", [True, False])
async def test_new_plays_on_a_show_rated_on_the_server_reach_the_list(
    tmp_path, library_first
):
    # A show rated on the server has a record on its anchor, holding only that
    # rating: its progress and status are still its plays, and they go over as
    # one way. The rating itself is settled against its baseline as before.
    from bridge_support import library, watched

    from anibridge.provider.base import Record

    def rated_server(episodes, rating):
        stars = {RecordField.RATING: Rating(rating, (0.0, 10.0, 1.0))}
        show_rating = Record(Ref("s"), updated_at=T0, values=stars)
        shows = [("s", "Show", {1: 12}, ["tvdb_show:500"])]
        return library(shows, [*watched("s", 1, episodes), show_rating], writable=True)

    the_list, stores = show_list(), MemoryStores()
    steps = ((range(1, 5), 4), (range(1, 7), 6), (range(1, 13), 12))
    for episodes, progress in steps:
        server = rated_server(episodes, 8)
        result = await sync_with_library(tmp_path, server, the_list, stores,
                                         library_first=library_first)  # fmt: skip
        assert [(a.provider, a.ref) for a in result.plan.actions] == [
            ("al", Ref("100"))
        ]
        assert value(the_list, "100", RecordField.PROGRESS).current == progress
        assert value(the_list, "100", RecordField.RATING).value == 80
    assert value(the_list, "100", RecordField.STATUS).status is Status.COMPLETED
    # The list's newer rating goes to the server; the plays write nothing back.
    edit(the_list, "100", LATER, rating=Rating(90, (0.0, 100.0, 1.0)))
    server = rated_server(range(1, 13), 8)
    result = await sync_with_library(tmp_path, server, the_list, stores,
                                     library_first=library_first)  # fmt: skip
    assert [(a.provider, a.ref, dict(a.after)) for a in result.plan.actions] == [
        ("plex", Ref("s"), {RecordField.RATING: Rating(9, (0.0, 10.0, 1.0))})
    ]
    quiet = await sync_with_library(tmp_path, server, the_list, stores,
                                    library_first=library_first)  # fmt: skip
    assert quiet.plan.actions == ()


def rated(server, rating, scale):
    """A `played` server (episodes 1-4) whose show the user rated.

    ``library``: the rating on the show's own record (a media server);
    ``history``: in a ratings record of its own kind (Trakt-like).
    """
    from bridge_support import history, library, watched

    from anibridge.provider.base import Record
    from anibridge.provider.testing.memory import episode_ref, play

    shows = [("s", "Show", {1: 12}, ["tvdb_show:500"])]
    kind = "ratings" if server == "history" else ""
    stars = Record(Ref("s"), kind=kind, updated_at=T0,
                   values={RecordField.RATING: Rating(rating, scale)})  # fmt: skip
    if server == "history":
        plays = [play(episode_ref("s", 1, n), T0.replace(hour=n), kind="watch")
                 for n in range(1, 5)]  # fmt: skip
        return history(shows, events=plays, records=[stars])
    return library(shows, [*watched("s", 1, range(1, 5)), stars], writable=True)


@SERVERS
@pytest.mark.parametrize("changed_on", ["list", "server"])
async def test_a_rating_changed_on_one_side_of_a_play_keeping_pair_settles_once(
    tmp_path, library_first, server, changed_on
):
    # The list's rating goes onto the server as the server's own record; the
    # server's rating goes to the list entry. Changed on one side, that side wins
    # and the pair is quiet after: never each side's rating written onto the other
    # (they swapped every run).
    scale = (1.0, 10.0, 1.0) if server == "history" else (0.0, 10.0, 1.0)
    kind = "ratings" if server == "history" else ""
    the_list, stores = show_list(), MemoryStores()
    plays = rated(server, 8, scale)
    await sync_with_library(tmp_path, plays, the_list, stores,
                            library_first=library_first)  # fmt: skip
    assert value(the_list, "100", RecordField.RATING).value == 80
    if changed_on == "list":
        edit(the_list, "100", LATER, rating=Rating(90, (0.0, 100.0, 1.0)))
    else:
        rec = plays.record(Ref("s"), kind)
        stars = {RecordField.RATING: Rating(6, scale)}
        plays.put_record(replace(rec, values=stars, updated_at=LATER))
    want_list, want_server = (90, 9) if changed_on == "list" else (60, 6)
    result = await sync_with_library(tmp_path, plays, the_list, stores,
                                     library_first=library_first)  # fmt: skip
    written = "plex" if changed_on == "list" else "al"
    assert [a.provider for a in result.plan.actions] == [written]
    winner = "al" if changed_on == "list" else "plex"
    [pair] = {link for link, _ in stores.baselines("default")}
    # The losing write is reported, onto the side that changed.
    conflicts = [
        (s.provider, s.field, s.detail, s.link)
        for s in result.plan.skipped
        if s.reason.value == "conflict"
    ]
    assert conflicts == [
        (winner, RecordField.RATING, f"changed on {winner} since the last sync", pair)
    ]
    assert value(the_list, "100", RecordField.RATING).value == want_list
    got = plays.record(Ref("s"), kind).values[RecordField.RATING]
    assert got.value == want_server
    quiet = await sync_with_library(tmp_path, plays, the_list, stores,
                                    library_first=library_first)  # fmt: skip
    assert quiet.plan.actions == ()


@SERVERS
@pytest.mark.parametrize("newer", ["list", "server"])
async def test_a_rating_changed_on_both_sides_of_a_play_keeping_pair_goes_to_the_newest(
    tmp_path, library_first, server, newer
):
    # Both sides' ratings changed since the baseline: the newer edit wins on both
    # sides, the other write is reported as a conflict, and the pair is quiet after.
    scale = (1.0, 10.0, 1.0) if server == "history" else (0.0, 10.0, 1.0)
    kind = "ratings" if server == "history" else ""
    the_list, stores = show_list(), MemoryStores()
    plays = rated(server, 8, scale)
    await sync_with_library(tmp_path, plays, the_list, stores,
                            library_first=library_first)  # fmt: skip
    list_at, server_at = (LATEST, LATER) if newer == "list" else (LATER, LATEST)
    edit(the_list, "100", list_at, rating=Rating(90, (0.0, 100.0, 1.0)))
    rec = plays.record(Ref("s"), kind)
    stars = {RecordField.RATING: Rating(6, scale)}
    plays.put_record(replace(rec, values=stars, updated_at=server_at))
    result = await sync_with_library(tmp_path, plays, the_list, stores,
                                     library_first=library_first)  # fmt: skip
    winner, written = ("al", "plex") if newer == "list" else ("plex", "al")
    assert [a.provider for a in result.plan.actions] == [written]
    [pair] = {link for link, _ in stores.baselines("default")}
    conflicts = [
        (s.provider, s.ref, s.field, s.detail, s.link)
        for s in result.plan.skipped
        if s.reason.value == "conflict"
    ]
    # Reported on the winner's own entry: the write that would have overwritten it.
    assert conflicts == [
        (winner, Ref("100" if winner == "al" else "s"), RecordField.RATING,
         f"changed on both sides; {winner} wins (newest)", pair)
    ]  # fmt: skip
    want_list, want_server = (90, 9) if newer == "list" else (60, 6)
    assert value(the_list, "100", RecordField.RATING).value == want_list
    assert plays.record(Ref("s"), kind).values[RecordField.RATING].value == want_server
    quiet = await sync_with_library(tmp_path, plays, the_list, stores,
                                    library_first=library_first)  # fmt: skip
    assert quiet.plan.actions == ()


@pytest.mark.parametrize("library_first", [True, False])
async def test_a_server_rating_reaches_a_newer_list_whose_new_episodes_go_to_the_server(
    tmp_path, library_first
):
    # Only a rating write onto the server is weighed against the server's rating:
    # the list's new episodes written to the server in the same run do not make the
    # (newer, unrated) list entry win the rating, so the server's rating goes over.
    the_list = tracker([("100", "Show", 12, ["anilist:100"])], [
        list_record("100", status=Status.ACTIVE, progress=6, updated_at=LATEST)
    ])  # fmt: skip
    plays, stores = rated("library", 8, (0.0, 10.0, 1.0)), MemoryStores()
    result = await sync_with_library(tmp_path, plays, the_list, stores,
                                     library_first=library_first)  # fmt: skip
    assert sorted({a.provider for a in result.plan.actions}) == ["al", "plex"]
    assert value(the_list, "100", RecordField.RATING).value == 80
    assert value(the_list, "100", RecordField.PROGRESS).current == 6
    assert [s for s in result.plan.skipped if s.reason.value == "conflict"] == []


@pytest.mark.parametrize("library_first", [True, False])
@pytest.mark.parametrize("first", ["al", "plex"])
async def test_a_rating_changed_on_both_sides_of_a_play_keeping_pair_by_priority(
    tmp_path, library_first, first
):
    # Under the priority rule the side listed first wins, whichever side of the pair
    # it is and however recent the other side's edit.
    policy = replace(TWO, conflict=ConflictRule.PRIORITY,
                     priority=(first, "plex" if first == "al" else "al"))  # fmt: skip
    scale = (0.0, 10.0, 1.0)
    the_list, stores = show_list(), MemoryStores()
    plays = rated("library", 8, scale)
    await sync_with_library(tmp_path, plays, the_list, stores, policy,
                            library_first=library_first)  # fmt: skip
    list_at, server_at = (LATER, LATEST) if first == "al" else (LATEST, LATER)
    edit(the_list, "100", list_at, rating=Rating(90, (0.0, 100.0, 1.0)))
    rec = plays.record(Ref("s"))
    plays.put_record(replace(rec, values={RecordField.RATING: Rating(6, scale)},
                             updated_at=server_at))  # fmt: skip
    result = await sync_with_library(tmp_path, plays, the_list, stores, policy,
                                     library_first=library_first)  # fmt: skip
    assert [s.detail for s in result.plan.skipped if s.reason.value == "conflict"] == [
        f"changed on both sides; {first} wins (priority)"
    ]
    want_list, want_server = (90, 9) if first == "al" else (60, 6)
    assert value(the_list, "100", RecordField.RATING).value == want_list
    assert plays.record(Ref("s")).values[RecordField.RATING].value == want_server


@pytest.mark.parametrize("library_first", [True, False])
async def test_a_rating_changed_on_the_server_wins_over_a_list_entry_touched_later(
    tmp_path, library_first
):
    # Only the server's rating moved since the baseline: it wins although the list
    # entry was saved later (unchanged), which newest-wins alone would have picked.
    scale = (0.0, 10.0, 1.0)
    the_list, stores = show_list(), MemoryStores()
    plays = rated("library", 8, scale)
    await sync_with_library(tmp_path, plays, the_list, stores,
                            library_first=library_first)  # fmt: skip
    rec = plays.record(Ref("s"))
    plays.put_record(replace(rec, values={RecordField.RATING: Rating(6, scale)},
                             updated_at=LATER))  # fmt: skip
    edit(the_list, "100", LATEST)
    result = await sync_with_library(tmp_path, plays, the_list, stores,
                                     library_first=library_first)  # fmt: skip
    assert [a.provider for a in result.plan.actions] == ["al"]
    assert [s.detail for s in result.plan.skipped if s.reason.value == "conflict"] == [
        "changed on plex since the last sync"
    ]
    assert value(the_list, "100", RecordField.RATING).value == 60
    assert plays.record(Ref("s")).values[RecordField.RATING].value == 6
    # The field settled after the rating (notes, on neither side) is baselined too.
    assert "notes" in {f for _, f in stores.baselines("default")}
