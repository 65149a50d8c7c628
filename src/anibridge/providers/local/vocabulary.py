"""The local provider's native vocabulary and its conversions to contract values.

Stored record fields use the same plain form as the human-editable document
(`docs/local-format.md`): a status label, an integer progress, a rating number on the
file's scale, ISO dates, so the SQLite file, the backup and the YAML a person edits
all say the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime

from anibridge.dates import as_utc, date_text, date_to_utc, parse_date_text
from anibridge.provider.base import (
    Descriptor,
    EventKind,
    NodeFlag,
    NodeKind,
    Progress,
    Rating,
    RecordField,
    RecordKind,
    State,
    Status,
    TemporalPrecision,
    Value,
)
from anibridge.provider.precision import MonthDate, YearDate
from anibridge.providers.local.settings import LocalSettings

__all__ = [
    "ANCHOR_KINDS",
    "COORDINATE_AXES",
    "EVENT_KINDS",
    "NODE_KINDS",
    "PLAY",
    "RECORD_KINDS",
    "STATUS_LABELS",
    "InvalidValue",
    "flags_for",
    "stored_to_value",
    "validate_stored",
    "value_to_stored",
]

PLAY = "play"

# Native status labels, in the order a person reads them.
STATUS_LABELS: dict[str, Status] = {
    "planned": Status.PLANNED,
    "watching": Status.ACTIVE,
    "paused": Status.PAUSED,
    "completed": Status.COMPLETED,
    "dropped": Status.DROPPED,
    "rewatching": Status.REPEATING,
}
_LABEL_FOR: dict[Status, str] = {
    status: label for label, status in STATUS_LABELS.items()
}

NODE_KINDS: tuple[Descriptor[NodeKind], ...] = (
    Descriptor("show", NodeKind.SERIES, "a library show with seasons and episodes"),
    Descriptor("season", NodeKind.SEASON, "a season of a library show"),
    Descriptor("episode", NodeKind.EPISODE, "an episode (materialized or positional)"),
    Descriptor("movie", NodeKind.FILM, "a library movie"),
    Descriptor("series", NodeKind.SERIES, "a list title counted in episodes"),
    Descriptor("film", NodeKind.FILM, "a list title that is a film"),
)
ANCHOR_KINDS = frozenset({"show", "movie", "series", "film"})
COORDINATE_AXES: dict[str, tuple[str, ...]] = {
    "show": ("season", "episode"),
    "season": ("episode",),
    "movie": (),
    "series": ("episode",),
    "film": ("episode",),
}
RECORD_KINDS: tuple[Descriptor[RecordKind], ...] = (
    Descriptor("", RecordKind.PROGRESS, "the user's state: list entry or watch state"),
)
EVENT_KINDS: tuple[Descriptor[EventKind], ...] = (
    Descriptor(PLAY, EventKind.PLAY, "one complete viewing"),
)

_FLAGS: dict[str, frozenset[NodeFlag]] = {
    "show": frozenset(
        {
            NodeFlag.ANCHOR,
            NodeFlag.CONTAINER,
            NodeFlag.ORDERED_PARTS,
            NodeFlag.SCAN_ROOT,
            NodeFlag.TRACKABLE,
        }
    ),
    "season": frozenset(
        {NodeFlag.CONTAINER, NodeFlag.ORDERED_PARTS, NodeFlag.TRACKABLE}
    ),
    "episode": frozenset({NodeFlag.CONSUMABLE, NodeFlag.TRACKABLE}),
    "movie": frozenset(
        {NodeFlag.ANCHOR, NodeFlag.CONSUMABLE, NodeFlag.SCAN_ROOT, NodeFlag.TRACKABLE}
    ),
    "series": frozenset(
        {
            NodeFlag.ANCHOR,
            NodeFlag.CONTAINER,
            NodeFlag.ORDERED_PARTS,
            NodeFlag.SCAN_ROOT,
            NodeFlag.TRACKABLE,
        }
    ),
    "film": frozenset(
        {
            NodeFlag.ANCHOR,
            NodeFlag.CONTAINER,
            NodeFlag.ORDERED_PARTS,
            NodeFlag.SCAN_ROOT,
            NodeFlag.TRACKABLE,
        }
    ),
}


def flags_for(kind: str) -> frozenset[NodeFlag]:
    """Operational flags of a native node kind."""
    return _FLAGS[kind]


class InvalidValue(ValueError):
    """A value the local file cannot represent; the message says which and why."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse_when(raw: object, field: str) -> datetime:
    """A stored/document date or datetime as an aware UTC datetime.

    ``2020`` / ``2020-03`` (a YAML year is an int) are partial dates (`YearDate` /
    `MonthDate`); whether the file may hold them is `validate_stored`'s business.
    """
    if isinstance(raw, datetime):
        return as_utc(raw) if raw.tzinfo else raw.replace(tzinfo=UTC)
    if isinstance(raw, date):
        return date_to_utc(raw)
    if _is_int(raw) and 1 <= raw <= 9999:  # type: ignore[operator]
        raw = f"{raw:04d}"
    if isinstance(raw, str):
        try:
            return parse_date_text(raw)
        except ValueError:
            pass
    raise InvalidValue(
        f"{field}: expected an ISO date or datetime (or a year / year-month), "
        f"got {raw!r}"
    )


def _quantize(value: float, scale: tuple[float, float, float]) -> float:
    lo, hi, step = scale
    steps = round((value - lo) / step)
    result = lo + steps * step
    return min(max(result, lo), hi)


def validate_stored(field: RecordField, raw: object, settings: LocalSettings) -> object:
    """Check and canonicalize one stored/document value (the plain form).

    Raises:
        InvalidValue: the value does not fit the field or the file's limits.
    """
    name = field.value
    if field is RecordField.STATUS:
        if raw not in STATUS_LABELS:
            raise InvalidValue(
                f"status: expected one of {', '.join(STATUS_LABELS)}, got {raw!r}"
            )
        return raw
    if field is RecordField.PROGRESS:
        if not _is_int(raw) or raw < 0:  # type: ignore[operator]
            raise InvalidValue(f"progress: expected an integer >= 0, got {raw!r}")
        return raw
    if field is RecordField.RATING:
        lo, hi, _ = settings.rating_scale
        if not _is_number(raw) or not lo <= float(raw) <= hi:  # type: ignore[arg-type]
            raise InvalidValue(
                f"rating: expected a number in [{lo:g}, {hi:g}], got {raw!r}"
            )
        value = _quantize(float(raw), settings.rating_scale)  # type: ignore[arg-type]
        return int(value) if value.is_integer() else value
    if field is RecordField.REPEAT_COUNT:
        if not _is_int(raw) or raw < 0:  # type: ignore[operator]
            raise InvalidValue(f"repeat_count: expected an integer >= 0, got {raw!r}")
        return raw
    if field is RecordField.NOTES:
        if not isinstance(raw, str):
            raise InvalidValue(f"notes: expected text, got {raw!r}")
        if len(raw) > settings.notes_max_length:
            raise InvalidValue(
                f"notes: longer than notes_max_length={settings.notes_max_length}"
            )
        return raw
    when = _parse_when(raw, name)
    calendar = field is not RecordField.LAST_ACTIVITY_AT and (
        settings.date_precision is TemporalPrecision.DATE
    )
    if isinstance(when, YearDate | MonthDate):
        if not calendar:
            raise InvalidValue(
                f"{name}: {date_text(when)} is a partial date; this file keeps "
                + (
                    "exact times here"
                    if field is RecordField.LAST_ACTIVITY_AT
                    else "full timestamps (date_precision: datetime)"
                )
            )
        return date_text(when)
    if calendar:
        return when.date().isoformat()
    return when.isoformat()


def stored_to_value(
    field: RecordField,
    raw: object,
    settings: LocalSettings,
    *,
    total: int | None = None,
) -> Value:
    """The contract value of one stored field (the file's form is already valid)."""
    if field is RecordField.STATUS:
        return State(str(raw), STATUS_LABELS[str(raw)])
    if field is RecordField.PROGRESS:
        return Progress(int(raw), total, "episode")  # type: ignore[call-overload]
    if field is RecordField.RATING:
        return Rating(float(raw), settings.rating_scale)  # type: ignore[arg-type]
    if field in (RecordField.REPEAT_COUNT,):
        return int(raw)  # type: ignore[call-overload]
    if field is RecordField.NOTES:
        return str(raw)
    return _parse_when(raw, field.value)


def value_to_stored(
    field: RecordField, value: Value, settings: LocalSettings
) -> object:
    """The stored form of a contract value being written.

    Raises:
        InvalidValue: wrong type, unknown status, or outside the file's limits.
    """
    if field is RecordField.STATUS:
        if not isinstance(value, State):
            raise InvalidValue(f"status: expected State, got {type(value).__name__}")
        if value.native is not None and value.native in STATUS_LABELS:
            if value.status is not None and STATUS_LABELS[value.native] != value.status:
                raise InvalidValue(
                    f"status: native {value.native!r} is not {value.status.value!r}"
                )
            return value.native
        if value.native is None and value.status is not None:
            return _LABEL_FOR[value.status]
        raise InvalidValue(f"status: unknown native label {value.native!r}")
    if field is RecordField.PROGRESS:
        if not isinstance(value, Progress) or not _is_number(value.current):
            raise InvalidValue(
                f"progress: expected Progress with a current, got {value!r}"
            )
        current = value.current
        if isinstance(current, float):
            if not math.isfinite(current):
                raise InvalidValue(f"progress: not a finite number: {current!r}")
            current = math.floor(current)
        return validate_stored(field, current, settings)
    if field is RecordField.RATING:
        if not isinstance(value, Rating):
            raise InvalidValue(f"rating: expected Rating, got {type(value).__name__}")
        lo, hi, _ = settings.rating_scale
        src_lo, src_hi, _ = value.scale
        number = value.value
        if (src_lo, src_hi) != (lo, hi):
            if src_hi <= src_lo:
                raise InvalidValue(f"rating: bad scale {value.scale!r}")
            number = lo + (value.value - src_lo) / (src_hi - src_lo) * (hi - lo)
        return validate_stored(field, number, settings)
    if field in (
        RecordField.STARTED_AT,
        RecordField.FINISHED_AT,
        RecordField.LAST_ACTIVITY_AT,
    ):
        if not isinstance(value, datetime):
            raise InvalidValue(f"{field.value}: expected datetime, got {value!r}")
        if value.tzinfo is None:
            raise InvalidValue(f"{field.value}: naive datetime {value.isoformat()}")
        return validate_stored(field, value, settings)
    if isinstance(value, (State, Progress, Rating, datetime)):
        raise InvalidValue(f"{field.value}: expected a plain value, got {value!r}")
    return validate_stored(field, value, settings)


def stored_fields_to_values(
    stored: Mapping[str, object],
    settings: LocalSettings,
    wanted: frozenset[RecordField] | None,
    *,
    total: int | None,
) -> dict[RecordField, Value]:
    """Decode a stored field mapping, keeping only `wanted` fields (None = all)."""
    values: dict[RecordField, Value] = {}
    for name, raw in stored.items():
        field = RecordField(name)
        if wanted is not None and field not in wanted:
            continue
        values[field] = stored_to_value(field, raw, settings, total=total)
    return values
