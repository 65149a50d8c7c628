"""End-to-end through the CLI against the fake Trakt (and the fake AniList).

`anibridge login trakt` signs in with a device code; `anibridge sync` then copies a
local library's plays (with their timestamps) into Trakt's history, and a second sync
writes nothing; Trakt's history and rating reach AniList. Most commands run
in-process on the real typer app (the same code path, without paying the CLI's import
time per command); the first sync runs in a subprocess so the tokens really cross a
process boundary through the encrypted store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from anibridge.testing.fakes.trakt import FakeTrakt
from tests.app.cli.cli_support import invoke as cli

CLI = [sys.executable, "-m", "anibridge.app.cli"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


LIBRARY = {
    "anibridge_local": 1,
    "account": {"key": "me", "title": "My library"},
    "items": [
        {
            "key": "show-76885",
            "kind": "show",
            "title": "Cowboy Bebop",
            "ids": ["tvdb_show:76885"],
            "seasons": [
                {
                    "season": 1,
                    "episodes": [
                        {"episode": 1, "plays": ["2023-11-24T15:00:00Z"]},
                        {
                            "episode": 2,
                            "plays": ["2023-11-25T13:00:00Z", "2024-02-01T20:30:00Z"],
                        },
                        {"episode": 3},
                    ],
                }
            ],
        },
        {
            "key": "movie-149",
            "kind": "movie",
            "title": "Akira",
            "ids": ["tmdb_movie:149"],
            "plays": ["2023-09-30T21:00:00Z"],
        },
    ],
}


@pytest.fixture
def fake():
    with FakeTrakt(time_scale=0.001) as service:
        service.add_show(1, "Cowboy Bebop", {1: 26}, tvdb=76885)
        service.add_movie(1, "Akira", tmdb=149)  # same Trakt id as the show
        service.auto_approve_after = 2
        yield service


@pytest.fixture
def workspace(tmp_path, fake):
    (tmp_path / "library.yaml").write_text(yaml.safe_dump(LIBRARY))
    config = {
        "data_dir": "data",
        "profiles": {
            "plays": {
                "source": {
                    "name": "lib",
                    "type": "local",
                    "config": {"path": "lib.sqlite", "seed": "library.yaml"},
                },
                "target": {
                    "type": "trakt",
                    "config": {
                        "client_id": fake.client_id,
                        "client_secret": fake.client_secret,
                        "base_url": fake.base_url,
                        "time_scale": 0.001,
                    },
                },
            }
        },
    }
    path = tmp_path / "anibridge.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_login_then_sync_library_plays_into_trakt_history(tmp_path, fake, workspace):
    login = cli("login", "trakt", "--json", "--config", str(workspace))
    assert login.returncode == 0, login.stderr
    result = json.loads(login.stdout)
    assert result == {
        "provider": "trakt",
        "account": fake.username,
        "account_name": "Fake User",
        "saved_for": ["plays/trakt"],
    }
    assert "trakt.tv/activate" in login.stderr  # the code and URL were shown
    tokens = [t for t in fake.access_tokens if t]
    assert tokens and not any(t in login.stdout + login.stderr for t in tokens)

    sync = run("sync", "--json", "--config", str(workspace), cwd=tmp_path)
    assert sync.returncode == 0, sync.stderr
    summary = json.loads(sync.stdout)
    assert summary["failed"] == 0 and summary["applied"] == 4
    assert fake.plays_of(("episode", 1, 1, 1)) == [at("2023-11-24T15:00:00Z")]
    assert fake.plays_of(("episode", 1, 1, 2)) == [
        at("2023-11-25T13:00:00Z"),
        at("2024-02-01T20:30:00Z"),
    ]
    assert fake.plays_of(("episode", 1, 1, 3)) == []
    assert fake.plays_of(("movie", 1)) == [at("2023-09-30T21:00:00Z")]
    writes = fake.count("write")
    assert writes == 1  # every play in one batched request

    again = cli("sync", "--json", "--config", str(workspace))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["applied"] == 0
    assert fake.count("write") == writes
    assert len(fake.history) == 4


def test_login_without_a_trakt_provider_says_so(tmp_path):
    config = tmp_path / "anibridge.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "profiles": {
                    "p": {
                        "source": {"type": "local", "config": {"path": "a.sqlite"}},
                        "target": {
                            "name": "b",
                            "type": "local",
                            "config": {"path": "b.sqlite"},
                        },
                    }
                }
            }
        )
    )
    result = cli("login", "trakt", "--config", str(config))
    assert result.returncode == 1
    assert "no Trakt provider is configured" in " ".join(result.stderr.split())


def test_sync_trakt_history_and_rating_into_anilist(tmp_path):
    from anibridge.provider.base import Rating
    from anibridge.ratings import convert
    from anibridge.testing.fakes.anilist import AniListFake
    from anibridge.testing.fakes.catalog import FakeMedia

    naruto = FakeMedia(anilist_id=20, mal_id=20, title="Naruto", episodes=220)
    with (
        FakeTrakt(time_scale=0.001) as trakt,
        AniListFake(media=[naruto], time_scale=0.001) as anilist,
    ):
        trakt.add_show(7, "Naruto", {1: 35, 2: 48}, tvdb=78857, tmdb=46260)
        for n in range(1, 6):
            trakt.add_play(("episode", 7, 1, n), at(f"2024-03-0{n}T20:00:00Z"))
        trakt.rate(("show", 7), 8)
        tokens = trakt.issue_tokens()
        config = {
            "data_dir": "data",
            "profiles": {
                "trakt-to-anilist": {
                    "source": {
                        "type": "trakt",
                        "config": {
                            "client_id": trakt.client_id,
                            "client_secret": trakt.client_secret,
                            "access_token": tokens["access_token"],
                            "refresh_token": tokens["refresh_token"],
                            "base_url": trakt.base_url,
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
        result = cli("sync", "--json", "--config", str(path))
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["failed"] == 0 and summary["applied"] >= 1, summary
        entry = anilist.entry_for(20)
        assert entry is not None
        assert entry["status"] == "CURRENT"
        # Trakt's 8 of 10 is 80 on AniList's POINT_100 (a count scale: value/max),
        # placed by the shared rating conversion.
        expected = convert(Rating(8, (1, 10, 1)), (0, 100, 1)).value
        assert entry["score"] == expected == 80
        assert trakt.count("write") == 0  # one-way: Trakt is only read
        # S1E1-5 reach anilist:20 through two descriptor slots (anilist:20 and the
        # mal:20 AniList resolves): counted once.
        assert entry["progress"] == 5


def test_sync_anilist_rating_onto_trakt(tmp_path):
    from anibridge.testing.fakes.anilist import AniListFake
    from anibridge.testing.fakes.catalog import FakeMedia

    naruto = FakeMedia(anilist_id=20, mal_id=20, title="Naruto", episodes=220)
    with (
        FakeTrakt(time_scale=0.001) as trakt,
        AniListFake(media=[naruto], time_scale=0.001) as anilist,
    ):
        trakt.add_show(7, "Naruto", {1: 35}, tvdb=78857)
        anilist.add_entry(20, status="COMPLETED", score=90, progress=220)
        trakt_config = trakt.provider_config()
        trakt_config.pop("clock")  # a YAML config names a time scale, not a clock
        trakt_config["time_scale"] = 0.001
        config = {
            "data_dir": "data",
            "profiles": {
                "p": {
                    "source": {
                        "type": "anilist",
                        "config": {
                            "token": "anilist-test-token",
                            "base_url": anilist.base_url,
                            "time_scale": 0.001,
                        },
                    },
                    "target": {"type": "trakt", "config": trakt_config},
                }
            },
        }
        path = tmp_path / "anibridge.yaml"
        path.write_text(yaml.safe_dump(config))
        result = cli("sync", "--json", "--config", str(path))
        summary = json.loads(result.stdout) if result.stdout else {}
        assert summary.get("failed") == 0, (summary, result.stderr)
        assert trakt.ratings[("show", 7)][0] == 9
