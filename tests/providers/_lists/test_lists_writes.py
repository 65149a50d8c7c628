from __future__ import annotations

import pytest

from anibridge.provider.base import (
    RecordField,
    Ref,
    UpsertRecord,
    WriteError,
)
from anibridge.providers._lists.writes import check_list_upsert


def test_plain_anchor_upsert_is_accepted():
    write = UpsertRecord(Ref.anchor("21"), set={RecordField.NOTES: "x"})
    assert check_list_upsert(write, "AniList", "a media anchor") is None


@pytest.mark.parametrize(
    ("write", "code", "words"),
    [
        (
            UpsertRecord(Ref.anchor("21"), kind="watchlist"),
            WriteError.UNSUPPORTED,
            "kind",
        ),
        (UpsertRecord(Ref.at("21", ("episode", 3))), WriteError.INVALID, "numeric id"),
        (UpsertRecord(Ref.anchor("abc")), WriteError.INVALID, "numeric id"),
        (
            UpsertRecord(Ref.anchor("21"), expected_revision="r1"),
            WriteError.UNSUPPORTED,
            "concurrency",
        ),
        (
            UpsertRecord(
                Ref.anchor("21"),
                set={RecordField.NOTES: "x"},
                clear=frozenset({RecordField.NOTES}),
            ),
            WriteError.INVALID,
            "both set and cleared: notes",
        ),
    ],
)
def test_shapes_no_list_tracker_takes_are_refused(write, code, words):
    problem = check_list_upsert(write, "MAL", "an anime anchor")
    assert problem is not None
    assert problem.code is code
    assert words in problem.error
    assert "MAL" in problem.error or code is WriteError.INVALID
