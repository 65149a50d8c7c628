from __future__ import annotations

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from anibridge.store import SecretKeyError, SqlStore, TokenStore, load_secret_key
from anibridge.store import schema as t


@pytest.fixture
def store(tmp_path):
    s = SqlStore(f"sqlite:///{tmp_path / 's.db'}")
    yield s
    s.close()


async def test_tokens_roundtrip_encrypted_at_rest(store):
    key = Fernet.generate_key()
    tokens = TokenStore(store, key, namespace="default")
    assert await tokens.load("anilist") is None
    await tokens.save("anilist", {"access_token": "SECRET-abc", "refresh_token": "r"})
    await tokens.save("anilist", {"access_token": "SECRET-def"})
    assert await tokens.load("anilist") == {"access_token": "SECRET-def"}
    with store.engine.connect() as conn:
        blobs = [bytes(r[0]) for r in conn.execute(sa.select(t.tokens.c.ciphertext))]
    assert len(blobs) == 1 and b"SECRET" not in blobs[0]
    other = TokenStore(store, Fernet.generate_key(), namespace="default")
    with pytest.raises(SecretKeyError, match="do not decrypt"):
        await other.load("anilist")
    await tokens.delete("anilist")
    assert await tokens.load("anilist") is None


def test_secret_key_sources(tmp_path):
    key = Fernet.generate_key()
    assert load_secret_key(environ={"ANIBRIDGE_SECRET_KEY": key.decode()}) == key
    key_file = tmp_path / "k"
    key_file.write_bytes(key + b"\n")
    assert load_secret_key(environ={"ANIBRIDGE_SECRET_KEY_FILE": str(key_file)}) == key
    generated = load_secret_key(tmp_path / "data", environ={})
    assert load_secret_key(tmp_path / "data", environ={}) == generated
    assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o077 == 0
    with pytest.raises(SecretKeyError, match="ANIBRIDGE_SECRET_KEY"):
        load_secret_key(environ={"ANIBRIDGE_SECRET_KEY": "short"})
    with pytest.raises(SecretKeyError):
        load_secret_key(environ={})


def test_backups_index(store):
    a = store.add_backup(
        profile="p",
        provider="list",
        path="/b/1.json",
        size=10,
        sha256="x" * 64,
        created_at="2026-01-01T00:00:00+00:00",
    )
    b = store.add_backup(
        profile="p",
        provider="list",
        path="/b/2.json",
        size=11,
        sha256="y" * 64,
        run_id="r1",
        created_at="2026-01-02T00:00:00+00:00",
    )
    store.add_backup(profile="q", provider="list", path="/b/3.json", size=1, sha256="z")
    assert [e.id for e in store.backups("p")] == [b.id, a.id]
    assert store.backups("p")[0].run_id == "r1"
    store.remove_backup(a.id)
    assert [e.path for e in store.backups("p", "list")] == ["/b/2.json"]
    assert len(store.backups()) == 2
