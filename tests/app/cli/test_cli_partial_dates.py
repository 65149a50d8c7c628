"""Partial dates end to end (issue 14 point 3): AniList FuzzyDates and MAL's
``2021`` / ``2020-03`` through the real CLI and the fake trackers (the first sync in a
subprocess, the later calls the same app in-process)."""

from __future__ import annotations

from pathlib import Path

from cli_support import cli, cli_json, entry, read_local, run_json, write_config

from anibridge.testing.fakes.anilist import AniListFake
from anibridge.testing.fakes.catalog import sample_media
from anibridge.testing.fakes.mal import MalFake

SCALE = 0.01


def fuzzy(year=None, month=None, day=None) -> dict:
    return {"year": year, "month": month, "day": day}


def test_e2e_partial_dates_are_never_invented_into_full_dates(tmp_path: Path):
    media = sample_media(5)
    a, b, c, d, e = media
    with (
        AniListFake(media=media, time_scale=SCALE) as anilist,
        MalFake(media=media, time_scale=SCALE) as mal,
    ):
        old = {"updatedAt": 1_700_000_000}
        stamp = {"updated_at": "2023-01-01T00:00:00+00:00"}
        # a: AniList knows only March 2020; MAL has the exact day inside it.
        anilist.add_entry(
            a.anilist_id, status="COMPLETED", progress=a.episodes,
            startedAt=fuzzy(2020, 3), completedAt=fuzzy(2021), **old,
        )  # fmt: skip
        mal.add_entry(
            a.mal_id, status="completed", num_episodes_watched=a.episodes,
            start_date="2020-03-04", **stamp,
        )  # fmt: skip
        # b: AniList has the exact day; MAL only the year around it.
        anilist.add_entry(
            b.anilist_id, status="CURRENT", progress=1,
            startedAt=fuzzy(2019, 5, 6), **old,
        )  # fmt: skip
        mal.add_entry(
            b.mal_id, status="watching", num_episodes_watched=1,
            start_date="2019", **stamp,
        )  # fmt: skip
        # c: only on AniList, a year-only start.
        anilist.add_entry(
            c.anilist_id, status="CURRENT", progress=2, startedAt=fuzzy(2018), **old
        )
        # d: only on MAL, a month-only start.
        mal.add_entry(
            d.mal_id, status="watching", num_episodes_watched=1,
            start_date="2017-10", **stamp,
        )  # fmt: skip
        # e: exact on AniList, nothing on MAL: an exact date stays exact.
        anilist.add_entry(
            e.anilist_id, status="CURRENT", progress=1,
            startedAt=fuzzy(2022, 2, 3), **old,
        )  # fmt: skip
        anilist_side = {
            "name": "anilist",
            "type": "anilist",
            "config": {
                "token": "anilist-test-token",
                "base_url": anilist.base_url,
                "time_scale": SCALE,
            },
        }
        mal_side = {
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
        }
        ws = tmp_path / "ws"
        write_config(
            ws,
            {
                "trackers": {
                    "direction": "two_way",
                    "source": anilist_side,
                    "target": mal_side,
                },
                "stamps": {
                    "source": anilist_side,
                    "target": {
                        "name": "stamps",
                        "type": "local",
                        "config": {
                            "path": "stamps.sqlite",
                            "authorities": ["anilist"],
                            "date_precision": "datetime",
                        },
                    },
                },
            },
        )
        first = run_json("sync", "-p", "trackers", cwd=ws)
        assert first["failed"] == 0
        # a: neither side replaces the other (equal at the coarser precision)
        assert mal.entries[a.mal_id]["start_date"] == "2020-03-04"
        assert anilist.entry_for(a.anilist_id)["startedAt"] == fuzzy(2020, 3)
        # a: a partial year is written as a partial year, not 2021-01-01
        assert mal.entries[a.mal_id]["finish_date"] == "2021"
        # b: in sync both ways
        assert mal.entries[b.mal_id]["start_date"] == "2019"
        assert anilist.entry_for(b.anilist_id)["startedAt"] == fuzzy(2019, 5, 6)
        # c, d: partial dates cross as partial dates
        assert mal.entries[c.mal_id]["start_date"] == "2018"
        assert anilist.entry_for(d.anilist_id)["startedAt"] == fuzzy(2017, 10)
        # e: an exact day stays exact
        assert mal.entries[e.mal_id]["start_date"] == "2022-02-03"
        second = cli_json("sync", "-p", "trackers", cwd=ws)  # in-process from here
        assert second["planned"] == 0 and second["failed"] == 0

        # A target that keeps instants only: partial dates are skipped (imprecise),
        # never padded; the exact day is written.
        plan = cli_json("plan", "-p", "stamps", cwd=ws)["plan"]
        reasons = {(s["ref"]["key"], s["field"]): s["reason"] for s in plan["skipped"]}
        assert reasons[(f"anilist:{a.anilist_id}", "started_at")] == "imprecise"
        assert reasons[(f"anilist:{a.anilist_id}", "finished_at")] == "imprecise"
        assert reasons[(f"anilist:{c.anilist_id}", "started_at")] == "imprecise"
        cli("sync", "-p", "stamps", cwd=ws)
        stamps = read_local(ws / "stamps.sqlite", authorities=["anilist"],
                            date_precision="datetime")  # fmt: skip
        written_a = entry(stamps, f"anilist:{a.anilist_id}")
        assert "started_at" not in written_a and "finished_at" not in written_a
        assert entry(stamps, f"anilist:{e.anilist_id}")["started_at"].startswith(
            "2022-02-03T00:00:00"
        )
