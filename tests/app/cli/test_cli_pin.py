"""`anibridge pin` end to end: refusals name what is allowed, clear says what it did.

The first refusal runs in a subprocess, the rest in-process (`cli`, same app).
"""

from __future__ import annotations

import json

from cli_support import cli, run


def test_pin_refuses_unknown_profile_provider_field_and_clear_reports(tmp_path):
    from anibridge.app.demo import prepare_workspace

    config, _ = prepare_workspace(tmp_path / "ws")
    cfg = ("--config", str(config))
    bad_profile = run(
        "pin", "set", "anilist:20", "status", "-p", "nope", "--provider", "list",
        *cfg, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert bad_profile.returncode == 1
    assert "no profile 'nope'" in bad_profile.stderr
    bad_provider = cli(
        "pin", "set", "anilist:20", "status", "--provider", "lst", *cfg,
        cwd=tmp_path, check=False,
    )  # fmt: skip
    assert bad_provider.returncode == 1
    assert "has no provider 'lst'" in bad_provider.stderr
    bad_field = cli(
        "pin", "set", "anilist:20", "colour", "--provider", "list", *cfg,
        cwd=tmp_path, check=False,
    )  # fmt: skip
    assert bad_field.returncode == 1 and "colour" in bad_field.stderr
    nothing = cli(
        "pin", "clear", "anilist:20", "--provider", "list", *cfg, cwd=tmp_path
    )
    assert "Nothing was pinned on list anilist:20" in nothing.stdout
    cli("pin", "set", "anilist:20", "status", "--provider", "list", *cfg, cwd=tmp_path)
    listed = cli("pin", "list", "--json", *cfg, cwd=tmp_path)
    assert json.loads(listed.stdout) == [
        {"provider": "list", "ref": "anilist:20", "fields": ["status"]}
    ]
    cleared = cli(
        "pin", "clear", "anilist:20", "--provider", "list", *cfg, cwd=tmp_path
    )
    assert "Unpinned status on list anilist:20" in cleared.stdout
    assert json.loads(cli("pin", "list", "--json", *cfg, cwd=tmp_path).stdout) == []
