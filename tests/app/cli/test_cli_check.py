"""`anibridge check` against the fake Plex and the fake AniList.

The passing check runs in a subprocess; the failing ones in-process (same app).
"""

from __future__ import annotations

import json
from pathlib import Path

from anibridge.testing.fakes.anilist import AniListFake, FakeMedia
from anibridge.testing.fakes.plex import FakePlex
from tests.app.cli.cli_support import cli, run
from tests.app.service.test_check import plex_library, write


def test_check_json_and_exit_codes(tmp_path: Path) -> None:
    media = [FakeMedia(anilist_id=20, mal_id=20, title="Naruto", episodes=220)]
    with (
        FakePlex(plex_library()) as plex,
        AniListFake(media=media, time_scale=0.001, user_name="Mika") as anilist,
    ):
        anilist.add_entry(20, status="CURRENT", progress=3)
        write(tmp_path / "ok", plex, anilist.base_url, "anilist-test-token")
        good = run("check", "--json", cwd=tmp_path / "ok", check=False)
        write(tmp_path / "bad", plex, anilist.base_url, "wrong-token")
        bad = cli("check", "--profile", "main", cwd=tmp_path / "bad", check=False)
        unknown = cli("check", "-p", "main", "--provider", "nope",
                      cwd=tmp_path / "ok", check=False)  # fmt: skip
    assert good.returncode == 0, good.stderr
    data = json.loads(good.stdout)
    assert data["ok"] is True
    (profile,) = data["profiles"]
    users = {p["key"]: p["user"] for p in profile["providers"]}
    assert users == {"myplex": "Plex server owner", "list": "Mika"}
    assert profile["providers"][0]["counts"]["total"] == 2

    assert bad.returncode == 77, bad.stderr
    lines = bad.stdout.splitlines()
    assert lines[0] == "profile main"
    assert lines[1].startswith("  ok   myplex (Plex, source): reached; signed in as ")
    assert lines[2].startswith(
        "  FAIL list (AniList, target): reached, list: AniList rejected the "
        "credentials — run `anibridge login anilist`"
    )
    assert "wrong-token" not in bad.stdout + bad.stderr

    assert unknown.returncode == 1
    assert "profile 'main' has no provider 'nope'" in unknown.stderr
