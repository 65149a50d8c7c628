"""The web editor, PUT /api/config and the CLI run one validator with one wording."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
from typer.testing import CliRunner


def cli(*args: str) -> tuple[int, str, str]:
    from anibridge.app import cli as cli_module

    cli_module._load_commands()
    env = {k: None for k in os.environ if k.startswith("ANIBRIDGE_")}
    result = CliRunner().invoke(cli_module.app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def bomb() -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


GOOD_SOURCE = "{type: local, name: library, config: {path: library.sqlite}}"

BAD_CONFIGS = {
    "unknown provider": (
        f"profiles:\n  demo:\n    source: {GOOD_SOURCE}\n"
        "    target: {type: nosuchprovider}\n",
        "unknown provider 'nosuchprovider'",
    ),
    "provider config value": (
        f"profiles:\n  demo:\n    source: {GOOD_SOURCE}\n"
        "    target: {type: local, name: list, "
        "config: {path: list.sqlite, rating_scale: high}}\n",
        "expected [min, max, step] with min < max and step > 0, got 'high'",
    ),
    "provider config key": (
        f"profiles:\n  demo:\n    source: {GOOD_SOURCE}\n"
        "    target: {type: local, name: list, config: {path: l.sqlite, colour: 1}}\n",
        "unknown config key(s) colour",
    ),
    "missing secret": (
        f"profiles:\n  demo:\n    source: {GOOD_SOURCE}\n"
        "    target: {type: anilist, config: {token: {env: NOT_SET_ANYWHERE_42}}}\n",
        "environment variable 'NOT_SET_ANYWHERE_42' is not set",
    ),
    "schema": ("profiles:\n  demo: {direction: sideways}\n", "profiles.demo.source"),
    "web setting": ("web:\n  trusted_proxies: ['*']\n", "web.trusted_proxies"),
    "yaml": ("profiles: [unclosed\n", "not valid YAML at line"),
    "alias bomb": (bomb(), "alias bomb"),
}


def test_web_editor_api_and_cli_report_the_same_problems(service, api, login, csrf):
    config_path = Path(service.ctx.backend.loaded.path)
    original = config_path.read_text()
    for name, (text, expected) in BAD_CONFIGS.items():
        put = api.put("/api/config", json={"content": text})
        assert put.status_code == 422, name
        web = put.json()["detail"]["problems"]
        assert any(expected in p for p in web), (name, web)
        checked = api.post("/api/config/validate", json={"content": text}).json()
        assert checked["problems"] == web, name
        config_path.write_text(text)
        try:
            code, out, _err = cli("config", "check", "--json", "-c", str(config_path))
        finally:
            config_path.write_text(original)
        assert code == 1, name
        assert json.loads(out)["problems"] == web, name
    with httpx.Client(base_url=service.url, timeout=30) as browser:
        login(browser)
        token = csrf(browser.get("/settings").text)
        text, expected = BAD_CONFIGS["provider config value"]
        page = browser.post(
            "/ui/config",
            data={"content": text, "action": "save", "csrf_token": token},
        )
        assert page.status_code == 422
        assert "expected [min, max, step]" in page.text
    assert config_path.read_text() == original  # nothing was saved
