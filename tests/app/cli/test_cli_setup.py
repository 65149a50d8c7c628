"""`anibridge init` and `anibridge providers`: setup a person can follow."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import yaml


def invoke(*args: str, cwd: Path) -> SimpleNamespace:
    """The CLI in-process, in `cwd`, without the caller's ANIBRIDGE_* variables."""
    from typer.testing import CliRunner

    from anibridge.app import cli

    cli._load_commands()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        env = {k: None for k in os.environ if k.startswith("ANIBRIDGE_")}
        result = CliRunner().invoke(cli.app, list(args), env=env)
    finally:
        os.chdir(old)
    return SimpleNamespace(
        returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr
    )


def _user_dirs(monkeypatch, tmp_path: Path) -> tuple[Path, Path]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "config" / "anibridge", tmp_path / "data" / "anibridge"


def test_init_writes_to_the_user_config_folder_not_the_working_directory(
    monkeypatch, tmp_path
):
    config_dir, data_dir = _user_dirs(monkeypatch, tmp_path)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    result = invoke("init", "--with", "plex,anilist", cwd=cwd)
    assert result.returncode == 0, result.stderr
    written = config_dir / "anibridge.yaml"
    assert f"Wrote {written}" in result.stdout
    assert "anibridge login plex" in result.stdout
    assert "anibridge login anilist" in result.stdout
    assert (
        "4. anibridge check" in result.stdout and "5. anibridge plan" in result.stdout
    )
    assert list(cwd.iterdir()) == []  # nothing, least of all secrets, lands here
    data = yaml.safe_load(written.read_text())
    assert data["data_dir"] == str(data_dir)
    assert data["profiles"]["default"]["source"]["type"] == "plex"
    # Found without --config: a later command reads what init wrote.
    checked = invoke("config", "check", cwd=cwd)
    assert checked.returncode == 0 and str(written) in checked.stdout
    again = invoke("init", "--with", "plex,anilist", cwd=cwd)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_init_honours_the_config_variable_and_an_explicit_path(monkeypatch, tmp_path):
    _user_dirs(monkeypatch, tmp_path)
    target = tmp_path / "elsewhere" / "ab.yaml"
    monkeypatch.setenv("ANIBRIDGE_CONFIG", str(target))
    from anibridge.app.config.setup import default_init_path

    assert default_init_path() == target
    explicit = tmp_path / "mine.yaml"
    result = invoke("init", str(explicit), "--with", "jellyfin,mal", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"--config {explicit}" in result.stdout  # the next steps name it
    assert yaml.safe_load(explicit.read_text())["data_dir"] == "data"


def test_init_asks_on_a_terminal(monkeypatch, tmp_path):
    config_dir, _ = _user_dirs(monkeypatch, tmp_path)
    from typer.testing import CliRunner

    from anibridge.app import cli

    cli._load_commands()
    result = CliRunner().invoke(
        cli.app, ["init", "--interactive"], input="embi\nemby\nanilst\nanilist, mal\n"
    )
    assert result.exit_code == 0, result.output
    assert "Where do you watch?" in result.output
    assert "Unknown: anilst; try again." in result.output  # typos are asked again
    data = yaml.safe_load((config_dir / "anibridge.yaml").read_text())
    assert sorted(data["profiles"]) == ["anilist", "mal"]
    assert data["profiles"]["mal"]["source"]["type"] == "emby"


def test_init_refuses_a_single_or_unknown_provider_in_one_line(monkeypatch, tmp_path):
    config_dir, _ = _user_dirs(monkeypatch, tmp_path)
    result = invoke("init", "--with", "plex", cwd=tmp_path)
    assert result.returncode == 1 and "at least two" in result.stderr
    result = invoke("init", "--with", "plex,anlist", cwd=tmp_path)
    assert result.returncode == 1
    assert "unknown provider(s) anlist; installed:" in result.stderr
    assert not (config_dir / "anibridge.yaml").exists()


def test_the_untouched_template_says_it_syncs_nothing(monkeypatch, tmp_path):
    config_dir, _ = _user_dirs(monkeypatch, tmp_path)
    assert invoke("init", cwd=tmp_path).returncode == 0
    for command in ("plan", "sync"):
        result = invoke(command, cwd=tmp_path)
        assert result.returncode == 1
        message = " ".join(result.stderr.split())
        assert "is the untouched template from `anibridge init`" in message
        assert "anibridge init" in message and "--with plex,anilist" in message
        assert "0 actions" not in result.stdout
    # Once edited (here: the target file renamed), it runs.
    path = config_dir / "anibridge.yaml"
    path.write_text(path.read_text().replace("path: list.sqlite", "path: mine.sqlite"))
    assert invoke("plan", "--json", cwd=tmp_path).returncode == 0


def test_providers_lists_keys_required_optional_and_sign_in(tmp_path):
    rows = {r["name"]: r for r in json.loads(
        invoke("providers", "--json", cwd=tmp_path).stdout)}  # fmt: skip
    plex = rows["plex"]
    assert plex["kind"] == "media server" and "anibridge login plex" in plex["sign_in"]
    keys = {k["name"]: k for k in plex["keys"]}
    assert keys["base_url"]["required"] and not keys["base_url"]["secret"]
    assert keys["token"]["required"] and keys["token"]["secret"]
    assert keys["token"]["login"] and not keys["sections"]["required"]
    assert "token_store" not in keys and "clock" not in keys  # AniBridge's own
    assert rows["anilist"]["kind"] == "tracker"
    assert "anibridge login anilist" in rows["anilist"]["sign_in"]
    assert "anibridge login mal" in rows["mal"]["sign_in"]
    assert "anibridge login trakt" in rows["trakt"]["sign_in"]
    assert "API key" in rows["jellyfin"]["sign_in"]
    table = invoke("providers", cwd=tmp_path).stdout
    assert "plex" in table and "media server" in table
    detail = invoke("providers", "mal", cwd=tmp_path)
    assert detail.returncode == 0
    text = " ".join(detail.stdout.split())
    assert "client_id" in text and "required" in text and "optional" in text
    assert "anibridge login mal" in text
    unknown = invoke("providers", "nosuch", cwd=tmp_path)
    assert unknown.returncode == 1 and "unknown provider 'nosuch'" in unknown.stderr
