"""The user's custom mappings file: adding one override, an example, readable ranges.

The file is a mappings payload (``source descriptor → target descriptor → source
range: target range``, `docs/mappings.md`), merged over the dataset. Adding an
override edits the YAML round-trip tree, so the user's comments and order stay.
"""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

__all__ = ["EXAMPLE", "add_override", "has_entries", "readable_pair", "scope_of"]

EXAMPLE = """\
# Your mapping overrides, merged over the anibridge-mappings dataset.
# One block per source id; under it one block per target id; under that
# "source episodes": "target episodes". An open end ("13-") runs to the last
# episode; "|2" after a target range means each target episode covers 2 source
# episodes ("|-2": each source episode covers 2 target episodes); null removes a
# mapping of the dataset.
#
# tvdb_show:79414:s1:        # TVDB show 79414, season 1 …
#   anilist:849:             # … is AniList 849,
#     "1-14": "1-14"         # episode for episode.
# tvdb_show:81797:s1:
#   anilist:21:
#     "1-": "1-"             # the whole season, open-ended.
#   mal:21: null             # drop the dataset's edge to MAL 21.
"""

EN_DASH = "\u2013"  # ranges read E1, en dash, 12
_SCOPE = re.compile(r"^s(\d+)$")


def has_entries(text: str) -> bool:
    """Whether a custom mappings text holds more than comments (the example)."""
    return any(
        line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()
    )


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def add_override(
    text: str,
    source: str,
    target: str,
    source_range: str = "1-",
    target_range: str = "1-",
    *,
    note: str = "",
) -> str:
    """`text` with ``source → target: {source_range: target_range}`` set.

    An existing block for the source keeps its other targets; an existing range
    for the pair is replaced. `note` becomes a comment above the source block.

    Raises:
        ruamel.yaml.error.YAMLError: `text` is not valid YAML.
        ValueError: `text` is YAML but not a mapping at the top.
    """
    yaml = _yaml()
    doc: Any = yaml.load(text) if text.strip() else None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, dict):
        raise ValueError("the custom mappings file must be a mapping at the top")
    block = doc.get(source)
    if not isinstance(block, dict):
        block = CommentedMap()
        doc[source] = block
        if note:
            doc.yaml_set_comment_before_after_key(source, before=note)
    ranges = block.get(target)
    if not isinstance(ranges, dict):
        ranges = CommentedMap()
        block[target] = ranges
    ranges[source_range] = target_range
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def scope_of(descriptor: str) -> str:
    """``S1 `` for a season-scoped descriptor (``tvdb_show:1:s1``), else ``""``."""
    parts = descriptor.split(":")
    match = _SCOPE.match(parts[2]) if len(parts) == 3 else None
    if match is None:
        return ""
    return "Specials " if match.group(1) == "0" else f"S{match.group(1)} "


def _span(start: int, end: int | None) -> str:
    if end is None:
        return f"E{start}+"
    return f"E{start}" if end == start else f"E{start}{EN_DASH}{end}"


def readable_pair(source: str, target: str, pair: Any) -> str:
    """A range pair as people read it, e.g. ``S1 E1-12 → E1-12`` (en dashes).

    Args:
        source: Source descriptor (its season scope is shown).
        target: Target descriptor.
        pair: A `anibridge.mappings` range pair (``source_start``, ``source_end``,
            ``target`` segments, ``ratio``).
    """
    left = scope_of(source) + _span(pair.source_start, pair.source_end)
    right = scope_of(target) + ", ".join(_span(a, b) for a, b in pair.target)
    text = f"{left} → {right}"
    ratio = pair.ratio
    if ratio == 0:
        return text + " (disabled)"
    if ratio is not None and ratio > 1:
        return text + f" ({ratio} episodes → 1)"
    if ratio is not None and ratio < -1:
        return text + f" (1 episode → {-ratio})"
    return text
