"""bench/suite_busy.py: its JSON says what happened, for a green and a red command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "suite_busy.py"


def run_bench(*command: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--runs", "2", "--busy", "1", "--", *command],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_green_runs_report_counts_cpu_and_a_busy_spinner():
    out = run_bench(
        sys.executable, "-c", "print('== 3,171 passed, 82 skipped in 1.00s ==')"
    )
    assert out["all_green"] is True
    assert out["busy_processes"] == 1
    assert [r["counts"] for r in out["runs"]] == [{"passed": 3171, "skipped": 82}] * 2
    for r in out["runs"]:
        assert r["exit_code"] == 0 and r["green"] is True
        assert len(r["spinner_core_share"]) == 1
        assert Path(r["log"]).read_text().startswith("== 3,171 passed")


def test_a_failed_run_is_not_green_even_when_it_exits_zero():
    out = run_bench(sys.executable, "-c", "print('1 failed, 9 passed in 0.5s')")
    assert out["all_green"] is False
    assert out["runs"][0]["counts"] == {"failed": 1, "passed": 9}


def test_a_nonzero_exit_is_not_green():
    out = run_bench(sys.executable, "-c", "import sys; sys.exit(3)")
    assert [r["exit_code"] for r in out["runs"]] == [3, 3]
    assert out["all_green"] is False
