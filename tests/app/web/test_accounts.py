"""Accounts in the credentials store and `anibridge user`: roles, owned credentials."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from anibridge.app.web.auth_store import AuthStore


@pytest.fixture
def auth(tmp_path) -> AuthStore:
    store = AuthStore(tmp_path / "auth.json", scrypt_n=2**10)
    store.ensure_admin("the admin password")
    return store


def test_accounts_log_in_with_their_own_password_and_role(auth):
    generated = auth.add_user("alice")
    assert generated and len(generated) >= 10
    assert auth.add_user("bob", "bob's own password", role="admin") is None
    assert auth.check_login("alice", generated)
    assert not auth.check_login("alice", "bob's own password")
    assert not auth.check_login("carol", generated)  # no such account
    assert auth.check_login("admin", "the admin password")
    assert [(u.name, u.role) for u in auth.users()] == [
        ("admin", "admin"),
        ("alice", "user"),
        ("bob", "admin"),
    ]
    assert (auth.role("alice"), auth.role("admin"), auth.role("carol")) == (
        "user",
        "admin",
        None,
    )


@pytest.mark.parametrize(
    ("name", "role", "password", "error"),
    [
        ("admin", "user", "long enough pw", "already exists"),
        ("Alice", "user", "long enough pw", "lowercase"),
        ("a/b", "user", "long enough pw", "lowercase"),
        ("alice", "root", "long enough pw", "role 'root'"),
        ("alice", "user", "short", "at least 10"),
    ],
)
def test_bad_accounts_are_refused_with_what_is_wrong(auth, name, role, password, error):
    with pytest.raises(ValueError, match=error):
        auth.add_user(name, password, role=role)


def test_tokens_sessions_and_webhook_secrets_belong_to_one_account(auth):
    auth.add_user("alice", "alice password")
    auth.add_user("bob", "bob's password")
    a_info, a_secret = auth.create_token("a", "alice")
    b_info, _ = auth.create_token("b", "bob")
    assert auth.check_token(a_secret).user == "alice"
    assert [t.id for t in auth.tokens("alice")] == [a_info.id]
    assert not auth.revoke_token(a_info.id, "bob")  # not bob's to revoke
    assert auth.check_token(a_secret) is not None
    with pytest.raises(ValueError, match="no account"):
        auth.create_token("x", "carol")

    hooks = {u: auth.webhook_secret("plex", u) for u in ("admin", "alice", "bob")}
    assert len(set(hooks.values())) == 3
    for user, secret in hooks.items():
        assert auth.webhook_owner("plex", secret) == user
    assert auth.webhook_owner("plex", "guess") is None
    assert auth.webhook_owner("jellyfin", hooks["alice"]) is None
    auth.rotate_webhook_secret("plex", "alice")
    assert auth.webhook_owner("plex", hooks["alice"]) is None
    assert auth.webhook_secret("plex", "bob") == hooks["bob"]

    sid, _ = auth.create_session("alice")
    admin_sid, _ = auth.create_session("admin")
    auth.set_user_password("alice", "a new password")
    assert auth.session(sid) is None  # alice's sessions ended, the admin's did not
    assert auth.session(admin_sid) is not None

    assert auth.remove_user("alice")
    assert auth.check_token(a_secret) is None
    assert auth.webhook_owner("plex", auth.webhook_secret("plex", "bob")) == "bob"
    assert [t.id for t in auth.tokens()] == [b_info.id]
    with pytest.raises(ValueError, match="cannot be removed"):
        auth.remove_user("admin")


def test_a_credentials_file_from_before_accounts_keeps_working(tmp_path):
    path = tmp_path / "auth.json"
    old = AuthStore(path, scrypt_n=2**10)
    old.ensure_admin("the admin password")
    _info, secret = old.create_token("ci")
    hook = old.webhook_secret("plex")
    data = json.loads(path.read_text())
    for key in ("users", "user_webhook_secrets"):
        data.pop(key)
    for token in data["tokens"]:
        token.pop("user")
    path.write_text(json.dumps(data))
    store = AuthStore(path, scrypt_n=2**10)
    assert store.check_token(secret).user == "admin"
    assert store.webhook_owner("plex", hook) == "admin"
    assert store.users()[0].name == "admin"
    store.add_user("alice", "alice password")
    assert store.role("alice") == "user"


def test_user_command_adds_lists_and_removes_accounts(tmp_path):
    from anibridge.app.cli import _load_commands
    from anibridge.app.cli import app as cli

    _load_commands()
    config = tmp_path / "anibridge.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\nprofiles: {{}}\n")
    runner = CliRunner()
    added = runner.invoke(cli, ["user", "add", "alice", "-c", str(config)])
    assert added.exit_code == 0, added.output
    password = added.stdout.strip()
    assert AuthStore(tmp_path / "data" / "auth.json").check_login("alice", password)
    again = runner.invoke(cli, ["user", "add", "alice", "-c", str(config)])
    assert again.exit_code == 2 and "already exists" in again.output
    piped = runner.invoke(
        cli,
        [
            "user",
            "add",
            "root2",
            "--role",
            "admin",
            "--password-stdin",
            "-c",
            str(config),
        ],
        input="a long password\n",
    )
    assert piped.exit_code == 0 and piped.stdout == ""
    token = runner.invoke(
        cli, ["token", "create", "ci", "--user", "alice", "-c", str(config), "--json"]
    )
    assert token.exit_code == 0, token.output
    listed = runner.invoke(cli, ["user", "list", "-c", str(config), "--json"])
    assert json.loads(listed.stdout) == [
        {"name": "admin", "role": "admin"},
        {"name": "alice", "role": "user"},
        {"name": "root2", "role": "admin"},
    ]
    tokens = runner.invoke(cli, ["token", "list", "-c", str(config), "--json"])
    assert [t["user"] for t in json.loads(tokens.stdout)] == ["alice"]
    assert (
        runner.invoke(cli, ["user", "remove", "alice", "-c", str(config)]).exit_code
        == 0
    )
    gone = runner.invoke(cli, ["user", "remove", "alice", "-c", str(config)])
    assert gone.exit_code == 1
