"""The test suite while other processes keep every core busy (issue #15).

    .venv/bin/python bench/suite_busy.py [--runs 5] [--busy N] [-- CMD...]

Starts N busy-loop processes (default: one per CPU) at the same priority as the
suite, then runs the suite command (default `./dev test -q`) `--runs` times back to
back while they spin, and prints one JSON object: per run the exit code, the
pytest summary counts, wall and CPU seconds (user + system of the command and the
workers it waited for, from `os.wait4`), the load average before and after, and how
busy the spinners really were (their CPU seconds over the run's wall seconds, per
spinner: 1.0 is a whole core each). `all_green` is true when every run exited 0
with no failures or errors. Each run's output is kept in the directory named by
`logs`. Not a timed assertion: a claim about flakiness under load, checked by
running the real suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(
    r"(\d[\d,]*) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)"
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def spinner_cpu(pid: int) -> float:
    """CPU seconds a spinner has used so far (utime + stime from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def counts(output: str) -> dict[str, int]:
    """The counts of pytest's last summary line ("2,900 passed, 81 skipped in …")."""
    lines = [
        line for line in output.splitlines() if " in " in line and "passed" in line
    ]
    if not lines:
        return {}
    found: dict[str, int] = {}
    for number, word in SUMMARY.findall(lines[-1]):
        found[word.rstrip("s") if word.startswith("error") else word] = int(
            number.replace(",", "")
        )
    return found


def one_run(
    command: list[str], log: Path, spinners: list[subprocess.Popen[bytes]]
) -> dict[str, Any]:
    """Run the command once and measure it and the spinners beside it."""
    before = [spinner_cpu(p.pid) for p in spinners]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    with log.open("wb") as out:
        child = subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    spun = [spinner_cpu(p.pid) - b for p, b in zip(spinners, before, strict=True)]
    found = counts(log.read_text(errors="replace"))
    code = os.waitstatus_to_exitcode(status)
    return {
        "exit_code": code,
        "green": code == 0 and not found.get("failed") and not found.get("error"),
        "counts": found,
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "spinner_core_share": [round(s / wall, 2) for s in spun],
        "log": str(log),
    }


def main() -> None:
    """Parse arguments, start the spinners, run the suite, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 2)
    parser.add_argument("command", nargs="*", default=["./dev", "test", "-q"])
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="suite-busy-"))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(args.busy)
    ]
    runs: list[dict[str, Any]] = []
    try:
        for number in range(1, args.runs + 1):
            runs.append(one_run(args.command, logs / f"run-{number}.log", spinners))
            print(json.dumps({"run": number, **runs[-1]}), file=sys.stderr, flush=True)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    walls = sorted(run["wall_s"] for run in runs)
    print(
        json.dumps(
            {
                "commit": commit,
                "command": args.command,
                "busy_processes": args.busy,
                "cpus": os.cpu_count(),
                "runs": runs,
                "all_green": all(run["green"] for run in runs),
                "wall_median_s": walls[len(walls) // 2] if walls else None,
                "logs": str(logs),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
