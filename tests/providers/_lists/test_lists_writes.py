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


def test_native_status_keeps_a_label_that_still_means_the_status():
    from anibridge.provider.base import State, Status
    from anibridge.providers._lists.writes import native_status

    from_native = {"CURRENT": Status.ACTIVE, "REPEATING": Status.REPEATING}
    to_native = {Status.ACTIVE: "CURRENT", Status.REPEATING: "REPEATING"}
    # A matching native label is kept; a stale or foreign one is replaced.
    assert (
        native_status(State("REPEATING", Status.REPEATING), from_native, to_native)
        == "REPEATING"
    )
    assert (
        native_status(State("REPEATING", Status.ACTIVE), from_native, to_native)
        == "CURRENT"
    )
    assert (
        native_status(State("watching", Status.ACTIVE), from_native, to_native)
        == "CURRENT"
    )
    assert native_status(State(None, Status.PAUSED), from_native, to_native) is None
    assert native_status(State("CURRENT", None), from_native, to_native) == "CURRENT"
