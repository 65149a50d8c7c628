"""End-to-end through the CLI against the fake Simkl (and the fake Plex).

`anibridge login simkl` signs in with a PIN; `anibridge sync` (a subprocess, so the
token crosses a process boundary through the encrypted store) copies a local
library's plays, with their dates, onto Simkl — a TV show by its TVDB id, an anime
whose TVDB series Simkl files as per-season titles through the mappings to its
AniList id, and a movie — and a second sync writes nothing. A Plex library converges
on Simkl the same way. No run ever pulls the Simkl library without first asking
`/sync/activities`. The Plex runs call the same app in-process (cheaper; the
process boundary is proven by the first test).
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

from anibridge.testing.fakes.media import MediaLibrary
from anibridge.testing.fakes.plex import FakePlex
from anibridge.testing.fakes.simkl import SimklFake
from tests.app.cli.cli_support import invoke as cli

CLI = [sys.executable, "-m", "anibridge.app.cli"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def seed(fake: SimklFake) -> SimklFake:
    fake.add_anime(100, "Naruto", 220, ids={"mal": 20, "anilist": 20, "tvdb": 78857})
    fake.add_show(200, "Breaking Bad", {1: 7, 2: 13}, ids={"tvdb": 81189})
    fake.add_movie(300, "Akira", ids={"tmdb": 149, "imdb": "tt0094625"})
    return fake


LIBRARY = {
    "anibridge_local": 1,
    "account": {"key": "me", "title": "My library"},
    "items": [
        {
            "key": "show-78857",
            "kind": "show",
            "title": "Naruto",
            "ids": ["tvdb_show:78857"],
            "seasons": [
                {
                    "season": 1,
                    "episodes": [
                        {"episode": n, "plays": [f"2023-11-{20 + n}T15:00:00Z"]}
                        for n in range(1, 4)
                    ],
                }
            ],
        },
        {
            "key": "show-81189",
            "kind": "show",
            "title": "Breaking Bad",
            "ids": ["tvdb_show:81189"],
            "seasons": [
                {
                    "season": 2,
                    "episodes": [
                        {"episode": 1, "plays": ["2024-01-05T21:00:00Z"]},
                        {
                            "episode": 2,
                            "plays": ["2024-01-06T21:00:00Z", "2024-03-01T21:00:00Z"],
                        },
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
    with SimklFake(time_scale=0.001) as service:
        service.auto_approve_after = 2
        service.pin_interval = 0.0
        service.pin_ttl = 10**6  # 900 service seconds are 0.9 real: a busy machine
        yield seed(service)


def write_config(tmp_path: Path, source: dict, target: dict) -> Path:
    config = {
        "data_dir": "data",
        "profiles": {"p": {"source": source, "target": target}},
    }
    path = tmp_path / "anibridge.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def simkl_spec(fake: SimklFake, **extra: object) -> dict:
    config = {"client_id": fake.client_id, "base_url": fake.base_url}
    config |= {"time_scale": 0.001, **extra}
    return {"type": "simkl", "config": config}


def test_login_then_local_library_plays_converge_on_simkl(tmp_path, fake):
    (tmp_path / "library.yaml").write_text(yaml.safe_dump(LIBRARY))
    path = write_config(
        tmp_path,
        {
            "name": "lib",
            "type": "local",
            "config": {"path": "lib.sqlite", "seed": "library.yaml"},
        },
        simkl_spec(fake),
    )
    login = cli("login", "simkl", "--json", "--config", str(path))
    assert login.returncode == 0, login.stderr
    assert json.loads(login.stdout) == {
        "provider": "simkl",
        "account": str(fake.user_id),
        "account_name": fake.user_name,
        "saved_for": ["p/simkl"],
    }
    assert "simkl.com/pin" in login.stderr
    assert not any(t in login.stdout + login.stderr for t in fake.tokens)

    first = run("sync", "--json", "--config", str(path), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["failed"] == 0, summary
    # Every play with its own date; the anime reached through the mappings
    # (tvdb_show:78857:s1 -> anilist:20) because Simkl files it per season.
    assert fake.watched(100) == {
        (1, n): at(f"2023-11-{20 + n}T15:00:00Z") for n in (1, 2, 3)
    }
    # Simkl keeps one watch per episode: the earliest of the two plays of S2E2.
    assert fake.watched(200) == {
        (2, 1): at("2024-01-05T21:00:00Z"),
        (2, 2): at("2024-01-06T21:00:00Z"),
    }
    assert fake.items[300]["watched_at"] == at("2023-09-30T21:00:00Z")
    assert fake.items[300]["status"] == "completed"
    assert fake.items[100]["status"] == "watching"
    assert fake.items[200]["status"] == "watching"
    landed = [r.path for r in fake.requests if r.kind == "write" and r.status == 200]
    assert landed.count("/sync/history") == 1  # every play in one batched request

    fake.reset_counters()
    again = run("sync", "--json", "--config", str(path), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["applied"] == 0
    assert fake.count("write") == 0  # converged: nothing written
    # The second process started from the library it kept: no whole-library pull.
    assert not [
        r
        for r in fake.requests
        if r.path.startswith("/sync/all-items") and "date_from" not in r.query
    ]
    assert fake.ungated_pulls == 0


def plex_library() -> MediaLibrary:
    lib = MediaLibrary()
    lib.add_section("1", "Anime", "show")
    lib.add_section("2", "Movies", "movie")
    lib.add_user("1", "Owner", admin=True)
    naruto = lib.add_item(
        "show", "Naruto", "1", plex_guid="com.plexapp.agents.thetvdb://78857?lang=en"
    )
    bad = lib.add_item(
        "show", "Breaking Bad", "1",
        plex_guid="com.plexapp.agents.thetvdb://81189?lang=en",
    )  # fmt: skip
    akira = lib.add_item(
        "movie", "Akira", "2", plex_guid="com.plexapp.agents.themoviedb://149?lang=en"
    )
    for n in range(1, 11):
        ep = lib.add_episode(naruto.key, 1, n)
        if n <= 5:
            lib.play("1", ep.key, 1_700_000_000 + n * 3600)
    for n in range(1, 8):
        ep = lib.add_episode(bad.key, 1, n)
        lib.play("1", ep.key, 1_700_500_000 + n * 3600)
    lib.play("1", akira.key, 1_690_000_000)
    return lib


def test_plex_library_converges_on_simkl(tmp_path, fake):
    with FakePlex(plex_library()) as plex:
        path = write_config(
            tmp_path,
            {
                "type": "plex",
                "config": {"base_url": plex.base_url, "token": plex.owner_token},
            },
            simkl_spec(fake, access_token=fake.issue_token()),
        )
        first = cli("sync", "--json", "--config", str(path), cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        summary = json.loads(first.stdout)
        assert summary["failed"] == 0 and summary["applied"] >= 3, summary
        assert sorted(fake.watched(100)) == [(1, n) for n in range(1, 6)]
        assert fake.watched(100)[(1, 5)] == datetime.fromtimestamp(
            1_700_000_000 + 5 * 3600, UTC
        )
        # Every episode of the (ended) season watched: Simkl files it completed.
        assert sorted(fake.watched(200)) == [(1, n) for n in range(1, 8)]
        assert fake.items[300]["watched_at"] == datetime.fromtimestamp(
            1_690_000_000, UTC
        )
        assert plex.count("write") == 0  # one-way: Plex is only read
        writes = fake.count("write")
        again = cli("sync", "--json", "--config", str(path), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        repeat = json.loads(again.stdout)
        assert repeat["applied"] == 0 and repeat["failed"] == 0, repeat
        assert fake.count("write") == writes
        assert fake.ungated_pulls == 0


def test_providers_lists_simkl_with_its_config_keys(tmp_path):
    listed = run("providers", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["simkl"]["loaded"]
    assert {"client_id", "access_token", "base_url"} <= set(
        rows["simkl"]["config_keys"]
    )
    table = cli("providers", cwd=tmp_path)
    assert "simkl" in table.stdout and "client_id" in table.stdout
