"""Hosted credentials in PostgreSQL: every web process and the CLI share them.

Two `PgAuthStore`s on one database stand for two web processes on two machines;
two real hosted web services on one database show it end to end (an account and
a token made through one work on the other), and the ``anibridge user`` and
``token`` commands write to the same place.
"""

from __future__ import annotations

import asyncio
import json

import httpx

from anibridge.app.web.auth_store import AuthStore
from anibridge.hosted.auth import PgAuthStore
from anibridge.hosted.worker import migrate_all
from tests.app.cli.cli_support import invoke

FAST = 2**10


def test_two_processes_share_accounts_sessions_and_tokens(pg_url, store):
    migrate_all(pg_url)
    one = PgAuthStore(store.engine, scrypt_n=FAST)
    two = PgAuthStore(store.engine, scrypt_n=FAST)
    one.ensure_admin("admin's long password")
    assert two.check_login("admin", "admin's long password")
    one.add_user("alice", "alice's long password")
    assert two.role("alice") == "user"
    sid, _session = two.create_session("alice")
    assert one.session(sid).user == "alice"

    # `two` still holds the document before `one`'s next change: its own change
    # starts from the newest row, so neither is lost.
    one.add_user("bob", "bob's long password")
    info, secret = two.create_token("script", "alice")
    assert {u.name for u in one.users()} == {"admin", "alice", "bob"}
    assert one.check_token(secret).id == info.id
    secret_b = one.webhook_secret("plex", "bob")
    assert two.webhook_owner("plex", secret_b) == "bob"

    # A refused change leaves the stored document as it was.
    try:
        two.add_user("bob", "another long password")
    except ValueError:
        pass
    else:
        raise AssertionError("a taken account name was accepted")
    assert one.check_login("bob", "bob's long password")

    one.remove_user("alice")
    assert two.session(sid) is None and two.check_token(secret) is None


def test_an_existing_auth_json_is_imported_once(pg_url, store, tmp_path):
    migrate_all(pg_url)
    seed = tmp_path / "auth.json"
    single = AuthStore(seed, scrypt_n=FAST)
    single.ensure_admin("admin's long password")
    single.add_user("carol", "carol's long password")
    _info, secret = single.create_token("old script", "carol")

    hosted = PgAuthStore(store.engine, seed=seed, scrypt_n=FAST)
    assert hosted.check_login("carol", "carol's long password")
    assert hosted.check_token(secret) is not None
    hosted.remove_user("carol")
    # The file is not read again once the database holds credentials.
    again = PgAuthStore(store.engine, seed=seed, scrypt_n=FAST)
    assert again.role("carol") is None
    assert json.loads(seed.read_text())["users"]["carol"]  # the file is left alone


async def test_two_web_services_and_the_cli_share_one_set_of_accounts(
    pg_url, store, tmp_path, index, hosted_config, start_hosted
):
    migrate_all(pg_url)
    config = hosted_config(tmp_path, pg_url, {"alice": "alice"})
    # The second machine: the same database, its own data directory.
    elsewhere = hosted_config(tmp_path / "machine-2", pg_url, {"alice": "alice"})
    first = await asyncio.to_thread(start_hosted, config, index)
    second = await asyncio.to_thread(start_hosted, elsewhere, index)
    try:
        from typer.testing import CliRunner

        from anibridge.app.cli import _load_commands, app

        _load_commands()
        added = CliRunner().invoke(
            app,
            ["user", "add", "alice", "-c", str(config), "--password-stdin"],
            input="alice's long password\n",
        )
        assert added.exit_code == 0, added.output
        token = invoke(
            "token", "create", "cli", "-c", str(config), "--user", "alice", "--json"
        )
        assert token.returncode == 0, token.stderr
        secret = token.json()["token"]
        for service in (first, second):
            me = httpx.get(
                f"{service.url}/api/me",
                headers={"Authorization": f"Bearer {secret}"},
            )
            assert me.status_code == 200, me.text
            assert me.json()["user"] == "alice"

        # A browser logs in on one machine and keeps its session on the other.
        with httpx.Client(base_url=first.url) as browser:
            form = browser.get("/login").text
            csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            login = browser.post(
                "/login",
                data={
                    "username": "alice",
                    "password": "alice's long password",
                    "csrf_token": csrf,
                    "next": "/",
                },
            )
            assert login.status_code == 303, login.text
            cookies = dict(browser.cookies)
        with httpx.Client(base_url=second.url, cookies=cookies) as other:
            page = other.get("/", headers={"Accept": "text/html"})
            assert page.status_code == 200 and 'data-profile="alice"' in page.text
    finally:
        await asyncio.to_thread(first.stop)
        await asyncio.to_thread(second.stop)
