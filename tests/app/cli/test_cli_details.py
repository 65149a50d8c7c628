"""CLI details people trip on, through the real CLI.

Short run ids everywhere a run is named; `undo` shows what it will change and asks
(refusing without a terminal unless `--yes`), says when a run was already undone;
`restore` asks the same way; `history` shows short ids and local, human times
and never folds values when piped; `sync --all` syncs every profile and carries
on past one that fails; `serve` refuses a port in use with one line before it
says it is listening.

What depends on the process (no terminal, TZ, exit codes, a bound port) runs in a
subprocess; setup and follow-up calls run the same app in-process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from anibridge.app.cli import _common, _load_commands, app
from anibridge.testing.fakes.faults import closed_port
from tests.app.cli.cli_support import (
    CLI,
    cli,
    list_title,
    local_side,
    read_local,
    run,
    show,
    write_config,
    write_doc,
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    env.pop("COLUMNS", None)
    return {**env, **extra}


def _demo(tmp_path: Path) -> tuple[Path, str]:
    ws = tmp_path / "ws"
    done = cli("demo", "--dir", str(ws), "--json", cwd=tmp_path)  # in-process
    return ws / "anibridge.yaml", json.loads(done.stdout)["run_id"]


def _items(ws: Path) -> list:
    return read_local(ws / "list.sqlite")["items"]


def test_undo_short_id_asks_then_reverts_once(tmp_path: Path) -> None:
    config, run_id = _demo(tmp_path)
    ws = config.parent
    after_sync = _items(ws)
    cfg = ("--config", str(config))

    refused = run("undo", run_id[:6], *cfg, cwd=tmp_path, check=False)
    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith(f"error: undo of run {run_id[:6]} would make ")
    assert "run it again with --yes" in line
    assert _items(ws) == after_sync  # nothing written

    done = cli("undo", run_id[:6], "--yes", *cfg, cwd=tmp_path)
    assert f"reverted {run_id}:" in done.stdout
    reverted = _items(ws)
    assert reverted != after_sync

    again = cli("undo", run_id[:8], "--yes", *cfg, cwd=tmp_path)
    assert again.stdout.startswith(f"run {run_id} was already undone by run ")
    assert again.stdout.strip().endswith("; nothing to do")
    assert _items(ws) == reverted

    unknown = cli("undo", "zzzz", "--yes", *cfg, cwd=tmp_path, check=False)
    assert unknown.returncode == 1
    assert "no run starts with 'zzzz'" in unknown.stderr


@pytest.mark.parametrize("answer", ["n", "y"])
def test_undo_on_a_terminal_shows_the_changes_and_asks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    config, run_id = _demo(tmp_path)
    after_sync = _items(config.parent)
    monkeypatch.setattr(_common, "has_terminal", lambda: True)
    _load_commands()
    result = CliRunner().invoke(
        app, ["undo", run_id[:8], "--config", str(config)], input=f"{answer}\n"
    )
    assert "make these" in result.stdout and "change(s)? [y/N]" in result.stdout
    assert "actions:" in result.stdout  # the plan table came first
    if answer == "n":
        assert result.exit_code == 1
        assert "nothing changed (not confirmed)" in result.stderr
        assert _items(config.parent) == after_sync
    else:
        assert result.exit_code == 0, result.stderr
        assert f"reverted {run_id}:" in result.stdout
        assert _items(config.parent) != after_sync


def test_restore_asks_without_terminal(tmp_path: Path) -> None:
    config, _ = _demo(tmp_path)
    backups = sorted((config.parent / "data" / "backups").rglob("list-*"))
    assert backups
    before = _items(config.parent)
    refused = run("restore", str(backups[0]), "--config", str(config),
                  cwd=tmp_path, check=False)  # fmt: skip
    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()
    assert "restore would replace the state of list" in line
    assert "--yes" in line
    assert _items(config.parent) == before
    cli("restore", str(backups[0]), "--yes", "--config", str(config), cwd=tmp_path)
    assert _items(config.parent) != before


def test_history_short_ids_local_times_and_no_folding(tmp_path: Path) -> None:
    config, run_id = _demo(tmp_path)
    cfg = ["--config", str(config)]
    data = json.loads(cli("history", "--json", *cfg, cwd=tmp_path).stdout)
    (entry,) = [r for r in data if r["run_id"] == run_id]
    done = subprocess.run(
        [*CLI, "history", *cfg], cwd=tmp_path, env=_env(TZ="Asia/Tokyo"),
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert run_id not in done.stdout  # short ids only
    (row,) = [line for line in done.stdout.splitlines() if run_id[:8] in line]
    started = datetime.fromisoformat(entry["started_at"]).astimezone(
        ZoneInfo("Asia/Tokyo")
    )
    assert f"{started:%Y-%m-%d %H:%M} (" in row
    assert " ago)" in row or "(just now)" in row
    summary = ", ".join(
        f"{k}={v}" for k, v in entry["summary"].items() if not isinstance(v, dict)
    )
    assert summary in row  # whole, on the run's one line
    assert len(row) > 80  # a pipe is not folded at an assumed 80 columns


def test_sync_all_syncs_every_profile_and_carries_on(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    write_doc(
        ws / "lib.yaml", [show("s1", ["anilist:1"], {1: {1: ["2024-01-01T10:00:00Z"]}})]
    )
    write_doc(ws / "list.yaml", [list_title(1, 12)])
    write_doc(ws / "list2.yaml", [list_title(1, 12)])
    broken = {"name": "plex", "type": "plex",
              "config": {"base_url": f"http://127.0.0.1:{closed_port()}",
                         "token": "s3cr3t-token"}}  # fmt: skip
    write_config(ws, {
        "one": {"source": local_side("lib"), "target": local_side("list")},
        "broken": {"source": broken, "target": local_side("list2")},
        "two": {"source": local_side("lib"), "target": local_side("list2")},
    })  # fmt: skip
    done = run("sync", "--all", "--json", cwd=ws, check=False)
    assert done.returncode == 69, done.stderr
    results = json.loads(done.stdout)
    assert [r["profile"] for r in results] == ["broken", "one", "two"]  # config order
    assert results[0]["status"] == "error"
    assert results[1]["applied"] >= 1 and results[2]["applied"] >= 1
    assert "error: plex: 127.0.0.1:" in done.stderr
    assert "refused the connection" in done.stderr
    clash = cli("sync", "--all", "--profile", "one", cwd=ws, check=False)
    assert clash.returncode == 1 and "leave out --profile" in clash.stderr


def test_serve_refuses_a_port_in_use(tmp_path: Path) -> None:
    config, _ = _demo(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CLI, "serve", "--config", str(config), "--port", str(port)],
            cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line == (
        f"error: port {port} on 127.0.0.1 is already in use (another AniBridge, or "
        "another service?) — stop it, or choose another port with --port or "
        "`web.port`"
    )
    assert "listening" not in done.stdout + done.stderr
