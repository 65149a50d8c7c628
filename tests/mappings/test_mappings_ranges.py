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
