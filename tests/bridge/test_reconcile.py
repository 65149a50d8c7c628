"""`anibridge.bridge.reconcile`: rows whose answer was lost, settled by a re-read.

Rows are written straight into the journal and the target is a real memory provider
holding (or not holding) what the row wrote, so each rule that decides between
applied / failed / stale / unknown is asked directly.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bridge_support import history, history_capabilities, tracker

from anibridge.bridge.codec import encode_fields, ref_to_json
from anibridge.bridge.reconcile import Reconciled, reconcile, resolve
from anibridge.bridge.stores import JournalEntry, MemoryStores, RunRecord
from anibridge.provider.base import (
    Event,
    Record,
    RecordField,
    Ref,
    Status,
    WriteOp,
)
from anibridge.provider.semantics import WriteSemantics
from anibridge.provider.testing.memory import library_show, list_record, memory_provider

F = RecordField
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SENT = NOW - timedelta(minutes=10)
ENTRIES = [("1", "A", 12, ["anilist:1"]), ("2", "B", 12, ["anilist:2"])]


def row(
    action: str,
    op: str = "upsert_record",
    *,
    ref: Ref | str = "1",
    kind: str = "",
    before=None,
    after=None,
    clear=(),
    created: bool = False,
    at: datetime | None = None,
    outcome: str = "pending",
    error_text: str | None = None,
    started_at: datetime | None = SENT,
    run: str = "r1",
    provider: str = "anilist",
) -> JournalEntry:
    anchor = ref if isinstance(ref, Ref) else Ref.anchor(ref)
    return JournalEntry(
        run_id=run,
        action_id=action,
        provider=provider,
        ref=ref_to_json(anchor),
        op=op,
        kind=kind,
        before=encode_fields(before or {}),
        after=encode_fields(after or {}),
        clear=tuple(f.value for f in clear),
        at=at.isoformat() if at else None,
        outcome=outcome,
        error_text=error_text,
        started_at=started_at.isoformat() if started_at else "",
        created=created,
    )


def target(*records):
    return tracker(ENTRIES, records=records)


def status(s: Status):
    return list_record("1", status=s).values[F.STATUS]


ACTIVE, DONE = status(Status.ACTIVE), status(Status.COMPLETED)


async def outcome(provider, entry, *, now=NOW):
    found = await resolve(provider, [entry], now=now)
    res = found[(entry.run_id, entry.action_id)]
    return res.outcome, res.detail


# -- record writes -------------------------------------------------------------


async def test_an_upsert_the_target_holds_is_applied():
    p = target(list_record("1", status=Status.COMPLETED, progress=12))
    e = row("a", before={F.STATUS: ACTIVE}, after={F.STATUS: DONE})
    assert await outcome(p, e) == ("applied", "confirmed by a re-read")


async def test_an_upsert_that_did_not_land_is_failed_with_the_error_seen():
    p = target(list_record("1", status=Status.ACTIVE))
    e = row("a", before={F.STATUS: ACTIVE}, after={F.STATUS: DONE})
    assert await outcome(p, e) == ("failed", "not applied (re-read): no answer")
    e = row("b", before={F.STATUS: ACTIVE}, after={F.STATUS: DONE}, error_text="503")
    assert await outcome(p, e) == ("failed", "not applied (re-read): 503")


async def test_an_upsert_overwritten_by_something_else_is_stale():
    p = target(list_record("1", status=Status.PAUSED))
    e = row("a", before={F.STATUS: ACTIVE}, after={F.STATUS: DONE})
    got, detail = await outcome(p, e)
    assert got == "stale"
    assert detail == (
        "re-read after an unanswered write: the target holds neither the written "
        "nor the previous values (changed by something else)"
    )


async def test_a_write_is_applied_only_if_every_field_and_every_clear_landed():
    before = {F.STATUS: ACTIVE, F.NOTES: "old"}
    e = row("a", before=before, after={F.STATUS: DONE}, clear=[F.NOTES])
    # status written, the note still there: the write did not land as a whole
    half = target(list_record("1", status=Status.COMPLETED, notes="old"))
    assert (await outcome(half, e))[0] == "stale"
    done = target(list_record("1", status=Status.COMPLETED))
    assert (await outcome(done, e))[0] == "applied"
    untouched = target(list_record("1", status=Status.ACTIVE, notes="old"))
    assert (await outcome(untouched, e))[0] == "failed"
    # a field that was unset before must still be unset for "nothing landed"
    e = row("b", before={}, after={F.NOTES: "new"})
    assert (await outcome(target(list_record("1", notes="other")), e))[0] == "stale"
    assert (await outcome(target(list_record("1", progress=3)), e))[0] == "failed"


async def test_two_field_write_with_one_field_landed_is_not_applied():
    e = row(
        "a",
        before={
            F.STATUS: ACTIVE,
            F.PROGRESS: list_record("1", progress=3).values[F.PROGRESS],
        },
        after={
            F.STATUS: DONE,
            F.PROGRESS: list_record("1", progress=12).values[F.PROGRESS],
        },
    )
    p = target(list_record("1", status=Status.COMPLETED, progress=3))
    assert (await outcome(p, e))[0] == "stale"
    p = target(list_record("1", status=Status.ACTIVE, progress=3))
    assert (await outcome(p, e))[0] == "failed"


async def test_a_create_is_failed_while_absent_and_stale_when_someone_else_made_it():
    e = row("a", after={F.STATUS: DONE}, created=True)
    assert (await outcome(target(), e))[0] == "failed"
    other = target(list_record("1", status=Status.PAUSED))
    assert (await outcome(other, e))[0] == "stale"
    landed = target(list_record("1", status=Status.COMPLETED))
    assert (await outcome(landed, e))[0] == "applied"


async def test_an_update_of_a_record_that_is_gone_is_stale():
    e = row("a", before={F.STATUS: ACTIVE}, after={F.STATUS: DONE})
    assert (await outcome(target(), e))[0] == "stale"


async def test_a_delete_is_applied_once_the_record_is_gone():
    e = row("a", "delete_record", before={F.STATUS: ACTIVE})
    assert (await outcome(target(), e))[0] == "applied"
    still = target(list_record("1", status=Status.ACTIVE))
    assert (await outcome(still, e))[0] == "failed"


async def test_records_are_matched_by_ref_and_kind():
    # a history service keeps a watchlist entry and a rating on the same show
    shows = [("t", "Naruto", {1: 35}, ["tvdb_show:1"])]
    watchlist = Record(Ref.anchor("t"), kind="watchlist")
    p = history(shows, records=[watchlist])
    rating = list_record("t", rating=8, rating_scale=(1, 10, 1)).values[F.RATING]
    e = row("a", ref="t", kind="ratings", after={F.RATING: rating}, created=True)
    assert (await outcome(p, e))[0] == "failed"  # the watchlist row is not it
    e = row("b", ref="t", kind="watchlist", after={}, created=True)
    assert (await outcome(p, e))[0] == "applied"


async def test_many_refs_are_re_read_in_batches_and_pages():
    entries = [(str(i), f"T{i}", 12, [f"anilist:{i}"]) for i in range(105)]
    p = tracker(
        entries,
        records=[list_record(str(i), status=Status.COMPLETED) for i in range(105)],
    )
    p.page_size = 7
    rows = [row(str(i), ref=str(i), after={F.STATUS: DONE}) for i in range(105)]
    found = await resolve(p, rows, now=NOW)
    assert {r.outcome for r in found.values()} == {"applied"}
    assert len(found) == 105
    queries = [q for method, q in p.calls if method == "fetch_records"]
    assert max(len(q.refs) for q in queries) == 100


# -- event writes ----------------------------------------------------------------


EP = Ref.at("t", ("season", 1), ("episode", 1))
SHOWS = [("t", "Naruto", {1: 35}, ["tvdb_show:1"])]
PLAYED = datetime(2024, 4, 30, 20, 15, 30, tzinfo=UTC)


def pages_once(provider):
    """Fail at once instead of hanging when plays are re-read in an endless loop.

    No test here reads more than a few dozen pages; a re-read that asks the same
    page over and over would otherwise only end at the mutation run's timeout.
    """
    fetch, calls = provider.fetch_events, []

    async def bounded(query):
        calls.append(query)
        assert len(calls) <= 50, "plays re-read in an endless loop"
        return await fetch(query)

    provider.fetch_events = bounded
    return provider


def plays(*times, ref=EP, kind="watch"):
    return pages_once(history(SHOWS, events=[Event(ref, kind, at) for at in times]))


async def test_all_pages_of_plays_are_read():
    # first of the play tests: a paging mistake fails here instead of hanging
    times = [PLAYED + timedelta(hours=h) for h in range(5)]
    p = history(SHOWS, events=[Event(EP, "watch", at) for at in times])
    p.page_size = 2
    asked = []
    fetch = p.fetch_events

    async def each_page_once(query):
        assert query.cursor not in asked, "a page was asked for twice"
        asked.append(query.cursor)
        return await fetch(query)

    p.fetch_events = each_page_once
    e = row("a", "append_event", ref=EP, kind="watch", at=times[-1])
    assert (await outcome(p, e))[0] == "applied"
    assert asked == [None, "offset:2", "offset:4"]


async def test_an_append_is_applied_when_the_play_is_there_to_the_second():
    p = plays(PLAYED.replace(microsecond=0))
    e = row("a", "append_event", ref=EP, kind="watch", at=PLAYED.replace(microsecond=7))
    assert (await outcome(p, e))[0] == "applied"
    other_second = row(
        "b", "append_event", ref=EP, kind="watch", at=PLAYED + timedelta(seconds=1)
    )
    assert (await outcome(p, other_second))[0] == "failed"
    other_ep = Ref.at("t", ("season", 1), ("episode", 2))
    e = row("c", "append_event", ref=other_ep, kind="watch", at=PLAYED)
    assert (await outcome(p, e))[0] == "failed"


async def test_a_delete_of_a_play_is_applied_once_it_is_gone():
    e = row("a", "delete_event", ref=EP, kind="watch", at=PLAYED)
    assert (await outcome(plays(), e))[0] == "applied"
    assert (await outcome(plays(PLAYED), e))[0] == "failed"


async def test_plays_are_compared_by_meaning_of_their_kind():
    # the journal names the native kind; the service reports the same play
    e = row("a", "append_event", ref=EP, kind="watch", at=PLAYED)
    assert (await outcome(plays(PLAYED, kind="watch"), e))[0] == "applied"
    # a kind the provider does not declare still matches itself
    e = row("b", "append_event", ref=EP, kind="checkin", at=PLAYED)
    assert (await outcome(plays(PLAYED, kind="checkin"), e))[0] == "applied"
    assert (await outcome(plays(PLAYED, kind="watch"), e))[0] == "failed"


async def test_an_event_row_without_a_time_is_not_settled():
    e = row("a", "append_event", ref=EP, kind="watch", at=None)
    assert await resolve(plays(PLAYED), [e], now=NOW) == {}
    # and the rows after it still are
    timed = row("b", "append_event", ref=EP, kind="watch", at=PLAYED)
    found = await resolve(plays(PLAYED), [e, timed], now=NOW)
    assert list(found) == [("r1", "b")]


async def test_a_play_of_another_meaning_at_that_second_is_not_the_play_sent():
    # the service declares "scrobble" as a play and "checkin" as a check-in
    from anibridge.provider.base import Descriptor, EventKind

    caps = replace(
        history_capabilities(),
        event_kinds=(
            Descriptor("watch", EventKind.PLAY),
            Descriptor("scrobble", EventKind.PLAY),
            Descriptor("checkin", EventKind.CHECKIN),
        ),
    )
    nodes = library_show("t", "Naruto", {1: 35})[:1]
    e = row("a", "append_event", ref=EP, kind="watch", at=PLAYED)
    scrobbled = memory_provider(
        caps, nodes=nodes, events=[Event(EP, "scrobble", PLAYED)]
    )
    assert (await outcome(scrobbled, e))[0] == "applied"
    checked_in = memory_provider(
        caps, nodes=nodes, events=[Event(EP, "checkin", PLAYED)]
    )
    assert (await outcome(checked_in, e))[0] == "failed"


async def test_plays_of_many_refs_are_re_read_in_batches():
    refs = [Ref.at("t", ("season", 1), ("episode", n)) for n in range(1, 106)]
    p = history(SHOWS, events=[Event(r, "watch", PLAYED) for r in refs])
    rows = [
        row(str(i), "append_event", ref=r, kind="watch", at=PLAYED)
        for i, r in enumerate(refs)
    ]
    found = await resolve(p, rows, now=NOW)
    assert len(found) == 105
    assert {r.outcome for r in found.values()} == {"applied"}
    # one query per 100 refs (each read to its last page)
    queries = [q for method, q in p.calls if method == "fetch_events"]
    assert [len(q.refs) for q in queries if q.cursor is None] == [100, 5]
    assert {r for q in queries for r in q.refs} == set(refs)


# -- the settle window -----------------------------------------------------------


def late(provider, settle=timedelta(hours=1)):
    provider.write_semantics = lambda: WriteSemantics(
        frozenset({WriteOp.APPEND_EVENT}), settle
    )
    return provider


async def test_a_lost_unrepeatable_append_waits_out_the_settle_window():
    e = row("a", "append_event", ref=EP, kind="watch", at=PLAYED)
    p = late(plays())
    got, detail = await outcome(p, e, now=SENT + timedelta(minutes=59))
    assert got == "unknown"
    assert detail == (
        "not seen on the target yet; the service may still apply it until "
        "2024-05-01T12:50:00+00:00, so it is not sent again before then"
    )
    # at the end of the window it is failed (and may be sent again)
    assert (await outcome(p, e, now=SENT + timedelta(hours=1)))[0] == "failed"
    # a row without a send time counts from now: still inside
    e = row("b", "append_event", ref=EP, kind="watch", at=PLAYED, started_at=None)
    assert (await outcome(p, e, now=NOW))[0] == "unknown"


async def test_repeatable_writes_do_not_wait_for_a_settle_window():
    e = row("a", "delete_event", ref=EP, kind="watch", at=PLAYED)
    p = late(plays(PLAYED))
    assert (await outcome(p, e, now=SENT))[0] == "failed"


async def test_the_current_time_is_the_default_clock():
    e = row("a", "append_event", ref=EP, kind="watch", at=PLAYED, started_at=None)
    # sent "now" (no start time): inside the window whatever the wall clock says
    assert (await resolve(late(plays()), [e]))[("r1", "a")].outcome == "unknown"
    # sent long ago: out of the window by the wall clock
    old = row("b", "append_event", ref=EP, kind="watch", at=PLAYED, started_at=SENT)
    assert (await resolve(late(plays()), [old]))[("r1", "b")].outcome == "failed"


async def test_rows_a_provider_cannot_re_read_are_left_out():
    library_only = tracker(ENTRIES)
    e = row("a", "append_event", ref=EP, kind="watch", at=PLAYED)
    assert await resolve(library_only, [e], now=NOW) == {}
    # a play history that keeps no records cannot say whether a record is gone
    caps = history_capabilities()
    events_only = memory_provider(
        replace(caps, record_kinds=(), record_fields={},
                write_ops=caps.write_ops - {WriteOp.UPSERT_RECORD,
                                            WriteOp.DELETE_RECORD}),
        nodes=library_show("t", "Naruto", {1: 35})[:1],
    )  # fmt: skip
    gone = row("b", "delete_record", ref="t", before={F.STATUS: ACTIVE})
    assert await resolve(events_only, [gone], now=NOW) == {}


# -- reconcile -------------------------------------------------------------------


def journal(*rows, profile="p"):
    stores = MemoryStores()
    for run in {r.run_id for r in rows}:
        stores.start_run(RunRecord(run, profile, SENT.isoformat()))
    stores.record(rows)
    return stores


async def test_reconcile_settles_rows_and_counts_them_by_outcome():
    p = target(list_record("1", status=Status.COMPLETED))
    applied = row("a", before={F.STATUS: ACTIVE}, after={F.STATUS: DONE})
    failed = row("b", "delete_record", before={F.STATUS: DONE}, error_text="timeout")
    stale = row("c", ref="2", before={F.STATUS: ACTIVE}, after={F.STATUS: DONE})
    stores = journal(applied, failed, stale)
    found = await reconcile({"anilist": p}, stores.bundle(), "p", now=NOW)
    assert found.settled == {"applied": 1, "failed": 1, "stale": 1}
    assert found.count == 3
    assert found.waiting == [] and found.missing == set()
    rows = {e.action_id: e for e in stores.entries("r1")}
    assert rows["a"].outcome == "applied" and rows["a"].error_text is None
    assert rows["b"].outcome == "failed"
    assert rows["b"].error_text == "not applied (re-read): timeout"
    assert rows["c"].outcome == "stale" and rows["c"].error_text.startswith("re-read")
    assert {e.finished_at for e in rows.values()} == {NOW.isoformat()}
    assert stores.unresolved("p") == []


async def test_reconcile_of_a_profile_without_open_rows_does_nothing():
    p = target()
    stores = journal(row("a", after={F.STATUS: DONE}), profile="other")
    found = await reconcile({"anilist": p}, stores.bundle(), "p", now=NOW)
    assert found == Reconciled()
    assert found.count == 0
    assert p.calls == []
    done = journal(row("a", after={F.STATUS: DONE}, outcome="applied"))
    assert (await reconcile({"anilist": p}, done.bundle(), "p", now=NOW)).count == 0
    assert p.calls == []


async def test_rows_of_a_provider_not_configured_wait_and_name_it():
    e = row("a", after={F.STATUS: DONE}, provider="mal")
    stores = journal(e)
    found = await reconcile({"anilist": target()}, stores.bundle(), "p", now=NOW)
    assert found.missing == {"mal"}
    assert found.waiting == [e]
    assert found.settled == {}
    assert stores.entries("r1") == [e]


async def test_rows_a_provider_cannot_re_read_wait_with_the_reason():
    e = row("a", "append_event", ref=EP, kind="watch", at=PLAYED)
    stores = journal(e)
    found = await reconcile({"anilist": target()}, stores.bundle(), "p", now=NOW)
    assert [w.error_text for w in found.waiting] == [
        "anilist cannot be re-read to settle it"
    ]
    assert found.count == 0 and found.missing == set()
    assert stores.entries("r1") == [e]  # the journal row itself is unchanged


async def test_rows_inside_their_settle_window_wait_and_are_marked_unknown_once():
    e = row("a", "append_event", ref=EP, kind="watch", at=PLAYED, provider="trakt")
    stores = journal(e)
    providers = {"trakt": late(plays())}
    found = await reconcile(providers, stores.bundle(), "p", now=NOW)
    assert found.count == 0
    [waiting] = found.waiting
    assert waiting.error_text.startswith("not seen on the target yet")
    [stored] = stores.entries("r1")
    assert stored.outcome == "unknown"
    assert stored.error_text == waiting.error_text
    assert stored.finished_at is None

    # the next reconcile finds the same: the row is not written again
    writes = []
    original = stores.record

    def counting(rows):
        rows = list(rows)
        writes.append(rows)
        original(rows)

    stores.record = counting
    found = await reconcile(providers, stores.bundle(), "p", now=NOW)
    assert len(found.waiting) == 1 and writes == []


async def test_an_unknown_row_gets_the_settle_reason_instead_of_the_write_error():
    e = row(
        "a", "append_event", ref=EP, kind="watch", at=PLAYED, provider="trakt",
        outcome="unknown", error_text="read timeout",
    )  # fmt: skip
    stores = journal(e)
    found = await reconcile({"trakt": late(plays())}, stores.bundle(), "p", now=NOW)
    [stored] = stores.entries("r1")
    assert stored.outcome == "unknown"
    assert stored.error_text == found.waiting[0].error_text
    assert stored.error_text.startswith("not seen on the target yet")


async def test_one_provider_missing_does_not_stop_the_others():
    missing = row("a", after={F.STATUS: DONE}, provider="mal")
    here = row("b", before={F.STATUS: ACTIVE}, after={F.STATUS: DONE})
    stores = journal(missing, here)
    p = target(list_record("1", status=Status.COMPLETED))
    found = await reconcile({"anilist": p}, stores.bundle(), "p", now=NOW)
    assert found.missing == {"mal"}
    assert found.settled == {"applied": 1}


async def test_a_row_that_cannot_be_re_read_does_not_stop_the_next_rows():
    unreadable = row("a", "append_event", ref=EP, kind="watch", at=PLAYED)
    readable = row("b", before={F.STATUS: ACTIVE}, after={F.STATUS: DONE})
    stores = journal(unreadable, readable)
    p = target(list_record("1", status=Status.COMPLETED))
    found = await reconcile({"anilist": p}, stores.bundle(), "p", now=NOW)
    assert found.settled == {"applied": 1}
    assert [w.action_id for w in found.waiting] == ["a"]


async def test_a_row_still_waiting_does_not_stop_the_next_rows():
    providers = {"trakt": late(plays(PLAYED))}
    first = await reconcile(
        providers,
        journal(
            row("a", "append_event", ref=EP, kind="watch",
                at=PLAYED + timedelta(hours=1), provider="trakt"),
        ).bundle(),
        "p",
        now=NOW,
    )  # fmt: skip
    detail = first.waiting[0].error_text
    waiting = row("a", "append_event", ref=EP, kind="watch",
                  at=PLAYED + timedelta(hours=1), provider="trakt",
                  outcome="unknown", error_text=detail)  # fmt: skip
    landed = row("b", "append_event", ref=EP, kind="watch", at=PLAYED,
                 provider="trakt")  # fmt: skip
    stores = journal(waiting, landed)
    found = await reconcile(providers, stores.bundle(), "p", now=NOW)
    assert found.settled == {"applied": 1}
    assert [w.action_id for w in found.waiting] == ["a"]
