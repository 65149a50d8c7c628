"""`anibridge mappings update`: refresh the cached dataset, never break it.

A conditional GET (ETag / If-None-Match) fetches the release asset; the body
must decode and index to at least one valid pair before it replaces anything.
The replacement is atomic (temporary file + `os.replace`), the copy it replaces
is kept as the last good copy, and any failure leaves the cache exactly as it
was, so loading keeps working offline.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from anibridge.http import HttpError, RetryPolicy
from anibridge.mappings.dataset import CacheFiles, cache_files, mappings_url
from anibridge.mappings.errors import MappingError
from anibridge.mappings.fetch import download, run_sync
from anibridge.mappings.index import build_index
from anibridge.mappings.merge import merge_layers
from anibridge.mappings.payload import Layer, decode_payload

UpdateStatus = Literal["updated", "not_modified", "failed"]


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """Outcome of one update; `path` is the dataset in use afterwards (or None)."""

    status: UpdateStatus
    path: str | None
    etag: str | None
    error: str | None

    def as_json(self) -> dict[str, Any]:
        """The `--json` shape of `anibridge mappings update`."""
        return asdict(self)


def read_meta(files: CacheFiles) -> dict[str, Any]:
    """The metadata of the current cached copy (empty when missing or broken)."""
    try:
        meta = json.loads(files.meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def validate_payload(body: bytes, name: str) -> int:
    """Check that a downloaded body is a usable v3 payload.

    Returns:
        The number of valid explicit range pairs in it.

    Raises:
        MappingError: the body does not decode, or holds no valid mapping at all.
    """
    data = decode_payload(body, name)
    includes = data.pop("$includes", None)
    for key in [k for k in data if isinstance(k, str) and k.startswith("$")]:
        del data[key]
    index = build_index(merge_layers([Layer(name, data)]))
    pairs = index.explicit_pair_count()
    if pairs == 0 and not includes:
        raise MappingError(f"{name}: payload holds no valid mapping")
    return pairs


def _atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _keep_previous(files: CacheFiles) -> None:
    """Keep the current copy as the last good one (atomically, current stays)."""
    if not files.current.exists():
        return
    _atomic_write(files.previous, files.current.read_bytes())


async def update_dataset(
    url: str | None = None,
    *,
    cache: Path | None = None,
    retry: RetryPolicy | None = None,
    timeout: float = 60.0,
) -> UpdateResult:
    """Download the dataset if it changed and install it atomically.

    Returns:
        What happened; on failure the cache is unchanged and `path` says which
        cached copy (if any) stays in use.
    """
    url = url or mappings_url()
    files = cache_files(cache)
    meta = read_meta(files)
    have_current = files.current.exists()
    etag = meta.get("etag") if have_current and meta.get("url") == url else None
    in_use = str(files.current) if have_current else None
    try:
        got = await download(url, etag=etag, retry=retry, timeout=timeout)
    except HttpError as exc:
        return UpdateResult("failed", in_use, etag, str(exc))
    if got.status == 304:
        if in_use is None:  # a 304 to a request without If-None-Match
            return UpdateResult("failed", None, None, "304 without a cached copy")
        return UpdateResult("not_modified", in_use, etag, None)
    if got.status != 200:
        return UpdateResult(
            "failed", in_use, etag, f"{url} answered {got.status}, expected 200"
        )
    name = Path(urlsplit(url).path).name or "mappings.json"
    try:
        pairs = validate_payload(got.body, name)
    except MappingError as exc:
        return UpdateResult("failed", in_use, etag, f"invalid payload: {exc}")
    try:
        _keep_previous(files)
        _atomic_write(files.current, got.body)
        new_meta = {
            "url": url,
            "etag": got.etag,
            "name": name,
            "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "sha256": hashlib.sha256(got.body).hexdigest(),
            "bytes": len(got.body),
            "range_pairs": pairs,
        }
        _atomic_write(files.meta, json.dumps(new_meta, indent=2).encode())
    except OSError as exc:
        return UpdateResult("failed", in_use, etag, f"cannot write the cache: {exc}")
    return UpdateResult("updated", str(files.current), got.etag, None)


def update(
    url: str | None = None,
    *,
    cache: Path | None = None,
    retry: RetryPolicy | None = None,
    timeout: float = 60.0,
) -> UpdateResult:
    """Synchronous `update_dataset` for the CLI and scripts.

    Returns:
        What happened.
    """
    return run_sync(update_dataset(url, cache=cache, retry=retry, timeout=timeout))
