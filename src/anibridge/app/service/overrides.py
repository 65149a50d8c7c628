"""The user's custom mappings file: adding one override, an example, readable ranges.

The file is a mappings payload (``source descriptor → target descriptor → source
range: target range``, `docs/mappings.md`), merged over the dataset. Adding an
override edits the YAML round-trip tree, so the user's comments and order stay.
"""

from __future__ import annotations

import io
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

__all__ = [
    "CUSTOM_MAPPINGS",
    "EXAMPLE",
    "Problem",
    "add_checked",
    "add_override",
    "check_overrides",
    "has_entries",
    "readable_pair",
    "scope_of",
]

CUSTOM_MAPPINGS = "mappings.custom.yaml"

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
    for the pair is replaced. `note` becomes a comment above the source block. An
    empty file starts from the commented `EXAMPLE`, so the first override arrives
    with the format explained above it.

    Raises:
        ruamel.yaml.error.YAMLError: `text` is not valid YAML.
        ValueError: `text` is YAML but not a mapping at the top.
    """
    yaml = _yaml()
    if not text.strip():
        text = EXAMPLE
    doc: Any = yaml.load(text)
    head = ""
    if doc is None:
        # Nothing but comments (the example): the YAML tree would drop them.
        head = text.rstrip() + "\n"
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
    return head + out.getvalue()


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


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a custom mappings text, and the line it is on.

    Attributes:
        line: 1-based line of the offending key (None: the file as a whole).
        message: What is wrong, naming the entry.
    """

    line: int | None
    message: str

    def __str__(self) -> str:
        """``line 4: …`` (or just the message when no line applies)."""
        return f"line {self.line}: {self.message}" if self.line else self.message


def _canonical(text: str) -> str:
    from anibridge.mappings import MappingError
    from anibridge.mappings.grammar import canonical_descriptor

    try:
        return canonical_descriptor(text)
    except MappingError:
        return text


def _key_lines(doc: Any) -> dict[tuple[str, ...], int]:
    """1-based lines of every source, target and range key of a round-trip tree.

    Keyed the way the loader names an invalid entry: canonical source, canonical
    target, range key as text (raw spellings too, for descriptors it rejected).
    """
    lines: dict[tuple[str, ...], int] = {}
    for raw_source, targets in doc.items():
        line = doc.lc.key(raw_source)[0] + 1
        source = _canonical(str(raw_source))
        lines.setdefault((str(raw_source),), line)
        lines.setdefault((source,), line)
        if not isinstance(targets, dict):
            continue
        for raw_target, ranges in targets.items():
            line = targets.lc.key(raw_target)[0] + 1
            target = _canonical(str(raw_target))
            lines.setdefault((source, str(raw_target)), line)
            lines.setdefault((source, target), line)
            if not isinstance(ranges, dict):
                continue
            for key in ranges:
                lines.setdefault((source, target, str(key)), ranges.lc.key(key)[0] + 1)
    return lines


def _line_of(entry: Any, lines: dict[tuple[str, ...], int]) -> int | None:
    parts = [entry.source, entry.target, entry.key]
    while parts:
        if None not in parts:
            found = lines.get(tuple(str(p) for p in parts))
            if found is not None:
                return found
        parts.pop()
    return None


def _where(entry: Any) -> str:
    where = str(entry.source or "")
    if entry.target is not None:
        where += f" → {entry.target}"
    if entry.key:
        where += f" [{entry.key!r}]"
    return where


def check_overrides(text: str) -> list[Problem]:
    """Every problem of a custom mappings text, each with the line it is on.

    The text is read the way the service loads the file (the mappings loader,
    without the dataset), so what passes here loads; a YAML error names its line
    and column. Empty text and a text of comments only (the example) are valid.
    """
    from anibridge.mappings import MappingError, load_index

    if not has_entries(text):
        return []
    try:
        doc = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        if mark is None:
            return [Problem(None, f"not valid YAML: {what}")]
        return [
            Problem(mark.line + 1, f"not valid YAML (column {mark.column + 1}): {what}")
        ]
    except YAMLError as exc:
        return [Problem(None, f"not valid YAML: {exc}")]
    if not isinstance(doc, dict):
        return [
            Problem(
                1,
                "the file must map source ids to targets, e.g. "
                "'tvdb_show:79414:s1:' then 'anilist:849:' indented below it",
            )
        ]
    lines = _key_lines(doc)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / CUSTOM_MAPPINGS
        path.write_text(text, encoding="utf-8")
        try:
            index = load_index(
                [str(path)],
                include_default=False,
                notice=None,
                report_invalid=None,
                compiled=False,
            )
        except MappingError as exc:
            return [Problem(None, str(exc).replace(str(path), CUSTOM_MAPPINGS))]
    problems = [
        Problem(_line_of(e, lines), f"{_where(e)}: {e.reason}".lstrip(": "))
        for e in index.invalid
    ]
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))


def add_checked(
    text: str,
    source: str,
    target: str,
    source_range: str = "",
    target_range: str = "",
    *,
    note: str = "",
) -> tuple[str, list[Problem]]:
    """`text` with one override added (comments kept) and that text's problems.

    Nothing is written: a caller saves the text only when the list is empty, and
    otherwise can show the text with its problems (each with its line). Empty
    ranges mean the whole entry (``1-``).
    """
    source, target = source.strip(), target.strip()
    for name, value in (("source", source), ("target", target)):
        parts = value.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            return text, [
                Problem(
                    None,
                    f"{name} {value!r} is not an id like anilist:21 or "
                    "tvdb_show:81797:s1",
                )
            ]
    try:
        new = add_override(
            text,
            source,
            target,
            source_range.strip() or "1-",
            target_range.strip() or "1-",
            note=note,
        )
    except YAMLError as exc:
        return text, [Problem(None, f"{CUSTOM_MAPPINGS} is not valid YAML: {exc}")]
    except ValueError as exc:
        return text, [Problem(None, f"{CUSTOM_MAPPINGS}: {exc}")]
    return new, check_overrides(new)
