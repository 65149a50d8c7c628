"""`merge_layers` on in-memory layers: precedence, `null` unmapping, provenance."""

from __future__ import annotations

from typing import Any

import msgspec

from anibridge.mappings.errors import InvalidEntry
from anibridge.mappings.merge import merge_layers
from anibridge.mappings.payload import Layer, _decode_json


def merged(*layers: tuple[str, dict[str, Any]]) -> Any:
    return merge_layers([Layer(origin, data) for origin, data in layers])


def test_no_layers_merge_to_nothing() -> None:
    m = merge_layers([])
    assert (m.data, m.base_origin, m.provenance, m.invalid) == ({}, "", {}, [])


def test_the_weakest_layer_is_the_base_and_is_not_copied() -> None:
    data = {"anilist:1": {"mal:1": {"1-12": "1-12"}}, "anidb:7": {}}
    m = merged(("up", data))
    assert m.data is data
    assert (m.base_origin, m.provenance, m.invalid) == ("up", {}, [])
    assert data == {"anilist:1": {"mal:1": {"1-12": "1-12"}}, "anidb:7": {}}


def test_each_later_layer_beats_the_earlier_ones_key_by_key() -> None:
    up = {"anilist:1": {"mal:1": {"1-12": "1-12", "13-24": "13-24"}}}
    a = {"anilist:1": {"mal:1": {"1-12": "2-13"}}}
    b = {"anilist:1": {"mal:1": {"1-12": "3-14", "25": "25"}}}
    m = merged(("up", up), ("a", a), ("b", b))
    assert m.data == {
        "anilist:1": {"mal:1": {"1-12": "3-14", "13-24": "13-24", "25": "25"}}
    }
    assert m.provenance == {
        ("anilist:1", "mal:1", "1-12"): ("b", "a", "up"),
        ("anilist:1", "mal:1", "25"): ("b",),
    }


def test_a_layer_loaded_twice_is_named_once() -> None:
    up = {"anilist:1": {"mal:1": {"1": "1"}}}
    m = merged(
        ("up", up),
        ("a", {"anilist:1": {"mal:1": {"1": "2"}}}),
        ("a", {"anilist:1": {"mal:1": {"1": "3"}}}),
    )
    assert m.data["anilist:1"]["mal:1"] == {"1": "3"}
    assert m.provenance == {("anilist:1", "mal:1", "1"): ("a", "up")}


def test_new_sources_and_targets_are_added() -> None:
    m = merged(("up", {}), ("a", {"anilist:2": {"tvdb_show:5:s1": {"1-": "1-"}}}))
    assert m.data == {"anilist:2": {"tvdb_show:5:s1": {"1-": "1-"}}}
    assert m.provenance == {("anilist:2", "tvdb_show:5:s1", "1-"): ("a",)}


def test_an_integer_key_of_the_base_is_overridden_by_its_string_spelling() -> None:
    up: dict[str, Any] = {"anilist:1": {"mal:1": {1: "1", 2: "2"}}}  # from YAML
    m = merged(("up", up), ("a", {"anilist:1": {"mal:1": {"1": "5"}}}))
    assert m.data["anilist:1"]["mal:1"] == {"1": "5", 2: "2"}
    assert m.provenance == {("anilist:1", "mal:1", "1"): ("a", "up")}


def test_overlays_use_canonical_descriptors() -> None:
    # `anidb:7` is the same descriptor as `anidb:7:R`; the base may spell either
    up = {
        "anidb:7": {"anilist:3": {"1": "1", "2": "2"}},
        "anidb:7:R": {"anilist:3": {"2": "20", "3": "30"}, "mal:3": {"1": "1"}},
    }
    m = merged(("up", up), ("a", {"anidb:7": {"anilist:3": {"4": "4"}}}))
    # folded per target: a target map of the canonical spelling beats the alias's
    assert m.data == {
        "anidb:7:R": {
            "anilist:3": {"2": "20", "3": "30", "4": "4"},
            "mal:3": {"1": "1"},
        }
    }
    assert m.provenance == {("anidb:7:R", "anilist:3", "4"): ("a",)}


def test_an_alias_only_spelling_of_the_base_is_moved_to_the_canonical_one() -> None:
    up = {"anidb:7": {"anilist:3": {"1": "1"}}}
    m = merged(("up", up), ("a", {"anidb:7:R": {"anilist:3": {"1": "9"}}}))
    assert m.data == {"anidb:7:R": {"anilist:3": {"1": "9"}}}
    assert m.provenance == {("anidb:7:R", "anilist:3", "1"): ("a", "up")}


def test_undecoded_range_maps_are_decoded_before_an_edit() -> None:
    raw = msgspec.json.encode(
        {
            "anilist:1": {"mal:1": {"1-12": "1-12", "13": "13"}, "mal:2": {"1": "1"}},
            "anidb:7": {"anilist:3": {"1": "1"}},
        }
    )
    up = _decode_json(raw)
    assert isinstance(up["anilist:1"]["mal:1"], msgspec.Raw)
    m = merged(
        ("up", up),
        ("a", {"anilist:1": {"mal:1": {"13": "14"}}}),
        ("b", {"anidb:7:R": {"anilist:3": {"2": "2"}}}),
    )
    assert m.data["anilist:1"]["mal:1"] == {"1-12": "1-12", "13": "14"}
    assert isinstance(m.data["anilist:1"]["mal:2"], msgspec.Raw)  # untouched
    assert m.data["anidb:7:R"] == {"anilist:3": {"1": "1", "2": "2"}}
    assert "anidb:7" not in m.data


def test_an_alias_raw_map_is_folded_into_a_raw_canonical_one() -> None:
    up = _decode_json(
        msgspec.json.encode(
            {
                "anilist:3": {"anidb:7": {"1": "1", "2": "2"}, "anidb:7:R": {"2": "5"}},
            }
        )
    )
    m = merged(("up", up), ("a", {"anilist:3": {"anidb:7:R": {"3": "3"}}}))
    assert m.data == {"anilist:3": {"anidb:7:R": {"1": "1", "2": "5", "3": "3"}}}


def test_a_null_source_unmaps_it_and_every_reverse_pair() -> None:
    up = {
        "anilist:1": {"mal:1": {"1-12": "1-12"}, "tvdb_show:10:s1": {"1": "1"}},
        "mal:1": {"anilist:1": {"1-12": "1-12"}, "anilist:9": {"1": "1"}},
        "tvdb_show:10:s1": {"anilist:1": {"1": "1"}},
    }
    m = merged(
        ("up", up),
        ("a", {"anilist:1": {"mal:1": {"13": "13"}}}),
        ("b", {"anilist:1": None}),
    )
    assert m.data == {"mal:1": {"anilist:9": {"1": "1"}}, "tvdb_show:10:s1": {}}
    assert m.provenance == {}
    assert m.invalid == []


def test_a_null_target_unmaps_both_directions() -> None:
    up = {
        "anilist:1": {"mal:1": {"1-12": "1-12"}, "mal:2": {"1": "1"}},
        "mal:1": {"anilist:1": {"1-12": "1-12"}},
    }
    m = merged(
        ("up", up),
        ("a", {"mal:1": {"anilist:1": {"13": "13"}}}),
        ("b", {"anilist:1": {"mal:1": None}}),
    )
    assert m.data == {"anilist:1": {"mal:2": {"1": "1"}}, "mal:1": {}}
    assert m.provenance == {}


def test_a_null_target_that_only_exists_in_reverse_still_unmaps_the_reverse() -> None:
    up = {"mal:1": {"anilist:1": {"1": "1"}}, "anilist:1": {"mal:2": {"1": "1"}}}
    m = merged(("up", up), ("a", {"anilist:1": {"mal:1": None}}))
    assert m.data == {"mal:1": {}, "anilist:1": {"mal:2": {"1": "1"}}}


def test_a_null_range_unmaps_its_key_and_the_reverse_pairs_inside_it() -> None:
    up: dict[str, Any] = {
        "anilist:1": {"mal:1": {"1-12": "1-12", "13-24": "13-24", 25: "25"}},
        "mal:1": {
            "anilist:1": {
                "1-6": "1-6",  # inside 1-12: goes
                "7-12": "7-10,11-12",  # all segments inside: goes
                "12-13": "12-13",  # reaches past 12: stays
                "20-": "20-",  # open: stays
                "30": ["not", "a", "range"],  # not a range: ignored
                "31": "x",  # unparsable: ignored
            }
        },
    }
    m = merged(("up", up), ("a", {"anilist:1": {"mal:1": {"1-12": None}}}))
    assert m.data == {
        "anilist:1": {"mal:1": {"13-24": "13-24", 25: "25"}},
        "mal:1": {
            "anilist:1": {
                "12-13": "12-13",
                "20-": "20-",
                "30": ["not", "a", "range"],
                "31": "x",
            }
        },
    }
    assert m.invalid == []


def test_a_null_open_range_unmaps_open_and_closed_reverse_pairs() -> None:
    up: dict[str, Any] = {
        "anilist:1": {"mal:1": {"13-": "13-", 25: "25"}},
        "mal:1": {"anilist:1": {"1": "12", "2": "13", "3-": "14-", "4": 25}},
    }
    m = merged(
        ("up", up),
        ("a", {"anilist:1": {"mal:1": {"13-": "14-"}}}),
        ("b", {"anilist:1": {"mal:1": {"13-": None, "25": None}}}),
    )
    assert m.data == {
        "anilist:1": {"mal:1": {}},
        "mal:1": {"anilist:1": {"1": "12"}},
    }
    assert m.provenance == {}


def test_a_closed_null_range_keeps_open_reverse_pairs() -> None:
    up = {
        "anilist:1": {"mal:1": {"1-20": "3-22"}},
        "mal:1": {"anilist:1": {"3-": "14-", "4": "14"}},
    }
    m = merged(("up", up), ("a", {"anilist:1": {"mal:1": {"1-20": None}}}))
    assert m.data == {"anilist:1": {"mal:1": {}}, "mal:1": {"anilist:1": {"3-": "14-"}}}


def test_a_null_for_nothing_changes_nothing() -> None:
    up = {"anilist:1": {"mal:1": {"1": "1"}}}
    m = merged(
        ("up", up),
        ("a", {"anilist:9": None, "anilist:1": {"mal:9": None, "mal:1": {"5": None}}}),
    )
    assert m.data == {"anilist:1": {"mal:1": {"1": "1"}}}
    assert m.invalid == []


def test_a_layer_applies_its_nulls_before_its_values() -> None:
    up = {"anilist:2": {"tmdb_movie:5": {"1-3": "1"}}}
    layer = {
        "tmdb_movie:5": {"anilist:2": {"1": "1-3"}},
        "anilist:2": {"tmdb_movie:5": None},
    }
    m = merged(("up", up), ("a", layer))
    assert m.data == {"anilist:2": {}, "tmdb_movie:5": {"anilist:2": {"1": "1-3"}}}
    assert m.provenance == {("tmdb_movie:5", "anilist:2", "1"): ("a",)}


def test_a_null_range_that_does_not_parse_is_reported() -> None:
    up = {"anilist:1": {"mal:1": {"1": "1"}}}
    m = merged(("up", up), ("a", {"anilist:1": {"mal:1": {"x": None}}}))
    assert m.data == up
    (problem,) = m.invalid
    assert problem.file == "a"
    assert (problem.source, problem.target, problem.key) == ("anilist:1", "mal:1", "x")
    assert "source range 'x'" in problem.reason


def test_invalid_overlay_entries_are_reported_and_the_rest_applied() -> None:
    up = {"anilist:1": {"mal:1": {"1": "1"}}}
    layer: dict[Any, Any] = {
        "not a descriptor": {"mal:1": {"1": "1"}},
        "anilist:2": ["mal:1"],
        "anilist:3": {"bad target": {"1": "1"}, "mal:3": "1-2", "mal:4": {"1": "1"}},
        "anilist:1": {"mal:1": {"2": "2"}},
    }
    m = merged(("up", up), ("custom.yaml", layer))
    assert m.data == {
        "anilist:1": {"mal:1": {"1": "1", "2": "2"}},
        "anilist:3": {"mal:4": {"1": "1"}},
    }
    reasons = {(p.source, p.target): p.reason for p in m.invalid}
    assert [(p.file, p.key) for p in m.invalid] == [("custom.yaml", None)] * 4
    assert reasons[("anilist:2", None)] == "must map target descriptors to ranges"
    assert reasons[("anilist:3", "mal:3")] == "must map source ranges to targets"
    assert "not a descriptor" in reasons[("not a descriptor", None)]
    assert "not a descriptor" in reasons[("anilist:3", "bad target")]
    assert m.invalid[0] == InvalidEntry(
        "custom.yaml",
        "not a descriptor",
        None,
        None,
        reasons[("not a descriptor", None)],
    )


def test_only_the_unscoped_anidb_spelling_is_an_alias() -> None:
    # `anidb:7` means `anidb:7:R`; it is not `anidb:7:S`, and `tvdb_show:1` is not
    # `tvdb_show:1:R`
    up = {"anidb:7": {"anilist:3": {"1": "1"}}, "tvdb_show:1": {"mal:1": {"1": "1"}}}
    m = merged(
        ("up", up),
        ("a", {"anidb:7:S": {"anilist:4": {"1": "1"}}}),
        ("b", {"tvdb_show:1:R": {"mal:2": {"1": "1"}}}),
        ("c", {"anidb:7:R": {"anilist:3": {"2": "2"}}}),
    )
    assert m.data == {
        "anidb:7:R": {"anilist:3": {"1": "1", "2": "2"}},
        "anidb:7:S": {"anilist:4": {"1": "1"}},
        "tvdb_show:1": {"mal:1": {"1": "1"}},
        "tvdb_show:1:R": {"mal:2": {"1": "1"}},
    }


def test_a_canonical_spelling_without_an_alias_is_edited_in_place() -> None:
    up = {"anidb:7:R": {"anilist:3": {"1": "1"}}}
    m = merged(("up", up), ("a", {"anidb:7": {"anilist:3": {"2": "2"}}}))
    assert m.data == {"anidb:7:R": {"anilist:3": {"1": "1", "2": "2"}}}


def test_entries_after_a_null_in_the_same_layer_still_apply() -> None:
    up = {"anilist:1": {"mal:1": {"1": "1"}}, "anilist:2": {"mal:2": {"1": "1"}}}
    layer: dict[str, Any] = {
        "anilist:1": None,
        "anilist:2": {"mal:2": None, "mal:3": {"1": "3"}},
        "anilist:4": {"mal:4": {"1": "4"}},
    }
    m = merged(("up", up), ("a", layer))
    assert m.data == {
        "anilist:2": {"mal:3": {"1": "3"}},
        "anilist:4": {"mal:4": {"1": "4"}},
    }


def test_unmapped_keys_lose_their_provenance() -> None:
    # a key a later layer writes again names only that layer, not the unmapped one
    up = {
        "anilist:1": {"mal:1": {"1": "1"}},
        "mal:1": {"anilist:1": {"1": "1"}},
    }
    m = merged(
        ("up", up),
        ("a", {"anilist:1": {"mal:1": {"2": "2"}}, "mal:1": {"anilist:1": {"2": "2"}}}),
        ("b", {"anilist:1": {"mal:1": None}}),
    )
    assert m.provenance == {}
    up = {  # the base is merged into in place: a fresh one
        "anilist:1": {"mal:1": {"1": "1"}},
        "mal:1": {"anilist:1": {"1": "1"}},
    }
    m = merged(
        ("up", up),
        ("a", {"mal:1": {"anilist:1": {"2": "2", "3": "3"}}}),
        ("b", {"anilist:1": {"mal:1": {"2-3": None}}}),
    )
    assert m.data["mal:1"] == {"anilist:1": {"1": "1"}}
    assert m.provenance == {}


def test_values_that_are_not_ranges_do_not_stop_the_reverse_scan() -> None:
    up: dict[str, Any] = {
        "anilist:1": {"mal:1": {"1-12": "1-12"}},
        "mal:1": {"anilist:1": {"30": ["not a range"], "31": "x", "1-6": "1-6"}},
    }
    m = merged(("up", up), ("a", {"anilist:1": {"mal:1": {"1-12": None}}}))
    assert m.data["mal:1"] == {"anilist:1": {"30": ["not a range"], "31": "x"}}
