"""Any provider's state as a local document (the portable export/backup format).

Reads through the contract only (scan with IDS/STRUCTURE/TITLES and every readable
field, then plays), so it works for every provider, and writes the structure
`docs/local-format.md` specifies: library shows with seasons/episodes, movies, and
list titles with their length and one record. Every record kind the provider
declares is read and merged by meaning into that one record (`_merged_records`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from anibridge.dates import as_utc, date_text
from anibridge.provider.base import (
    EventQuery,
    FacetName,
    Identifiers,
    NodeKind,
    NodeQuery,
    NumericConstraint,
    Progress,
    Provider,
    Rating,
    Record,
    RecordField,
    RecordKind,
    Ref,
    ScanQuery,
    State,
    Structure,
    SupportsEventReads,
    SupportsNodeReads,
    SupportsScan,
    TemporalConstraint,
    TemporalPrecision,
)
from anibridge.providers.local.document import FORMAT_MARKER
from anibridge.providers.local.vocabulary import STATUS_LABELS

__all__ = ["export_provider_state"]

_LABEL = {status: label for label, status in STATUS_LABELS.items()}
_FIELD_ORDER = (
    "status",
    "progress",
    "rating",
    "started_at",
    "finished_at",
    "last_activity_at",
    "repeat_count",
    "notes",
)


def _scale(provider: Provider) -> tuple[float, float, float] | None:
    spec = provider.capabilities().record_fields.get(RecordField.RATING)
    for c in spec.constraints if spec else ():
        if isinstance(c, NumericConstraint) and c.maximum is not None:
            return (c.minimum or 0.0, c.maximum, c.step or 1.0)
    return None


def _date_only(provider: Provider, field: RecordField) -> bool:
    spec = provider.capabilities().record_fields.get(field)
    return any(
        isinstance(c, TemporalConstraint) and c.precision is TemporalPrecision.DATE
        for c in (spec.constraints if spec else ())
    )


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _record(
    record: Record, provider: Provider, scale: tuple[float, float, float] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    values: Mapping[RecordField, Any] = record.values
    for name in _FIELD_ORDER:
        field = RecordField(name)
        value = values.get(field)
        if value is None:
            continue
        if isinstance(value, State):
            if value.status is None:
                continue
            out[name] = _LABEL[value.status]
        elif isinstance(value, Progress):
            if value.current is not None:
                out[name] = int(value.current)
        elif isinstance(value, Rating):
            lo, hi, _ = value.scale
            number = value.value
            if scale is not None and (lo, hi) != scale[:2] and hi > lo:
                number = scale[0] + (number - lo) / (hi - lo) * (scale[1] - scale[0])
            out[name] = _num(round(number, 4))
        elif isinstance(value, datetime):
            # A calendar date as a date, a partial one as "2020" / "2020-03".
            date_only = field is not RecordField.LAST_ACTIVITY_AT and _date_only(
                provider, field
            )
            out[name] = date_text(value, TemporalPrecision.DATE if date_only else None)
        else:
            out[name] = value
    if record.updated_at is not None:
        out["updated_at"] = as_utc(record.updated_at).isoformat()
    return out


def _kind(provider: Provider, native: str, structure: Structure | None) -> str:
    semantic = next(
        (d.semantic for d in provider.capabilities().node_kinds if d.native == native),
        None,
    )
    axes = structure.axes if structure else ()
    if axes[:2] == ("season", "episode"):
        return "show"
    if semantic is NodeKind.FILM:
        return "film" if axes else "movie"
    return "series"


async def export_provider_state(provider: Provider) -> dict[str, Any]:
    """The provider's whole state as a local document (see docs/local-format.md).

    Raises:
        TypeError: the provider cannot enumerate its content (no `SupportsScan`).
    """
    if not isinstance(provider, SupportsScan):
        raise TypeError(f"{provider.NAMESPACE}: cannot scan, so it cannot be exported")
    caps = provider.capabilities()
    fields = frozenset(f for f, s in caps.record_fields.items() if s.readable)
    facets = (
        frozenset({FacetName.IDS, FacetName.STRUCTURE, FacetName.TITLES}) & caps.facets
    )
    scale = _scale(provider)
    items: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    cursor = None
    while True:
        page = await provider.scan(
            ScanQuery(facets=facets, fields=fields, cursor=cursor)
        )
        for scan_item in page.items:
            items.append(await _item(provider, scan_item, scale, skipped))
        cursor = page.cursor
        if cursor is None:
            break
    document: dict[str, Any] = {FORMAT_MARKER: 1}
    account = provider.account()
    if account is not None:
        document["account"] = {"key": account.key, "title": account.title}
    if scale is not None:
        document["rating_scale"] = [_num(v) for v in scale]
    document["exported_from"] = provider.NAMESPACE
    if skipped:
        # informational, like exported_from: record kinds the format cannot hold
        document["not_exported"] = dict(sorted(skipped.items()))
    document["items"] = items
    return document


def _merged_records(
    provider: Provider,
    records: Iterable[Record],
    scale: tuple[float, float, float] | None,
    skipped: Counter[str],
) -> dict[Ref, dict[str, Any]]:
    """Every record kind the provider declares, merged per ref into one record.

    The local format keeps one record per ref; record kinds translate by meaning,
    as the engine syncs them: PROGRESS kinds (the default one first, e.g. Trakt's
    "watched") give status, progress, dates, rewatches; a RATINGS kind gives the
    rating; a PLANNED kind (a watchlist) gives status ``planned`` and its notes
    where nothing else set them. Kinds with no such meaning (a collection, display
    values like Trakt's "progress" counts, derived from the watched records) have
    no place in the format and are counted in `skipped` instead of dropped
    silently.
    """
    meaning = {d.native: d.semantic for d in provider.capabilities().record_kinds}
    meaning.setdefault("", RecordKind.PROGRESS)
    order = {RecordKind.PROGRESS: 0, RecordKind.RATINGS: 1, RecordKind.PLANNED: 2}
    by_ref: dict[Ref, list[Record]] = {}
    for rec in records:
        semantic = meaning.get(rec.kind)
        if semantic not in order:
            skipped[rec.kind or "(default)"] += 1
            continue
        by_ref.setdefault(rec.ref, []).append(rec)
    out: dict[Ref, dict[str, Any]] = {}
    for ref, found in by_ref.items():
        found.sort(key=lambda r: (order[meaning[r.kind]], r.kind != ""))
        merged: dict[str, Any] = {}
        for rec in found:
            semantic = meaning[rec.kind]
            fields = _record(rec, provider, scale)
            updated = fields.pop("updated_at", None)
            if semantic is RecordKind.RATINGS:
                fields = {k: v for k, v in fields.items() if k == "rating"}
            elif semantic is RecordKind.PLANNED:
                fields = {k: v for k, v in fields.items() if k == "notes"}
                fields["status"] = "planned"
            for name, value in fields.items():
                merged.setdefault(name, value)
            if updated is not None and updated > merged.get("updated_at", ""):
                merged["updated_at"] = updated
        out[ref] = {n: merged[n] for n in (*_FIELD_ORDER, "updated_at") if n in merged}
    return out


async def _item(
    provider: Provider,
    scan_item: Any,
    scale: tuple[float, float, float] | None,
    skipped: Counter[str],
) -> dict[str, Any]:
    node = scan_item.node
    ids_facet = node.facets.get(FacetName.IDS)
    structure = node.facets.get(FacetName.STRUCTURE)
    structure = structure if isinstance(structure, Structure) else None
    kind = _kind(provider, node.kind, structure)
    ids = [
        i.descriptor
        for i in (ids_facet.ids if isinstance(ids_facet, Identifiers) else ())
        if kind != "show" or i.scope is None
    ]
    item: dict[str, Any] = {"key": node.ref.key, "kind": kind}
    if node.title:
        item["title"] = node.title
    if ids:
        item["ids"] = ids
    records = _merged_records(provider, scan_item.records, scale, skipped)
    plays: dict[Ref, dict[str, Any]] = {}
    if isinstance(provider, SupportsEventReads):
        refs = [node.ref]
        if structure is not None:
            refs += [Ref(node.ref.key, p.position) for p in structure.parts]
        cursor = None
        while True:
            page = await provider.fetch_events(
                EventQuery(refs=tuple(refs), cursor=cursor)
            )
            for event in page.items:
                at = as_utc(event.at).isoformat()
                meta = dict(event.metadata)
                plays.setdefault(event.ref, {})[at] = (
                    {"at": at, "metadata": meta} if meta else at
                )
            cursor = page.cursor
            if cursor is None:
                break
    if kind in ("series", "film") and structure is not None:
        item["episodes"] = len(structure.parts)
    anchor_record = records.get(node.ref)
    if anchor_record:
        item["record"] = anchor_record
    if plays.get(node.ref) and kind != "show":
        item["plays"] = [v for _, v in sorted(plays[node.ref].items())]
    if kind == "show" and structure is not None:
        seasons: dict[int, list[dict[str, Any]]] = {}
        for part in structure.parts:
            season, episode = (s.value for s in part.position[:2])
            entry: dict[str, Any] = {"episode": episode}
            if part.title:
                entry["title"] = part.title
            ref = Ref(node.ref.key, part.position)
            if records.get(ref):
                entry["record"] = records[ref]
            if plays.get(ref):
                entry["plays"] = [v for _, v in sorted(plays[ref].items())]
            seasons.setdefault(int(season), []).append(entry)
        item["seasons"] = []
        titles = await _season_titles(provider, node.ref.key, sorted(seasons))
        for season, episodes in sorted(seasons.items()):
            block: dict[str, Any] = {"season": season}
            if titles.get(season):
                block["title"] = titles[season]
            season_ref = Ref.at(node.ref.key, ("season", season))
            if records.get(season_ref):
                block["record"] = records[season_ref]
            block["episodes"] = episodes
            item["seasons"].append(block)
    return item


async def _season_titles(
    provider: Provider, key: str, seasons: list[int]
) -> dict[int, str]:
    """Season labels, when the provider materializes seasons as nodes."""
    if not isinstance(provider, SupportsNodeReads) or not seasons:
        return {}
    refs = tuple(Ref.at(key, ("season", s)) for s in seasons)
    out: dict[int, str] = {}
    cursor = None
    while True:
        page = await provider.fetch_nodes(NodeQuery(refs=refs, cursor=cursor))
        for node in page.items:
            if node.title and len(node.ref.path) == 1:
                out[int(node.ref.path[0].value)] = node.title
        cursor = page.cursor
        if cursor is None:
            return out
