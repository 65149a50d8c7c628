"""Translation on real curated entries (the worked examples of the format notes)."""

from __future__ import annotations

import msgspec
import zstandard

from anibridge.mappings import (
    BUNDLED,
    BUNDLED_SOURCE,
    DERIVED,
    MappingIndex,
    load_index,
)
from anibridge.mappings.dataset import bundled_json_text
from anibridge.provider.base import ExternalId


def E(text: str) -> ExternalId:
    return ExternalId.parse(text)


def test_curated_file_loads_completely(curated: MappingIndex) -> None:
    assert curated.invalid == ()
    stats = curated.stats()
    explicit = stats["range_pairs"] - stats["derived_pairs"]
    assert explicit == 10854  # every pair of the curated file is indexed
    assert stats["derived_pairs"] > 10000
    assert curated.origins == (str(BUNDLED),)


def test_bundled_json_is_the_curated_yaml(curated: MappingIndex) -> None:
    shipped = (
        zstandard.ZstdDecompressor().decompressobj().decompress(BUNDLED.read_bytes())
    )
    assert msgspec.json.decode(shipped) == msgspec.json.decode(bundled_json_text())
    assert curated.origins == (str(BUNDLED),)
    assert curated.invalid == ()


def test_the_yaml_source_itself_loads_completely() -> None:
    index = load_index([BUNDLED_SOURCE], include_default=False, notice=None)
    assert index.invalid == ()
    assert index.explicit_pair_count() == 10854


def test_offset_both_directions(curated: MappingIndex) -> None:
    assert curated.translate(E("anilist:20"), 40)[E("tvdb_show:78857:s2")] == (5,)
    assert curated.translate(E("tvdb_show:78857:s2"), 5)[E("anilist:20")] == (40,)


def test_positive_ratio(curated: MappingIndex) -> None:
    assert curated.translate("mal:33255", 37)[E("tmdb_show:67676:s1")] == (8,)
    back = curated.translate("tmdb_show:67676:s1", 8)[E("mal:33255")]
    assert back == (36, 37, 38, 39, 40)
    assert curated.weight("tmdb_show:67676:s1", "mal:33255", 8) == 5.0


def test_negative_ratio_and_flooring(curated: MappingIndex) -> None:
    assert curated.translate("anilist:280", 5)[E("tmdb_show:34772:s1")] == (9, 10)
    assert curated.translate("tmdb_show:34772:s1", 10)[E("anilist:280")] == (5,)
    season = E("tmdb_show:34772:s1")
    got = curated.progress({season: range(1, 11)}, to={"anilist"})
    assert got == {E("anilist:280"): 5}
    got = curated.progress({season: range(1, 10)}, to={"anilist"})
    assert got == {E("anilist:280"): 4}


def test_open_ranges(curated: MappingIndex) -> None:
    assert curated.translate("anilist:21", 1160)[E("tvdb_show:81797:s23")] == (5,)
    assert curated.translate("tvdb_show:81797:s23", 5)[E("anilist:21")] == (1160,)
    assert curated.translate("anilist:21", 1100)[E("tmdb_show:37854:s22")] == (1100,)


def test_comma_targets(curated: MappingIndex) -> None:
    assert curated.translate("anilist:21778", 3)[E("tvdb_show:262954:s0")] == (6,)
    assert curated.translate("tvdb_show:262954:s0", 6) == {E("anilist:21778"): (3,)}
    assert curated.translate("tvdb_show:262954:s0", 3) == {}
    got = curated.translate("anilist:188034", 2)
    assert got[E("tvdb_show:262098")] == (70, 71, 72)  # unscoped show target
    # a comma target with a ratio has no reverse
    assert curated.edges("tvdb_show:262098", to={"anilist"}) == ()


def test_several_pairs_and_reverse_weights(curated: MappingIndex) -> None:
    assert curated.translate("anilist:6867", 9)[E("tvdb_show:125441:s1")] == (8,)
    got = curated.progress({"tvdb_show:125441:s1": range(1, 9)}, to=["anilist"])
    assert got == {E("anilist:6867"): 9}


def test_fan_out(curated: MappingIndex) -> None:
    got = curated.progress({"tvdb_show:262856:s0": range(5, 8)}, to=["anilist"])
    assert got == {E("anilist:21437"): 1, E("anilist:21438"): 2}
    targets = {e.target for e in curated.edges("tvdb_show:262856:s0", to={"anilist"})}
    assert len(targets) == 7
    split = {e.target for e in curated.edges("tvdb_show:246381:s2")}
    assert {E("anilist:117197"), E("anilist:151803")} <= split
    assert curated.translate("tvdb_show:246381:s2", 14)[E("anilist:151803")] == (1,)


def test_progress_count_vs_index(curated: MappingIndex) -> None:
    season2 = E("tvdb_show:78857:s2")
    count = curated.progress({season2: range(1, 6)}, to={"anilist"})
    index = curated.progress({season2: range(1, 6)}, to={"anilist"}, mode="index")
    assert count == {E("anilist:20"): 5}
    assert index == {E("anilist:20"): 40}
    both = {E("tvdb_show:78857:s1"): range(1, 36), season2: range(1, 6)}
    assert curated.progress(both, to={"anilist"}) == {E("anilist:20"): 40}


def test_two_source_ranges_onto_one_target(curated: MappingIndex) -> None:
    season = E("tvdb_show:354198:s0")
    got = curated.progress({season: [5, 6, 7, 8, 9]}, to={"anilist"})
    assert got[E("anilist:151384")] == 8


def test_anidb_scopes(curated: MappingIndex) -> None:
    edges = curated.edges("anilist:151384", to={"anidb"})
    assert {e.target for e in edges} == {E("anidb:17477:R"), E("anidb:17477:O")}
    # unscoped anidb means regular episodes
    assert curated.edges("anidb:17477") == curated.edges(E("anidb:17477:R"))
    unscoped = ExternalId("anidb", "17477")
    assert curated.translate(unscoped, 1)[E("anilist:151384")] == (1, 2, 3, 4)


def test_disabled_ranges_never_translate(curated: MappingIndex) -> None:
    assert curated.translate("anilist:849", 3) == {}
    assert curated.translate("tvdb_show:79414:s1", 3, to={"anilist"}) == {}
    assert curated.progress({"anilist:849": range(1, 15)}) == {}
    (edge,) = curated.edges("tmdb_show:42511:s1", to={"anilist"})[:1]
    assert all(p.disabled for p in edge.pairs)


def test_length_mismatch_stops_at_the_target_end(curated: MappingIndex) -> None:
    assert curated.translate("anilist:21", 194)[E("tvdb_show:81797:s9")] == (52,)
    assert E("tvdb_show:81797:s9") not in curated.translate("anilist:21", 195)
    # but it still counts (weight 1) as the app does
    assert curated.weight("anilist:21", "tvdb_show:81797:s9", 195) == 1.0


def test_derived_edges_carry_derived_provenance(curated: MappingIndex) -> None:
    (edge,) = curated.edges("tvdb_show:78857:s2", to={"anilist"})
    assert [p.provenance for p in edge.pairs] == [DERIVED]
    (forward,) = [e for e in curated.edges("anilist:20") if e.target == edge.source]
    assert forward.pairs[0].provenance == (str(BUNDLED),)


def test_authority_filter_and_unknown(curated: MappingIndex) -> None:
    assert set(curated.translate("anilist:20", 40, to={"tvdb_show"})) == {
        E("tvdb_show:78857:s2")
    }
    assert curated.translate("anilist:999999999", 1) == {}
    assert curated.edges("anilist:999999999") == ()
    assert curated.weight("anilist:20", "mal:1", 1) == 0.0


def test_unscoped_show_descriptors_are_their_own_key(curated: MappingIndex) -> None:
    show = E("tvdb_show:262098")
    # mal:61227 "1-12": "66-68,70-75,77-79" reverses per segment
    assert curated.translate(show, 71)[E("mal:61227")] == (5,)
    assert curated.translate(show, 69) == {}
    assert curated.translate("mal:61227", 12)[show] == (79,)
    # a season of the same show is a different descriptor
    assert curated.edges("tvdb_show:262098:s1") == ()
    assert curated.translate("anilist:206951", 300)[E("tvdb_show:473229")] == (300,)
    assert curated.translate("tvdb_show:473229", 300)[E("anilist:206951")] == (300,)
