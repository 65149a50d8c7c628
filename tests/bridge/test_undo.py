"""Planning the inverse of a run's journal (`anibridge.bridge.undo.plan_undo`).

Journal rows are built directly and the current state is a real memory provider, so
each rule of undo is pinned on its own: what is restored, cleared, removed or
re-created, and what is refused with which reason.
"""

from __future__ import annotations

from dataclasses import replace

from bridge_support import T0, history, tracker

from anibridge.bridge.codec import encode_fields, ref_to_json
from anibridge.bridge.model import Skip, SkipReason
from anibridge.bridge.stores import JournalEntry
from anibridge.bridge.undo import plan_undo
from anibridge.provider.base import (
    Progress,
    Rating,
    Record,
    RecordField,
    Ref,
    State,
    Status,
    Step,
    WriteOp,
)
from anibridge.provider.testing.memory import list_record

F = RecordField
ENTRIES = [("100", "A", 12, ["anilist:100"]), ("200", "B", 12, ["anilist:200"])]
RATING = (0.0, 100.0, 1.0)


def row(action_id, ref="100", *, op="upsert_record", outcome="applied", **kw):
    """A journal row of run R1 on the tracker `anilist`."""
    target = ref if isinstance(ref, Ref) else Ref.anchor(ref)
    return JournalEntry(
        run_id="R1",
        action_id=action_id,
        provider=kw.pop("provider", "anilist"),
        ref=ref_to_json(target),
        op=op,
        outcome=outcome,
        **kw,
    )


def active(n):
    return {
        F.STATUS: State("CURRENT", Status.ACTIVE),
        F.PROGRESS: Progress(n, None),
    }


def keyed(key="100", **values):
    """A tracker entry as the tracker returns it: with its own record id."""
    return replace(list_record(key, **values), key=f"rec-{key}")


def skip(reason, detail, key="100", provider="anilist"):
    return Skip(provider, Ref.anchor(key), None, reason, detail)


async def undo(entries, *records, provider=None):
    target = provider if provider is not None else tracker(ENTRIES, records)
    return await plan_undo(entries, {"anilist": target}, profile="p1")


async def test_an_update_restores_before_values_and_clears_fields_it_added():
    after = {**active(5), F.RATING: Rating(80.0, RATING)}
    entry = row(
        "A1", before=encode_fields(active(3)), after=encode_fields(after),
        clear=["notes"],
    )  # fmt: skip
    now = keyed(status=Status.ACTIVE, progress=5, total=12, rating=80.0)
    plan, undoes = await undo([entry], now)
    assert plan.profile == "p1"
    assert plan.skipped == ()
    (action,) = plan.actions
    assert action.op is WriteOp.UPSERT_RECORD
    assert action.provider == "anilist"
    assert action.ref == Ref.anchor("100")
    assert action.after == active(3)
    assert action.clear == {F.RATING, F.NOTES}
    assert action.before == {
        F.STATUS: now.values[F.STATUS],
        F.PROGRESS: now.values[F.PROGRESS],
        F.RATING: now.values[F.RATING],
    }
    assert action.reason == "undo A1 (run R1)"
    assert action.record_key == "rec-100"
    assert action.kind == ""
    assert undoes == {action.id: "A1"}


async def test_fields_changed_since_the_run_are_kept_and_reported():
    entry = row("A1", before=encode_fields(active(3)), after=encode_fields(active(5)))
    now = list_record("100", status=Status.ACTIVE, progress=7)
    plan, _ = await undo([entry], now)
    (action,) = plan.actions
    assert action.after == {F.STATUS: State("CURRENT", Status.ACTIVE)}
    assert F.PROGRESS not in action.after and F.PROGRESS not in action.before
    assert plan.skipped == (
        skip(SkipReason.STALE, "changed since the run, kept: progress"),
    )


async def test_a_field_the_run_cleared_that_is_back_counts_as_changed():
    before = {**active(3), F.NOTES: "old", F.RATING: Rating(60.0, RATING)}
    entry = row(
        "A1", before=encode_fields(before), after=encode_fields(active(5)),
        clear=["notes", "rating"],
    )  # fmt: skip
    now = list_record("100", status=Status.ACTIVE, progress=5, notes="new")
    plan, _ = await undo([entry], now)
    (action,) = plan.actions
    assert action.after == {**active(3), F.RATING: Rating(60.0, RATING)}
    assert action.clear == frozenset()
    assert plan.skipped[0].detail == "changed since the run, kept: notes"


async def test_every_field_changed_leaves_only_the_report():
    entry = row(
        "A1", before=encode_fields({F.PROGRESS: Progress(3)}),
        after=encode_fields({F.PROGRESS: Progress(5), F.NOTES: "x"}),
    )  # fmt: skip
    now = list_record("100", progress=9, notes="y")
    plan, undoes = await undo([entry], now)
    assert plan.actions == () and undoes == {}
    assert plan.skipped == (
        skip(SkipReason.STALE, "changed since the run, kept: notes, progress"),
    )


async def test_an_update_whose_entry_is_gone_is_reported_not_re_created():
    entry = row(
        "A1", before=encode_fields(active(3)), after=encode_fields({F.NOTES: "x"})
    )  # fmt: skip
    plan, undoes = await undo([entry])
    assert plan.actions == () and undoes == {}
    assert plan.skipped == (
        skip(SkipReason.STALE, "changed since the run, kept: notes"),
    )


async def test_a_field_the_run_cleared_is_restored_even_when_the_entry_is_gone():
    entry = row(
        "A1", before=encode_fields({F.NOTES: "old"}), after=encode_fields(active(5)),
        clear=["notes"],
    )  # fmt: skip
    plan, _ = await undo([entry])
    (action,) = plan.actions
    assert action.after == {F.NOTES: "old"}
    assert action.before == {} and action.record_key is None
    assert plan.skipped == (
        skip(SkipReason.STALE, "changed since the run, kept: progress, status"),
    )


async def test_a_created_entry_is_removed_again():
    entry = row("A1", after=encode_fields(active(5)), created=True)
    now = keyed(status=Status.ACTIVE, progress=5, repeat=0)
    plan, undoes = await undo([entry], now)
    (action,) = plan.actions
    assert action.op is WriteOp.DELETE_RECORD
    assert action.record_key == "rec-100"
    assert action.before == now.values
    assert action.reason == "undo A1 (run R1)"
    assert plan.skipped == ()
    assert undoes == {action.id: "A1"}


async def test_a_created_entry_that_now_holds_user_data_is_kept():
    entry = row("A1", after=encode_fields(active(5)), created=True)
    now = list_record(
        "100", status=Status.ACTIVE, progress=5, rating=70.0, notes="mine", repeat=1
    )  # fmt: skip
    plan, _ = await undo([entry], now)
    assert plan.actions == ()
    assert plan.skipped == (
        skip(
            SkipReason.STALE,
            "refused to remove the entry the run created: it now holds "
            "notes, rating, repeat_count",
        ),
    )


async def test_a_created_entry_changed_since_is_kept_with_the_changed_fields():
    entry = row("A1", after=encode_fields(active(5)), created=True)
    now = list_record("100", status=Status.PAUSED, progress=8, notes="mine")
    plan, _ = await undo([entry], now)
    assert plan.actions == ()
    assert plan.skipped == (
        skip(SkipReason.STALE, "changed since the run: progress, status"),
    )


async def test_a_created_entry_already_gone_is_reported_as_gone():
    entry = row("A1", after=encode_fields(active(5)), created=True)
    plan, _ = await undo([entry])
    assert plan.actions == ()
    assert plan.skipped == (skip(SkipReason.STALE, "already gone"),)


async def test_a_created_entry_on_a_provider_that_cannot_delete_is_not_writable():
    entry = row("A1", after=encode_fields(active(5)), created=True)
    provider = tracker(ENTRIES, [list_record("100", status=Status.ACTIVE, progress=5)])
    caps = provider.capabilities()
    provider._capabilities = replace(caps, write_ops=frozenset({WriteOp.UPSERT_RECORD}))
    plan, _ = await undo([entry], provider=provider)
    assert plan.actions == ()
    assert plan.skipped == (
        skip(SkipReason.NOT_WRITABLE, "cannot remove the entry the run created"),
    )


async def test_a_deleted_entry_is_re_created_from_its_journaled_values():
    before = {**active(4), F.NOTES: "kept"}
    entry = row("A1", op="delete_record", before=encode_fields(before))
    plan, undoes = await undo([entry])
    (action,) = plan.actions
    assert action.op is WriteOp.UPSERT_RECORD
    assert action.after == before
    assert action.created is True
    assert action.provider == "anilist" and action.kind == ""
    assert action.reason == "undo A1 (run R1)"
    assert undoes == {action.id: "A1"}


async def test_undo_keeps_the_record_kind():
    rated = Record(
        ref=Ref.anchor("show"), kind="ratings", key="r9",
        values={F.RATING: Rating(8.0, (1.0, 10.0, 1.0))},
    )  # fmt: skip
    gone = row(
        "A1", "gone", op="delete_record", kind="ratings",
        before=encode_fields({F.RATING: Rating(6.0, (1.0, 10.0, 1.0))}),
    )  # fmt: skip
    created = row(
        "A2", "show", kind="ratings", created=True,
        after=encode_fields({F.RATING: Rating(8.0, (1.0, 10.0, 1.0))}),
    )  # fmt: skip
    changed = row(
        "A3", "show", kind="ratings",
        before=encode_fields({F.RATING: Rating(5.0, (1.0, 10.0, 1.0))}),
        after=encode_fields({F.RATING: Rating(8.0, (1.0, 10.0, 1.0))}),
    )  # fmt: skip
    provider = history([("show", "S", {1: 2}, [])], records=[rated])
    plan, _ = await undo([gone, created, changed], provider=provider)
    assert [(a.op, a.kind, a.record_key) for a in plan.actions] == [
        (WriteOp.UPSERT_RECORD, "ratings", "r9"),
        (WriteOp.DELETE_RECORD, "ratings", "r9"),
        (WriteOp.UPSERT_RECORD, "ratings", None),
    ]


async def test_a_deleted_entry_that_exists_again_is_not_re_created():
    entry = row("A1", op="delete_record", before=encode_fields(active(4)))
    plan, _ = await undo([entry], list_record("100", status=Status.PAUSED))
    assert plan.actions == ()
    assert plan.skipped == (
        skip(SkipReason.STALE, "the entry exists again; not re-created"),
    )


async def test_an_appended_play_is_deleted_at_its_time_where_plays_can_be_deleted():
    ep = Ref("show", (Step("season", 1), Step("episode", 2)))
    entry = row(
        "A1", ep, op="append_event", kind="watch", at="2024-03-01T12:00:00+00:00"
    )  # fmt: skip
    provider = history([("show", "S", {1: 12}, [])])
    plan, undoes = await undo([entry], provider=provider)
    (action,) = plan.actions
    assert action.op is WriteOp.DELETE_EVENT
    assert action.ref == ep and action.kind == "watch"
    assert action.at == T0
    assert action.reason == "undo A1 (run R1)"
    assert undoes == {action.id: "A1"}


async def test_a_play_is_not_undone_where_plays_cannot_be_deleted_or_have_no_time():
    with_time = row("A1", op="append_event", at="2024-03-01T12:00:00+00:00")
    no_time = row("A2", "200", op="append_event")
    plan, _ = await undo([with_time])
    assert plan.actions == ()
    assert plan.skipped == (
        skip(SkipReason.NOT_WRITABLE, "provider cannot delete plays"),
    )
    plan, _ = await undo([no_time], provider=history([("200", "B", {1: 2}, [])]))
    assert plan.actions == ()
    assert plan.skipped == (
        skip(SkipReason.NOT_WRITABLE, "provider cannot delete plays", "200"),
    )


async def test_other_operations_are_not_undone():
    plan, _ = await undo([row("A1", op="delete_event", at="2024-03-01T12:00:00Z")])
    assert plan.actions == ()
    assert plan.skipped == (skip(SkipReason.NOT_WRITABLE, "cannot undo delete_event"),)


async def test_unsettled_rows_are_refused_with_their_error_and_not_inverted():
    pending = row("A1", outcome="pending", after=encode_fields(active(5)), created=True)
    unknown = row("A2", "200", outcome="unknown", error_text="timed out")
    now = list_record("100", status=Status.ACTIVE, progress=5)
    plan, undoes = await undo([pending, unknown], now)
    assert plan.actions == () and undoes == {}
    assert [(s.ref.key, s.reason, s.detail, s.field) for s in plan.skipped] == [
        ("100", SkipReason.UNCONFIRMED,
         "whether this write landed is not known yet (no answer); undo it again later",
         None),
        ("200", SkipReason.UNCONFIRMED,
         "whether this write landed is not known yet (timed out); undo it again later",
         None),
    ]  # fmt: skip
    assert all(s.provider == "anilist" for s in plan.skipped)


async def test_rows_that_did_not_apply_are_ignored():
    rows = [
        row("A1", outcome=o, after=encode_fields(active(5)), created=True)
        for o in ("failed", "stale", "skipped", "unchanged")
    ]
    plan, undoes = await undo(
        rows, list_record("100", status=Status.ACTIVE, progress=5)
    )
    assert plan.actions == () and plan.skipped == () and undoes == {}


async def test_rows_of_an_unconfigured_provider_are_refused_each():
    mine = row("A0", before=encode_fields(active(1)), after=encode_fields(active(2)))
    rows = [mine, row("A1", provider="mal"), row("A2", "200", provider="mal")]
    now = list_record("100", status=Status.ACTIVE, progress=2)
    plan, _ = await undo(rows, now)
    assert [a.after for a in plan.actions] == [active(1)]
    not_configured = "provider 'mal' not configured"
    assert plan.skipped == (
        skip(SkipReason.NO_TARGET, not_configured, "200", "mal"),
        skip(SkipReason.NO_TARGET, not_configured, "100", "mal"),
    )


async def test_a_run_is_undone_newest_action_first():
    first = row("A1", before=encode_fields(active(1)), after=encode_fields(active(2)))
    second = row(
        "A2", "200", before=encode_fields(active(6)), after=encode_fields(active(7))
    )  # fmt: skip
    now = [
        list_record("100", status=Status.ACTIVE, progress=2),
        list_record("200", status=Status.ACTIVE, progress=7),
    ]
    plan, undoes = await undo([first, second], *now)
    assert [a.ref.key for a in plan.actions] == ["200", "100"]
    assert [undoes[a.id] for a in plan.actions] == ["A2", "A1"]
