"""The same protocol tests run on MemoryStores, SQLite and (when set) PostgreSQL."""

from __future__ import annotations

import functools
from dataclasses import replace

from anibridge.bridge.stores import (
    Baseline,
    BaselineStore,
    CursorStore,
    JournalEntry,
    JournalStore,
    Link,
    LinkStore,
    Override,
    Pin,
    PinStore,
    RunRecord,
    RunStore,
)


def test_implements_every_protocol(stores):
    for proto in (
        LinkStore,
        BaselineStore,
        RunStore,
        JournalStore,
        CursorStore,
        PinStore,
    ):
        assert isinstance(stores, proto), proto.__name__


def _link(**kw) -> Link:
    base = dict(
        profile="p",
        source_provider="plex",
        source_key="show1",
        source_part="tvdb_show:1:s1",
        target_provider="anilist",
        target_ref="21",
        via="mapping",
        edge="tvdb_show:1:s1 -> anilist:21 {1-12: 1-12}",
        created_at="2026-01-01T00:00:00+00:00",
    )
    base.update(kw)
    return Link(**base)


def test_links_put_keeps_first_created_at_and_filters_by_pair(stores):
    first = _link()
    stores.put_links([first, _link(target_provider="mal", target_ref="1")])
    stores.put_links(
        [replace(first, via="override", created_at="2027-01-01T00:00:00+00:00")]
    )
    got = stores.links("p", "plex", "anilist")
    assert len(got) == 1
    assert got[0].via == "override"
    assert got[0].created_at == "2026-01-01T00:00:00+00:00"
    assert got[0].id == first.id
    assert [lk.target_ref for lk in stores.links("p", "plex", "mal")] == ["1"]
    assert stores.links("other", "plex", "anilist") == []
    stores.remove_links([first.id])
    assert stores.links("p", "plex", "anilist") == []


def test_overrides_replace_by_key_and_allow_unlink(stores):
    stores.put_override(Override("p", "plex", "show1", "anilist", None))
    stores.put_override(Override("p", "plex", "show1", "anilist", None))
    stores.put_override(
        Override("p", "plex", "show2", "anilist", "99", "tvdb_show:2:s1")
    )
    got = sorted(stores.overrides("p", "plex", "anilist"), key=lambda o: o.source_key)
    assert [(o.source_key, o.target_ref, o.source_part) for o in got] == [
        ("show1", None, ""),
        ("show2", "99", "tvdb_show:2:s1"),
    ]
    assert stores.overrides("p", "plex", "mal") == []


def test_baselines_roundtrip_json_values_and_remove(stores):
    b1 = Baseline(
        "p", "L1", "status", {"native": "CURRENT", "status": "active"}, None, "t"
    )
    b2 = Baseline(
        "p", "L1", "progress", {"current": 3, "total": 12, "unit": None}, 3, "t"
    )
    stores.put_baselines([b1, b2, Baseline("q", "L1", "status", 1, 1, "t")])
    got = stores.baselines("p")
    assert set(got) == {("L1", "status"), ("L1", "progress")}
    assert got[("L1", "status")].source_value == {
        "native": "CURRENT",
        "status": "active",
    }
    assert got[("L1", "status")].target_value is None
    assert got[("L1", "progress")].target_value == 3
    stores.put_baselines([replace(b1, target_value="x")])
    assert stores.baselines("p")[("L1", "status")].target_value == "x"
    stores.remove_baselines("p", [("L1", "status")])
    assert set(stores.baselines("p")) == {("L1", "progress")}
    assert set(stores.baselines("q")) == {("L1", "status")}


def test_runs_newest_first_and_finish_replaces(stores):
    stores.start_run(RunRecord("r1", "p", "2026-01-01T00:00:00+00:00"))
    stores.start_run(RunRecord("r2", "p", "2026-01-02T00:00:00+00:00", kind="dry_run"))
    stores.start_run(RunRecord("r3", "q", "2026-01-03T00:00:00+00:00"))
    stores.finish_run(
        RunRecord(
            "r1",
            "p",
            "2026-01-01T00:00:00+00:00",
            finished_at="2026-01-01T00:01:00+00:00",
            status="ok",
            plan_id="plan",
            summary={"applied": 3, "failed": 0},
        )
    )
    assert [r.id for r in stores.runs("p")] == ["r2", "r1"]
    assert [r.id for r in stores.runs("p", limit=1)] == ["r2"]
    r1 = stores.run("r1")
    assert r1 is not None and r1.status == "ok" and dict(r1.summary)["applied"] == 3
    assert stores.run("nope") is None


def _entry(action: str, **kw) -> JournalEntry:
    base = dict(
        run_id="r1",
        action_id=action,
        provider="list",
        ref={"key": "anilist:21", "path": []},
        op="upsert_record",
        before={"progress": {"current": 1, "total": 12, "unit": "episode"}},
        after={"progress": {"current": 3, "total": 12, "unit": "episode"}},
        outcome="applied",
        started_at="2026-01-01T00:00:00+00:00",
    )
    base.update(kw)
    return JournalEntry(**base)


def test_journal_insertion_order_upsert_and_event_sent(stores):
    stores.start_run(RunRecord("r1", "p", "2026-01-01T00:00:00+00:00"))
    stores.start_run(RunRecord("r2", "p", "2026-01-01T00:00:01+00:00"))
    stores.record([_entry("b"), _entry("a")])
    stores.record([_entry("b", outcome="failed", error_code="transient", attempts=2)])
    event = _entry(
        "e",
        op="append_event",
        kind="play",
        ref={"key": "show", "path": [["season", 1], ["episode", 2]]},
        at="2026-01-01T10:00:00+00:00",
        before={},
        after={},
    )
    stores.record([event, _entry("c", run_id="r2", clear=("notes",), created=True)])
    got = stores.entries("r1")
    assert [e.action_id for e in got] == ["b", "a", "e"]
    assert got[0].outcome == "failed" and got[0].attempts == 2
    assert got[1].before == {"progress": {"current": 1, "total": 12, "unit": "episode"}}
    r2 = stores.entries("r2")[0]
    assert tuple(r2.clear) == ("notes",) and r2.created is True
    assert [e.run_id for e in stores.entries_for_action("c")] == ["r2"]
    sent = functools.partial(stores.event_sent, "p")
    assert sent("list", "show/season=1/episode=2", "play", event.at)
    assert not sent("list", "show/season=1/episode=3", "play", event.at)
    assert not sent("other", "show/season=1/episode=2", "play", event.at)
    stores.record([replace(event, outcome="failed")])
    assert not sent("list", "show/season=1/episode=2", "play", event.at)


def test_an_event_sent_by_one_profile_is_not_sent_for_another(stores):
    """Two profiles, each with a provider keyed "trakt", are two accounts: a play
    one profile sent says nothing about the other's (the same demo timestamps in
    two users' libraries must both reach their own Trakt)."""
    stores.start_run(RunRecord("r1", "alice", "2026-01-01T00:00:00+00:00"))
    event = _entry(
        "e",
        provider="trakt",
        op="append_event",
        kind="play",
        ref={"key": "show", "path": [["season", 1], ["episode", 2]]},
        at="2026-01-01T10:00:00+00:00",
        before={},
        after={},
    )
    stores.record([event])
    assert stores.event_sent(
        "alice", "trakt", "show/season=1/episode=2", "play", event.at
    )
    assert not stores.event_sent(
        "bob", "trakt", "show/season=1/episode=2", "play", event.at
    )


def test_an_event_deleted_after_it_was_sent_is_unsent_again(stores):
    """An undo deletes the plays its run appended: the next sync must be free to
    append them again (the journal's last word on the event decides)."""
    stores.start_run(RunRecord("r1", "p", "2026-01-01T00:00:00+00:00"))
    stores.start_run(RunRecord("u1", "p", "2026-01-01T00:00:01+00:00", kind="undo"))
    stores.start_run(RunRecord("r2", "p", "2026-01-01T00:00:02+00:00"))
    play = {"key": "show", "path": [["season", 1], ["episode", 2]]}
    at = "2026-01-01T10:00:00+00:00"
    common = {"kind": "play", "ref": play, "at": at, "before": {}, "after": {}}
    sent = functools.partial(
        stores.event_sent, "p", "list", "show/season=1/episode=2", "play", at
    )
    stores.record([_entry("e", op="append_event", **common)])
    assert sent()
    undo = _entry("d", run_id="u1", op="delete_event", outcome="failed", **common)
    stores.record([undo])
    assert sent()  # a failed deletion left the play in place
    stores.record([replace(undo, outcome="applied")])
    assert not sent()
    stores.record([_entry("e", run_id="r2", op="append_event", **common)])
    assert sent()


def test_unresolved_rows_are_the_profiles_pending_and_unknown_ones(stores):
    stores.start_run(RunRecord("r1", "p", "2026-01-01T00:00:00+00:00"))
    stores.start_run(RunRecord("r2", "q", "2026-01-02T00:00:00+00:00"))
    stores.record(
        [
            _entry("a", outcome="pending"),
            _entry("b", outcome="applied"),
            _entry("c", outcome="unknown", error_text="read timeout"),
            _entry("d", run_id="r2", outcome="pending"),
        ]
    )
    got = stores.unresolved("p")
    assert [(e.action_id, e.outcome) for e in got] == [
        ("a", "pending"),
        ("c", "unknown"),
    ]
    assert got[1].error_text == "read timeout"
    assert [e.action_id for e in stores.unresolved("q")] == ["d"]
    stores.record([replace(got[0], outcome="applied")])
    assert [e.action_id for e in stores.unresolved("p")] == ["c"]


def test_an_append_whose_answer_never_arrived_counts_as_sent(stores):
    stores.start_run(RunRecord("r1", "p", "2026-01-01T00:00:00+00:00"))
    event = _entry(
        "e",
        op="append_event",
        kind="play",
        ref={"key": "show", "path": [["season", 1], ["episode", 2]]},
        at="2026-01-01T10:00:00+00:00",
        before={},
        after={},
    )
    for outcome, sent in (
        ("pending", True),
        ("unknown", True),
        ("applied", True),
        ("failed", False),
        ("skipped", False),
    ):
        stores.record([replace(event, outcome=outcome)])
        assert (
            stores.event_sent("p", "list", "show/season=1/episode=2", "play", event.at)
            is sent
        ), outcome


def test_interrupt_stale_marks_only_the_profiles_running_runs(stores):
    stores.start_run(RunRecord("r1", "p", "2026-01-01T00:00:00+00:00", owner="pid 1"))
    stores.start_run(RunRecord("r2", "p", "2026-01-02T00:00:00+00:00"))
    stores.finish_run(
        RunRecord("r2", "p", "2026-01-02T00:00:00+00:00", status="ok", finished_at="x")
    )
    stores.start_run(RunRecord("r3", "q", "2026-01-03T00:00:00+00:00"))
    marked = stores.interrupt_stale("p", now="2026-01-04T00:00:00+00:00", error="gone")
    assert marked == ["r1"]
    r1 = stores.run("r1")
    assert (r1.status, r1.finished_at, r1.error, r1.owner) == (
        "interrupted",
        "2026-01-04T00:00:00+00:00",
        "gone",
        "pid 1",
    )
    assert stores.run("r2").status == "ok"
    assert stores.run("r3").status == "running"
    assert stores.interrupt_stale("p", now="later", error="gone") == []


def test_cursors_set_replace_clear(stores):
    assert stores.cursor("p", "plex") is None
    stores.set_cursor("p", "plex", "10")
    stores.set_cursor("p", "plex", "12")
    stores.set_cursor("p", "jf", "x")
    assert stores.cursor("p", "plex") == "12"
    stores.set_cursor("p", "plex", None)
    assert stores.cursor("p", "plex") is None
    assert stores.cursor("p", "jf") == "x"


def test_pins_set_and_empty_unpins(stores):
    stores.set_pin(Pin("p", "anilist", "21", frozenset({"status", "rating"})))
    stores.set_pin(Pin("p", "anilist", "22", frozenset({"notes"})))
    stores.set_pin(Pin("p", "anilist", "21", frozenset({"status"})))
    got = {pin.ref: pin.fields for pin in stores.pins("p")}
    assert got == {"21": frozenset({"status"}), "22": frozenset({"notes"})}
    stores.set_pin(Pin("p", "anilist", "22", frozenset()))
    assert [pin.ref for pin in stores.pins("p")] == ["21"]
    assert stores.pins("q") == []


def test_a_batch_repeating_a_key_acts_like_upserts_one_after_the_other(stores):
    first = _link(via="mapping")
    second = replace(first, via="override", created_at="2027-01-01T00:00:00+00:00")
    stores.put_links([first, second])
    (got,) = stores.links("p", "plex", "anilist")
    assert (got.via, got.created_at) == ("override", first.created_at)
    b = Baseline("p", "L1", "status", 1, 1, "t")
    stores.put_baselines([b, replace(b, target_value=2), replace(b, target_value=3)])
    assert stores.baselines("p")[("L1", "status")].target_value == 3
    stores.record([_entry("a", outcome="failed"), _entry("b"), _entry("a")])
    assert [(e.action_id, e.outcome) for e in stores.entries("r1")] == [
        ("a", "applied"),
        ("b", "applied"),
    ]


def test_big_batches_round_trip(stores):
    links = [_link(source_key=f"show{n}", target_ref=str(n)) for n in range(2500)]
    stores.put_links(links)
    assert len(stores.links("p", "plex", "anilist")) == 2500
    baselines = [Baseline("p", f"L{n}", "progress", n, n, "t") for n in range(2500)]
    stores.put_baselines(baselines)
    got = stores.baselines("p")
    assert len(got) == 2500 and got[("L1234", "progress")].source_value == 1234
    stores.remove_baselines("p", [(f"L{n}", "progress") for n in range(0, 2500, 2)])
    assert len(stores.baselines("p")) == 1250
    stores.record([_entry(f"a{n:05}") for n in range(2500)])
    assert [e.action_id for e in stores.entries("r1")][:3] == [
        "a00000",
        "a00001",
        "a00002",
    ]


def test_overrides_of_one_source_to_different_targets_are_kept_apart(stores):
    # The target is part of an override's key; an unlink (None) and "" share it.
    for target in ("7", "8", "7", None, ""):
        stores.put_override(Override("p", "plex", "show1", "anilist", target))
    got = sorted(o.target_ref or "" for o in stores.overrides("p", "plex", "anilist"))
    assert got == ["", "7", "8"]


def test_removing_unknown_links_baselines_and_pins_changes_nothing(stores):
    stores.put_links([_link()])
    stores.remove_links(["no-such-link"])
    assert len(stores.links("p", "plex", "anilist")) == 1
    stores.set_pin(Pin("p", "anilist", "never-pinned", frozenset()))
    assert stores.pins("p") == []
    stores.put_baselines([Baseline("p", "L1", "status", 1, 1, "t")])
    stores.remove_baselines("p", [("L1", "progress"), ("L2", "status")])
    assert set(stores.baselines("p")) == {("L1", "status")}


def test_runs_lists_the_newest_fifty_by_default(stores):
    for n in range(52):
        stores.start_run(RunRecord(f"r{n:02d}", "p", f"2026-01-01T00:00:{n:02d}+00:00"))
    got = [r.id for r in stores.runs("p")]
    assert got == [f"r{n:02d}" for n in range(51, 1, -1)]
