from __future__ import annotations

import sqlite3

import pytest

from anibridge.providers.local import LocalProvider
from anibridge.providers.local.database import LocalFileError
from anibridge.providers.local.document import DocumentError

EMPTY = b'{"anibridge_local": 1, "items": []}'


async def _keys(provider: LocalProvider) -> list[str]:
    return sorted(item["key"] for item in provider.export_document()["items"])


async def test_seed_is_imported_once_when_the_file_is_created(
    tmp_path, library_seed, make_local
):
    path = tmp_path / "lib.sqlite"
    first = make_local(path, seed=str(library_seed))
    await first.initialize()
    assert await _keys(first) == ["akira", "bebop", "frieren"]
    assert first.db.meta("seeded_from") == str(library_seed)
    first.import_document(EMPTY, where="empty.json")
    await first.close()

    again = make_local(path, seed=str(library_seed))
    await again.initialize()
    try:
        assert await _keys(again) == []  # emptied on purpose: stays empty
    finally:
        await again.close()


async def test_existing_empty_file_is_not_seeded(tmp_path, library_seed, make_local):
    path = tmp_path / "lib.sqlite"
    plain = make_local(path)
    await plain.initialize()
    await plain.close()
    seeded_later = make_local(path, seed=str(library_seed))
    await seeded_later.initialize()
    try:
        assert await _keys(seeded_later) == []
    finally:
        await seeded_later.close()


async def test_bad_seed_leaves_no_file_and_the_next_start_seeds(
    tmp_path, library_seed, make_local
):
    path = tmp_path / "lib.sqlite"
    seed = tmp_path / "seed.yaml"
    seed.write_text("anibridge_local: 1\nitems: [{kind: show}]\n")
    with pytest.raises(DocumentError, match=r"seed\.yaml"):
        await make_local(path, seed=str(seed)).initialize()
    assert not path.exists()
    seed.write_bytes(library_seed.read_bytes())
    provider = make_local(path, seed=str(seed))
    await provider.initialize()
    try:
        assert await _keys(provider) == ["akira", "bebop", "frieren"]
    finally:
        await provider.close()


def test_preflight_writes_nothing_and_names_the_problem(tmp_path, make_local):
    missing_seed = tmp_path / "nope.yaml"
    fresh = tmp_path / "sub" / "fresh.sqlite"
    with pytest.raises(DocumentError, match=r"nope\.yaml cannot be read"):
        make_local(fresh, seed=str(missing_seed)).preflight()
    make_local(fresh).preflight()
    assert list(tmp_path.iterdir()) == []

    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"garbage" * 1000)
    with pytest.raises(LocalFileError, match="not a readable SQLite database"):
        make_local(corrupt).preflight()
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(LocalFileError, match="no 'meta' table"):
        make_local(foreign).preflight()
    with pytest.raises(LocalFileError, match="does not exist"):
        make_local(tmp_path / "absent.sqlite", create=False).preflight()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "corrupt.sqlite",
        "foreign.sqlite",
    ]
