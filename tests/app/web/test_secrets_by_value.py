"""Secrets planted in every form never leave the process: pages, API, logs, streams."""

from __future__ import annotations

import html
import io
import json
import logging
import shutil
import threading
from urllib.parse import quote, quote_plus

import httpx
import pytest
from cryptography.fernet import Fernet

from anibridge.app.config import load_config, parse_config
from anibridge.app.scheduler import RunResult
from anibridge.app.web.engine_backend import EngineBackend
from anibridge.app.web.routes_api import STREAMS
from anibridge.app.web.server import ServerThread, settings_from_config
from anibridge.http.redact import SECRETS, mask, redact
from anibridge.store import SqlStore, TokenStore

URL_PASSWORD = "PL@NT-url-pass-7"
SECRETS_PLANTED = {
    "url userinfo": URL_PASSWORD,
    "env reference": 'PLANT-env<&"ref>-1',
    "file reference": "PLANT-file-ref-2",
    "env override": "PLANT-override-admin-3",
    "dsn password": "PLANT-dsn-4",
    "token store": "PLANT-token-store-5",
}


def spellings(value: str) -> set[str]:
    return {
        value,
        quote(value, safe=""),
        quote_plus(value),
        html.escape(value),
        json.dumps(value)[1:-1],
    }


def leaks(text: str, extra: tuple[str, ...] = ()) -> list[str]:
    values = [*SECRETS_PLANTED.values(), *extra]
    return sorted({v for v in values for form in spellings(v) if form in text})


CONFIG = """\
data_dir: data
profiles:
  demo:
    source:
      type: local
      name: library
      config:
        path: library.sqlite
        seed: library.yaml
        instance: library
        title: {env: AB_SOURCE_TITLE}
    target:
      type: local
      name: list
      config:
        path: list.sqlite
        seed: list.yaml
        authorities: [anilist]
        rating_scale: [0, 100, 1]
        date_precision: date
        base_url: "http://viewer:PL%40NT-url-pass-7@127.0.0.1:9/"
        title: {file: title.secret}
"""


@pytest.fixture
def planted(tmp_path, make_ws, migrated_db, mapping_index, monkeypatch):
    SECRETS.clear()
    config = make_ws(tmp_path / "ws", config=CONFIG)
    (config.parent / "data").mkdir()
    shutil.copy(migrated_db, config.parent / "data" / "anibridge.db")
    (config.parent / "title.secret").write_text(SECRETS_PLANTED["file reference"])
    environ = {
        "AB_SOURCE_TITLE": SECRETS_PLANTED["env reference"],
        "ANIBRIDGE_WEB__ADMIN_PASSWORD": SECRETS_PLANTED["env override"],
    }
    monkeypatch.setenv("AB_SOURCE_TITLE", environ["AB_SOURCE_TITLE"])
    fernet_key = Fernet.generate_key().decode()
    monkeypatch.setenv("ANIBRIDGE_SECRET_KEY", fernet_key)
    loaded = load_config(config, environ=environ)
    settings = settings_from_config(
        loaded, environ=environ, scrypt_n=2**10, mappings_refresh=None
    )
    backend = EngineBackend(loaded, index=mapping_index, environ=environ)
    server = ServerThread(settings, backend).start()
    # The encrypted token store hands a provider its tokens (a load registers them).
    store = SqlStore(loaded.store_url)
    tokens = TokenStore(store, fernet_key.encode(), namespace="demo/list")
    server.call(tokens.save("list", {"access_token": SECRETS_PLANTED["token store"]}))
    server.call(tokens.load("list"))
    store.close()
    # The config file moves to a PostgreSQL store with a password in its DSN (the
    # running service keeps its store; loading the file is what registers it).
    text = config.read_text().replace(
        "data_dir: data\n",
        "data_dir: data\nstore_url: postgresql://anibridge:PLANT-dsn-4@db/anibridge\n",
    )
    config.write_text(text)
    load_config(config, environ=environ)
    yield server, fernet_key
    server.stop()
    SECRETS.clear()


def test_every_get_route_and_the_logs_mask_planted_secrets(
    planted, login, app_routes, concrete
):
    server, fernet_key = planted
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    everything = " ".join(SECRETS_PLANTED.values())
    try:
        # Secrets reach logs, exceptions, run errors and the access log.
        log = logging.getLogger("anibridge.app.test")
        log.warning("provider said: %s (key %s)", everything, fernet_key)
        try:
            raise RuntimeError(f"connect failed for {everything}")
        except RuntimeError:
            log.exception("sync failed")
        access = logging.getLogger("uvicorn.access")  # off in tests: listen directly
        access.setLevel(logging.INFO)
        access.addHandler(handler)
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "203.0.113.9:5000",
            "GET",
            f"/api/status?token={quote(SECRETS_PLANTED['token store'])}",
            "1.1",
            200,
        )
        worker = server.ctx.scheduler.workers["demo"]
        worker.last_result = RunResult("failed", error=f"HTTP 401 for {everything}")
        token = server.ctx.auth.create_token("scan")[1]
        bearer = {"Authorization": f"Bearer {token}"}
        seen = 0
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert login(client, SECRETS_PLANTED["env override"]).status_code == 303
            for template, method in app_routes(server.app):
                if method != "GET" or template in STREAMS:
                    continue  # the live streams are read below
                path = concrete(template, profile="demo")
                for headers in (bearer, {}):
                    answer = client.get(path, headers=headers)
                    assert not leaks(answer.text, (fernet_key,)), path
                    assert not leaks(str(answer.headers), (fernet_key,)), path
                    seen += 1
            # A progress stream starts with the profile's state (its last result
            # carries the planted secrets): masked too.
            progress = "/api/profiles/demo/progress/stream"
            with client.stream("GET", progress, headers=bearer) as stream:
                first = []
                for line in stream.iter_lines():
                    first.append(line)
                    if line.startswith("data: "):
                        break
            assert "HTTP 401 for" in "\n".join(first)
            assert not leaks("\n".join(first), (fernet_key,))
            # A form that echoes input back in its redirect.
            page = client.get("/settings")
            csrf = page.text.split('name="csrf-token" content="', 1)[1].split('"')[0]
            pin = client.post(
                "/ui/profiles/demo/pins",
                data={
                    "csrf_token": csrf,
                    "provider": SECRETS_PLANTED["token store"],
                    "ref": "x",
                },
            )
            assert pin.status_code == 303
            assert not leaks(pin.headers["location"])
            # The settings page still shows the config, with the URL's password
            # masked, and a save without edits keeps the stored one.
            shown = client.get("/api/config", headers=bearer).text
            assert "http://viewer:***@127.0.0.1:9/" in shown
            assert "postgresql://anibridge:***@db/anibridge" in shown
            saved = client.put("/api/config", headers=bearer, json={"content": shown})
            assert saved.status_code == 200, saved.text
            on_disk = server.ctx.backend.loaded.path.read_text()
            assert "viewer:PL%40NT-url-pass-7@" in on_disk
            # The live stream carries log lines: masked too.
            lines: list[str] = []
            opened = threading.Event()

            def listen() -> None:
                with client.stream("GET", "/api/events", headers=bearer) as stream:
                    for line in stream.iter_lines():
                        lines.append(line)
                        opened.set()
                        if "stream-marker" in line:
                            return

            reader = threading.Thread(target=listen, daemon=True)
            reader.start()
            assert opened.wait(10)
            log.warning("stream-marker %s", everything)
            reader.join(20)
            assert any("stream-marker" in line for line in lines)
            assert not leaks("\n".join(lines))
        assert seen >= 50  # every GET route, with a token and with the session
        records = server.ctx.logs.tail(2000)
        assert any("provider said" in r["message"] for r in records)
        assert not leaks(json.dumps(records), (fernet_key,))
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger("uvicorn.access").setLevel(logging.NOTSET)
        logging.getLogger("uvicorn.access").removeHandler(handler)
    output = captured.getvalue()
    assert "provider said" in output and "uvicorn.access" in output
    assert not leaks(output, (fernet_key,))


def test_every_form_is_registered_by_the_code_that_resolves_it(tmp_path):
    from anibridge.app.config import resolve_secrets
    from anibridge.store import load_secret_key

    SECRETS.clear()
    try:
        parse_config(
            {
                "store_url": "postgresql+psycopg://u:PLANT-dsn-4@db/x",
                "web": {"admin_password": "PLANT-literal-0"},
                "mappings": {"custom": ["https://me:PL%40NT-url-pass-7@h/m.yaml"]},
            },
            path=tmp_path / "c.yaml",
            environ={},
        )
        (tmp_path / "t.secret").write_text("PLANT-file-ref-2\n")
        resolve_secrets(
            {"a": {"env": "X"}, "b": {"file": "t.secret"}},
            where="w",
            base_dir=tmp_path,
            environ={"X": "PLANT-env-ref-1"},
        )
        key = load_secret_key(tmp_path / "data", environ={})
        text = (
            "psycopg: password authentication failed (PLANT-dsn-4); "
            "admin PLANT-literal-0, url pass PL@NT-url-pass-7, env PLANT-env-ref-1, "
            f"file PLANT-file-ref-2, key {key.decode()}"
        )
        masked = mask(text)
        assert masked.count("***") == 6
        assert "PLANT" not in masked and "PL@NT" not in masked
        # By shape, even when never registered:
        assert redact("sqlite://x:hunter22@h/db") == "sqlite://x:***@h/db"
        # Short values would mask ordinary words: key-based masking covers them.
        SECRETS.add("abc")
        assert mask("abc") == "abc"
    finally:
        SECRETS.clear()


async def test_the_token_store_registers_what_it_loads(tmp_path):
    from anibridge.store import load_secret_key

    SECRETS.clear()
    store = SqlStore(f"sqlite:///{tmp_path / 's.db'}")
    try:
        key = load_secret_key(tmp_path, environ={})
        await TokenStore(store, key, namespace="p/mal").save(
            "mal", {"refresh_token": "PLANT-refresh-9", "expires_at": 1234567890}
        )
        SECRETS.clear()
        loaded = await TokenStore(store, key, namespace="p/mal").load("mal")
        assert loaded["refresh_token"] == "PLANT-refresh-9"
        assert (
            mask("refresh PLANT-refresh-9 at 1234567890") == "refresh *** at 1234567890"
        )
    finally:
        store.close()
        SECRETS.clear()
