"""AniList JSON <-> contract values, without I/O.

Reads turn `Media`/`MediaList` objects into `Node`s and `Record`s; writes turn an
`UpsertRecord` into `SaveMediaListEntry` arguments, or explain (code + message) why
it cannot be written. Scores are written with `score` in the viewer's own format,
snapped to that format's step, so what is written is exactly what is read back.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

from anibridge.dates import as_utc, calendar_date, date_to_utc, from_epoch
from anibridge.provider.base import (
    ExternalId,
    FacetName,
    Identifiers,
    Node,
    NodeFlag,
    Part,
    Progress,
    Rating,
    Record,
    RecordField,
    Ref,
    State,
    Step,
    Structure,
    TemporalPrecision,
    Titles,
    UpsertRecord,
    Value,
    WriteError,
)
from anibridge.provider.precision import DatePrecision, date_precision, partial_date
from anibridge.providers._lists.writes import (
    Rejected,
    check_list_upsert,
    native_status,
)
from anibridge.providers.anilist.vocabulary import (
    SCORE_SCALES,
    STATUS_FROM_NATIVE,
    STATUS_TO_NATIVE,
    native_kind,
)
from anibridge.ratings import convert

__all__ = [
    "ANCHOR_FLAGS",
    "Rejected",
    "fuzzy_date",
    "fuzzy_input",
    "media_node",
    "record_from_entry",
    "save_arguments",
]

ANCHOR_FLAGS = frozenset({NodeFlag.ANCHOR, NodeFlag.TRACKABLE, NodeFlag.ORDERED_PARTS})
_EMPTY_DATE = {"year": None, "month": None, "day": None}


def fuzzy_date(value: Mapping[str, Any] | None) -> datetime | None:
    """A `FuzzyDate` as a contract date, at the precision AniList holds it.

    A full date is the DATE value (midnight UTC); one without a day is a
    `MonthDate`, one with only a year a `YearDate` (never padded to the 1st); a
    missing year, or a day without a month, is no date.
    """
    if not value or not value.get("year"):
        return None
    year, month, day = value["year"], value.get("month"), value.get("day")
    try:
        if not month:
            return None if day else partial_date(int(year))
        if not day:
            return partial_date(int(year), int(month))
        return date_to_utc(date(int(year), int(month), int(day)))
    except ValueError:
        return None


def fuzzy_input(value: datetime) -> dict[str, int | None]:
    """A contract date as `FuzzyDateInput`: a partial date stays partial."""
    precision = date_precision(value, TemporalPrecision.DATE)
    if precision is DatePrecision.YEAR:
        return {"year": value.year, "month": None, "day": None}
    if precision is DatePrecision.MONTH:
        return {"year": value.year, "month": value.month, "day": None}
    day = calendar_date(as_utc(value), TemporalPrecision.DATE)
    return {"year": day.year, "month": day.month, "day": day.day}


def _title(media: Mapping[str, Any]) -> str | None:
    titles = media.get("title") or {}
    return titles.get("userPreferred") or titles.get("romaji") or titles.get("english")


def media_node(media: Mapping[str, Any], facets: Collection[FacetName]) -> Node:
    """A `Media` object as an anchor node with the requested facets only."""
    media_id = int(media["id"])
    hydrated: dict[FacetName, Any] = {}
    if FacetName.IDS in facets:
        ids = [ExternalId("anilist", str(media_id))]
        if media.get("idMal"):
            ids.append(ExternalId("mal", str(media["idMal"])))
        hydrated[FacetName.IDS] = Identifiers(tuple(ids))
    if FacetName.TITLES in facets:
        titles = media.get("title") or {}
        alternates = {
            lang: titles[name]
            for lang, name in (("x-jat", "romaji"), ("en", "english"), ("ja", "native"))
            if titles.get(name)
        }
        hydrated[FacetName.TITLES] = Titles(_title(media) or str(media_id), alternates)
    if FacetName.STRUCTURE in facets:
        episodes = media.get("episodes") or 0
        hydrated[FacetName.STRUCTURE] = Structure(
            ("episode",),
            tuple(Part((Step("episode", n),)) for n in range(1, episodes + 1)),
        )
    return Node(
        ref=Ref.anchor(str(media_id)),
        kind=native_kind(media.get("format")),
        title=_title(media),
        url=media.get("siteUrl") or f"https://anilist.co/anime/{media_id}",
        flags=ANCHOR_FLAGS,
        facets=hydrated,
    )


def record_from_entry(
    entry: Mapping[str, Any],
    score_format: str,
    fields: Collection[RecordField],
) -> Record:
    """A `MediaList` entry as the anchor's record with only the requested `fields`."""
    media = entry.get("media") or {}
    values: dict[RecordField, Value] = {}
    status = entry.get("status")
    if status in STATUS_FROM_NATIVE:
        values[RecordField.STATUS] = State(status, STATUS_FROM_NATIVE[status])
    values[RecordField.PROGRESS] = Progress(
        int(entry.get("progress") or 0), media.get("episodes") or None, "episode"
    )
    score = float(entry.get("score") or 0)
    if score > 0:
        values[RecordField.RATING] = Rating(score, SCORE_SCALES[score_format])
    started = fuzzy_date(entry.get("startedAt"))
    if started is not None:
        values[RecordField.STARTED_AT] = started
    completed = fuzzy_date(entry.get("completedAt"))
    if completed is not None:
        values[RecordField.FINISHED_AT] = completed
    values[RecordField.REPEAT_COUNT] = int(entry.get("repeat") or 0)
    if entry.get("notes"):
        values[RecordField.NOTES] = str(entry["notes"])
    values = {k: v for k, v in values.items() if k in fields}
    ids = [ExternalId("anilist", str(entry["mediaId"]))]
    if media.get("idMal"):
        ids.append(ExternalId("mal", str(media["idMal"])))
    updated = entry.get("updatedAt")
    return Record(
        ref=Ref.anchor(str(entry["mediaId"])),
        key=str(entry["id"]),
        url=media.get("siteUrl"),
        updated_at=from_epoch(updated) if updated else None,
        ids=tuple(ids),
        values=values,
        metadata={"private": bool(entry.get("private"))},
    )


def _score_value(rating: Rating, score_format: str) -> float:
    lo, hi, step = SCORE_SCALES[score_format]
    value = convert(rating, (lo, hi, step)).value
    # 0 means "no score" on AniList: a rated entry keeps at least one step.
    value = max(value, step)
    return round(value, 1) if step < 1 else float(math.floor(value + 1e-9))


def save_arguments(write: UpsertRecord, score_format: str) -> dict[str, Any] | Rejected:
    """`SaveMediaListEntry` arguments for `write`, or why it cannot be written."""
    problem = check_list_upsert(write, "AniList", "a media anchor")
    if problem is not None:
        return problem
    args: dict[str, Any] = {"mediaId": int(write.ref.key)}
    for name, value in write.set.items():
        problem = _set_argument(args, name, value, score_format)
        if problem is not None:
            return problem
    for name in write.clear:
        if name is RecordField.STATUS:
            return Rejected(
                WriteError.UNSUPPORTED,
                "an AniList entry always has a status; delete the record instead",
            )
        if name is RecordField.LAST_ACTIVITY_AT:
            return Rejected(
                WriteError.UNSUPPORTED, "AniList has no last-activity field"
            )
        cleared = {
            RecordField.PROGRESS: ("progress", 0),
            RecordField.RATING: ("scoreRaw", 0),
            RecordField.REPEAT_COUNT: ("repeat", 0),
            RecordField.NOTES: ("notes", ""),
            RecordField.STARTED_AT: ("startedAt", dict(_EMPTY_DATE)),
            RecordField.FINISHED_AT: ("completedAt", dict(_EMPTY_DATE)),
        }[name]
        args[cleared[0]] = cleared[1]
    return args


def _set_argument(
    args: dict[str, Any], name: RecordField, value: Value, score_format: str
) -> Rejected | None:
    def wrong(expected: str) -> Rejected:
        return Rejected(
            WriteError.INVALID, f"{name.value}: expected {expected}, got {value!r}"
        )

    if name is RecordField.STATUS:
        if not isinstance(value, State):
            return wrong("State")
        native = native_status(value, STATUS_FROM_NATIVE, STATUS_TO_NATIVE)
        if native is None:
            return wrong("an AniList status")
        args["status"] = native
    elif name is RecordField.PROGRESS:
        if (
            not isinstance(value, Progress)
            or value.current is None
            or value.current < 0
        ):
            return wrong("Progress with current >= 0")
        args["progress"] = math.floor(value.current)
    elif name is RecordField.RATING:
        if not isinstance(value, Rating):
            return wrong("Rating")
        try:
            args["score"] = _score_value(value, score_format)
        except ValueError as exc:
            return Rejected(WriteError.INVALID, f"rating: {exc}")
    elif name in (RecordField.STARTED_AT, RecordField.FINISHED_AT):
        if not isinstance(value, datetime) or value.tzinfo is None:
            return wrong("an aware datetime")
        key = "startedAt" if name is RecordField.STARTED_AT else "completedAt"
        args[key] = fuzzy_input(value)
    elif name is RecordField.REPEAT_COUNT:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return wrong("an int >= 0")
        args["repeat"] = value
    elif name is RecordField.NOTES:
        if not isinstance(value, str):
            return wrong("str")
        args["notes"] = value
    else:
        return Rejected(WriteError.UNSUPPORTED, f"AniList cannot write {name.value}")
    return None
