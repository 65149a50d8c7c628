"""`anibridge plan`/`demo` human output: the plan layout in a real 80-column pipe."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from anibridge.app.demo import prepare_workspace
from tests.app.cli.cli_support import invoke

CLI = [sys.executable, "-m", "anibridge.app.cli"]


def _run(*args: str, columns: int, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    env["COLUMNS"] = str(columns)
    env["ANIBRIDGE_MAPPINGS_CACHE"] = str(cwd / "mappings-cache")
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )


def test_plan_is_readable_at_80_columns_and_json_is_unchanged(tmp_path):
    config, _ = prepare_workspace(tmp_path / "ws")
    human = _run("plan", "--config", str(config), columns=80, cwd=tmp_path)
    assert human.returncode == 0, human.stderr
    lines = human.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    # no ISO timestamps broken over lines: dates are dates, instants are minutes
    assert not re.search(r"\d{4}-\d\d-\d\dT", human.stdout)
    assert re.search(r"— → \d{4}-\d\d-\d\d ", human.stdout)
    assert re.search(r"— → \d{4}-\d\d-\d\d \d\d:\d\d", human.stdout)
    # The JSON plan from the same app in-process (JSON has no width); the 80- and
    # 160-column plans are real subprocesses (a terminal width is per process).
    data = json.loads(
        invoke("plan", "--json", "--config", str(config), cwd=tmp_path,
               env={"COLUMNS": "80"}).stdout
    )  # fmt: skip
    actions = data["plan"]["actions"]
    new = sum(a["op"] == "upsert_record" and a["created"] for a in actions)
    assert f"{len(actions)} actions: {new} new" in human.stdout
    # one first row per action: op then the target id
    firsts = [ln.split()[:2] for ln in lines if ln.split()[:1] in (["new"], ["update"])]
    assert sorted(t for _, t in firsts) == sorted(a["ref"]["key"] for a in actions)
    assert "Skipped" in human.stdout  # plan lists the skipped candidates
    wide = _run("plan", "--config", str(config), columns=160, cwd=tmp_path).stdout
    assert "consumed episodes: 1 of 1" in wide
    # Wide, reasons are shown in full; only a very long title may be shortened.
    cut = [line for line in wide.split("Run ")[0].splitlines() if "…" in line]
    assert all("—" in line and line.index("…") < line.index("—") for line in cut)
