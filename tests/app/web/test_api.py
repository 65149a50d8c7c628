"""The JSON API end to end on a real service: review a plan, apply part, undo."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from anibridge.app.cli import _load_commands
from anibridge.app.cli import app as cli
from anibridge.app.web.settings import UnsafeBindError, WebSettings


def dry_run(api) -> dict:
    response = api.post(
        "/api/profiles/demo/sync", json={"mode": "full", "dry_run": True, "wait": True}
    )
    assert response.status_code == 202, response.text
    result = response.json()["result"]
    assert result["status"] == "ok"
    return api.get(f"/api/plans/{result['plan_id']}").json()


def test_review_apply_part_then_undo_one(api):
    plan = dry_run(api)
    titles = sorted(a["title"] for a in plan["actions"])
    assert titles == ["Naruto", "One Piece", "Yu Yu Hakusho"]
    posters = {a["title"]: a.get("poster") for a in plan["actions"]}
    assert posters["One Piece"].startswith("data:image/svg+xml")  # ARTWORK facet
    assert posters["Naruto"] is None
    chosen = [a["id"] for a in plan["actions"] if a["title"] != "Yu Yu Hakusho"]
    applied = api.post(f"/api/plans/{plan['id']}/apply", json={"action_ids": chosen})
    assert applied.status_code == 200, applied.text
    assert applied.json()["summary"]["applied"] == 2
    again = api.post(f"/api/plans/{plan['id']}/apply", json={"action_ids": chosen})
    assert again.status_code == 409  # a plan is applied once

    history = api.get("/api/profiles/demo/history").json()
    assert sorted(r["action_id"] for r in history) == sorted(chosen)
    one_piece = next(r for r in history if r["title"] == "One Piece")
    assert one_piece["before"]["progress"]["current"] == 1
    assert one_piece["after"]["progress"]["current"] == 3

    undo = api.post(
        "/api/profiles/demo/undo", json={"action_ids": [one_piece["action_id"]]}
    )
    assert undo.status_code == 200, undo.text
    assert undo.json()["summary"]["applied"] == 1
    rows = api.get("/api/profiles/demo/history").json()
    reverted = next(r for r in rows if r["action_id"] == one_piece["action_id"])
    assert reverted["undone"] is True
    undo_row = next(r for r in rows if r["undoes"] == one_piece["action_id"])
    assert undo_row["after"]["progress"]["current"] == 1
    assert [
        r["action_id"]
        for r in api.get(
            "/api/profiles/demo/history", params={"outcome": "undone"}
        ).json()
    ] == [one_piece["action_id"]]

    # The next preview wants One Piece again (it was undone), Yu Yu Hakusho still.
    later = dry_run(api)
    assert sorted(a["title"] for a in later["actions"]) == [
        "One Piece",
        "Yu Yu Hakusho",
    ]


def test_apply_rejects_ids_from_elsewhere(api):
    plan = dry_run(api)
    response = api.post(
        f"/api/plans/{plan['id']}/apply", json={"action_ids": ["feedfacefeedface"]}
    )
    assert response.status_code == 400
    assert "not in plan" in response.json()["detail"]
    assert (
        api.post("/api/plans/nope/apply", json={"action_ids": ["x"]}).status_code == 404
    )


def test_pins_are_validated_and_stored(api):
    bad = api.put(
        "/api/profiles/demo/pins",
        json={"provider": "list", "ref": "anilist:21", "fields": ["colour"]},
    )
    assert bad.status_code == 400 and "colour" in bad.json()["detail"]
    ok = api.put(
        "/api/profiles/demo/pins",
        json={"provider": "list", "ref": "anilist:21", "fields": ["progress"]},
    )
    assert ok.status_code == 200
    assert api.get("/api/profiles/demo/pins").json() == [
        {"provider": "list", "ref": "anilist:21", "fields": ["progress"]}
    ]
    plan = dry_run(api)
    one_piece = [a for a in plan["actions"] if a["title"] == "One Piece"]
    assert all("progress" not in a["after"] for a in one_piece)
    assert any(s["reason"] == "pinned" for s in plan["skipped"])


def test_mappings_lookup_and_overrides(api):
    found = api.get("/api/mappings/lookup", params={"descriptor": "anilist:21"}).json()
    assert any(e["target"].startswith("tvdb_show:81797") for e in found["edges"])
    search = api.get("/api/mappings/search", params={"q": "81797:s1"}).json()
    assert "tvdb_show:81797:s1" in search
    assert all("81797:s1" in d for d in search)
    bad_descriptor = api.get("/api/mappings/lookup", params={"descriptor": "nonsense"})
    assert bad_descriptor.status_code == 400
    broken = "anilist:99999:\n  tvdb_show:1:s1:\n    'x-y': 'z'\n"
    checked = api.post("/api/mappings/overrides/validate", json={"content": broken})
    assert checked.json()["valid"] is False
    assert (
        api.put("/api/mappings/overrides", json={"content": broken}).status_code == 422
    )
    good = "anilist:99999:\n  tvdb_show:123:s1:\n    '1-12': '1-12'\n"
    assert api.put("/api/mappings/overrides", json={"content": good}).status_code == 200
    assert api.get("/api/mappings/overrides").text == good
    edges = api.get("/api/mappings/lookup", params={"descriptor": "tvdb_show:123:s1"})
    assert [e["target"] for e in edges.json()["edges"]] == ["anilist:99999"]
    assert edges.json()["edges"][0]["provenance"] == ["derived"]  # the reverse
    forward = api.get("/api/mappings/lookup", params={"descriptor": "anilist:99999"})
    assert forward.json()["edges"][0]["provenance"] == ["your overrides"]
    assert all("/" not in o for e in found["edges"] for o in e["provenance"])


def test_backups_list_download_restore(api):
    plan = dry_run(api)
    api.post(
        f"/api/plans/{plan['id']}/apply",
        json={"action_ids": [plan["actions"][0]["id"]]},
    )
    backups = api.get("/api/profiles/demo/backups").json()
    assert len(backups) == 1 and backups[0]["provider"] == "list"
    name = backups[0]["name"]
    raw = api.get(f"/api/profiles/demo/backups/{name}")
    assert raw.status_code == 200
    assert json.loads(raw.content)["anibridge_local"] == 1
    assert api.get("/api/profiles/demo/backups/..%2Fanibridge.yaml").status_code == 404
    restored = api.post(f"/api/profiles/demo/backups/{name}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["summary"]["restored"] == name
    # Restoring took a safety backup first, and the list is back to its old state.
    assert len(api.get("/api/profiles/demo/backups").json()) == 2
    again = dry_run(api)
    assert len(again["actions"]) == 3


def test_a_bad_backup_is_refused_before_any_backup_or_write(api, workspace):
    plan = dry_run(api)
    api.post(
        f"/api/plans/{plan['id']}/apply",
        json={"action_ids": [plan["actions"][0]["id"]]},
    )
    (entry,) = api.get("/api/profiles/demo/backups").json()
    folder = workspace.parent / "data" / "backups"
    (path,) = folder.rglob(entry["name"])
    path.write_text('{"anibridge_local": 1, "items": [{"kind": "show"}]}')

    def state() -> dict[str, bytes]:
        return {
            str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
        }

    before = state()
    refused = api.post(f"/api/profiles/demo/backups/{entry['name']}/restore")
    assert refused.status_code == 400, refused.text
    message = refused.json()["detail"]
    assert entry["name"] in message and "\n" not in message
    assert state() == before  # no safety backup, nothing pruned
    assert api.get("/api/profiles/demo/backups").json() == [entry]


def test_config_is_redacted_validated_and_written(api, workspace):
    text = workspace.read_text().replace(
        "data_dir: data",
        "data_dir: data  # next to the config\n"
        "web:\n  # who may log in\n  admin_password: hunter2hunter2",
    )
    workspace.write_text("# my setup, keep these notes\n" + text)
    shown = api.get("/api/config").text
    assert "hunter2" not in shown and "admin_password: '***'" in shown
    assert shown.startswith("# my setup, keep these notes\n")
    bad = api.post("/api/config/validate", json={"content": shown + "bogus_key: 1\n"})
    assert bad.json()["valid"] is False
    assert "bogus_key" in bad.json()["problems"][0]
    saved = api.put("/api/config", json={"content": shown.replace("INFO", "INFO")})
    assert saved.status_code == 200
    written = workspace.read_text()
    assert "hunter2hunter2" in written  # the secret was kept
    for comment in ("# my setup", "# next to the config", "# who may log in"):
        assert comment in written, written


def test_tokens_api_and_openapi(api, anon):
    created = api.post("/api/tokens", json={"name": "script"}).json()
    assert created["token"].startswith("abt_")
    listed = api.get("/api/tokens").json()
    assert {"tests", "script"} == {t["name"] for t in listed}
    assert all("token" not in t for t in listed)
    other = anon.get(
        "/api/status", headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert other.status_code == 200
    assert api.delete(f"/api/tokens/{created['id']}").status_code == 200
    revoked = anon.get(
        "/api/status", headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert revoked.status_code == 401
    doc = api.get("/api/openapi.json").json()
    assert "/api/plans/{plan_id}/apply" in doc["paths"]
    assert anon.get("/api/openapi.json").status_code == 401


def test_status_and_logs(api):
    status = api.get("/api/status").json()
    assert status["ready"] is True
    assert status["profiles"][0]["name"] == "demo"
    assert status["scheduler"]["profiles"]["demo"]["busy"] is False
    dry_run(api)
    logs = api.get("/api/logs").json()
    assert any("service started" in r["message"] for r in logs)


def test_path_prefix(workspace, mapping_index, start):
    import httpx

    server = start(workspace, mapping_index, path_prefix="/anibridge")
    try:
        with httpx.Client(timeout=30) as client:
            base = f"http://127.0.0.1:{server.settings.port}"
            assert client.get(base + "/anibridge/livez").text == "ok"
            assert client.get(base + "/livez").status_code == 404
            page = client.get(base + "/anibridge/login")
            assert 'action="/anibridge/login"' in page.text
            assert 'href="/anibridge/static/app.css"' in page.text
    finally:
        server.stop()


def test_refuses_network_bind_without_auth(tmp_path):
    with pytest.raises(UnsafeBindError, match=r"0\.0\.0\.0"):
        WebSettings(tmp_path, host="0.0.0.0", auth=False).check()
    WebSettings(tmp_path, host="127.0.0.1", auth=False).check()
    WebSettings(tmp_path, host="0.0.0.0", auth=True).check()


def test_cli_refuses_network_bind_without_auth_and_creates_tokens(workspace):
    _load_commands()
    runner = CliRunner()
    refused = runner.invoke(
        cli, ["serve", "-c", str(workspace), "--host", "0.0.0.0", "--no-auth"]
    )
    assert refused.exit_code == 2
    assert "refusing to listen" in refused.output
    created = runner.invoke(
        cli, ["token", "create", "ci", "-c", str(workspace), "--json"]
    )
    assert created.exit_code == 0, created.output
    token = json.loads(created.stdout)["token"]
    stored = (workspace.parent / "data" / "auth.json").read_text()
    assert token not in stored  # only its hash is kept
    listed = runner.invoke(cli, ["token", "list", "-c", str(workspace), "--json"])
    assert [t["name"] for t in json.loads(listed.stdout)] == ["ci"]


def test_incremental_runs_follow_the_change_feed_from_the_stored_cursor(api, workspace):
    import asyncio
    import concurrent.futures
    import logging
    from datetime import UTC, datetime

    from anibridge.provider.base import AppendEvent, Ref
    from anibridge.providers.local import LocalProvider

    def incremental() -> dict:
        response = api.post(
            "/api/profiles/demo/sync", json={"mode": "incremental", "wait": True}
        )
        assert response.status_code == 202, response.text
        return response.json()["result"]

    # No cursor yet: the first run reads everything (as `anibridge sync` does:
    # one read policy, `service.runs`), and takes the feed's head for the next.
    first = incremental()
    assert first["status"] == "ok"
    assert "refs" not in first["summary"]
    assert first["summary"]["applied"] == 3
    assert incremental()["status"] == "skipped"  # cursor committed: nothing new

    async def play() -> None:
        lib = LocalProvider(
            logger=logging.getLogger("t"),
            config={"path": str(workspace.parent / "library.sqlite")},
        )
        await lib.initialize()
        at = datetime(2025, 3, 1, tzinfo=UTC)
        ref = Ref.at("yuyu", ("season", 1), ("episode", 2))
        assert (await lib.write_events([AppendEvent(ref, "play", at)]))[0].ok
        await lib.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, play()).result()
    third = incremental()
    assert third["status"] == "ok"
    assert third["summary"]["refs"] == 1  # only Yu Yu Hakusho was re-read
    rows = api.get("/api/profiles/demo/history", params={"q": "Yu Yu"}).json()
    assert rows[0]["after"]["progress"]["current"] == 2


def test_retry_applies_only_still_wanted_actions(api):
    plan = dry_run(api)
    one = next(a["id"] for a in plan["actions"] if a["title"] == "Naruto")
    first = api.post("/api/profiles/demo/retry", json={"action_ids": [one]})
    assert first.status_code == 200, first.text
    assert first.json()["summary"]["applied"] == 1
    assert first.json()["summary"]["no_longer_needed"] == 0
    again = api.post("/api/profiles/demo/retry", json={"action_ids": [one]})
    assert again.json()["summary"]["no_longer_needed"] == 1  # already in place
    assert again.json()["summary"].get("applied", 0) == 0


def test_a_kept_plan_survives_a_restart(workspace, mapping_index, start):
    import httpx

    first = start(workspace, mapping_index)
    try:
        token = first.ctx.auth.create_token("t")[1]
        with httpx.Client(
            base_url=first.url, headers={"Authorization": f"Bearer {token}"}
        ) as api:
            plan = dry_run(api)
    finally:
        first.stop()
    second = start(workspace, mapping_index)
    try:
        with httpx.Client(
            base_url=second.url, headers={"Authorization": f"Bearer {token}"}
        ) as api:
            again = api.get(f"/api/plans/{plan['id']}").json()
            assert [a["id"] for a in again["actions"]] == [
                a["id"] for a in plan["actions"]
            ]
            chosen = [plan["actions"][0]["id"]]
            applied = api.post(
                f"/api/plans/{plan['id']}/apply", json={"action_ids": chosen}
            )
            assert applied.json()["summary"]["applied"] == 1
            kept = api.get("/api/profiles/demo/plans").json()
            assert kept[0]["status"] == "partial"  # 1 of 3 applied
            assert kept[0]["applied_count"] == 1
    finally:
        second.stop()


TWO_WAY = """\
data_dir: data
profiles:
  demo:
    direction: two_way
    source:
      type: local
      name: mine
      config: {path: mine.sqlite, seed: a.yaml, authorities: [anilist]}
    target:
      type: local
      name: theirs
      config: {path: theirs.sqlite, seed: b.yaml, authorities: [anilist]}
"""

LIST_DOC = """\
anibridge_local: 1
items:
  - key: "anilist:21"
    kind: series
    title: One Piece
    ids: ["anilist:21"]
    episodes: 1100
    record: {{status: watching, progress: {progress}}}
"""


def test_two_way_incremental_notices_changes_on_the_target(
    tmp_path, migrated_db, mapping_index, start
):
    import asyncio
    import concurrent.futures
    import logging
    import shutil

    import httpx

    from anibridge.provider.base import (
        Progress,
        RecordField,
        RecordQuery,
        Ref,
        UpsertRecord,
    )
    from anibridge.providers.local import LocalProvider

    root = tmp_path / "two"
    root.mkdir()
    (root / "a.yaml").write_text(LIST_DOC.format(progress=3))
    (root / "b.yaml").write_text(LIST_DOC.format(progress=3))
    (root / "anibridge.yaml").write_text(TWO_WAY)
    (root / "data").mkdir()
    shutil.copy(migrated_db, root / "data" / "anibridge.db")
    server = start(root / "anibridge.yaml", mapping_index)

    async def read(name: str) -> int:
        p = LocalProvider(
            logger=logging.getLogger("t"), config={"path": str(root / name)}
        )
        await p.initialize()
        try:
            page = await p.fetch_records(RecordQuery(fields=frozenset(RecordField)))
            return page.items[0].values[RecordField.PROGRESS].current
        finally:
            await p.close()

    async def bump() -> None:
        p = LocalProvider(
            logger=logging.getLogger("t"), config={"path": str(root / "theirs.sqlite")}
        )
        await p.initialize()
        write = UpsertRecord(
            Ref("anilist:21"), set={RecordField.PROGRESS: Progress(7, 1100, "episode")}
        )
        assert (await p.write_records([write]))[0].ok
        await p.close()

    def run(coro):
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coro).result()

    try:
        token = server.ctx.auth.create_token("t")[1]
        with httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as api:

            def incremental() -> dict:
                r = api.post(
                    "/api/profiles/demo/sync",
                    json={"mode": "incremental", "wait": True},
                )
                return r.json()["result"]

            # First runs: everything is new; our own writes show up in the feeds
            # once, then the profile settles.
            statuses = [incremental()["status"] for _ in range(3)]
            assert statuses[-1] == "skipped", statuses
            run(bump())  # someone edits the *target* side
            result = incremental()
            assert result["status"] == "ok", result
            assert "refs" not in result["summary"]  # a full run, not targeted
            assert run(read("mine.sqlite")) == 7  # the change came back to the source
    finally:
        server.stop()
