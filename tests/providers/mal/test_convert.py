from __future__ import annotations

from datetime import UTC, datetime

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
from anibridge.provider.precision import partial_date
from anibridge.providers.mal.convert import (
    Rejected,
    form_for,
    parse_date,
    record_from_status,
)

REF = Ref.anchor("21")


def test_parse_date_accepts_partial_dates():
    assert parse_date("2017-10-23") == datetime(2017, 10, 23, tzinfo=UTC)
    # partial dates keep their precision (never padded to the 1st)
    assert parse_date("2017-10") == partial_date(2017, 10)
    assert parse_date("2017-10") != datetime(2017, 10, 1, tzinfo=UTC)
    assert parse_date("2017") == partial_date(2017)
    assert parse_date("2017-00-00") == partial_date(2017)  # MAL's "unknown" parts
    assert parse_date("2017-10-00") == partial_date(2017, 10)
    assert parse_date("") is None and parse_date(None) is None
    assert parse_date("2017-13-01") is None


def test_form_uses_write_names():
    form = form_for(
        UpsertRecord(
            REF,
            set={
                RecordField.STATUS: State(status=Status.REPEATING),
                RecordField.PROGRESS: Progress(5),
                RecordField.RATING: Rating(0.2, (0, 10, 1)),
                RecordField.FINISHED_AT: datetime(2020, 1, 2, tzinfo=UTC),
                RecordField.REPEAT_COUNT: 1,
                RecordField.NOTES: "n",
            },
        )
    )
    assert form == {
        "status": "completed",
        "is_rewatching": "true",
        "num_watched_episodes": "5",
        "score": "1",  # a set rating never becomes 0 ("not scored")
        "finish_date": "2020-01-02",
        "num_times_rewatched": "1",
        "comments": "n",
    }
    plain = form_for(
        UpsertRecord(REF, set={RecordField.STATUS: State(status=Status.PAUSED)})
    )
    assert plain == {"status": "on_hold", "is_rewatching": "false"}


@pytest.mark.parametrize("field", [RecordField.STARTED_AT, RecordField.FINISHED_AT])
def test_date_clears_are_unsupported(field):
    result = form_for(UpsertRecord(REF, clear=frozenset({field})))
    assert isinstance(result, Rejected) and result.code is WriteError.UNSUPPORTED
    assert field.value in result.error


def test_other_clears():
    form = form_for(
        UpsertRecord(
            REF,
            clear=frozenset(
                {
                    RecordField.RATING,
                    RecordField.NOTES,
                    RecordField.PROGRESS,
                    RecordField.REPEAT_COUNT,
                }
            ),
        )
    )
    assert form == {
        "score": "0",
        "comments": "",
        "num_watched_episodes": "0",
        "num_times_rewatched": "0",
    }


def test_rewatching_reads_as_repeating():
    record = record_from_status(
        {"id": 21, "num_episodes": 0},
        {
            "status": "completed",
            "is_rewatching": True,
            "score": 0,
            "num_episodes_watched": 3,
        },
        frozenset(RecordField),
    )
    assert record.values[RecordField.STATUS] == State("rewatching", Status.REPEATING)
    assert record.values[RecordField.PROGRESS] == Progress(3, None, "episode")
    assert RecordField.RATING not in record.values
