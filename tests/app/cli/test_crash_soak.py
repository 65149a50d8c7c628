"""The crash soak, short: a handful of `kill -9` points on both targets.

The same machinery as `bench/crash_soak.py` (`anibridge.testing.crash`), on small
libraries: real `anibridge sync` subprocesses killed at fault checkpoints
(``ANIBRIDGE_FAULTS``) or, on the fake Trakt, while the fake holds a history POST.
Nothing waits on the clock: a kill happens at a checkpoint or inside the fake's
request handler, and each step waits for its process to end. Every killed sync is a
real process. What follows a kill (re-runs, `history`, `undo`) runs in new processes
for the first list point (as `bench/crash_soak.py` does for all: a new interpreter
opening what a killed one left, here a half-created list file) and calls the same
app in-process for the others, a tenth of the CPU of a new interpreter; the Trakt
points cross that boundary the same way, so their follow-ups run in-process too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from anibridge.testing.crash import (
    ListTarget,
    Point,
    TraktTarget,
    in_a_process,
    reference,
    run_point,
)
from tests.app.cli.cli_support import invoke

LIST_POINTS = [
    Point("local.create#2 (the list file)", "kill@local.create#2"),
    Point("local.write#8 (inside batch 2)", "kill@local.write#8"),
    Point("write.answered#3", "kill@write.answered#3"),
]
TRAKT_POINTS = [
    Point("journal.intent#2 (1 batch settled)", "kill@journal.intent#2"),
    Point("in-flight POST #2, lands", inflight=2),
    Point("in-flight POST #1, lost", inflight=1, lands=False),
    Point("POST #2 reset, applied late", late=2),
]


@pytest.fixture(scope="module")
def list_target(tmp_path_factory):
    target = ListTarget(tmp_path_factory.mktemp("soak"), shows=12, episodes=4, batch=5)
    yield target, reference(target)
    target.close()


@pytest.fixture(scope="module")
def trakt_target(tmp_path_factory):
    target = TraktTarget(tmp_path_factory.mktemp("soak"), shows=8, episodes=4, batch=6)
    yield target, reference(target)
    target.close()


def _in_process(config: Path, args: tuple[str, ...]) -> tuple[int, str, str]:
    done = invoke(*args, "--config", str(config))
    return done.returncode, done.stdout, done.stderr


def _check(result) -> None:
    assert result.killed or result.point.startswith("POST"), result
    assert result.converged, result
    assert result.duplicates == 0 and result.journal_duplicates == 0, result
    assert result.stuck == 0 and result.unresolved == 0, result
    assert result.undo_exact and result.converged_after_undo, result
    assert result.ok and not result.notes, result


def test_the_reference_runs_pass_every_kind_of_checkpoint(list_target, trakt_target):
    for (_target, ref), extra in ((list_target, "local.write"), (trakt_target, None)):
        names = set(ref.trace)
        assert {"local.create", "local.seeded", "journal.intent"} <= names
        assert {"write.answered", "journal.outcome"} <= names
        assert extra is None or extra in names
        assert ref.trace.count("journal.intent") >= 3  # several batches
        assert ref.synced != ref.pristine
    assert trakt_target[1].history_posts >= 3


@pytest.mark.parametrize("point", LIST_POINTS, ids=lambda p: p.name)
def test_killed_list_syncs_converge_and_undo_exactly(list_target, point):
    target, ref = list_target
    follow_up = in_a_process if point is LIST_POINTS[0] else _in_process
    _check(run_point(target, ref, point, follow_up))


@pytest.mark.parametrize("point", TRAKT_POINTS, ids=lambda p: p.name)
def test_killed_trakt_syncs_never_duplicate_a_play(trakt_target, point):
    target, ref = trakt_target
    _check(run_point(target, ref, point, _in_process))
