"""Grammar errors say exactly what is wrong, so a curator can fix the entry."""

from __future__ import annotations

import re

import pytest

from anibridge.mappings.errors import MappingError
from anibridge.mappings.grammar import (
    canonical_descriptor,
    descriptor_key,
    parse_pair,
    parse_source_range,
    parse_target,
)
from anibridge.provider.base import ExternalId


def _raises(message: str):
    return pytest.raises(MappingError, match=f"^{re.escape(message)}$")


def test_descriptor_errors_name_the_text_and_the_expected_form():
    with _raises("not a descriptor (authority:id[:scope]): 'anilist'"):
        canonical_descriptor("anilist")
    bad_scope = "unknown AniDB episode type 'X' in 'anidb:5:X' (expected one of "
    with _raises(bad_scope + "C, O, P, R, S, T)"):
        canonical_descriptor("anidb:5:X")
    assert canonical_descriptor("anidb:5:S") == "anidb:5:S"


def test_descriptor_key_scopes_only_unscoped_anidb():
    assert descriptor_key(ExternalId("anidb", "5")) == "anidb:5:R"
    assert descriptor_key(ExternalId("anidb", "5", "S")) == "anidb:5:S"
    assert descriptor_key(ExternalId("tvdb_show", "5")) == "tvdb_show:5"
    assert descriptor_key("anidb:7") == "anidb:7:R"


def test_source_range_errors():
    with _raises("source range 'a-b' is not x, x-y or x-"):
        parse_source_range("a-b")
    with _raises("source range '5-3' ends before it starts"):
        parse_source_range("5-3")
    assert parse_source_range("5-5") == (5, 5)


def test_target_errors():
    with _raises("target range 'x' is not seg[,seg...][|ratio] (seg = x, x-y or x-)"):
        parse_target("x")
    with _raises("target range '1-,5-6': only the last segment may be open"):
        parse_target("1-,5-6")
    with _raises("target range '1-2,6-4': '6-4' ends before it starts"):
        parse_target("1-2,6-4")
    assert parse_target("3-3,5,7-") == (((3, 3), (5, 5), (7, None)), None)


def test_a_pair_keeps_its_provenance():
    assert parse_pair("1-2", "1-2", ("custom",)).provenance == ("custom",)
