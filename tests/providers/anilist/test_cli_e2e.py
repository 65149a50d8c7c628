"""End-to-end through the real CLI app against the fake trackers on loopback.

`local library -> AniList fake` and `AniList fake <-> MAL fake` (two-way): the first
run writes what the sources say, the second run writes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from anibridge.app.cli import _load_commands
from anibridge.app.cli import app as cli_app
from anibridge.testing.fakes.anilist import AniListFake
from anibridge.testing.fakes.catalog import FakeMedia, sample_media
from anibridge.testing.fakes.mal import MalFake

SCALE = 0.01  # fakes and clients share the timeline: a minute lasts 0.6 s


def sync(config: Path) -> dict:
    """`anibridge sync --json` through the real CLI app (in-process: no start-up)."""
    _load_commands()
    result = CliRunner().invoke(cli_app, ["sync", "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def demo_file(name: str) -> Path:
    return Path(str(resources.files("anibridge.app.demo").joinpath(f"data/{name}")))


def demo_catalog() -> list[FakeMedia]:
    data = yaml.safe_load(demo_file("list.yaml").read_text())
    media = []
    for n, item in enumerate(data["items"]):
        authority, _, value = item["key"].partition(":")
        assert authority == "anilist"
        media.append(
            FakeMedia(
                anilist_id=int(value),
                mal_id=900_000 + n,
                title=item.get("title") or value,
                episodes=item.get("episodes"),
                format="MOVIE" if item.get("kind") == "film" else "TV",
            )
        )
    return media


def mutations(fake: AniListFake, start: int) -> list[str]:
    return [d for d in fake.documents[start:] if d.lstrip().startswith("mutation")]


def test_local_library_to_anilist_then_nothing_to_do(tmp_path):
    shutil.copy(demo_file("library.yaml"), tmp_path / "library.yaml")
    with AniListFake(media=demo_catalog(), time_scale=SCALE) as fake:
        config = tmp_path / "anibridge.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "data_dir": "data",
                    "profiles": {
                        "p": {
                            "source": {
                                "name": "library",
                                "type": "local",
                                "config": {
                                    "path": "library.sqlite",
                                    "seed": "library.yaml",
                                },
                            },
                            "target": {
                                "name": "anilist",
                                "type": "anilist",
                                "config": {
                                    "token": "anilist-test-token",
                                    "base_url": fake.base_url,
                                    "time_scale": SCALE,
                                },
                            },
                        }
                    },
                }
            )
        )
        first = sync(config)
        assert first["failed"] == 0 and first["applied"] > 0
        naruto = fake.entry_for(20)
        assert naruto is not None and naruto["progress"] > 0
        assert naruto["startedAt"]["year"] is not None
        written = len(fake.entries)
        assert written > 5
        seen = len(fake.documents)
        second = sync(config)
        assert second["failed"] == 0
        assert second["planned"] == 0 and second["applied"] == 0
        assert mutations(fake, seen) == []
        assert len(fake.entries) == written
        assert fake.statuses()[429] == 0


def test_anilist_and_mal_two_way_converge_then_nothing_to_do(tmp_path):
    media = sample_media(10)
    with (
        AniListFake(media=media, time_scale=SCALE) as anilist,
        MalFake(media=media, time_scale=SCALE) as mal,
    ):
        for n, item in enumerate(media[:5]):
            done = n % 2 == 1
            anilist.add_entry(
                item.anilist_id,
                status="COMPLETED" if done else "CURRENT",
                progress=(item.episodes or 1) if done else min(2, item.episodes or 2),
                # 73 is not a multiple of 10: MAL (0-10) stores 7, and that 7
                # must never come back to AniList as 70.
                score=73 if n == 0 else 10 * (5 + n),
                startedAt={"year": 2023, "month": 1 + n, "day": 3},
                # No completion date: the engine must not invent one for MAL
                # that it would copy back to AniList on the next run.
                updatedAt=1_700_000_000 + n,
            )
        for n, item in enumerate(media[5:]):
            mal.add_entry(
                item.mal_id,
                status="watching" if n % 2 else "on_hold",
                num_episodes_watched=1 + n,
                score=4 + n,
                comments=f"from mal {n}",
                updated_at=f"2024-03-0{1 + n}T10:00:00+00:00",
            )
        config = tmp_path / "anibridge.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "data_dir": "data",
                    "profiles": {
                        "both": {
                            "direction": "two_way",
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
                                    # Expired: the first run must refresh, and the
                                    # rotated pair must reach the app's token store.
                                    "expires_at": 1,
                                    "time_scale": SCALE,
                                },
                            },
                        }
                    },
                }
            )
        )
        seen_anilist = len(anilist.documents)
        first = sync(config)
        assert first["failed"] == 0 and first["applied"] > 0
        # Run 1 writes only the missing sides: one entry per MAL-only title on
        # AniList, nothing back onto the five AniList had.
        saves = "".join(mutations(anilist, seen_anilist)).count("{ ...SavedFields }")
        assert saves == len(media[5:])
        assert all(
            anilist.entry_for(item.anilist_id)["score"]
            == (73 if n == 0 else 10 * (5 + n))
            for n, item in enumerate(media[:5])
        )
        assert mal.refreshes == 1
        assert "mal-refresh-0" not in mal.refresh_tokens  # rotated away
        for n, item in enumerate(media[:5]):
            entry = mal.entries.get(item.mal_id)
            assert entry is not None, item
            assert entry["status"] == ("completed" if n % 2 else "watching")
            assert entry["score"] == (7 if n == 0 else 5 + n)
            assert entry["start_date"] == f"2023-0{1 + n}-03"
        for n, item in enumerate(media[5:]):
            entry = anilist.entry_for(item.anilist_id)
            assert entry is not None, item
            assert entry["status"] == ("CURRENT" if n % 2 else "PAUSED")
            assert entry["progress"] == 1 + n
            assert entry["notes"] == f"from mal {n}"
        seen_anilist = len(anilist.documents)
        mal.reset_counters()
        second = sync(config)
        assert second["failed"] == 0
        assert second["applied"] == 0, second
        assert mutations(anilist, seen_anilist) == []
        assert mal.count(method="PATCH") == 0 and mal.count(method="DELETE") == 0
        assert anilist.entry_for(media[0].anilist_id)["score"] == 73
        # The second run used the stored tokens: no refresh, no 401.
        assert mal.refreshes == 1 and mal.statuses()[401] == 0


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in list(os.environ):
        if name.startswith("ANIBRIDGE_"):
            monkeypatch.delenv(name)
