"""Where the dataset lives and how an index is loaded from it.

Order of the default dataset: the downloaded copy in the user cache directory,
then the last good copy kept by the updater, then the curated file bundled in
the package (with a one-line notice on stderr, since it is far smaller than the
released dataset).
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from anibridge.mappings.errors import MappingError, MappingLoadError, summarize_invalid
from anibridge.mappings.index import MappingIndex, build_index
from anibridge.mappings.payload import (
    Fetch,
    LoadedLayers,
    load_layers,
    normalize_location,
)

log = logging.getLogger(__name__)

DEFAULT_URL = (
    "https://github.com/anibridge/anibridge-mappings/releases/download/v3/"
    "mappings.json.zst"
)
"""The v3 release asset of anibridge-mappings."""

URL_ENV = "ANIBRIDGE_MAPPINGS_URL"
CACHE_ENV = "ANIBRIDGE_MAPPINGS_CACHE"

BUNDLED_SOURCE = Path(__file__).parent / "data" / "mappings.edits.yaml"
"""The curated anibridge-mappings file shipped in the package (MIT, see data/)."""

BUNDLED = Path(__file__).parent / "data" / "mappings.edits.json.zst"
"""The same data as `BUNDLED_SOURCE`, converted losslessly to zstd JSON.

Decoding the YAML takes ~0.5 s, the JSON ~10 ms; `write_bundled_json()` makes
it again and a test checks that both hold the same data.
"""


def bundled_json_text() -> bytes:
    """The JSON form of the curated YAML file (keys and episode values as strings)."""
    import msgspec
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(BUNDLED_SOURCE.read_bytes(), Loader=loader)
    return msgspec.json.encode(_stringify(data))


def _stringify(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _stringify(v) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def write_bundled_json() -> Path:
    """Regenerate `BUNDLED` from `BUNDLED_SOURCE` (run after vendoring a new file)."""
    import zstandard

    BUNDLED.write_bytes(
        zstandard.ZstdCompressor(level=19).compress(bundled_json_text())
    )
    return BUNDLED


Notice = Callable[[str], None]


def _stderr_notice(message: str) -> None:
    print(message, file=sys.stderr)


def _log_invalid(message: str) -> None:
    log.warning("%s", message)


def mappings_url() -> str:
    """The dataset URL: `$ANIBRIDGE_MAPPINGS_URL` or the v3 release asset."""
    return os.environ.get(URL_ENV) or DEFAULT_URL


def cache_dir() -> Path:
    """Directory of the downloaded dataset (`$ANIBRIDGE_MAPPINGS_CACHE` overrides)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("anibridge", appauthor=False)) / "mappings"


@dataclass(frozen=True, slots=True)
class CacheFiles:
    """The files the updater maintains inside the cache directory."""

    directory: Path

    @property
    def current(self) -> Path:
        """The dataset in use, byte for byte as downloaded (format is sniffed)."""
        return self.directory / "mappings.dataset"

    @property
    def previous(self) -> Path:
        """The last good copy before the current one."""
        return self.directory / "mappings.previous.dataset"

    @property
    def meta(self) -> Path:
        """ETag, URL, time and checksum of the current copy."""
        return self.directory / "meta.json"


def cache_files(directory: Path | None = None) -> CacheFiles:
    """The cache files under `directory` (default: `cache_dir()`)."""
    return CacheFiles(Path(directory) if directory is not None else cache_dir())


def _default_root(cache: Path | None) -> Path:
    """The default dataset a load would start from: current, previous, bundled."""
    files = cache_files(cache)
    for candidate in (files.current, files.previous):
        if candidate.exists():
            return candidate
    return BUNDLED


def _bundled_notice(notice: Notice | None, problems: list[str]) -> None:
    if notice is not None:
        why = "unusable" if problems else "not downloaded yet"
        notice(
            f"anibridge: mappings dataset {why}; using the bundled curated file "
            "(run `anibridge mappings update` for the full dataset)"
        )


def _load_default(
    notice: Notice | None, fetch: Fetch | None, cache: Path | None
) -> LoadedLayers:
    """Load the first usable default dataset: current, previous, bundled."""
    files = cache_files(cache)
    problems: list[str] = []
    for candidate in (files.current, files.previous):
        if not candidate.exists():
            continue
        try:
            return load_layers([str(candidate)], fetch=fetch)
        except MappingError as exc:
            problems.append(str(exc))
            log.warning("cached mappings unusable: %s", exc)
    _bundled_notice(notice, problems)
    return load_layers([str(BUNDLED)], fetch=fetch)


def load_index(
    paths: Iterable[str | PathLike[str]] = (),
    *,
    include_default: bool = True,
    strict: bool = False,
    fetch: Fetch | None = None,
    notice: Notice | None = _stderr_notice,
    report_invalid: Notice | None = _log_invalid,
    cache: Path | None = None,
    compiled: bool = True,
) -> MappingIndex:
    """Load, merge and index the dataset plus custom files.

    With `compiled` (the default) the index is opened from the compiled cache
    next to the downloaded dataset when one was built from exactly these inputs
    (see `anibridge.mappings.compiled`), and written there after a build.

    Args:
        paths: Custom payloads (files or URLs); a later one beats an earlier one,
            and all beat the default dataset.
        include_default: Start from the cached (or bundled) dataset.
        strict: Raise instead of skipping invalid entries.
        fetch: Downloader for URL payloads and includes (tests).
        notice: Where the "using the bundled file" line goes (None: silent).
        report_invalid: Gets the summary of invalid entries (count + first 10);
            default: a logged warning.
        cache: Cache directory override.
        compiled: Use (and keep) the compiled index cache.

    Returns:
        The index; `index.invalid` lists every skipped entry.

    Raises:
        MappingError: a custom file cannot be read or decoded.
        MappingLoadError: `strict` and some entries are invalid.
    """
    from anibridge.mappings import compiled as compiled_cache

    started = time.perf_counter()
    custom = [os.fspath(p) for p in paths]
    default_root = _default_root(cache) if include_default else None
    roots = [
        normalize_location(str(r)) for r in ([default_root] if default_root else [])
    ]
    roots += [normalize_location(c) for c in custom]
    directory = cache_files(cache).directory
    key = compiled_cache.cache_key(roots) if compiled else None
    if key is not None:
        index = compiled_cache.open_compiled(directory, key)
        if index is not None:
            if default_root == BUNDLED:
                _bundled_notice(notice, [])
            index.load_seconds = time.perf_counter() - started
            return _checked(index, strict, report_invalid)
    loaded = LoadedLayers()
    if include_default:
        loaded = _load_default(notice, fetch, cache)
    if custom:
        more = load_layers(custom, fetch=fetch)
        loaded.layers.extend(more.layers)
        loaded.invalid.extend(more.invalid)
    # The build allocates hundreds of thousands of long-lived containers; cyclic
    # GC passes over them would only cost time (there are no cycles to find).
    from anibridge.mappings.merge import merge_layers

    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        merged = merge_layers(loaded.layers)
        merged.invalid[:0] = loaded.invalid
        index = build_index(merged)
    finally:
        if gc_was_enabled:
            gc.enable()
    index.origins = tuple(layer.origin for layer in loaded.layers)
    index.load_seconds = time.perf_counter() - started
    if key is not None:
        _compile(directory, key, roots, index)
    return _checked(index, strict, report_invalid)


def _compile(directory: Path, key: str, roots: list[str], index: MappingIndex) -> None:
    """Write the compiled cache when the build used exactly the keyed inputs.

    Not when the default dataset that was predicted could not be used (a corrupt
    download: the fallback's index must not be filed under the download's key),
    nor when an include is a URL (its content cannot be checked later).
    """
    from anibridge.mappings import compiled as compiled_cache

    origins = list(index.origins)
    if not set(roots) <= set(origins):
        return
    includes = [o for o in origins if o not in roots]
    includes += [
        e.file for e in index.invalid if e.reason.startswith("include not loaded")
    ]
    if any("://" in include for include in includes):
        return
    compiled_cache.write_compiled(directory, key, index, includes=includes)


def _checked(
    index: MappingIndex, strict: bool, report_invalid: Notice | None
) -> MappingIndex:
    if index.invalid:
        if strict:
            raise MappingLoadError(index.invalid)
        if report_invalid is not None:
            report_invalid(summarize_invalid(index.invalid, limit=10))
    return index


@functools.cache
def default_index() -> MappingIndex:
    """The default dataset's index, loaded once per process."""
    return load_index()


class LazyIndex:
    """A `MappingIndex` loaded on first use, so a run that plans nothing loads none.

    The CLI and the service hand this to the engine: a sync that finds no change in
    the source's feed, or no entry with ids, never pays for the index.
    """

    def __init__(self, load: Callable[[], MappingIndex]) -> None:
        """Remember how to load; nothing is read yet."""
        self._load = load
        self._index: MappingIndex | None = None

    @property
    def loaded(self) -> bool:
        """Whether the index has been loaded."""
        return self._index is not None

    def get(self) -> MappingIndex:
        """The index, loading it now if needed."""
        if self._index is None:
            self._index = self._load()
        return self._index

    def __getattr__(self, name: str) -> Any:
        """Every `MappingIndex` attribute, from the loaded index."""
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.get(), name)
