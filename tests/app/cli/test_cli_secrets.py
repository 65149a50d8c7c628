"""The CLI, end to end: secrets it resolved never appear in what it prints."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.app.cli.cli_support import invoke

CLI = [sys.executable, "-m", "anibridge.app.cli"]
# One show with ids: planning it needs the mappings (and so the custom URL).
LIBRARY = """\
anibridge_local: 1
items:
  - key: naruto
    kind: show
    title: Naruto
    ids: [tvdb_show:78857]
    seasons:
      - season: 1
        episodes:
          - {episode: 1, plays: ["2024-01-01T20:00:00Z"]}
"""


def test_errors_mask_url_passwords_and_resolved_secrets(tmp_path):
    secret_path = tmp_path / "PLANT-secret-path-42.sqlite"
    (tmp_path / "library.yaml").write_text(LIBRARY)
    config = tmp_path / "anibridge.yaml"
    config.write_text(
        "data_dir: data\n"
        "mappings:\n"
        '  custom: ["http://viewer:PLANT-url-pass-7@127.0.0.1:9/m.yaml"]\n'
        "profiles:\n"
        "  demo:\n"
        "    source:\n"
        "      type: local\n"
        "      name: library\n"
        "      config: {path: library.sqlite, seed: library.yaml}\n"
        "    target: {type: local, name: list, config: {path: list.sqlite}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    env["AB_LIST_PATH"] = str(secret_path)
    run = subprocess.run(
        [*CLI, "plan", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert "viewer:***@127.0.0.1:9/m.yaml" in run.stderr  # the URL still says where
    assert "PLANT" not in run.stderr + run.stdout
    config.write_text(
        "data_dir: data\n"
        "profiles:\n"
        "  demo:\n"
        "    source: {type: local, name: library, config: {path: library.sqlite}}\n"
        "    target:\n"
        "      type: local\n"
        "      name: list\n"
        "      config: {path: {env: AB_LIST_PATH}, create: false}\n"
    )
    # The same app in-process (the subprocess above proved what a real stderr gets).
    run = invoke(
        "plan", "--config", str(config), env={"AB_LIST_PATH": str(secret_path)}
    )
    assert run.returncode == 1
    assert "local provider file *** does not exist" in run.stderr
    assert "PLANT-secret-path-42" not in run.stderr + run.stdout
