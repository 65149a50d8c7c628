from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

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


_OPEN = """
import asyncio, logging, sys
from anibridge.providers.local import LocalProvider

async def main():
    p = LocalProvider(logger=logging.getLogger("t"),
                      config={"path": sys.argv[1], "seed": sys.argv[2]})
    await p.initialize()
    await p.close()

asyncio.run(main())
"""


@pytest.mark.parametrize("point", ["local.create", "local.import", "local.seeded"])
async def test_a_kill_while_creating_or_seeding_leaves_no_file_then_seeds_whole(
    tmp_path, library_seed, make_local, point
):
    path = tmp_path / "lib.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    killed = subprocess.run(
        [sys.executable, "-c", _OPEN, str(path), str(library_seed)],
        env={**env, "ANIBRIDGE_FAULTS": f"kill@{point}#1"},
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not path.exists()  # never half-made under its name
    provider = make_local(path, seed=str(library_seed))
    await provider.initialize()
    try:
        assert await _keys(provider) == ["akira", "bebop", "frieren"]
        assert provider.db.meta("seeded_from") == str(library_seed)
    finally:
        await provider.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib.sqlite", "library.yaml"]


async def test_a_zero_byte_or_table_less_file_is_refused_not_seeded(
    tmp_path, library_seed, make_local
):
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    for call in (
        make_local(empty, seed=str(library_seed)).preflight,
        make_local(empty, seed=str(library_seed)).initialize,
    ):
        with pytest.raises(LocalFileError) as caught:
            await call() if call.__name__ == "initialize" else call()
        message = str(caught.value)
        assert "\n" not in message
        assert f"{empty} is empty (0 bytes), not an AniBridge local file" in message
    assert empty.read_bytes() == b""

    bare = tmp_path / "bare.sqlite"
    sqlite3.connect(bare).execute("VACUUM").connection.close()
    before = bare.read_bytes()
    assert before  # a real SQLite header, no tables
    with pytest.raises(LocalFileError, match="SQLite database without tables"):
        await make_local(bare, seed=str(library_seed)).initialize()
    assert bare.read_bytes() == before
