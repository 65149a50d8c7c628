"""The updater against a real HTTP release host on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from anibridge.http import RetryPolicy
from anibridge.mappings import BUNDLED, cache_files, load_index
from anibridge.mappings.update import read_meta, update, update_dataset
from anibridge.provider.base import ExternalId
from anibridge.testing.fakes.releases import FakeReleases
from anibridge.testing.fakes.server import Fault

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
