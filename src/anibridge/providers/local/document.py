"""The human-editable local document (YAML or JSON): parse, validate, render.

This is the import/export format of the local provider and AniBridge's portable backup
format; `docs/local-format.md` is its specification. Parsing is strict and every error
names the file and the key path (``items[3].seasons[0].episodes[2].record.status``), so
a hand edit that breaks the file is pointed at, not guessed around.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import yaml

from anibridge.dates import as_utc, parse_iso
from anibridge.provider.base import ExternalId, RecordField, Ref, Step
from anibridge.providers.local.database import NodeRow
from anibridge.providers.local.settings import LocalSettings
from anibridge.providers.local.vocabulary import (
    ANCHOR_KINDS,
    InvalidValue,
    validate_stored,
)
from anibridge.safeyaml import load_yaml

__all__ = [
    "FORMAT_MARKER",
    "SEASON_SCOPED_AUTHORITIES",
    "DocumentError",
    "ParsedDocument",
    "ParsedEvent",
    "ParsedRecord",
    "canonical_at",
    "default_season_ids",
    "dump_document",
    "load_document_bytes",
    "parse_document",
]

FORMAT_MARKER = "anibridge_local"
SEASON_SCOPED_AUTHORITIES = frozenset({"tvdb_show", "tmdb_show", "imdb_show"})
_RECORD_KEYS = frozenset(f.value for f in RecordField) | {"updated_at", "revision"}


class DocumentError(ValueError):
    """A local document is malformed; the message names the file and key path."""


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """A record from a document, in stored form."""

    ref: Ref
    fields: dict[str, object]
    updated_at: str | None
    revision: int | None


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """A play from a document."""

    ref: Ref
    at: str
    metadata: dict[str, object]


@dataclass(slots=True)
class ParsedDocument:
    """Everything a document holds, validated, ready to store."""

    nodes: list[NodeRow] = field(default_factory=list)
    records: list[ParsedRecord] = field(default_factory=list)
    events: list[ParsedEvent] = field(default_factory=list)
    account: dict[str, str] = field(default_factory=dict)


def canonical_at(value: datetime) -> str:
    """The stored text of an event time (ISO-8601 UTC), the dedup signature."""
    return as_utc(value).isoformat()


def default_season_ids(show_ids: Sequence[str], season: int) -> tuple[str, ...]:
    """Season-scoped ids implied by a show's ids (``tvdb_show:81797`` → ``:s1``)."""
    scoped = []
    for descriptor in show_ids:
        ext = ExternalId.parse(descriptor)
        if ext.scope is None and ext.authority in SEASON_SCOPED_AUTHORITIES:
            scoped.append(f"{ext.authority}:{ext.value}:s{season}")
    return tuple(scoped)


# Largest YAML document read (a big library exports to a few MB).
DOCUMENT_MAX_BYTES = 512 << 20


def load_document_bytes(data: bytes, where: str) -> Any:
    """Decode YAML or JSON bytes (JSON is YAML, but JSON gets JSON's errors).

    Raises:
        DocumentError: the bytes are neither valid JSON nor valid YAML.
    """
    text = data.decode("utf-8", errors="strict") if data else ""
    stripped = text.lstrip()
    try:
        if stripped.startswith("{"):
            return json.loads(text)
        return load_yaml(text, max_bytes=DOCUMENT_MAX_BYTES)
    except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{where}: not valid YAML/JSON: {exc}") from exc


class _Parser:
    def __init__(self, where: str, settings: LocalSettings) -> None:
        self.where = where
        self.settings = settings
        self.doc = ParsedDocument()
        self.source_scale: tuple[float, float, float] | None = None
        self.seen: set[str] = set()

    def fail(self, path: str, message: str) -> DocumentError:
        return DocumentError(f"{self.where}: {path}: {message}")

    def mapping(self, value: object, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping, got {type(value).__name__}")
        return value

    def listing(self, value: object, path: str) -> Sequence[Any]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {type(value).__name__}")
        return value

    def only(self, data: Mapping[str, Any], allowed: set[str], path: str) -> None:
        extra = sorted(set(data) - allowed)
        if extra:
            raise self.fail(
                path,
                f"unknown key(s) {', '.join(map(str, extra))} "
                f"(allowed: {', '.join(sorted(allowed))})",
            )

    def ids(self, value: object, path: str) -> tuple[str, ...]:
        out = []
        for i, item in enumerate(self.listing(value, path)):
            if not isinstance(item, str):
                raise self.fail(
                    f"{path}[{i}]", f"expected a descriptor string, got {item!r}"
                )
            try:
                ExternalId.parse(item)
            except ValueError:
                raise self.fail(
                    f"{path}[{i}]", f"expected 'authority:id[:scope]', got {item!r}"
                ) from None
            out.append(item)
        return tuple(out)

    def number(self, data: Mapping[str, Any], key: str, path: str) -> int:
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(f"{path}.{key}", f"expected an integer >= 0, got {value!r}")
        return value

    def parse(self, data: object) -> ParsedDocument:
        root = self.mapping(data, "(top level)")
        marker = root.get(FORMAT_MARKER)
        if marker != 1:
            raise self.fail(
                FORMAT_MARKER,
                f"expected 1 (is this an AniBridge local document?), got {marker!r}",
            )
        self.only(
            root,
            {
                FORMAT_MARKER,
                "account",
                "rating_scale",
                "date_precision",
                "exported_at",
                "exported_from",
                "not_exported",
                "items",
            },
            "(top level)",
        )
        if "account" in root:
            account = self.mapping(root["account"], "account")
            self.only(account, {"key", "title"}, "account")
            self.doc.account = {k: str(v) for k, v in account.items()}
        if "rating_scale" in root:
            scale = root["rating_scale"]
            if (
                not isinstance(scale, list)
                or len(scale) != 3
                or not all(isinstance(v, (int, float)) for v in scale)
                or not scale[0] < scale[1]
            ):
                raise self.fail(
                    "rating_scale", f"expected [min, max, step], got {scale!r}"
                )
            self.source_scale = (float(scale[0]), float(scale[1]), float(scale[2]))
        for i, item in enumerate(self.listing(root.get("items"), "items")):
            self.item(item, f"items[{i}]")
        return self.doc

    def item(self, raw: object, path: str) -> None:
        data = self.mapping(raw, path)
        self.only(
            data,
            {
                "key",
                "kind",
                "title",
                "ids",
                "metadata",
                "episodes",
                "seasons",
                "record",
                "plays",
            },
            path,
        )
        kind = data.get("kind")
        if kind not in ANCHOR_KINDS:
            raise self.fail(
                f"{path}.kind",
                f"expected one of {', '.join(sorted(ANCHOR_KINDS))}, got {kind!r}",
            )
        ids = self.ids(data.get("ids"), f"{path}.ids")
        key = data.get("key", ids[0] if ids else None)
        if not isinstance(key, str) or not key:
            raise self.fail(f"{path}.key", "expected a non-empty key (or give 'ids')")
        if key in self.seen:
            raise self.fail(f"{path}.key", f"duplicate key {key!r}")
        self.seen.add(key)
        title = data.get("title")
        if title is not None and not isinstance(title, str):
            raise self.fail(f"{path}.title", f"expected text, got {title!r}")
        metadata = dict(self.mapping(data.get("metadata") or {}, f"{path}.metadata"))
        anchor = Ref(key)
        extent: int | None = None
        if kind in ("series", "film"):
            if "seasons" in data:
                raise self.fail(f"{path}.seasons", f"a {kind} has no seasons")
            if "episodes" in data:
                extent = self.number(data, "episodes", path)
            elif kind == "film":
                extent = 1
        elif kind == "show":
            if "episodes" in data or "plays" in data:
                raise self.fail(path, "a show keeps episodes and plays under 'seasons'")
        elif "episodes" in data or "seasons" in data:
            raise self.fail(path, "a movie has no episodes or seasons")
        self.doc.nodes.append(NodeRow(key, (), kind, title, ids, metadata, extent))
        self.record(data.get("record"), anchor, f"{path}.record")
        self.plays(data.get("plays"), anchor, f"{path}.plays")
        if kind == "show":
            numbers: set[int] = set()
            for i, season in enumerate(
                self.listing(data.get("seasons"), f"{path}.seasons")
            ):
                self.season(season, key, ids, numbers, f"{path}.seasons[{i}]")

    def season(
        self,
        raw: object,
        key: str,
        show_ids: tuple[str, ...],
        seen: set[int],
        path: str,
    ) -> None:
        data = self.mapping(raw, path)
        self.only(data, {"season", "title", "ids", "record", "episodes"}, path)
        number = self.number(data, "season", path)
        if number in seen:
            raise self.fail(f"{path}.season", f"duplicate season {number}")
        seen.add(number)
        ids = (
            self.ids(data["ids"], f"{path}.ids")
            if "ids" in data
            else default_season_ids(show_ids, number)
        )
        title = data.get("title")
        if title is not None and not isinstance(title, str):
            raise self.fail(f"{path}.title", f"expected text, got {title!r}")
        season_path = (Step("season", number),)
        self.doc.nodes.append(NodeRow(key, season_path, "season", title, ids, {}, None))
        self.record(data.get("record"), Ref(key, season_path), f"{path}.record")
        episodes: set[int] = set()
        for i, raw_ep in enumerate(
            self.listing(data.get("episodes"), f"{path}.episodes")
        ):
            ep_path = f"{path}.episodes[{i}]"
            ep = self.mapping(raw_ep, ep_path)
            self.only(ep, {"episode", "title", "record", "plays"}, ep_path)
            n = self.number(ep, "episode", ep_path)
            if n in episodes:
                raise self.fail(f"{ep_path}.episode", f"duplicate episode {n}")
            episodes.add(n)
            ep_title = ep.get("title")
            if ep_title is not None and not isinstance(ep_title, str):
                raise self.fail(f"{ep_path}.title", f"expected text, got {ep_title!r}")
            steps = (*season_path, Step("episode", n))
            self.doc.nodes.append(
                NodeRow(key, steps, "episode", ep_title, (), {}, None)
            )
            self.record(ep.get("record"), Ref(key, steps), f"{ep_path}.record")
            self.plays(ep.get("plays"), Ref(key, steps), f"{ep_path}.plays")

    def record(self, raw: object, ref: Ref, path: str) -> None:
        if raw is None:
            return
        data = self.mapping(raw, path)
        self.only(data, set(_RECORD_KEYS), path)
        fields: dict[str, object] = {}
        for name, value in data.items():
            if name in ("updated_at", "revision"):
                continue
            rf = RecordField(name)
            if rf is RecordField.RATING and self.source_scale is not None:
                value = self.rescale(value, f"{path}.rating")
            try:
                fields[name] = validate_stored(rf, value, self.settings)
            except InvalidValue as exc:
                raise self.fail(f"{path}.{name}", str(exc).split(": ", 1)[-1]) from None
        updated_at = data.get("updated_at")
        if updated_at is not None:
            updated_at = self.when(updated_at, f"{path}.updated_at")
        revision = data.get("revision")
        if revision is not None and (
            isinstance(revision, bool) or not isinstance(revision, int) or revision < 1
        ):
            raise self.fail(
                f"{path}.revision", f"expected an integer >= 1, got {revision!r}"
            )
        self.doc.records.append(ParsedRecord(ref, fields, updated_at, revision))

    def rescale(self, value: object, path: str) -> object:
        assert self.source_scale is not None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self.fail(path, f"expected a number, got {value!r}")
        lo, hi, _ = self.source_scale
        to_lo, to_hi, _ = self.settings.rating_scale
        if (lo, hi) == (to_lo, to_hi):
            return value
        return to_lo + (float(value) - lo) / (hi - lo) * (to_hi - to_lo)

    def when(self, raw: object, path: str) -> str:
        if isinstance(raw, datetime):
            return canonical_at(raw if raw.tzinfo else raw.replace(tzinfo=UTC))
        if isinstance(raw, date):
            raise self.fail(path, f"expected a date and time, got the date {raw}")
        if isinstance(raw, str):
            try:
                return canonical_at(parse_iso(raw))
            except ValueError:
                pass
        raise self.fail(path, f"expected an ISO-8601 datetime, got {raw!r}")

    def plays(self, raw: object, ref: Ref, path: str) -> None:
        seen: set[str] = set()
        for i, play in enumerate(self.listing(raw, path)):
            metadata: dict[str, object] = {}
            if isinstance(play, Mapping):
                self.only(play, {"at", "metadata"}, f"{path}[{i}]")
                metadata = dict(
                    self.mapping(play.get("metadata") or {}, f"{path}[{i}].metadata")
                )
                play = play.get("at")
            at = self.when(play, f"{path}[{i}]")
            if at in seen:
                raise self.fail(f"{path}[{i}]", f"duplicate play at {at}")
            seen.add(at)
            self.doc.events.append(ParsedEvent(ref, at, metadata))


def parse_document(
    data: object, settings: LocalSettings, *, where: str
) -> ParsedDocument:
    """Validate a decoded document against the format and the file's limits.

    Raises:
        DocumentError: the first problem found, with file and key path.
    """
    return _Parser(where, settings).parse(data)


def dump_document(document: Mapping[str, Any], *, fmt: str) -> bytes:
    """Render a document as ``yaml`` or ``json`` bytes (stable order, UTF-8).

    Raises:
        ValueError: unknown format name.
    """
    if fmt == "json":
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
    if fmt == "yaml":
        return yaml.safe_dump(
            document, sort_keys=False, allow_unicode=True, width=100
        ).encode()
    raise ValueError(f"unknown document format {fmt!r} (use 'yaml' or 'json')")
