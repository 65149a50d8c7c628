"""Progress is drawn on a terminal and never on a pipe or under ``--json``."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import threading
from pathlib import Path

from cli_support import CLI
from rich.console import Console

from anibridge.app.cli.progress import showing_progress
from anibridge.progress import Phase, Read, Waiting, Wrote, emit

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    env.update(TERM="xterm-256color", COLUMNS="160", LINES="50")
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    return env


def _on_pty(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal; (code, stdout, terminal text)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, *args],
        cwd=cwd,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=300)
    reader.join(timeout=60)
    os.close(master)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    return proc.returncode, out.decode(), text


def _demo(tmp_path: Path) -> Path:
    from anibridge.app.demo import prepare_workspace

    config, _ = prepare_workspace(tmp_path / "demo")
    return config


def test_sync_draws_reads_planning_and_writes_on_a_terminal(tmp_path):
    config = _demo(tmp_path)
    code, out, terminal = _on_pty(["sync", "--full", "-c", str(config)], config.parent)
    assert code == 0, terminal
    assert "reading library · " in terminal
    assert "reading list · " in terminal
    assert re.search(r"reading library · \w+.*\d+ pages?, \d+ items", terminal)
    assert "planning" in terminal
    assert re.search(r"writing .*\d+/\d+", terminal)
    assert "applied" in out  # the summary stays on stdout


def test_sync_on_a_pipe_and_json_on_a_terminal_draw_nothing(tmp_path):
    config = _demo(tmp_path)
    piped = subprocess.run(
        [*CLI, "plan", "--full", "-c", str(config)],
        cwd=config.parent,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert piped.returncode == 0, piped.stderr
    assert "reading" not in piped.stderr and "planning" not in piped.stderr
    code, out, terminal = _on_pty(
        ["sync", "--full", "--json", "-c", str(config)], config.parent
    )
    assert code == 0, terminal
    assert "reading" not in terminal and "writing" not in terminal
    assert json.loads(out)["applied"] > 0  # stdout is only the JSON


def test_a_rate_limit_wait_is_drawn_as_a_wait():
    sink = io.StringIO()
    console = Console(file=sink, force_terminal=True, width=120)
    with showing_progress(console, "sync", enabled=True) as view:
        emit(Read("anilist", "records", 500))
        emit(Phase("planning"))
        emit(Phase("writing", 30))
        emit(Wrote("anilist", 10))
        emit(Waiting("anilist", 42.0, "rate limit"))
        view.bar.refresh()
        during = ANSI.sub("", sink.getvalue())
        emit(Wrote("anilist", 10))
        view.bar.refresh()
    assert "waiting 42s · anilist: rate limit" in during
    assert "reading anilist · records" in during
    assert "1 page, 500 items" in during
    assert "10/30" in during
    assert view.state.written == 20
    assert view._waiting is None  # gone once writing resumed


def test_disabled_or_not_a_terminal_draws_nothing():
    for console, enabled in (
        (Console(file=io.StringIO(), force_terminal=False), True),
        (Console(file=io.StringIO(), force_terminal=True), False),
    ):
        with showing_progress(console, "sync", enabled=enabled):
            emit(Read("plex", "library", 3))
            emit(Phase("writing", 1))
            emit(Wrote("plex", 1))
        assert console.file.getvalue() == ""  # type: ignore[attr-defined]


def test_undo_draws_its_writes_on_a_terminal(tmp_path):
    config = _demo(tmp_path)
    synced = subprocess.run(
        [*CLI, "sync", "--full", "--json", "-c", str(config)],
        cwd=config.parent,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    run_id = json.loads(synced.stdout)["run_id"]
    code, out, terminal = _on_pty(
        ["undo", run_id, "--yes", "-c", str(config)], config.parent
    )
    assert code == 0, terminal + out
    assert re.search(r"writing .*\d+/\d+", terminal)
    assert "reverted" in out
