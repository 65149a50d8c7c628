"""CLI start-up: CPU (optionally instructions) of `anibridge` runs vs `python -c pass`.

    .venv/bin/python bench/cli_startup.py [--runs 7] [--full-dataset] [--instructions]
                                          [--src OTHER/src] [--as-is]

Each command runs `--runs` times as a fresh process, as a user runs it: the
`anibridge` console script next to this interpreter (`python -m anibridge.app.cli`
when there is none). Per command the median CPU seconds (user + system of the child,
from `getrusage`) and wall seconds are reported, and `cpu_vs_bare_python`: the median
CPU divided by the median of `python -c pass` on the same interpreter. CPU, not wall,
is the figure to compare on a shared machine (a busy one stretches wall time, far
less CPU time); the noise left in CPU is in its spread, so quote the ratio with the
load average printed beside it.

`--instructions` adds one run of each command under `valgrind --tool=callgrind`
(needs valgrind; ~1 min more): the instruction count is what a busy machine cannot
distort, and `instructions_vs_bare_python` is the steadiest ratio.

`index_ready_ms` is the median of 3 in-process times `load_index` reports
(`mappings stats --json`, `load_seconds`) with the compiled index warm: how long a
process waits for the index once AniBridge is imported.

Bytecode: `cached` (the default) writes `.pyc` files to a private
PYTHONPYCACHEPREFIX, warmed once first, as a pip-installed AniBridge has them;
`--as-is` also measures the caller's environment as it is (this sandbox sets
PYTHONDONTWRITEBYTECODE=1 and uv installs without bytecode, so every import compiles
from source). `--full-dataset` makes the downloaded dataset the full-scale synthetic
payload of `bench/mappings_load.py` (163k sources): the first call compiles the index,
the measured ones open it. `--src` puts another checkout's `src` first on PYTHONPATH
to compare before/after on one machine. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS: dict[str, list[str]] = {
    "bare_python": [],
    "help": ["--help"],
    "sync_help": ["sync", "--help"],
    "mappings_translate": ["mappings", "translate", "anilist:20", "40", "--json"],
    "init": ["init", "{tmp}/anibridge.yaml", "--force"],
}


def _entry() -> list[str]:
    script = Path(sys.executable).with_name("anibridge")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "anibridge.app.cli"]


def _command(name: str, tmp: str) -> list[str]:
    if name == "bare_python":
        return [sys.executable, "-c", "pass"]
    return [*_entry(), *(a.replace("{tmp}", tmp) for a in COMMANDS[name])]


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _once(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    cpu0, wall0 = _child_cpu(), time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    wall, cpu = time.perf_counter() - wall0, _child_cpu() - cpu0
    if done.returncode != 0:
        raise SystemExit(f"{command} exited {done.returncode}: {done.stderr.decode()}")
    return wall, cpu, done.stdout.decode()


def _measure(command: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    samples = [_once(command, env) for _ in range(runs)]
    cpus = [c for _, c, _ in samples]
    return {
        "cpu_s": round(statistics.median(cpus), 4),
        "cpu_min_s": round(min(cpus), 4),
        "cpu_max_s": round(max(cpus), 4),
        "wall_s": round(statistics.median(w for w, _, _ in samples), 3),
    }


def _instructions(command: list[str], env: dict[str, str]) -> int:
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind: {done.stderr[-500:]}")
    return int(found.group(1))


def _index_ready_ms(env: dict[str, str], runs: int) -> float:
    command = [*_entry(), "mappings", "stats", "--json"]
    seconds = [json.loads(_once(command, env)[2])["load_seconds"] for _ in range(runs)]
    return round(statistics.median(seconds) * 1000, 1)


def _write_full_dataset(cache: Path) -> None:
    cache.mkdir()
    subprocess.run(
        [sys.executable, "-c", "import sys, mappings_load, pathlib; "
         "p = mappings_load.write_payload(pathlib.Path(sys.argv[1]), 'zst'); "
         "p.rename(pathlib.Path(sys.argv[1]) / 'mappings.dataset')",
         str(cache)],
        cwd=Path(__file__).parent, check=True,
    )  # fmt: skip


def _mode(
    env: dict[str, str], tmp: str, opts: argparse.Namespace, warm: bool
) -> dict[str, object]:
    rows: dict[str, dict[str, float]] = {}
    for name in COMMANDS:
        command = _command(name, tmp)
        if warm or name == "mappings_translate":
            _once(command, env)  # bytecode / compiled index written once first
        rows[name] = _measure(command, env, opts.runs)
        if opts.instructions:
            rows[name]["instructions"] = _instructions(command, env)
    floor = rows["bare_python"]
    for row in rows.values():
        row["cpu_vs_bare_python"] = round(row["cpu_s"] / (floor["cpu_s"] or 1e-3), 2)
        if opts.instructions:
            ratio = row["instructions"] / floor["instructions"]
            row["instructions_vs_bare_python"] = round(ratio, 2)
    return {"commands": rows, "index_ready_ms": _index_ready_ms(env, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--src", type=Path, help="Another checkout's src directory.")
    parser.add_argument(
        "--full-dataset",
        action="store_true",
        help="Translate on the full-scale synthetic dataset (generated once).",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="Also count instructions (one run each under valgrind's callgrind).",
    )
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="Also measure without cached bytecode (the caller's environment).",
    )
    opts = parser.parse_args()
    if opts.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
        cache = Path(tmp) / "mappings-cache"
        base["ANIBRIDGE_MAPPINGS_CACHE"] = str(cache)
        if opts.full_dataset:
            _write_full_dataset(cache)
        if opts.src is not None:
            base["PYTHONPATH"] = str(opts.src.resolve())
        cached = {**base, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}
        cached.pop("PYTHONDONTWRITEBYTECODE", None)
        result: dict[str, object] = {
            "python": sys.version.split()[0],
            "entry": " ".join(Path(p).name for p in _entry()),
            "runs": opts.runs,
            "src": str(opts.src) if opts.src else "installed",
            "dataset": "full-scale synthetic" if opts.full_dataset else "bundled",
            "ratio_basis": "median CPU (user + sys) of each command / python -c pass",
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        }
        result["cached"] = _mode(cached, tmp, opts, warm=True)
        if opts.as_is:
            result["as_is"] = _mode(base, tmp, opts, warm=False)
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        result["bench_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
