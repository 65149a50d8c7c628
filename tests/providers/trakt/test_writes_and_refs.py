from __future__ import annotations

import pytest

from anibridge.provider.base import ExternalId, Ref
from anibridge.providers.trakt.vocabulary import (
    TraktDataError,
    external_ids,
    parse_ref,
)
from anibridge.providers.trakt.writes import (
    Item,
    build_body,
    chunks,
    not_found_history_ids,
    not_found_positions,
)


def test_refs_round_trip_and_bad_refs_say_what_is_wrong():
    assert parse_ref(Ref("movie:7")) == ("movie", 7, None, None)
    assert parse_ref(Ref.at("show:7", ("season", 0), ("episode", 3))) == (
        "show",
        7,
        0,
        3,
    )
    for bad, message in [
        (Ref("7"), "is not 'movie:<id>'"),
        (Ref("episode:7"), "is not 'movie:<id>'"),
        (Ref.at("movie:7", ("season", 1)), "cannot have a path"),
        (Ref.at("show:7", ("episode", 1)), "season=N"),
        (Ref.at("show:7", ("season", "one")), "season=N"),
        (Ref.at("show:7", ("season", -1)), "negative season"),
        (Ref.at("show:7", ("season", 1), ("episode", 1), ("part", 1)), "deeper"),
    ]:
        with pytest.raises(TraktDataError, match=message):
            parse_ref(bad)


def test_show_ids_get_one_scope_per_season_and_empty_ids_are_skipped():
    ids = external_ids(
        "show", {"trakt": 1, "tvdb": 76885, "imdb": None, "tmdb": 0}, [1, 0, 1]
    )
    assert [i.descriptor for i in ids] == [
        "trakt_show:1",
        "tvdb_show:76885",
        "trakt_show:1:s0",
        "trakt_show:1:s1",
        "tvdb_show:76885:s0",
        "tvdb_show:76885:s1",
    ]
    assert external_ids("movie", {"trakt": 1, "imdb": "tt1"}, [1]) == (
        ExternalId("trakt_movie", "1"),
        ExternalId("imdb_movie", "tt1"),
    )


def test_bodies_nest_parts_under_their_show_and_keep_show_values_apart():
    items = [
        Item(0, "movie", 5, fields={"rating": 7}),
        Item(1, "show", 1, fields={"rating": 9}),
        Item(2, "show", 1, 1, 3, {"rating": 6}),
        Item(3, "show", 1, 1, fields={"rating": 8}),
        Item(4, "show", 1, 1, 4, {"rating": 5}),
        Item(5, "show", 2, 0, 1, {"rating": 4}),
    ]
    assert build_body(items) == {
        "movies": [{"ids": {"trakt": 5}, "rating": 7}],
        "shows": [
            {"ids": {"trakt": 1}, "rating": 9},
            {
                "ids": {"trakt": 1},
                "seasons": [
                    {"number": 1, "episodes": [
                        {"number": 3, "rating": 6}, {"number": 4, "rating": 5}
                    ]},
                    {"number": 1, "rating": 8},
                ],
            },
            {
                "ids": {"trakt": 2},
                "seasons": [
                    {"number": 0, "episodes": [{"number": 1, "rating": 4}]}
                ],
            },
        ],
    }  # fmt: skip


def test_not_found_maps_back_to_positions():
    items = [
        Item(0, "movie", 5),
        Item(1, "movie", 6),
        Item(2, "show", 1, 1, 3),
        Item(3, "show", 1, 1, 40),
        Item(4, "show", 2, 1, 1),
        Item(5, "show", 1, 9, None),
        Item(6, "show", 1),
    ]
    envelope = {
        "added": {"movies": 1, "episodes": 1},
        "not_found": {
            "movies": [{"ids": {"trakt": 6}}],
            "shows": [
                {
                    "ids": {"trakt": 1},
                    "seasons": [
                        {"number": 1, "episodes": [{"number": 40}]},
                        {"number": 9},
                    ],
                },
                {"ids": {"trakt": 2}},
            ],
            "episodes": [],
        },
    }
    assert not_found_positions(items, envelope) == {1, 3, 4, 5}
    assert not_found_positions(items, {"added": {}}) == set()
    assert not_found_history_ids({"not_found": {"ids": [3, "x", 4]}}) == {3, 4}


def test_chunks():
    assert [list(c) for c in chunks([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
    with pytest.raises(ValueError):
        list(chunks([1], 0))
