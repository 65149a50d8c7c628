"""Property tests of the range arithmetic and the index (hypothesis)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from anibridge.mappings import MappingIndex, build_index, parse_pair
from anibridge.mappings.merge import merge_layers
from anibridge.mappings.payload import Layer
from anibridge.mappings.ranges import render_range
from anibridge.provider.base import ExternalId

A = ExternalId("anilist", "1")
B = ExternalId("tvdb_show", "7", "s1")


def index_of(data: dict[str, Any]) -> MappingIndex:
    # the build takes ownership of the decoded payload; keep the caller's intact
    index = build_index(merge_layers([Layer("mem", copy.deepcopy(data))]))
    assert index.invalid == ()
    return index


starts = st.integers(min_value=0, max_value=2000)
lengths = st.integers(min_value=1, max_value=60)
ratios = st.integers(min_value=2, max_value=6)


@settings(deadline=None)
@given(s=starts, t=starts, length=lengths, data=st.data())
def test_one_to_one_round_trips(s: int, t: int, length: int, data: Any) -> None:
    index = index_of(
        {
            "anilist:1": {
                "tvdb_show:7:s1": {f"{s}-{s + length - 1}": f"{t}-{t + length - 1}"}
            }
        }
    )
    episode = data.draw(st.integers(min_value=s, max_value=s + length - 1))
    (target,) = index.translate(A, episode)[B]
    assert target == t + episode - s
    assert index.translate(B, target)[A] == (episode,)


@settings(deadline=None)
@given(s=starts, t=starts, length=lengths, n=ratios, data=st.data())
def test_positive_ratio_round_trips_to_the_block(
    s: int, t: int, length: int, n: int, data: Any
) -> None:
    source = f"{s}-{s + length * n - 1}"
    index = index_of(
        {"anilist:1": {"tvdb_show:7:s1": {source: f"{t}-{t + length - 1}|{n}"}}}
    )
    episode = data.draw(st.integers(min_value=s, max_value=s + length * n - 1))
    (target,) = index.translate(A, episode)[B]
    back = index.translate(B, target)[A]
    assert len(back) == n and episode in back
    assert list(back) == list(range(back[0], back[0] + n))
    assert index.weight(A, B, episode) == 1 / n
    assert index.weight(B, A, target) == n


@settings(deadline=None)
@given(s=starts, t=starts, length=lengths, n=ratios, data=st.data())
def test_negative_ratio_round_trips(
    s: int, t: int, length: int, n: int, data: Any
) -> None:
    target = f"{t}-{t + length * n - 1}|-{n}"
    index = index_of(
        {"anilist:1": {"tvdb_show:7:s1": {f"{s}-{s + length - 1}": target}}}
    )
    episode = data.draw(st.integers(min_value=s, max_value=s + length - 1))
    found = index.translate(A, episode)[B]
    assert len(found) == n
    for each in found:
        assert index.translate(B, each)[A] == (episode,)
    # watching every target episode of one source episode is worth exactly 1 unit
    assert index.progress({B: found}) == {A: 1}


segments = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=300), st.integers(min_value=0, max_value=5)
    ),
    min_size=2,
    max_size=4,
)


@settings(deadline=None)
@given(s=starts, parts=segments, data=st.data())
def test_comma_targets_round_trip(
    s: int, parts: list[tuple[int, int]], data: Any
) -> None:
    # build increasing, non-overlapping segments
    built = []
    cursor = 0
    for gap, extra in parts:
        start = cursor + gap
        built.append((start, start + extra))
        cursor = start + extra
    length = sum(b - a + 1 for a, b in built)
    value = ",".join(render_range(a, b) for a, b in built)
    index = index_of(
        {"anilist:1": {"tvdb_show:7:s1": {f"{s}-{s + length - 1}": value}}}
    )
    episode = data.draw(st.integers(min_value=s, max_value=s + length - 1))
    (target,) = index.translate(A, episode)[B]
    assert index.translate(B, target)[A] == (episode,)


pair_specs = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=80),  # source start
        st.integers(min_value=0, max_value=30),  # extra length
        st.integers(min_value=1, max_value=80),  # target start
        st.sampled_from([None, 0, 2, 3, -2, -3]),  # ratio
    ),
    min_size=1,
    max_size=5,
)


def payload_of(specs: list[tuple[int, int, int, int | None]]) -> dict[str, Any]:
    ranges: dict[str, str] = {}
    for s, extra, t, ratio in specs:
        length = extra + 1
        if ratio is not None and ratio > 0:
            length = (extra // ratio + 1) * ratio
            target_length = length // ratio
        elif ratio is not None and ratio < 0:
            target_length = length * -ratio
        else:
            target_length = length
        value = render_range(t, t + target_length - 1)
        ranges[render_range(s, s + length - 1)] = (
            value if ratio is None else f"{value}|{ratio}"
        )
    return {"anilist:1": {"tvdb_show:7:s1": ranges}}


episodes = st.sets(st.integers(min_value=0, max_value=200), max_size=40)


@settings(deadline=None, max_examples=150)
@given(specs=pair_specs, watched=episodes, more=episodes)
def test_progress_is_monotonic(
    specs: list[tuple[int, int, int, int | None]], watched: set[int], more: set[int]
) -> None:
    index = index_of(payload_of(specs))
    for mode in ("count", "index"):
        before = index.progress({A: watched}, mode=mode).get(B, 0)  # type: ignore[arg-type]
        after = index.progress({A: watched | more}, mode=mode).get(B, 0)  # type: ignore[arg-type]
        assert after >= before


@settings(deadline=None)
@given(specs=pair_specs, watched=episodes)
def test_disabled_ranges_never_produce_targets(
    specs: list[tuple[int, int, int, int | None]], watched: set[int]
) -> None:
    data = payload_of(specs)
    index = index_of(data)
    (edge,) = index.edges(A)
    for episode in watched:
        pair = edge.pair_for(episode)
        if pair is not None and pair.disabled:
            assert B not in index.translate(A, episode)
            assert index.weight(A, B, episode) == 0.0
    everything_disabled = {
        k: v.split("|")[0] + "|0"
        for k, v in data["anilist:1"]["tvdb_show:7:s1"].items()
    }
    off = index_of({"anilist:1": {"tvdb_show:7:s1": everything_disabled}})
    assert all(off.translate(A, e) == {} for e in watched)
    assert off.progress({A: watched}) == {}
    assert all(off.translate(B, e) == {} for e in watched)


@settings(deadline=None)
@given(specs=pair_specs, watched=episodes)
def test_count_is_the_sum_of_weights_of_deciding_pairs(
    specs: list[tuple[int, int, int, int | None]], watched: set[int]
) -> None:
    index = index_of(payload_of(specs))
    (edge,) = index.edges(A)
    expected = 0.0
    for episode in watched:
        pair = edge.pair_for(episode)
        if pair is not None:
            # the deciding pair is a shortest containing one
            lengths = [p.source_length for p in edge.pairs if p.contains(episode)]
            assert pair.source_length == min(lengths)
            expected += pair.weight
    got = index.progress({A: watched}).get(B, 0)
    assert got == int(expected + 1e-9)


@settings(deadline=None)
@given(
    s=st.integers(min_value=0, max_value=10_000),
    end=st.one_of(st.none(), st.integers(min_value=0, max_value=500)),
    ratio=st.one_of(st.none(), st.integers(min_value=-5, max_value=5)),
)
def test_render_parse_round_trip(s: int, end: int | None, ratio: int | None) -> None:
    key = render_range(s, None if end is None else s + end)
    value = render_range(s + 3, None if end is None else s + 3 + end)
    if ratio is not None:
        value += f"|{ratio}"
    try:
        pair = parse_pair(key, value)
    except ValueError:
        assert ratio not in (None, 0, 1, -1) and end is not None
        return
    assert pair.source_range == key
    assert pair.target_spec() == value
