"""`check_profile`: reach, sign-in, identity, capabilities and counts per provider.

Against the fake Plex and the fake AniList on loopback: a working profile reports
the account names, what each side can write and how many titles it holds; a
rejected token fails only that provider, with its one line and exit code 77,
while the other is still reported; an unknown provider key is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from anibridge.app.config import load_config
from anibridge.app.service.check import check_profile
from anibridge.app.service.errors import NotFound
from anibridge.store import SqlStore
from anibridge.testing.fakes.anilist import AniListFake, FakeMedia
from anibridge.testing.fakes.media import MediaLibrary
from anibridge.testing.fakes.plex import FakePlex


def plex_library() -> MediaLibrary:
    lib = MediaLibrary()
    lib.add_section("1", "Anime", "show")
    lib.add_section("2", "Films", "movie")
    lib.add_user("1", "Owner", admin=True)
    guid = "com.plexapp.agents.thetvdb://78857?lang=en"
    show = lib.add_item("show", "Naruto", "1", plex_guid=guid)
    for n in range(1, 4):
        ep = lib.add_episode(show.key, 1, n)
        lib.play("1", ep.key, 1_700_000_000 + n * 3600)
    lib.add_item("show", "Unwatched", "1")
    film = lib.add_item("movie", "Akira", "2")
    lib.play("1", film.key, 1_700_000_000)
    return lib


def write(ws: Path, plex: FakePlex, anilist_url: str, token: str) -> Any:
    profile = {
        "source": {"name": "myplex", "type": "plex",
                   "config": {"base_url": plex.base_url, "token": plex.owner_token}},
        "target": {"name": "list", "type": "anilist",
                   "config": {"base_url": anilist_url, "token": token,
                              "time_scale": 0.001}},
    }  # fmt: skip
    ws.mkdir(parents=True, exist_ok=True)
    path = ws / "anibridge.yaml"
    path.write_text(yaml.safe_dump({"data_dir": "data", "profiles": {"main": profile}}))
    return load_config(path)


@pytest.fixture
def fakes() -> Any:
    media = [FakeMedia(anilist_id=20, mal_id=20, title="Naruto", episodes=220)]
    with (
        FakePlex(plex_library()) as plex,
        AniListFake(media=media, time_scale=0.001, user_name="Mika") as anilist,
    ):
        anilist.add_entry(20, status="CURRENT", progress=3)
        yield plex, anilist


async def test_working_profile_reports_each_provider(tmp_path: Path, fakes) -> None:
    plex, anilist = fakes
    loaded = write(tmp_path, plex, anilist.base_url, "anilist-test-token")
    store = SqlStore(loaded.store_url)
    try:
        result = await check_profile(loaded, "main", store=store)
    finally:
        store.close()
    assert result.ok and result.exit_code == 0
    source, target = result.providers
    assert (source.key, source.side, source.display_name) == (
        "myplex",
        "source",
        "Plex",
    )
    assert source.reached and source.signed_in and source.user == "Plex server owner"
    assert source.counts == {"total": 2, "movie": 1, "show": 1}
    assert "rating" in source.capabilities["writable_fields"]
    assert source.capabilities["plays"] and source.capabilities["webhooks"]
    assert (target.key, target.user) == ("list", "Mika")
    assert target.counts is not None and target.counts["total"] == 1
    assert "progress" in target.capabilities["writable_fields"]
    assert target.as_json()["ok"] is True


async def test_rejected_token_fails_that_provider_only(tmp_path: Path, fakes) -> None:
    plex, anilist = fakes
    loaded = write(tmp_path, plex, anilist.base_url, "wrong-token")
    store = SqlStore(loaded.store_url)
    try:
        result = await check_profile(loaded, "main", store=store)
    finally:
        store.close()
    source, target = result.providers
    assert source.ok and source.user == "Plex server owner"
    assert not target.ok and not target.signed_in and target.reached
    assert target.problem is not None and target.problem.kind == "auth"
    assert target.problem.message.startswith("list: AniList rejected the credentials")
    assert "wrong-token" not in target.problem.message
    assert result.exit_code == 77
    assert target.as_json()["problem"]["kind"] == "auth"


async def test_unreachable_provider_is_not_reached(tmp_path: Path, fakes) -> None:
    from anibridge.testing.fakes.faults import closed_port

    plex, _ = fakes
    loaded = write(tmp_path, plex, f"http://127.0.0.1:{closed_port()}", "t")
    store = SqlStore(loaded.store_url)
    try:
        result = await check_profile(loaded, "main", store=store, only="list")
    finally:
        store.close()
    (target,) = result.providers
    assert not target.reached and target.problem is not None
    assert "refused the connection" in target.problem.message
    assert result.exit_code == 69


async def test_unknown_provider_key_is_refused(tmp_path: Path, fakes) -> None:
    plex, anilist = fakes
    loaded = write(tmp_path, plex, anilist.base_url, "anilist-test-token")
    store = SqlStore(loaded.store_url)
    try:
        with pytest.raises(NotFound, match=r"no provider 'nope'.*list, myplex"):
            await check_profile(loaded, "main", store=store, only="nope")
    finally:
        store.close()
