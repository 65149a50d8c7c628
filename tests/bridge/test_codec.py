"""The JSON forms of contract values (`anibridge.bridge.codec`), pinned directly.

Stores, journals and plans persist values only through these functions, so a wrong
shape or a lost precision here corrupts every baseline and undo record.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from anibridge.bridge.codec import (
    decode_fields,
    decode_value,
    dumps,
    encode_fields,
    encode_value,
    ref_from_json,
    ref_id,
    ref_to_json,
    same_value,
)
from anibridge.provider.base import (
    Progress,
    Rating,
    RecordField,
    Ref,
    State,
    Status,
    Step,
)
from anibridge.provider.precision import partial_date

F = RecordField


def test_ref_json_round_trips_key_and_path():
    ref = Ref("show-1", (Step("season", 2), Step("episode", "7b")))
    data = ref_to_json(ref)
    assert data == {"key": "show-1", "path": [["season", 2], ["episode", "7b"]]}
    assert ref_from_json(data) == ref
    assert ref_from_json(json.loads(json.dumps(data))) == ref


def test_ref_from_json_without_path_is_the_anchor():
    assert ref_from_json({"key": "k"}) == Ref("k")
    assert ref_from_json({"key": "k", "path": None}) == Ref("k")


def test_ref_from_json_stringifies_the_axis():
    assert ref_from_json({"key": "k", "path": [[1, 2]]}).path == (Step("1", 2),)


@pytest.mark.parametrize("data", [{}, {"key": 5}, {"key": None}])
def test_ref_from_json_refuses_a_missing_or_non_string_key(data):
    with pytest.raises(ValueError, match="needs a string 'key'") as info:
        ref_from_json(data)
    assert repr(data) in str(info.value)


def test_ref_id_is_the_key_alone_for_an_anchor_and_axis_value_pairs_below_it():
    assert ref_id(Ref("show-1")) == "show-1"
    ref = Ref("show-1", (Step("season", 2), Step("episode", 7)))
    assert ref_id(ref) == "show-1/season=2/episode=7"


def test_status_shape_and_round_trip():
    value = State("watching", Status.ACTIVE)
    data = encode_value(F.STATUS, value)
    assert data == {"native": "watching", "status": "active"}
    assert decode_value(F.STATUS, data) == value


def test_status_without_a_normalized_status_keeps_none():
    value = State("custom", None)
    data = encode_value(F.STATUS, value)
    assert data == {"native": "custom", "status": None}
    assert decode_value(F.STATUS, data) == value
    assert decode_value(F.STATUS, {"native": "custom", "status": ""}) == value


def test_progress_shape_and_round_trip():
    value = Progress(3, 12, "episode")
    data = encode_value(F.PROGRESS, value)
    assert data == {"current": 3, "total": 12, "unit": "episode"}
    assert decode_value(F.PROGRESS, data) == value
    assert decode_value(F.PROGRESS, {"current": 4}) == Progress(4, None, None)


def test_rating_shape_and_round_trip_as_floats():
    value = Rating(7.5, (0.0, 10.0, 0.5))
    data = encode_value(F.RATING, value)
    assert data == {"value": 7.5, "scale": [0.0, 10.0, 0.5]}
    decoded = decode_value(F.RATING, {"value": 8, "scale": [1, 10, 1]})
    assert decoded == Rating(8.0, (1.0, 10.0, 1.0))
    assert all(isinstance(x, float) for x in (decoded.value, *decoded.scale))
    assert decode_value(F.RATING, data) == value


@pytest.mark.parametrize("field", [F.STARTED_AT, F.FINISHED_AT, F.LAST_ACTIVITY_AT])
def test_dates_are_iso_utc_and_partial_dates_keep_their_precision(field):
    plus2 = timezone(timedelta(hours=2))
    exact = datetime(2020, 3, 4, 1, 30, tzinfo=plus2)
    assert encode_value(field, exact) == "2020-03-03T23:30:00+00:00"
    assert decode_value(field, encode_value(field, exact)) == exact.astimezone(UTC)
    month = partial_date(2020, 3)
    year = partial_date(2021)
    assert encode_value(field, month) == "2020-03"
    assert encode_value(field, year) == "2021"
    back = decode_value(field, "2020-03")
    assert back == month and type(back) is type(month)
    assert type(decode_value(field, "2021")) is type(year)


@pytest.mark.parametrize(
    ("field", "wrong", "expected"),
    [
        (F.STATUS, "active", "State"),
        (F.PROGRESS, 3, "Progress"),
        (F.RATING, 7.0, "Rating"),
        (F.STARTED_AT, "2020-01-01", "datetime"),
        (F.FINISHED_AT, 5, "datetime"),
        (F.LAST_ACTIVITY_AT, None, "datetime"),
    ],
)
def test_encode_refuses_a_value_of_the_wrong_type(field, wrong, expected):
    with pytest.raises(TypeError) as info:
        encode_value(field, wrong)
    assert str(info.value) == (
        f"{field}: expected {expected}, got {type(wrong).__name__}"
    )


@pytest.mark.parametrize(
    "wrong",
    [
        State("x", None),
        Progress(1),
        Rating(1.0, (1.0, 10.0, 1.0)),
        datetime(2020, 1, 1, tzinfo=UTC),
    ],
)
@pytest.mark.parametrize("field", [F.REPEAT_COUNT, F.NOTES])
def test_scalar_fields_refuse_structured_values(field, wrong):
    with pytest.raises(TypeError) as info:
        encode_value(field, wrong)
    assert str(info.value) == f"{field}: expected a scalar, got {type(wrong).__name__}"


def test_scalars_pass_through():
    assert encode_value(F.REPEAT_COUNT, 2) == 2
    assert encode_value(F.NOTES, "good") == "good"
    assert decode_value(F.REPEAT_COUNT, 0) == 0
    assert decode_value(F.NOTES, "good") == "good"
    assert decode_value(F.NOTES, 1.5) == 1.5
    assert decode_value(F.NOTES, True) is True


@pytest.mark.parametrize("bad", [True, 1.0, "2", None])
def test_repeat_count_must_decode_to_a_real_int(bad):
    with pytest.raises(ValueError) as info:
        decode_value(F.REPEAT_COUNT, bad)
    assert str(info.value) == f"bad JSON for repeat_count: {bad!r}"


@pytest.mark.parametrize("bad", [None, [1], {"a": 1}])
def test_notes_refuse_non_scalars(bad):
    with pytest.raises(ValueError) as info:
        decode_value(F.NOTES, bad)
    assert str(info.value) == f"bad JSON for notes: {bad!r}"


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        (F.STATUS, "active"),
        (F.STATUS, {"status": "nonsense"}),
        (F.PROGRESS, [1, 2]),
        (F.RATING, {"value": 1}),
        (F.RATING, {"value": "x", "scale": [1, 10, 1]}),
        (F.RATING, {"value": 1, "scale": [1, 10]}),
        (F.RATING, None),
        (F.STARTED_AT, "yesterday"),
        (F.FINISHED_AT, None),
    ],
)
def test_decode_refuses_a_wrong_shape_naming_field_and_data(field, bad):
    with pytest.raises(ValueError) as info:
        decode_value(field, bad)
    message = str(info.value)
    assert message.startswith(f"bad JSON for {field.value}: {bad!r} (")
    assert message.endswith(")")
    assert info.value.__cause__ is not None


def test_same_value_none_is_only_the_same_as_none():
    assert same_value(F.NOTES, None, None)
    assert not same_value(F.NOTES, None, "x")
    assert not same_value(F.NOTES, "x", None)
    assert not same_value(F.PROGRESS, None, Progress(0))


def test_same_value_progress_compares_the_position_only():
    assert same_value(F.PROGRESS, Progress(3, 12, "episode"), Progress(3, None, None))
    assert not same_value(F.PROGRESS, Progress(3, 12), Progress(4, 12))
    assert same_value(F.PROGRESS, Progress(3), 3)
    assert same_value(F.PROGRESS, 3, Progress(3))


def test_same_value_compares_the_encoded_form():
    a = datetime(2020, 3, 4, 12, tzinfo=UTC)
    assert same_value(F.STARTED_AT, a, a.astimezone(timezone(timedelta(hours=-5))))
    assert not same_value(F.STARTED_AT, a, a + timedelta(seconds=1))
    assert not same_value(
        F.STARTED_AT, partial_date(2020, 3), datetime(2020, 3, 1, tzinfo=UTC)
    )
    assert not same_value(
        F.STATUS, State("a", Status.ACTIVE), State("b", Status.ACTIVE)
    )
    assert same_value(F.RATING, Rating(7, (1, 10, 1)), Rating(7.0, (1.0, 10.0, 1.0)))


def test_fields_encode_sorted_by_field_name_and_round_trip():
    values = {
        F.NOTES: "n",
        F.STATUS: State("completed", Status.COMPLETED),
        F.REPEAT_COUNT: 1,
        F.PROGRESS: Progress(12, 12, "episode"),
    }
    data = encode_fields(values)
    assert list(data) == ["notes", "progress", "repeat_count", "status"]
    assert data["status"] == {"native": "completed", "status": "completed"}
    assert decode_fields(data) == values
    assert decode_fields({}) == {}


def test_dumps_is_canonical_compact_and_stringifies_the_rest():
    assert dumps({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    when = datetime(2020, 1, 1, tzinfo=UTC)
    assert dumps({"t": when}) == '{"t":"2020-01-01 00:00:00+00:00"}'
