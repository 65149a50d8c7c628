"""The compiled index cache: same answers as a build; rebuilt when stale or corrupt.

Every test loads from real files into its own cache directory; a load that opened
the compiled file says so in `index.compiled_path`.
"""

from __future__ import annotations

import json
import os
import random
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anibridge.mappings import BUNDLED, MappingLoadError, load_index
from anibridge.mappings import compiled as compiled_module

CUSTOM = {
    "tvdb_show:81797:s1": {"anilist:21": {"1-61": "1-61", "62-": "62-|0"}},
    "anilist:1": {"mal:1": {"1-26": "1-13|2"}},
    "anilist:2": {"mal:2": {"bad": "1"}},  # invalid: reported, skipped
    "nonsense": {"mal:3": {"1": "1"}},  # invalid descriptor
}


def write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def load(cache: Path, *paths: Path, **kw):
    """Custom files only unless asked (the bundled file is covered below)."""
    kw.setdefault("include_default", bool(not paths))
    kw.setdefault("notice", None)
    kw.setdefault("report_invalid", None)
    return load_index([str(p) for p in paths], cache=cache, **kw)


def files(cache: Path) -> list[Path]:
    return sorted(cache.glob(compiled_module.CACHE_GLOB))


def answers(index, descriptors: list[str]) -> list:
    out = []
    for d in descriptors:
        out.append(sorted((str(k), v) for k, v in index.translate(d, 3).items()))
        out.append(
            [
                (str(e.target), [(p.source_range, p.target_range, p.ratio,
                                  p.provenance) for p in e.pairs])
                for e in index.edges(d)
            ]
        )  # fmt: skip
        out.append(
            sorted((str(k), v) for k, v in index.progress({d: [1, 2, 3]}).items())
        )
    return out


@pytest.fixture
def custom(tmp_path) -> Path:
    return write(tmp_path / "custom.json", CUSTOM)


def test_a_second_load_opens_the_compiled_file_and_answers_the_same(tmp_path, custom):
    cache = tmp_path / "cache"
    built = load(cache, custom)
    assert built.compiled_path is None
    (written,) = files(cache)
    opened = load(cache, custom)
    assert opened.compiled_path == written
    descriptors = built.descriptors()
    assert opened.descriptors() == descriptors
    assert answers(opened, descriptors) == answers(built, descriptors)
    assert opened.invalid == built.invalid and len(opened.invalid) == 2
    assert opened.origins == built.origins
    assert opened.stats() | {"load_seconds": 0} == built.stats() | {"load_seconds": 0}
    assert opened.explicit_pair_count() == built.explicit_pair_count()
    assert not list(cache.glob(".index-*"))  # no temporary file left behind


def test_strict_and_invalid_reports_hold_for_the_compiled_file(tmp_path, custom):
    cache = tmp_path / "cache"
    load(cache, custom)
    reports: list[str] = []
    opened = load(cache, custom, report_invalid=reports.append)
    assert opened.compiled_path is not None
    assert reports and reports[0].startswith("2 invalid mapping entries")
    with pytest.raises(MappingLoadError):
        load(cache, custom, strict=True)


def test_the_bundled_notice_is_printed_from_the_compiled_file_too(tmp_path):
    cache = tmp_path / "cache"
    notices: list[str] = []
    load(cache, notice=notices.append)
    opened = load(cache, notice=notices.append)
    assert opened.compiled_path is not None
    assert len(notices) == 2 and "bundled curated file" in notices[1]


def test_an_edited_custom_file_is_a_new_key(tmp_path, custom):
    cache = tmp_path / "cache"
    load(cache, custom)
    write(custom, {**CUSTOM, "anilist:99000005": {"mal:99000005": {"1": "7"}}})
    fresh = load(cache, custom)
    assert fresh.compiled_path is None  # built again, not the old answers
    assert {str(k): v for k, v in fresh.translate("anilist:99000005", 1).items()} == {
        "mal:99000005": (7,)
    }
    assert load(cache, custom).compiled_path is not None
    assert len(files(cache)) == 2  # both kept (profiles may use different files)


def test_a_changed_include_is_noticed(tmp_path, caplog):
    cache = tmp_path / "cache"
    extra = write(
        tmp_path / "extra.json", {"anilist:99000009": {"mal:99000009": {"1": "1"}}}
    )
    root = write(tmp_path / "root.json", {"$includes": ["extra.json"]})
    load(cache, root)
    assert load(cache, root).compiled_path is not None
    write(extra, {"anilist:99000009": {"mal:99000009": {"1": "4"}}})
    with caplog.at_level("INFO", logger="anibridge.mappings.compiled"):
        again = load(cache, root)
    assert again.compiled_path is None
    (path,) = files(cache)
    assert messages(caplog)[0] == (
        f"mappings: rebuilding the compiled index"
        f" ({path.name}: included file {extra} changed)"
    )
    assert {str(k): v for k, v in again.translate("anilist:99000009", 1).items()} == {
        "mal:99000009": (4,)
    }


def test_a_missing_include_that_appears_later_is_noticed(tmp_path):
    cache = tmp_path / "cache"
    root = write(tmp_path / "root.json", {"$includes": ["later.json"]})
    first = load(cache, root)
    assert first.translate("anilist:99000009", 1) == {}
    write(tmp_path / "later.json", {"anilist:99000009": {"mal:99000009": {"1": "2"}}})
    again = load(cache, root)
    assert again.compiled_path is None
    assert {str(k): v for k, v in again.translate("anilist:99000009", 1).items()} == {
        "mal:99000009": (2,)
    }


def test_a_downloaded_dataset_replaces_the_bundled_key(tmp_path):
    cache = tmp_path / "cache"
    load(cache)
    (cache / "mappings.dataset").write_text(
        json.dumps({"anilist:99000077": {"mal:99000077": {"1": "1"}}})
    )
    fresh = load(cache)
    assert fresh.compiled_path is None
    assert fresh.descriptors() == ["anilist:99000077", "mal:99000077"]


@pytest.mark.parametrize(
    "damage",
    ["flip-a-byte", "truncate", "garbage", "empty", "other-key-header"],
)
def test_a_corrupt_compiled_file_is_rebuilt(tmp_path, custom, damage):
    cache = tmp_path / "cache"
    built = load(cache, custom)
    (path,) = files(cache)
    raw = bytearray(path.read_bytes())
    if damage == "flip-a-byte":
        spot = random.Random(7).randrange(200, len(raw))
        raw[spot] ^= 0x5A
    elif damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "garbage":
        raw = bytearray(b"not an index at all" * 10)
    elif damage == "empty":
        raw = bytearray()
    else:
        raw[16:48] = bytes(32)  # the key digest in the header
    path.write_bytes(bytes(raw))
    rebuilt = load(cache, custom)
    assert rebuilt.compiled_path is None  # not trusted: built from the payloads
    descriptors = built.descriptors()
    assert answers(rebuilt, descriptors) == answers(built, descriptors)
    healed = load(cache, custom)
    assert healed.compiled_path == path
    assert answers(healed, descriptors) == answers(built, descriptors)


def test_an_unwritable_cache_directory_only_costs_a_rebuild(tmp_path, custom):
    cache = tmp_path / "cache"
    cache.write_text("a file where the directory should be")
    index = load(cache / "sub", custom)
    assert index.compiled_path is None
    assert index.translate("anilist:1", 4)


def test_urls_are_never_compiled(tmp_path):
    assert compiled_module.cache_key(["https://example.invalid/m.json"]) is None
    assert compiled_module.cache_key([str(tmp_path / "missing.json")]) is None


def test_a_url_is_never_keyed_even_where_its_spelling_is_a_local_file(
    tmp_path, monkeypatch
):
    """`https://host/m.json` read as a path is `https:/host/m.json`: not the URL."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "https:" / "host").mkdir(parents=True)
    write(tmp_path / "https:" / "host" / "m.json", CUSTOM)
    assert compiled_module._file_digest("https://host/m.json") is not None
    assert compiled_module.cache_key(["https://host/m.json"]) is None


def test_old_compiled_files_are_pruned(tmp_path):
    cache = tmp_path / "cache"
    for n in range(compiled_module._KEEP + 3):
        custom = write(tmp_path / f"c{n}.json", {f"anilist:{n}": {"mal:1": {"1": "1"}}})
        load(cache, custom, include_default=False)
    assert len(files(cache)) == compiled_module._KEEP


@pytest.fixture(scope="module")
def bundled_pair(tmp_path_factory):
    cache = tmp_path_factory.mktemp("bundled-cache")
    built = load_index([BUNDLED], include_default=False, notice=None, cache=cache)
    opened = load_index([BUNDLED], include_default=False, notice=None, cache=cache)
    assert opened.compiled_path is not None
    return built, opened, built.descriptors()


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_the_compiled_curated_file_answers_every_question_like_the_build(
    bundled_pair, data
):
    built, opened, descriptors = bundled_pair
    picked = data.draw(st.lists(st.sampled_from(descriptors), min_size=1, max_size=5))
    episode = data.draw(st.integers(min_value=0, max_value=60))
    mode = data.draw(st.sampled_from(["count", "index"]))
    for d in picked:
        assert opened.translate(d, episode) == built.translate(d, episode)
        assert opened.edges(d) == built.edges(d)
    watched = {d: range(1, episode + 1) for d in picked}
    assert opened.progress(watched, mode=mode) == built.progress(watched, mode=mode)


# -- generated, real-shaped datasets: the opened file answers like the build ---------

AUTHORITIES = ("anilist", "mal", "kitsu")


def descriptor_names(rng: random.Random, count: int) -> list[str]:
    """Descriptors of every shape the data has: scoped seasons, unscoped shows,
    AniDB with and without a scope (unscoped is canonicalized to `:R`)."""
    out: set[str] = set()
    while len(out) < count:
        shape = rng.randrange(5)
        n = rng.randrange(1, 400_000)
        if shape == 0:
            out.add(f"{rng.choice(AUTHORITIES)}:{n}")
        elif shape == 1:
            out.add(f"tvdb_show:{n}:s{rng.randrange(0, 12)}")
        elif shape == 2:
            out.add(f"tmdb_show:{n}")
        elif shape == 3:
            out.add(f"anidb:{n}:{rng.choice('RSOCTP')}")
        else:
            out.add(f"anidb:{n}")
    return sorted(out)


def range_map(rng: random.Random) -> dict[str, str]:
    """A range map with 1:1, ratio, fan-out, comma, open and disabled ranges."""
    out: dict[str, str] = {}
    cursor = 1
    for _ in range(rng.randrange(1, 4)):
        start = cursor + rng.randrange(0, 3)
        length = rng.randrange(1, 30)
        target = rng.randrange(1, 60)
        kind = rng.randrange(6)
        if kind == 0:
            out[f"{start}-{start + length - 1}"] = f"{target}-{target + length - 1}"
        elif kind == 1:
            n = rng.choice((2, 3))
            out[f"{start}-{start + length * n - 1}"] = (
                f"{target}-{target + length - 1}|{n}"
            )
            length *= n
        elif kind == 2:
            n = rng.choice((2, 3))
            out[f"{start}-{start + length - 1}"] = (
                f"{target}-{target + length * n - 1}|-{n}"
            )
        elif kind == 3:
            split = target + length // 2
            out[f"{start}-{start + length}"] = (
                f"{target}-{split},{split + 3}-{split + 3 + length - length // 2}"
            )
            length += 1
        elif kind == 4:
            out[f"{start}-{start + length - 1}"] = f"{target}|0"
        else:
            out[f"{start}-"] = f"{target}-"
            break
        cursor = start + length
    if rng.randrange(10) == 0:
        out["bad"] = "1"  # invalid: reported, skipped
    return out


def dataset(seed: int, size: int) -> dict[str, dict[str, dict[str, str]]]:
    rng = random.Random(seed)
    names = descriptor_names(rng, size)
    data: dict[str, dict[str, dict[str, str]]] = {}
    for source in rng.sample(names, k=max(1, size * 2 // 3)):
        targets = rng.sample(names, k=rng.randrange(1, 4))
        data[source] = {t: range_map(rng) for t in targets if t != source}
        if rng.randrange(4) == 0:  # the same map text twice: one shared tuple
            shared = range_map(rng)
            for t in targets:
                if t != source:
                    data[source][t] = dict(shared)
    # the first and last descriptors (numbers 0 and n - 1 in the file) both ways
    first, last = min(names, key=canonical), max(names, key=canonical)
    data.setdefault(first, {})[last] = range_map(rng)
    data.setdefault(last, {})[first] = range_map(rng)
    data["not a descriptor"] = {names[0]: {"1": "1"}}
    return data


def canonical(name: str) -> str:
    """Unscoped AniDB means regular episodes (`:R`)."""
    return f"{name}:R" if name.startswith("anidb:") and name.count(":") == 1 else name


def overrides(seed: int, data: dict) -> dict:
    """A later custom file: other maps for some edges, a few new ones."""
    rng = random.Random(seed + 1)
    out: dict[str, dict[str, dict[str, str]]] = {}
    for source in rng.sample(sorted(data), k=max(1, len(data) // 3)):
        for target in data[source]:
            if rng.randrange(2):
                out.setdefault(source, {})[target] = range_map(rng)
    return out


def tables(index) -> tuple[dict, dict]:
    """The forward and reverse tables, read through the mapping protocol."""
    forward = {name: index._forward[name] for name in index._forward}
    reverse = {name: index._reverse.get(name) for name in index._reverse}
    return forward, reverse


def assert_same_answers(opened, built) -> None:
    descriptors = built.descriptors()
    assert opened.descriptors() == descriptors
    assert tables(opened) == tables(built)
    assert opened.invalid == built.invalid
    assert opened.origins == built.origins
    assert opened.explicit_pair_count() == built.explicit_pair_count()
    assert opened.stats() | {"load_seconds": 0} == built.stats() | {"load_seconds": 0}
    for d in descriptors:
        assert opened.edges(d) == built.edges(d)
        for episode in (0, 1, 2, 5, 17, 40, 90):
            assert opened.translate(d, episode) == built.translate(d, episode)
    for mode in ("count", "index"):
        watched = {d: range(1, 1 + n % 40) for n, d in enumerate(descriptors)}
        assert opened.progress(watched, mode=mode) == built.progress(watched, mode=mode)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), size=st.integers(4, 60))
def test_generated_datasets_answer_the_same_from_the_compiled_file(
    tmp_path_factory, seed, size
):
    base = tmp_path_factory.mktemp("generated")
    data = dataset(seed, size)
    custom = write(base / "custom.json", data)
    later = write(base / "later.json", overrides(seed, data))
    built = load(base / "cache", custom, later)
    opened = load(base / "cache", custom, later)
    assert built.compiled_path is None and opened.compiled_path is not None
    assert_same_answers(opened, built)


@pytest.fixture(scope="module")
def big_files(tmp_path_factory):
    """Hundreds of descriptors: the hash table has collisions and long probes.

    Gives the built index and a function opening the compiled file afresh (no
    memo filled by another test).
    """
    base = tmp_path_factory.mktemp("big")
    data = dataset(2026, 700)
    custom = write(base / "custom.json", data)
    later = write(base / "later.json", overrides(2026, data))
    built = load(base / "cache", custom, later)

    def reopen():
        opened = load(base / "cache", custom, later)
        assert opened.compiled_path is not None
        return opened

    return built, reopen


@pytest.fixture(scope="module")
def big_pair(big_files):
    built, reopen = big_files
    return built, reopen()


def test_a_large_generated_dataset_answers_the_same(big_pair):
    built, opened = big_pair
    descriptors = built.descriptors()
    assert len(descriptors) > 600
    for end in (descriptors[0], descriptors[-1]):  # numbers 0 and n - 1
        assert end in built._forward and end in built._reverse
    assert_same_answers(opened, built)


def test_a_freshly_opened_file_reads_like_the_built_dicts(big_files):
    built, reopen = big_files
    opened = reopen()
    forward, reverse = opened._forward, opened._reverse
    missing = object()
    names = [*built.descriptors(), "anilist:0", "mal:123456789"]
    # membership first: nothing is read (memoized) yet
    for name in names:
        assert (name in forward) == (name in built._forward), name
        assert (name in reverse) == (name in built._reverse), name
    assert 7 not in forward and 7 not in reverse  # not a descriptor string
    for name in names:
        assert forward.get(name, missing) == built._forward.get(name, missing)
        assert reverse.get(name, missing) == built._reverse.get(name, missing)
    assert len(forward) == len(built._forward)
    assert list(forward.keys()) == sorted(built._forward)
    assert list(reverse.keys()) == sorted(built._reverse)
    assert list(forward.values()) == [built._forward[k] for k in sorted(forward)]
    only_target = next(n for n in built._reverse if n not in built._forward)
    with pytest.raises(KeyError) as missing_key:
        forward[only_target]
    assert missing_key.value.args == (only_target,)
    assert only_target not in forward  # asked after a failed read too


def test_a_freshly_opened_file_keeps_reads_and_shares_equal_range_maps(big_files):
    built, reopen = big_files
    forward = reopen()._forward
    # the build shares one tuple per distinct range-map text; so does the file
    shared: dict[int, list[tuple[str, str]]] = {}
    for name in built._forward:
        for target, pairs in built._forward[name].items():
            shared.setdefault(id(pairs), []).append((name, target))
    (first, second) = next(v for v in shared.values() if len(v) > 1)[:2]
    assert first[0] != second[0]  # two sources: two separate reads
    assert forward[first[0]][first[1]] is forward[second[0]][second[1]]
    source = next(iter(built._forward))
    assert forward.get(source) is forward.get(source)
    assert forward[source] is forward.get(source)
    assert source in forward
    provenances = {
        id(pair.provenance)
        for name in forward
        for pairs in forward[name].values()
        for pair in pairs
    }
    # one shared tuple per distinct provenance (the later file overrides some maps)
    by_value = {pair.provenance for pairs in built._forward.values()
                for ranges in pairs.values() for pair in ranges}  # fmt: skip
    assert len(by_value) >= 2 and len(provenances) == len(by_value)


def test_one_range_map_text_is_written_once_and_read_back_as_one_tuple(tmp_path):
    """Edges with equal map texts share one pairs tuple in the build; the file holds
    that tuple once, and every edge opened from it reads the same object."""
    shared = {"1-12": "1-12", "13-": "13-|0"}
    custom = write(
        tmp_path / "custom.json",
        {
            "anilist:1": {"mal:1": shared},
            "anilist:2": {"mal:2": shared, "mal:3": {"1": "5"}},
            "anilist:3": {"mal:1": shared},
        },
    )
    cache = tmp_path / "cache"
    built = load(cache, custom)
    (path,) = files(cache)
    pairs_count = compiled_module._HEADER.unpack_from(path.read_bytes(), 0)[8]
    assert pairs_count == 2  # the shared map and the one of anilist:2 -> mal:3
    forward = load(cache, custom)._forward
    one = forward["anilist:1"]["mal:1"]
    assert one == built._forward["anilist:1"]["mal:1"]
    assert forward["anilist:2"]["mal:2"] is one
    assert forward["anilist:3"]["mal:1"] is one
    assert forward["anilist:2"]["mal:3"] is not one


# -- damage: refused, removed, never misread ------------------------------------------

HEADER_FIELDS = (
    "magic", "version", "order", "digest", "length", "checksum",
    "count", "slot_count", "pairs_count", "reserved",
)  # fmt: skip
SECTIONS = compiled_module._SECTIONS


@pytest.fixture
def compiled_file(tmp_path):
    custom = write(tmp_path / "custom.json", dataset(11, 40))
    cache = tmp_path / "cache"
    load(cache, custom)
    (path,) = files(cache)
    key = compiled_module.cache_key([str(custom)])
    assert key is not None and compiled_module.open_compiled(cache, key) is not None
    return cache, key, path, path.read_bytes()


def refused(cache: Path, key: str, path: Path, raw: bytes) -> bool:
    path.write_bytes(raw)
    opened = compiled_module.open_compiled(cache, key)
    return opened is None and not path.exists()


def forge(raw: bytes, **changes) -> bytes:
    """The file with header fields changed and a checksum that matches again.

    A section's span is changed as `<section>_start` / `<section>_size`.
    """
    size = compiled_module._HEADER.size
    fields = list(compiled_module._HEADER.unpack_from(raw, 0))
    for name, value in changes.items():
        if name in HEADER_FIELDS:
            fields[HEADER_FIELDS.index(name)] = value
        else:
            section, _, part = name.rpartition("_")
            at = 10 + 2 * SECTIONS.index(section) + (part == "size")
            fields[at] = value
    fields[5] = 0
    data = bytearray(compiled_module._HEADER.pack(*fields) + raw[size:])
    checksum = compiled_module._checksum(bytes(data))
    data[compiled_module._CHECKSUM_AT : compiled_module._CHECKSUM_AT + 4] = (
        checksum.to_bytes(4, "little")  # the header is little-endian
    )
    return bytes(data)


def damage_offsets(raw: bytes) -> list[int]:
    """Every header byte, each section's first and last byte, a stride between."""
    fields = compiled_module._HEADER.unpack_from(raw, 0)
    spans = fields[10:]
    out = set(range(compiled_module._HEADER.size + 1))  # and exactly a header
    for start, size in zip(spans[::2], spans[1::2], strict=True):
        out.update((start, start + size - 1, start + size))
    out.update(range(0, len(raw), 29))
    return sorted(o for o in out if o < len(raw))


def test_damaged_bytes_and_truncations_at_every_part_are_refused(compiled_file, caplog):
    cache, key, path, raw = compiled_file
    header = compiled_module._HEADER.size
    caplog.set_level("INFO", logger="anibridge.mappings.compiled")
    for offset in damage_offsets(raw):
        damaged = bytearray(raw)
        damaged[offset] ^= 0x10
        assert refused(cache, key, path, bytes(damaged)), offset
        caplog.clear()
        assert refused(cache, key, path, raw[:offset]), offset
        reason = (
            "empty"
            if offset == 0
            else "shorter than its header"
            if offset < header
            else "truncated or extended"
        )
        assert messages(caplog) == [
            f"mappings: rebuilding the compiled index ({path.name}: {reason})"
        ], offset
    assert refused(cache, key, path, raw + b"\0")
    caplog.clear()
    damaged = bytearray(raw)
    damaged[-1] ^= 0x10  # in the meta, after every check of the header
    assert refused(cache, key, path, bytes(damaged))
    assert messages(caplog) == [
        f"mappings: rebuilding the compiled index ({path.name}: checksum mismatch"
        " (corrupt))"
    ]
    assert forge(raw) == raw  # forging rewrites the header exactly


FOREIGN = "not a compiled index of this version"
SIZES = "inconsistent section sizes"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"magic": b"ABMXIDY\x00"}, FOREIGN),
        ({"version": compiled_module._VERSION + 1}, FOREIGN),
        ({"version": compiled_module._VERSION - 1}, FOREIGN),
        ({"order": 3 - compiled_module._BYTEORDER}, "written with another byte order"),
        ({"digest": bytes(32)}, "built from other inputs"),
        ({"length": "+1"}, "truncated or extended"),
        ({"length": "-1"}, "truncated or extended"),
        ({"meta_size": "+1"}, "section meta out of bounds"),
        ({"names_start": "+length"}, "section names out of bounds"),
        ({"name_at_size": "-4"}, SIZES),
        ({"slots_size": "-4"}, SIZES),
        ({"slot_count": 3, "slots_size": 12}, SIZES),
        ({"fwd_at_size": "-4"}, SIZES),
        ({"rev_at_size": "-4"}, SIZES),
        ({"pairs_at_size": "-4"}, SIZES),
        ({"pairs_count": "+1"}, SIZES),
        ({"count": "+1"}, SIZES),
    ],
    ids=lambda c: (
        ",".join(f"{k}{v if isinstance(v, str) else ''}" for k, v in c.items())
        if isinstance(c, dict)
        else ""
    ),
)
def test_a_well_formed_file_that_does_not_fit_is_refused(
    compiled_file, changes, reason, caplog
):
    """Foreign or inconsistent headers, even with a checksum that matches."""
    cache, key, path, raw = compiled_file
    fields = compiled_module._HEADER.unpack_from(raw, 0)
    resolved = {}
    for name, value in changes.items():
        if isinstance(value, str):
            if name in HEADER_FIELDS:
                current = fields[HEADER_FIELDS.index(name)]
            else:
                section, _, part = name.rpartition("_")
                current = fields[10 + 2 * SECTIONS.index(section) + (part == "size")]
            value = current + (len(raw) if value == "+length" else int(value))
        resolved[name] = value
    with caplog.at_level("INFO", logger="anibridge.mappings.compiled"):
        assert refused(cache, key, path, forge(raw, **resolved))
    assert messages(caplog) == [
        f"mappings: rebuilding the compiled index ({path.name}: {reason})"
    ]


def test_the_checksum_is_the_adler32_of_the_whole_file_with_its_field_as_zeros(
    compiled_file,
):
    """The header's checksum field, as the module documents it: any reader that
    recomputes it the documented way agrees with the writer."""
    _cache, _key, _path, raw = compiled_file
    at = compiled_module._CHECKSUM_AT
    stored = int.from_bytes(raw[at : at + 4], "little")  # the header is little-endian
    assert stored == zlib.adler32(raw[:at] + bytes(4) + raw[at + 4 :])
    assert compiled_module._HEADER.unpack_from(raw, 0)[5] == stored


def test_sections_follow_the_header_in_order_and_aligned(compiled_file):
    """The layout the module describes: every section 8-byte aligned, in order,
    with less than 8 bytes of padding before it, the last ending the file."""
    _cache, _key, _path, raw = compiled_file
    fields = compiled_module._HEADER.unpack_from(raw, 0)
    position = compiled_module._HEADER.size
    for start, size in zip(fields[10::2], fields[11::2], strict=True):
        assert start % 8 == 0 and 0 <= start - position < 8
        position = start + size
    assert position == len(raw) == fields[4]


def test_a_file_built_from_other_inputs_is_removed_and_rebuilt(tmp_path, custom):
    cache = tmp_path / "cache"
    load(cache, custom)
    (path,) = files(cache)
    other = write(tmp_path / "other.json", {"anilist:5": {"mal:5": {"1": "1"}}})
    other_key = compiled_module.cache_key([str(other)])
    assert other_key is not None
    foreign = path.with_name(compiled_module._path_for(cache, other_key).name)
    path.rename(foreign)  # the right name, another key's content
    assert compiled_module.open_compiled(cache, other_key) is None
    assert not foreign.exists()
    rebuilt = load(cache, other)
    assert rebuilt.compiled_path is None
    assert rebuilt.descriptors() == ["anilist:5", "mal:5"]


# -- the key ------------------------------------------------------------------------


def test_the_key_names_each_input_file_not_only_its_content(tmp_path, monkeypatch):
    """Origins and invalid entries name the file: equal content elsewhere is another
    index, and so is another order (a later file beats an earlier one)."""
    one = write(tmp_path / "one.json", CUSTOM)
    two = write(tmp_path / "two.json", CUSTOM)
    key = compiled_module.cache_key
    assert key([str(one)]) == key([str(one)])
    assert key([str(one)]) != key([str(two)])
    assert key([str(one), str(two)]) != key([str(two), str(one)])
    assert key([str(one), str(two)]) != key([str(one)])
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        write(tmp_path / folder / "m.json", CUSTOM)
    monkeypatch.chdir(tmp_path / "a")
    in_a = key(["m.json"])
    assert in_a == key([str(tmp_path / "a" / "m.json")])
    monkeypatch.chdir(tmp_path / "b")
    assert key(["m.json"]) != in_a  # a relative name is the file it resolves to
    cache = tmp_path / "cache"
    load(cache, one)
    other = load(cache, two)
    assert other.compiled_path is None
    assert {e.file for e in other.invalid} == {str(two)}


RULE_MODULES = ("grammar.py", "index.py", "merge.py", "payload.py", "ranges.py")


def test_the_key_changes_with_the_source_of_every_rule_module(tmp_path, monkeypatch):
    """A new AniBridge whose rules differ never opens an older compiled file."""
    package = Path(compiled_module.__file__).parent
    copy = tmp_path / "mappings"
    copy.mkdir()
    for name in [*RULE_MODULES, "compiled.py", "dataset.py"]:
        (copy / name).write_bytes((package / name).read_bytes())
    custom = write(tmp_path / "custom.json", CUSTOM)
    monkeypatch.setattr(compiled_module, "__file__", str(copy / "compiled.py"))
    before = compiled_module.cache_key([str(custom)])
    seen = {before}
    for name in RULE_MODULES:
        with (copy / name).open("a") as handle:
            handle.write("\n# changed\n")
        seen.add(compiled_module.cache_key([str(custom)]))
    assert len(seen) == len(RULE_MODULES) + 1
    for name in ("compiled.py", "dataset.py"):  # not rules of the index's content
        with (copy / name).open("a") as handle:
            handle.write("\n# changed\n")
    assert compiled_module.cache_key([str(custom)]) in seen
    (copy / "grammar.py").unlink()  # installed without sources: still a key
    without = compiled_module.cache_key([str(custom)])
    assert without is not None and without not in seen
    monkeypatch.undo()
    assert compiled_module.cache_key([str(custom)]) == before


# -- writing ------------------------------------------------------------------------


def test_pruning_keeps_the_newest_files_and_the_one_just_written(tmp_path):
    cache = tmp_path / "cache"
    paths = []
    for n in range(compiled_module._KEEP + 2):
        custom = write(tmp_path / f"c{n}.json", {f"anilist:{n}": {"mal:1": {"1": "1"}}})
        key = compiled_module.cache_key([str(custom)])
        assert key is not None
        paths.append(compiled_module._path_for(cache, key))
        load(cache, custom)
        os.utime(paths[-1], (1_000_000 + n, 1_000_000 + n))  # a fake clock
    assert [p.exists() for p in paths] == [False, False, True, True, True, True]
    # the one just written stays even when its clock says it is the oldest
    for path in files(cache):
        os.utime(path, (4_000_000_000, 4_000_000_000))
    late = write(tmp_path / "late.json", {"anilist:77": {"mal:1": {"1": "1"}}})
    assert load(cache, late).compiled_path is None
    assert len(files(cache)) == compiled_module._KEEP + 1
    assert load(cache, late).compiled_path is not None


def messages(caplog) -> list[str]:
    found = [
        r.getMessage()
        for r in caplog.records
        if r.name == "anibridge.mappings.compiled"
    ]
    caplog.clear()
    return found


def test_a_failed_replace_leaves_no_temporary_file(tmp_path, custom, caplog):
    cache = tmp_path / "cache"
    key = compiled_module.cache_key([str(custom)])
    assert key is not None
    blocker = compiled_module._path_for(cache, key)
    blocker.mkdir(parents=True)  # a directory where the file goes: rename fails
    (blocker / "inside").write_text("x")
    with caplog.at_level("INFO", logger="anibridge.mappings.compiled"):
        index = load(cache, custom)
    assert index.compiled_path is None
    refused, kept, unwritten = messages(caplog)
    assert refused.startswith("mappings: rebuilding the compiled index ([Errno 21]")
    assert kept.startswith(f"mappings: cannot remove {blocker}: [Errno 21]")
    assert unwritten.startswith(
        f"mappings: compiled index not written to {cache}: [Errno 21]"
    )
    assert str(blocker) in unwritten
    assert sorted(p.name for p in cache.iterdir()) == [blocker.name]
    assert load(cache, custom).compiled_path is None  # still built every time


def test_removing_a_file_that_is_already_gone_is_silent(tmp_path, caplog):
    with caplog.at_level("INFO", logger="anibridge.mappings.compiled"):
        compiled_module._remove(tmp_path / "index-gone.abmx")
    assert messages(caplog) == []


def test_a_cache_directory_is_created_with_its_parents(tmp_path, custom):
    cache = tmp_path / "not" / "yet" / "there"
    load(cache, custom)
    assert load(cache, custom).compiled_path is not None


def test_the_temporary_file_is_made_next_to_the_compiled_file(
    tmp_path, custom, monkeypatch
):
    """A rename is atomic only within one file system: never via the temp dir."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-temp-dir"))
    cache = tmp_path / "cache"
    load(cache, custom)
    assert load(cache, custom).compiled_path is not None
