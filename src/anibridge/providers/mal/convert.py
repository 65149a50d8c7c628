"""MyAnimeList JSON <-> contract values, without I/O.

MAL reads progress as ``num_episodes_watched`` but writes it as
``num_watched_episodes``; REPEATING is ``is_rewatching`` on a completed entry (read:
the flag wins over whatever status comes with it); a score
of 0 means "not scored"; dates may be partial (``2017`` or ``2017-10``) and the
official API documents no way to clear one, so a write that clears a date is refused
as UNSUPPORTED instead of being silently dropped.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

from anibridge.dates import date_text, date_to_utc, parse_iso
from anibridge.provider.base import (
    Descriptor,
    ExternalId,
    FacetName,
    Identifiers,
    Node,
    NodeFlag,
    NodeKind,
    Part,
    Progress,
    Rating,
    Record,
    RecordField,
    Ref,
    State,
    Status,
    Step,
    Structure,
    TemporalPrecision,
    Titles,
    UpsertRecord,
    Value,
    WriteError,
)
from anibridge.provider.precision import partial_date
from anibridge.providers._lists.writes import (
    Rejected,
    check_list_upsert,
    native_status,
)
from anibridge.ratings import convert

__all__ = [
    "ANCHOR_FLAGS",
    "LIST_STATUS_FIELDS",
    "MEDIA_TYPES",
    "REWATCHING",
    "SCORE_SCALE",
    "STATUS_FROM_NATIVE",
    "Rejected",
    "anime_node",
    "form_for",
    "parse_date",
    "record_from_status",
    "status_descriptors",
]

ANCHOR_FLAGS = frozenset({NodeFlag.ANCHOR, NodeFlag.TRACKABLE, NodeFlag.ORDERED_PARTS})
SCORE_SCALE = (0.0, 10.0, 1.0)
#: The native label AniBridge uses for ``is_rewatching=true``.
REWATCHING = "rewatching"
STATUS_FROM_NATIVE: dict[str, Status] = {
    "watching": Status.ACTIVE,
    "completed": Status.COMPLETED,
    "on_hold": Status.PAUSED,
    "dropped": Status.DROPPED,
    "plan_to_watch": Status.PLANNED,
    REWATCHING: Status.REPEATING,
}
_STATUS_TO_NATIVE = {v: k for k, v in STATUS_FROM_NATIVE.items()}
#: Everything the provider asks for inside ``list_status{...}``.
LIST_STATUS_FIELDS = (
    "start_date",
    "finish_date",
    "num_times_rewatched",
    "comments",
    "priority",
    "rewatch_value",
    "tags",
)
MEDIA_TYPES: dict[str, NodeKind] = {
    "tv": NodeKind.SERIES,
    "ova": NodeKind.SERIES,
    "movie": NodeKind.FILM,
    "special": NodeKind.SERIES,
    "ona": NodeKind.SERIES,
    "music": NodeKind.SERIES,
    "tv_special": NodeKind.SERIES,
    "cm": NodeKind.SERIES,
    "pv": NodeKind.SERIES,
    "unknown": NodeKind.SERIES,
}


def status_descriptors() -> tuple[Descriptor[Status], ...]:
    """MAL's five statuses plus ``rewatching`` (``is_rewatching=true``)."""
    return tuple(Descriptor(k, v) for k, v in STATUS_FROM_NATIVE.items())


def parse_date(text: str | None) -> datetime | None:
    """A MAL date at the precision MAL holds it.

    ``YYYY-MM-DD`` is the DATE value (midnight UTC); ``YYYY-MM`` a `MonthDate` and
    ``YYYY`` a `YearDate` (never padded to the 1st; ``00`` parts, as MAL's own
    pages write unknown ones, count as missing). Anything unparsable is no date.
    """
    if not text:
        return None
    try:
        numbers = [int(p) for p in text.strip().split("-")[:3]]
        year, month, day = [*numbers, 0, 0][:3]
        if not year:
            return None
        if not month:
            return None if day else partial_date(year)
        if not day:
            return partial_date(year, month)
        return date_to_utc(date(year, month, day))
    except ValueError:
        return None


def anime_node(node: Mapping[str, Any], facets: Collection[FacetName]) -> Node:
    """A MAL anime object as an anchor node with the requested facets only."""
    anime_id = int(node["id"])
    kind = str(node.get("media_type") or "unknown")
    if kind not in MEDIA_TYPES:
        kind = "unknown"
    hydrated: dict[FacetName, Any] = {}
    if FacetName.IDS in facets:
        hydrated[FacetName.IDS] = Identifiers((ExternalId("mal", str(anime_id)),))
    if FacetName.TITLES in facets:
        alternates = node.get("alternative_titles") or {}
        hydrated[FacetName.TITLES] = Titles(
            str(node.get("title") or anime_id),
            {k: alternates[k] for k in ("en", "ja") if alternates.get(k)},
        )
    if FacetName.STRUCTURE in facets:
        episodes = int(node.get("num_episodes") or 0)
        hydrated[FacetName.STRUCTURE] = Structure(
            ("episode",),
            tuple(Part((Step("episode", n),)) for n in range(1, episodes + 1)),
        )
    return Node(
        ref=Ref.anchor(str(anime_id)),
        kind=kind,
        title=node.get("title"),
        url=f"https://myanimelist.net/anime/{anime_id}",
        flags=ANCHOR_FLAGS,
        facets=hydrated,
    )


def record_from_status(
    node: Mapping[str, Any],
    status: Mapping[str, Any],
    fields: Collection[RecordField],
) -> Record:
    """A list status (read names) as the anchor's record, requested fields only."""
    anime_id = int(node["id"])
    values: dict[RecordField, Value] = {}
    native = REWATCHING if status.get("is_rewatching") else status.get("status")
    if native in STATUS_FROM_NATIVE:
        values[RecordField.STATUS] = State(native, STATUS_FROM_NATIVE[native])
    values[RecordField.PROGRESS] = Progress(
        int(status.get("num_episodes_watched") or 0),
        int(node.get("num_episodes") or 0) or None,
        "episode",
    )
    score = int(status.get("score") or 0)
    if score > 0:
        values[RecordField.RATING] = Rating(score, SCORE_SCALE)
    started = parse_date(status.get("start_date"))
    if started is not None:
        values[RecordField.STARTED_AT] = started
    finished = parse_date(status.get("finish_date"))
    if finished is not None:
        values[RecordField.FINISHED_AT] = finished
    values[RecordField.REPEAT_COUNT] = int(status.get("num_times_rewatched") or 0)
    if status.get("comments"):
        values[RecordField.NOTES] = str(status["comments"])
    values = {k: v for k, v in values.items() if k in fields}
    updated = status.get("updated_at")
    return Record(
        ref=Ref.anchor(str(anime_id)),
        key=str(anime_id),
        url=f"https://myanimelist.net/anime/{anime_id}",
        updated_at=parse_iso(updated) if updated else None,
        ids=(ExternalId("mal", str(anime_id)),),
        values=values,
    )


def _date_text(value: datetime) -> str:
    """``YYYY-MM-DD``, or ``YYYY-MM`` / ``YYYY`` for a partial date (MAL keeps it)."""
    return date_text(value, TemporalPrecision.DATE)


def form_for(write: UpsertRecord) -> dict[str, str] | Rejected:
    """The ``PATCH my_list_status`` form for `write`, or why it cannot be sent."""
    problem = check_list_upsert(write, "MAL", "an anime anchor")
    if problem is not None:
        return problem
    dates = {RecordField.STARTED_AT, RecordField.FINISHED_AT} & set(write.clear)
    if dates:
        names = " and ".join(sorted(f.value for f in dates))
        return Rejected(
            WriteError.UNSUPPORTED,
            f"MyAnimeList's API cannot clear {names}: the official reference has no "
            "way to remove a list date, and an empty value is ignored",
        )
    if RecordField.STATUS in write.clear:
        return Rejected(
            WriteError.UNSUPPORTED,
            "a MAL list entry always has a status; delete the record instead",
        )
    form: dict[str, str] = {}
    for name, value in write.set.items():
        problem = _set(form, name, value)
        if problem is not None:
            return problem
    for name in write.clear:
        if name is RecordField.LAST_ACTIVITY_AT:
            return Rejected(WriteError.UNSUPPORTED, "MAL has no last-activity field")
        key, empty = {
            RecordField.PROGRESS: ("num_watched_episodes", "0"),
            RecordField.RATING: ("score", "0"),
            RecordField.REPEAT_COUNT: ("num_times_rewatched", "0"),
            RecordField.NOTES: ("comments", ""),
        }[name]
        form[key] = empty
    return form


def _set(form: dict[str, str], name: RecordField, value: Value) -> Rejected | None:
    def wrong(expected: str) -> Rejected:
        return Rejected(
            WriteError.INVALID, f"{name.value}: expected {expected}, got {value!r}"
        )

    if name is RecordField.STATUS:
        if not isinstance(value, State):
            return wrong("State")
        native = native_status(value, STATUS_FROM_NATIVE, _STATUS_TO_NATIVE)
        if native is None:
            return wrong("a MAL status")
        if native == REWATCHING:
            # MAL's re-watching flag belongs to a completed entry (the site only
            # offers it there); MAL then lists the entry under "watching".
            form["status"], form["is_rewatching"] = "completed", "true"
        else:
            form["status"], form["is_rewatching"] = native, "false"
    elif name is RecordField.PROGRESS:
        if (
            not isinstance(value, Progress)
            or value.current is None
            or value.current < 0
        ):
            return wrong("Progress with current >= 0")
        form["num_watched_episodes"] = str(math.floor(value.current))
    elif name is RecordField.RATING:
        if not isinstance(value, Rating):
            return wrong("Rating")
        try:
            score = convert(value, SCORE_SCALE).value
        except ValueError as exc:
            return Rejected(WriteError.INVALID, f"rating: {exc}")
        form["score"] = str(max(1, int(score)))  # 0 would mean "not scored"
    elif name in (RecordField.STARTED_AT, RecordField.FINISHED_AT):
        if not isinstance(value, datetime) or value.tzinfo is None:
            return wrong("an aware datetime")
        key = "start_date" if name is RecordField.STARTED_AT else "finish_date"
        form[key] = _date_text(value)
    elif name is RecordField.REPEAT_COUNT:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return wrong("an int >= 0")
        form["num_times_rewatched"] = str(value)
    elif name is RecordField.NOTES:
        if not isinstance(value, str):
            return wrong("str")
        form["comments"] = value
    else:
        return Rejected(WriteError.UNSUPPORTED, f"MAL cannot write {name.value}")
    return None
