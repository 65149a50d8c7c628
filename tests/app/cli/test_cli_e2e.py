"""End-to-end: the real CLI in a subprocess on a real demo workspace."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from anibridge.providers.local import LocalProvider
from tests.app.cli.cli_support import Hold

CLI = [sys.executable, "-m", "anibridge.app.cli"]


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def invoke(*args: str, cwd: Path) -> Result:
    """The same CLI in-process (fast), for the many error/option cases."""
    from typer.testing import CliRunner

    from anibridge.app import cli

    cli._load_commands()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        env = {k: None for k in os.environ if k.startswith("ANIBRIDGE_")}
        result = CliRunner().invoke(cli.app, list(args), env=env)
    finally:
        os.chdir(old)
    return Result(result.exit_code, result.stdout, result.stderr)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def export_list(path: Path, seed: Path | None = None) -> dict:
    async def go() -> dict:
        config = {
            "path": str(path),
            "authorities": ["anilist"],
            "rating_scale": [0, 100, 1],
            "date_precision": "date",
        }
        if seed is not None:
            config["seed"] = str(seed)
        provider = LocalProvider(logger=logging.getLogger("t"), config=config)
        await provider.initialize()
        try:
            doc = provider.export_document()
        finally:
            await provider.close()
        for item in doc["items"]:
            record = item.get("record")
            if record:
                record.pop("updated_at", None)
                record.pop("revision", None)
        return doc

    return asyncio.run(go())


def test_demo_then_second_demo_then_undo_restores_the_list(tmp_path):
    ws = tmp_path / "ws"
    first = run("demo", "--dir", str(ws), "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert set(summary) == {
        "run_id",
        "profile",
        "dry_run",
        "status",
        "planned",
        "applied",
        "failed",
        "unknown",
        "stale",
        "unsent",
        "skipped",
        "unchanged",
        "duration_s",
    }
    assert summary["planned"] == summary["applied"] > 0
    assert summary["failed"] == 0 and summary["dry_run"] is False
    assert summary["status"] == "ok" and summary["unknown"] == 0
    before = export_list(tmp_path / "fresh.sqlite", seed=ws / "list.yaml")
    after = export_list(ws / "list.sqlite")
    assert after != before
    backups = list((ws / "data" / "backups" / "demo").glob("list-*.json"))
    assert len(backups) == 1

    second = run("demo", "--dir", str(ws), "--json", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["applied"] == 0 and again["planned"] == 0
    assert again["unchanged"] > 0

    history = invoke(
        "history", "--json", "--config", str(ws / "anibridge.yaml"), cwd=tmp_path
    )
    assert history.returncode == 0, history.stderr
    assert summary["run_id"] in {r["run_id"] for r in json.loads(history.stdout)}

    undone = run(
        "undo",
        summary["run_id"],
        "--json",
        "--yes",
        "--config",
        str(ws / "anibridge.yaml"),
        cwd=tmp_path,
    )
    assert undone.returncode == 0, undone.stderr
    assert json.loads(undone.stdout)["failed"] == 0
    assert export_list(ws / "list.sqlite") == before


def test_demo_human_output_shows_plan_and_summary(tmp_path):
    result = invoke("demo", "--dir", str(tmp_path / "ws"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Plan " in result.stdout and "planned" in result.stdout
    assert "anibridge undo" in result.stdout


def _write_config(ws: Path, text: str) -> Path:
    ws.mkdir(parents=True, exist_ok=True)
    path = ws / "anibridge.yaml"
    path.write_text(text)
    return path


GOOD = """\
profiles:
  p:
    source: {name: lib, type: local, config: {path: lib.sqlite}}
    target: {name: lst, type: %s, config: {path: lst.sqlite, authorities: [anilist]}}
"""


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("malformed", "not valid YAML at line"),
        ("unknown-provider", "unknown provider 'nosuch'"),
        ("unreadable-store", "anibridge.db"),
        ("corrupt-local", "lib.sqlite is not a readable SQLite database"),
        ("corrupt-target", "lst.sqlite is not a readable SQLite database"),
    ],
)
def test_errors_are_one_paragraph_nonzero_and_write_nothing(tmp_path, setup, expected):
    ws = tmp_path / "ws"
    if setup == "malformed":
        config = _write_config(ws, "profiles: {p: [unclosed\n")
    elif setup == "unknown-provider":
        config = _write_config(ws, GOOD % "nosuch")
    elif setup == "unreadable-store":
        config = _write_config(ws, GOOD % "local")
        (ws / "data").mkdir()
        (ws / "data" / "anibridge.db").write_bytes(b"garbage" * 1000)
    elif setup == "corrupt-local":
        config = _write_config(ws, GOOD % "local")
        (ws / "lib.sqlite").write_bytes(b"garbage" * 1000)
    else:  # the source file is new (would be created); the target is corrupt
        config = _write_config(ws, GOOD % "local")
        (ws / "lst.sqlite").write_bytes(b"garbage" * 1000)
    files_before = sorted(p.relative_to(ws) for p in ws.rglob("*") if p.is_file())
    sizes_before = {p: (ws / p).read_bytes() for p in files_before}
    result = invoke("sync", "--json", "--config", str(config), cwd=tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""
    message = " ".join(result.stderr.split())
    assert expected in message, message
    assert "Traceback" not in result.stderr
    files_after = sorted(
        p.relative_to(ws)
        for p in ws.rglob("*")
        if p.is_file() and p.name != "secret.key"
    )
    new = [p for p in files_after if p not in files_before]
    # at most the store's own bookkeeping appears; no provider file is created
    assert all(p.parts[0] == "data" for p in new), new
    if setup != "unreadable-store":
        # nothing at all: no store, no secret key, no source file
        all_after = sorted(p.relative_to(ws) for p in ws.rglob("*") if p.is_file())
        assert all_after == files_before
    for p, data in sizes_before.items():
        assert (ws / p).read_bytes() == data


def test_init_writes_a_valid_template_and_providers_lists_local(tmp_path):
    result = invoke("init", str(tmp_path / "anibridge.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    again = invoke("init", str(tmp_path / "anibridge.yaml"), cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr
    plan = invoke(
        "plan", "--json", "--config", str(tmp_path / "anibridge.yaml"), cwd=tmp_path
    )
    # Unedited it syncs two empty files: it says so instead of "0 actions".
    assert plan.returncode == 1 and "untouched template" in plan.stderr
    providers = invoke("providers", "--json", cwd=tmp_path)
    rows = {r["name"]: r for r in json.loads(providers.stdout)}
    assert rows["local"]["loaded"] and "target" in rows["local"]["roles"]


def test_export_import_round_trip_and_bad_document(tmp_path):
    ws = tmp_path / "ws"
    assert invoke("demo", "--dir", str(ws), "--json", cwd=tmp_path).returncode == 0
    cfg = str(ws / "anibridge.yaml")
    out = tmp_path / "list.json"
    exported = invoke(
        "export", "list", "-f", "json", "-o", str(out), "--config", cfg, cwd=tmp_path
    )
    assert exported.returncode == 0, exported.stderr
    before = export_list(ws / "list.sqlite")
    bad = tmp_path / "bad.yaml"
    bad.write_text("anibridge_local: 1\nitems:\n  - {key: x, kind: tv}\n")
    rejected = invoke(
        "import", str(bad), "--provider", "list", "--config", cfg, cwd=tmp_path
    )
    assert rejected.returncode == 1
    assert "bad.yaml: items[0].kind" in " ".join(rejected.stderr.split())
    assert export_list(ws / "list.sqlite") == before
    imported = invoke(
        "import", str(out), "--provider", "list", "--config", cfg, cwd=tmp_path
    )
    assert imported.returncode == 0, imported.stderr
    assert export_list(ws / "list.sqlite") == before
    again = invoke("demo", "--dir", str(ws), "--json", cwd=tmp_path)
    assert json.loads(again.stdout)["applied"] == 0


def test_sync_dry_run_writes_nothing_and_pins_hold_fields(tmp_path):
    from anibridge.app.demo import prepare_workspace

    config, _ = prepare_workspace(tmp_path / "ws")
    cfg = str(config)
    dry = invoke("sync", "--dry-run", "--json", "--config", cfg, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    summary = json.loads(dry.stdout)
    assert summary["dry_run"] is True and summary["applied"] == 0
    assert summary["planned"] > 0
    before = export_list(tmp_path / "ws" / "list.sqlite")
    seed = export_list(tmp_path / "fresh.sqlite", seed=tmp_path / "ws" / "list.yaml")
    assert before == seed
    pinned = invoke(
        "pin",
        "set",
        "anilist:20",
        "progress",
        "--profile",
        "demo",
        "--provider",
        "list",
        "--config",
        cfg,
        cwd=tmp_path,
    )
    assert pinned.returncode == 0, pinned.stderr
    real = invoke("sync", "--json", "--config", cfg, cwd=tmp_path)
    assert real.returncode == 0, real.stderr
    after = {i["key"]: i for i in export_list(tmp_path / "ws" / "list.sqlite")["items"]}
    assert after["anilist:20"]["record"]["progress"] == 12  # pinned: never written
    listed = invoke(
        "pin", "list", "--profile", "demo", "--json", "--config", cfg, cwd=tmp_path
    )
    assert json.loads(listed.stdout) == [
        {"provider": "list", "ref": "anilist:20", "fields": ["progress"]}
    ]


def test_guard_refusal_exits_2_and_writes_nothing(tmp_path):
    from anibridge.app.demo import prepare_workspace

    config, _ = prepare_workspace(tmp_path / "ws")
    config.write_text(
        config.read_text().replace(
            "direction: one_way", "direction: two_way\n    allow_deletes: true"
        )
    )
    cfg = str(config)
    assert invoke("sync", "--json", "--config", cfg, cwd=tmp_path).returncode == 0
    exported = tmp_path / "list.json"
    invoke(
        "export",
        "list",
        "-f",
        "json",
        "-o",
        str(exported),
        "--config",
        cfg,
        cwd=tmp_path,
    )
    doc = json.loads(exported.read_text())
    for item in doc["items"]:
        item.pop("record", None)  # the user wiped their list
    exported.write_text(json.dumps(doc))
    wiped = invoke(
        "import", str(exported), "--provider", "list", "--config", cfg, cwd=tmp_path
    )
    assert wiped.returncode == 0, wiped.stderr
    library_before = (tmp_path / "ws" / "library.sqlite").read_bytes()
    refused = invoke("sync", "--json", "--config", cfg, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    summary = json.loads(refused.stdout)
    assert summary["applied"] == 0 and summary["planned"] > 0
    assert "guard" in refused.stderr
    assert (tmp_path / "ws" / "library.sqlite").read_bytes() == library_before


def test_sync_is_incremental_through_the_change_feed(tmp_path):
    import asyncio as aio
    from datetime import UTC, datetime

    from anibridge.app.demo import prepare_workspace
    from anibridge.provider.base import AppendEvent, Ref

    config, _ = prepare_workspace(tmp_path / "ws")
    cfg = str(config)
    first = json.loads(invoke("sync", "--json", "--config", cfg, cwd=tmp_path).stdout)
    assert first["applied"] > 0
    idle = json.loads(invoke("sync", "--json", "--config", cfg, cwd=tmp_path).stdout)
    assert idle["planned"] == 0 and idle["applied"] == 0

    async def watch_more() -> None:
        library = LocalProvider(
            logger=logging.getLogger("t"),
            config={"path": str(tmp_path / "ws" / "library.sqlite")},
        )
        await library.initialize()
        ref = Ref.at("show-78857", ("season", 2), ("episode", 48))
        (result,) = await library.write_events(
            [AppendEvent(ref, "play", datetime(2025, 11, 20, 20, tzinfo=UTC))]
        )
        assert result.ok
        await library.close()

    aio.run(watch_more())
    after = json.loads(invoke("sync", "--json", "--config", cfg, cwd=tmp_path).stdout)
    assert after["planned"] == after["applied"] == 1
    entry = {i["key"]: i for i in export_list(tmp_path / "ws" / "list.sqlite")["items"]}
    assert entry["anilist:20"]["record"]["last_activity_at"].startswith("2025-11-20")
    full = json.loads(
        invoke("sync", "--full", "--json", "--config", cfg, cwd=tmp_path).stdout
    )
    assert full["planned"] == 0 and full["unchanged"] > 0
    runs = json.loads(invoke("history", "--json", "--config", cfg, cwd=tmp_path).stdout)
    assert idle["run_id"] in {r["run_id"] for r in runs}


def test_backup_and_restore(tmp_path):
    from anibridge.app.demo import prepare_workspace

    config, _ = prepare_workspace(tmp_path / "ws")
    cfg = str(config)
    made = invoke("backup", "--config", cfg, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    files = sorted((tmp_path / "ws" / "data" / "backups" / "demo").glob("list-*.json"))
    assert len(files) == 1
    before = export_list(tmp_path / "ws" / "list.sqlite")
    assert invoke("sync", "--json", "--config", cfg, cwd=tmp_path).returncode == 0
    assert export_list(tmp_path / "ws" / "list.sqlite") != before
    restored = invoke("restore", str(files[0]), "--yes", "--config", cfg, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert export_list(tmp_path / "ws" / "list.sqlite") == before
    missing = invoke(
        "restore", str(tmp_path / "nope.json"), "--config", cfg, cwd=tmp_path
    )
    assert missing.returncode == 1 and "nope.json" in missing.stderr


def _edit_list(path: Path, key: str, **record: object) -> None:
    """Change one entry's record in the list file, as the user would."""

    async def go() -> None:
        config = {"path": str(path), "authorities": ["anilist"], "create": False}
        config |= {"rating_scale": [0, 100, 1], "date_precision": "date"}
        provider = LocalProvider(logger=logging.getLogger("t"), config=config)
        await provider.initialize()
        try:
            doc = provider.export_document()
            (item,) = [i for i in doc["items"] if i["key"] == key]
            item["record"].update(record)
            provider.import_document(json.dumps(doc).encode(), where="edit")
        finally:
            await provider.close()

    asyncio.run(go())


def test_undo_reports_fields_it_refused_to_revert(tmp_path):
    ws = tmp_path / "ws"
    first = invoke("demo", "--dir", str(ws), "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    run_id = json.loads(first.stdout)["run_id"]
    # the run moved anilist:8795 from 2 to 3 episodes; the user then watched more
    assert export_list(ws / "list.sqlite")["items"]
    _edit_list(ws / "list.sqlite", "anilist:8795", progress=5)
    config = str(ws / "anibridge.yaml")

    human = invoke("undo", run_id, "--yes", "--config", config, cwd=tmp_path)
    assert human.returncode == 0, human.stderr
    lines = human.stdout.splitlines()
    assert lines[0].endswith("0 failed, 1 refused"), lines
    assert len(lines) == 2, lines
    assert "anilist:8795" in lines[1] and "stale" in lines[1]
    assert "changed since the run, kept: progress" in lines[1]
    (item,) = [
        i
        for i in export_list(ws / "list.sqlite")["items"]
        if i["key"] == "anilist:8795"
    ]
    assert item["record"]["progress"] == 5  # the user's newer value stayed
    assert "started_at" not in item["record"]  # what the run added was reverted


def test_undo_json_lists_refusals(tmp_path):
    ws = tmp_path / "ws"
    first = invoke("demo", "--dir", str(ws), "--json", cwd=tmp_path)
    run_id = json.loads(first.stdout)["run_id"]
    _edit_list(ws / "list.sqlite", "anilist:8795", progress=5)
    result = invoke(
        "undo",
        run_id,
        "--json",
        "--yes",
        "--config",
        str(ws / "anibridge.yaml"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    refused = json.loads(result.stdout)["refused"]
    assert refused == [
        {
            "provider": refused[0]["provider"],
            "ref": "anilist:8795",
            "field": None,
            "reason": "stale",
            "detail": "changed since the run, kept: progress",
        }
    ]


def test_undo_names_a_created_entry_it_kept_because_the_user_rated_it(tmp_path):
    ws = tmp_path / "ws"
    first = invoke("demo", "--dir", str(ws), "--json", cwd=tmp_path)
    run_id = json.loads(first.stdout)["run_id"]
    # the run created anilist:110277; the user rated it afterwards
    _edit_list(ws / "list.sqlite", "anilist:110277", rating=80)
    result = invoke(
        "undo",
        run_id,
        "--yes",
        "--config",
        str(ws / "anibridge.yaml"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("0 failed, 1 refused"), lines
    assert "anilist:110277" in lines[1] and "it now holds rating" in lines[1]
    items = export_list(ws / "list.sqlite")["items"]
    keys = {i["key"] for i in items if i.get("record")}
    assert "anilist:110277" in keys


def _list_side(name: str) -> str:
    return (
        f"      name: {name}\n      type: local\n      config:\n"
        f"        path: {name}.sqlite\n        seed: list.yaml\n"
        "        authorities: [anilist]\n        rating_scale: [0, 100, 1]\n"
        "        date_precision: date\n"
    )


def _drop_record(path: Path, key: str) -> None:
    """Remove one entry's record from a list file, as the user would."""

    async def go() -> None:
        config = {"path": str(path), "authorities": ["anilist"], "create": False}
        config |= {"rating_scale": [0, 100, 1], "date_precision": "date"}
        provider = LocalProvider(logger=logging.getLogger("t"), config=config)
        await provider.initialize()
        try:
            doc = provider.export_document()
            (item,) = [i for i in doc["items"] if i["key"] == key]
            del item["record"]
            provider.import_document(json.dumps(doc).encode(), where="edit")
        finally:
            await provider.close()

    asyncio.run(go())


def test_a_delete_of_an_entry_edited_while_the_sync_runs_is_stale_and_kept(
    tmp_path, capsys
):
    # Two lists kept in step both ways, deletes allowed. The user removes Bleach
    # from list b and Naruto from list a, so the sync deletes each on the other
    # list (b's delete first). While it writes b (held at its first journaled
    # batch), the user watches an episode of Bleach on list a: that edit must
    # survive, so a's delete is stale, not sent.
    from anibridge.app.demo import prepare_workspace

    config, _ = prepare_workspace(tmp_path / "ws")
    ws = config.parent
    config.write_text(
        "data_dir: data\nprofiles:\n  both:\n    source:\n" + _list_side("a")
        + "    target:\n" + _list_side("b")
        + "    direction: two_way\n    allow_deletes: true\n    fields: all\n"
    )  # fmt: skip
    first = run("sync", "--json", "--config", str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    _drop_record(ws / "b.sqlite", "anilist:269")  # goes to a as a delete
    _drop_record(ws / "a.sqlite", "anilist:20")  # goes to b as a delete
    preview = run("plan", "--json", "--config", str(config), cwd=tmp_path)
    header = json.loads(preview.stdout)["plan"]["counts"]["skipped"]
    hold = Hold("journal.intent#1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    env["ANIBRIDGE_FAULTS"] = hold.rule
    proc = subprocess.Popen(
        [*CLI, "sync", "--json", "--config", str(config)], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=hold.fds,
    )  # fmt: skip
    hold.started()
    try:
        hold.wait(proc)
        _edit_list(ws / "a.sqlite", "anilist:269", progress=121)
        hold.release()
        out, err = proc.communicate(timeout=120)
    finally:
        hold.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = json.loads(out)
    # The drifted write is reported as stale; `skipped` is the plan header's.
    assert (summary["applied"], summary["stale"]) == (1, 1), summary
    assert summary["skipped"] == sum(header.values()), (summary, header)
    from anibridge.app.cli.sync import print_summary

    capsys.readouterr()
    print_summary({**summary, "_extra": {}})  # the human line of the same run
    line = " ".join(capsys.readouterr().out.split())  # wrapped at the width
    assert "1 stale (changed since the plan, not written)" in line, line
    assert f", {summary['skipped']} skipped, " in line, line
    # The run's record says so too.
    hist = run("history", "--json", "--config", str(config), cwd=tmp_path)
    newest = json.loads(hist.stdout)[0]
    assert newest["run_id"] == summary["run_id"]
    assert (newest["summary"]["applied"], newest["summary"]["stale"]) == (1, 1)
    a = {i["key"]: i for i in export_list(ws / "a.sqlite")["items"]}
    assert a["anilist:269"]["record"]["progress"] == 121
    b = {i["key"]: i for i in export_list(ws / "b.sqlite")["items"]}
    assert "record" not in b["anilist:20"]


def test_a_dry_run_is_recorded_with_the_counts_a_real_run_has(tmp_path):
    # After a sync, a full dry run finds every entry in sync: its plan holds many
    # `unchanged` skips. Its record in `history` counts them as a real run does —
    # `skipped` is the plan header's (rules that held a write back), `unchanged`
    # the entries in sync — never the plan's raw list of skips.
    from anibridge.app.demo import prepare_workspace

    config, _ = prepare_workspace(tmp_path / "ws")
    cfg = str(config)
    real = run("sync", "--json", "--config", cfg, cwd=tmp_path)
    assert real.returncode == 0, real.stderr
    preview = run("plan", "--full", "--json", "--config", cfg, cwd=tmp_path)
    header = json.loads(preview.stdout)["plan"]["counts"]
    dry = run("sync", "--dry-run", "--full", "--json", "--config", cfg, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    summary = json.loads(dry.stdout)
    assert summary["unchanged"] == header["unchanged"] > 0, (summary, header)
    assert summary["skipped"] == sum(header["skipped"].values()), (summary, header)
    hist = run("history", "--json", "--config", cfg, cwd=tmp_path)
    runs = json.loads(hist.stdout)
    dry_run = runs[0]
    assert dry_run["run_id"] == summary["run_id"], runs
    (real_run,) = [r for r in runs if r["kind"] == "sync"]
    counted = ("planned", "applied", "failed", "unknown", "stale", "unsent")
    assert {k: dry_run["summary"][k] for k in (*counted, "skipped", "unchanged")} == {
        k: summary[k] for k in (*counted, "skipped", "unchanged")
    }, (dry_run, summary)
    # The real run's record uses the same keys with the same meanings as its summary.
    real_summary = json.loads(real.stdout)
    assert {k: real_run["summary"][k] for k in (*counted, "skipped", "unchanged")} == {
        k: real_summary[k] for k in (*counted, "skipped", "unchanged")
    }, (real_run, real_summary)
