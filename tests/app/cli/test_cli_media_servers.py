"""End-to-end through the real CLI: media-server fakes as source/target.

The first sync of each runs in a subprocess; the second (nothing to write) calls the
same app in-process.

- Plex fake → AniList fake: a Plex library (legacy TVDB agent and HAMA AniDB GUIDs)
  becomes AniList progress/status through the mappings; a second sync writes nothing.
- Trakt fake → Jellyfin fake: Trakt plays mark the user's Jellyfin episodes and movie
  played (for that user only); a second sync writes nothing.
- Plex fake ↔ AniList fake, two-way: plays added on Plex after the first sync still
  reach AniList (the server side keeps plays, not a list record).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from anibridge.testing.fakes.anilist import AniListFake
from anibridge.testing.fakes.catalog import FakeMedia
from anibridge.testing.fakes.jellyfin import FakeJellyfin
from anibridge.testing.fakes.media import MediaLibrary
from anibridge.testing.fakes.plex import FakePlex
from anibridge.testing.fakes.trakt import FakeTrakt
from tests.app.cli.cli_support import invoke

CLI = [sys.executable, "-m", "anibridge.app.cli"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def sync(
    config: dict, tmp_path: Path, *, in_subprocess: bool = True, full: bool = False
) -> dict:
    path = tmp_path / "anibridge.yaml"
    path.write_text(yaml.safe_dump(config))
    call = run if in_subprocess else invoke
    more = ("--full",) if full else ()
    result = call("sync", "--json", *more, "--config", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def plex_library() -> MediaLibrary:
    lib = MediaLibrary()
    lib.add_section("1", "Anime", "show")
    lib.add_user("1", "Owner", admin=True)
    naruto = lib.add_item(
        "show", "Naruto", "1", plex_guid="com.plexapp.agents.thetvdb://78857?lang=en"
    )
    yui = lib.add_item(
        "show", "Corrector Yui", "1",
        plex_guid="com.plexapp.agents.hama://anidb-3529?lang=en",
    )  # fmt: skip
    for n in range(1, 11):
        ep = lib.add_episode(naruto.key, 1, n)
        if n <= 5:
            lib.play("1", ep.key, 1_700_000_000 + n * 3600)
    for n in range(1, 27):
        ep = lib.add_episode(yui.key, 1, n)
        lib.play("1", ep.key, 1_700_100_000 + n * 3600)
    return lib


def plex_to_anilist(
    plex: FakePlex, anilist: AniListFake, name: str, **plex_extra: object
) -> dict:
    """A config syncing the Plex fake into the AniList fake (profile `name`)."""
    return {
        "data_dir": "data",
        "profiles": {
            name: {
                "source": {
                    "type": "plex",
                    "config": {
                        "base_url": plex.base_url,
                        "token": plex.owner_token,
                        **plex_extra,
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


def test_plex_library_into_anilist(tmp_path):
    media = [
        FakeMedia(anilist_id=20, mal_id=20, title="Naruto", episodes=220),
        FakeMedia(anilist_id=111, mal_id=111, title="Corrector Yui", episodes=26),
    ]
    with (
        FakePlex(plex_library()) as plex,
        AniListFake(media=media, time_scale=0.001) as anilist,
    ):
        config = plex_to_anilist(plex, anilist, "plex-to-anilist")
        summary = sync(config, tmp_path)
        assert summary["failed"] == 0 and summary["applied"] >= 2, summary
        yui = anilist.entry_for(111)
        assert yui is not None
        assert (yui["status"], yui["progress"]) == ("COMPLETED", 26)
        naruto = anilist.entry_for(20)
        assert naruto is not None and naruto["status"] == "CURRENT"
        assert plex.count("write") == 0  # one-way: Plex is only read
        again = sync(config, tmp_path, in_subprocess=False)
        assert again["applied"] == 0 and again["failed"] == 0, again
        assert naruto["progress"] == 5  # one count per route slot, not per route


def test_trakt_plays_into_jellyfin(tmp_path):
    library = MediaLibrary.sample()
    with (
        FakeTrakt(time_scale=0.001) as trakt,
        FakeJellyfin(library) as jellyfin,
    ):
        trakt.add_show(1, "Cowboy Bebop", {1: 26}, tvdb=76885)
        trakt.add_movie(2, "Akira", tmdb=149)
        trakt.add_play(("episode", 1, 1, 1), at("2024-03-01T20:00:00Z"))
        trakt.add_play(("episode", 1, 1, 2), at("2024-03-02T20:00:00Z"))
        trakt.add_play(("movie", 2), at("2024-03-03T21:00:00Z"))
        tokens = trakt.issue_tokens()
        config = {
            "data_dir": "data",
            "profiles": {
                "trakt-to-jellyfin": {
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
                        "type": "jellyfin",
                        "config": {
                            "base_url": jellyfin.base_url,
                            "token": jellyfin.api_key,
                            "user": "Guest",
                        },
                    },
                }
            },
        }
        summary = sync(config, tmp_path)
        assert summary["failed"] == 0 and summary["applied"] >= 3, summary
        e1 = library.episode("Cowboy Bebop", 1, 1).key
        e2 = library.episode("Cowboy Bebop", 1, 2).key
        e3 = library.episode("Cowboy Bebop", 1, 3).key
        akira = library.find("Akira").key
        assert library.peek("6000", e1).view_count == 1
        assert library.peek("6000", e2).view_count == 1
        assert library.peek("6000", e3) is None
        assert library.peek("6000", akira).view_count == 1
        # Jellyfin keeps the real Trakt play time, not the time of the sync.
        played = {k: library.peek("6000", k).last_viewed_at for k in (e1, e2, akira)}
        assert played == {
            e1: int(at("2024-03-01T20:00:00Z").timestamp()),
            e2: int(at("2024-03-02T20:00:00Z").timestamp()),
            akira: int(at("2024-03-03T21:00:00Z").timestamp()),
        }
        assert library.peek("1", e1).view_count == 1  # the owner's state is untouched
        assert trakt.count("write") == 0
        writes = jellyfin.count("write")
        again = sync(config, tmp_path, in_subprocess=False)
        assert again["applied"] == 0 and again["failed"] == 0, again
        assert jellyfin.count("write") == writes


def test_plex_and_anilist_two_way_new_plays_keep_reaching_anilist(tmp_path):
    # Two-way with a server: Plex keeps plays, not a list record. After the first
    # sync, new plays still reach AniList (they were read as "removed on plex").
    media = [FakeMedia(anilist_id=20, mal_id=20, title="Naruto", episodes=220)]
    library = plex_library()
    with (
        FakePlex(library) as plex,
        AniListFake(media=media, time_scale=0.001) as anilist,
    ):
        config = plex_to_anilist(plex, anilist, "both")
        config["profiles"]["both"]["direction"] = "two_way"
        first = sync(config, tmp_path)
        assert first["failed"] == 0, first
        assert anilist.entry_for(20)["progress"] == 5
        for n in (6, 7):  # watched after the first five, before the first sync
            episode = library.episode("Naruto", 1, n).key
            library.play("1", episode, 1_700_000_000 + n * 3600)
        again = sync(config, tmp_path, in_subprocess=False, full=True)
        assert again["failed"] == 0 and again["applied"] == 1, again
        assert anilist.entry_for(20)["progress"] == 7


def test_plex_plays_dated_after_now_keep_incremental_syncs_running(tmp_path):
    # A Plex client whose clock is ahead dates its plays in our future. The feed's
    # clock is pinned (`now`), as if every sync ran in the same second: incremental
    # syncs read such a play once and go on, never "change cursor … repeated".
    now = 1_800_000_000
    media = [FakeMedia(anilist_id=20, mal_id=20, title="Naruto", episodes=220)]
    library = plex_library()
    with (
        FakePlex(library) as plex,
        AniListFake(media=media, time_scale=0.001) as anilist,
    ):
        config = plex_to_anilist(plex, anilist, "plex-to-anilist", now=now)
        first = sync(config, tmp_path)
        assert first["failed"] == 0, first
        assert anilist.entry_for(20)["progress"] == 5
        episode = library.episode("Naruto", 1, 6).key
        library.play("1", episode, now + 3 * 3600)  # three hours in our future
        second = sync(config, tmp_path, in_subprocess=False)
        assert second["failed"] == 0 and second["applied"] == 1, second
        assert anilist.entry_for(20)["progress"] == 6
        for _ in range(2):  # the same play is not read again, and nothing breaks
            again = sync(config, tmp_path, in_subprocess=False)
            assert again["failed"] == 0 and again["applied"] == 0, again
        episode = library.episode("Naruto", 1, 7).key
        library.play("1", episode, now - 60)  # a server clock a minute behind
        late = sync(config, tmp_path, in_subprocess=False)
        assert late["failed"] == 0 and late["applied"] == 1, late
        assert anilist.entry_for(20)["progress"] == 7
