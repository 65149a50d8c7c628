"""Provider gaps found on real payloads (issue 14 point 5), through the real CLI."""

from __future__ import annotations

from pathlib import Path

from cli_support import (
    cli_json,
    local_side,
    run,
    run_json,
    show,
    write_config,
    write_doc,
)

from anibridge.testing.fakes.anilist import AniListFake
from anibridge.testing.fakes.catalog import FakeMedia
from anibridge.testing.fakes.media import MediaLibrary
from anibridge.testing.fakes.plex import FakePlex

SCALE = 0.001


def anilist_side(fake: AniListFake) -> dict:
    return {
        "name": "anilist",
        "type": "anilist",
        "config": {
            "token": "anilist-test-token",
            "base_url": fake.base_url,
            "time_scale": SCALE,
        },
    }


def test_e2e_unknown_anilist_score_format_stops_the_run_naming_it(tmp_path: Path):
    media = [FakeMedia(anilist_id=1, mal_id=1, title="Cowboy Bebop", episodes=26)]
    ws = tmp_path / "ws"
    ws.mkdir()
    plays = {1: {e: ["2024-01-01T20:00:00Z"] for e in (1, 2)}}
    write_doc(ws / "library.yaml", [show("bebop", ["tvdb_show:76885"], plays)])
    with AniListFake(media=media, time_scale=SCALE, score_format="POINT_20") as fake:
        write_config(
            ws, {"p": {"source": local_side("library"), "target": anilist_side(fake)}}
        )
        done = run("sync", cwd=ws, check=False)
        assert done.returncode == 69  # the provider cannot be used (README)
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("error: anilist: unknown scoreFormat 'POINT_20'")
        assert "Traceback" not in done.stderr
        assert fake.entries == {}  # nothing read as POINT_100 and written


def test_e2e_plex_off_step_rating_is_read_on_plex_scale(tmp_path: Path):
    # Plex rates in whole points on 0-10; a client wrote 9.5 through the API. It is
    # read as 10 (half up on the declared step), so AniList gets 100, not 95, and
    # a second run finds nothing to do.
    lib = MediaLibrary()
    lib.add_section("1", "Anime", "show")
    lib.add_user("1", "Owner", admin=True)
    yui = lib.add_item(
        "show", "Corrector Yui", "1",
        plex_guid="com.plexapp.agents.hama://anidb-3529?lang=en",
    )  # fmt: skip
    for n in range(1, 27):
        lib.add_episode(yui.key, 1, n)
        lib.play("1", lib.episode("Corrector Yui", 1, n).key, 1_700_100_000 + n)
    lib.rate("1", yui.key, 9.5, at=1_700_200_000)
    media = [FakeMedia(anilist_id=111, mal_id=111, title="Corrector Yui", episodes=26)]
    with FakePlex(lib) as plex, AniListFake(media=media, time_scale=SCALE) as fake:
        plex_side = {
            "name": "plex",
            "type": "plex",
            "config": {"base_url": plex.base_url, "token": plex.owner_token},
        }
        write_config(
            tmp_path, {"p": {"source": plex_side, "target": anilist_side(fake)}}
        )
        assert run_json("sync", cwd=tmp_path)["failed"] == 0
        assert fake.entry_for(111)["score"] == 100
        again = cli_json("sync", cwd=tmp_path)  # the same app, in-process
        assert again["planned"] == 0
