from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import yaml

from anibridge.app.config import (
    TEMPLATE,
    ConfigError,
    ProviderLoadError,
    SecretError,
    build_provider,
    load_config,
    load_provider_class,
    parse_config,
    redact,
    resolve_secrets,
)
from anibridge.app.config import providers as provider_registry
from anibridge.providers.local import LocalProvider

MINIMAL = {
    "profiles": {
        "p": {
            "source": {"type": "local", "name": "lib", "config": {"path": "a.sqlite"}},
            "target": {"type": "local", "name": "lst", "config": {"path": "b.sqlite"}},
        }
    }
}


def test_template_is_a_valid_config(tmp_path):
    path = tmp_path / "anibridge.yaml"
    path.write_text(TEMPLATE)
    loaded = load_config(path, environ={})
    name, profile = loaded.profile(None)
    assert name == "default"
    assert profile.source.key == "library" and profile.target.key == "list"
    assert loaded.data_dir == tmp_path / "data"
    assert loaded.store_url == f"sqlite:///{(tmp_path / 'data' / 'anibridge.db')}"
    assert profile.schedule.interval == 3600


def test_env_overrides_nested_keys_and_types(tmp_path):
    env = {
        "ANIBRIDGE_STORE_URL": "sqlite:////tmp/x.db",
        "ANIBRIDGE_PROFILES__P__DIRECTION": "two_way",
        "ANIBRIDGE_PROFILES__P__MAX_DELETE_FRACTION": "0.5",
        "ANIBRIDGE_SECRET_KEY": "not-a-config-key",
        "ANIBRIDGE_TEST_POSTGRES_URL": "ignored",
    }
    loaded = parse_config(
        yaml.safe_load(yaml.safe_dump(MINIMAL)), path=tmp_path / "c.yaml", environ=env
    )
    assert loaded.app.store_url == "sqlite:////tmp/x.db"
    profile = loaded.app.profiles["p"]
    assert profile.direction == "two_way"
    assert profile.max_delete_fraction == 0.5


def test_env_override_errors_name_the_variable(tmp_path):
    env = {"ANIBRIDGE_PROFILES__P__DIRECTION": "sideways"}
    with pytest.raises(ConfigError) as err:
        parse_config(dict(MINIMAL), path=tmp_path / "c.yaml", environ=env)
    text = str(err.value)
    assert "profiles.p.direction (set by ANIBRIDGE_PROFILES__P__DIRECTION)" in text
    assert "one_way" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("profiles: [1, 2]", "profiles: Input should be a valid dictionary"),
        ("log_level: LOUD", "log_level: Input should be"),
        ("colour: red", "colour: unknown key"),
        ("profiles:\n  p:\n    source: {type: local}\n", "profiles.p.target: required"),
        (
            "profiles:\n  p:\n    source: {type: local}\n    target: {type: local}\n",
            "both have the key 'local'",
        ),
        (
            "profiles: {p: {source: {type: local}, target: {type: x}, fields: [mood]}}",
            "profiles.p.fields",
        ),
        ("timezone: Mars/Olympus", "unknown timezone"),
        ("key: [unclosed", "not valid YAML at line 2, column 1"),
        ("- just\n- a list\n", "top level must be a mapping"),
    ],
)
def test_errors_name_file_key_path_and_expectation(tmp_path, text, expected):
    path = tmp_path / "anibridge.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    message = str(err.value)
    assert str(path) in message
    assert expected in message
    assert "\n" not in message


def test_errors_never_echo_values(tmp_path):
    path = tmp_path / "anibridge.yaml"
    path.write_text(
        "profiles:\n  p:\n    source: {type: local, config: {}}\n"
        "    target: {type: local, name: t, config: {}}\n"
        "    fuzzy_threshold: SUPERSECRET-999\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert "SUPERSECRET" not in str(err.value)
    assert "profiles.p.fuzzy_threshold" in str(err.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="anibridge init"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_secrets_from_env_and_file_and_redaction(tmp_path):
    (tmp_path / "tok").write_text("file-secret\n")
    config = {"token": {"env": "MY_TOKEN"}, "nested": {"key": {"file": "tok"}}, "n": 1}
    resolved = resolve_secrets(
        config, where="x.config", base_dir=tmp_path, environ={"MY_TOKEN": "env-secret"}
    )
    assert resolved == {"token": "env-secret", "nested": {"key": "file-secret"}, "n": 1}
    shown = redact({**config, "password": "hunter2", "user": "me"})
    assert "hunter2" not in str(shown) and shown["user"] == "me"
    assert shown["token"] == "<secret from env MY_TOKEN>"
    with pytest.raises(SecretError, match=r"x\.config\.token: environment variable"):
        resolve_secrets(config, where="x.config", base_dir=tmp_path, environ={})
    with pytest.raises(SecretError, match="not readable"):
        resolve_secrets({"k": {"file": "missing"}}, where="w", base_dir=tmp_path)


def test_provider_discovery_and_clear_load_errors(monkeypatch):
    assert load_provider_class("local") is LocalProvider
    with pytest.raises(ProviderLoadError, match=r"unknown provider 'nosuch'.*local"):
        load_provider_class("nosuch", where="profiles.p.source")
    ghost = EntryPoint(
        name="ghost",
        value="anibridge.providers.ghost_missing:GhostProvider",
        group=provider_registry.GROUP,
    )
    monkeypatch.setattr(
        provider_registry,
        "available_providers",
        lambda: {"ghost": ghost, "local": None},
    )
    with pytest.raises(ProviderLoadError, match="not installed or failed to load"):
        load_provider_class("ghost")


def test_build_provider_resolves_relative_paths(tmp_path):
    loaded = parse_config(dict(MINIMAL), path=tmp_path / "c.yaml", environ={})
    _, profile = loaded.profile("p")
    provider = build_provider(
        profile.source, where="profiles.p.source", base_dir=loaded.base_dir
    )
    assert isinstance(provider, LocalProvider)
    assert provider.settings.path == tmp_path / "a.sqlite"
    assert not Path(tmp_path / "a.sqlite").exists()  # constructing touches nothing
    bad = profile.source.model_copy(update={"config": {"path": "x", "colour": 1}})
    with pytest.raises(
        ProviderLoadError, match=r"profiles\.p\.source\.config: .*colour"
    ):
        build_provider(bad, where="profiles.p.source", base_dir=tmp_path)


@pytest.mark.parametrize(
    ("web", "expected"),
    [
        ("trusted_proxies: ['*']", "web.trusted_proxies: '*' would let every client"),
        ("trusted_proxies: [0.0.0.0/0]", "trusts every address"),
        ("trusted_proxies: [proxy.lan]", "not an IP address or CIDR"),
        ("trust_proxy: true", "web.trust_proxy: replaced by trusted_proxies"),
        ("allowed_hosts: ['*']", "web.allowed_hosts: '*' is not a host name"),
        ("public_url: anibridge.example.com", "web.public_url: 'anibridge.example"),
    ],
)
def test_web_proxy_and_host_settings_are_checked(tmp_path, web, expected):
    path = tmp_path / "anibridge.yaml"
    path.write_text(f"web:\n  {web}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert expected in str(err.value)


def test_web_proxy_and_host_settings_reach_the_service(tmp_path):
    from anibridge.app.web.server import settings_from_config

    path = tmp_path / "anibridge.yaml"
    path.write_text(
        "web:\n  trusted_proxies: [172.18.0.0/16]\n  allowed_hosts: ['*.lan']\n"
        "  public_url: https://ab.example/\n"
    )
    settings = settings_from_config(load_config(path, environ={}), environ={})
    assert settings.trusted_proxies == ("172.18.0.0/16",)
    policy = settings.host_policy()
    assert policy.allows("nas.lan") and policy.allows("ab.example")
    assert not policy.allows("evil.example")
