from __future__ import annotations

import json
import stat

import pytest

from anibridge.app.web.auth_store import AuthStore
from anibridge.app.web.security import (
    hash_password,
    hash_token,
    new_token,
    same,
    verify_password,
)


def test_password_hash_roundtrip_and_salting():
    one = hash_password("s3cret!", n=2**10)
    two = hash_password("s3cret!", n=2**10)
    assert one != two  # salted
    assert one.startswith("scrypt$1024$8$1$")
    assert verify_password("s3cret!", one)
    assert not verify_password("s3cret?", one)
    assert not verify_password("s3cret!", "bcrypt$whatever")
    assert not verify_password("s3cret!", "garbage")
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


def test_tokens_are_random_prefixed_and_hashed():
    a, b = new_token(), new_token()
    assert a != b and a.startswith("abt_") and len(a) > 40
    assert hash_token(a) != a and len(hash_token(a)) == 64
    assert same(a, a) and not same(a, b)


def test_first_start_generates_once_and_stores_only_a_hash(tmp_path):
    path = tmp_path / "auth.json"
    store = AuthStore(path, scrypt_n=2**10)
    generated = store.ensure_admin()
    assert generated and len(generated) >= 16
    assert AuthStore(path).ensure_admin() is None  # not generated again
    text = path.read_text()
    assert generated not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert AuthStore(path).check_login("admin", generated)
    assert not AuthStore(path).check_login("admin", generated + "x")
    assert not AuthStore(path).check_login("root", generated)


def test_configured_password_wins_and_ends_sessions(tmp_path):
    store = AuthStore(tmp_path / "auth.json", scrypt_n=2**10)
    store.ensure_admin("first password")
    sid, _ = store.create_session()
    assert store.session(sid) is not None
    assert store.ensure_admin("first password") is None
    assert store.session(sid) is not None  # unchanged password keeps sessions
    store.ensure_admin("second password")
    assert store.session(sid) is None
    assert store.check_login("admin", "second password")


def test_sessions_are_stored_hashed_and_can_end(tmp_path):
    path = tmp_path / "auth.json"
    store = AuthStore(path, scrypt_n=2**10)
    sid, session = store.create_session()
    assert sid not in path.read_text()
    assert store.session(sid) == session
    assert store.session("forged") is None
    store.end_session(sid)
    assert store.session(sid) is None


def test_token_created_by_another_process_is_seen_and_not_overwritten(tmp_path):
    path = tmp_path / "auth.json"
    service = AuthStore(path, scrypt_n=2**10)
    service.ensure_admin("pw pw pw pw")
    cli = AuthStore(path)
    info, secret = cli.create_token("backup-script")
    assert service.check_token(secret) == info  # the running service sees it
    service.create_token("ui-token")  # a write by the service keeps the CLI's token
    names = {t.name for t in AuthStore(path).tokens()}
    assert names == {"backup-script", "ui-token"}
    assert secret not in path.read_text()
    assert cli.revoke_token(info.id)
    assert service.check_token(secret) is None
    assert not cli.revoke_token(info.id)
    with pytest.raises(ValueError, match="1-80"):
        cli.create_token("  ")


def test_webhook_secrets_are_stable_until_rotated(tmp_path):
    store = AuthStore(tmp_path / "auth.json")
    first = store.webhook_secret("plex")
    assert AuthStore(tmp_path / "auth.json").webhook_secret("plex") == first
    rotated = store.rotate_webhook_secret("plex")
    assert rotated != first
    assert store.webhook_secret("plex") == rotated


def test_corrupt_file_is_an_error_not_a_reset(tmp_path):
    path = tmp_path / "auth.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="unreadable credentials file"):
        AuthStore(path)
    path.write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="JSON object"):
        AuthStore(path)
