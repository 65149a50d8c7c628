from __future__ import annotations

import pytest

from anibridge.mappings import (
    MappingError,
    RangePair,
    canonical_descriptor,
    canonical_id,
    parse_pair,
    parse_source_range,
    parse_target,
)
from anibridge.provider.base import ExternalId


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("anilist:20", "anilist:20"),
        ("anidb:69", "anidb:69:R"),
        ("anidb:69:S", "anidb:69:S"),
        ("tvdb_show:81797:s0", "tvdb_show:81797:s0"),
        ("imdb_movie:tt0110357", "imdb_movie:tt0110357"),
        ("tvdb_show:262098", "tvdb_show:262098"),
    ],
)
def test_descriptors_canonicalize(text: str, expected: str) -> None:
    assert canonical_descriptor(text) == expected


@pytest.mark.parametrize(
    "text", ["anilist", "anilist:", ":5", "a:b:c:d", "anidb:5:X", "anilist:1 2", ""]
)
def test_bad_descriptors_are_rejected(text: str) -> None:
    with pytest.raises(MappingError):
        canonical_descriptor(text)


def test_canonical_id_fills_the_anidb_scope() -> None:
    assert canonical_id(ExternalId("anidb", "5")) == ExternalId("anidb", "5", "R")
    assert canonical_id("anidb:5") == ExternalId("anidb", "5", "R")
    assert canonical_id(ExternalId("mal", "5")) == ExternalId("mal", "5")


def test_source_ranges() -> None:
    assert parse_source_range("7") == (7, 7)
    assert parse_source_range("1-12") == (1, 12)
    assert parse_source_range("1156-") == (1156, None)
    assert parse_source_range("0") == (0, 0)


@pytest.mark.parametrize("text", ["", "a", "1-2-3", "5-3", "-5", "1|2", "1,3", " 1"])
def test_bad_source_ranges(text: str) -> None:
    with pytest.raises(MappingError):
        parse_source_range(text)


def test_ratio_on_a_source_key_says_so() -> None:
    with pytest.raises(MappingError, match="ratios go on the target"):
        parse_source_range("1-3|3")


def test_targets() -> None:
    assert parse_target("1-2,6-7") == (((1, 2), (6, 7)), None)
    assert parse_target("1|3") == (((1, 1),), 3)
    assert parse_target("1-102|-2") == (((1, 102),), -2)
    assert parse_target("1-14|0") == (((1, 14),), 0)
    assert parse_target("66-68,70-") == (((66, 68), (70, None)), None)


@pytest.mark.parametrize(
    "text", ["", "1|", "1||2", "1-|2|3", "1-,5", "3-1", "1,", "x", "1|+2", "1|3,4"]
)
def test_bad_targets(text: str) -> None:
    with pytest.raises(MappingError):
        parse_target(text)


def test_ratio_lengths_must_agree() -> None:
    assert parse_pair("1-3", "1|3") == RangePair(1, 3, ((1, 1),), 3)
    assert parse_pair("1-51", "1-102|-2").ratio == -2
    with pytest.raises(MappingError, match="needs 4 source episodes"):
        parse_pair("1-3", "1-2|2")
    with pytest.raises(MappingError, match="needs 6 target episodes"):
        parse_pair("1-3", "1-5|-2")
    # open sides, |0 and a missing ratio are not length-checked (as upstream)
    parse_pair("1-", "1-4|2")
    parse_pair("1-14", "1-3|0")
    parse_pair("143-195", "1-52")
