"""JSON forms of contract values, so stores and plans never hold live objects.

Every value the engine persists (baselines, journal before/after, plan JSON) goes
through here. The `RecordField` fixes a value's type, so the JSON carries no type tag:
STATUS is ``{"native", "status"}``, PROGRESS ``{"current", "total", "unit"}``, RATING
``{"value", "scale"}``, datetimes ISO-8601 UTC strings (partial dates at their own
precision: ``"2020"``, ``"2020-03"``), the rest plain scalars.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from anibridge.dates import as_utc, date_text, parse_date_text
from anibridge.provider.base import (
    Progress,
    Rating,
    RecordField,
    Ref,
    State,
    Status,
    Step,
    Value,
)
from anibridge.provider.precision import MonthDate, YearDate

__all__ = [
    "JSON",
    "decode_fields",
    "decode_value",
    "encode_fields",
    "encode_value",
    "ref_from_json",
    "ref_id",
    "ref_to_json",
    "same_value",
]

type JSON = bool | int | float | str | list[JSON] | dict[str, JSON] | None

_DATE_FIELDS = frozenset(
    {RecordField.STARTED_AT, RecordField.FINISHED_AT, RecordField.LAST_ACTIVITY_AT}
)


def ref_to_json(ref: Ref) -> dict[str, JSON]:
    """A ref as ``{"key": ..., "path": [[axis, value], ...]}``."""
    return {"key": ref.key, "path": [[s.axis, s.value] for s in ref.path]}


def ref_from_json(data: Mapping[str, Any]) -> Ref:
    """Inverse of `ref_to_json`.

    Raises:
        ValueError: `data` lacks a string ``key``.
    """
    key = data.get("key")
    if not isinstance(key, str):
        raise ValueError(f"ref JSON needs a string 'key', got {data!r}")
    return Ref(key, tuple(Step(str(a), v) for a, v in data.get("path") or ()))


def ref_id(ref: Ref) -> str:
    """A canonical string for a ref, used as a store key (stable across runs)."""
    if not ref.path:
        return ref.key
    return ref.key + "/" + "/".join(f"{s.axis}={s.value}" for s in ref.path)


def encode_value(field: RecordField, value: Value) -> JSON:
    """JSON form of one record value; the field decides the shape.

    Raises:
        TypeError: the value does not have the type the field requires.
    """
    if field is RecordField.STATUS:
        if not isinstance(value, State):
            raise TypeError(f"{field}: expected State, got {type(value).__name__}")
        return {
            "native": value.native,
            "status": value.status.value if value.status else None,
        }
    if field is RecordField.PROGRESS:
        if not isinstance(value, Progress):
            raise TypeError(f"{field}: expected Progress, got {type(value).__name__}")
        return {"current": value.current, "total": value.total, "unit": value.unit}
    if field is RecordField.RATING:
        if not isinstance(value, Rating):
            raise TypeError(f"{field}: expected Rating, got {type(value).__name__}")
        return {"value": value.value, "scale": list(value.scale)}
    if field in _DATE_FIELDS:
        if not isinstance(value, datetime):
            raise TypeError(f"{field}: expected datetime, got {type(value).__name__}")
        if isinstance(value, YearDate | MonthDate):
            return date_text(value)
        return as_utc(value).isoformat()
    if isinstance(value, (State, Progress, Rating, datetime)):
        raise TypeError(f"{field}: expected a scalar, got {type(value).__name__}")
    return value


def decode_value(field: RecordField, data: Any) -> Value:
    """Inverse of `encode_value`.

    Raises:
        ValueError: `data` is not the JSON shape of `field`.
    """
    try:
        if field is RecordField.STATUS:
            status = data.get("status")
            return State(data.get("native"), Status(status) if status else None)
        if field is RecordField.PROGRESS:
            return Progress(data.get("current"), data.get("total"), data.get("unit"))
        if field is RecordField.RATING:
            lo, hi, step = data["scale"]
            return Rating(float(data["value"]), (float(lo), float(hi), float(step)))
        if field in _DATE_FIELDS:
            return parse_date_text(data)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"bad JSON for {field.value}: {data!r} ({exc})") from exc
    if field is RecordField.REPEAT_COUNT:
        if isinstance(data, bool) or not isinstance(data, int):
            raise ValueError(f"bad JSON for repeat_count: {data!r}")
        return data
    if isinstance(data, (str, int, float, bool)):
        return data
    raise ValueError(f"bad JSON for {field.value}: {data!r}")


def same_value(field: RecordField, a: Any, b: Any) -> bool:
    """Whether two values of `field` are the same state (None = unset).

    Progress compares its position only: the total and unit are media metadata a
    provider may learn or drop between reads, not something a write set.
    """
    if a is None or b is None:
        return a is None and b is None
    if field is RecordField.PROGRESS:
        return getattr(a, "current", a) == getattr(b, "current", b)
    return encode_value(field, a) == encode_value(field, b)


def encode_fields(values: Mapping[RecordField, Value]) -> dict[str, JSON]:
    """Encode a field → value mapping, keyed by field name, sorted by name (stable)."""
    return {f.value: encode_value(f, v) for f, v in sorted(values.items())}


def decode_fields(data: Mapping[str, Any]) -> dict[RecordField, Value]:
    """Inverse of `encode_fields`."""
    return {RecordField(k): decode_value(RecordField(k), v) for k, v in data.items()}


def dumps(data: JSON) -> str:
    """Canonical compact JSON (sorted keys) for hashing ids."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
