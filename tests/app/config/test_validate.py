"""One validator: the CLI, the web editor and PUT /api/config say the same things."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from anibridge.app.config import load_config, validate_config_text
from anibridge.messages import QUOTE_LIMIT, quote


def cli(*args: str) -> tuple[int, str, str]:
    from anibridge.app import cli as cli_module

    cli_module._load_commands()
    env = {k: None for k in os.environ if k.startswith("ANIBRIDGE_")}
    result = CliRunner().invoke(cli_module.app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def bomb(depth: int = 9) -> str:
    lines = [
        "profiles:",
        "  demo:",
        "    source:",
        "      type: local",
        "      config:",
        "        path: x.sqlite",
        '        a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ]
    for i in range(1, depth + 1):
        lines.append(f"        a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    lines.append("    target: {type: local, name: t, config: {path: y.sqlite}}")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(5)
def test_an_alias_bomb_config_fails_fast_with_a_short_message(tmp_path):
    path = tmp_path / "anibridge.yaml"
    path.write_text(bomb())
    assert len(path.read_bytes()) < 1100
    code, _out, err = cli("plan", "--config", str(path))
    assert code == 1
    assert "alias" in err and len(err) < 600
    code, _out, err = cli("config", "check", "--config", str(path))
    assert code == 1 and "alias bomb" in err


def test_recursion_and_size_are_refused(tmp_path):
    path = tmp_path / "anibridge.yaml"
    path.write_text("profiles: &p {demo: *p}\n")
    code, _out, err = cli("config", "check", "--config", str(path))
    assert code == 1 and "recursive alias" in err
    path.write_text("# " + "x" * (1 << 20) + "\n")
    code, _out, err = cli("plan", "--config", str(path))
    assert code == 1 and "the limit is 1,048,576 bytes" in err


GOOD_SOURCE = "{type: local, name: library, config: {path: library.sqlite}}"
RATING_HIGH = (
    f"profiles:\n  demo:\n    source: {GOOD_SOURCE}\n"
    "    target: {type: local, name: list, "
    "config: {path: list.sqlite, rating_scale: high}}\n"
)


def test_the_validator_accepts_what_the_cli_runs(tmp_path):
    from anibridge.app.config import TEMPLATE

    path = tmp_path / "anibridge.yaml"
    loaded, problems = validate_config_text(TEMPLATE, path=path, environ={})
    assert problems == [] and loaded is not None
    assert not (tmp_path / "library.sqlite").exists()  # checked, nothing created


def test_messages_quote_at_most_about_200_characters(tmp_path):
    long_value = "A" * 50_000
    path = tmp_path / "anibridge.yaml"
    path.write_text(
        f"profiles:\n  demo:\n    source: {GOOD_SOURCE}\n"
        f"    target: {{type: local, name: list, "
        f"config: {{path: l.sqlite, rating_scale: '{long_value}'}}}}\n"
        f"    schedule: {{cron: '{long_value}'}}\n"
    )
    _loaded, problems = validate_config_text(path.read_text(), path=path, environ={})
    assert problems and all(len(p) < 800 for p in problems)
    assert all("A" * (QUOTE_LIMIT + 1) not in p for p in problems)
    nested: list = ["lol"] * 9
    for _ in range(30):  # 9**30 leaves if printed out
        nested = [nested] * 9
    assert len(quote(nested)) <= QUOTE_LIMIT


def test_messages_are_printed_without_markup(tmp_path):
    odd = tmp_path / "a[/x]b" / "[bold]c"
    odd.mkdir(parents=True)
    code, _out, err = cli("plan", "--config", str(odd / "missing.yaml"))
    assert code == 1
    assert "[/x]b/[bold]c/missing.yaml does not exist" in err
    path = tmp_path / "anibridge.yaml"
    path.write_text(RATING_HIGH)
    code, _out, err = cli("plan", "--config", str(path))
    assert code == 1
    assert "[min, max, step]" in err


def test_loading_refuses_oversized_files_before_reading_them(tmp_path):
    path = tmp_path / "anibridge.yaml"
    with path.open("wb") as fh:
        fh.truncate(50 << 20)  # sparse: 50 MB that costs nothing to make
    with pytest.raises(Exception, match="the limit is"):
        load_config(path, environ={})
