from __future__ import annotations

from dataclasses import replace

import pytest
from bridge_support import T0, curated, custom_index, library, tracker, watched

from anibridge.bridge import identity as identity_module
from anibridge.bridge.codec import ref_id
from anibridge.bridge.collect import collect
from anibridge.bridge.identity import (
    Identity,
    Route,
    _attach,
    _entry_ids,
    _prefer_direct,
    _ref_from_id,
    _resolve_missing,
    _scope_season,
    cached_targets,
    identify,
    part_season,
    snapshot_resolver,
)
from anibridge.bridge.model import Snapshot
from anibridge.bridge.observe import observe
from anibridge.bridge.stores import Link, Override
from anibridge.provider.base import (
    ExternalId,
    Match,
    Record,
    Ref,
    Step,
    SupportsMapping,
)
from anibridge.provider.testing.memory import (
    library_capabilities,
    library_show,
    list_capabilities,
    list_entry,
    memory_provider,
)


async def _identify(source, target, index=None, **kw):
    a = await collect(source, "plex")
    b = await collect(target, "anilist")
    return a, b, await identify(a, b, index or curated(), provider=target, **kw)


async def test_naruto_season_two_lands_on_offset_episodes():
    src = library(
        [("p1", "Naruto", {1: 35, 2: 48}, ["tvdb_show:78857"])],
        watched("p1", 2, [1, 2, 3]),
    )
    dst = tracker([("20", "Naruto", 220, ["anilist:20"])])
    a, _, ident = await _identify(src, dst)
    routes = {r.source_part: r for r in ident.routes["p1"]}
    assert routes["tvdb_show:78857:s2"].target.key == "20"
    assert "36-83" in routes["tvdb_show:78857:s2"].edge
    obs = observe(a, ident)
    assert sorted(n for (_, n) in obs["20"].units) == [36, 37, 38]


async def test_split_cour_season_feeds_two_entries():
    src = library(
        [("p2", "Split", {2: 25}, ["tvdb_show:246381"])],
        watched("p2", 2, range(1, 17)),
    )
    dst = tracker(
        [
            ("117197", "Part 1", 13, ["anilist:117197"]),
            ("151803", "Part 2", 12, ["anilist:151803"]),
        ]
    )
    a, _, ident = await _identify(src, dst)
    obs = observe(a, ident)
    assert sorted(n for (_, n) in obs["117197"].units) == list(range(1, 14))
    assert sorted(n for (_, n) in obs["151803"].units) == [1, 2, 3]


async def test_direct_id_wins_over_the_dataset():
    caps = library_capabilities(authorities=("tvdb_show", "anilist"))
    src = memory_provider(
        caps,
        nodes=library_show(
            "p1", "Naruto", {2: 48}, ids=["tvdb_show:78857", "anilist:999"]
        ),
        records=watched("p1", 2, [1]),
    )
    dst = tracker(
        [("20", "Naruto", 220, ["anilist:20"]), ("999", "X", 48, ["anilist:999"])]
    )
    _, _, ident = await _identify(src, dst)
    assert {r.target.key for r in ident.routes["p1"]} == {"999"}
    assert {r.via for r in ident.routes["p1"]} == {"direct"}


async def test_override_beats_the_dataset_and_can_unlink():
    src = library(
        [("p1", "Naruto", {2: 48}, ["tvdb_show:78857"])], watched("p1", 2, [1])
    )
    dst = tracker(
        [("20", "Naruto", 220, ["anilist:20"]), ("7", "Other", 48, ["anilist:7"])]
    )
    ov = [Override("default", "plex", "p1", "anilist", "7")]
    _, _, ident = await _identify(src, dst, overrides=ov)
    assert [(r.target.key, r.via) for r in ident.routes["p1"]] == [("7", "override")]
    ov = [Override("default", "plex", "p1", "anilist", None)]
    _, _, ident = await _identify(src, dst, overrides=ov)
    assert "p1" not in ident.routes
    assert ident.unresolved["p1"] == "unlinked by override"


async def test_custom_file_beats_bundled_dataset(tmp_path):
    index = custom_index(
        tmp_path, 'anilist:5:\n  tvdb_show:78857:s2:\n    "1-48": "1-48"\n'
    )
    src = library(
        [("p1", "Naruto", {2: 48}, ["tvdb_show:78857"])], watched("p1", 2, [5])
    )
    dst = tracker([("5", "Custom", 48, ["anilist:5"])])
    a, _, ident = await _identify(src, dst, index)
    assert sorted(n for (_, n) in observe(a, ident)["5"].units) == [5]


async def test_resolve_is_batched_and_only_for_descriptors_the_snapshot_lacks():
    src = library(
        [("p2", "Split", {2: 25}, ["tvdb_show:246381"])], watched("p2", 2, [1, 20])
    )
    # The target's scan only lists entries the user has; 151803 must be resolved.
    caps = list_capabilities()
    nodes = [
        list_entry("117197", "Part 1", episodes=13, ids=["anilist:117197"]),
        list_entry("151803", "Part 2", episodes=12, ids=["anilist:151803"]),
    ]
    dst = memory_provider(caps, nodes=nodes)
    a = await collect(src, "plex")
    b = await collect(dst, "anilist")
    del b.entries["151803"]
    dst.calls.clear()
    ident = await identify(a, b, curated(), provider=dst)
    resolves = [arg for name, arg in dst.calls if name == "resolve"]
    assert len(resolves) == 1
    assert [i.descriptor for i in resolves[0]] == ["anilist:151803"]
    assert {r.target.key for r in ident.routes["p2"]} == {"117197", "151803"}


async def test_fuzzy_title_fallback_is_off_by_default_and_records_its_score():
    src = library([("p9", "Frieren", {1: 28}, ["tvdb_show:1"])], watched("p9", 1, [1]))
    dst = tracker([("154587", "Frieren", 28, ["anilist:154587"])])
    _, _, ident = await _identify(src, dst)
    assert "p9" in ident.unresolved and "p9" not in ident.routes
    _, _, ident = await _identify(src, dst, fuzzy_threshold=90)
    (route,) = ident.routes["p9"]
    assert (
        route.via == "fuzzy" and route.score == 100.0 and route.target.key == "154587"
    )


async def test_links_carry_edge_provenance():
    src = library(
        [("p1", "Naruto", {2: 48}, ["tvdb_show:78857"])], watched("p1", 2, [1])
    )
    dst = tracker([("20", "Naruto", 220, ["anilist:20"])])
    _, _, ident = await _identify(src, dst)
    links = ident.links("default", "plex", "anilist", T0.isoformat())
    s2 = next(lk for lk in links if lk.source_part == "tvdb_show:78857:s2")
    assert s2.via == "mapping" and "anilist:20" in s2.edge and s2.target_ref == "20"


async def test_stored_links_spare_later_resolve_calls():

    from anibridge.bridge.model import Policy
    from anibridge.bridge.stores import MemoryStores
    from anibridge.bridge.sync import Pair, run_sync

    src = library(
        [("p2", "Split", {2: 25}, ["tvdb_show:246381"])], watched("p2", 2, [1, 20])
    )
    caps = list_capabilities()
    # The target's scan does not list 151803 (the user has no entry): resolve it.
    dst = memory_provider(
        caps, nodes=[list_entry("117197", "P1", episodes=13, ids=["anilist:117197"])]
    )
    stores = MemoryStores()
    resolved = []
    real = dst.resolve

    async def resolve(ids):
        resolved.append([i.descriptor for i in ids])
        from anibridge.provider.base import Match, Ref

        matches = list(await real(ids))
        matches += [
            Match(i, Ref("151803")) for i in ids if i.descriptor == "anilist:151803"
        ]
        return matches

    dst.resolve = resolve
    providers = {"plex": src, "al": dst}
    await run_sync(
        providers,
        [Pair("plex", "al")],
        Policy(),
        stores.bundle(),
        index=curated(),
        dry_run=True,
    )
    assert resolved == [["anilist:151803"]]
    again = await run_sync(
        providers,
        [Pair("plex", "al")],
        Policy(),
        stores.bundle(),
        index=curated(),
        dry_run=True,
    )
    assert resolved == [["anilist:151803"]]  # the stored link answered
    # ... with the entry it names: part 2 is still planned
    assert {a.ref.key for a in again.plan.actions} == {"117197", "151803"}


async def test_one_catalogue_per_season_and_target_so_nothing_counts_twice(tmp_path):
    index = custom_index(
        tmp_path,
        'anilist:7:\n  tvdb_show:1:s1:\n    "1-12": "1-12"\n'
        '  tmdb_show:2:s1:\n    "1-12": "1-12"\n',
    )
    src = library(
        [("p", "Show", {1: 12}, ["tvdb_show:1", "tmdb_show:2"])],
        watched("p", 1, range(1, 5)),
    )
    dst = tracker([("7", "Show", 12, ["anilist:7"])])
    a, _, ident = await _identify(src, dst, index)
    assert [r.source_part for r in ident.routes["p"]] == ["tvdb_show:1:s1"]
    assert observe(a, ident)["7"].weighted == 4


def _unscoped_library(shows, records=(), writable=False):
    nodes = []
    for key, title, seasons, ids in shows:
        nodes.extend(library_show(key, title, seasons, ids=ids, scoped_ids=False))
    return memory_provider(
        library_capabilities(writable=writable), nodes=nodes, records=records
    )


async def test_unscoped_source_id_is_not_rescoped_and_counts_absolute_positions(
    tmp_path,
):
    # A HAMA tvdb2- style id: the server emits it unscoped on purpose (its seasons
    # are not TVDB's). Its ranges address absolute positions over regular seasons.
    index = custom_index(
        tmp_path,
        'anilist:1:\n  tvdb_show:9:\n    "1-12": "1-12"\n'
        'anilist:2:\n  tvdb_show:9:\n    "1-12": "13-24"\n'
        # A season-scoped edge of the same id must not be reached by re-scoping.
        'anilist:3:\n  tvdb_show:9:s2:\n    "1-12": "1-12"\n',
    )
    src = _unscoped_library(
        [("h", "Show", {1: 12, 2: 12}, ["tvdb_show:9"])],
        watched("h", 1, range(1, 13)) + watched("h", 2, [1, 2]),
    )
    dst = tracker(
        [
            ("1", "Part 1", 12, ["anilist:1"]),
            ("2", "Part 2", 12, ["anilist:2"]),
            ("3", "Wrong", 12, ["anilist:3"]),
        ]
    )
    a, _, ident = await _identify(src, dst, index)
    assert {r.source_part for r in ident.routes["h"]} == {"tvdb_show:9"}
    obs = observe(a, ident)
    assert "3" not in obs
    assert sorted(n for (_, n) in obs["1"].units) == list(range(1, 13))
    # s2e1-2 are absolute 13-14 -> anilist:2 episodes 1-2.
    assert sorted(obs["2"].units) == [(None, 1), (None, 2)]


async def test_unscoped_absolute_positions_skip_specials_and_need_structure_past_s1(
    tmp_path,
):
    from anibridge.bridge.observe import _UnitRoutes

    index = custom_index(tmp_path, 'anilist:1:\n  tvdb_show:9:\n    "1-30": "1-30"\n')
    src = _unscoped_library(
        [("h", "Show", {0: 2, 1: 10, 2: 10}, ["tvdb_show:9"])],
        watched("h", 0, [1]) + watched("h", 2, [3]),
    )
    dst = tracker([("1", "Show", 30, ["anilist:1"])])
    a, _, ident = await _identify(src, dst, index)
    assert sorted(observe(a, ident)["1"].units) == [(None, 13)]
    no_structure = _UnitRoutes({}, [], type("E", (), {"node": None})())
    assert no_structure.position(1, 7) == 7
    assert no_structure.position(2, 3) is None


async def test_curated_unscoped_show_target_lands_on_absolute_episodes():
    # anilist:188034 -> tvdb_show:262098 (unscoped in the curated data): episodes
    # 1-4 are absolute TVDB episodes 66-68, 70-75, 77-79 (three per episode).
    from bridge_support import plan_between

    from anibridge.provider.base import Status
    from anibridge.provider.testing.memory import list_record

    src = tracker(
        [("188034", "Movie parts", 4, ["anilist:188034"])],
        [list_record("188034", status=Status.ACTIVE, progress=1, updated_at=T0)],
        authorities=("anilist",),
    )
    dst = library([("t", "Show", {1: 40, 2: 45}, ["tvdb_show:262098"])], writable=True)
    plan = await plan_between(src, dst)
    assert sorted(repr(a.ref) for a in plan.actions) == [
        "t:season=2,episode=26",
        "t:season=2,episode=27",
        "t:season=2,episode=28",
    ]


async def test_direct_ids_the_target_refuses_fall_back_to_the_dataset():
    # A target that declares tvdb_show but does not know this show by it (a catalogue
    # filing each anime season as its own title refuses a series-wide id): the
    # anchor is routed through the mappings instead of being left unresolved.
    caps = list_capabilities(authorities=("anilist", "tvdb_show"))
    dst = memory_provider(
        caps, nodes=[list_entry("20", "Naruto", episodes=220, ids=["anilist:20"])]
    )
    src = library(
        [("p1", "Naruto", {1: 35, 2: 48}, ["tvdb_show:78857"])],
        watched("p1", 2, [1, 2]),
    )
    a = await collect(src, "plex")
    b = await collect(dst, "anilist")
    ident = await identify(a, b, curated(), provider=dst)
    routes = {r.source_part: r for r in ident.routes["p1"]}
    assert routes["tvdb_show:78857:s2"].via == "mapping"
    assert routes["tvdb_show:78857:s2"].target.key == "20"
    assert sorted(n for (_, n) in observe(a, ident)["20"].units) == [36, 37]
    # Without the dataset the direct miss is reported, not a vague "no mapping".
    ident = await identify(a, b, None, provider=dst)
    assert ident.unresolved["p1"] == "tvdb_show:78857 not on target"


async def test_the_dataset_fallback_resolves_targets_the_user_has_no_entry_for():
    # As above, but the list has no entry for Naruto yet: the dataset's target
    # (anilist:20) is found by the target's resolve(), as on the first pass.
    caps = list_capabilities(authorities=("anilist", "tvdb_show"))
    dst = memory_provider(
        caps, nodes=[list_entry("20", "Naruto", episodes=220, ids=["anilist:20"])]
    )
    src = library(
        [("p1", "Naruto", {1: 35, 2: 48}, ["tvdb_show:78857"])],
        watched("p1", 2, [1, 2]),
    )
    a = await collect(src, "plex")
    b = await collect(dst, "anilist")
    del b.entries["20"]
    ident = await identify(a, b, curated(), provider=dst)
    routes = {r.source_part: r for r in ident.routes["p1"]}
    assert (routes["tvdb_show:78857:s2"].via, routes["tvdb_show:78857:s2"].target) == (
        "mapping",
        Ref("20"),
    )


async def test_a_refused_direct_id_the_dataset_does_not_know_keeps_its_reason():
    # The fallback through the dataset finds no edge either: the anchor stays
    # unresolved with the direct miss as its reason, not a vague "no mapping".
    caps = list_capabilities(authorities=("anilist", "tvdb_show"))
    dst = memory_provider(
        caps, nodes=[list_entry("20", "Naruto", episodes=220, ids=["anilist:20"])]
    )
    src = library(
        [("p1", "Unknown", {1: 2}, ["tvdb_show:999999999"])], watched("p1", 1, [1])
    )
    a = await collect(src, "plex")
    b = await collect(dst, "anilist")
    ident = await identify(a, b, curated(), provider=dst)
    assert ident.routes == {}
    assert ident.unresolved == {"p1": "tvdb_show:999999999 not on target"}


async def test_a_resolved_direct_id_still_beats_the_dataset():
    caps = list_capabilities(authorities=("anilist", "tvdb_show"))
    dst = memory_provider(
        caps,
        nodes=[
            list_entry("20", "Naruto", episodes=220, ids=["anilist:20"]),
            list_entry("5", "Show", episodes=48, ids=["tvdb_show:78857"]),
        ],
    )
    src = library(
        [("p1", "Naruto", {2: 48}, ["tvdb_show:78857"])], watched("p1", 2, [1])
    )
    a = await collect(src, "plex")
    b = await collect(dst, "anilist")
    ident = await identify(a, b, curated(), provider=dst)
    assert {(r.target.key, r.via) for r in ident.routes["p1"]} == {("5", "direct")}


async def test_observations_stream_in_observe_order_each_once_complete(monkeypatch):
    """`observe_each` (what the planner uses) hands over each observation as soon
    as no later anchor feeds it, in `observe`'s order, with the same contents."""
    from anibridge.bridge.observe import observe_each

    shows = [
        (f"p{i}", f"Show {i}", {1: 4}, [f"tvdb_show:{9000 + i}"]) for i in (1, 2, 3)
    ]
    src = library(
        shows, watched("p1", 1, [1]) + watched("p2", 1, [1, 2]) + watched("p3", 1, [3])
    )
    dst = tracker([("7", "Seven", 4, ["anilist:7"]), ("8", "Eight", 4, ["anilist:8"])])
    # p1 and p3 feed one target (7), p2 another (8): 7 is complete only after p3.
    ov = [
        Override("default", "plex", "p1", "anilist", "7"),
        Override("default", "plex", "p2", "anilist", "8"),
        Override("default", "plex", "p3", "anilist", "7"),
    ]
    a, _, ident = await _identify(src, dst, overrides=ov)
    whole = observe(a, ident)
    assert list(whole) == ["7", "8"]
    stream = observe_each(a, ident)
    first = next(stream)
    assert first.target.key == "7" and first.sources == ["p1", "p3"]
    assert sorted(n for (_, n) in first.units) == [1, 3]
    rest = list(stream)
    assert [o.target.key for o in rest] == ["8"]
    assert [first, *rest] == list(whole.values())

    # One anchor per target: each comes out before the next anchor is read.
    ov = [Override("default", "plex", f"p{i}", "anilist", str(i)) for i in (1, 2, 3)]
    a, _, ident = await _identify(src, dst, overrides=ov)
    from anibridge.bridge import observe as module

    read: list[str] = []
    entry = module._Builder.entry

    def counted(self, key, routes):
        read.append(key)
        entry(self, key, routes)

    monkeypatch.setattr(module._Builder, "entry", counted)
    seen = [(o.target.key, list(o.sources), list(read)) for o in observe_each(a, ident)]
    assert seen == [
        ("1", ["p1"], ["p1"]),
        ("2", ["p2"], ["p1", "p2"]),
        ("3", ["p3"], ["p1", "p2", "p3"]),
    ]
    assert [o.target.key for o in observe(a, ident).values()] == ["1", "2", "3"]


# -- the pure helpers of identity, pinned directly -------------------------------------


def _route(key, part, via, edge="", target="20", score=None, season=None):
    tid = ExternalId.parse(part) if ":" in part else ExternalId("ref", target)
    return Route(key, part, season, tid, Ref(target), None, via, edge, score)


def test_links_are_one_per_route_with_their_provenance():
    ident = Identity(
        routes={
            "p1": [
                _route("p1", "tvdb_show:1:s1", "mapping", "a -> b {}"),
                _route("p1", "tvdb_show:1:s2", "mapping", "c -> d {}", target="21"),
            ],
            "p2": [_route("p2", "", "fuzzy", "title", target="30", score=91.5)],
        }
    )
    assert ident.links("prof", "plex", "anilist", "NOW") == [
        Link("prof", "plex", "p1", "tvdb_show:1:s1", "anilist", "20", "mapping",
             "a -> b {}", None, "NOW"),
        Link("prof", "plex", "p1", "tvdb_show:1:s2", "anilist", "21", "mapping",
             "c -> d {}", None, "NOW"),
        Link("prof", "plex", "p2", "", "anilist", "30", "fuzzy", "title", 91.5, "NOW"),
    ]  # fmt: skip


def _link(via, edge, target_ref="20"):
    return Link("p", "plex", "k", "", "anilist", target_ref, via, edge)


def test_cached_targets_read_the_target_descriptor_back_from_the_edge():
    links = [
        _link("direct", "anilist:20"),
        _link("mapping", "tvdb_show:1:s2 -> anilist:21 {1-12: 1-12}", "21/season=1"),
        _link("mapping", "no arrow here", "22"),
        _link("override", "override -> 23", "23"),
        _link("fuzzy", "title 'x' ~ 'y' (90)", "24"),
        _link("direct", "", "25"),
        _link("direct", "anilist:20", "99"),
        # links after an override or a fuzzy match are still read
        _link("mapping", "tvdb_show:2 -> anilist:26 {1-12: 1-12}", "26"),
    ]
    assert cached_targets(links) == {
        "anilist:20": Ref("20"),
        "anilist:21": Ref.at("21", ("season", 1)),
        "anilist:26": Ref("26"),
    }


def test_part_season_is_the_first_season_coordinate():
    assert part_season((Step("season", 2), Step("episode", 5))) == 2
    assert part_season((Step("episode", 5), Step("season", "3"))) == 3
    assert part_season((Step("episode", 5),)) is None
    assert part_season(()) is None
    assert part_season((Step("season", "specials"), Step("season", 1))) is None
    assert part_season((Step("season", None),)) is None


@pytest.mark.parametrize(
    ("descriptor", "season"),
    [
        ("tvdb_show:1:s2", 2),
        ("tvdb_show:1:s0", 0),
        ("tvdb_show:1:s12", 12),
        ("tvdb_show:1", None),
        ("tvdb_show:1:sx", None),
        ("tvdb_show:1:x2", None),
        ("anidb:69:R", 1),
        ("anidb:69:S", 0),
        ("anidb:69:O", None),
        ("tvdb_show:1:R", None),
    ],
)
def test_scope_season(descriptor, season):
    assert _scope_season(ExternalId.parse(descriptor)) == season


def test_scope_season_of_an_empty_scope_is_none():
    assert _scope_season(ExternalId("tvdb_show", "1", "")) is None


def test_ref_from_id_inverts_ref_id():
    for ref in (
        Ref("20"),
        Ref.at("20", ("season", 1), ("episode", 5)),
        Ref.at("20", ("part", "b")),
        Ref.at("20", ("season", -1)),
        # a text value may hold "=" (only the first splits axis from value) and
        # start with letters before digits (only a leading "-" makes a number)
        Ref.at("20", ("part", "a=b"), ("episode", 3)),
        Ref.at("20", ("disc", "X1")),
    ):
        assert _ref_from_id(ref_id(ref)) == ref
    assert _ref_from_id("20/season=1") == Ref.at("20", ("season", 1))
    assert _ref_from_id("20/disc=1a") == Ref.at("20", ("disc", "1a"))


def test_snapshot_resolver_maps_node_and_anchor_record_ids_first_key_winning():
    snap = Snapshot("anilist", list_capabilities())
    snap.entry("20").node = list_entry("20", "A", ids=["anilist:20", "mal:20"])
    snap.entry("21").node = list_entry("21", "B", ids=["mal:20", "anilist:21"])
    snap.entry("22").records.append(
        Record(ref=Ref("22"), ids=(ExternalId("kitsu", "5"),))
    )
    snap.entry("23").records.append(
        Record(ref=Ref.at("23", ("episode", 1)), ids=(ExternalId("kitsu", "6"),))
    )
    assert snapshot_resolver(snap) == {
        "anilist:20": Ref("20"),
        "mal:20": Ref("20"),
        "anilist:21": Ref("21"),
        "kitsu:5": Ref("22"),
    }


def test_entry_ids_take_node_ids_then_anchor_record_ids_once_each():
    snap = Snapshot("plex", library_capabilities())
    snap.entry("p").node = list_entry("p", "P", ids=["tvdb_show:1"])
    snap.entry("p").records += [
        Record(
            ref=Ref("p"),
            ids=(ExternalId("tvdb_show", "1"), ExternalId("tmdb_show", "9")),
        ),
        Record(ref=Ref.at("p", ("season", 1)), ids=(ExternalId("imdb", "tt1"),)),
    ]
    assert [i.descriptor for i in _entry_ids(snap, "p")] == [
        "tvdb_show:1",
        "tmdb_show:9",
    ]


class _Resolver(SupportsMapping):
    """A target that resolves ids from a fixed answer list, recording each batch."""

    def __init__(self, answers):
        self.answers = answers
        self.batches: list[list[str]] = []

    async def resolve(self, ids):
        self.batches.append([i.descriptor for i in ids])
        wanted = {i.descriptor for i in ids}
        return [m for m in self.answers if m.external_id.descriptor in wanted]


def _pending(*descriptors):
    return [("k", d, None, ExternalId.parse(d), None, "direct", d) for d in descriptors]


async def test_resolve_missing_asks_once_per_unknown_descriptor_keeping_the_best():
    a20, a21 = ExternalId.parse("anilist:20"), ExternalId.parse("anilist:21")
    a25, a26 = ExternalId.parse("anilist:25"), ExternalId.parse("anilist:26")
    target = _Resolver(
        [
            Match(a20, Ref("low"), confidence=0.2),
            Match(a20, Ref("high"), confidence=0.9),
            Match(a20, Ref("also-high"), confidence=0.9),
            Match(a21, Ref("unscored"), confidence=None),
            Match(a21, Ref("scored"), confidence=0.99),
            # an unscored match counts as certain, no more: a certain one first wins
            Match(a25, Ref("sure"), confidence=1.0),
            Match(a25, Ref("unscored-too"), confidence=None),
            # a match may name a part of an anchor
            Match(a26, Ref.at("26", ("season", 2)), confidence=None),
        ]
    )
    known = {"anilist:22": Ref("22"), "anilist:23": Ref("23")}
    pending = _pending("anilist:20", "anilist:21", "anilist:20", "anilist:22",
                       "anilist:23:s2", "anilist:24", "anilist:25",
                       "anilist:26")  # fmt: skip
    await _resolve_missing(pending, known, target)
    assert target.batches == [
        ["anilist:20", "anilist:21", "anilist:24", "anilist:25", "anilist:26"]
    ]
    assert known["anilist:25"] == Ref("sure")
    assert known["anilist:26"] == Ref.at("26", ("season", 2))
    assert known["anilist:20"] == Ref("high")
    assert known["anilist:21"] == Ref("unscored")


async def test_resolve_missing_batches_and_needs_a_resolving_target(monkeypatch):
    monkeypatch.setattr(identity_module, "_RESOLVE_BATCH", 2)
    target = _Resolver([])
    known: dict[str, Ref] = {}
    await _resolve_missing(_pending("a:1", "a:2", "a:3"), known, target)
    assert target.batches == [["a:1", "a:2"], ["a:3"]]
    await _resolve_missing(_pending("a:1"), known, object())
    assert known == {}


def test_attach_routes_resolved_descriptors_and_explains_the_rest():
    result = Identity()
    pending = [
        ("k1", "tvdb_show:1:s1", 1, ExternalId.parse("anilist:20:s1"), None,
         "mapping", "e1"),
        ("k2", "tvdb_show:2", None, ExternalId.parse("anilist:30"), None, "direct",
         "anilist:30"),
        ("k3", "tvdb_show:3", None, ExternalId.parse("anilist:40"), None, "direct",
         "anilist:40"),
        ("k3", "tvdb_show:3", None, ExternalId.parse("anilist:41"), None, "direct",
         "anilist:41"),
    ]  # fmt: skip
    result.unresolved["k3"] = "earlier reason"
    _attach(pending, {"anilist:20": Ref("20"), "anilist:41": Ref("41")}, result)
    assert [(r.source_part, r.season, r.target, r.via, r.edge)
            for r in result.routes["k1"]] == [
        ("tvdb_show:1:s1", 1, Ref("20"), "mapping", "e1")
    ]  # fmt: skip
    assert [r.target for r in result.routes["k3"]] == [Ref("41")]
    assert result.unresolved == {"k2": "anilist:30 not on target"}


def test_prefer_direct_drops_mapping_routes_and_second_authorities():
    result = Identity(
        routes={
            "direct": [
                _route("direct", "tvdb_show:1:s1", "mapping", target="20", season=1),
                _route("direct", "anilist:20", "direct", target="20"),
            ],
            "two": [
                _route("two", "tvdb_show:1:s1", "mapping", target="20", season=1),
                _route("two", "tmdb_show:9:s1", "mapping", target="20", season=1),
                _route("two", "tmdb_show:9:s2", "mapping", target="21", season=2),
            ],
            "same": [
                Route("same", "tvdb_show:1", None, ExternalId.parse("anilist:20"),
                      Ref("20"), None, "mapping"),
                Route("same", "tvdb_show:1", None, ExternalId.parse("mal:20"),
                      Ref("20"), None, "mapping"),
                Route("same", "tvdb_show:1", None, ExternalId.parse("mal:20:s2"),
                      Ref("20"), None, "mapping"),
            ],
        }
    )  # fmt: skip
    result.routes["tvdb"] = [
        # two TVDB ids of one show (a merged series): one authority, both kept
        _route("tvdb", "tvdb_show:1:s1", "mapping", target="20", season=1),
        _route("tvdb", "tvdb_show:2:s1", "mapping", target="20", season=1),
    ]
    _prefer_direct(result)
    assert [r.source_part for r in result.routes["tvdb"]] == [
        "tvdb_show:1:s1",
        "tvdb_show:2:s1",
    ]
    assert [r.via for r in result.routes["direct"]] == ["direct"]
    assert [r.source_part for r in result.routes["two"]] == [
        "tvdb_show:1:s1",
        "tmdb_show:9:s2",
    ]
    assert [r.target_id.descriptor for r in result.routes["same"]] == [
        "anilist:20",
        "mal:20:s2",
    ]


def test_prefer_direct_keeps_overrides_over_mappings():
    result = Identity(
        routes={
            "k": [
                _route("k", "tvdb_show:1:s1", "mapping", target="20", season=1),
                _route("k", "", "override", target="30"),
            ]
        }
    )
    _prefer_direct(result)
    assert [r.via for r in result.routes["k"]] == ["override"]


def test_prefer_direct_keeps_other_parts_beside_a_part_override():
    result = Identity(
        routes={
            "k": [
                _route("k", "tvdb_show:1:s1", "mapping", target="20", season=1),
                _route("k", "tvdb_show:1:s2", "mapping", target="21", season=2),
                _route("k", "tvdb_show:1:s2", "override", target="30", season=2),
            ]
        }
    )
    _prefer_direct(result)
    assert [(r.source_part, r.via) for r in result.routes["k"]] == [
        ("tvdb_show:1:s1", "mapping"),
        ("tvdb_show:1:s2", "override"),
    ]


async def test_anchors_without_a_route_say_why():
    src = library(
        [
            ("bare", "No Ids", {1: 2}, []),
            ("odd", "Unmapped", {1: 2}, ["tvdb_show:999999999"]),
        ],
        watched("bare", 1, [1]) + watched("odd", 1, [1]),
    )
    dst = tracker([("20", "Naruto", 220, ["anilist:20"])])
    _, _, ident = await _identify(src, dst)
    assert ident.routes == {}
    assert ident.unresolved == {
        "bare": "no ids",
        "odd": "no mapping to anilist,mal",
    }


async def test_a_part_override_routes_or_drops_one_season(tmp_path):
    index = custom_index(
        tmp_path,
        'anilist:5:\n  tvdb_show:1:s1:\n    "1-2": "1-2"\n'
        'anilist:6:\n  tvdb_show:1:s2:\n    "1-2": "1-2"\n',
    )
    src = library([("p1", "P", {1: 2, 2: 2}, ["tvdb_show:1"])], watched("p1", 1, [1]))
    dst = tracker([("5", "S1", 2, ["anilist:5"]), ("6", "S2", 2, ["anilist:6"]),
                   ("7", "Other", 2, ["anilist:7"])])  # fmt: skip
    ov = [Override("default", "plex", "p1", "anilist", "7", "tvdb_show:1:s2")]
    _, _, ident = await _identify(src, dst, index, overrides=ov)
    routes = {r.source_part: r for r in ident.routes["p1"]}
    assert set(routes) == {"tvdb_show:1:s1", "tvdb_show:1:s2"}
    # Re-pointing season 2 keeps season 1 on the dataset, as unlinking it does.
    assert (routes["tvdb_show:1:s1"].target, routes["tvdb_show:1:s1"].via) == (
        Ref("5"),
        "mapping",
    )
    s2 = routes["tvdb_show:1:s2"]
    assert (s2.source_key, s2.season, s2.target, s2.via, s2.edge, s2.target_id) == (
        "p1", 2, Ref("7"), "override", "override tvdb_show:1:s2 -> 7",
        ExternalId.parse("tvdb_show:1:s2"),
    )  # fmt: skip
    ov = [Override("default", "plex", "p1", "anilist", None, "tvdb_show:1:s2")]
    _, _, ident = await _identify(src, dst, index, overrides=ov)
    (s1,) = ident.routes["p1"]
    assert (s1.source_part, s1.target, s1.via) == (
        "tvdb_show:1:s1",
        Ref("5"),
        "mapping",
    )
    assert s1.edge == "tvdb_show:1:s1 -> anilist:5 {1-2: 1-2}"
    assert ident.unresolved == {}


async def test_a_whole_anchor_override_names_its_target():
    src = library([("p1", "P", {1: 2}, ["tvdb_show:1"])], watched("p1", 1, [1]))
    dst = tracker([("7", "Other", 2, ["anilist:7"])])
    ov = [Override("default", "plex", "p1", "anilist", "7/season=1")]
    _, _, ident = await _identify(src, dst, overrides=ov)
    (route,) = ident.routes["p1"]
    assert route == Route(
        "p1", "", None, ExternalId("ref", "7/season=1"), Ref.at("7", ("season", 1)),
        None, "override", "override -> 7/season=1",
    )  # fmt: skip


async def test_only_the_named_source_anchors_are_identified():
    src = library(
        [("p1", "Naruto", {2: 48}, ["tvdb_show:78857"]), ("p2", "X", {1: 1}, [])],
        watched("p1", 2, [1]) + watched("p2", 1, [1]),
    )
    dst = tracker([("20", "Naruto", 220, ["anilist:20"])])
    _, _, ident = await _identify(src, dst, keys=["gone", "p2"])  # gone: skipped
    assert ident.routes == {} and ident.unresolved == {"p2": "no ids"}


async def test_fuzzy_takes_the_best_title_at_or_above_the_threshold():
    src = library(
        [("p9", "Frieren", {1: 28}, ["tvdb_show:1"]), ("p8", "", {1: 1}, [])],
        watched("p9", 1, [1]) + watched("p8", 1, [1]),
    )
    dst = tracker(
        [
            ("1", "Frieren Beyond", 28, ["anilist:1"]),
            ("2", "frieren", 28, ["anilist:2"]),
            ("3", "Fried", 28, ["anilist:3"]),
        ]
    )
    _, _, ident = await _identify(src, dst, fuzzy_threshold=100)
    (route,) = ident.routes["p9"]
    assert (route.target, route.via, route.score) == (Ref("2"), "fuzzy", 100.0)
    assert route.target_id == ExternalId("title", "Frieren")
    assert route.edge == "title 'Frieren' ~ 'frieren' (100)"
    assert (route.source_part, route.season, route.pairs) == ("", None, None)
    assert "p9" not in ident.unresolved and "p8" in ident.unresolved
    _, _, ident = await _identify(src, dst, fuzzy_threshold=99.5)
    assert ident.routes["p9"][0].target == Ref("2")
    _, _, close = await _identify(src, dst, fuzzy_threshold=60)
    assert close.routes["p9"][0].score == 100.0


async def test_fuzzy_asks_for_ten_candidates_and_takes_the_first_of_equals():
    src = library(
        [("p0", "", {1: 1}, []), ("p1", "Zzz", {1: 1}, []),
         ("p9", "Frieren", {1: 28}, [])],
        watched("p0", 1, [1]) + watched("p1", 1, [1]) + watched("p9", 1, [1]),
    )  # fmt: skip
    dst = tracker(
        [("1", "Frieren", 28, ["anilist:1"]), ("2", "Frieren", 28, ["anilist:2"])]
    )
    a = await collect(src, "plex")
    b = await collect(dst, "anilist")
    a.entries["p0"].node = None  # an entry known only by its records
    limits = []
    search = dst.search_nodes

    async def spy(query, **kw):
        limits.append(kw.get("limit"))
        return await search(query, **kw)

    dst.search_nodes = spy
    ident = await identify(a, b, curated(), provider=dst, fuzzy_threshold=90)
    assert limits == [10, 10]  # "Zzz" and "Frieren"; no title, no search
    (route,) = ident.routes["p9"]
    assert (route.source_key, route.target) == ("p9", Ref("1"))
    assert set(ident.unresolved) == {"p0", "p1"}


async def test_fuzzy_scores_are_rounded_and_untitled_targets_never_match():
    src = library(
        [("p9", "Frieren", {1: 28}, []), ("px", "XXXX", {1: 1}, [])],
        watched("p9", 1, [1]) + watched("px", 1, [1]),
    )
    dst = tracker([("1", "Frierenx", 28, ["anilist:1"]), ("2", "", 1, ["anilist:2"])])
    search = dst.search_nodes
    untitled = replace(list_entry("2", "T"), title=None)

    async def with_untitled(query, **kw):
        page = await search(query, **kw)
        return replace(page, items=(*page.items, untitled))

    dst.search_nodes = with_untitled
    _, _, ident = await _identify(src, dst, fuzzy_threshold=90)
    (route,) = ident.routes["p9"]
    assert route.score == 93.3
    assert route.edge == "title 'Frieren' ~ 'Frierenx' (93)"
    assert "px" in ident.unresolved


def test_pairs_text_lists_every_range_pair():
    from anibridge.bridge.identity import _pairs_text
    from anibridge.mappings.grammar import parse_pair

    pairs = [parse_pair("1-12", "1-12"), parse_pair("13-24", "1-12")]
    assert _pairs_text(pairs) == "{1-12: 1-12, 13-24: 1-12}"
    assert _pairs_text([]) == "{}"


async def test_part_overrides_settle_their_part_and_leave_the_others_to_the_rest(
    tmp_path,
):
    index = custom_index(
        tmp_path,
        'anilist:5:\n  tvdb_show:1:s1:\n    "1-2": "1-2"\n'
        'anilist:6:\n  tvdb_show:1:s2:\n    "1-2": "1-2"\n',
    )
    dst = tracker([("5", "S1", 2, ["anilist:5"]), ("6", "S2", 2, ["anilist:6"]),
                   ("7", "Other", 2, ["anilist:7"])])  # fmt: skip

    def parts(ident):
        return sorted((r.source_part, r.target.key, r.via) for r in ident.routes["p1"])

    # Season 1 re-pointed: season 2, after it, still follows the dataset.
    src = library([("p1", "P", {1: 2, 2: 2}, ["tvdb_show:1"])], watched("p1", 1, [1]))
    s1 = [Override("default", "plex", "p1", "anilist", "7", "tvdb_show:1:s1")]
    _, _, ident = await _identify(src, dst, index, overrides=s1)
    assert parts(ident) == [("tvdb_show:1:s1", "7", "override"),
                            ("tvdb_show:1:s2", "6", "mapping")]  # fmt: skip
    # Without the dataset only overrides route: an id before the overridden part
    # does not stop it.
    s2 = [Override("default", "plex", "p1", "anilist", "7", "tvdb_show:1:s2")]
    a, b = await collect(src, "plex"), await collect(dst, "anilist")
    ident = await identify(a, b, None, provider=dst, overrides=s2)
    assert parts(ident) == [("tvdb_show:1:s2", "7", "override")]
    # A part the override alone routes is resolved, not "no mapping".
    only_s2 = library([("p1", "P", {2: 2}, ["tvdb_show:9"])], watched("p1", 2, [1]))
    s2 = [Override("default", "plex", "p1", "anilist", "7", "tvdb_show:9:s2")]
    _, _, ident = await _identify(only_s2, dst, index, overrides=s2)
    assert parts(ident) == [("tvdb_show:9:s2", "7", "override")]
    assert ident.unresolved == {}


async def test_every_direct_id_of_an_anchor_is_tried():
    # A catalogue filing each season as its own title, by season-scoped ids: the
    # show-wide id is not there, each season's id is.
    caps = list_capabilities(authorities=("anilist", "tvdb_show"))
    dst = memory_provider(caps, nodes=[
        list_entry("51", "Season 1", episodes=2, ids=["tvdb_show:1:s1"]),
        list_entry("52", "Season 2", episodes=2, ids=["tvdb_show:1:s2"]),
    ])  # fmt: skip
    src = library([("p1", "P", {1: 2, 2: 2}, ["tvdb_show:1"])], watched("p1", 2, [1]))
    a = await collect(src, "plex")
    b = await collect(dst, "anilist")
    ident = await identify(a, b, None, provider=dst)
    assert sorted((r.source_part, r.target.key, r.via) for r in ident.routes["p1"]) == [
        ("tvdb_show:1:s1", "51", "direct"),
        ("tvdb_show:1:s2", "52", "direct"),
    ]


async def test_edges_only_towards_other_catalogues_are_no_mapping(tmp_path):
    # The dataset places the show on MAL only; the target reads AniList ids, so
    # there is no mapping to it (rather than a MAL id "not on target").
    index = custom_index(tmp_path, 'mal:5:\n  tvdb_show:1:s1:\n    "1-2": "1-2"\n')
    src = library([("p1", "P", {1: 2}, ["tvdb_show:1"])], watched("p1", 1, [1]))
    dst = tracker([("5", "P", 2, ["anilist:5"])], authorities=("anilist",))
    _, _, ident = await _identify(src, dst, index)
    assert ident.routes == {}
    assert ident.unresolved == {"p1": "no mapping to anilist"}


async def test_an_edge_with_every_range_disabled_is_no_route(tmp_path):
    # The dataset switched one target of the season off entirely ("|0"): that
    # edge gives no route, and the season's other edge still does.
    index = custom_index(
        tmp_path,
        'anilist:5:\n  tvdb_show:1:s1:\n    "1-2": "1-2|0"\n'
        'anilist:6:\n  tvdb_show:1:s1:\n    "1-2": "1-2"\n',
    )
    src = library([("p1", "P", {1: 2}, ["tvdb_show:1"])], watched("p1", 1, [1]))
    dst = tracker([("5", "Off", 2, ["anilist:5"]), ("6", "On", 2, ["anilist:6"])])
    _, _, ident = await _identify(src, dst, index)
    assert [(r.source_part, r.target.key) for r in ident.routes["p1"]] == [
        ("tvdb_show:1:s1", "6")
    ]


async def test_a_mapped_target_the_list_cannot_find_is_named(tmp_path):
    # The dataset knows where the season goes, the target does not have it: the
    # reason names the missing target rather than a missing mapping.
    index = custom_index(tmp_path, 'anilist:99:\n  tvdb_show:1:s1:\n    "1-2": "1-2"\n')
    src = library([("p1", "P", {1: 2}, ["tvdb_show:1"])], watched("p1", 1, [1]))
    dst = tracker([("5", "Other", 2, ["anilist:5"])])
    _, _, ident = await _identify(src, dst, index)
    assert ident.routes == {}
    assert ident.unresolved == {"p1": "anilist:99 not on target"}
