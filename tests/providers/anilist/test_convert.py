from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from anibridge.provider.base import (
    Progress,
    Rating,
    RecordField,
    Ref,
    State,
    Status,
    UpsertRecord,
    WriteError,
)
from anibridge.provider.precision import MonthDate, partial_date
from anibridge.providers.anilist.convert import (
    Rejected,
    fuzzy_date,
    fuzzy_input,
    record_from_entry,
    save_arguments,
)

REF = Ref.anchor("21")


def test_fuzzy_dates():
    assert fuzzy_date({"year": 2020, "month": 2, "day": 29}) == datetime(
        2020, 2, 29, tzinfo=UTC
    )
    # Partial FuzzyDates keep their precision: never padded to the 1st.
    year = fuzzy_date({"year": 2020, "month": None, "day": None})
    assert year == partial_date(2020) and year != datetime(2020, 1, 1, tzinfo=UTC)
    month = fuzzy_date({"year": 2020, "month": 3})
    assert month == partial_date(2020, 3) and isinstance(month, MonthDate)
    assert fuzzy_date({"year": 2020, "month": None, "day": 4}) is None
    assert fuzzy_date({"year": None, "month": 3, "day": 1}) is None
    assert fuzzy_date({"year": 2021, "month": 2, "day": 30}) is None
    assert fuzzy_date(None) is None
    # DATE precision: the calendar date, never shifted through a timezone.
    assert fuzzy_input(datetime(2021, 5, 1, tzinfo=UTC)) == {
        "year": 2021,
        "month": 5,
        "day": 1,
    }
    late = datetime(2021, 5, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert fuzzy_input(late) == {"year": 2021, "month": 5, "day": 2}
    # and partial dates are written as partial FuzzyDateInput
    assert fuzzy_input(partial_date(2021)) == {"year": 2021, "month": None, "day": None}
    assert fuzzy_input(partial_date(2021, 7)) == {"year": 2021, "month": 7, "day": None}


def test_every_field_becomes_an_argument():
    args = save_arguments(
        UpsertRecord(
            REF,
            set={
                RecordField.STATUS: State(status=Status.REPEATING),
                RecordField.PROGRESS: Progress(3.7),
                RecordField.RATING: Rating(4.5, (0, 5, 0.5)),
                RecordField.STARTED_AT: datetime(2020, 1, 2, tzinfo=UTC),
                RecordField.FINISHED_AT: datetime(2020, 3, 4, tzinfo=UTC),
                RecordField.REPEAT_COUNT: 2,
                RecordField.NOTES: "x",
            },
        ),
        "POINT_10_DECIMAL",
    )
    assert args == {
        "mediaId": 21,
        "status": "REPEATING",
        "progress": 3,
        "score": 9.0,
        "startedAt": {"year": 2020, "month": 1, "day": 2},
        "completedAt": {"year": 2020, "month": 3, "day": 4},
        "repeat": 2,
        "notes": "x",
    }


def test_native_status_wins_when_it_agrees():
    args = save_arguments(
        UpsertRecord(REF, set={RecordField.STATUS: State("PAUSED")}), "POINT_100"
    )
    assert args["status"] == "PAUSED"
    args = save_arguments(
        UpsertRecord(REF, set={RecordField.STATUS: State("CURRENT", Status.DROPPED)}),
        "POINT_100",
    )
    assert args["status"] == "DROPPED"


@pytest.mark.parametrize(
    ("write", "code"),
    [
        (UpsertRecord(Ref.anchor("x")), WriteError.INVALID),
        (UpsertRecord(Ref.at("21", ("episode", 1))), WriteError.INVALID),
        (UpsertRecord(REF, kind="watchlist"), WriteError.UNSUPPORTED),
        (UpsertRecord(REF, expected_revision="1"), WriteError.UNSUPPORTED),
        (UpsertRecord(REF, set={RecordField.NOTES: 1}), WriteError.INVALID),
        (UpsertRecord(REF, set={RecordField.REPEAT_COUNT: True}), WriteError.INVALID),
        (
            UpsertRecord(REF, set={RecordField.PROGRESS: Progress(-1)}),
            WriteError.INVALID,
        ),
        (
            UpsertRecord(REF, set={RecordField.STARTED_AT: datetime(2020, 1, 1)}),
            WriteError.INVALID,
        ),
        (
            UpsertRecord(
                REF,
                set={RecordField.LAST_ACTIVITY_AT: datetime(2020, 1, 1, tzinfo=UTC)},
            ),
            WriteError.UNSUPPORTED,
        ),
        (
            UpsertRecord(REF, clear=frozenset({RecordField.STATUS})),
            WriteError.UNSUPPORTED,
        ),
        (
            UpsertRecord(
                REF, set={RecordField.NOTES: "a"}, clear=frozenset({RecordField.NOTES})
            ),
            WriteError.INVALID,
        ),
    ],
)
def test_refusals_carry_the_right_code(write, code):
    result = save_arguments(write, "POINT_100")
    assert isinstance(result, Rejected) and result.code is code and result.error


def test_record_hides_unset_values_and_projects():
    entry = {
        "id": 7,
        "mediaId": 21,
        "status": "PLANNING",
        "score": 0,
        "progress": 0,
        "repeat": 0,
        "notes": None,
        "startedAt": {"year": None, "month": None, "day": None},
        "completedAt": None,
        "updatedAt": 1_700_000_000,
        "media": {"id": 21, "idMal": 21, "episodes": 1000},
    }
    record = record_from_entry(entry, "POINT_3", frozenset(RecordField))
    assert set(record.values) == {
        RecordField.STATUS,
        RecordField.PROGRESS,
        RecordField.REPEAT_COUNT,
    }
    assert None not in record.values.values()
    assert record.updated_at.tzinfo is UTC
    assert record_from_entry(entry, "POINT_3", frozenset()).values == {}
