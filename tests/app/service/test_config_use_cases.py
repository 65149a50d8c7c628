"""Config use cases: masked view, checks with stored secrets restored, atomic save."""

from __future__ import annotations

from pathlib import Path

import pytest

from anibridge.app.service.config import (
    ConfigInvalid,
    check_file,
    check_text,
    masked_text,
    save,
)

SECRET = "tok-9f8e7d6c5b4a"

CONFIG = f"""\
# my sync setup
data_dir: data
profiles:
  demo:  # the main one
    source: {{type: local, name: library, config: {{path: library.sqlite}}}}
    target:
      type: anilist
      config:
        token: {SECRET}
"""


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "anibridge.yaml"
    path.write_text(CONFIG)
    return path


def test_the_masked_text_hides_secrets_and_keeps_comments(config):
    text = masked_text(config)
    assert SECRET not in text
    assert "token: '***'" in text or 'token: "***"' in text or "token: ***" in text
    assert "# the main one" in text


def test_a_masked_text_checks_and_saves_with_the_stored_secret(config):
    shown = masked_text(config)
    assert check_text(shown, path=config, environ={}) == []
    edited = shown.replace("# my sync setup", "# edited") + "timezone: Europe/Berlin\n"
    saved = save(edited, path=config, environ={})
    written = config.read_text()
    assert SECRET in written  # the *** was put back
    assert "# edited" in written and "# the main one" in written
    assert saved.changed == ("timezone",)
    assert saved.loaded.app.timezone == "Europe/Berlin"
    assert saved.to_json()["changed"] == ["timezone"]


def test_an_invalid_text_is_refused_with_every_problem_and_nothing_written(config):
    bad = CONFIG.replace("type: anilist", "type: nosuchprovider")
    with pytest.raises(ConfigInvalid) as refused:
        save(bad, path=config, environ={})
    assert refused.value.status == 422
    assert any("unknown provider 'nosuchprovider'" in p for p in refused.value.problems)
    assert config.read_text() == CONFIG


def test_the_file_check_and_the_text_check_say_the_same(config, tmp_path):
    bad = CONFIG.replace("path: library.sqlite", "path: library.sqlite, colour: 1")
    config.write_text(bad)
    from_file = check_file(config, environ={})
    assert from_file and "colour" in from_file[0]
    assert check_text(bad, path=config, environ={}) == from_file


def test_a_file_check_names_an_oversized_or_missing_file(tmp_path):
    from anibridge.app.config import CONFIG_MAX_BYTES

    big = tmp_path / "big.yaml"
    big.write_text("#" * (CONFIG_MAX_BYTES + 1))
    assert "refused" in check_file(big, environ={})[0]
    missing = tmp_path / "missing.yaml"
    assert "is not readable" in check_file(missing, environ={})[0]
