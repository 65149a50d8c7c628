"""`anibridge export` keeps every record kind (issue 14 point 4), through the real CLI.

A Trakt account (the fake, real API shapes) with plays, ratings on a show, a season,
an episode and a movie, a watchlist entry and a collected episode is exported;
watched states and all ratings are in the document; importing it into a local file
and exporting that again gives the same document (the format round-trips them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml
from cli_support import cli, run, write_config

from anibridge.testing.fakes.trakt import FakeTrakt


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _items(doc: dict) -> dict[str, dict]:
    return {item["key"]: item for item in doc["items"]}


_BOOKKEEPING = ("revision", "updated_at", "exported_at", "exported_from")
_INFORMATIONAL = ("not_exported", "account")


def _strip(value):
    """A document without bookkeeping (revision/updated_at) and informational keys."""
    if isinstance(value, dict):
        return {
            k: _strip(v)
            for k, v in value.items()
            if k not in _BOOKKEEPING + _INFORMATIONAL
        }
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def test_e2e_export_keeps_trakt_ratings_and_watched_and_round_trips(tmp_path: Path):
    with FakeTrakt(time_scale=0.001) as trakt:
        trakt.add_show(1, "Cowboy Bebop", {1: 4}, tvdb=76885)
        trakt.add_movie(149, "Akira", tmdb=149)
        trakt.add_movie(150, "Perfect Blue", tmdb=10494)
        trakt.add_play(("episode", 1, 1, 1), at("2024-03-01T20:00:00Z"))
        trakt.add_play(("episode", 1, 1, 2), at("2024-03-02T20:00:00Z"))
        trakt.add_play(("episode", 1, 1, 2), at("2024-04-02T20:00:00Z"))
        trakt.add_play(("episode", 1, 1, 3), at("2024-03-03T20:00:00Z"))
        trakt.add_play(("movie", 149), at("2024-02-01T18:00:00Z"))
        trakt.rate(("show", 1), 8, at("2024-03-04T00:00:00Z"))
        trakt.rate(("season", 1, 1), 7, at("2024-03-04T00:00:00Z"))
        trakt.rate(("episode", 1, 1, 1), 9, at("2024-03-04T00:00:00Z"))
        trakt.rate(("movie", 149), 10, at("2024-02-02T00:00:00Z"))
        trakt.list_item(("movie", 150), notes="someday")
        trakt.collect(("episode", 1, 1, 1), at("2024-01-01T00:00:00Z"))
        tokens = trakt.issue_tokens()
        trakt_side = {
            "name": "trakt",
            "type": "trakt",
            "config": {
                "client_id": trakt.client_id,
                "client_secret": trakt.client_secret,
                "access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
                "base_url": trakt.base_url,
                "time_scale": 0.001,
            },
        }
        copy_side = {
            "name": "copy",
            "type": "local",
            "config": {"path": "copy.sqlite", "rating_scale": [1, 10, 1]},
        }
        write_config(tmp_path, {"p": {"source": trakt_side, "target": copy_side}})
        run("export", "trakt", "-o", "trakt.yaml", cwd=tmp_path)
        exported = yaml.safe_load((tmp_path / "trakt.yaml").read_text())
        items = _items(exported)
        show = items["show:1"]
        assert show["record"]["rating"] == 8
        (season,) = show["seasons"]
        assert _strip(season["record"]) == {"rating": 7}
        episodes = {e["episode"]: e for e in season["episodes"]}
        assert episodes[1]["record"]["rating"] == 9
        assert episodes[1]["record"]["status"] == "completed"
        assert episodes[2]["record"]["repeat_count"] == 1
        assert len(episodes[2]["plays"]) == 2
        assert episodes[3]["record"]["status"] == "completed"
        akira = items["movie:149"]["record"]
        assert (akira["status"], akira["rating"]) == ("completed", 10)
        assert _strip(items["movie:150"]["record"]) == {
            "status": "planned",
            "notes": "someday",
        }
        ratings = [r for r in _records(exported) if "rating" in r]
        watched = [r for r in _records(exported) if r.get("status") == "completed"]
        assert (len(ratings), len(watched)) == (4, 4)
        # Kinds the format has no place for are counted, not silently dropped.
        assert exported["not_exported"]["collection"] >= 1
        assert exported["not_exported"]["progress"] >= 1  # display-only counts

        # The round trip in-process (the same app; the export above was a subprocess).
        cli("import", "trakt.yaml", "--provider", "copy", cwd=tmp_path)
        cli("export", "copy", "-o", "copy.yaml", cwd=tmp_path)
        again = yaml.safe_load((tmp_path / "copy.yaml").read_text())
        assert _strip(again["items"]) == _strip(exported["items"])


def _records(doc: dict) -> list[dict]:
    out = []
    for item in doc["items"]:
        out += [item["record"]] if "record" in item else []
        for season in item.get("seasons", ()):
            out += [season["record"]] if "record" in season else []
            out += [e["record"] for e in season.get("episodes", ()) if "record" in e]
    return out
