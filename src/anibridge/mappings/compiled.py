"""The compiled index cache: a built `MappingIndex` as a memory-mapped binary file.

Building the index from the full dataset (~250k descriptor pairs) takes about half a
second of JSON decoding and parsing, in every process. The compiled file holds the
same tables in a form that is *opened*, not parsed: `mmap` plus zero-copy
`memoryview.cast("I")` arrays of 32-bit integers. Opening one costs a few
milliseconds whatever the dataset's size (checking its checksum and the inputs'
digests dominates); each descriptor's edges are decoded only when first asked for
and then kept, exactly like the lazy parts of a freshly built index. A compact
binary format beats a pickle here because a pickle must rebuild every object up
front (hundreds of milliseconds for the full dataset) and would run code from a file
on disk; this format only ever yields integers and strings.

The file is keyed by a digest of its inputs' contents (the default dataset that was
used, every custom file, every local file they include, and the source of the
modules whose rules decide the index), so a different dataset, an edited custom file
or a new AniBridge never reuses a stale index. It lives next to the downloaded
dataset (`cache_dir()`), is written atomically (temporary file, fsync, rename), and
one that fails its checks — truncated, foreign, another byte order, a checksum or an
include digest that does not match — is ignored and rebuilt.

Layout (native byte order, recorded in the header; all offsets in bytes):

- header: magic, format version, byte order, the key digest, file length, adler32
  of the whole file (this field read as zeros: the header's offsets and counts are
  checked too, so a damaged one is never followed), counts and the offsets of the
  sections below;
- `names`: the descriptors, sorted, UTF-8, concatenated; `name_at` (n + 1 offsets);
- `slots`: an open-addressing hash table (crc32 of the name, linear probing) of
  descriptor number + 1;
- `fwd_at` (n + 1) / `fwd` (target number, pairs number) in payload order;
- `rev_at` (n + 1) / `rev` (source numbers) — who maps onto each descriptor;
- `pairs_at` / `pairs`: each distinct range-pair tuple once, as a compact JSON array
  (a few thousand distinct texts in real payloads);
- `meta`: JSON with the invalid entries, origins and included files' digests.

Opening a file imports no decoder beyond the standard library's `json` (the meta and
each pairs text are small), so a warm `anibridge mappings translate` never loads
msgspec, PyYAML or zstandard.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import struct
import sys
import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from anibridge.mappings.errors import InvalidEntry
from anibridge.mappings.index import MappingIndex, Pairs
from anibridge.mappings.ranges import DERIVED, RangePair

__all__ = [
    "CACHE_GLOB",
    "CompiledError",
    "cache_key",
    "open_compiled",
    "write_compiled",
]

log = logging.getLogger(__name__)

_MAGIC = b"ABMXIDX\x00"
_VERSION = 2
_BYTEORDER = {"little": 1, "big": 2}[sys.byteorder]
CACHE_GLOB = "index-*.abmx"
_KEEP = 4  # compiled files kept per directory (profiles may differ in custom files)

# Modules whose code decides what the index contains: their source is part of the
# key, so an AniBridge with other rules never trusts an older compiled file.
_RULE_MODULES = ("grammar.py", "index.py", "merge.py", "payload.py", "ranges.py")

_HEADER = struct.Struct("<8sII32sQI" + "I" * 4 + "Q" * 20)
_CHECKSUM_AT = struct.calcsize("<8sII32sQ")  # where the header's adler32 field is
_SECTIONS = (
    "names",
    "name_at",
    "slots",
    "fwd_at",
    "fwd",
    "rev_at",
    "rev",
    "pairs_at",
    "pairs",
    "meta",
)


class CompiledError(ValueError):
    """A compiled file is unusable (the message says why); it will be rebuilt."""


def _code_digest() -> bytes:
    digest = hashlib.sha256(f"compiled-{_VERSION}".encode())
    here = Path(__file__).parent
    for name in _RULE_MODULES:
        try:
            digest.update((here / name).read_bytes())
        except OSError:  # pragma: no cover - installed without sources
            digest.update(name.encode())
    return digest.digest()


def _file_digest(path: str) -> str | None:
    """sha256 of a file's bytes; None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def cache_key(roots: Sequence[str]) -> str | None:
    """The content digest of an index built from `roots` (weakest first).

    None when a root is not a local file that can be read (URLs are never
    cached: their content cannot be checked without downloading it).
    """
    digest = hashlib.sha256(_code_digest())
    for root in roots:
        if "://" in root:
            return None
        content = _file_digest(root)
        if content is None:
            return None
        digest.update(os.path.abspath(root).encode() + b"\0" + content.encode())
    return digest.hexdigest()


def _path_for(directory: Path, key: str) -> Path:
    return directory / f"index-{key[:40]}.abmx"


# -- writing --------------------------------------------------------------------------


def _pair_json(pair: RangePair) -> list[Any]:
    return [
        pair.source_start,
        pair.source_end,
        [list(segment) for segment in pair.target],
        pair.ratio,
        None if pair.provenance is DERIVED else list(pair.provenance),
    ]


def _u32(values: Iterable[int]) -> bytes:
    out = array("I", values)
    if out.itemsize != 4:  # pragma: no cover - every supported platform has it
        raise CompiledError("no 32-bit unsigned array type on this platform")
    return out.tobytes()


def _slots(names: list[bytes]) -> tuple[int, bytes]:
    size = 1
    while size < 2 * max(len(names), 1):
        size <<= 1
    table = array("I", bytes(4 * size))
    mask = size - 1
    for number, name in enumerate(names):
        slot = zlib.crc32(name) & mask
        while table[slot]:
            slot = (slot + 1) & mask
        table[slot] = number + 1
    return size, table.tobytes()


def _checksum(data: bytes | memoryview) -> int:
    """adler32 of a whole file with its checksum field read as zeros."""
    value = zlib.adler32(data[:_CHECKSUM_AT])
    value = zlib.adler32(bytes(4), value)
    return zlib.adler32(data[_CHECKSUM_AT + 4 :], value)


def write_compiled(
    directory: Path,
    key: str,
    index: MappingIndex,
    *,
    includes: Sequence[str] = (),
) -> Path | None:
    """Write `index` as the compiled file for `key`; None when it cannot be written.

    `includes` are the local files the roots pulled in (and missing includes);
    their digests are stored and checked on every open. Failing to write (a
    read-only cache directory, a full disk) only costs the next process a rebuild.
    """
    import msgspec  # the index was just built from a decoded payload

    forward: dict[str, dict[str, Pairs]] = index._forward
    reverse: dict[str, list[str]] = index._reverse
    names = sorted(set(forward) | set(reverse))
    number = {name: i for i, name in enumerate(names)}
    encoded = [name.encode() for name in names]
    pairs_number: dict[int, int] = {}
    pairs_blobs: list[bytes] = []
    fwd: list[int] = []
    fwd_at = [0]
    rev: list[int] = []
    rev_at = [0]
    for name in names:
        for target, pairs in forward.get(name, {}).items():
            found = pairs_number.get(id(pairs))
            if found is None:
                found = pairs_number[id(pairs)] = len(pairs_blobs)
                pairs_blobs.append(
                    msgspec.json.encode([_pair_json(pair) for pair in pairs])
                )
            fwd.extend((number[target], found))
        fwd_at.append(len(fwd) // 2)
        rev.extend(number[source] for source in reverse.get(name, ()))
        rev_at.append(len(rev))
    name_at = [0]
    for name in encoded:
        name_at.append(name_at[-1] + len(name))
    pairs_at = [0]
    for blob in pairs_blobs:
        pairs_at.append(pairs_at[-1] + len(blob))
    slot_count, slots = _slots(encoded)
    meta = msgspec.json.encode(
        {
            "origins": list(index.origins),
            "includes": {path: _file_digest(path) for path in includes},
            "invalid": [
                [e.file, e.source, e.target, e.key, e.reason] for e in index.invalid
            ],
        }
    )
    sections = [
        b"".join(encoded),
        _u32(name_at),
        slots,
        _u32(fwd_at),
        _u32(fwd),
        _u32(rev_at),
        _u32(rev),
        _u32(pairs_at),
        b"".join(pairs_blobs),
        meta,
    ]
    offsets: list[int] = []
    position = _HEADER.size
    body = bytearray()
    for section in sections:
        padding = (-position) % 8  # keep every u32 array aligned
        body += bytes(padding)
        position += padding
        offsets.extend((position, len(section)))
        body += section
        position += len(section)
    header = bytearray(
        _HEADER.pack(
            _MAGIC,
            _VERSION,
            _BYTEORDER,
            bytes.fromhex(key)[:32],
            _HEADER.size + len(body),
            0,  # the checksum, filled in below
            len(names),
            slot_count,
            len(pairs_blobs),
            0,
            *offsets,
        )
    )
    struct.pack_into("<I", header, _CHECKSUM_AT, _checksum(bytes(header) + body))
    path = _path_for(directory, key)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        import tempfile

        fd, temp = tempfile.mkstemp(prefix=".index-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(header)
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("mappings: compiled index not written to %s: %s", directory, exc)
        return None
    _prune(directory, keep=path)
    return path


def _prune(directory: Path, *, keep: Path) -> None:
    """Drop all but the newest few compiled files (and the kept one)."""
    try:
        found = sorted(
            directory.glob(CACHE_GLOB), key=lambda p: p.stat().st_mtime, reverse=True
        )
    except OSError:
        return
    for old in found[_KEEP:]:
        if old != keep:
            _remove(old)


def _remove(path: Path) -> None:
    """Delete a compiled file if we can; one left behind is only disk space."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.info("mappings: cannot remove %s: %s", path, exc)


# -- reading --------------------------------------------------------------------------


class _Tables:
    """The mapped file: names, the hash table and the edge arrays."""

    def __init__(self, path: Path, key: str) -> None:
        with open(path, "rb") as handle:
            try:
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError as exc:  # an empty file
                raise CompiledError(f"{path.name}: empty") from exc
        view = memoryview(self._map)
        if len(view) < _HEADER.size:
            raise CompiledError(f"{path.name}: shorter than its header")
        fields = _HEADER.unpack_from(view, 0)
        magic, version, order, digest, length, checksum = fields[:6]
        count, slot_count, pairs_count = fields[6:9]
        if magic != _MAGIC or version != _VERSION:
            raise CompiledError(f"{path.name}: not a compiled index of this version")
        if order != _BYTEORDER:
            raise CompiledError(f"{path.name}: written with another byte order")
        if digest != bytes.fromhex(key)[:32]:
            raise CompiledError(f"{path.name}: built from other inputs")
        if length != len(view):
            raise CompiledError(f"{path.name}: truncated or extended")
        if _checksum(view) != checksum:
            raise CompiledError(f"{path.name}: checksum mismatch (corrupt)")
        spans = fields[10:]
        parts: dict[str, memoryview] = {}
        for number, name in enumerate(_SECTIONS):
            start, size = spans[2 * number], spans[2 * number + 1]
            if start + size > length:
                raise CompiledError(f"{path.name}: section {name} out of bounds")
            parts[name] = view[start : start + size]
        self._view = view
        self.count = count
        self.names = parts["names"]
        self.name_at = parts["name_at"].cast("I")
        self.slots = parts["slots"].cast("I")
        self.mask = slot_count - 1
        self.fwd_at = parts["fwd_at"].cast("I")
        self.fwd = parts["fwd"].cast("I")
        self.rev_at = parts["rev_at"].cast("I")
        self.rev = parts["rev"].cast("I")
        self.pairs_at = parts["pairs_at"].cast("I")
        self.pairs_blob = parts["pairs"]
        if (
            len(self.name_at) != count + 1
            or len(self.slots) != slot_count
            or slot_count & self.mask
            or len(self.fwd_at) != count + 1
            or len(self.rev_at) != count + 1
            or len(self.pairs_at) != pairs_count + 1
        ):
            raise CompiledError(f"{path.name}: inconsistent section sizes")
        self.meta = json.loads(bytes(parts["meta"]))
        self._names: dict[int, str] = {}
        self._pairs: dict[int, Pairs] = {}
        self._provenance: dict[tuple[str, ...], tuple[str, ...]] = {}

    def find(self, name: str) -> int:
        """The descriptor's number, or -1."""
        encoded = name.encode()
        slot = zlib.crc32(encoded) & self.mask
        slots, name_at, names = self.slots, self.name_at, self.names
        while True:
            found = slots[slot]
            if not found:
                return -1
            number = found - 1
            if names[name_at[number] : name_at[number + 1]] == encoded:
                return number
            slot = (slot + 1) & self.mask

    def name(self, number: int) -> str:
        found = self._names.get(number)
        if found is None:
            found = self._names[number] = str(
                self.names[self.name_at[number] : self.name_at[number + 1]], "utf-8"
            )
        return found

    def pairs(self, number: int) -> Pairs:
        """One distinct pairs tuple, the same object every time.

        `MappingIndex` keys caches by the identity of pairs tuples.
        """
        found = self._pairs.get(number)
        if found is None:
            raw = self.pairs_blob[self.pairs_at[number] : self.pairs_at[number + 1]]
            out = []
            for start, end, target, ratio, provenance in json.loads(bytes(raw)):
                if provenance is None:
                    shared = DERIVED
                else:
                    as_tuple = tuple(provenance)
                    shared = self._provenance.setdefault(as_tuple, as_tuple)
                out.append(
                    RangePair(
                        start, end, tuple((a, b) for a, b in target), ratio, shared
                    )
                )
            found = self._pairs[number] = tuple(out)
        return found


class _Forward:
    """`MappingIndex._forward` read lazily from the mapped file."""

    def __init__(self, tables: _Tables) -> None:
        self._t = tables
        self._memo: dict[str, dict[str, Pairs]] = {}

    def get(self, key: str, default: Any = None) -> Any:
        found = self._memo.get(key)
        if found is not None:
            return found
        t = self._t
        number = t.find(key)
        if number < 0:
            return default
        start, end = t.fwd_at[number], t.fwd_at[number + 1]
        if start == end:
            return default
        fwd = t.fwd
        found = self._memo[key] = {
            t.name(fwd[2 * i]): t.pairs(fwd[2 * i + 1]) for i in range(start, end)
        }
        return found

    def __getitem__(self, key: str) -> dict[str, Pairs]:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        if key in self._memo:
            return True
        number = self._t.find(key)
        return number >= 0 and self._t.fwd_at[number] != self._t.fwd_at[number + 1]

    def __iter__(self) -> Iterator[str]:
        t = self._t
        for number in range(t.count):
            if t.fwd_at[number] != t.fwd_at[number + 1]:
                yield t.name(number)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def keys(self) -> Iterator[str]:
        return iter(self)

    def values(self) -> Iterator[dict[str, Pairs]]:
        for key in self:
            yield self[key]


class _Reverse:
    """`MappingIndex._reverse` read lazily from the mapped file."""

    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def get(self, key: str, default: Any = None) -> Any:
        t = self._t
        number = t.find(key)
        if number < 0:
            return default
        start, end = t.rev_at[number], t.rev_at[number + 1]
        if start == end:
            return default
        return [t.name(t.rev[i]) for i in range(start, end)]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        number = self._t.find(key)
        return number >= 0 and self._t.rev_at[number] != self._t.rev_at[number + 1]

    def __iter__(self) -> Iterator[str]:
        t = self._t
        for number in range(t.count):
            if t.rev_at[number] != t.rev_at[number + 1]:
                yield t.name(number)

    def keys(self) -> Iterator[str]:
        return iter(self)


def open_compiled(directory: Path, key: str) -> MappingIndex | None:
    """The index compiled for `key`, or None (missing, stale or corrupt: rebuild).

    A corrupt or stale file is removed, so the rebuilt one replaces it.
    """
    path = _path_for(directory, key)
    if not path.exists():
        return None
    try:
        tables = _Tables(path, key)
        meta = tables.meta
        for include, digest in dict(meta.get("includes", {})).items():
            if _file_digest(include) != digest:
                raise CompiledError(f"{path.name}: included file {include} changed")
        invalid = [InvalidEntry(*entry) for entry in meta.get("invalid", ())]
        origins = tuple(meta.get("origins", ()))
    except (CompiledError, OSError, ValueError, TypeError, struct.error) as exc:
        log.info("mappings: rebuilding the compiled index (%s)", exc)
        _remove(path)
        return None
    index = MappingIndex(
        _Forward(tables),  # type: ignore[arg-type]
        _Reverse(tables),  # type: ignore[arg-type]
        invalid=invalid,
        origins=origins,
    )
    index.compiled_path = path
    return index
