"""Titles kept across restarts: what is written, what a broken file costs."""

from __future__ import annotations

import logging

from anibridge.app.service.titles import dump_titles, load_titles


def test_titles_round_trip_without_artwork(tmp_path):
    titles = {
        ("library", "show-1"): {
            "title": "Naruto",
            "kind": "show",
            "ids": ["tvdb_show:78857"],
            "seasons": [1, 2],
            "labels": [],
            "poster": "https://plex.example/photo?X-Plex-Token=secret",
            "url": None,
        },
        ("list", "anilist:20"): {"title": "Naruto", "borrowed": True},
        ("list", "anilist:1"): {"title": None, "ids": ["anilist:1"]},  # no title
    }
    text = dump_titles(titles)
    assert "secret" not in text and "poster" not in text
    path = tmp_path / "titles.json"
    path.write_text(text)
    assert load_titles(path) == {
        ("library", "show-1"): {
            "title": "Naruto",
            "kind": "show",
            "ids": ["tvdb_show:78857"],
            "seasons": [1, 2],
        },
        ("list", "anilist:20"): {"title": "Naruto", "borrowed": True},
    }


def test_a_missing_or_broken_file_costs_only_titles(tmp_path, caplog):
    assert load_titles(tmp_path / "none.json") == {}
    broken = tmp_path / "titles.json"
    broken.write_text('{"version": 1, "entries": [')
    with caplog.at_level(logging.WARNING):
        assert load_titles(broken) == {}
    assert "titles return with the next run" in caplog.text
    broken.write_text(
        '{"entries": [{"provider": "p"}, 3, {"provider": "p", "anchor": "a", '
        '"title": "Kept"}, {"provider": 1, "anchor": "b", "title": "x"}]}'
    )
    assert load_titles(broken) == {("p", "a"): {"title": "Kept"}}
    broken.write_text("[]")
    assert load_titles(broken) == {}
