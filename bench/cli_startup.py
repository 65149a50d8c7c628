"""CLI start-up time: wall and CPU seconds of a few `anibridge` invocations.

    .venv/bin/python bench/cli_startup.py [--runs 5] [--src OTHER/src]

Each command runs `--runs` times in a fresh `python -m anibridge.app.cli`
subprocess; the median wall and CPU (user + system of the child) seconds are
reported per command. Two bytecode modes, because start-up is dominated by
compiling sources when no `.pyc` can be read:

- `as_is`: the caller's environment (this sandbox sets PYTHONDONTWRITEBYTECODE=1
  and uv installs without bytecode, so every import compiles from source);
- `cached`: bytecode written to a private PYTHONPYCACHEPREFIX (warmed once first),
  what a pip-installed AniBridge sees.

`--src` puts another checkout's `src` first on PYTHONPATH (e.g. an exported older
commit) to compare before/after on the same machine. `--full-dataset` makes the
downloaded dataset the full-scale synthetic payload of `bench/mappings_load.py`
(163k sources), so `mappings_translate` measures a warm process on it: the first
call compiles the index, the measured ones open it. `bare_python` (`python -c pass`)
is the floor the ratios divide by. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS: dict[str, list[str]] = {
    "bare_python": ["--bare-python"],
    "help": ["--help"],
    "sync_help": ["sync", "--help"],
    "mappings_translate": ["mappings", "translate", "anilist:20", "40", "--json"],
    "init": ["init", "{tmp}/anibridge.yaml", "--force"],
}


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    cpu0, wall0 = _child_cpu(), time.perf_counter()
    command = (
        [sys.executable, "-c", "pass"]
        if args == ["--bare-python"]
        else [sys.executable, "-m", "anibridge.app.cli", *args]
    )
    done = subprocess.run(
        command,
        env=env,
        capture_output=True,
        check=False,
    )
    wall, cpu = time.perf_counter() - wall0, _child_cpu() - cpu0
    if done.returncode != 0:
        raise SystemExit(f"{args} exited {done.returncode}: {done.stderr.decode()}")
    return wall, cpu


def _measure(args: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    samples = [_once(args, env) for _ in range(runs)]
    return {
        "wall_s": round(statistics.median(w for w, _ in samples), 3),
        "cpu_s": round(statistics.median(c for _, c in samples), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--src", type=Path, help="Another checkout's src directory.")
    parser.add_argument(
        "--full-dataset",
        action="store_true",
        help="Translate on the full-scale synthetic dataset (generated once).",
    )
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
        cache = Path(tmp) / "mappings-cache"
        base["ANIBRIDGE_MAPPINGS_CACHE"] = str(cache)
        if opts.full_dataset:
            cache.mkdir()
            subprocess.run(
                [sys.executable, "-c", "import sys, mappings_load, pathlib; "
                 "p = mappings_load.write_payload(pathlib.Path(sys.argv[1]), 'zst'); "
                 "p.rename(pathlib.Path(sys.argv[1]) / 'mappings.dataset')",
                 str(cache)],
                cwd=Path(__file__).parent, check=True,
            )  # fmt: skip
        if opts.src is not None:
            base["PYTHONPATH"] = str(opts.src.resolve())
        cached = {**base, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}
        cached.pop("PYTHONDONTWRITEBYTECODE", None)
        modes = {"as_is": base, "cached": cached}
        result: dict[str, object] = {
            "python": sys.version.split()[0],
            "runs": opts.runs,
            "src": str(opts.src) if opts.src else "installed",
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "dataset": "full-scale synthetic" if opts.full_dataset else "bundled",
        }
        for mode, env in modes.items():
            rows: dict[str, dict[str, float]] = {}
            for name, template in COMMANDS.items():
                args = [a.replace("{tmp}", tmp) for a in template]
                if mode == "cached" or name == "mappings_translate":
                    _once(args, env)  # warm the bytecode / compiled index cache
                rows[name] = _measure(args, env, opts.runs)
            floor = rows["bare_python"]["cpu_s"] or 0.001
            for row in rows.values():
                row["cpu_vs_bare_python"] = round(row["cpu_s"] / floor, 1)
            result[mode] = rows
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
