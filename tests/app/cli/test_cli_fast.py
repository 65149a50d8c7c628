"""The typer-free path (`anibridge.app.cli._fast`) answers exactly as typer does.

Each case runs the real entry point twice in a subprocess: as installed (the fast
path takes the run when it can) and with the fast path switched off (typer parses
and runs it). Stdout, stderr and the exit code must be identical, and the fast run
must not have imported typer when the case is one it takes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from anibridge.app.cli._fast import translate_args

ENTRY = """
import json, os, sys
sys.argv = ["anibridge", *sys.argv[1:]]
import anibridge.app.cli as cli
import anibridge.app.cli._fast as fast
if os.environ.pop("TEST_TYPER_ONLY", None):
    fast.dispatch = lambda argv: False
try:
    cli.main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
with open(os.environ.pop("TEST_REPORT"), "w") as report:
    json.dump({"code": code, "typer": "typer" in sys.modules}, report)
sys.exit(code)
"""


def _run(args: list[str], cache: Path, report: Path, typer_only: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    env.update(ANIBRIDGE_MAPPINGS_CACHE=str(cache), TEST_REPORT=str(report))
    if typer_only:
        env["TEST_TYPER_ONLY"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", ENTRY, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    found = json.loads(report.read_text())
    assert found["code"] == done.returncode
    return {**found, "stdout": done.stdout, "stderr": done.stderr}


def _both(args: list[str], caches: Path, report: Path) -> tuple[dict, dict]:
    """The fast and the typer run of `args`, each on its own mappings cache."""
    runs = [
        _run(args, caches / f"cache-{typer_only}", report, typer_only)
        for typer_only in (False, True)
    ]
    fast, slow = runs
    assert slow["typer"]
    return fast, slow


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two mappings caches with the bundled dataset's index compiled (one per path)."""
    caches = tmp_path_factory.mktemp("warm")
    for typer_only in (False, True):
        cache = caches / f"cache-{typer_only}"
        _run(["mappings", "stats"], cache, caches / "report.json", typer_only=True)
    return caches


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    def write(name: str, data: object) -> str:
        path = tmp_path / name
        path.write_text(json.dumps(data), encoding="utf-8")
        return str(path)

    return {
        "base": write("base.json", {"anidb:7": {"anilist:1": {"1-12": "1-12"}}}),
        "over": write("over.json", {"anidb:7:R": {"anilist:1": {"1-12": "13-24"}}}),
        "bad": write("bad.json", {"anilist:1": {"mal:1": {"1-3": "1-2|2", "4": "4"}}}),
        "broken": str(tmp_path / "broken.json"),
        "missing": str(tmp_path / "missing.json"),
    }


TAKEN = {
    "json": ["anilist:280", "5", "60", "--json"],
    "text": ["anilist:280", "5", "60"],
    "to": ["anilist:20", "40", "1", "999", "--to", "tvdb_show", "--json"],
    "to-equals": ["anilist:20", "40", "--to=tvdb_show", "--to=mal"],
    "interspersed": ["--json", "anilist:280", "--to", "tmdb_show", "5"],
    "layered": ["anidb:7", "2", "--mappings", "{base}", "-m", "{over}", "--json"],
    "layered-text": ["anilist:1", "14", "--mappings={base}", "-m", "{over}"],
    "invalid-entries": ["anilist:1", "2", "-m", "{bad}"],
    "not-a-descriptor": ["nonsense", "1"],
    "bad-anidb-scope": ["anidb:1:X", "1", "--json"],
    "missing-file": ["anidb:7", "2", "-m", "{missing}"],
    "broken-file": ["anidb:7", "2", "-m", "{broken}", "--json"],
}

LEFT_TO_TYPER = {
    "help": ["--help"],
    "no-episode": ["anilist:280"],
    "not-an-int": ["anilist:280", "4x"],
    "negative": ["anilist:280", "-1"],
    "unknown-option": ["anilist:280", "5", "--bogus"],
    "missing-value": ["anilist:280", "5", "--to"],
    "option-like-value": ["anilist:280", "5", "--to", "--json"],
    "empty-value": ["anilist:280", "5", "--to="],
    "short-equals": ["anilist:280", "5", "-m={base}"],
    "double-dash": ["anilist:280", "--", "5"],
    "flag-value": ["anilist:280", "5", "--json=yes"],
}


def _args(case: list[str], files: dict[str, str]) -> list[str]:
    return ["mappings", "translate", *(a.format(**files) for a in case)]


@pytest.mark.parametrize("case", TAKEN.values(), ids=TAKEN.keys())
def test_the_fast_path_prints_and_exits_as_typer_does(case, files, warm, tmp_path):
    Path(files["broken"]).write_text("{not json", encoding="utf-8")
    args = _args(case, files)
    assert translate_args(args[2:]) is not None
    fast, slow = _both(args, warm, tmp_path / "report.json")
    assert not fast["typer"]
    assert {**fast, "typer": True} == slow


def test_a_cold_cache_prints_the_same_notice(files, tmp_path):
    fast, slow = _both(_args(TAKEN["json"], files), tmp_path, tmp_path / "r.json")
    assert "bundled" in fast["stderr"]
    assert not fast["typer"]
    assert {**fast, "typer": True} == slow


def _closed_pipe_run(args: list[str], cache: Path, report: Path, typer_only: bool):
    """`args` with stdout a pipe nobody reads (closed before the process starts)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    env.update(ANIBRIDGE_MAPPINGS_CACHE=str(cache), TEST_REPORT=str(report))
    if typer_only:
        env["TEST_TYPER_ONLY"] = "1"
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-c", ENTRY, *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    return {**json.loads(report.read_text()), "rc": done.returncode, "err": done.stderr}


def test_a_closed_stdout_exits_1_quietly_as_typer_does(files, warm, tmp_path):
    # typer's own exit for a reader that went away (`anibridge … | head -0`); the
    # fast path must not need typer for it (typer>=0.12 has no `typer._click`
    # before it vendored click)
    args = _args(TAKEN["text"], files)
    fast, slow = (
        _closed_pipe_run(args, warm / f"cache-{t}", tmp_path / "r.json", t)
        for t in (False, True)
    )
    assert (slow["code"], slow["rc"], slow["typer"]) == (1, 1, True)
    assert "Error" not in slow["err"]  # no traceback, no "error: unexpected"
    assert "error" not in slow["err"]
    assert fast == {**slow, "typer": False}


@pytest.mark.parametrize("case", LEFT_TO_TYPER.values(), ids=LEFT_TO_TYPER.keys())
def test_other_forms_are_left_to_typer(case, files):
    assert translate_args(_args(case, files)[2:]) is None


def test_a_form_left_to_typer_gets_typer_s_usage_error(files, warm, tmp_path):
    fast, slow = _both(
        _args(LEFT_TO_TYPER["not-an-int"], files), warm, tmp_path / "r.json"
    )
    assert fast["typer"]
    assert fast == slow
    assert fast["code"] == 2
    assert "'4x' is not a valid int" in fast["stderr"]


def test_an_unreadable_file_is_left_to_typer(files, monkeypatch):
    # click calls an existing file it cannot read a usage error (root reads any
    # file, so the permission check itself is what is replaced here)
    monkeypatch.setattr(os, "access", lambda path, mode: path != files["base"])
    assert translate_args(["anidb:7", "2", "-m", files["base"]]) is None
    assert translate_args(["anidb:7", "2", "-m", files["over"]]) is not None
    assert translate_args(["anidb:7", "2", "-m", files["missing"]]) is not None


def test_parsed_arguments_are_what_typer_passes():
    parsed = translate_args(
        ["--to=mal", "anilist:1", "+3", "-m", "a.json", "4", "--mappings", "b.json"]
    )
    assert parsed == (
        "anilist:1",
        [3, 4],
        ["mal"],
        [Path("a.json"), Path("b.json")],
        False,
    )
    assert translate_args(["anilist:1", "2", "--json"]) == (
        "anilist:1",
        [2],
        None,
        None,
        True,
    )


def test_a_completion_request_is_left_to_typer(monkeypatch):
    from anibridge.app.cli import _fast

    monkeypatch.setenv("_ANIBRIDGE_COMPLETE", "bash_complete")
    assert _fast.dispatch(["mappings", "translate", "anilist:1", "2"]) is False


def _help_run(tmp_path: Path, typer_only: bool, columns: str, as_module: bool) -> dict:
    env_main = (
        "import sys, anibridge.app.cli as m; "
        "sys.modules['__main__'].__package__ = 'anibridge.app.cli'; "
        "sys.argv[0] = m.__file__.replace('__init__', '__main__'); "
    )
    report = tmp_path / "help.json"
    env = {**os.environ, "COLUMNS": columns, "TEST_REPORT": str(report)}
    if typer_only:
        env["TEST_TYPER_ONLY"] = "1"
    code = (
        ENTRY.replace(
            "import anibridge.app.cli as cli",
            "import anibridge.app.cli as cli\n" + env_main,
        )
        if as_module
        else ENTRY
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    found = json.loads(report.read_text())
    return {
        **found,
        "stdout": done.stdout,
        "stderr": done.stderr,
        "rc": done.returncode,
    }


@pytest.mark.parametrize("as_module", [False, True], ids=["script", "python-m"])
def test_the_stored_help_is_what_typer_prints(as_module, tmp_path):
    fast = _help_run(tmp_path, typer_only=False, columns="80", as_module=as_module)
    slow = _help_run(tmp_path, typer_only=True, columns="80", as_module=as_module)
    assert slow["typer"] and not fast["typer"]
    assert fast["stdout"] == slow["stdout"], (
        "anibridge.app.cli._help is stale: run "
        "`.venv/bin/python -m anibridge.app.cli._help`"
    )
    assert (fast["stderr"], fast["rc"], fast["code"]) == ("", 0, 0)
    assert (slow["stderr"], slow["rc"], slow["code"]) == ("", 0, 0)
    prog = "python -m anibridge.app.cli" if as_module else "anibridge"
    assert fast["stdout"].startswith(f"Usage: {prog} [OPTIONS] COMMAND")


@pytest.mark.parametrize("as_module", [False, True], ids=["script", "python-m"])
def test_a_narrow_terminal_gets_typer_s_wrapped_help(as_module, tmp_path):
    fast = _help_run(tmp_path, typer_only=False, columns="60", as_module=as_module)
    slow = _help_run(tmp_path, typer_only=True, columns="60", as_module=as_module)
    # `python -m anibridge.app.cli`'s usage line wraps at 58: left to click
    assert fast["typer"] is as_module
    assert {**fast, "typer": True} == slow


def test_every_width_is_what_typer_prints():
    """Click's help width is 50 to 78 whatever the terminal: all of them match."""
    from anibridge.app.cli._help import render, width_for

    assert (width_for(0), width_for(79), width_for(80), width_for(300)) == (
        50, 77, 78, 78,
    )  # fmt: skip
    code = (
        "import json; from anibridge.app.cli._help import typer_renders; "
        "print(json.dumps([typer_renders('anibridge'), "
        "typer_renders('python -m anibridge.app.cli')]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    script, module = json.loads(done.stdout)
    assert len(script) == len(module) == 29
    stale = [w for w, text in script.items() if render("anibridge", int(w)) != text]
    assert not stale, (
        f"anibridge.app.cli._help_text is stale at widths {stale}: run "
        "`.venv/bin/python -m anibridge.app.cli._help`"
    )
    for width, text in module.items():
        ours = render("python -m anibridge.app.cli", int(width))
        assert ours is None or ours == text, width
        assert (ours is None) is (int(width) < 62)  # its usage line wraps


def test_a_long_program_name_is_left_to_click():
    from anibridge.app.cli._help import render

    assert render("anibridge", 78) is not None
    assert render("x" * 60, 78) is None
    assert render("anibridge", 79) is None  # no such width
