"""Loading, merging, includes, null unmapping, provenance and invalid entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
import zstandard

from anibridge.mappings import (
    DERIVED,
    MappingError,
    MappingIndex,
    MappingLoadError,
    load_index,
)
from anibridge.provider.base import ExternalId
from anibridge.testing.fakes.releases import FakeReleases

UPSTREAM: dict[str, Any] = {
    "$meta": {"schema_version": "3.0.3"},
    "anilist:1": {
        "tvdb_show:10:s1": {"1-12": "1-12", "13-24": "1-12|-1"},
        "mal:1": {"1-24": "1-24"},
    },
    # the reverse written explicitly, as the released payload does
    "tvdb_show:10:s1": {"anilist:1": {"1-12": "1-12"}},
    "anilist:2": {"tmdb_movie:5": {"1-3": "1|3"}},
}


def E(text: str) -> ExternalId:
    return ExternalId.parse(text)


def write(path: Path, data: Any) -> str:
    if path.suffix in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    elif path.name.endswith(".zst"):
        raw = json.dumps(data).encode()
        path.write_bytes(zstandard.ZstdCompressor(level=3).compress(raw))
    else:
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return str(path)


def load(*paths: str, **kwargs: Any) -> MappingIndex:
    return load_index(paths, include_default=False, notice=None, **kwargs)


def lookup(index: MappingIndex, source: str, target: str) -> list[tuple[Any, ...]]:
    return [
        (p.source_range, p.target_spec(), p.provenance)
        for e in index.edges(source)
        if e.target == E(target)
        for p in e.pairs
    ]


@pytest.mark.parametrize(
    "name", ["m.json", "m.yaml", "m.json.zst", "m.min.json", "data.bin"]
)
def test_formats_load_the_same(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, UPSTREAM)
    index = load(path)
    assert index.invalid == ()
    assert index.translate("anilist:1", 14) == {
        E("tvdb_show:10:s1"): (2,),
        E("mal:1"): (14,),
    }
    assert (
        index.stats()["range_pairs"]
        == load(write(tmp_path / "ref.json", UPSTREAM)).stats()["range_pairs"]
    )


def test_yaml_zst_and_integer_keys(tmp_path: Path) -> None:
    text = "anilist:1:\n  mal:1:\n    1: 3\n    2-3: '4-5'\n"
    raw = zstandard.ZstdCompressor().compress(text.encode())
    path = tmp_path / "custom.yaml.zst"
    path.write_bytes(raw)
    index = load(str(path))
    assert index.invalid == ()
    assert index.translate("anilist:1", 1) == {E("mal:1"): (3,)}
    assert index.translate("anilist:1", 3) == {E("mal:1"): (5,)}


def test_explicit_reverse_beats_derived_for_the_same_source_range(
    tmp_path: Path,
) -> None:
    index = load(write(tmp_path / "m.json", UPSTREAM))
    pairs = lookup(index, "tvdb_show:10:s1", "anilist:1")
    path = str(tmp_path / "m.json")
    # "1-12" is written explicitly; the derived "1-12" from 13-24 is dropped
    assert pairs == [("1-12", "1-12", (path,))]
    assert index.translate("tvdb_show:10:s1", 2) == {E("anilist:1"): (2,)}
    # with no written reverse, both derived pairs exist (shortest first wins)
    mal = lookup(index, "mal:1", "anilist:1")
    assert mal == [("1-24", "1-24", DERIVED)]


def test_custom_file_deep_merges_over_upstream(tmp_path: Path) -> None:
    upstream = write(tmp_path / "upstream.json", UPSTREAM)
    custom = write(
        tmp_path / "custom.yaml",
        {
            "anilist:1": {
                "tvdb_show:10:s1": {"1-12": "2-13"},  # override one key
                "tvdb_show:10:s0": {"25": "1"},  # add a target
            }
        },
    )
    index = load(upstream, custom)
    assert index.invalid == ()
    got = lookup(index, "anilist:1", "tvdb_show:10:s1")
    assert ("1-12", "2-13", (custom, upstream)) in got
    assert ("13-24", "1-12|-1", (upstream,)) in got  # untouched key survives
    assert lookup(index, "anilist:1", "tvdb_show:10:s0") == [("25", "1", (custom,))]
    assert lookup(index, "anilist:1", "mal:1") == [("1-24", "1-24", (upstream,))]
    assert index.origins == (upstream, custom)


def test_null_range_unmaps_both_directions(tmp_path: Path) -> None:
    upstream = write(tmp_path / "upstream.json", UPSTREAM)
    custom = write(
        tmp_path / "custom.json", {"anilist:1": {"tvdb_show:10:s1": {"1-12": None}}}
    )
    index = load(upstream, custom)
    assert lookup(index, "anilist:1", "tvdb_show:10:s1") == [
        ("13-24", "1-12|-1", (upstream,))
    ]
    # the explicit reverse "1-12": "1-12" is gone; only 13-24's reverse remains
    assert lookup(index, "tvdb_show:10:s1", "anilist:1") == [
        ("1-12", "13-24|1", DERIVED)
    ]
    assert index.translate("anilist:1", 5) == {E("mal:1"): (5,)}


def test_null_spelled_differently_does_not_unmap(tmp_path: Path) -> None:
    upstream = write(tmp_path / "upstream.json", UPSTREAM)
    custom = write(tmp_path / "c.json", {"anilist:1": {"mal:1": {"1-": None}}})
    index = load(upstream, custom)
    assert lookup(index, "anilist:1", "mal:1") == [("1-24", "1-24", (upstream,))]


def test_null_target_unmaps_both_directions(tmp_path: Path) -> None:
    upstream = write(tmp_path / "upstream.json", UPSTREAM)
    custom = write(tmp_path / "c.json", {"tvdb_show:10:s1": {"anilist:1": None}})
    index = load(upstream, custom)
    assert index.edges("tvdb_show:10:s1") == ()
    assert {e.target for e in index.edges("anilist:1")} == {E("mal:1")}


def test_null_source_unmaps_everything_it_had(tmp_path: Path) -> None:
    upstream = write(tmp_path / "upstream.json", UPSTREAM)
    custom = write(tmp_path / "c.json", {"anilist:1": None})
    index = load(upstream, custom)
    assert index.edges("anilist:1") == ()
    assert index.edges("tvdb_show:10:s1") == ()
    assert index.edges("mal:1") == ()


def test_a_later_layer_can_remap_what_it_nulled(tmp_path: Path) -> None:
    upstream = write(tmp_path / "upstream.json", UPSTREAM)
    custom = write(
        tmp_path / "c.yaml",
        {
            "anilist:2": {"tmdb_movie:5": None},
            "tmdb_movie:5": {"anilist:2": {"1": "1-3|-3"}},
        },
    )
    index = load(upstream, custom)
    assert lookup(index, "tmdb_movie:5", "anilist:2") == [("1", "1-3|-3", (custom,))]
    assert lookup(index, "anilist:2", "tmdb_movie:5") == [("1-3", "1|3", DERIVED)]


def test_anidb_spellings_merge(tmp_path: Path) -> None:
    upstream = write(
        tmp_path / "u.json",
        {
            "anidb:7": {"anilist:3": {"1-2": "1-2"}},
            "anilist:3": {"anidb:7": {"1": "1"}},
        },
    )
    custom = write(tmp_path / "c.json", {"anidb:7:R": {"anilist:3": {"1-2": None}}})
    index = load(upstream, custom)
    assert index.invalid == ()
    # the unscoped upstream key is the same descriptor as the custom anidb:7:R,
    # and the reverse pair pointing into the nulled range goes too
    assert index.edges("anidb:7:R") == ()
    assert index.edges("anilist:3") == ()
    assert index.edges(ExternalId("anidb", "7")) == ()
    kept = load(upstream)
    assert lookup(kept, "anilist:3", "anidb:7:R") == [
        ("1", "1", (upstream,)),
        ("1-2", "1-2", DERIVED),
    ]
    assert kept.edges(ExternalId("anidb", "7")) == kept.edges("anidb:7:R") != ()


def test_includes_precedence(tmp_path: Path) -> None:
    (tmp_path / "inc").mkdir()
    write(
        tmp_path / "inc" / "first.yaml",
        {"anilist:1": {"mal:1": {"1-24": "2-25"}, "mal:9": {"1": "1"}}},
    )
    write(
        tmp_path / "inc" / "second.json",
        {
            "anilist:1": {
                "mal:1": {"1-24": "3-26"},
                "mal:9": {"1": "9"},
                "mal:8": {"1": "8"},
            }
        },
    )
    custom = write(
        tmp_path / "custom.json",
        {
            "$includes": ["inc/first.yaml", "inc/second.json"],
            "anilist:1": {"mal:9": {"1": "5"}},
        },
    )
    upstream = write(tmp_path / "upstream.json", UPSTREAM)
    index = load(upstream, custom)
    assert index.invalid == ()
    first = str(tmp_path / "inc" / "first.yaml")
    second = str(tmp_path / "inc" / "second.json")
    # earlier include beats later; any include beats upstream
    assert lookup(index, "anilist:1", "mal:1") == [
        ("1-24", "2-25", (first, second, upstream))
    ]
    # the including file beats its includes
    assert lookup(index, "anilist:1", "mal:9") == [("1", "5", (custom, first, second))]
    assert lookup(index, "anilist:1", "mal:8") == [("1", "8", (second,))]


def test_include_cycle_is_reported_and_the_rest_loads(tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    write(a, {"$includes": ["b.json"], "anilist:1": {"mal:1": {"1": "1"}}})
    write(b, {"$includes": ["./a.json"], "anilist:2": {"mal:2": {"1": "2"}}})
    index = load(str(a))
    assert index.translate("anilist:1", 1) == {E("mal:1"): (1,)}
    assert index.translate("anilist:2", 1) == {E("mal:2"): (2,)}
    (problem,) = index.invalid
    assert problem.key == "$includes"
    assert "include cycle" in problem.reason
    assert str(a) in problem.reason and str(b) in problem.reason


def test_missing_include_is_reported(tmp_path: Path) -> None:
    a = write(
        tmp_path / "a.json",
        {"$includes": ["nope.json"], "anilist:1": {"mal:1": {"1": "1"}}},
    )
    index = load(a)
    (problem,) = index.invalid
    assert problem.file == str(tmp_path / "nope.json")
    assert index.translate("anilist:1", 1) == {E("mal:1"): (1,)}


def test_includes_over_http_resolve_against_the_url(tmp_path: Path) -> None:
    with FakeReleases() as host:
        host.publish(
            "v3/mappings.json",
            json.dumps({"$includes": ["extra/more.json"], **UPSTREAM}).encode(),
        )
        host.publish(
            "v3/extra/more.json",
            json.dumps({"anilist:5": {"mal:5": {"1-2": "1-2"}}}).encode(),
        )
        local = write(
            tmp_path / "custom.json",
            {
                "$includes": [host.url("v3/extra/more.json")],
                "anilist:6": {"mal:6": {"1": "1"}},
            },
        )
        index = load(host.url("v3/mappings.json"), local)
        assert index.invalid == ()
        assert index.translate("anilist:5", 2) == {E("mal:5"): (2,)}
        assert index.translate("anilist:1", 1)[E("mal:1")] == (1,)
        assert index.translate("anilist:6", 1) == {E("mal:6"): (1,)}
        assert host.url("v3/extra/more.json") in index.origins


def test_invalid_entries_are_all_reported_and_valid_ones_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.json",
        {
            "anilist:1": {
                "mal:1": {"1-3": "1-2|2", "4": "4", "x": "1", "5-4": "1"},
                "not a descriptor": {"1": "1"},
                "tvdb_show:3:s1": "1-2",
            },
            "anidb:5:Q": {"anilist:1": {"1": "1"}},
            "anilist:2": {"mal:2": {"1": 1.5, "2": "2,|3"}},
            "anilist:3": [1, 2],
        },
    )
    reports: list[str] = []
    index = load(path, report_invalid=reports.append)
    problems = {(p.source, p.target, p.key) for p in index.invalid}
    assert problems == {
        ("anilist:1", "mal:1", "1-3"),
        ("anilist:1", "mal:1", "x"),
        ("anilist:1", "mal:1", "5-4"),
        ("anilist:1", "not a descriptor", None),
        ("anilist:1", "tvdb_show:3:s1", None),
        ("anidb:5:Q", None, None),
        ("anilist:2", "mal:2", "1"),
        ("anilist:2", "mal:2", "2"),
        ("anilist:3", None, None),
    }
    assert all(p.file == path for p in index.invalid)
    ratio = next(p for p in index.invalid if p.key == "1-3")
    assert "needs 4 source episodes" in ratio.reason
    assert str(ratio).startswith(f"{path}: anilist:1 -> mal:1 ['1-3']")
    assert index.translate("anilist:1", 4) == {E("mal:1"): (4,)}
    (report,) = reports
    assert report.startswith("9 invalid mapping entries skipped")
    with pytest.raises(MappingLoadError) as caught:
        load(path, strict=True)
    assert len(caught.value.invalid) == 9
    assert "9 invalid mapping entries" in str(caught.value)


def test_invalid_entries_in_the_fast_json_path_name_their_place(tmp_path: Path) -> None:
    data = {f"anilist:{n}": {f"mal:{n}": {"1-2": "1-2"}} for n in range(50)}
    data["anilist:7"]["mal:7"] = {"1-2": "1-3|2", "3": "3"}
    data["anilist:8"]["mal:8"] = {"1-2": "1-3|2", "3": "3"}
    data["anilist:9"]["tvdb show:1"] = {"1": "1"}
    data["anidb:5:Q"] = {"anilist:1": {"1": "1"}}
    data["anidb:6"] = {"anilist:2": {"1": "1"}}
    path = tmp_path / "fast.json"
    path.write_bytes(msgspec.json.encode(data))
    index = load(str(path))
    assert sorted((p.source, p.target, p.key) for p in index.invalid) == [
        ("anidb:5:Q", None, None),
        ("anilist:7", "mal:7", "1-2"),
        ("anilist:8", "mal:8", "1-2"),
        ("anilist:9", "tvdb show:1", None),
    ]
    assert index.translate(ExternalId("anidb", "6"), 1) == {E("anilist:2"): (1,)}
    assert index.translate("anilist:2", 1)[E("anidb:6:R")] == (1,)
    assert index.translate("anilist:7", 3) == {E("mal:7"): (3,)}
    assert index.translate("anilist:9", 2) == {E("mal:9"): (2,)}


def test_unreadable_custom_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read"):
        load(str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text('{"anilist:1": {', encoding="utf-8")
    with pytest.raises(MappingError, match="not valid JSON"):
        load(str(broken))
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(MappingError, match="top level must be an object"):
        load(str(listing))
    truncated = tmp_path / "t.json.zst"
    raw = zstandard.ZstdCompressor().compress(json.dumps(UPSTREAM).encode())
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(MappingError, match="zstd"):
        load(str(truncated))


def test_cache_lives_in_the_user_cache_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anibridge.mappings import cache_dir, cache_files

    monkeypatch.delenv("ANIBRIDGE_MAPPINGS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "anibridge" / "mappings"
    monkeypatch.setenv("ANIBRIDGE_MAPPINGS_CACHE", str(tmp_path / "elsewhere"))
    assert cache_files().current.parent == tmp_path / "elsewhere"
