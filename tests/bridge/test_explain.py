"""The human plan layout: one block per action, per-field changes, fits 80 columns."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rich.console import Console

from anibridge.bridge.explain import (
    _action_rows,
    _cut,
    _field_reasons,
    _number,
    _precision_of,
    _show,
    _show_date,
    _summary,
    _target,
    _widest,
    change_text,
    display_titles,
    op_label,
    plan_counts,
    plan_json,
    plan_table,
    skip_counts,
)
from anibridge.bridge.model import Action, Plan, Skip, SkipReason, Snapshot
from anibridge.bridge.stores import Link
from anibridge.dates import resolve_timezone
from anibridge.provider.base import (
    Progress,
    Rating,
    RecordField,
    Ref,
    State,
    Status,
    Step,
    WriteOp,
)
from anibridge.provider.precision import partial_date
from anibridge.provider.testing.memory import (
    library_capabilities,
    list_capabilities,
    list_entry,
)

F = RecordField


def _plan() -> Plan:
    new = Action(
        "list",
        WriteOp.UPSERT_RECORD,
        Ref("anilist:21"),
        after={
            F.STATUS: State("watching", Status.ACTIVE),
            F.PROGRESS: Progress(24, 1100),
            F.STARTED_AT: datetime(2023, 12, 25, tzinfo=UTC),
            F.LAST_ACTIVITY_AT: datetime(2024, 1, 2, 23, 30, tzinfo=UTC),
        },
        reason=(
            "status: episodes consumed, not finished yet, and a rather long "
            "explanation that cannot fit; progress: consumed episodes: 24 of 1100; "
            "started_at: first activity; last_activity_at: latest activity"
        ),
        source="plex",
        created=True,
    )
    update = Action(
        "list",
        WriteOp.UPSERT_RECORD,
        Ref("anilist:20"),
        before={F.PROGRESS: Progress(12), F.RATING: Rating(7, (0, 10, 1))},
        after={F.PROGRESS: Progress(24)},
        clear=frozenset({F.RATING}),
        reason="progress: consumed episodes: 24 of 220",
        source="plex",
    )
    play = Action(
        "list",
        WriteOp.APPEND_EVENT,
        Ref("p1", (Step("season", 2), Step("episode", 5))),
        kind="play",
        at=datetime(2024, 3, 1, 20, 0, tzinfo=UTC),
        reason="play of s2e5",
        source="plex",
    )
    skipped = (
        Skip("list", Ref("anilist:269"), F.PROGRESS, SkipReason.REGRESSION, "back"),
        Skip("list", Ref("anilist:1"), F.STATUS, SkipReason.UNCHANGED),
        Skip("list", Ref("anilist:2"), F.STATUS, SkipReason.UNCHANGED),
    )
    return Plan("demo", (new, update, play), skipped)


def _render(plan: Plan, width: int, **kwargs) -> list[str]:
    console = Console(record=True, width=width, force_terminal=False)
    console.print(plan_table(plan, **kwargs))
    return console.export_text().splitlines()


def test_layout_fits_80_columns_one_block_per_action():
    lines = _render(_plan(), 80, timezone="Europe/Berlin")
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    assert lines[0].startswith("Plan ") and "plex → list" in lines[0]
    assert "3 actions: 1 new, 1 update, 1 add play" in lines[1]
    assert "skipped: 1 regression, 2 in sync" in lines[1]
    # each target id once, on its action's first row, next to the op
    (row,) = [line for line in lines if "anilist:21" in line]
    assert row.split()[:4] == ["new", "anilist:21", "status", "—"]
    assert "→ active" in row
    assert text.count("anilist:20") == 1
    # per-field changes, compact
    (row,) = [line for line in lines if "anilist:20" in line]
    assert row.split()[:5] == ["update", "anilist:20", "progress", "12", "→"]
    assert "rating" in text and "7/10 → cleared" in text
    assert "— → 24/1100" in text
    # a DATE value (midnight UTC) reads as a date; an instant in the profile's zone
    assert "— → 2023-12-25 " in text and "2023-12-25T" not in text
    assert "— → 2024-01-03 00:30" in text  # 23:30 UTC is 00:30 in Berlin
    # a part's path is compact; an event shows when
    assert "p1 s2 e5" in text and "2024-03-01 21:00" in text
    # long reasons are cut at the width, not wrapped onto more lines
    assert "…" in text
    assert len([line for line in lines if "started" in line]) == 1


def test_wider_terminal_shows_whole_reasons():
    text = "\n".join(_render(_plan(), 200))
    assert "explanation that cannot fit" in text
    assert "consumed episodes: 24 of 220" in text
    assert "— → 2024-01-02 23:30" in text  # UTC by default


def test_skipped_listed_without_unchanged_and_date_precision_is_explicit():
    plan = _plan()
    text = "\n".join(
        _render(plan, 100, date_fields={"list": {F.STARTED_AT, F.LAST_ACTIVITY_AT}})
    )
    assert "Skipped" in text and "regression" in text and "anilist:269" in text
    assert "anilist:1 " not in text  # unchanged candidates are only counted
    assert "— → 2024-01-02 " in text and "23:30" not in text  # DATE precision
    short = "\n".join(_render(plan, 100, show_skipped=False))
    assert "Skipped\n" not in short and "anilist:269" not in short


def test_limit_counts_everything_and_says_what_is_hidden():
    lines = _render(_plan(), 80, limit=1)
    text = "\n".join(lines)
    assert "(first 1 listed)" in text and "… 2 more actions" in text
    assert "anilist:20" not in text


def test_guard_refusal_comes_first():
    plan = Plan("demo", _plan().actions, guards=("would delete 50% of entries",))
    assert _render(plan, 80)[0].startswith("REFUSED: would delete 50%")


def test_op_labels_and_change_text():
    new, update, play = _plan().actions
    assert [op_label(a) for a in (new, update, play)] == ["new", "update", "add play"]
    delete = Action("list", WriteOp.DELETE_RECORD, Ref("anilist:5"))
    assert op_label(delete) == "delete"
    assert change_text(update, F.PROGRESS) == "12 → 24"
    assert change_text(update, F.RATING) == "7/10 → cleared"
    assert change_text(new, F.STATUS) == "— → active"
    assert "delete" in "\n".join(_render(Plan("p", (delete,)), 80))


def test_json_is_the_full_plan_untouched_by_the_layout():
    plan = _plan()
    data = json.loads(json.dumps(plan_json(plan)))
    assert data["actions"] == [a.to_json() for a in plan.actions]
    # the one set of counts: skipped per reason (not "unchanged") and the entries
    # in sync, as the plan header and the run summary show them
    assert data["counts"] == {
        "actions": 3,
        "skipped": {"regression": 1},
        "unchanged": 2,
    }
    assert data["actions"][0]["after"]["started_at"] == "2023-12-25T00:00:00+00:00"


def test_two_way_plan_names_the_provider_and_quotes_cut_notes():
    to_list = Action(
        "list",
        WriteOp.UPSERT_RECORD,
        Ref("anilist:1"),
        before={F.NOTES: "old"},
        after={F.NOTES: "a very long note that goes on and on about the show"},
        reason="notes: newer on plex",
    )
    to_plex = Action(
        "plex",
        WriteOp.UPSERT_RECORD,
        Ref("p9"),
        after={F.REPEAT_COUNT: 2},
        reason="repeat_count: newer on list",
    )
    lines = _render(Plan("two", (to_list, to_plex)), 100)
    header = next(line for line in lines if line.startswith("op"))
    assert header.split()[:3] == ["op", "to", "target"]
    (row,) = [line for line in lines if "anilist:1" in line]
    assert row.split()[:4] == ["update", "list", "anilist:1", "notes"]
    assert "'old' → 'a very long note that…'" in row
    assert "writes to list, plex" in lines[0]
    (row,) = [line for line in lines if "p9" in line]
    assert "rewatches" in row and "— → 2" in row and "newer on list" in row


def test_titles_show_under_target_ids_and_created_entries_borrow_the_source_title():
    from anibridge.bridge.explain import display_titles
    from anibridge.bridge.model import Entry, Snapshot
    from anibridge.bridge.stores import Link
    from anibridge.provider.base import Capabilities, Node

    library = Snapshot("plex", Capabilities())
    library.entries["show-1"] = Entry(
        "show-1", node=Node(Ref("show-1"), "show", title="One Piece")
    )
    links = [
        Link(
            "p", "plex", "show-1", "tvdb_show:81797:s1", "list", "anilist:21", "mapping"
        )
    ]
    titles = display_titles(
        {"plex": library, "list": Snapshot("list", Capabilities())}, links
    )
    assert titles == {
        ("plex", "show-1"): "One Piece",
        ("list", "anilist:21"): "One Piece",
    }

    console = Console(width=80, record=True, color_system=None)
    console.print(plan_table(_plan(), titles=titles))
    lines = console.export_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "anilist:21" in line)
    assert "One Piece" in lines[at + 1]
    assert all(len(line.rstrip()) <= 80 for line in lines)
    # Without titles the layout is unchanged: no title line appears.
    plain = Console(width=80, record=True, color_system=None)
    plain.print(plan_table(_plan()))
    assert "One Piece" not in plain.export_text()


# -- the pieces of the layout, pinned directly -----------------------------------------


def _skip(key, reason, field=None, provider="list"):
    return Skip(provider, Ref(key), field, reason)


def test_skip_counts_follow_the_reason_order_and_omit_zeros():
    plan = Plan(
        "p",
        skipped=(
            _skip("a", SkipReason.STALE),
            _skip("b", SkipReason.UNCHANGED),
            _skip("c", SkipReason.STALE),
            _skip("d", SkipReason.PINNED),
        ),
    )
    counts = skip_counts(plan)
    assert counts == {"unchanged": 1, "pinned": 1, "stale": 2}
    assert list(counts) == ["unchanged", "pinned", "stale"]


def test_in_sync_counts_unchanged_entries_nothing_writes_or_holds_back():
    write = Action("list", WriteOp.UPSERT_RECORD, Ref("acted"))
    plan = Plan(
        "p",
        (write,),
        (
            _skip("acted", SkipReason.UNCHANGED, F.STATUS),
            _skip("held", SkipReason.UNCHANGED, F.STATUS),
            _skip("held", SkipReason.REGRESSION, F.PROGRESS),
            _skip("calm", SkipReason.UNCHANGED, F.STATUS),
            _skip("calm", SkipReason.UNCHANGED, F.PROGRESS),
            _skip("other", SkipReason.UNCHANGED, provider="mal"),
            _skip("anon", SkipReason.UNCHANGED),
            _skip("anon", SkipReason.GUARD, provider=""),
        ),
    )
    counts, in_sync = plan_counts(plan)
    assert counts == {"regression": 1, "guard": 1}
    assert in_sync == 3  # calm, other@mal, anon (a provider-less skip holds nothing)
    assert plan_json(plan)["counts"] == {
        "actions": 1,
        "skipped": {"regression": 1, "guard": 1},
        "unchanged": 3,
    }


def test_op_labels_of_event_writes_name_the_kind():
    ref = Ref("p1")
    assert op_label(Action("l", WriteOp.UPSERT_RECORD, ref, created=True)) == "new"
    assert op_label(Action("l", WriteOp.DELETE_EVENT, ref, kind="watch")) == (
        "remove watch"
    )
    assert op_label(Action("l", WriteOp.APPEND_EVENT, ref)) == "add event"
    assert op_label(Action("l", WriteOp.DELETE_EVENT, ref)) == "remove event"


def test_target_ids_compact_a_parts_path():
    assert _target(Ref("p1")) == "p1"
    assert _target(Ref("p1", (Step("season", 2), Step("episode", 5)))) == "p1 s2 e5"


def test_display_titles_borrow_the_linked_source_title_for_untitled_targets():
    src = Snapshot("plex", library_capabilities())
    src.entry("s1").node = list_entry("s1", "Source One")
    src.entry("s2").node = list_entry("s2", "Source Two")
    src.entry("s3")  # no node
    dst = Snapshot("anilist", list_capabilities())
    dst.entry("20").node = list_entry("20", "Target Twenty")
    dst.entry("21").node = list_entry("21", "")
    links = [
        Link("p", "plex", "s1", "", "anilist", "20", "direct"),
        Link("p", "plex", "s2", "", "anilist", "30/season=1", "mapping"),
        Link("p", "plex", "s3", "", "anilist", "31", "mapping"),
        Link("p", "plex", "s1", "", "anilist", "21", "mapping"),
    ]
    assert display_titles({"plex": src, "anilist": dst}, links) == {
        ("plex", "s1"): "Source One",
        ("plex", "s2"): "Source Two",
        ("anilist", "20"): "Target Twenty",
        ("anilist", "30"): "Source Two",
        ("anilist", "21"): "Source One",
    }
    assert display_titles({"plex": src}) == {
        ("plex", "s1"): "Source One",
        ("plex", "s2"): "Source Two",
    }


def test_values_are_shown_short():
    assert _cut("a  b\n c") == "a b c"
    assert _cut("x" * 24) == "x" * 24
    assert _cut("x" * 25) == "x" * 23 + "…"
    assert _cut("abcdef", 4) == "abc…"
    assert _number(None) == "?"
    assert _number(12.0) == "12"
    assert _number(7.5) == "7.5"
    assert _number(3) == "3"


def test_shown_values_per_type():
    tz = UTC

    def show(f, v):
        return _show(f, v, date_precision=None, tz=tz)

    assert show(F.STATUS, None) == "—"
    assert show(F.STATUS, State("CURRENT", Status.ACTIVE)) == "active"
    assert show(F.STATUS, State("custom", None)) == "custom"
    assert show(F.PROGRESS, Progress(3, 12)) == "3/12"
    assert show(F.PROGRESS, Progress(3, 0)) == "3"
    assert show(F.PROGRESS, Progress(3)) == "3"
    assert show(F.RATING, Rating(8.5, (0, 10, 0.5))) == "8.5/10"
    assert show(F.NOTES, "a note") == "'a note'"
    assert show(F.NOTES, "n" * 23) == repr("n" * 21 + "…")
    assert show(F.NOTES, "n" * 22) == repr("n" * 22)
    assert show(F.REPEAT_COUNT, 2) == "2"
    assert show(F.REPEAT_COUNT, "x" * 30) == "x" * 23 + "…"


def test_dates_show_at_their_precision_in_the_profiles_timezone():
    berlin = resolve_timezone("Europe/Berlin")
    midnight = datetime(2024, 3, 1, tzinfo=UTC)
    evening = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)
    assert _show_date(partial_date(2020, 3), None, berlin) == "2020-03"
    assert _show_date(partial_date(2020), True, berlin) == "2020"
    assert _show_date(midnight, None, berlin) == "2024-03-01"
    assert _show_date(evening, None, berlin) == "2024-03-02 00:30"
    assert _show_date(evening, True, berlin) == "2024-03-01"
    assert _show_date(midnight, False, berlin) == "2024-03-01 01:00"
    assert _show_date(datetime(2024, 3, 1, 0, 0, 5, tzinfo=UTC), None, UTC) == (
        "2024-03-01 00:00"
    )
    assert _show_date(datetime(2024, 3, 1, 0, 5, tzinfo=UTC), None, UTC) == (
        "2024-03-01 00:05"
    )
    assert _show_date(datetime(2024, 3, 1, 5, 0, tzinfo=UTC), None, UTC) == (
        "2024-03-01 05:00"
    )


def test_reasons_split_per_field_and_keep_the_rest():
    per_field, rest = _field_reasons(
        "status: done; progress: 12 of 12; mapped via x; status: again; "
        "bogus: no field;  ; notes:kept whole"
    )
    assert per_field == {"status": "done", "progress": "12 of 12"}
    assert rest == ["mapped via x", "status: again", "bogus: no field",
                    "notes:kept whole"]  # fmt: skip
    assert _field_reasons("") == ({}, [])


def test_date_precision_is_known_only_for_date_fields_of_named_providers():
    fields = {"mal": [F.STARTED_AT]}
    assert _precision_of("mal", F.STARTED_AT, fields) is True
    assert _precision_of("mal", F.FINISHED_AT, fields) is False
    assert _precision_of("mal", F.PROGRESS, fields) is None
    assert _precision_of("anilist", F.STARTED_AT, fields) is None
    assert _precision_of("mal", F.STARTED_AT, None) is None


def test_action_rows_follow_field_order_with_their_own_reasons():
    action = Action(
        "list", WriteOp.UPSERT_RECORD, Ref("20"),
        before={F.REPEAT_COUNT: 0},
        after={F.REPEAT_COUNT: 1, F.STATUS: State("C", Status.COMPLETED),
               F.FINISHED_AT: datetime(2024, 3, 1, tzinfo=UTC)},
        clear=frozenset({F.NOTES}),
        reason="repeat_count: new pass; status: all seen; via mapping; notes: gone",
    )  # fmt: skip
    rows = _action_rows(action, UTC, {"list": [F.FINISHED_AT]})
    assert rows == [
        ("status", "— → completed", "all seen; via mapping"),
        ("finished", "— → 2024-03-01", ""),
        ("rewatches", "0 → 1", "new pass"),
        ("notes", "— → cleared", "gone"),
    ]


def test_action_rows_of_a_play_and_of_an_empty_write():
    play = Action(
        "list", WriteOp.APPEND_EVENT, Ref("p1"), kind="play",
        at=datetime(2024, 3, 1, 20, tzinfo=UTC), reason="a play; status: ignored",
    )  # fmt: skip
    assert _action_rows(play, UTC, None) == [
        ("at", "2024-03-01 20:00", "a play; status: ignored")
    ]
    bare = Action("list", WriteOp.DELETE_RECORD, Ref("p1"))
    assert _action_rows(bare, UTC, None) == [("", "", "")]


def test_widest_target_id_is_capped():
    assert _widest([]) == 6
    assert _widest([Action("l", WriteOp.DELETE_RECORD, Ref("abc"))]) == 3
    assert _widest([Action("l", WriteOp.DELETE_RECORD, Ref("x" * 40))]) == 28
    assert _widest([Action("l", WriteOp.DELETE_RECORD, Ref("x" * 40))], cap=50) == 40


def test_summary_line_names_route_counts_and_skips():
    a = Action("anilist", WriteOp.UPSERT_RECORD, Ref("1"), created=True, source="plex")
    b = Action("anilist", WriteOp.UPSERT_RECORD, Ref("2"), created=True, source="plex")
    c = Action("mal", WriteOp.UPSERT_RECORD, Ref("3"), source="jellyfin")
    skips = (
        _skip("9", SkipReason.PINNED),
        _skip("8", SkipReason.UNCHANGED),
    )
    plan = Plan("prof", (a, b, c), skips)
    assert _summary(plan, 3).plain == (
        f"Plan {plan.id} (profile prof): jellyfin, plex → anilist, mal\n"
        "3 actions: 2 new, 1 update · skipped: 1 pinned, 1 in sync"
    )
    assert _summary(plan, 2).plain.endswith(
        "(first 2 listed) · skipped: 1 pinned, 1 in sync"
    )
    sourceless = Plan("prof", (Action("mal", WriteOp.DELETE_RECORD, Ref("3")),))
    assert _summary(sourceless, 1).plain == (
        f"Plan {sourceless.id} (profile prof): writes to mal\n1 action: 1 delete"
    )
    empty = Plan("prof")
    assert _summary(empty, 0).plain == f"Plan {empty.id} (profile prof)\n0 actions"


def test_skipped_section_lists_held_candidates_up_to_the_limit():
    skips = (
        *(_skip(f"k{n}", SkipReason.REGRESSION, F.REPEAT_COUNT) for n in range(3)),
        _skip("u", SkipReason.UNCHANGED, F.STATUS),
        _skip("w", SkipReason.RULE),
    )
    text = "\n".join(_render(Plan("p", skipped=skips), 100, limit=2))
    assert "Skipped" in text
    assert "k0" in text and "k1" in text and "k2" not in text
    assert "rewatches" in text
    assert "… 2 more skipped" in text
    assert " u " not in text
    hidden = "\n".join(_render(Plan("p", skipped=skips), 100, show_skipped=False))
    assert "Skipped" not in hidden and "k0" not in hidden


def _cells(table, header):
    (column,) = [c for c in table.columns if c.header == header]
    return list(column._cells)


def test_op_colours_bold_targets_and_dim_reasons_and_titles():
    ref = Ref("20")
    actions = (
        Action("list", WriteOp.UPSERT_RECORD, ref, after={F.NOTES: "a"}, created=True),
        Action("list", WriteOp.UPSERT_RECORD, Ref("21"), after={F.NOTES: "b"},
               reason="notes: typed"),
        Action("list", WriteOp.DELETE_RECORD, Ref("22")),
        Action("list", WriteOp.APPEND_EVENT, Ref("23"), kind="play",
               at=datetime(2024, 3, 1, tzinfo=UTC)),
    )  # fmt: skip
    plan = Plan("p", actions, guards=("too many deletes",))
    parts = plan_table(plan, titles={("list", "21"): "Twenty One"}).renderables
    refused, summary, _, table = parts[:4]
    assert (refused.plain, str(refused.style)) == (
        "REFUSED: too many deletes",
        "bold red",
    )
    bold = [summary.plain[s.start : s.end] for s in summary.spans if s.style == "bold"]
    assert bold == [f"Plan {plan.id}", "4 actions"]
    ops = [(c.plain, str(c.style)) for c in _cells(table, "op") if c != ""]
    assert ops == [
        ("new", "green"),
        ("update", "yellow"),
        ("delete", "red"),
        ("add play", "cyan"),
    ]
    targets = [c for c in _cells(table, "target") if c not in ("", None)]
    assert [(t.plain, str(t.style)) for t in targets] == [
        ("20", "bold"),
        ("21", "bold"),
        ("Twenty One", "dim"),
        ("22", "bold"),
        ("23", "bold"),
    ]
    reasons = [c for c in _cells(table, "why") if c != ""]
    assert {str(c.style) for c in reasons} == {"dim"}
    assert "typed" in [c.plain for c in reasons]


def test_layout_cuts_rather_than_wraps():
    parts = plan_table(_plan()).renderables
    actions, skipped = parts[2], parts[5]
    by = {c.header: c for c in actions.columns}
    assert by["op"].no_wrap and by["field"].no_wrap and by["change"].no_wrap
    assert by["change"].overflow == "ellipsis" and by["change"].max_width == 44
    assert by["why"].overflow == "ellipsis" and by["why"].min_width == 8
    assert by["target"].overflow == "fold" and by["target"].max_width == 36
    assert "to" not in by  # one target provider: no provider column
    sk = {c.header: c for c in skipped.columns}
    assert sk["reason"].no_wrap and sk["field"].no_wrap
    assert sk["detail"].overflow == "ellipsis" and sk["target"].overflow == "fold"
    assert [str(parts[4].style), parts[4].plain] == ["bold", "Skipped"]
    why = _cells(actions, "why")[0]
    assert why.no_wrap and why.overflow == "ellipsis"


def test_blank_rows_group_multi_field_actions_only():
    one = [
        Action("list", WriteOp.UPSERT_RECORD, Ref(k), after={F.NOTES: k})
        for k in ("a", "b")
    ]
    two = Action(
        "list", WriteOp.UPSERT_RECORD, Ref("c"), after={F.NOTES: "c", F.REPEAT_COUNT: 1}
    )
    table = plan_table(Plan("p", (*one, two, one[0]))).renderables[2]
    fields = _cells(table, "field")
    assert fields == ["notes", "notes", "", "rewatches", "notes", "", "notes"]


def test_tables_are_borderless_with_two_space_gaps_and_dim_headers():
    parts = plan_table(_plan()).renderables
    for table in (parts[2], parts[5]):
        assert table.box is None
        assert table.pad_edge is False
        assert table.padding == (0, 2, 0, 0)
        assert table.header_style == "dim"
    skipped = {c.header: c for c in parts[5].columns}
    assert skipped["target"].min_width == len("anilist:269")
    assert skipped["detail"].min_width == 8


def test_a_title_is_borrowed_by_the_anchor_of_a_part_link():
    src = Snapshot("plex", library_capabilities())
    src.entry("s1").node = list_entry("s1", "Source One")
    link = Link("p", "plex", "s1", "", "anilist", "30/season=1/episode=2", "mapping")
    assert display_titles({"plex": src}, [link])[("anilist", "30")] == "Source One"


def test_big_whole_numbers_stay_whole():
    assert _number(1234567.0) == "1234567"
    assert _number(0.5) == "0.5"


def test_change_text_shows_both_sides_at_the_given_precision_and_timezone():
    berlin = resolve_timezone("Europe/Berlin")
    action = Action(
        "list", WriteOp.UPSERT_RECORD, Ref("1"),
        before={F.LAST_ACTIVITY_AT: datetime(2024, 3, 1, 23, 30, tzinfo=UTC)},
        after={F.LAST_ACTIVITY_AT: datetime(2024, 3, 2, 23, 30, tzinfo=UTC)},
    )  # fmt: skip
    assert change_text(action, F.LAST_ACTIVITY_AT, tz=berlin) == (
        "2024-03-02 00:30 → 2024-03-03 00:30"
    )
    assert change_text(action, F.LAST_ACTIVITY_AT, date_precision=True) == (
        "2024-03-01 → 2024-03-02"
    )


def test_titles_sit_under_the_target_with_a_blank_change_row():
    to_a = Action("a", WriteOp.UPSERT_RECORD, Ref("1"), after={F.NOTES: "x"})
    to_b = Action("b", WriteOp.UPSERT_RECORD, Ref("2"), after={F.NOTES: "y"})
    titles = {("a", "1"): "One", ("b", "2"): "Two"}
    table = plan_table(Plan("p", (to_a, to_b)), titles=titles).renderables[2]
    by = {c.header: c for c in table.columns}
    assert by["to"].no_wrap
    assert by["target"].min_width == 1  # the widest target id
    assert list(by["to"]._cells) == ["a", "", "", "b", ""]
    targets = list(by["target"]._cells)
    assert [getattr(c, "plain", c) for c in targets] == ["1", "One", "", "2", "Two"]
    title = targets[1]
    assert title.no_wrap and title.overflow == "ellipsis"
    assert list(by["field"]._cells) == ["notes", "", "", "notes", ""]
    assert list(by["change"]._cells) == ["— → 'x'", "", "", "— → 'y'", ""]
    assert [c.plain for c in by["why"]._cells if c != ""] == ["", "", "", ""]


def test_a_field_reason_may_itself_contain_a_colon():
    per_field, rest = _field_reasons("progress: consumed episodes: 24 of 220")
    assert per_field == {"progress": "consumed episodes: 24 of 220"} and rest == []


def test_rows_show_instants_in_the_timezone_and_plays_to_the_minute():
    berlin = resolve_timezone("Europe/Berlin")
    seen = Action(
        "list", WriteOp.UPSERT_RECORD, Ref("1"),
        after={F.LAST_ACTIVITY_AT: datetime(2024, 3, 1, 23, 30, tzinfo=UTC)},
    )  # fmt: skip
    assert _action_rows(seen, berlin, {"list": []}) == [
        ("last activity", "— → 2024-03-02 00:30", "")
    ]
    midnight = Action(
        "list", WriteOp.APPEND_EVENT, Ref("1"), kind="play",
        at=datetime(2024, 3, 1, tzinfo=UTC),
    )  # fmt: skip
    assert _action_rows(midnight, UTC, None) == [("at", "2024-03-01 00:00", "")]


def _many(n):
    return tuple(
        Action("list", WriteOp.UPSERT_RECORD, Ref(str(k)), after={F.NOTES: str(k)})
        for k in range(n)
    )


def test_the_limit_lists_two_hundred_by_default_and_exactly_the_limit():
    parts = plan_table(Plan("p", _many(201))).renderables
    (more,) = [p for p in parts if getattr(p, "plain", "").startswith("… ")]
    assert (more.plain, str(more.style)) == ("… 1 more actions (see --json)", "dim")
    skips = tuple(_skip(f"k{n}", SkipReason.STALE) for n in range(3))
    exact = plan_table(Plan("p", _many(3), skips), limit=3).renderables
    assert not [p for p in exact if getattr(p, "plain", "").startswith("… ")]
    over = plan_table(Plan("p", _many(3), skips), limit=2).renderables
    lines = [(p.plain, str(p.style)) for p in over
             if getattr(p, "plain", "").startswith("… ")]  # fmt: skip
    assert lines == [
        ("… 1 more actions (see --json)", "dim"),
        ("… 1 more skipped", "dim"),
    ]


def test_guards_are_joined_and_a_tzinfo_is_used_as_given():
    plan = Plan("p", _plan().actions, guards=("a", "b"))
    assert _render(plan, 80)[0] == "REFUSED: a; b"
    berlin = resolve_timezone("Europe/Berlin")
    text = "\n".join(_render(_plan(), 120, timezone=berlin))
    assert "2024-01-03 00:30" in text  # 23:30 UTC on Jan 2 in Berlin


def test_skipped_rows_show_reason_target_field_label_and_dim_detail():
    skips = (
        Skip("list", Ref("7"), F.PROGRESS, SkipReason.REGRESSION, "back"),
        Skip("list", Ref("8", (Step("season", 1),)), F.REPEAT_COUNT, SkipReason.RULE),
        Skip("list", Ref("9"), None, SkipReason.STALE, "moved"),
    )
    table = plan_table(Plan("p", skipped=skips)).renderables[-1]
    cells = {c.header: list(c._cells) for c in table.columns}
    assert cells["reason"] == ["regression", "rule", "stale"]
    assert cells["target"] == ["7", "8 s1", "9"]
    assert cells["field"] == ["progress", "rewatches", ""]
    assert [(d.plain, str(d.style)) for d in cells["detail"]] == [
        ("back", "dim"),
        ("", "dim"),
        ("moved", "dim"),
    ]
