"""Engine rules end to end (issue 14): the real CLI on real local files.

The first test runs the CLI in a subprocess; the others call the same typer app
in-process (`cli`), a tenth of the CPU of a new interpreter per call.

Sources are local libraries with plays at real times; the real curated mappings route
TVDB 246381 season 2 to AniList 117197 (episodes 1-13) and 151803 (14-25, a split
cour). Each test names the rule it proves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli_support import (
    cli,
    cli_json,
    entry,
    list_title,
    local_side,
    read_local,
    run_json,
    show,
    write_config,
    write_doc,
)

SHOW = "show-246381"
IDS = ["tvdb_show:246381"]
PART1, PART2 = "anilist:117197", "anilist:151803"


def at(day: int, hour: int, minute: int = 0) -> str:
    """An ISO time on day `day` of March 2024 (hours/minutes may overflow)."""
    when = datetime(2024, 3, day, tzinfo=UTC) + timedelta(hours=hour, minutes=minute)
    return when.isoformat().replace("+00:00", "Z")


def workspace(tmp_path: Path, library: list[dict], titles: list[dict]) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    write_doc(ws / "library.yaml", library)
    write_doc(ws / "list.yaml", titles, rating_scale=[0, 100, 1], date_precision="date")
    write_config(
        ws,
        {
            "p": {
                "source": local_side("library"),
                "target": local_side(
                    "list", authorities=["anilist"], date_precision="date"
                ),
            }
        },
    )
    return ws


def reimport(ws: Path, name: str, items: list[dict], **top) -> None:
    """Replace a local file's state through `anibridge import` (a new document)."""
    write_doc(ws / f"{name}-next.yaml", items, **top)
    cli("import", f"{name}-next.yaml", "--provider", name, cwd=ws)


def listed(ws: Path, key: str) -> dict | None:
    return entry(read_local(ws / "list.sqlite", authorities=["anilist"]), key)


def first_pass(day: int = 1) -> dict[int, list[str]]:
    """Episodes 1-13 once each, one evening apart by half hours."""
    return {e: [at(day, 18 + e // 2, 30 * (e % 2))] for e in range(1, 14)}


def test_e2e_replay_inside_the_first_pass_is_completed_not_rewatching(tmp_path):
    # Episode 7 three times in one evening, before 8-13 were seen the next day.
    episodes = {e: [at(1, 18, 5 * e)] for e in range(1, 7)}
    episodes[7] = [at(1, 20), at(1, 20, 30), at(1, 21)]
    episodes |= {e: [at(2, 18, 5 * e)] for e in range(8, 14)}
    ws = workspace(tmp_path, [show(SHOW, IDS, {2: episodes})], [list_title(117197, 13)])
    summary = run_json("sync", cwd=ws)
    assert summary["failed"] == 0
    record = listed(ws, PART1)
    assert record is not None
    assert record["status"] == "completed"  # not "rewatching"
    assert record["progress"] == 13
    assert record.get("repeat_count", 0) == 0


def test_e2e_rewatch_progress_is_the_pass_position_then_the_pass_completes(tmp_path):
    ws = workspace(
        tmp_path,
        [show(SHOW, IDS, {2: first_pass()})],
        [list_title(117197, 13, {"status": "completed", "progress": 13})],
    )
    assert cli_json("sync", cwd=ws)["failed"] == 0
    assert listed(ws, PART1)["status"] == "completed"

    # A new pass: episodes 1-3 again ten days later.
    rewatch = first_pass()
    for e in (1, 2, 3):
        rewatch[e] = [*rewatch[e], at(11, 20, 10 * e)]
    reimport(ws, "library", [show(SHOW, IDS, {2: rewatch})])
    assert cli_json("sync", cwd=ws)["failed"] == 0
    record = listed(ws, PART1)
    # 13 -> 3 is the position in a new pass, not a regression
    assert (record["status"], record["progress"]) == ("rewatching", 3)
    assert record.get("repeat_count", 0) == 0

    # The same pass, with the list ahead of it (set by hand): a lower position in
    # the same pass is a regression and is not written.
    reimport(
        ws,
        "list",
        [list_title(117197, 13, {"status": "rewatching", "progress": 8})],
        rating_scale=[0, 100, 1],
    )
    plan = cli_json("plan", cwd=ws)["plan"]
    held = [s for s in plan["skipped"] if s["field"] == "progress"]
    assert [s["reason"] for s in held] == ["regression"]
    assert not [a for a in plan["actions"] if "progress" in a["after"]]

    # The pass completes: completed again, full count, one more rewatch.
    for e in range(4, 14):
        rewatch[e] = [*rewatch[e], at(12, 18, 4 * e)]
    reimport(ws, "library", [show(SHOW, IDS, {2: rewatch})])
    assert cli_json("sync", cwd=ws)["failed"] == 0
    record = listed(ws, PART1)
    assert (record["status"], record["progress"]) == ("completed", 13)
    assert record["repeat_count"] == 1


def test_e2e_in_progress_part_2_episode_leaves_part_1_alone(tmp_path):
    # Episode 17 of season 2 (Part 2's 4th) started, unfinished; Part 1 is PLANNED.
    library = show(SHOW, IDS, {2: {17: []}}, records={(2, 17): {"status": "watching"}})
    ws = workspace(
        tmp_path,
        [library],
        [list_title(117197, 13, {"status": "planned"}), list_title(151803, 12)],
    )
    assert cli_json("sync", cwd=ws)["failed"] == 0
    assert listed(ws, PART1) == {"status": "planned"}  # untouched
    assert listed(ws, PART2)["status"] == "watching"


def test_e2e_completed_with_an_episode_in_progress_again_is_not_rewatching(tmp_path):
    # #122 through a real provider: every episode played, and episode 1 started
    # again (in progress) without finishing. The memory fake keeps one record per
    # episode and hides this; the local file holds both the plays and the state.
    library = show(
        SHOW, IDS, {2: first_pass()}, records={(2, 1): {"status": "watching"}}
    )
    ws = workspace(tmp_path, [library], [list_title(117197, 13)])
    assert cli_json("sync", cwd=ws)["failed"] == 0
    record = listed(ws, PART1)
    assert (record["status"], record["progress"]) == ("completed", 13)


# -- point 6: one read policy, one set of counts ------------------------------------


def _agreeing_workspace(tmp_path: Path) -> Path:
    # Part 1 fully watched, Part 2 started, and a show no mapping knows (no-target).
    episodes = {e: [at(1, 18, 10 * e)] for e in range(1, 17)}
    library = [
        show(SHOW, IDS, {2: episodes}),
        show("unknown", ["tvdb_show:999999999"], {1: {1: [at(1, 12)]}}),
    ]
    return workspace(
        tmp_path, library, [list_title(117197, 13), list_title(151803, 12)]
    )


def _both(ws: Path) -> tuple[dict, dict]:
    """`plan --json` and `sync --dry-run --json` on the same state."""
    plan = cli_json("plan", cwd=ws)
    dry = cli_json("sync", "--dry-run", cwd=ws)
    return plan, dry


def test_e2e_plan_and_sync_agree_after_an_undo(tmp_path):
    ws = _agreeing_workspace(tmp_path)
    plan, dry = _both(ws)
    counts = plan["plan"]["counts"]
    assert counts["skipped"].get("no-target") == 1
    # one set of counts: the plan's and the run summary's are the same numbers
    assert (
        plan["summary"]["skipped"] == sum(counts["skipped"].values()) == dry["skipped"]
    )
    assert len(plan["plan"]["actions"]) == dry["planned"] == plan["summary"]["planned"]
    first = cli_json("sync", cwd=ws)
    assert first["applied"] == 2 and first["failed"] == 0
    assert first["skipped"] == dry["skipped"]

    # Undo reverts the list; the source did not change, so an incremental read
    # from the old cursor would see nothing: the undo must forget that cursor.
    cli_json("undo", first["run_id"], "--yes", cwd=ws)
    assert listed(ws, PART1) is None
    plan, dry = _both(ws)
    assert len(plan["plan"]["actions"]) == dry["planned"] == 2
    assert plan["summary"]["skipped"] == dry["skipped"]
    again = cli_json("sync", cwd=ws)
    assert again["applied"] == 2
    assert listed(ws, PART1)["progress"] == 13


def test_e2e_plan_and_sync_agree_after_a_restore(tmp_path):
    ws = _agreeing_workspace(tmp_path)
    first = cli_json("sync", cwd=ws)
    assert first["applied"] == 2
    # Restore the list from the backup taken before that run's first write.
    [backup] = sorted((ws / "data" / "backups" / "p").glob("list-*.json"))
    cli("restore", str(backup), "--provider", "list", "--yes", cwd=ws)
    assert listed(ws, PART1) is None
    plan, dry = _both(ws)
    assert len(plan["plan"]["actions"]) == dry["planned"] == 2
    # a real run then converges, and everything agrees on "nothing to do"
    assert cli_json("sync", cwd=ws)["applied"] == 2
    plan, dry = _both(ws)
    assert plan["summary"]["planned"] == dry["planned"] == 0


# -- point 8 through real local files ------------------------------------------------

SPECIALS = "show-79449"  # TVDB 79449 season 0 (1-13) is AniList 441


def test_e2e_season_watched_flag_expands_only_to_that_seasons_episodes(tmp_path):
    # Upstream #43: a "season watched" flag on specials (only 3 of the 13 mapped
    # ones are in the library) counts those 3, not every mapped episode; an
    # unwatched flag on another library's season counts nothing.
    library = show(
        SPECIALS, ["tvdb_show:79449"], {0: {1: [], 2: [], 3: []}},
        season_records={0: {"status": "completed"}},
    )  # fmt: skip
    ws = workspace(tmp_path, [library], [list_title(441, 13)])
    assert cli_json("sync", cwd=ws)["failed"] == 0
    record = listed(ws, "anilist:441")
    assert (record["status"], record["progress"]) == ("watching", 3)


def test_e2e_unwatched_season_flag_is_not_expanded(tmp_path):
    library = show(
        SPECIALS, ["tvdb_show:79449"], {0: {1: [], 2: [], 3: []}},
        season_records={0: {"status": "watching"}},
    )  # fmt: skip
    ws = workspace(tmp_path, [library], [list_title(441, 13)])
    assert cli_json("sync", cwd=ws)["failed"] == 0
    record = listed(ws, "anilist:441")
    assert record is None or record.get("progress", 0) == 0


def test_e2e_a_dropped_entry_is_held_without_a_newer_play(tmp_path):
    # Plays on March 1st; the list entry was dropped by hand afterwards.
    library = show(SHOW, IDS, {2: first_pass()})
    dropped = {"status": "dropped", "progress": 5,
               "updated_at": "2024-03-20T00:00:00Z"}  # fmt: skip
    ws = workspace(tmp_path, [library], [list_title(117197, 13, dropped)])
    plan = cli_json("plan", cwd=ws)["plan"]
    reasons = {(s["field"], s["reason"]) for s in plan["skipped"]}
    assert ("status", "rule") in reasons
    assert cli_json("sync", cwd=ws)["failed"] == 0
    record = listed(ws, PART1)
    assert (record["status"], record["progress"]) == ("dropped", 13)
