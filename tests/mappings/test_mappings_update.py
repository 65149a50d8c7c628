"""The updater against a real HTTP release host on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from anibridge.http import RetryPolicy
from anibridge.mappings import BUNDLED, cache_files, load_index
from anibridge.mappings.update import UpdateResult, read_meta, update, update_dataset
from anibridge.provider.base import ExternalId
from anibridge.testing.fakes.releases import FakeReleases
from anibridge.testing.fakes.server import FakeResponse, Fault

FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)
ASSET = "anibridge/anibridge-mappings/releases/download/v3/mappings.json.zst"


def payload(episode: int) -> bytes:
    data = {
        "$meta": {"schema_version": "3.0.3"},
        "anilist:1": {"mal:1": {"1-12": f"{episode}-{episode + 11}"}},
        "mal:1": {"anilist:1": {f"{episode}-{episode + 11}": "1-12"}},
    }
    return zstandard.ZstdCompressor(level=3).compress(json.dumps(data).encode())


@pytest.fixture
def host() -> Iterator[FakeReleases]:
    with FakeReleases() as fake:
        yield fake


def translate(cache: Path, episode: int) -> dict[ExternalId, tuple[int, ...]]:
    notices: list[str] = []
    index = load_index(cache=cache, notice=notices.append)
    assert notices == []  # the cached copy is used, not the bundled file
    return index.translate("anilist:1", episode)


def test_download_then_not_modified_then_changed(
    host: FakeReleases, tmp_path: Path
) -> None:
    files = cache_files(tmp_path)
    host.publish(ASSET, payload(1))
    url = host.url(ASSET)
    first = update(url, cache=tmp_path, retry=FAST)
    assert first.status == "updated"
    assert first.path == str(files.current)
    assert first.etag == FakeReleases.etag(payload(1))
    assert first.error is None
    assert files.current.read_bytes() == payload(1)
    assert read_meta(files)["etag"] == first.etag
    assert translate(tmp_path, 2) == {ExternalId("mal", "1"): (2,)}

    second = update(url, cache=tmp_path, retry=FAST)
    assert second.status == "not_modified"
    assert second.path == str(files.current)
    assert second.etag == first.etag
    assert host.statuses()[304] == 1  # If-None-Match was sent and honoured
    assert not files.previous.exists()

    host.publish(ASSET, payload(101))
    third = update(url, cache=tmp_path, retry=FAST)
    assert third.status == "updated"
    assert third.etag == FakeReleases.etag(payload(101))
    assert files.previous.read_bytes() == payload(1)  # last good copy kept
    assert translate(tmp_path, 2) == {ExternalId("mal", "1"): (102,)}
    assert third.as_json() == {
        "status": "updated",
        "path": str(files.current),
        "etag": third.etag,
        "error": None,
    }


@pytest.mark.parametrize(
    ("fault", "body", "why"),
    [
        (Fault(mode="status", status=500, times=5), None, "500"),
        (Fault(mode="truncated", times=5), None, "failed"),
        (None, b'{"anilist:1": {"mal:1": ', "invalid payload"),
        (None, b"<html>Not the dataset</html>", "invalid payload"),
        (None, json.dumps({"anilist:1": {"mal:1": {"x": "y"}}}).encode(), "no valid"),
        (None, payload(5)[:40], "invalid payload"),
    ],
)
def test_failures_keep_the_old_copy_in_use(
    host: FakeReleases,
    tmp_path: Path,
    fault: Fault | None,
    body: bytes | None,
    why: str,
) -> None:
    files = cache_files(tmp_path)
    host.publish(ASSET, payload(1))
    url = host.url(ASSET)
    assert update(url, cache=tmp_path, retry=FAST).status == "updated"
    before = (files.current.read_bytes(), files.meta.read_bytes())
    if body is not None:
        host.publish(ASSET, body)
    if fault is not None:
        host.publish(ASSET, payload(50))  # a change the client never gets to see
        host.inject(fault)
    result = update(url, cache=tmp_path, retry=FAST)
    assert result.status == "failed"
    assert why in (result.error or "")
    assert result.path == str(files.current)
    assert result.etag == FakeReleases.etag(payload(1))  # the copy still in use
    assert (files.current.read_bytes(), files.meta.read_bytes()) == before
    assert not files.previous.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert translate(tmp_path, 2) == {ExternalId("mal", "1"): (2,)}


def test_offline_uses_the_cache(tmp_path: Path) -> None:
    with FakeReleases() as fake:
        fake.publish(ASSET, payload(1))
        url = fake.url(ASSET)
        assert update(url, cache=tmp_path, retry=FAST).status == "updated"
    result = update(url, cache=tmp_path, retry=FAST)  # the host is gone
    assert result.status == "failed"
    assert result.path == str(cache_files(tmp_path).current)
    assert translate(tmp_path, 12) == {ExternalId("mal", "1"): (12,)}


def test_nothing_downloaded_falls_back_to_the_bundled_file(
    host: FakeReleases, tmp_path: Path
) -> None:
    host.inject(Fault(mode="status", status=500, times=5))
    result = update(host.url(ASSET), cache=tmp_path, retry=FAST)
    assert (result.status, result.path) == ("failed", None)
    notices: list[str] = []
    index = load_index(cache=tmp_path, notice=notices.append)
    assert len(notices) == 1 and "bundled" in notices[0]
    assert "\n" not in notices[0]
    assert index.origins == (str(BUNDLED),)


def test_a_damaged_current_copy_falls_back_to_the_previous_one(
    host: FakeReleases, tmp_path: Path
) -> None:
    files = cache_files(tmp_path)
    url = host.url(ASSET)
    host.publish(ASSET, payload(1))
    update(url, cache=tmp_path, retry=FAST)
    host.publish(ASSET, payload(101))
    update(url, cache=tmp_path, retry=FAST)
    files.current.write_bytes(b"\x28\xb5\x2f\xfd garbage")
    assert translate(tmp_path, 2) == {ExternalId("mal", "1"): (2,)}


async def test_update_runs_inside_an_event_loop(
    host: FakeReleases, tmp_path: Path
) -> None:
    host.publish(ASSET, payload(1))
    result = await update_dataset(host.url(ASSET), cache=tmp_path, retry=FAST)
    assert result.status == "updated"
    # the sync wrapper also works while a loop is running (worker thread)
    again = update(host.url(ASSET), cache=tmp_path, retry=FAST)
    assert again.status == "not_modified"


def test_default_index_uses_the_configured_cache_once(
    host: FakeReleases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anibridge.mappings import default_index

    host.publish(ASSET, payload(1))
    monkeypatch.setenv("ANIBRIDGE_MAPPINGS_CACHE", str(tmp_path))
    monkeypatch.setenv("ANIBRIDGE_MAPPINGS_URL", host.url(ASSET))
    assert update(retry=FAST).status == "updated"  # URL and cache from the env
    default_index.cache_clear()
    try:
        index = default_index()
        assert index is default_index()
        assert index.origins == (str(cache_files(tmp_path).current),)
        assert index.translate("anilist:1", 3) == {ExternalId("mal", "1"): (3,)}
    finally:
        default_index.cache_clear()


def test_the_metadata_records_where_when_and_what(
    host: FakeReleases, tmp_path: Path
) -> None:
    host.publish(ASSET, payload(1))
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    update(host.url(ASSET), cache=tmp_path, retry=FAST)
    meta = read_meta(cache_files(tmp_path))
    fetched = dt.datetime.fromisoformat(meta.pop("fetched_at"))
    assert fetched.utcoffset() == dt.timedelta(0)
    assert fetched.microsecond == 0  # whole seconds
    assert before <= fetched <= dt.datetime.now(dt.UTC)
    assert meta == {
        "url": host.url(ASSET),
        "etag": FakeReleases.etag(payload(1)),
        "name": "mappings.json.zst",
        "sha256": hashlib.sha256(payload(1)).hexdigest(),
        "bytes": len(payload(1)),
        "range_pairs": 2,
    }


def test_a_yaml_asset_is_decoded_by_its_name(
    host: FakeReleases, tmp_path: Path
) -> None:
    # JSON is tried first only for names that are not YAML; this body is YAML only
    host.publish("v3/custom.yaml", b"anilist:1:\n  mal:1:\n    1-12: 2-13\n")
    result = update(host.url("v3/custom.yaml"), cache=tmp_path, retry=FAST)
    assert result.status == "updated", result.error
    assert read_meta(cache_files(tmp_path))["name"] == "custom.yaml"
    assert translate(tmp_path, 2) == {ExternalId("mal", "1"): (3,)}


def test_a_url_without_a_file_name_is_read_as_json(
    host: FakeReleases, tmp_path: Path
) -> None:
    body = json.dumps({"anilist:1": {"mal:1": {"1-12": "1-12"}}}).encode()
    host.route("GET", "/", lambda _request: FakeResponse(200, body, {"ETag": '"x"'}))
    result = update(host.base_url + "/", cache=tmp_path, retry=FAST)
    assert result.status == "updated", result.error
    assert read_meta(cache_files(tmp_path))["name"] == "mappings.json"


def test_a_payload_of_includes_only_is_accepted(
    host: FakeReleases, tmp_path: Path
) -> None:
    body = json.dumps({"$includes": ["more.json"]}).encode()
    host.publish("v3/mappings.json", body)
    result = update(host.url("v3/mappings.json"), cache=tmp_path, retry=FAST)
    assert result.status == "updated", result.error
    assert read_meta(cache_files(tmp_path))["range_pairs"] == 0


def test_the_etag_of_another_url_is_not_sent(
    host: FakeReleases, tmp_path: Path
) -> None:
    # the same bytes at two URLs have the same ETag; switching URL must download
    host.publish(ASSET, payload(1))
    host.publish("mirror/mappings.json.zst", payload(1))
    assert update(host.url(ASSET), cache=tmp_path, retry=FAST).status == "updated"
    moved = update(host.url("mirror/mappings.json.zst"), cache=tmp_path, retry=FAST)
    assert moved.status == "updated"
    assert host.statuses() == {200: 2}
    assert read_meta(cache_files(tmp_path))["url"] == host.url(
        "mirror/mappings.json.zst"
    )


def test_metadata_without_a_dataset_does_not_send_its_etag(
    host: FakeReleases, tmp_path: Path
) -> None:
    files = cache_files(tmp_path)
    host.publish(ASSET, payload(1))
    update(host.url(ASSET), cache=tmp_path, retry=FAST)
    files.current.unlink()
    result = update(host.url(ASSET), cache=tmp_path, retry=FAST)
    assert (result.status, result.path) == ("updated", str(files.current))
    assert host.statuses() == {200: 2}


@pytest.mark.parametrize("meta", ["[1, 2]", "null", "{broken"])
def test_unreadable_metadata_counts_as_none(
    host: FakeReleases, tmp_path: Path, meta: str
) -> None:
    files = cache_files(tmp_path)
    host.publish(ASSET, payload(1))
    update(host.url(ASSET), cache=tmp_path, retry=FAST)
    files.meta.write_text(meta, encoding="utf-8")
    assert read_meta(files) == {}
    again = update(host.url(ASSET), cache=tmp_path, retry=FAST)
    assert again.status == "updated"  # no ETag known: downloaded again


def test_a_304_to_an_unconditional_request_is_a_failure(
    host: FakeReleases, tmp_path: Path
) -> None:
    host.inject(Fault(mode="status", status=304))
    result = update(host.url(ASSET), cache=tmp_path, retry=FAST)
    assert result == UpdateResult("failed", None, None, "304 without a cached copy")


def test_a_success_other_than_200_is_a_failure(
    host: FakeReleases, tmp_path: Path
) -> None:
    host.publish(ASSET, payload(1))
    url = host.url(ASSET)
    first = update(url, cache=tmp_path, retry=FAST)
    host.inject(Fault(mode="status", status=203, body={"partial": True}))
    result = update(url, cache=tmp_path, retry=FAST)
    assert result == UpdateResult(
        "failed", first.path, first.etag, f"{url} answered 203, expected 200"
    )


def test_the_retry_policy_and_timeout_reach_the_download(
    host: FakeReleases, tmp_path: Path
) -> None:
    host.publish(ASSET, payload(1))
    host.inject(Fault(mode="status", status=502, times=2))
    assert update(host.url(ASSET), cache=tmp_path, retry=FAST).status == "failed"
    assert host.statuses() == {502: 2}  # FAST allows two attempts, not a third
    host.reset_counters()
    # a stalled server: the given timeout ends the wait (the fake answers after 5 s)
    host.inject(Fault(mode="timeout", delay=5.0, times=2))
    quick = update(host.url(ASSET), cache=tmp_path, retry=FAST, timeout=0.2)
    assert quick.status == "failed"
    # ReadTimeout, or ConnectTimeout when a busy machine is slow to accept: either
    # way the given 0.2 s ended the wait (the default would have waited for the 5 s)
    assert "Timeout" in (quick.error or "")


def test_a_cache_in_a_new_directory_is_created(
    host: FakeReleases, tmp_path: Path
) -> None:
    cache = tmp_path / "a" / "b"
    host.publish(ASSET, payload(1))
    assert update(host.url(ASSET), cache=cache, retry=FAST).status == "updated"
    assert cache_files(cache).current.read_bytes() == payload(1)


def test_temporary_files_are_made_next_to_the_target(
    host: FakeReleases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # os.replace is atomic only within one file system: the system temp directory
    # (unusable here) must not be where the new copy is written
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-dir"))
    host.publish(ASSET, payload(1))
    cache = tmp_path / "cache"
    assert update(host.url(ASSET), cache=cache, retry=FAST).status == "updated"


def test_a_cache_that_cannot_be_written_fails_cleanly(
    host: FakeReleases, tmp_path: Path
) -> None:
    files = cache_files(tmp_path)
    files.meta.mkdir()  # the metadata file cannot be replaced
    host.publish(ASSET, payload(1))
    result = update(host.url(ASSET), cache=tmp_path, retry=FAST)
    assert (result.status, result.path, result.etag) == ("failed", None, None)
    assert (result.error or "").startswith("cannot write the cache: ")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failed_write_keeps_the_copy_in_use(
    host: FakeReleases, tmp_path: Path
) -> None:
    files = cache_files(tmp_path)
    host.publish(ASSET, payload(1))
    url = host.url(ASSET)
    first = update(url, cache=tmp_path, retry=FAST)
    files.previous.mkdir()  # the last good copy cannot be replaced
    host.publish(ASSET, payload(2))
    result = update(url, cache=tmp_path, retry=FAST)
    assert (result.status, result.path, result.etag) == (
        "failed",
        str(files.current),
        first.etag,
    )
    assert (result.error or "").startswith("cannot write the cache: ")
    assert files.current.read_bytes() == payload(1)
    assert read_meta(files)["etag"] == first.etag
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
