"""The compiled index cache: same answers as a build; rebuilt when stale or corrupt.

Every test loads from real files into its own cache directory; a load that opened
the compiled file says so in `index.compiled_path`.
"""

from __future__ import annotations

import json
import random
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


def test_a_changed_include_is_noticed(tmp_path):
    cache = tmp_path / "cache"
    extra = write(
        tmp_path / "extra.json", {"anilist:99000009": {"mal:99000009": {"1": "1"}}}
    )
    root = write(tmp_path / "root.json", {"$includes": ["extra.json"]})
    load(cache, root)
    assert load(cache, root).compiled_path is not None
    write(extra, {"anilist:99000009": {"mal:99000009": {"1": "4"}}})
    again = load(cache, root)
    assert again.compiled_path is None
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
