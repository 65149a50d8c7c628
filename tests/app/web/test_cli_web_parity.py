"""The CLI and the web run one use case: the same input gives the same answer."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
from datetime import UTC, datetime

from typer.testing import CliRunner


def cli(*args: str) -> dict:
    from anibridge.app import cli as cli_module

    cli_module._load_commands()
    env = {k: None for k in os.environ if k.startswith("ANIBRIDGE_")}
    result = CliRunner().invoke(cli_module.app, list(args), env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def web_preview(api, mode: str) -> dict:
    response = api.post(
        "/api/profiles/demo/sync", json={"mode": mode, "dry_run": True, "wait": True}
    )
    assert response.status_code == 202, response.text
    return response.json()["result"]


def _ids(plan: dict) -> list[str]:
    return sorted(a["id"] for a in plan["actions"])


def _play(workspace) -> None:
    from anibridge.provider.base import AppendEvent, Ref
    from anibridge.providers.local import LocalProvider

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


def test_previews_agree_full_then_incremental(service, api, workspace):
    config = str(workspace)
    # Full previews: the same actions, the same counts.
    web = web_preview(api, "full")
    web_plan = api.get(f"/api/plans/{web['plan_id']}").json()
    from_cli = cli("plan", "--full", "--json", "-c", config)
    assert _ids(from_cli["plan"]) == _ids(web_plan)
    assert from_cli["summary"]["planned"] == web["summary"]["planned"] == 3

    # After a sync, neither finds anything changed (one read policy).
    synced = api.post("/api/profiles/demo/sync", json={"mode": "full", "wait": True})
    assert synced.json()["result"]["status"] == "ok"
    assert web_preview(api, "incremental")["status"] == "skipped"
    quiet = cli("plan", "--json", "-c", config)
    assert quiet["summary"]["planned"] == 0 and quiet["plan"] == {}

    # A new play: both re-read only that entry and plan the same write.
    _play(workspace)
    web = web_preview(api, "incremental")
    assert web["summary"]["refs"] == 1
    web_plan = api.get(f"/api/plans/{web['plan_id']}").json()
    from_cli = cli("plan", "--json", "-c", config)
    assert _ids(from_cli["plan"]) == _ids(web_plan)
    assert [a["title"] for a in web_plan["actions"]] == ["Yu Yu Hakusho"]


def test_a_bad_descriptor_gets_the_same_message_in_both(api):
    from anibridge.app import cli as cli_module

    cli_module._load_commands()
    for text in ("anidb:1:X", "nonsense"):
        shell = CliRunner().invoke(cli_module.app, ["mappings", "lookup", text])
        assert shell.exit_code == 2
        web = api.get("/api/mappings/lookup", params={"descriptor": text})
        assert web.status_code == 400
        message = web.json()["detail"]
        assert message.startswith(f"{text!r} is not a descriptor like anilist:21")
        assert message in " ".join(shell.stderr.split())
