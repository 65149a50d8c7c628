# ruff: noqa: RUF001
"""The mappings browser's pure parts: ids and ranges as people read them, search
results from titles to each id's edges, and override problems with their lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from anibridge.app.service.mapping_view import browse, describe, readable_edge
from anibridge.app.service.overrides import (
    EXAMPLE,
    add_checked,
    add_override,
    check_overrides,
)
from anibridge.mappings import load_index
from anibridge.mappings.ranges import RangePair


@pytest.mark.parametrize(
    ("descriptor", "shown"),
    [
        ("anilist:21", "AniList 21"),
        ("mal:5114", "MAL 5114"),
        ("tvdb_show:81797:s1", "TVDB 81797 S1"),
        ("tvdb_show:76885:s0", "TVDB 76885 Specials"),
        ("tmdb_movie:129", "TMDB movie 129"),
        ("anidb:23:R", "AniDB 23"),
        ("anidb:23:S", "AniDB 23 specials"),
        ("someday:7:x", "someday 7 x"),
        ("nonsense", "nonsense"),
    ],
)
def test_ids_read_like_names(descriptor, shown):
    assert describe(descriptor) == shown


def test_a_range_pair_names_its_target():
    show, anime = "tvdb_show:1:s1", "anilist:12345"
    assert readable_edge(show, anime, RangePair(1, 12, ((1, 12),), None)) == (
        "S1 E1–12 → AniList 12345 E1–12"
    )
    assert readable_edge(
        anime, "tvdb_show:78857:s2", RangePair(36, 83, ((1, 48),), None)
    ) == ("E36–83 → TVDB 78857 S2 E1–48")
    assert readable_edge(anime, show, RangePair(13, None, ((1, None),), None)) == (
        "E13+ → TVDB 1 S1 E1+"
    )
    assert readable_edge(anime, "tmdb_movie:9", RangePair(1, 3, ((1, 1),), 3)) == (
        "E1–3 → TMDB movie 9 E1 (3 episodes → 1)"
    )


@pytest.fixture
def small_index(tmp_path: Path):
    path = tmp_path / "custom.yaml"
    path.write_text(
        "tvdb_show:78857:s1:\n"
        "  anilist:20:\n"
        "    '1-35': '1-35'\n"
        "tvdb_show:78857:s2:\n"
        "  anilist:20:\n"
        "    '1-48': '36-83'\n"
    )
    return load_index([str(path)], include_default=False, notice=None, compiled=False)


def test_browse_goes_from_a_title_to_each_season_and_its_ranges(small_index):
    titles = [
        {
            "title": "Naruto",
            "provider": "plex",
            "kind": "show",
            "ids": ["tvdb_show:78857"],
            "seasons": [1, 2, 3],
        },
    ]
    found = browse(small_index, titles, ["anilist:20"], lambda o: "dataset")
    naruto = found["titles"][0]
    assert naruto["title"] == "Naruto"
    by_id = {i["descriptor"]: i for i in naruto["ids"]}
    assert list(by_id) == [
        "tvdb_show:78857:s1",
        "tvdb_show:78857:s2",
        "tvdb_show:78857:s3",
    ]
    assert by_id["tvdb_show:78857:s1"]["label"] == "TVDB 78857 S1"
    [edge] = by_id["tvdb_show:78857:s2"]["edges"]
    assert edge["readable"] == ["S2 E1–48 → AniList 20 E36–83"]
    assert edge["ranges"] == ["1-48=36-83"]
    assert edge["provenance"] == ["dataset"]
    assert by_id["tvdb_show:78857:s3"]["edges"] == []  # no mapping: offered a fix
    assert found["matches"] == [{"descriptor": "anilist:20", "label": "AniList 20"}]


def test_override_problems_carry_their_lines():
    text = (
        "# my fixes\n"
        "tvdb_show:79414:s1:\n"
        "  anilist:849:\n"
        "    '1-14': '1-14'\n"
        "  not an id:\n"
        "    '1': '1'\n"
        "anilist:99999:\n"
        "  tvdb_show:1:s1:\n"
        "    'x-y': '1'\n"
    )
    problems = check_overrides(text)
    assert [(p.line, p.message) for p in problems] == [
        (
            5,
            "tvdb_show:79414:s1 → not an id: not a descriptor "
            "(authority:id[:scope]): 'not an id'",
        ),
        (
            9,
            "anilist:99999 → tvdb_show:1:s1 ['x-y']: "
            "'1': source range 'x-y' is not x, x-y or x-",
        ),
    ]
    assert str(problems[0]).startswith("line 5: tvdb_show:79414:s1 → not an id")


def test_yaml_errors_name_line_and_column():
    [problem] = check_overrides("anilist:1:\n  tvdb_show:1:s1: {\n")
    assert problem.line == 3
    assert problem.message.startswith("not valid YAML (column 1)")
    [dup] = check_overrides("anilist:1:\n  mal:1: {'1': '1'}\nanilist:1: null\n")
    assert dup.line == 3 and "duplicate key" in dup.message
    [top] = check_overrides("- anilist:1\n")
    assert top.line == 1 and "must map source ids" in top.message


def test_the_example_and_an_added_override_are_valid():
    assert check_overrides("") == []
    assert check_overrides(EXAMPLE) == []
    first = add_override("", "tvdb_show:1:s1", "anilist:5")
    assert first == EXAMPLE + "tvdb_show:1:s1:\n  anilist:5:\n    1-: 1-\n"
    text = add_override(EXAMPLE, "tvdb_show:79414:s1", "anilist:849", "1-14", "1-14")
    assert check_overrides(text) == []
    assert text.startswith(EXAMPLE)  # the comments stay
    assert text.endswith("tvdb_show:79414:s1:\n  anilist:849:\n    1-14: 1-14\n")
    again = add_override(text, "tvdb_show:79414:s2", "anilist:1", note="season 2")
    assert again.startswith(EXAMPLE) and "# season 2\ntvdb_show:79414:s2:" in again


def test_add_checked_names_what_is_wrong_and_writes_nothing():
    text, problems = add_checked("", "tvdb_show:1:s1", "anilist", "", "")
    assert text == ""
    assert [str(p) for p in problems] == [
        "target 'anilist' is not an id like anilist:21 or tvdb_show:81797:s1"
    ]
    text, problems = add_checked("# mine\n", "tvdb_show:1:s1", "anilist:1", "1-x")
    assert text == "# mine\ntvdb_show:1:s1:\n  anilist:1:\n    1-x: 1-\n"
    assert [p.line for p in problems] == [4]
    text, problems = add_checked("- a\n", "tvdb_show:1:s1", "anilist:1")
    assert text == "- a\n" and "must be a mapping at the top" in problems[0].message
    text, problems = add_checked("# mine\n", " tvdb_show:1:s1 ", "anilist:1 ", "", "")
    assert problems == [] and text.endswith(
        "tvdb_show:1:s1:\n  anilist:1:\n    1-: 1-\n"
    )
