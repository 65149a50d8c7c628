"""`anibridge init`'s templates come from each provider's own CONFIG_KEYS."""

from __future__ import annotations

import itertools
import logging
import re
from typing import ClassVar

import pytest
import yaml

from anibridge.app.config import (
    TEMPLATE,
    available_providers,
    load_provider_class,
    validate_config_text,
)
from anibridge.app.config.setup import (
    SetupError,
    build_config,
    provider_info,
    untouched_template,
)
from anibridge.provider.config_keys import describe_keys

BUILT_IN = ["anilist", "emby", "jellyfin", "kitsu", "local", "mal", "plex",
            "simkl", "trakt"]  # fmt: skip


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_provider_refuses_keys_its_config_keys_do_not_list(name):
    """CONFIG_KEYS is what the settings parser checks: the template cannot drift."""
    cls = load_provider_class(name)
    keys = describe_keys(cls.CONFIG_KEYS)
    assert keys and cls.SIGN_IN
    config = {"base_url": "http://127.0.0.1:1", "token": "t" * 20, "path": "x.db",
              "client_id": "c", "colour": "blue"}  # fmt: skip
    config = {k: v for k, v in config.items() if k in keys or k == "colour"}
    with pytest.raises(ValueError, match=r"unknown config key.*colour"):
        cls(logger=logging.getLogger("t"), config=config)


@pytest.mark.parametrize("name", sorted(set(BUILT_IN) - {"local"}))
def test_each_section_lists_every_user_key_and_no_secret_value(name):
    text = build_config(["local", name])
    info = provider_info(name)
    after = text.split(f"config: &{name}\n", 1)[1].splitlines()
    section = "\n".join(itertools.takewhile(lambda ln: ln.startswith(" " * 8), after))
    lines = {
        m.group(1): ln
        for ln in section.splitlines()
        if (m := re.match(r"^ +(?:# )?([a-z_]+):", ln))
    }
    for key, spec in info.user_keys.items():
        assert key in lines, key
        if spec.secret:  # a reference or commented out, never a value
            assert lines[key].endswith(": {env: " + (spec.env or "") + "}"), lines[key]
    assert set(lines) == set(info.user_keys)  # internal keys are left out


def test_plex_anilist_mal_make_two_profiles_sharing_plex(tmp_path):
    text = build_config(["plex", "anilist", "mal"], data_dir=str(tmp_path / "d"))
    data = yaml.safe_load(text)
    assert set(data["profiles"]) == {"anilist", "mal"}
    plex = data["profiles"]["anilist"]["source"]
    assert plex["type"] == "plex"
    assert plex["config"] == {"base_url": "http://127.0.0.1:32400"}
    assert data["profiles"]["mal"]["source"]["config"] == plex["config"]
    assert data["profiles"]["mal"]["target"]["config"] == {"client_id": ""}
    assert data["profiles"]["anilist"]["target"]["config"] is None  # all commented
    assert data["data_dir"] == str(tmp_path / "d")
    # Valid as written: the tokens come from `anibridge login` (MAL's also needs
    # the client_id filled in first; the login command says so).
    path = tmp_path / "anibridge.yaml"
    _, problems = validate_config_text(text, path=path, environ={})
    assert problems == []


def test_one_pair_is_the_default_profile_and_secrets_without_login_are_refs(tmp_path):
    text = build_config(["jellyfin", "anilist"])
    data = yaml.safe_load(text)
    assert list(data["profiles"]) == ["default"]
    side = data["profiles"]["default"]["source"]["config"]
    assert side["token"] == {"env": "JELLYFIN_API_KEY"}
    _, problems = validate_config_text(
        text, path=tmp_path / "a.yaml", environ={"JELLYFIN_API_KEY": "k" * 24}
    )
    assert problems == []
    _, problems = validate_config_text(text, path=tmp_path / "a.yaml", environ={})
    assert problems == [
        "profiles.default.source.config.token: environment variable "
        "'JELLYFIN_API_KEY' is not set"
    ]


def test_only_trackers_sync_the_first_into_the_others():
    data = yaml.safe_load(build_config(["anilist", "mal", "kitsu"]))
    assert {p["source"]["type"] for p in data["profiles"].values()} == {"anilist"}
    assert sorted(data["profiles"]) == ["kitsu", "mal"]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["plex"], "at least two"),
        (["plex", "nosuch"], "unknown provider(s) nosuch; installed: anilist"),
    ],
)
def test_bad_choices_are_one_line(names, message):
    with pytest.raises(SetupError) as err:
        build_config(names)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_every_installed_provider_can_be_described():
    for name in available_providers():
        info = provider_info(name)
        assert info.error is None, info.error


def test_untouched_template_is_recognised_by_its_profiles_only():
    assert untouched_template(TEMPLATE)
    assert untouched_template(TEMPLATE.replace("data_dir: data", "data_dir: /x/y"))
    assert not untouched_template(TEMPLATE.replace("path: list.sqlite", "path: a.db"))
    assert not untouched_template("{not yaml")
    assert not untouched_template(build_config(["plex", "anilist"]))


def test_a_provider_listing_its_keys_without_token_store_is_not_given_one(
    monkeypatch, tmp_path
):
    """Third-party providers may refuse unknown keys (the Shelf example does)."""
    from anibridge.app.config import ProviderSpec, build_provider
    from anibridge.app.config import providers as registry
    from anibridge.providers.local import LocalProvider

    seen: list[dict] = []

    class Picky(LocalProvider):
        CONFIG_KEYS: ClassVar[dict[str, str]] = {"path": "the file"}

        def __init__(self, *, logger, config=None):
            seen.append(dict(config or {}))
            super().__init__(logger=logger, config=config)

    monkeypatch.setattr(registry, "load_provider_class", lambda *a, **k: Picky)
    spec = ProviderSpec(type="picky", config={"path": "a.sqlite"})
    build_provider(spec, where="w", base_dir=tmp_path, token_store=object())
    assert "token_store" not in seen[-1]
    monkeypatch.setattr(registry, "load_provider_class", lambda *a, **k: LocalProvider)
    store = type("S", (), {"load": None, "save": None})()
    provider = build_provider(spec, where="w", base_dir=tmp_path, token_store=store)
    assert provider.config["token_store"] is store
