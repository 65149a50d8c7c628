"""Crash soak: `kill -9` a real `anibridge sync` at points chosen by progress.

    .venv/bin/python bench/crash_soak.py [--points 14] [--shows 200] [--trakt-shows 40]

Two workspaces (see `anibridge.testing.crash`): a local library of `--shows` shows
synced into a local AniList-keyed list that already holds a fifth of them, and a
library of `--trakt-shows` shows synced into the fake Trakt on 127.0.0.1 (history
that keeps every POSTed play; POSTs applied late). For each, one traced reference
run lists the checkpoints; about `--points` kill points per target are chosen from
it (file creation, seeding, after 0/1/k journal rows, answers not yet journaled,
writes inside a batch, Trakt requests in flight and POSTs applied late). Each
point is run twice from the pristine workspace: killed then re-run (compared with
the reference; duplicates, stuck runs, unresolved journal rows counted), and
killed then undone (compared with the pristine state) then re-run. Prints one
JSON object; `ok` is true when every point converged with 0 duplicates, 0 stuck
runs and an exact undo. Run it under `nice`: it starts a few hundred processes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from anibridge.testing.crash import (
    ListTarget,
    TraktTarget,
    choose_points,
    reference,
    run_point,
    summarize,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=14, help="Per target.")
    parser.add_argument("--shows", type=int, default=200)
    parser.add_argument("--episodes", type=int, default=12)
    parser.add_argument("--trakt-shows", type=int, default=40)
    parser.add_argument("--trakt-episodes", type=int, default=8)
    parser.add_argument("--only", choices=("list", "trakt"))
    args = parser.parse_args()
    started = time.monotonic()
    report: dict[str, object] = {
        "command": " ".join(["bench/crash_soak.py", *sys.argv[1:]]),
    }
    results = []
    with tempfile.TemporaryDirectory(prefix="anibridge-soak-") as tmp:
        root = Path(tmp)
        builders = {
            "list": lambda: ListTarget(root, shows=args.shows, episodes=args.episodes),
            "trakt": lambda: TraktTarget(
                root, shows=args.trakt_shows, episodes=args.trakt_episodes
            ),
        }
        for name, build in builders.items():
            if args.only and name != args.only:
                continue
            target = build()
            try:
                ref = reference(target)
                points = choose_points(ref, target, args.points)
                report[name] = {
                    "writes": ref.applied,
                    "checkpoints_passed": len(ref.trace),
                }
                for point in points:
                    results.append(run_point(target, ref, point))
                    print(
                        f"{name} {point.name}: {'ok' if results[-1].ok else 'FAIL'}",
                        file=sys.stderr,
                        flush=True,
                    )
            finally:
                target.close()
    report.update(summarize(results, time.monotonic() - started))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
