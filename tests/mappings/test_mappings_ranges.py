from __future__ import annotations

from anibridge.mappings import DERIVED, Edge, RangePair, parse_pair, reverse_pairs
from anibridge.provider.base import ExternalId


def test_weights_follow_the_current_convention() -> None:
    assert parse_pair("1-3", "1|3").weight == 1 / 3
    assert parse_pair("1-51", "1-102|-2").weight == 2.0
    assert parse_pair("1-14", "1-14|0").weight == 0.0
    assert parse_pair("1-14", "1-14|1").weight == 1.0
    assert parse_pair("1-14", "1-14").weight == 1.0


def test_translate_by_position_and_ratio() -> None:
    assert parse_pair("36-83", "1-48").translate(40) == (5,)
    assert parse_pair("36-83", "1-48").translate(35) == ()
    assert parse_pair("1-120", "1-24|5").translate(37) == (8,)
    assert parse_pair("1-51", "1-102|-2").translate(5) == (9, 10)
    assert parse_pair("1156-", "1-").translate(1160) == (5,)
    assert parse_pair("1-4", "1-2,6-7").translate(3) == (6,)
    assert parse_pair("1-4", "66-68,70-75,77-79|-3").translate(2) == (70, 71, 72)
    assert parse_pair("1-14", "1-14|0").translate(3) == ()
    # a length mismatch never invents an episode past the target's end
    assert parse_pair("143-195", "1-52").translate(195) == ()


def test_reverse_moves_the_ratio_across_with_its_sign_flipped() -> None:
    (back,) = reverse_pairs(parse_pair("1-3", "1|3", ("f",)))
    assert (back.source_range, back.target_spec()) == ("1", "1-3|-3")
    assert back.provenance == DERIVED
    (back,) = reverse_pairs(parse_pair("1-120", "1-24|5"))
    assert (back.source_range, back.target_spec()) == ("1-24", "1-120|-5")


def test_reverse_splits_comma_targets_without_ratio() -> None:
    backs = reverse_pairs(parse_pair("1-4", "1-2,6-7"))
    assert [(b.source_range, b.target_spec()) for b in backs] == [
        ("1-2", "1-2"),
        ("6-7", "3-4"),
    ]


def test_reverse_drops_comma_targets_with_ratio() -> None:
    assert reverse_pairs(parse_pair("1-4", "66-68,70-75,77-79|-3")) == ()


def test_reverse_of_open_ranges_stays_open() -> None:
    (back,) = reverse_pairs(parse_pair("1156-", "1-"))
    assert (back.source_range, back.target_spec()) == ("1-", "1156-")


def test_edge_prefers_the_shortest_containing_range() -> None:
    a, b = ExternalId("tvdb_show", "1", "s1"), ExternalId("anilist", "2")
    edge = Edge(a, b, (parse_pair("1-24", "1-12|2"), parse_pair("5-6", "5-6")))
    assert edge.weight(5) == 1.0
    assert edge.weight(4) == 0.5
    assert edge.weight(25) == 0.0
    assert edge.translate(6) == (6,)
    assert edge.translate(8) == (4,)


def test_range_pair_renders_dataset_syntax() -> None:
    pair = RangePair(1, None, ((3, 4), (9, None)), -2)
    assert pair.source_range == "1-"
    assert pair.target_range == "3-4,9-"
    assert pair.target_spec() == "3-4,9-|-2"
    assert pair.disabled is False


def test_contains_is_inclusive_at_both_ends_and_open_only_without_an_end() -> None:
    pair = parse_pair("13-24", "1-12")
    assert pair.contains(13) and pair.contains(24)
    assert not pair.contains(12)
    assert not pair.contains(25)
    assert parse_pair("13-", "1-").contains(10_000)


def test_a_ratio_past_the_targets_end_maps_to_nothing() -> None:
    # An open source, 3 episodes per target episode, only 2 target episodes: the
    # 10th would be target position 3, which the data does not have.
    assert parse_pair("1-", "1-2|3").translate(6) == (2,)
    assert parse_pair("1-", "1-2|3").translate(10) == ()


def test_reverse_of_comma_targets_stops_at_the_sources_end() -> None:
    # Source shorter than the targets: the last segment is cut, then dropped.
    backs = reverse_pairs(parse_pair("1-3", "1-2,6-7"))
    assert [(b.source_range, b.target_spec()) for b in backs] == [
        ("1-2", "1-2"),
        ("6-7", "3"),
    ]
    backs = reverse_pairs(parse_pair("1-2", "1-2,6-7"))
    assert [(b.source_range, b.target_spec()) for b in backs] == [("1-2", "1-2")]
    assert all(b.provenance == DERIVED for b in backs)


def test_reverse_of_three_comma_segments_keeps_counting_positions() -> None:
    backs = reverse_pairs(parse_pair("1-6", "1-2,5-6,9-10"))
    assert [(b.source_range, b.target_spec()) for b in backs] == [
        ("1-2", "1-2"),
        ("5-6", "3-4"),
        ("9-10", "5-6"),
    ]
    assert {b.provenance for b in backs} == {DERIVED}


def test_reverse_of_an_open_source_with_an_open_last_segment() -> None:
    backs = reverse_pairs(parse_pair("1-", "1-2,6-"))
    assert [(b.source_range, b.target_spec()) for b in backs] == [
        ("1-2", "1-2"),
        ("6-", "3-"),
    ]


def test_edge_picks_the_shortest_range_wherever_it_is_listed() -> None:
    a, b = ExternalId("tvdb_show", "1", "s1"), ExternalId("anilist", "2")
    short = parse_pair("20-21", "20-21")
    long = parse_pair("1-24", "1-12|2")
    # Shortest listed first, and a short range late in the numbering (whose
    # start + end is larger than the long range's).
    for pairs in ((short, long), (long, short)):
        edge = Edge(a, b, pairs)
        assert edge.pair_for(20) is short
        assert edge.weight(20) == 1.0
        assert edge.pair_for(19) is long
    assert Edge(a, b, (long, short)).pair_for(99) is None


def test_edge_ties_go_to_the_first_listed_range() -> None:
    a, b = ExternalId("tvdb_show", "1", "s1"), ExternalId("anilist", "2")
    first, second = parse_pair("1-12", "1-12"), parse_pair("1-12", "101-112")
    assert Edge(a, b, (first, second)).translate(3) == (3,)
    assert Edge(a, b, (second, first)).translate(3) == (103,)


def test_edge_skips_ranges_before_the_episode_and_reads_open_ones() -> None:
    a, b = ExternalId("tvdb_show", "1", "s1"), ExternalId("anilist", "2")
    edge = Edge(a, b, (parse_pair("1-12", "1-12"), parse_pair("13-", "1-")))
    assert edge.translate(15) == (3,)
    assert edge.pair_for(15).source_range == "13-"
    assert edge.translate(0) == ()
