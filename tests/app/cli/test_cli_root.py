"""The root command: ``--version``, and errors no command expected (exit 70)."""

from __future__ import annotations

import sys

import pytest

import anibridge.app.cli as cli
from tests.app.cli.cli_support import run


def test_version(tmp_path) -> None:
    done = run("--version", cwd=tmp_path)
    assert done.stdout.startswith("anibridge ")
    assert done.stdout.split()[1][0].isdigit()


def test_unexpected_error_is_one_line_with_exit_70(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom() -> None:
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr(cli, "app", boom)
    monkeypatch.setattr(cli, "_load_commands", lambda *_: None)
    monkeypatch.setattr(sys, "argv", ["anibridge"])
    with pytest.raises(SystemExit) as caught:
        cli.main()
    assert caught.value.code == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: unexpected RuntimeError: something broke — run ")
    assert "--debug" in err


def test_unexpected_error_with_debug_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from anibridge.app.cli import DEBUG

    def boom() -> None:
        DEBUG.on = True
        raise RuntimeError("broke")

    monkeypatch.setattr(cli, "app", boom)
    monkeypatch.setattr(cli, "_load_commands", lambda *_: None)
    monkeypatch.setattr(DEBUG, "on", False)
    with pytest.raises(RuntimeError, match="broke"):
        cli.main()
