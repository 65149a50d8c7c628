"""The anibridge-mappings v3 dataset: load, merge, index and translate identities.

Descriptors are the contract's `ExternalId`s, canonicalized (`anidb:N` is
`anidb:N:R`). See docs/ARCHITECTURE.md for how the engine uses this API.
"""

from __future__ import annotations

from anibridge.mappings.dataset import (
    BUNDLED,
    BUNDLED_SOURCE,
    DEFAULT_URL,
    LazyIndex,
    cache_dir,
    cache_files,
    default_index,
    load_index,
    mappings_url,
)
from anibridge.mappings.errors import (
    InvalidEntry,
    MappingError,
    MappingLoadError,
    summarize_invalid,
)
from anibridge.mappings.grammar import (
    canonical_descriptor,
    canonical_id,
    parse_pair,
    parse_source_range,
    parse_target,
)
from anibridge.mappings.index import MappingIndex, build_index
from anibridge.mappings.ranges import DERIVED, Edge, RangePair, reverse_pairs

__all__ = [
    "BUNDLED",
    "BUNDLED_SOURCE",
    "DEFAULT_URL",
    "DERIVED",
    "Edge",
    "InvalidEntry",
    "LazyIndex",
    "MappingError",
    "MappingIndex",
    "MappingLoadError",
    "RangePair",
    "build_index",
    "cache_dir",
    "cache_files",
    "canonical_descriptor",
    "canonical_id",
    "default_index",
    "load_index",
    "mappings_url",
    "parse_pair",
    "parse_source_range",
    "parse_target",
    "reverse_pairs",
    "summarize_invalid",
]
