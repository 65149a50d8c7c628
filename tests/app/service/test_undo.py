"""The undo use case's refusals are typed, each one line naming the run."""

from __future__ import annotations

import pytest

from anibridge.app.service.errors import Conflict, InvalidInput, NotFound
from anibridge.app.service.undo import check_undoable, revert
from anibridge.bridge.stores import MemoryStores, RunRecord

T = "2025-01-01T00:00:00+00:00"


@pytest.fixture
def stores():
    bundle = MemoryStores().bundle()
    bundle.runs.finish_run(RunRecord("a" * 32, "demo", T, status="ok"))
    bundle.runs.finish_run(RunRecord("d" * 32, "demo", T, kind="dry_run", status="ok"))
    return bundle


def test_an_undoable_run_is_returned(stores):
    assert check_undoable(stores, "demo", "a" * 32).id == "a" * 32


def test_unknown_or_other_profiles_run_is_not_found(stores):
    with pytest.raises(NotFound, match="no run 'zzz' for 'demo'"):
        check_undoable(stores, "demo", "zzz")
    with pytest.raises(NotFound) as other:
        check_undoable(stores, "other", "a" * 32)
    assert other.value.status == 404


def test_a_dry_run_has_nothing_to_undo(stores):
    with pytest.raises(InvalidInput, match="dddddddd was a dry run: it wrote nothing"):
        check_undoable(stores, "demo", "d" * 32)


def test_an_undone_run_says_so(stores):
    with pytest.raises(Conflict, match="aaaaaaaa is already undone") as done:
        check_undoable(stores, "demo", "a" * 32, undone={"a" * 32})
    assert done.value.status == 409


async def test_reverting_what_the_journal_does_not_hold_is_not_found(stores):
    with pytest.raises(NotFound, match="nothing in the journal"):
        await revert({}, stores, profile="demo", run_id="f" * 32)
