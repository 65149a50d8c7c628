"""End to end: `anibridge sync` local → local at 1,000 / 10,000 / 50,000 shows.

    .venv/bin/python bench/sync_e2e.py [--sizes 1000,10000] [--episodes 25]

For each size a workspace gets a local library of N shows x E episodes (about 60 %
of the episodes played once), an empty AniList-keyed local list, the full-scale
synthetic dataset of `bench/mappings_load.py` as the downloaded mappings (163k
sources, 255k descriptor pairs) plus a custom file mapping every benchmark show
(`tvdb_show:N:s1` → `anilist:N`). Then, each in a fresh process:

- `index`: building the compiled index for these inputs once (cold);
- `planner_before` / `planner_after`: identify + plan only, on snapshots read from
  the same files before and after the first sync (collection not timed), with the
  compiled index — the engine's floor on this data;
- `first`: `anibridge sync --json` (everything is written);
- `noop`: `anibridge sync --json` again (the change feed says nothing changed);
- `noop_full`: `anibridge sync --full --json` (reads both sides, plans nothing).

Per process: wall seconds, CPU seconds (user + system) and peak RSS (MB), from
`os.wait4`. Ratios compare each run with the planner on the same data, and the
growth factors compare sizes. The files are created with the local provider's own
schema and bulk inserts (setup is not measured). Prints one JSON object. The 50,000
size takes minutes and a few GB of disk: run it with `nice`, once.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BASE = 10_000_000  # synthetic ids far from the generated dataset's
T0 = datetime(2023, 1, 1, tzinfo=UTC)

CONFIG = """\
data_dir: data
mappings:
  custom: [bench-mappings.json]
profiles:
  bench:
    source:
      name: library
      type: local
      config: {path: library.sqlite, title: Bench library}
    target:
      name: list
      type: local
      config:
        path: list.sqlite
        create: true
        authorities: [anilist]
        rating_scale: [0, 100, 1]
        date_precision: date
    direction: one_way
    fields: all
"""

PLANNER = """
import asyncio, json, logging, os, sys, time
from anibridge.bridge.collect import collect
from anibridge.bridge.identity import identify
from anibridge.bridge.model import Policy
from anibridge.bridge.pause_gc import freeze_collected
from anibridge.bridge.plan import make_plan
from anibridge.mappings import load_index
from anibridge.providers.local import LocalProvider

async def main(folder):
    index = load_index([os.path.join(folder, "bench-mappings.json")], notice=None)
    log = logging.getLogger("bench")
    lib = LocalProvider(
        logger=log, config={"path": os.path.join(folder, "library.sqlite")}
    )
    lst = LocalProvider(logger=log, config={
        "path": os.path.join(folder, "list.sqlite"), "create": True,
        "authorities": ["anilist"], "rating_scale": [0, 100, 1],
        "date_precision": "date"})
    await lib.initialize(); await lst.initialize()
    source = await collect(lib, "library")
    target = await collect(lst, "list")
    freeze_collected()
    wall, cpu = time.perf_counter(), time.process_time()
    ident = await identify(source, target, index, provider=lst)
    plan = make_plan(source, target, ident, Policy(profile="bench"))
    out = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
           "actions": len(plan.actions)}
    print(json.dumps(out))

asyncio.run(main(sys.argv[1]))
"""


def _measured(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    started = time.perf_counter()
    child = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    # Read the pipes on threads so the child never blocks on a full pipe, and
    # reap it with wait4 to get its own resource usage.
    import threading

    chunks: dict[str, bytes] = {}

    def drain(name: str, stream: Any) -> None:
        chunks[name] = stream.read()

    readers = [
        threading.Thread(target=drain, args=("out", child.stdout)),
        threading.Thread(target=drain, args=("err", child.stderr)),
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    for reader in readers:
        reader.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0,):
        tail = chunks.get("err", b"").decode()[-2000:]
        raise SystemExit(f"{args[-4:]} exited {child.returncode}: {tail}")
    scale = 1 if sys.platform == "darwin" else 1024
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss * scale / 1e6, 1),
        "output": chunks.get("out", b"").decode(),
    }


def _library(folder: Path, shows: int, episodes: int) -> int:
    """Write the library with the provider's schema; returns the number of plays."""
    import random

    from anibridge.providers.local.database import LocalDatabase

    rng = random.Random(shows)
    db = LocalDatabase(folder / "library.sqlite", create=True)
    conn = db._conn  # bulk setup only; the benchmark itself goes through the CLI
    nodes, ids, events = [], [], []
    for i in range(shows):
        key = f"show{i:06}"
        show_id = f"tvdb_show:{BASE + i}"
        season_id = f"{show_id}:s1"
        nodes.append((key, "[]", "show", f"Show {i}", json.dumps([show_id]), "{}"))
        nodes.append(
            (key, '[["season",1]]', "season", None, json.dumps([season_id]), "{}")
        )
        ids += [(show_id, key, "[]"), (season_id, key, '[["season",1]]')]
        seen = episodes if rng.random() < 0.4 else rng.randint(0, episodes)
        for e in range(1, episodes + 1):
            path = f'[["season",1],["episode",{e}]]'
            nodes.append((key, path, "episode", f"Episode {e}", "[]", "{}"))
            if e <= seen:
                at = (T0 + timedelta(minutes=37 * i + 41 * e)).isoformat()
                events.append((key, path, "play", at))
    with db.transaction():
        conn.executemany(
            "INSERT INTO nodes (key, path, kind, title, ids, metadata) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            nodes,
        )
        conn.executemany(
            "INSERT INTO node_ids (descriptor, key, path) VALUES (?, ?, ?)", ids
        )
        conn.executemany(
            "INSERT INTO events (key, path, kind, at) VALUES (?, ?, ?, ?)", events
        )
    db.close()
    return len(events)


def _workspace(folder: Path, shows: int, episodes: int, dataset: Path) -> int:
    folder.mkdir(parents=True)
    (folder / "anibridge.yaml").write_text(CONFIG)
    (folder / "bench-mappings.json").write_text(
        json.dumps(
            {
                f"tvdb_show:{BASE + i}:s1": {
                    f"anilist:{BASE + i}": {f"1-{episodes}": f"1-{episodes}"}
                }
                for i in range(shows)
            }
        )
    )
    cache = folder / "mappings-cache"
    cache.mkdir()
    os.link(dataset, cache / "mappings.dataset")
    # In a child, like the dataset: a fork inherits the parent's resident memory
    # into the measured child's peak RSS.
    done = subprocess.run(
        [sys.executable, "-c", "import sys, pathlib, sync_e2e; "
         "print(sync_e2e._library(pathlib.Path(sys.argv[1]), *map(int, sys.argv[2:])))",
         str(folder), str(shows), str(episodes)],
        cwd=Path(__file__).parent, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(done.stdout)


def _size(shows: int, episodes: int, dataset: Path, root: Path) -> dict[str, Any]:
    folder = root / f"shows-{shows}"
    plays = _workspace(folder, shows, episodes, dataset)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    env["ANIBRIDGE_MAPPINGS_CACHE"] = str(folder / "mappings-cache")
    py = sys.executable
    cli = [py, "-m", "anibridge.app.cli"]
    cfg = ["--config", str(folder / "anibridge.yaml")]
    out: dict[str, Any] = {"shows": shows, "episodes": shows * episodes, "plays": plays}
    out["index"] = _measured(
        [py, "-c", "import sys; from anibridge.mappings import load_index; "
         "load_index([sys.argv[1]], notice=None)",
         str(folder / "bench-mappings.json")],
        env, folder,
    )  # fmt: skip
    planner = [py, "-c", PLANNER, str(folder)]
    out["planner_before"] = _measured(planner, env, folder)
    out["first"] = _measured([*cli, "sync", "--json", *cfg], env, folder)
    out["noop"] = _measured([*cli, "sync", "--json", *cfg], env, folder)
    out["noop_full"] = _measured([*cli, "sync", "--full", "--json", *cfg], env, folder)
    out["planner_after"] = _measured(planner, env, folder)
    for name in ("planner_before", "planner_after"):
        inner = json.loads(out[name].pop("output"))
        out[name]["plan_wall_s"] = round(inner["wall_s"], 3)
        out[name]["plan_cpu_s"] = round(inner["cpu_s"], 3)
        out[name]["actions"] = inner["actions"]
    for name in ("first", "noop", "noop_full"):
        summary = json.loads(out[name].pop("output"))
        out[name]["planned"] = summary["planned"]
        out[name]["applied"] = summary["applied"]
    out["index"].pop("output")
    floor_before = out["planner_before"]["plan_cpu_s"]
    floor_after = out["planner_after"]["plan_cpu_s"]
    out["ratios_cpu"] = {
        "first_vs_planner": round(out["first"]["cpu_s"] / floor_before, 2),
        "noop_vs_planner": round(out["noop"]["cpu_s"] / floor_after, 2),
        "noop_full_vs_planner": round(out["noop_full"]["cpu_s"] / floor_after, 2),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--episodes", type=int, default=25)
    parser.add_argument("--keep", type=Path, help="Keep the workspaces here.")
    opts = parser.parse_args()
    sizes = [int(s) for s in opts.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = opts.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        # In a child: the generator's memory would otherwise be inherited by every
        # measured process at fork and inflate its peak RSS.
        subprocess.run(
            [sys.executable, "-c", "import sys, mappings_load, pathlib; "
             "mappings_load.write_payload(pathlib.Path(sys.argv[1]), 'zst')",
             str(root)],
            cwd=Path(__file__).parent, check=True,
        )  # fmt: skip
        dataset = root / "mappings.json.zst"
        runs = [_size(n, opts.episodes, dataset, root) for n in sizes]
    report: dict[str, Any] = {
        "command": "bench/sync_e2e.py --sizes " + opts.sizes,
        "python": sys.version.split()[0],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "sizes": runs,
    }
    growth: dict[str, Any] = {}
    for small, big in itertools.pairwise(runs):
        name = f"{big['shows']}_vs_{small['shows']}"
        growth[name] = {
            run: round(big[run]["cpu_s"] / small[run]["cpu_s"], 2)
            for run in ("first", "noop", "noop_full")
        }
    report["growth_cpu"] = growth
    report["targets"] = {
        "first_vs_planner_max": 15,
        "noop_vs_planner_max": 1.5,
        "growth_50000_vs_10000_max": 6,
        "peak_rss_mb_max": 1000,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
