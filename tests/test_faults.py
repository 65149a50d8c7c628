"""Fault points: rules are read strictly, and a pipe pause holds a child exactly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from anibridge import faults
from tests.app.cli.cli_support import Hold

CHILD = (
    "from anibridge import faults\n"
    "print('before', flush=True)\n"
    "faults.checkpoint('point')\n"
    "print('after', flush=True)\n"
)


def spawn(hold: Hold, code: str = CHILD) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env={"ANIBRIDGE_FAULTS": hold.rule, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        pass_fds=hold.fds,
    )
    hold.started()
    return proc


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("pause@point#1=fd:3", "pause needs fd:GO,REACHED"),
        ("pause@point#1=fd:a,4", "pause needs fd:GO,REACHED"),
        ("pause@point#1", "pause needs where to wait"),
        ("stop@point#1", "cannot read rule"),
        ("kill@point#x", "cannot read rule"),
    ],
)
def test_a_rule_that_cannot_be_followed_is_refused_with_its_text(spec, message):
    with pytest.raises(ValueError, match=message) as caught:
        faults._parse(spec)
    assert repr(spec) in str(caught.value)


def test_a_pipe_pause_holds_the_child_until_released():
    hold = Hold("point#1")
    proc = spawn(hold)
    try:
        hold.wait(proc)
        # Paused: it wrote its pid and now blocks on the go pipe; it cannot end.
        assert proc.poll() is None
        hold.release()
        out, err = proc.communicate(timeout=60)
    finally:
        hold.close()
    assert proc.returncode == 0, err
    assert out.split() == ["before", "after"]


def test_a_child_that_dies_before_its_pause_fails_the_wait_instead_of_hanging():
    hold = Hold("point#1")
    proc = spawn(hold, "import os\nos._exit(3)\n")
    try:
        with pytest.raises(AssertionError, match="process ended early"):
            hold.wait(proc)
    finally:
        hold.close()
    assert proc.wait(timeout=60) == 3


def test_a_test_that_goes_away_lets_the_paused_child_go_on():
    hold = Hold("point#1")
    proc = spawn(hold)
    hold.wait(proc)
    hold.close()  # no release: the end of the go pipe is enough
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert out.split() == ["before", "after"]


def test_a_numbered_rule_pauses_at_that_hit_of_its_point():
    hold = Hold("point#2")
    code = CHILD.replace(
        "faults.checkpoint('point')\n",
        "faults.checkpoint('point')\nprint('between', flush=True)\n"
        "faults.checkpoint('point')\n",
    )
    proc = spawn(hold, code)
    try:
        hold.wait(proc)
        assert proc.stdout is not None
        assert [proc.stdout.readline().strip() for _ in range(2)] == [
            "before",
            "between",
        ]
        assert proc.poll() is None
        hold.release()
        out, err = proc.communicate(timeout=60)
    finally:
        hold.close()
    assert proc.returncode == 0, err
    assert out.split() == ["after"]
