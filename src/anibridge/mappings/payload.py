"""Read and decode mapping payloads (JSON, YAML, zstd) and expand `$includes`.

The result is a list of layers ordered from weakest to strongest, each with the
path or URL it came from, so the merge can apply precedence and keep provenance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anibridge.mappings.errors import InvalidEntry, MappingError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

Fetch = Callable[[str], bytes]
"""Downloads one URL and returns its body (raises on any failure)."""


# A mappings payload (any file or URL a config names) decodes to at most this much.
MAX_PAYLOAD_BYTES = 512 << 20


def _yaml() -> tuple[Any, Any]:
    """PyYAML and a bounded loader (`anibridge.safeyaml`), imported on first use.

    A process that opens the compiled index never decodes a payload, so it
    never pays for importing the YAML and zstd libraries. Mappings may come from any
    URL a config names, so aliases and size are bounded like every YAML we read.
    """
    import yaml

    from anibridge.safeyaml import load_yaml

    def load(raw: bytes) -> Any:
        return load_yaml(raw, max_bytes=MAX_PAYLOAD_BYTES, max_alias_nodes=100_000)

    return yaml, load


@dataclass(slots=True)
class Layer:
    """One decoded payload and where it came from."""

    origin: str
    data: dict[str, Any]


@dataclass(slots=True)
class LoadedLayers:
    """Layers weakest-first plus everything that could not be loaded."""

    layers: list[Layer] = field(default_factory=list)
    invalid: list[InvalidEntry] = field(default_factory=list)


def is_url(location: str) -> bool:
    """Whether a location is an http(s) URL rather than a file path."""
    return location.startswith(("http://", "https://"))


def decode_payload(raw: bytes, name: str) -> dict[str, Any]:
    """Decode a payload; zstd is detected by its magic bytes, YAML by the name.

    Raises:
        MappingError: the bytes are not a (compressed) JSON/YAML object.
    """
    import msgspec
    import zstandard

    yaml, loader = _yaml()
    if raw.startswith(ZSTD_MAGIC):
        try:
            raw = _zstd_decompress(raw)
        except zstandard.ZstdError as exc:
            raise MappingError(f"{name}: broken zstd data ({exc})") from exc
        if name.endswith(".zst"):
            name = name[:-4]
    lowered = name.lower()
    try:
        if lowered.endswith((".yaml", ".yml")):
            data = loader(raw)
        else:
            try:
                data = _decode_json(raw)
            except msgspec.DecodeError:
                if lowered.endswith(".json"):
                    raise
                data = loader(raw)
    except (msgspec.DecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MappingError(f"{name}: not valid JSON/YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise MappingError(
            f"{name}: top level must be an object of source descriptors, "
            f"got {type(data).__name__}"
        )
    return data


def _decode_json(raw: bytes) -> Any:
    """Decode JSON keeping range maps as `msgspec.Raw` (fast, compact).

    A payload that does not fit the v3 layout is decoded generically so that the
    index can report each bad entry instead of rejecting the whole file. msgspec
    is imported here, not at module level: opening a compiled index decodes nothing.
    """
    import msgspec

    # The v3 layout, with range maps left undecoded until the index needs them.
    shape = dict[str, dict[str, msgspec.Raw] | list[str] | str | None]
    try:
        return msgspec.json.decode(raw, type=shape)
    except msgspec.ValidationError:
        return msgspec.json.decode(raw)


def _zstd_decompress(raw: bytes, limit: int | None = None) -> bytes:
    """Decompress a whole zstd stream, also when the frame has no content size.

    At most `limit` bytes (default `MAX_PAYLOAD_BYTES`) come out: a small download
    must not decompress into gigabytes.
    """
    import zstandard

    limit = MAX_PAYLOAD_BYTES if limit is None else limit
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    parts: list[bytes] = []
    size = 0
    # Small input steps bound each step's output (a 4-byte RLE block can stand for
    # 128 KB), so a bomb is caught after a few MB, not after it filled the memory.
    step = 256
    for start in range(0, len(raw), step):
        chunk = decompressor.decompress(raw[start : start + step])
        size += len(chunk)
        if size > limit:
            raise zstandard.ZstdError(f"decompresses to more than {limit:,} bytes")
        parts.append(chunk)
        if decompressor.eof:
            break
    if not decompressor.eof:
        raise zstandard.ZstdError("truncated stream")
    return b"".join(parts)


def read_location(location: str, fetch: Fetch | None = None) -> bytes:
    """Read a file path or download a URL.

    Raises:
        MappingError: the file cannot be read or the download failed.
    """
    if is_url(location):
        fetcher = fetch if fetch is not None else _default_fetch
        try:
            return fetcher(location)
        except Exception as exc:
            raise MappingError(f"{location}: download failed ({exc})") from exc
    try:
        return Path(location).read_bytes()
    except OSError as exc:
        raise MappingError(f"{location}: cannot read ({exc.strerror or exc})") from exc


def _default_fetch(url: str) -> bytes:
    from anibridge.mappings.fetch import fetch_bytes

    return fetch_bytes(url)


def resolve_include(parent: str, include: str) -> str:
    """Resolve an include against the including file's path or URL."""
    if is_url(include):
        return include
    if is_url(parent):
        from urllib.parse import urljoin

        return urljoin(parent, include)
    path = Path(include).expanduser()
    if not path.is_absolute():
        path = Path(parent).parent / path
    return str(path.resolve())


def normalize_location(location: str) -> str:
    """Absolute path for files, unchanged URLs: the identity used for cycles."""
    if is_url(location):
        return location
    return str(Path(location).expanduser().resolve())


def load_layers(roots: Sequence[str], *, fetch: Fetch | None = None) -> LoadedLayers:
    """Load root payloads (weakest first) with their includes, weakest first.

    Within one root the including file beats its includes and an earlier include
    beats a later one. A location loaded once is not loaded again; an include
    that leads back to a file on the current chain is reported as a cycle.

    Raises:
        MappingError: a root payload cannot be read or decoded (includes that fail
            are reported as invalid entries instead).
    """
    result = LoadedLayers()
    seen: set[str] = set()
    for root in roots:
        strongest_first: list[Layer] = []
        _expand(normalize_location(root), (), seen, strongest_first, result, fetch)
        result.layers.extend(reversed(strongest_first))
    return result


def _expand(
    location: str,
    chain: tuple[str, ...],
    seen: set[str],
    out: list[Layer],
    result: LoadedLayers,
    fetch: Fetch | None,
) -> None:
    if location in chain:
        cycle = " -> ".join((*chain[chain.index(location) :], location))
        result.invalid.append(
            InvalidEntry(chain[-1], None, None, "$includes", f"include cycle: {cycle}")
        )
        return
    if location in seen:
        return
    seen.add(location)
    try:
        data = decode_payload(read_location(location, fetch), location)
    except MappingError as exc:
        if not chain:
            raise
        result.invalid.append(
            InvalidEntry(location, None, None, None, f"include not loaded: {exc}")
        )
        return
    includes = data.pop("$includes", None)
    for key in [k for k in data if isinstance(k, str) and k.startswith("$")]:
        del data[key]
    out.append(Layer(location, data))
    if includes is None:
        return
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        result.invalid.append(
            InvalidEntry(
                location, None, None, "$includes", "must be a list of paths/URLs"
            )
        )
        return
    for include in includes:
        target = resolve_include(location, include)
        _expand(target, (*chain, location), seen, out, result, fetch)
