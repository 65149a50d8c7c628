from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from anibridge.store import SqlStore, create_store_engine

PG_URL = os.environ.get("ANIBRIDGE_TEST_POSTGRES_URL")


def pytest_collection_modifyitems(items):
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.hosted)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A store URL on a fresh PostgreSQL schema (dropped afterwards).

    The schema travels inside the URL (``options=-csearch_path=…``), so worker
    processes started with it land in the same schema.
    """
    if not PG_URL:
        pytest.skip("ANIBRIDGE_TEST_POSTGRES_URL not set")
    schema = f"h_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield (
            f"{PG_URL}{sep}application_name={schema}"
            f"&options={quote(f'-csearch_path={schema}')}"
        )
    finally:
        with admin.begin() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE pid <> pg_backend_pid() AND application_name = :name"
                ),
                {"name": schema},
            )
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(pg_url) -> Iterator[SqlStore]:
    """The migrated store on the fresh schema."""
    store = SqlStore(create_store_engine(pg_url))
    yield store
    store.close()


# Two users' profiles, each a small local library synced to its own local list
# (real files, the real engine); the library's shows map to AniList ids in the
# bundled mappings (tvdb_show:78857 s1 -> anilist:20, tvdb_show:73532 s1 -> 22).
LIBRARY = {
    "anibridge_local": 1,
    "account": {"key": "viewer", "title": "Viewer"},
    "items": [
        {
            "key": key,
            "kind": "show",
            "title": title,
            "ids": [f"tvdb_show:{tvdb}"],
            "seasons": [
                {
                    "season": 1,
                    "episodes": [
                        {"episode": n, "plays": [f"2024-01-{n:02d}T20:00:00Z"]}
                        for n in range(1, played + 1)
                    ]
                    + [{"episode": n} for n in range(played + 1, 13)],
                }
            ],
        }
        for key, title, tvdb, played in (
            ("naruto", "Naruto", 78857, 2),
            ("yuyu", "Yu Yu Hakusho", 73532, 1),
        )
    ],
}
LIST = {"anibridge_local": 1, "rating_scale": [0, 100, 1], "items": []}


def _hosted_config(root, store_url: str, owners: dict[str, str | None]) -> Path:
    """An anibridge.yaml with one local → local profile per entry of `owners`."""
    import yaml

    profiles = {}
    for name, owner in owners.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "library.yaml").write_text(yaml.safe_dump(LIBRARY))
        (folder / "list.yaml").write_text(yaml.safe_dump(LIST))
        profiles[name] = {
            "source": {
                "type": "local",
                "name": "library",
                "config": {
                    "path": str(folder / "library.sqlite"),
                    "seed": str(folder / "library.yaml"),
                    "instance": "library",
                },
            },
            "target": {
                "type": "local",
                "name": "list",
                "config": {
                    "path": str(folder / "list.sqlite"),
                    "seed": str(folder / "list.yaml"),
                    "authorities": ["anilist"],
                    "rating_scale": [0, 100, 1],
                },
            },
        }
        if owner is not None:
            profiles[name]["owner"] = owner
    config = {
        "data_dir": str(root / "data"),
        "store_url": store_url,
        "backups": {"before_write": False},
        "hosted": {
            "enabled": True,
            "retry_base": 0,
            "heartbeat": 0.5,
            "stall_timeout": 2,
            "stall_check": 1,
        },
        "profiles": profiles,
    }
    path = root / "anibridge.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def hosted_config():
    """Writes a hosted config: ``hosted_config(root, url, {profile: owner})``."""
    return _hosted_config


@pytest.fixture(scope="session")
def index():
    """The bundled mappings index (loaded once)."""
    from anibridge.mappings import load_index

    return load_index(notice=None)


def _start_hosted(config, index, **settings):
    """The hosted web service on loopback for `config` (started; call ``.stop()``).

    Extra keyword arguments override `WebSettings` fields.
    """
    from anibridge.app.config import load_config
    from anibridge.app.web.engine_backend import schedule_for
    from anibridge.app.web.server import ServerThread
    from anibridge.app.web.settings import WebSettings
    from anibridge.hosted.auth import PgAuthStore
    from anibridge.hosted.web import HostedBackend, QueueScheduler
    from anibridge.hosted.worker import open_hosted_engine

    loaded = load_config(config, environ={})
    engine = open_hosted_engine(loaded.store_url)
    scheduler = QueueScheduler(
        engine,
        loaded.store_url,
        {n: schedule_for(c) for n, c in loaded.app.profiles.items()},
    )
    web = WebSettings(
        data_dir=loaded.data_dir,
        admin_password="correct horse battery staple",
        scrypt_n=2**10,
        mappings_refresh=None,
        **settings,
    )
    backend = HostedBackend(loaded, index=index, environ={})
    backend.queue = scheduler  # as `hosted_context` wires it
    auth = PgAuthStore(engine, seed=web.data_dir / "auth.json", scrypt_n=web.scrypt_n)
    return ServerThread(web, backend, scheduler=scheduler, auth=auth).start()


@pytest.fixture
def start_hosted():
    """``start_hosted(config, index)``: the hosted web service, started."""
    return _start_hosted
