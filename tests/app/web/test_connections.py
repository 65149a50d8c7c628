"""The web shows provider failures as the CLI does, and tests connections.

A profile whose Plex refuses connections is shown failing on the dashboard with
the same one line `anibridge` prints (never "Idle", never an exception repr);
`POST /api/profiles/{p}/check` and the settings page's *Test connection* button
run the `anibridge check` use case per provider.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import httpx
import pytest

from anibridge.testing.fakes.faults import closed_port
from tests.app.web.conftest import CONFIG, make_workspace, start_service

PORT = closed_port()
BROKEN = (
    CONFIG
    + f"""\
  broken:
    source:
      type: plex
      name: plex
      config: {{base_url: "http://127.0.0.1:{PORT}", token: s3cr3t-plex-token}}
    target:
      type: local
      name: list2
      config: {{path: list2.sqlite, authorities: [anilist]}}
"""
)
REFUSED = (
    f"plex: 127.0.0.1:{PORT} refused the connection — is Plex running and is "
    "`base_url` right?"
)


@pytest.fixture
def broken(tmp_path, migrated_db, mapping_index) -> Iterator:
    config = make_workspace(tmp_path / "ws", config=BROKEN)
    (config.parent / "data").mkdir()
    shutil.copy(migrated_db, config.parent / "data" / "anibridge.db")
    server = start_service(config, mapping_index)
    yield server
    server.stop()


@pytest.fixture
def client(broken, login) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=broken.url, timeout=60) as client:
        assert login(client).status_code == 303
        yield client


def test_dashboard_shows_the_failing_profile_with_its_line(client, csrf) -> None:
    page = client.get("/").text
    card = page.split('data-profile="broken"', 1)[1].split("</section>", 1)[0]
    assert "Failing" in card and "Idle" not in card
    assert REFUSED.replace("`", "&#96;") in card or REFUSED in card
    assert "HttpError" not in page and "ProviderFailed" not in page
    assert "s3cr3t-plex-token" not in page
    demo = page.split('data-profile="demo"', 1)[1].split("</section>", 1)[0]
    assert "Idle" in demo
    status = client.get("/api/status").json()
    assert REFUSED in str(status)


def test_api_check_reports_each_provider(client, csrf) -> None:
    headers = {"X-CSRF-Token": csrf(client.get("/").text)}
    good = client.post("/api/profiles/demo/check", headers=headers)
    assert good.status_code == 200, good.text
    data = good.json()
    assert data["ok"] is True
    by_key = {p["key"]: p for p in data["providers"]}
    assert by_key["library"]["user"] == "Viewer"
    assert by_key["library"]["counts"]["total"] == 3
    assert "progress" in by_key["list"]["capabilities"]["writable_fields"]

    bad = client.post(
        "/api/profiles/broken/check", params={"provider": "plex"}, headers=headers
    ).json()
    assert bad["ok"] is False
    (plex,) = bad["providers"]
    assert plex["problem"] == {"message": REFUSED, "kind": "unreachable"}
    assert plex["reached"] is False

    unknown = client.post(
        "/api/profiles/demo/check", params={"provider": "nope"}, headers=headers
    )
    assert unknown.status_code == 404
    assert "has no provider 'nope'" in unknown.text


def test_settings_test_connection_button(client, csrf) -> None:
    page = client.get("/settings").text
    assert page.count(">Test connection</button>") == 4  # two per profile
    token = csrf(page)
    shown = client.post(
        "/ui/profiles/broken/check", data={"provider": "plex", "csrf_token": token}
    )
    assert shown.status_code == 200
    result = shown.text.split("data-check-result", 1)[1].split("</div>", 1)[0]
    assert 'data-provider="plex" data-ok="false"' in result
    assert f"127.0.0.1:{PORT} refused the connection" in result
    ok = client.post(
        "/ui/profiles/demo/check", data={"provider": "library", "csrf_token": token}
    ).text
    result = ok.split("data-check-result", 1)[1].split("</div>", 1)[0]
    assert 'data-provider="library" data-ok="true"' in result
    assert "signed in as Viewer" in result and "3 titles" in result


def test_a_sync_whose_provider_fails_shows_the_line(
    tmp_path, migrated_db, mapping_index
) -> None:
    from anibridge.testing.fakes.anilist import AniListFake, FakeMedia
    from anibridge.testing.fakes.server import Fault

    media = [FakeMedia(anilist_id=21, mal_id=21, title="One Piece", episodes=1100)]
    with AniListFake(media=media, time_scale=0.001) as anilist:
        config = CONFIG.replace(
            """      type: local
      name: list
      config:
        path: list.sqlite
        seed: list.yaml
        authorities: [anilist]
        rating_scale: [0, 100, 1]
        date_precision: date
""",
            f"""      type: anilist
      name: list
      config: {{base_url: "{anilist.base_url}", token: anilist-test-token,
               time_scale: 0.001}}
""",
        )
        assert "type: anilist" in config
        path = make_workspace(tmp_path / "ws", config=config)
        (path.parent / "data").mkdir()
        shutil.copy(migrated_db, path.parent / "data" / "anibridge.db")
        server = start_service(path, mapping_index)
        try:
            secret = server.ctx.auth.create_token("t")[1]
            anilist.inject(Fault(status=503, times=1000))
            with httpx.Client(
                base_url=server.url,
                headers={"Authorization": f"Bearer {secret}"},
                timeout=120,
            ) as api:
                response = api.post(
                    "/api/profiles/demo/sync", json={"mode": "full", "wait": True}
                )
        finally:
            server.stop()
    result = response.json()["result"]
    assert result["status"] == "failed"
    assert result["error"].startswith(
        "anilist: AniList failed with 503 Service Unavailable (after 4 attempt(s))"
    ), result["error"]
    assert "HttpError" not in result["error"]


def test_runs_are_named_by_short_ids_in_the_api(api) -> None:
    done = api.post("/api/profiles/demo/sync", json={"mode": "full", "wait": True})
    run_id = done.json()["result"]["run_id"]
    preview = api.get(f"/api/profiles/demo/runs/{run_id[:8]}/undo")
    assert preview.status_code == 200, preview.text
    assert preview.json()["run"]["id"] == run_id
    missing = api.get("/api/profiles/demo/runs/zzzz/undo")
    assert missing.status_code == 404
    assert "no run of profile 'demo' starts with 'zzzz'" in missing.text
    undone = api.post(f"/api/profiles/demo/runs/{run_id[:8]}/undo")
    assert undone.status_code == 200, undone.text
    assert undone.json()["summary"]["reverts"] == run_id


async def test_a_provider_error_reaching_a_route_is_its_line_not_a_500() -> None:
    from fastapi import FastAPI

    from anibridge.app.web.errors import install_error_handlers
    from anibridge.http import HttpError
    from anibridge.http.errors import Failure
    from anibridge.provider.base import WriteError

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise HttpError(
            "plex: GET /library failed: ConnectError('All connection attempts')",
            code=WriteError.TRANSIENT,
            failure=Failure.REFUSED,
            service="plex",
            address="127.0.0.1:32400",
        )

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        failed = await client.get("/boom", headers={"Accept": "application/json"})
        crashed = await client.get("/bug", headers={"Accept": "application/json"})
    assert failed.status_code == 502
    assert failed.json() == {
        "detail": "plex: 127.0.0.1:32400 refused the connection — is Plex running "
        "and is `base_url` right?"
    }
    assert crashed.status_code == 500
    assert crashed.json() == {"detail": "internal error"}
