"""The run lifecycle through the real CLI in subprocesses: kill -9, signals, two runs.

The fault hook (`anibridge.faults`, inert unless ``ANIBRIDGE_FAULTS`` is set) kills
or pauses the real `anibridge sync` process at points chosen by progress.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from anibridge.store import SqlStore
from tests.app.cli.cli_support import Hold

CLI = [sys.executable, "-m", "anibridge.app.cli"]


def workspace(root: Path) -> Path:
    """The demo workspace with small write batches and no lock wait."""
    from anibridge.app.demo import prepare_workspace

    config, _ = prepare_workspace(root)
    text = config.read_text()
    text = text.replace("data_dir: data\n", "data_dir: data\nlock_wait: 0\n")
    text = text.replace(
        "        date_precision: date\n",
        "        date_precision: date\n        write_batch_size: 5\n",
    )
    config.write_text(text)
    return config


def env_with(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    env.update(extra)
    return env


def cli(config: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess (for runs that are killed)."""
    return subprocess.run(
        [*CLI, *args, "--config", str(config)],
        env=env_with(**extra),
        capture_output=True,
        text=True,
        timeout=180,
    )


class Invoked:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def invoke(config: Path, *args: str) -> Invoked:
    """The same CLI in this process (fast) for the commands that follow a crash."""
    from typer.testing import CliRunner

    from anibridge.app import cli as commands

    commands._load_commands()
    env = {k: None for k in os.environ if k.startswith("ANIBRIDGE_")}
    result = CliRunner().invoke(commands.app, [*args, "--config", str(config)], env=env)
    return Invoked(result.exit_code, result.stdout, result.stderr)


def start(
    config: Path, *args: str, hold: Hold | None = None, **extra: str
) -> subprocess.Popen[str]:
    if hold is not None:
        extra["ANIBRIDGE_FAULTS"] = hold.rule
    proc = subprocess.Popen(
        [*CLI, *args, "--config", str(config)],
        env=env_with(**extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        pass_fds=hold.fds if hold is not None else (),
    )
    if hold is not None:
        hold.started()
    return proc


def list_state(config: Path) -> list[tuple]:
    """The demo list's entries (what a user sees), without bookkeeping."""
    import sqlite3

    with sqlite3.connect(config.parent / "list.sqlite") as conn:
        records = conn.execute(
            "SELECT key, path, kind, fields FROM records ORDER BY key, path, kind"
        ).fetchall()
        nodes = conn.execute(
            "SELECT key, path FROM nodes ORDER BY key, path"
        ).fetchall()
    return [("record", *r) for r in records] + [("node", *n) for n in nodes]


def store_of(config: Path) -> SqlStore:
    return SqlStore(f"sqlite:///{config.parent / 'data' / 'anibridge.db'}")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[list[tuple], list[tuple], int]:
    """(pristine list, list after one uninterrupted sync, writes it made)."""
    config = workspace(tmp_path_factory.mktemp("reference") / "ws")
    planned = invoke(config, "plan", "--json")
    assert planned.returncode == 0, planned.stderr
    pristine = list_state(config)
    done = invoke(config, "sync", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["applied"] == summary["planned"] > 10
    return pristine, list_state(config), summary["applied"]


def test_two_syncs_at_once_exactly_one_writes_and_the_journal_holds_each_once(
    tmp_path, reference
):
    _pristine, synced, writes = reference
    config = workspace(tmp_path / "ws")
    hold = Hold("journal.intent#1")
    first = start(config, "sync", "--json", hold=hold)
    hold.wait(first)  # holding the lock, first intent committed
    refused = invoke(config, "sync", "--json", "--wait", "0")
    assert refused.returncode == 75, refused.stderr
    message = refused.stderr.strip()
    assert "\n" not in message
    assert message.startswith("error: profile 'demo' is busy")
    assert f"pid {first.pid}" in message and "sync since" in message
    assert refused.stdout == ""
    waiter = start(config, "sync", "--json", "--wait", "600")
    hold.release()
    out, err = first.communicate(timeout=180)
    assert first.returncode == 0, err
    first_summary = json.loads(out)
    out, err = waiter.communicate(timeout=180)
    assert waiter.returncode == 0, err
    second = json.loads(out)
    assert second["planned"] == 0 and second["applied"] == 0

    assert list_state(config) == synced
    assert first_summary["applied"] == writes
    store = store_of(config)
    try:
        runs = store.runs("demo")
        assert len(runs) == 2  # the refused run never started
        applied = [
            (e.ref["key"], json.dumps(e.ref["path"]), e.kind)
            for r in runs
            for e in store.entries(r.id)
            if e.outcome == "applied"
        ]
        assert len(applied) == len(set(applied)) == writes  # each write once
        assert store.unresolved("demo") == []
    finally:
        store.close()


@pytest.mark.parametrize("kill_at", ["journal.intent#3", "local.write#7"])
def test_kill_9_then_history_shows_interrupted_undo_is_exact_and_rerun_converges(
    tmp_path, reference, kill_at
):
    pristine, synced, writes = reference
    config = workspace(tmp_path / "ws")
    killed = cli(config, "sync", "--json", ANIBRIDGE_FAULTS=f"kill@{kill_at}")
    assert killed.returncode == -signal.SIGKILL
    store = store_of(config)
    try:
        (run,) = store.runs("demo")
        assert run.status == "running"  # nobody could write it down
        assert store.unresolved("demo")  # the intent of the batch in flight
    finally:
        store.close()

    history = invoke(config, "history", "--json")
    assert history.returncode == 0, history.stderr
    (shown,) = json.loads(history.stdout)
    assert shown["run_id"] == run.id and shown["status"] == "interrupted"
    assert shown["owner"].startswith("pid ")

    undone = invoke(config, "undo", run.id, "--json", "--yes")
    assert undone.returncode == 0, undone.stderr
    assert "settled" in undone.stderr  # the pending intent was re-read first
    assert list_state(config) == pristine  # exact, including the unanswered batch

    again = invoke(config, "sync", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["applied"] == writes
    assert list_state(config) == synced
    store = store_of(config)
    try:
        assert [r.status for r in store.runs("demo")] == ["ok", "ok", "interrupted"]
        assert store.unresolved("demo") == []
    finally:
        store.close()


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_a_signal_after_the_first_batch_stops_cleanly_as_interrupted(
    tmp_path, reference, signum, code, capsys
):
    _pristine, synced, writes = reference
    config = workspace(tmp_path / "ws")
    preview = cli(config, "plan", "--json")
    header = json.loads(preview.stdout)["plan"]["counts"]
    hold = Hold("write.answered#1")
    proc = start(config, "sync", "--json", hold=hold)
    hold.wait(proc)
    proc.send_signal(signum)
    hold.release()
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == code, err
    summary = json.loads(out)
    assert summary["status"] == "interrupted"
    assert summary["applied"] == 5  # the batch in flight finished, nothing after it
    # The writes the stop left unsent are their own count, not skips: `skipped` is
    # still the plan header's (what the rules held back).
    assert summary["unsent"] == summary["planned"] - 5 > 0, summary
    assert summary["skipped"] == sum(header["skipped"].values()), (summary, header)
    from anibridge.app.cli.sync import print_summary

    capsys.readouterr()
    print_summary({**summary, "_extra": {}})  # the human line of the same run
    line = " ".join(capsys.readouterr().out.split())  # wrapped at the width
    assert f"{summary['unsent']} unsent (stopped before they were sent)" in line
    assert f", {summary['skipped']} skipped, " in line, line
    # The run's record, as `history` shows it, has the same counts.
    history = cli(config, "history", "--json")
    shown = json.loads(history.stdout)[0]  # newest first, after the plan's preview
    assert shown["run_id"] == summary["run_id"], shown
    for key in ("planned", "applied", "unsent", "skipped", "unchanged"):
        assert shown["summary"][key] == summary[key], (key, shown, summary)
    store = store_of(config)
    try:
        run = store.run(summary["run_id"])
        assert [r.kind for r in store.runs("demo")] == ["sync", "dry_run"]
        assert run.status == "interrupted"
        outcomes = [e.outcome for e in store.entries(run.id)]
        assert outcomes.count("applied") == 5
        assert set(outcomes) == {"applied", "skipped"}
    finally:
        store.close()
    again = invoke(config, "sync", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["applied"] == writes - 5
    assert list_state(config) == synced
