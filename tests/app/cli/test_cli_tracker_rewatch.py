"""A rewatch between trackers (issue 14 point 2), through the real CLI.

AniList REPEATING at episode 3 reaches MyAnimeList, which keeps a rewatch as a
completed entry with ``is_rewatching``: the position in the new pass is written over
the completed entry's full count (a new pass, not a regression); when AniList's pass
completes, MAL returns to completed at the full count with one more rewatch.
"""

from __future__ import annotations

from pathlib import Path

from cli_support import cli_json, run_json, write_config

from anibridge.testing.fakes.anilist import AniListFake
from anibridge.testing.fakes.catalog import sample_media
from anibridge.testing.fakes.mal import MalFake

SCALE = 0.01


def test_e2e_anilist_rewatch_reaches_mal_at_its_pass_position(tmp_path: Path):
    media = sample_media(1)
    (show,) = media
    total = show.episodes
    with (
        AniListFake(media=media, time_scale=SCALE) as anilist,
        MalFake(media=media, time_scale=SCALE) as mal,
    ):
        anilist.add_entry(show.anilist_id, status="REPEATING", progress=3, repeat=0,
                          updatedAt=1_700_000_100)  # fmt: skip
        mal.add_entry(show.mal_id, status="completed", num_episodes_watched=total,
                      num_times_rewatched=0,
                      updated_at="2023-01-01T00:00:00+00:00")  # fmt: skip
        write_config(
            tmp_path,
            {
                "p": {
                    "source": {
                        "name": "anilist",
                        "type": "anilist",
                        "config": {
                            "token": "anilist-test-token",
                            "base_url": anilist.base_url,
                            "time_scale": SCALE,
                        },
                    },
                    "target": {
                        "name": "mal",
                        "type": "mal",
                        "config": {
                            "base_url": mal.base_url + "/v2",
                            "client_id": mal.client_id,
                            "client_secret": mal.client_secret,
                            "access_token": "mal-access-0",
                            "refresh_token": "mal-refresh-0",
                            "time_scale": SCALE,
                        },
                    },
                }
            },
        )
        assert run_json("sync", cwd=tmp_path)["failed"] == 0
        entry = mal.entries[show.mal_id]
        assert entry["is_rewatching"] is True
        assert entry["num_episodes_watched"] == 3  # the pass position, not blocked
        assert entry["num_times_rewatched"] == 0

        # The pass completes on AniList: completed, full count, repeat 1.
        anilist.add_entry(show.anilist_id, status="COMPLETED", progress=total,
                          repeat=1, updatedAt=1_700_000_200)  # fmt: skip
        assert cli_json("sync", cwd=tmp_path)["failed"] == 0  # the same app, in-process
        entry = mal.entries[show.mal_id]
        assert entry["is_rewatching"] is False
        assert (entry["status"], entry["num_episodes_watched"]) == ("completed", total)
        assert entry["num_times_rewatched"] == 1
