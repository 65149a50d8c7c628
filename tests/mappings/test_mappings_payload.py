"""Reading payloads: formats by name and magic, bounds, locations and includes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zstandard

from anibridge.mappings import payload
from anibridge.mappings.errors import InvalidEntry, MappingError
from anibridge.mappings.payload import (
    _zstd_decompress,
    decode_payload,
    is_url,
    load_layers,
    normalize_location,
    read_location,
    resolve_include,
)

PAIR = {"anilist:1": {"mal:1": {"1": "1"}}}


def zstd(raw: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(raw)


def test_only_http_and_https_locations_are_urls() -> None:
    assert is_url("http://host/m.json")
    assert is_url("https://host/m.json")
    assert not is_url("/srv/m.json")
    assert not is_url("ftp://host/m.json")
    assert not is_url("m.http://x")


def test_json_keeps_range_maps_undecoded_until_needed() -> None:
    data = decode_payload(json.dumps(PAIR).encode(), "m.json")
    assert isinstance(data["anilist:1"]["mal:1"], msgspec.Raw)
    assert msgspec.json.decode(data["anilist:1"]["mal:1"]) == {"1": "1"}


def test_json_outside_the_v3_layout_is_decoded_generically() -> None:
    # the index reports each bad entry instead of the whole file failing
    odd = {"anilist:1": [1, 2], "anilist:2": {"mal:2": 5}}
    assert decode_payload(json.dumps(odd).encode(), "m.json") == odd


def test_a_yaml_name_is_read_as_yaml_even_when_the_text_is_json() -> None:
    # YAML 1.1 reads 1e3 as text, JSON as a number: the name decides
    assert decode_payload(b'{"k": 1e3}', "m.yaml") == {"k": "1e3"}
    assert decode_payload(b'{"k": 1e3}', "M.YML") == {"k": "1e3"}
    assert decode_payload(b'{"k": 1e3}', "m.json") == {"k": 1000.0}


def test_other_names_fall_back_from_json_to_yaml() -> None:
    assert decode_payload(b"anilist:1:\n  mal:1: {1: 2}\n", "m.txt") == {
        "anilist:1": {"mal:1": {1: 2}}
    }


def test_a_json_name_is_json_only() -> None:
    with pytest.raises(MappingError, match=r"^m\.json: not valid JSON/YAML"):
        decode_payload(b"anilist:1: {}\n", "m.json")
    with pytest.raises(MappingError, match=r"^m\.JSON: not valid JSON/YAML"):
        decode_payload(b"anilist:1: {}\n", "m.JSON")


def test_zstd_is_found_by_its_magic_and_its_suffix_dropped() -> None:
    raw = zstd(b"anilist:1: {}\n")
    assert decode_payload(raw, "m.yaml.zst") == {"anilist:1": {}}
    assert decode_payload(raw, "m.bin") == {"anilist:1": {}}
    # `.json.zst` is JSON only, like `.json`, and the error names `m.json`
    with pytest.raises(MappingError, match=r"^m\.json: not valid JSON/YAML"):
        decode_payload(raw, "m.json.zst")


def test_broken_zstd_is_a_clear_error() -> None:
    raw = zstd(json.dumps(PAIR).encode())
    with pytest.raises(MappingError, match=r"^m\.json\.zst: broken zstd data \("):
        decode_payload(raw[:-4], "m.json.zst")


def test_the_top_level_must_be_an_object() -> None:
    with pytest.raises(MappingError, match=r"top level must be an object.*got list"):
        decode_payload(b"[1, 2]", "m.json")


def alias_bomb(extra: str = "") -> bytes:
    # 100 aliases of a 1000-node list add exactly 100,000 nodes
    anchored = "[" + ",".join(["1"] * 999) + "]"
    return (f"a: &x {anchored}\nb: [" + ",".join(["*x"] * 100) + "]\n" + extra).encode()


def test_yaml_aliases_may_add_100000_nodes_and_no_more() -> None:
    assert len(decode_payload(alias_bomb(), "m.yaml")["b"]) == 100
    with pytest.raises(MappingError, match="aliases would expand"):
        decode_payload(alias_bomb("c: &y 1\nd: *y\n"), "m.yaml")  # one more


def test_yaml_size_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    text = b"anilist:1: {}\n"
    monkeypatch.setattr(payload, "MAX_PAYLOAD_BYTES", len(text))
    assert decode_payload(text, "m.yaml") == {"anilist:1": {}}
    with pytest.raises(MappingError, match="limit"):
        decode_payload(text + b"\n", "m.yaml")


def test_zstd_output_is_bounded_in_total_not_per_step() -> None:
    data = os.urandom(3000)  # incompressible: every 256-byte step yields ~256 bytes
    raw = zstd(data)
    assert _zstd_decompress(raw, limit=3000) == data
    with pytest.raises(zstandard.ZstdError, match="more than 2,999 bytes"):
        _zstd_decompress(raw, limit=2999)


def test_zstd_default_bound_is_the_payload_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(payload, "MAX_PAYLOAD_BYTES", 100)
    assert _zstd_decompress(zstd(b"x" * 100)) == b"x" * 100
    with pytest.raises(zstandard.ZstdError):
        _zstd_decompress(zstd(b"x" * 101))


def test_a_truncated_zstd_stream_is_refused() -> None:
    raw = zstd(os.urandom(1000))
    with pytest.raises(zstandard.ZstdError, match=r"^truncated stream$"):
        _zstd_decompress(raw[:600])


def test_read_location_uses_the_given_fetcher_for_urls(tmp_path: Path) -> None:
    seen: list[str] = []

    def fetch(url: str) -> bytes:
        seen.append(url)
        return b"body"

    assert read_location("https://example.invalid/m.json", fetch) == b"body"
    assert seen == ["https://example.invalid/m.json"]

    def fail(url: str) -> bytes:
        raise RuntimeError("boom")

    with pytest.raises(MappingError) as caught:
        read_location("http://example.invalid/m.json", fail)
    assert str(caught.value) == "http://example.invalid/m.json: download failed (boom)"


def test_read_location_reads_files_and_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b"{}")
    assert read_location(str(path)) == b"{}"
    with pytest.raises(MappingError) as caught:
        read_location(str(tmp_path / "missing.json"))
    assert str(caught.value) == (
        f"{tmp_path / 'missing.json'}: cannot read (No such file or directory)"
    )


def test_includes_resolve_against_their_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    parent = str(tmp_path / "conf" / "custom.yaml")
    assert resolve_include(parent, "inc/a.json") == str(tmp_path / "conf/inc/a.json")
    assert resolve_include(parent, "../b.json") == str(tmp_path / "b.json")
    assert resolve_include(parent, "/srv/c.json") == "/srv/c.json"
    assert resolve_include(parent, "~/d.json") == str(tmp_path / "home/d.json")
    assert resolve_include(parent, "https://h/e.json") == "https://h/e.json"
    url = "https://host/v3/mappings.json"
    assert resolve_include(url, "extra/f.json") == "https://host/v3/extra/f.json"
    assert resolve_include(url, "/g.json") == "https://host/g.json"


def test_locations_are_normalized_for_cycle_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert normalize_location("a/../m.json") == str(tmp_path / "m.json")
    assert normalize_location("~/m.json") == str(tmp_path / "m.json")
    assert normalize_location("https://h/a/../m.json") == "https://h/a/../m.json"


def write(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def origins(loaded: Any) -> list[str]:
    return [Path(layer.origin).name for layer in loaded.layers]


def test_layers_come_weakest_first_and_dollar_keys_are_dropped(tmp_path: Path) -> None:
    write(tmp_path / "c.json", {"$meta": {"v": 1}, **PAIR})
    write(tmp_path / "d.json", PAIR)
    write(tmp_path / "b.json", {"$includes": ["c.json", "d.json"], "$schema": "x"})
    a = write(tmp_path / "a.json", PAIR)
    loaded = load_layers([a, str(tmp_path / "b.json")])
    # roots in order; within a root the includes (later weaker) before their parent
    assert origins(loaded) == ["a.json", "d.json", "c.json", "b.json"]
    assert [list(layer.data) for layer in loaded.layers] == [["anilist:1"]] * 3 + [[]]
    assert loaded.invalid == []


def test_a_location_is_loaded_once(tmp_path: Path) -> None:
    write(tmp_path / "shared.json", PAIR)
    write(tmp_path / "x.json", {"$includes": ["shared.json"]})
    write(tmp_path / "y.json", {"$includes": ["./shared.json"]})
    top = write(tmp_path / "top.json", {"$includes": ["x.json", "y.json"]})
    loaded = load_layers([top])
    assert origins(loaded) == ["y.json", "shared.json", "x.json", "top.json"]
    assert loaded.invalid == []


def test_a_cycle_names_the_file_that_closes_it(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", {"$includes": ["b.json"]})
    b = write(tmp_path / "b.json", {"$includes": ["c.json"]})
    c = write(tmp_path / "c.json", {"$includes": ["b.json"]})
    loaded = load_layers([a])
    assert loaded.invalid == [
        InvalidEntry(c, None, None, "$includes", f"include cycle: {b} -> {c} -> {b}")
    ]
    assert origins(loaded) == ["c.json", "b.json", "a.json"]


@pytest.mark.parametrize("includes", ["b.json", ["b.json", 3], {"b.json": 1}])
def test_includes_must_be_a_list_of_strings(tmp_path: Path, includes: Any) -> None:
    write(tmp_path / "b.json", PAIR)
    a = write(tmp_path / "a.json", {"$includes": includes, **PAIR})
    loaded = load_layers([a])
    assert loaded.invalid == [
        InvalidEntry(a, None, None, "$includes", "must be a list of paths/URLs")
    ]
    assert origins(loaded) == ["a.json"]


def test_a_broken_include_is_reported_but_a_broken_root_raises(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    a = write(tmp_path / "a.json", {"$includes": ["bad.json"], **PAIR})
    loaded = load_layers([a])
    (problem,) = loaded.invalid
    bad = str(tmp_path / "bad.json")
    assert (problem.file, problem.source, problem.target, problem.key) == (
        bad,
        None,
        None,
        None,
    )
    assert problem.reason.startswith(f"include not loaded: {bad}: not valid JSON")
    with pytest.raises(MappingError, match="not valid JSON"):
        load_layers([bad])


def test_includes_of_a_url_are_fetched_with_the_given_fetcher() -> None:
    files = {
        "https://h/v3/m.json": json.dumps({"$includes": ["more.json"]}).encode(),
        "https://h/v3/more.json": json.dumps(PAIR).encode(),
    }
    loaded = load_layers(["https://h/v3/m.json"], fetch=files.__getitem__)
    assert [layer.origin for layer in loaded.layers] == [
        "https://h/v3/more.json",
        "https://h/v3/m.json",
    ]
    assert loaded.invalid == []
