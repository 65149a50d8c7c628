"""Where the dataset lives, which copy loads, notices, reports and the lazy index."""

from __future__ import annotations

import gc
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import zstandard

from anibridge.mappings import dataset
from anibridge.mappings.dataset import (
    BUNDLED,
    DEFAULT_URL,
    LazyIndex,
    _stringify,
    bundled_json_text,
    cache_dir,
    cache_files,
    load_index,
    mappings_url,
    write_bundled_json,
)
from anibridge.mappings.errors import MappingLoadError
from anibridge.provider.base import ExternalId

PAIR = {"anilist:1": {"mal:1": {"1-12": "1-12"}}}
NOT_YET = (
    "anibridge: mappings dataset not downloaded yet; using the bundled curated "
    "file (run `anibridge mappings update` for the full dataset)"
)


def test_the_url_comes_from_the_environment_or_the_release(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANIBRIDGE_MAPPINGS_URL", raising=False)
    assert mappings_url() == DEFAULT_URL
    monkeypatch.setenv("ANIBRIDGE_MAPPINGS_URL", "")
    assert mappings_url() == DEFAULT_URL  # empty counts as unset
    monkeypatch.setenv("ANIBRIDGE_MAPPINGS_URL", "https://mirror/m.json")
    assert mappings_url() == "https://mirror/m.json"


def test_the_cache_override_expands_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ANIBRIDGE_MAPPINGS_CACHE", "~/maps")
    assert cache_dir() == tmp_path / "maps"
    files = cache_files()
    assert (files.current, files.previous, files.meta) == (
        tmp_path / "maps" / "mappings.dataset",
        tmp_path / "maps" / "mappings.previous.dataset",
        tmp_path / "maps" / "meta.json",
    )
    assert cache_files(tmp_path / "x").directory == tmp_path / "x"


def test_stringify_turns_keys_and_whole_numbers_into_text() -> None:
    raw: Any = {"a": {1: 2, "b": None, "c": True, "d": "x", "e": [1]}}
    assert _stringify(raw) == {
        "a": {"1": "2", "b": None, "c": True, "d": "x", "e": [1]}
    }


def test_write_bundled_json_makes_the_shipped_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "bundled.json.zst"
    monkeypatch.setattr(dataset, "BUNDLED", target)
    assert write_bundled_json() == target
    written = zstandard.ZstdDecompressor().decompress(target.read_bytes())
    assert written == bundled_json_text()


def write(path: Path, data: Any) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_the_bundled_notice_goes_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load_index(cache=tmp_path, compiled=False)
    out, err = capsys.readouterr()
    assert (out, err) == ("", NOT_YET + "\n")
    assert list(tmp_path.iterdir()) == []  # compiled=False: no compiled file


def test_unusable_downloads_fall_back_with_their_own_notice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = cache_files(tmp_path)
    files.current.write_bytes(b"{broken")
    files.previous.write_bytes(b"[]")
    notices: list[str] = []
    with caplog.at_level(logging.WARNING, logger="anibridge.mappings.dataset"):
        index = load_index(cache=tmp_path, notice=notices.append)
    assert index.origins == (str(BUNDLED),)
    assert notices == [NOT_YET.replace("not downloaded yet", "unusable")]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert warnings[0].startswith(f"cached mappings unusable: {files.current}: ")
    assert warnings[1].startswith(f"cached mappings unusable: {files.previous}: ")


def test_the_previous_copy_is_used_without_a_current_one(tmp_path: Path) -> None:
    files = cache_files(tmp_path)
    write(files.previous, PAIR)
    notices: list[str] = []
    for _ in range(2):  # built, then opened from the compiled cache
        index = load_index(cache=tmp_path, notice=notices.append)
        assert index.origins == (str(files.previous),)
        assert index.translate("anilist:1", 3) == {ExternalId("mal", "1"): (3,)}
    assert notices == []


def test_the_bundled_notice_comes_with_the_compiled_copy_too(tmp_path: Path) -> None:
    notices: list[str] = []
    load_index(cache=tmp_path, notice=notices.append)
    load_index(cache=tmp_path, notice=notices.append)  # the compiled file
    assert notices == [NOT_YET, NOT_YET]
    cached = write(tmp_path / "custom.json", PAIR)
    load_index([cached], include_default=False, cache=tmp_path, notice=notices.append)
    load_index([cached], include_default=False, cache=tmp_path, notice=notices.append)
    assert notices == [NOT_YET, NOT_YET]  # no bundled file, no notice


def test_the_cached_dataset_loads_its_includes_with_the_given_fetcher(
    tmp_path: Path,
) -> None:
    files = cache_files(tmp_path)
    write(files.current, {"$includes": ["https://example.invalid/more.json"]})
    more = json.dumps(PAIR).encode()
    seen: list[str] = []

    def fetch(url: str) -> bytes:
        seen.append(url)
        return more

    index = load_index(cache=tmp_path, fetch=fetch, compiled=False)
    assert seen == ["https://example.invalid/more.json"]
    assert index.invalid == ()
    assert index.translate("anilist:1", 2) == {ExternalId("mal", "1"): (2,)}


def test_load_seconds_is_the_time_the_load_took(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the load's first reading of the clock to its last, on a fake clock."""
    custom = write(tmp_path / "custom.json", PAIR)
    readings = iter([10.0, 12.5, 20.0, 20.25])

    class Clock:
        @staticmethod
        def perf_counter() -> float:
            return next(readings)

    monkeypatch.setattr(dataset, "time", Clock)
    built = load_index([custom], include_default=False, cache=tmp_path)
    assert built.load_seconds == 2.5
    opened = load_index([custom], include_default=False, cache=tmp_path)
    assert opened.load_seconds == 0.25  # opened from the compiled cache


def test_load_problems_come_before_merge_problems(tmp_path: Path) -> None:
    custom = write(
        tmp_path / "custom.json",
        {
            "$includes": ["missing.json"],
            "anilist:1": {"mal:1": {"x": "1"}, "bad target": {"1": "1"}},
        },
    )
    index = load_index(
        [write(tmp_path / "base.json", PAIR), custom],
        include_default=False,
        cache=tmp_path,
        report_invalid=None,
    )
    # reading, then merging, then indexing
    assert [(p.file, p.target, p.key) for p in index.invalid] == [
        (str(tmp_path / "missing.json"), None, None),
        (custom, "bad target", None),
        (custom, "mal:1", "x"),
    ]


def test_the_report_lists_the_first_ten_invalid_entries(tmp_path: Path) -> None:
    bad = {f"anilist:{n}": {"mal:1": {"x": "1"}} for n in range(12)}
    reports: list[str] = []
    load_index(
        [write(tmp_path / "bad.json", {**PAIR, **bad})],
        include_default=False,
        cache=tmp_path,
        report_invalid=reports.append,
    )
    (report,) = reports
    lines = report.splitlines()
    assert lines[0] == "12 invalid mapping entries skipped"
    assert len(lines) == 12 and lines[-1] == "  ... and 2 more"


def test_invalid_entries_are_logged_by_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "bad.json", {"anilist:1": {"mal:1": {"x": "1"}}})
    with caplog.at_level(logging.WARNING, logger="anibridge.mappings.dataset"):
        load_index([path], include_default=False, cache=tmp_path, notice=None)
    (record,) = caplog.records
    assert record.getMessage().startswith("1 invalid mapping entries skipped\n")


def test_an_include_over_a_url_is_never_compiled(tmp_path: Path) -> None:
    custom = write(
        tmp_path / "custom.json",
        {"$includes": ["https://example.invalid/more.json"], **PAIR},
    )

    def fetch(url: str) -> bytes:
        return json.dumps({"anilist:2": {"mal:2": {"1": "1"}}}).encode()

    load_index([custom], include_default=False, cache=tmp_path, fetch=fetch)
    assert [p.name for p in tmp_path.iterdir()] == ["custom.json"]


def test_a_lazy_index_loads_once_on_first_use(tmp_path: Path) -> None:
    path = write(tmp_path / "m.json", PAIR)
    loads: list[int] = []

    def load() -> Any:
        loads.append(1)
        return load_index([path], include_default=False, compiled=False)

    lazy = LazyIndex(load)
    assert not lazy.loaded
    with pytest.raises(AttributeError, match=r"^__missing_dunder__$"):
        lazy.__missing_dunder__  # noqa: B018 - probing dunders loads nothing
    assert loads == []
    assert lazy.translate("anilist:1", 4) == {ExternalId("mal", "1"): (4,)}
    assert lazy.loaded and lazy.get() is lazy.get()
    assert lazy.origins == (path,)
    assert loads == [1]


def test_custom_urls_use_the_given_fetcher(tmp_path: Path) -> None:
    files = {"https://example.invalid/m.json": json.dumps(PAIR).encode()}
    index = load_index(
        ["https://example.invalid/m.json"],
        include_default=False,
        fetch=files.__getitem__,
        cache=tmp_path,
    )
    assert index.translate("anilist:1", 5) == {ExternalId("mal", "1"): (5,)}


def test_the_cyclic_gc_is_back_on_after_a_build(tmp_path: Path) -> None:
    assert gc.isenabled()
    load_index(
        [write(tmp_path / "m.json", PAIR)], include_default=False, cache=tmp_path
    )
    assert gc.isenabled()


def test_strict_raises_on_a_fresh_build_and_on_the_compiled_copy(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "bad.json", {"anilist:1": {"mal:1": {"x": "1"}}})
    for _ in range(2):
        with pytest.raises(MappingLoadError, match="1 invalid mapping entries"):
            load_index([path], include_default=False, cache=tmp_path, strict=True)
