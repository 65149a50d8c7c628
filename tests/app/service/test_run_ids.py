"""Short run ids: a unique prefix names its run, an ambiguous one lists candidates."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from anibridge.app.service.errors import InvalidInput, NotFound
from anibridge.app.service.run_ids import already_undone_by, resolve_run, short_id
from anibridge.bridge.stores import RunRecord
from anibridge.store import SqlStore


@pytest.fixture
def store(tmp_path: Path):
    store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    for run_id, profile, at in (
        ("abc12345" + "0" * 24, "main", "2026-01-01T10:00:00+00:00"),
        ("abc19999" + "0" * 24, "other", "2026-01-02T10:00:00+00:00"),
        ("def00000" + "0" * 24, "main", "2026-01-03T10:00:00+00:00"),
        ("a%c_0000" + "0" * 24, "main", "2026-01-04T10:00:00+00:00"),
    ):
        store.start_run(RunRecord(run_id, profile, at))
    yield store
    store.close()


def test_whole_id_and_unique_prefix(store: SqlStore) -> None:
    whole = "def00000" + "0" * 24
    assert resolve_run(store, whole).id == whole
    assert resolve_run(store, " def0 ").id == whole
    assert resolve_run(store, "abc123").id.startswith("abc12345")
    assert short_id(whole) == "def00000"


def test_ambiguous_prefix_lists_the_candidates(store: SqlStore) -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_run(store, "abc1")
    text = str(caught.value)
    assert text.startswith("run id 'abc1' is ambiguous: it could be ")
    assert "abc199990000 (other sync 2026-01-02 10:00)" in text
    assert "abc123450000 (main sync 2026-01-01 10:00)" in text
    assert text.endswith("give more characters")
    # within one profile the same prefix is unique
    assert resolve_run(store, "abc1", profile="other").id.startswith("abc19999")


def test_unknown_or_empty(store: SqlStore) -> None:
    with pytest.raises(NotFound, match="no run starts with 'ffff'"):
        resolve_run(store, "ffff")
    with pytest.raises(InvalidInput, match="a run id is needed"):
        resolve_run(store, "  ")


def test_like_wildcards_match_themselves(store: SqlStore) -> None:
    assert resolve_run(store, "a%c_").id.startswith("a%c_0000")
    with pytest.raises(NotFound):
        resolve_run(store, "a%9")  # '%' is not "anything"


def test_already_undone_by_a_finished_undo_only(store: SqlStore) -> None:
    target = resolve_run(store, "def0")
    assert already_undone_by(store, target) is None
    undo = RunRecord("u" * 32, "main", "2026-01-05T10:00:00+00:00", kind="undo")
    store.start_run(undo)
    store.finish_run(replace(undo, status="partial", summary={"reverts": target.id}))
    assert already_undone_by(store, target) is None  # partial: undo may retry
    store.finish_run(replace(undo, status="ok", summary={"reverts": target.id}))
    found = already_undone_by(store, target)
    assert found is not None and found.id == "u" * 32
