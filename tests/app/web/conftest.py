from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from anibridge.app.config import load_config
from anibridge.app.web.engine_backend import EngineBackend
from anibridge.app.web.server import ServerThread
from anibridge.app.web.settings import WebSettings

PASSWORD = "correct horse battery staple"


def _episodes(numbers: range, played: int) -> str:
    lines = []
    for n in numbers:
        if n <= played:
            lines.append(
                f'          - {{episode: {n}, plays: ["2024-01-{n:02d}T20:00:00Z"]}}'
            )
        else:
            lines.append(f"          - {{episode: {n}}}")
    return "\n".join(lines)


# A tiny inline poster (the CSP allows data: images): artwork from the ARTWORK facet.
POSTER = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 2 3'%3E"
    "%3Crect width='2' height='3' fill='%23e11d48'/%3E%3C/svg%3E"
)

# Real mappings from the bundled dataset: tvdb_show:81797:s1 1-8 -> anilist:21,
# tvdb_show:78857:s1 1-35 -> anilist:20, tvdb_show:73532:s1 1-26 -> anilist:22.
LIBRARY = f"""\
anibridge_local: 1
account: {{key: viewer, title: Viewer}}
items:
  - key: onepiece
    kind: show
    title: One Piece
    ids: [tvdb_show:81797]
    metadata: {{poster: "{POSTER}"}}
    seasons:
      - season: 1
        episodes:
{_episodes(range(1, 9), 3)}
  - key: naruto
    kind: show
    title: Naruto
    ids: [tvdb_show:78857]
    seasons:
      - season: 1
        episodes:
{_episodes(range(1, 36), 2)}
  - key: yuyu
    kind: show
    title: Yu Yu Hakusho
    ids: [tvdb_show:73532]
    seasons:
      - season: 1
        episodes:
{_episodes(range(1, 27), 1)}
"""

LIST = """\
anibridge_local: 1
rating_scale: [0, 100, 1]
items:
  - key: "anilist:21"
    kind: series
    title: One Piece
    ids: ["anilist:21"]
    record: {status: watching, progress: 1}
"""

CONFIG = """\
data_dir: data
profiles:
  demo:
    source:
      type: local
      name: library
      config: {path: library.sqlite, seed: library.yaml, instance: library}
    target:
      type: local
      name: list
      config:
        path: list.sqlite
        seed: list.yaml
        authorities: [anilist]
        rating_scale: [0, 100, 1]
        date_precision: date
"""


def make_workspace(root: Path, *, config: str = CONFIG) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "library.yaml").write_text(LIBRARY)
    (root / "list.yaml").write_text(LIST)
    path = root / "anibridge.yaml"
    path.write_text(config)
    return path


@pytest.fixture(scope="session")
def mapping_index():
    from anibridge.mappings import load_index

    return load_index(notice=None)


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory) -> Path:
    """One migrated store, copied into each workspace (migrating takes seconds)."""
    from anibridge.store import SqlStore

    path = tmp_path_factory.mktemp("store") / "anibridge.db"
    SqlStore(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def workspace(tmp_path, migrated_db) -> Path:
    config = make_workspace(tmp_path / "ws")
    (config.parent / "data").mkdir()
    shutil.copy(migrated_db, config.parent / "data" / "anibridge.db")
    return config


def start_service(config_path: Path, index, **settings) -> ServerThread:
    loaded = load_config(config_path, environ={})
    backend = EngineBackend(loaded, index=index, environ={})
    options = {
        "admin_password": PASSWORD,
        "scrypt_n": 2**10,
        "mappings_refresh": None,
        **settings,
    }
    web = WebSettings(data_dir=loaded.data_dir, **options)
    return ServerThread(web, backend).start()


@pytest.fixture
def demo_service(tmp_path, migrated_db, mapping_index) -> Iterator[ServerThread]:
    """The service on the `anibridge demo` workspace (42 real titles)."""
    from anibridge.app.demo import prepare_workspace

    config, _created = prepare_workspace(tmp_path / "demo")
    (config.parent / "data").mkdir()
    shutil.copy(migrated_db, config.parent / "data" / "anibridge.db")
    server = start_service(config, mapping_index)
    yield server
    server.stop()


@pytest.fixture
def service(workspace, mapping_index) -> Iterator[ServerThread]:
    server = start_service(workspace, mapping_index)
    yield server
    server.stop()


@pytest.fixture
def token(service) -> str:
    _info, secret = service.ctx.auth.create_token("tests")
    return secret


@pytest.fixture
def api(service, token) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def anon(service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=30) as client:
        yield client


def _login(client: httpx.Client, password: str = PASSWORD) -> httpx.Response:
    """Log in through the real form (double-submit CSRF cookie included)."""
    page = client.get("/login")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return client.post(
        "/login",
        data={
            "username": "admin",
            "password": password,
            "csrf_token": csrf,
            "next": "/",
        },
    )


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def login():
    return _login


@pytest.fixture
def make_ws():
    return make_workspace


@pytest.fixture
def start():
    return start_service


def csrf_of(html: str) -> str:
    return html.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


@pytest.fixture
def csrf():
    return csrf_of


def _walk(routes, prefix=""):
    """(path template, method) of every route, through included routers and mounts."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI >= 0.16x keeps included routers nested
            yield from _walk(included.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Mount):
            yield prefix + route.path, "GET"
        elif isinstance(route, APIRoute):
            for method in sorted(route.methods):
                yield prefix + route.path, method
        else:
            for method in sorted(getattr(route, "methods", None) or {"GET"}):
                yield prefix + route.path, method


@pytest.fixture
def app_routes():
    """Every (path template, method) of an app, found from its router."""
    return lambda app: sorted(set(_walk(app.router.routes)))


@pytest.fixture
def concrete():
    """A path template filled in: named values where given, ``x`` elsewhere."""

    def fill(path: str, **values: str) -> str:
        return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), "x"), path)

    return fill
