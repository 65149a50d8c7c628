"""Translation on real curated entries (the worked examples of the format notes)."""

from __future__ import annotations

import copy
import math
from typing import Any

import msgspec
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from anibridge.mappings import (
    BUNDLED,
    BUNDLED_SOURCE,
    DERIVED,
    MappingIndex,
    build_index,
    load_index,
    parse_pair,
)
from anibridge.mappings import index as index_module
from anibridge.mappings.dataset import bundled_json_text
from anibridge.mappings.errors import InvalidEntry, MappingError
from anibridge.mappings.grammar import canonical_descriptor
from anibridge.mappings.merge import merge_layers
from anibridge.mappings.payload import Layer
from anibridge.mappings.ranges import render_range, reverse_pairs, shortest_containing
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


# -- generated payloads against a model of the rules ---------------------------------
#
# The model builds each descriptor's entries from the payload with the grammar and
# the range arithmetic only (`parse_pair`, `reverse_pairs`, `shortest_containing`):
# explicit pairs, then the derived reverse of every edge pointing back whose source
# range the explicit side does not write. Translation, weights, progress and stats
# follow from the entries as the docstrings say.

NAMES = (
    "anilist:1", "anilist:2", "mal:7", "tvdb_show:7:s1", "tvdb_show:7:s2",
    "tmdb_show:9", "anidb:5:R", "anidb:5:S",
)  # fmt: skip
ORIGIN = "mem"

range_specs = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=40),  # source start
        st.integers(min_value=0, max_value=12),  # extra length
        st.integers(min_value=1, max_value=40),  # target start
        st.sampled_from([None, None, 0, 2, 3, -2, -3, "open", "comma"]),
    ),
    min_size=1,
    max_size=4,
)


def range_map(specs: list[tuple[int, int, int, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for s, extra, t, kind in specs:
        length = extra + 1
        if kind == "open":
            out[f"{s}-"] = f"{t}-"
        elif kind == "comma":
            half = length // 2 + 1
            out[render_range(s, s + length)] = (
                f"{render_range(t, t + half - 1)},"
                f"{render_range(t + half + 2, t + length + 2)}"
            )
        elif kind is None:
            out[render_range(s, s + extra)] = render_range(t, t + extra)
        elif kind == 0:
            out[render_range(s, s + extra)] = f"{render_range(t, t + extra)}|0"
        elif kind > 0:
            out[render_range(s, s + length * kind - 1)] = (
                f"{render_range(t, t + extra)}|{kind}"
            )
        else:
            out[render_range(s, s + extra)] = (
                f"{render_range(t, t + length * -kind - 1)}|{kind}"
            )
    return out


payloads = st.dictionaries(
    st.sampled_from(NAMES),
    st.dictionaries(st.sampled_from(NAMES), range_specs.map(range_map), max_size=3),
    min_size=1,
    max_size=6,
).map(lambda p: {s: {t: r for t, r in ts.items() if t != s} for s, ts in p.items()})


def model_entries(payload: dict[str, Any]) -> dict[str, dict[str, tuple]]:
    explicit = {
        s: {
            t: tuple(parse_pair(k, v, (ORIGIN,)) for k, v in ranges.items())
            for t, ranges in targets.items()
        }
        for s, targets in payload.items()
    }
    names = set(explicit) | {t for ts in explicit.values() for t in ts}
    out: dict[str, dict[str, tuple]] = {}
    for s in sorted(names):
        entries: dict[str, tuple] = {}
        for t, pairs in explicit.get(s, {}).items():
            written = {(p.source_start, p.source_end) for p in pairs}
            back = explicit.get(t, {}).get(s, ())
            derived = tuple(
                r
                for p in back
                for r in reverse_pairs(p)
                if (r.source_start, r.source_end) not in written
            )
            if pairs + derived:
                entries[t] = pairs + derived
        for t, targets in explicit.items():
            if s in targets and t not in explicit.get(s, {}):
                derived = tuple(r for p in targets[s] for r in reverse_pairs(p))
                if derived:
                    entries[t] = derived
        out[s] = entries
    return out


def model_translate(entries: dict[str, tuple], episode: int, to=None) -> dict:
    out = {}
    for target, pairs in entries.items():
        if to is not None and target.split(":")[0] not in to:
            continue
        pair = shortest_containing(pairs, episode)
        if pair is None or pair.ratio == 0:
            continue
        found = pair.translate(episode)
        if found:
            out[E(target)] = found
    return out


def model_progress(model, watched: dict[str, set[int]], mode: str, to=None) -> dict:
    totals: dict[str, float] = {}
    for source, episodes in watched.items():
        for target, pairs in model[source].items():
            if to is not None and target.split(":")[0] not in to:
                continue
            for episode in episodes:
                pair = shortest_containing(pairs, episode)
                if pair is None:
                    continue
                if mode == "count":
                    totals[target] = totals.get(target, 0.0) + pair.weight
                elif pair.ratio != 0 and pair.translate(episode):
                    highest = max(pair.translate(episode))
                    totals[target] = max(totals.get(target, 0), highest)
    floored = {t: math.floor(u + 1e-9) for t, u in totals.items()}
    return {E(t): n for t, n in floored.items() if n > 0}


def built(payload: dict[str, Any]) -> MappingIndex:
    index = build_index(merge_layers([Layer(ORIGIN, copy.deepcopy(payload))]))
    assert index.invalid == ()
    return index


@settings(max_examples=120, deadline=None)
@given(payload=payloads, data=st.data())
def test_generated_payloads_answer_like_the_model(payload, data) -> None:
    model = model_entries(payload)
    index = built(payload)
    written = {s for s, targets in payload.items() if targets}
    written |= {t for targets in payload.values() for t in targets}
    assert index.descriptors() == sorted(written)
    to = data.draw(st.sampled_from([None, {"anilist"}, {"mal", "tvdb_show"}]))
    for source, entries in model.items():
        by_id = E(source)
        edges = index.edges(source)
        assert {str(e.target): e.pairs for e in edges} == entries
        assert all(e.source == by_id for e in edges)
        kept = {str(e.target) for e in index.edges(by_id, to=to)}
        assert kept == {t for t in entries if to is None or t.split(":")[0] in to}
        for episode in (0, 1, 2, 3, 5, 8, 13, 21, 34, 50, 80):
            spelled = source if episode % 2 else by_id
            assert index.translate(spelled, episode, to=to) == model_translate(
                entries, episode, to
            )
            for target, pairs in entries.items():
                pair = shortest_containing(pairs, episode)
                weight = 0.0 if pair is None else pair.weight
                assert index.weight(source, target, episode) == weight
        assert index.weight(source, "anilist:999", 1) == 0.0
    watched = {
        s: set(data.draw(st.sets(st.integers(0, 60), max_size=12))) for s in model
    }
    for mode in ("count", "index"):
        expected = model_progress(model, watched, mode, to)
        assert index.progress(watched, mode=mode, to=to) == expected
        by_id = {E(s): sorted(e) for s, e in watched.items()}
        assert index.progress(by_id, mode=mode, to=to) == expected
    stats = index.stats()
    pairs = [p for entries in model.values() for ps in entries.values() for p in ps]
    assert stats == {
        "sources": sum(1 for entries in model.values() if entries),
        "targets": len({t for entries in model.values() for t in entries}),
        "range_pairs": len(pairs),
        "derived_pairs": sum(1 for p in pairs if p.provenance is DERIVED),
        "invalid": 0,
        "load_seconds": 0.0,
    }
    assert index.explicit_pair_count() == sum(
        len(r) for targets in payload.values() for r in targets.values()
    )


SPELLINGS = (
    *NAMES, "anidb:5", "anidb:5:X", "anidb:5:r", "nonsense", "a:b:c:d", "mal:",
    ":7", "mal 1:2", "mal:1\nmal:2", "", "tvdb_show:7:", 7, None,
)  # fmt: skip


def canonical_or_none(name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    try:
        return canonical_descriptor(name)
    except MappingError:
        return None


@settings(max_examples=300, deadline=None)
@given(names=st.lists(st.sampled_from(SPELLINGS), max_size=6, unique=True))
def test_the_fast_canonical_check_agrees_with_the_grammar(names) -> None:
    expected = all(
        isinstance(n, str) and canonical_or_none(n) == n and "\n" not in n
        for n in names
    )
    assert index_module._all_canonical(names) is expected


@settings(max_examples=100, deadline=None)
@given(key=st.sampled_from([n for n in NAMES if ":" in n]))
def test_ids_made_from_keys_equal_parsed_ones(key) -> None:
    made = index_module._external_id(key)
    assert made == ExternalId.parse(key)
    assert (made.authority, made.value, made.scope) == (
        ExternalId.parse(key).authority,
        ExternalId.parse(key).value,
        ExternalId.parse(key).scope,
    )


@settings(max_examples=300, deadline=None)
@given(specs=range_specs, episode=st.integers(min_value=0, max_value=70))
def test_the_deciding_pair_is_the_shortest_containing_first_on_ties(
    specs, episode
) -> None:
    pairs = tuple(parse_pair(k, v) for k, v in range_map(specs).items())
    pairs += pairs  # equal ranges: the first one decides
    found = index_module._shortest(pairs, episode)
    expected = shortest_containing(pairs, episode)
    assert found is expected


def respell(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {
            (new if k == old else k): respell(v, old, new) for k, v in value.items()
        }
    return value


@settings(max_examples=60, deadline=None)
@given(payload=payloads)
def test_unscoped_and_invalid_descriptors_are_canonicalized_or_reported(
    payload,
) -> None:
    model = model_entries(payload)
    spelled = respell(payload, "anidb:5:R", "anidb:5")  # unscoped means R
    source = next(iter(spelled))
    spelled["nonsense"] = {"mal:7": {"1": "1"}}
    spelled[source] = {**spelled[source], "mal:1\nmal:2": {"1": "1"}}
    index = build_index(merge_layers([Layer(ORIGIN, spelled)]))
    reason = "not a descriptor (authority:id[:scope]): {!r}"
    canonical_source = "anidb:5:R" if source == "anidb:5" else source
    assert set(index.invalid) == {
        InvalidEntry(ORIGIN, "nonsense", None, None, reason.format("nonsense")),
        InvalidEntry(
            ORIGIN, canonical_source, "mal:1\nmal:2", None,
            reason.format("mal:1\nmal:2"),
        ),
    }  # fmt: skip
    for name, entries in model.items():
        assert {str(e.target): e.pairs for e in index.edges(name)} == entries
    assert index.edges("anidb:5") == index.edges("anidb:5:R")
    written = {s for s, targets in payload.items() if targets}
    written |= {t for targets in payload.values() for t in targets}
    assert index.descriptors() == sorted(written)


def test_stats_round_the_load_time_and_an_empty_index_counts_nothing() -> None:
    assert MappingIndex({}, {}).stats() == {
        "sources": 0, "targets": 0, "range_pairs": 0, "derived_pairs": 0,
        "invalid": 0, "load_seconds": 0.0,
    }  # fmt: skip
    assert MappingIndex({}, {}, load_seconds=1 / 3).stats()["load_seconds"] == 0.3333
    assert MappingIndex({}, {}).compiled_path is None
    assert MappingIndex({}, {}).descriptors() == []


def test_a_descriptor_without_entries_is_skipped_by_the_stats() -> None:
    """A comma target with a ratio has no reverse: its target answers nothing."""
    index = built(
        {
            "anilist:1": {"tvdb_show:7:s1": {"1-8": "1-2,5-6|2"}},
            "tvdb_show:7:s2": {"mal:7": {"1": "1"}},
        }
    )
    assert index.edges("tvdb_show:7:s1") == ()  # sorted before tvdb_show:7:s2
    assert index.stats() == {
        "sources": 3, "targets": 3, "range_pairs": 3, "derived_pairs": 1,
        "invalid": 0, "load_seconds": 0.0,
    }  # fmt: skip


def test_two_spellings_of_one_target_are_joined_and_a_bad_target_skips_only_itself():
    index = build_index(
        merge_layers(
            [
                Layer(
                    ORIGIN,
                    {
                        "anilist:1": {
                            "bad target": {"1": "1"},
                            "anidb:5": {"1-3": "1-3"},
                            "anidb:5:R": {"7": "9"},
                        }
                    },
                )
            ]
        )
    )
    (edge,) = index.edges("anilist:1")
    assert str(edge.target) == "anidb:5:R"
    assert [(p.source_range, p.target_range) for p in edge.pairs] == [
        ("1-3", "1-3"),
        ("7", "9"),
    ]
    assert [(e.target, e.key) for e in index.invalid] == [("bad target", None)]


def test_an_invalid_range_of_a_decoded_file_names_its_key_value_and_reason(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"anilist:2": {"mal:2": {"bad": "1", "1": "1"}}}')
    index = load_index([str(path)], include_default=False, notice=None)
    try:
        parse_pair("bad", "1")
    except MappingError as exc:
        reason = f"'1': {exc}"
    assert index.invalid == (
        InvalidEntry(str(path), "anilist:2", "mal:2", "bad", reason),
    )
    assert index.translate("anilist:2", 1) == {E("mal:2"): (1,)}


def test_an_unknown_progress_mode_is_refused_by_name() -> None:
    index = built({"anilist:1": {"mal:7": {"1": "1"}}})
    with pytest.raises(ValueError) as refused:
        index.progress({"anilist:1": [1]}, mode="bogus")  # type: ignore[arg-type]
    assert str(refused.value) == "progress mode must be 'count' or 'index', not 'bogus'"


def test_an_explicit_ratio_of_one_counts_like_none_in_both_modes() -> None:
    index = built({"anilist:1": {"mal:7": {"1-3": "5-7|1"}}})
    for mode in ("count", "index"):
        got = index.progress({"anilist:1": [2]}, mode=mode)  # type: ignore[arg-type]
        assert got == {E("mal:7"): 1 if mode == "count" else 6}


def test_edges_sharing_one_map_keep_their_own_pairs(tmp_path) -> None:
    """Equal range-map texts of a decoded file are one tuple; an edge's combined
    pairs depend on both directions, not on either one alone."""
    path = tmp_path / "m.json"
    path.write_text(
        '{"anilist:1": {"mal:7": {"1-3": "1-3"}},'
        ' "anilist:2": {"mal:7": {"1-5": "11-15"}},'
        ' "mal:7": {"anilist:1": {"20": "30"}, "anilist:2": {"20": "30"}},'
        ' "anilist:3": {"mal:8": {"1-3": "1-3"}},'
        ' "anilist:4": {"mal:8": {"1-3": "1-3"}},'
        ' "mal:8": {"anilist:3": {"20": "30"}, "anilist:4": {"40": "50"}}}'
    )
    index = load_index([str(path)], include_default=False, notice=None)
    expected = {
        "anilist:1": [("1-3", "1-3"), ("30", "20")],  # same back map as anilist:2
        "anilist:2": [("1-5", "11-15"), ("30", "20")],
        "anilist:3": [("1-3", "1-3"), ("30", "20")],  # same map as anilist:4
        "anilist:4": [("1-3", "1-3"), ("50", "40")],
    }
    for source, pairs in expected.items():
        (edge,) = index.edges(source)
        assert [(p.source_range, p.target_range) for p in edge.pairs] == pairs


def test_a_yaml_range_map_skips_nulls_and_reports_each_bad_range_by_its_text_key(
    tmp_path,
) -> None:
    """A YAML base file gives integer keys and nulls: a null skips only its range,
    and an invalid range is reported under its key as text, a string value quoted
    before the reason."""
    path = tmp_path / "m.yaml"
    path.write_text(
        '"anilist:1":\n'
        '  "mal:7":\n'
        '    1: "x"\n'
        "    2: null\n"
        '    3: "3"\n'
        "    4: [4]\n"
        '    5: "9"\n'
    )
    reports: list[str] = []
    index = load_index(
        [str(path)], include_default=False, notice=None, report_invalid=reports.append
    )
    try:
        parse_pair("1", "x")
    except MappingError as exc:
        bad_text = f"'x': {exc}"
    assert index.invalid == (
        InvalidEntry(str(path), "anilist:1", "mal:7", "1", bad_text),
        InvalidEntry(
            str(path),
            "anilist:1",
            "mal:7",
            "4",
            "target range must be a string, got [4]",
        ),
    )
    assert all(isinstance(entry.key, str) for entry in index.invalid)
    assert f"anilist:1 -> mal:7 ['1']: {bad_text}" in reports[0]
    assert index.translate("anilist:1", 3) == {E("mal:7"): (3,)}
    assert index.translate("anilist:1", 5) == {E("mal:7"): (9,)}  # after the null
    assert index.translate("anilist:1", 2) == {}


def test_an_explicit_ratio_of_one_translates_like_none() -> None:
    index = built({"anilist:1": {"mal:7": {"1-3": "5-7|1", "10-12": "20-22"}}})
    assert index.translate("anilist:1", 2) == {E("mal:7"): (6,)}
    assert index.translate("anilist:1", 11) == {E("mal:7"): (21,)}
    alone = built({"anilist:1": {"mal:7": {"1-3": "5-7|1"}}})  # the one-pair path
    assert alone.translate("anilist:1", 3) == {E("mal:7"): (7,)}


def test_a_decoded_range_map_that_is_not_a_mapping_is_reported_by_its_value(
    tmp_path,
) -> None:
    """In a decoded file a null range skips only itself, and a range map that is
    not a mapping is reported with its value and skipped."""
    path = tmp_path / "m.json"
    path.write_text(
        '{"anilist:1": {"mal:1": [1], "mal:2": {"1": null, "2": "5", "3": "6"},'
        ' "mal:3": "x"}}'
    )
    index = load_index([str(path)], include_default=False, notice=None)
    reason = "must map source ranges to targets"
    assert index.invalid == (
        InvalidEntry(str(path), "anilist:1", "mal:1", None, f"[1]: {reason}"),
        InvalidEntry(str(path), "anilist:1", "mal:3", None, f"'x': {reason}"),
    )
    assert index.translate("anilist:1", 2) == {E("mal:2"): (5,)}
    assert index.translate("anilist:1", 3) == {E("mal:2"): (6,)}
    assert index.translate("anilist:1", 1) == {}


def test_a_source_that_is_not_a_mapping_skips_only_itself(tmp_path) -> None:
    path = tmp_path / "m.json"
    path.write_text(
        '{"anilist:1": "x", "anilist:2": {"mal:2": {"1": "4"}}, "anilist:3": null}'
    )
    index = load_index([str(path)], include_default=False, notice=None)
    assert index.invalid == (
        InvalidEntry(
            str(path),
            "anilist:1",
            None,
            None,
            "must map target descriptors to range maps, got 'x'",
        ),
    )
    assert index.translate("anilist:2", 1) == {E("mal:2"): (4,)}
    assert index.descriptors() == ["anilist:2", "mal:2"]


def test_equal_ranges_in_two_later_files_keep_each_file_as_provenance(
    tmp_path,
) -> None:
    """Pairs written by later files are parsed per edge with that edge's files:
    an equal key and value elsewhere never lends its provenance."""
    base = tmp_path / "base.json"
    base.write_text('{"anilist:9": {"mal:9": {"1": "1"}}}')
    one = tmp_path / "one.json"
    one.write_text('{"anilist:1": {"mal:1": {"1-3": "4-6"}}}')
    two = tmp_path / "two.json"
    two.write_text('{"anilist:2": {"mal:2": {"1-3": "4-6"}}}')
    index = load_index(
        [str(base), str(one), str(two)], include_default=False, notice=None
    )
    for source, path in (("anilist:1", one), ("anilist:2", two)):
        (edge,) = index.edges(source)
        assert [p.provenance for p in edge.pairs] == [(str(path),)], source
    (edge,) = index.edges("anilist:9")
    assert [p.provenance for p in edge.pairs] == [(str(base),)]


def test_build_index_keeps_the_base_origin_and_the_load_time_it_is_given() -> None:
    merged = merge_layers([Layer("base.json", {"anilist:1": {"mal:7": {"1": "1"}}})])
    index = build_index(merged, load_seconds=0.25)
    assert index.origins == ("base.json",)
    assert index.stats()["load_seconds"] == 0.25
