"""End-to-end through the CLI: `anibridge login kitsu`, then Kitsu → AniList.

The password is exchanged once for tokens (never stored); `anibridge sync` (a
subprocess: the tokens cross a process boundary through the encrypted store) puts
the Kitsu library on AniList — statuses including a rewatch, progress, ratings
(ratingTwenty 16 is 80/100), rewatch counts, notes and dates — matching one anime by
its MyAnimeList mapping, one by AniList, and one that Kitsu knows only by its AniDB
id through the mappings dataset. A second sync writes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from anibridge.app.cli import _load_commands, app
from anibridge.testing.fakes.anilist import AniListFake
from anibridge.testing.fakes.catalog import FakeMedia
from anibridge.testing.fakes.kitsu import KitsuFake
from tests.app.cli.cli_support import invoke

CLI = [sys.executable, "-m", "anibridge.app.cli"]

NARUTO = FakeMedia(20, 20, "Naruto", 220, kitsu_id=11)
BEBOP = FakeMedia(1, 1, "Cowboy Bebop", 26, kitsu_id=1)
YUI = FakeMedia(111, 111, "Corrector Yui", 26, kitsu_id=1234)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_login_then_kitsu_library_converges_on_anilist(tmp_path):
    with (
        KitsuFake(media=[NARUTO, BEBOP, YUI], time_scale=0.001) as kitsu,
        AniListFake(media=[NARUTO, BEBOP, YUI], time_scale=0.001) as anilist,
    ):
        kitsu.set_mappings(1234, [("anidb", "3529")])  # no MAL/AniList mapping
        kitsu.add_entry(11, status="current", progress=5, ratingTwenty=16,
                        notes="Chunin exams next")  # fmt: skip
        kitsu.add_entry(1, status="current", reconsuming=True, progress=3,
                        reconsumeCount=1, ratingTwenty=20)  # fmt: skip
        kitsu.add_entry(
            1234, status="completed", progress=26,
            startedAt="2023-04-01T00:00:00.000Z", finishedAt="2023-05-01T00:00:00.000Z",
        )  # fmt: skip
        config = {
            "data_dir": "data",
            "profiles": {
                "k2a": {
                    "source": {
                        "type": "kitsu",
                        "config": {
                            "base_url": kitsu.base_url + "/api/edge",
                            "time_scale": 0.001,
                        },
                    },
                    "target": {
                        "type": "anilist",
                        "config": {
                            "token": "anilist-test-token",
                            "base_url": anilist.base_url,
                            "time_scale": 0.001,
                        },
                    },
                }
            },
        }
        path = tmp_path / "anibridge.yaml"
        path.write_text(yaml.safe_dump(config))

        _load_commands()
        env = {k: None for k in os.environ if k.startswith("ANIBRIDGE_")}
        env |= {"KITSU_USERNAME": kitsu.email, "KITSU_PASSWORD": kitsu.password}
        login = CliRunner().invoke(
            app, ["login", "kitsu", "--json", "--config", str(path)], env=env
        )
        assert login.exit_code == 0, login.stderr
        assert json.loads(login.stdout) == {
            "provider": "kitsu",
            "account": str(kitsu.user_id),
            "account_name": kitsu.username,
            "saved_for": ["k2a/kitsu"],
        }
        assert kitsu.password not in login.stdout + login.stderr
        store = (tmp_path / "data").rglob("*")
        assert not any(
            kitsu.password.encode() in p.read_bytes() for p in store if p.is_file()
        )

        first = run("sync", "--json", "--config", str(path), cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        summary = json.loads(first.stdout)
        assert summary["failed"] == 0 and summary["applied"] == 3, summary
        naruto = anilist.entry_for(20)
        assert (naruto["status"], naruto["progress"], naruto["score"]) == (
            "CURRENT", 5, 80,
        )  # fmt: skip
        assert naruto["notes"] == "Chunin exams next"
        bebop = anilist.entry_for(1)
        assert (bebop["status"], bebop["progress"], bebop["repeat"]) == (
            "REPEATING", 3, 1,
        )  # fmt: skip
        assert bebop["score"] == 100
        yui = anilist.entry_for(111)  # through anidb:3529:R -> anilist:111
        assert (yui["status"], yui["progress"]) == ("COMPLETED", 26)
        assert yui["completedAt"] == {"year": 2023, "month": 5, "day": 1}
        assert kitsu.count("write") == 0  # one-way: Kitsu is only read

        again = invoke("sync", "--json", "--config", str(path), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        repeat = json.loads(again.stdout)
        assert repeat["applied"] == 0 and repeat["failed"] == 0, repeat


def test_providers_lists_kitsu_with_its_config_keys(tmp_path):
    listed = invoke("providers", "--json", cwd=tmp_path)
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["kitsu"]["loaded"]
    assert {"access_token", "username", "password", "base_url"} <= set(
        rows["kitsu"]["config_keys"]
    )
    assert "kitsu" in rows and "simkl" in rows
