"""Kitsu JSON:API resources <-> contract values, without I/O."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from anibridge.dates import as_utc, parse_iso
from anibridge.provider.base import (
    ExternalId,
    FacetName,
    Identifiers,
    Node,
    Part,
    Progress,
    Rating,
    Record,
    RecordField,
    Ref,
    State,
    Step,
    Structure,
    Titles,
    UpsertRecord,
    Value,
    WriteError,
)
from anibridge.providers._lists.writes import Rejected, check_list_upsert, native_status
from anibridge.providers.kitsu.jsonapi import attrs
from anibridge.providers.kitsu.vocabulary import (
    ANCHOR_FLAGS,
    RATING_MIN,
    RATING_SCALE,
    RECONSUMING,
    STATUS_FROM_NATIVE,
    STATUS_TO_NATIVE,
    SUBTYPES,
    UNKNOWN_KIND,
    mapping_ids,
)
from anibridge.ratings import convert

__all__ = [
    "anime_ids",
    "anime_node",
    "entry_attributes",
    "kitsu_time",
    "record_from_entry",
]


def kitsu_time(at: datetime) -> str:
    """Kitsu's timestamp form: UTC with milliseconds and a Z."""
    utc = as_utc(at).astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


def anime_url(anime_id: str, slug: Any = None) -> str:
    """The anime's page on kitsu.app."""
    return f"https://kitsu.app/anime/{slug or anime_id}"


def anime_ids(
    anime_id: str, mappings: Iterable[tuple[str, str]]
) -> tuple[ExternalId, ...]:
    """``kitsu:N`` and the mapped ids of one anime."""
    return (ExternalId("kitsu", anime_id), *mapping_ids(mappings))


def _kind(anime: Mapping[str, Any] | None) -> str:
    subtype = attrs(anime).get("subtype") if anime else None
    return SUBTYPES[subtype][0] if subtype in SUBTYPES else UNKNOWN_KIND


def _episodes(anime: Mapping[str, Any] | None) -> int | None:
    count = attrs(anime).get("episodeCount") if anime else None
    return count if isinstance(count, int) and count > 0 else None


def anime_node(
    anime_id: str,
    anime: Mapping[str, Any] | None,
    mappings: Iterable[tuple[str, str]],
    facets: Collection[FacetName],
) -> Node:
    """An anime as an anchor node with the requested facets only."""
    a = attrs(anime) if anime else {}
    title = a.get("canonicalTitle") or None
    hydrated: dict[FacetName, Any] = {}
    if FacetName.IDS in facets:
        hydrated[FacetName.IDS] = Identifiers(anime_ids(anime_id, mappings))
    if FacetName.TITLES in facets:
        titles = a.get("titles") if isinstance(a.get("titles"), Mapping) else {}
        hydrated[FacetName.TITLES] = Titles(
            str(title or anime_id),
            {str(k): str(v) for k, v in titles.items() if isinstance(v, str) and v},
        )
    if FacetName.STRUCTURE in facets:
        count = _episodes(anime) or 0
        hydrated[FacetName.STRUCTURE] = Structure(
            ("episode",),
            tuple(Part((Step("episode", n),)) for n in range(1, count + 1)),
        )
    return Node(
        ref=Ref.anchor(anime_id),
        kind=_kind(anime),
        title=str(title) if title else None,
        url=anime_url(anime_id, a.get("slug")),
        flags=ANCHOR_FLAGS,
        facets=hydrated,
    )


def record_from_entry(
    entry: Mapping[str, Any],
    anime_id: str,
    anime: Mapping[str, Any] | None,
    mappings: Iterable[tuple[str, str]],
    fields: Collection[RecordField],
) -> Record:
    """A library entry as its anime's record, requested fields only."""
    a = attrs(entry)
    values: dict[RecordField, Value] = {}
    native = a.get("status")
    if native == "current" and a.get("reconsuming"):
        native = RECONSUMING
    if native in STATUS_FROM_NATIVE:
        values[RecordField.STATUS] = State(native, STATUS_FROM_NATIVE[native])
    progress = a.get("progress")
    if isinstance(progress, int) and not isinstance(progress, bool):
        values[RecordField.PROGRESS] = Progress(progress, _episodes(anime), "episode")
    rating = a.get("ratingTwenty")
    if isinstance(rating, int | float) and not isinstance(rating, bool) and rating > 0:
        values[RecordField.RATING] = Rating(float(rating), RATING_SCALE)
    for name, key in (
        (RecordField.STARTED_AT, "startedAt"),
        (RecordField.FINISHED_AT, "finishedAt"),
        (RecordField.LAST_ACTIVITY_AT, "progressedAt"),
    ):
        when = _time(a.get(key))
        if when is not None:
            values[name] = when
    count = a.get("reconsumeCount")
    if isinstance(count, int) and not isinstance(count, bool):
        values[RecordField.REPEAT_COUNT] = count
    if isinstance(a.get("notes"), str) and a["notes"]:
        values[RecordField.NOTES] = a["notes"]
    return Record(
        ref=Ref.anchor(anime_id),
        key=str(entry.get("id")),
        url=anime_url(anime_id, attrs(anime).get("slug") if anime else None),
        updated_at=_time(a.get("updatedAt")),
        ids=anime_ids(anime_id, mappings),
        values={k: v for k, v in values.items() if k in fields},
        metadata={"private": bool(a.get("private"))},
    )


def entry_attributes(write: UpsertRecord) -> dict[str, Any] | Rejected:
    """The library-entry attributes for `write`, or why it cannot be sent."""
    problem = check_list_upsert(write, "Kitsu", "an anime anchor")
    if problem is not None:
        return problem
    if RecordField.STATUS in write.clear:
        return Rejected(
            WriteError.UNSUPPORTED,
            "a Kitsu library entry always has a status; delete the record instead",
        )
    out: dict[str, Any] = {}
    for name, value in write.set.items():
        problem = _set(out, name, value)
        if problem is not None:
            return problem
    for name in write.clear:
        if name is RecordField.LAST_ACTIVITY_AT:
            return Rejected(WriteError.UNSUPPORTED, "progressedAt is read-only")
        key, empty = {
            RecordField.PROGRESS: ("progress", 0),
            RecordField.RATING: ("ratingTwenty", None),
            RecordField.STARTED_AT: ("startedAt", None),
            RecordField.FINISHED_AT: ("finishedAt", None),
            RecordField.REPEAT_COUNT: ("reconsumeCount", 0),
            RecordField.NOTES: ("notes", None),
        }[name]
        out[key] = empty
    return out


def _set(out: dict[str, Any], name: RecordField, value: Value) -> Rejected | None:
    def wrong(expected: str) -> Rejected:
        return Rejected(
            WriteError.INVALID, f"{name.value}: expected {expected}, got {value!r}"
        )

    if name is RecordField.STATUS:
        if not isinstance(value, State):
            return wrong("State")
        native = native_status(value, STATUS_FROM_NATIVE, STATUS_TO_NATIVE)
        if native is None:
            return wrong("a Kitsu status")
        if native == RECONSUMING:
            out["status"], out["reconsuming"] = "current", True
        else:
            out["status"], out["reconsuming"] = native, False
    elif name is RecordField.PROGRESS:
        if (
            not isinstance(value, Progress)
            or value.current is None
            or value.current < 0
        ):
            return wrong("Progress with current >= 0")
        out["progress"] = math.floor(value.current)
    elif name is RecordField.RATING:
        if not isinstance(value, Rating):
            return wrong("Rating")
        try:
            twenty = convert(value, RATING_SCALE).value
        except ValueError as exc:
            return Rejected(WriteError.INVALID, f"rating: {exc}")
        out["ratingTwenty"] = max(RATING_MIN, int(twenty))
    elif name in (RecordField.STARTED_AT, RecordField.FINISHED_AT):
        if not isinstance(value, datetime) or value.tzinfo is None:
            return wrong("an aware datetime")
        key = "startedAt" if name is RecordField.STARTED_AT else "finishedAt"
        out[key] = kitsu_time(value)
    elif name is RecordField.REPEAT_COUNT:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return wrong("an int >= 0")
        out["reconsumeCount"] = value
    elif name is RecordField.NOTES:
        if not isinstance(value, str):
            return wrong("str")
        out["notes"] = value
    else:
        return Rejected(WriteError.UNSUPPORTED, f"Kitsu cannot write {name.value}")
    return None
