"""Two-way between two local lists on different rating scales, through the CLI."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import yaml

from anibridge.providers.local import LocalProvider

TITLES = {1: "Cowboy Bebop", 2: "Trigun", 5: "Cowboy Bebop: The Movie"}


def _seed(path: Path, scale: list[int], records: dict[int, dict]) -> None:
    items = []
    for n, record in records.items():
        items.append(
            {
                "key": f"anilist:{n}",
                "kind": "series",
                "title": TITLES[n],
                "ids": [f"anilist:{n}"],
                "episodes": 26,
                "record": record,
            }
        )
    doc = {
        "anibridge_local": 1,
        "account": {"key": path.stem, "title": path.stem},
        "rating_scale": scale,
        "date_precision": "date",
        "items": items,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _config(ws: Path) -> Path:
    def side(name: str, scale: list[int]) -> dict:
        return {
            "name": name,
            "type": "local",
            "config": {
                "path": f"{name}.sqlite",
                "seed": f"{name}.yaml",
                "authorities": ["anilist"],
                "rating_scale": scale,
                "date_precision": "date",
            },
        }

    config = {
        "data_dir": "data",
        "profiles": {
            "p": {
                "direction": "two_way",
                "source": side("a", [0, 100, 1]),
                "target": side("b", [0, 10, 1]),
            }
        },
    }
    path = ws / "anibridge.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _invoke(*args: str, cwd: Path) -> dict:
    from typer.testing import CliRunner

    from anibridge.app import cli

    cli._load_commands()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        env = {k: None for k in os.environ if k.startswith("ANIBRIDGE_")}
        result = CliRunner().invoke(cli.app, list(args), env=env)
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _records(path: Path, scale: list[int]) -> dict[str, dict]:
    async def go() -> dict[str, dict]:
        provider = LocalProvider(
            logger=logging.getLogger("t"),
            config={
                "path": str(path),
                "authorities": ["anilist"],
                "rating_scale": scale,
                "date_precision": "date",
            },
        )
        await provider.initialize()
        try:
            doc = provider.export_document()
        finally:
            await provider.close()
        return {i["key"]: i["record"] for i in doc["items"] if i.get("record")}

    return asyncio.run(go())


def _remove(path: Path, scale: list[int], key: str) -> None:
    async def go() -> None:
        provider = LocalProvider(
            logger=logging.getLogger("t"),
            config={
                "path": str(path),
                "authorities": ["anilist"],
                "rating_scale": scale,
                "date_precision": "date",
            },
        )
        await provider.initialize()
        try:
            doc = provider.export_document()
            for item in doc["items"]:
                if item["key"] == key:
                    item.pop("record", None)
            provider.import_document(json.dumps(doc).encode(), where="test")
        finally:
            await provider.close()

    asyncio.run(go())


def test_two_way_across_rating_scales_writes_once_then_nothing(tmp_path):
    ws = tmp_path
    a_scale, b_scale = [0, 100, 1], [0, 10, 1]
    _seed(
        ws / "a.yaml",
        a_scale,
        {
            1: {"status": "watching", "progress": 3, "rating": 73},
            2: {"status": "watching", "progress": 4, "rating": 77},
        },
    )
    _seed(
        ws / "b.yaml",
        b_scale,
        {
            2: {"status": "watching", "progress": 4, "rating": 8},
            5: {"status": "completed", "progress": 26, "rating": 6},
        },
    )
    config = str(_config(ws))
    first = _invoke("sync", "--json", "--config", config, cwd=ws)
    assert first["failed"] == 0
    assert first["planned"] == 2, first  # only the missing side of 1 and 5
    a, b = _records(ws / "a.sqlite", a_scale), _records(ws / "b.sqlite", b_scale)
    assert b["anilist:1"]["rating"] == 7
    assert a["anilist:5"]["rating"] == 60
    assert a["anilist:1"]["rating"] == 73  # the source's 73 is never touched
    assert a["anilist:2"]["rating"] == 77  # 77 and 8 agree at the coarser scale
    assert b["anilist:2"]["rating"] == 8

    second = _invoke("sync", "--json", "--config", config, cwd=ws)
    assert second["planned"] == 0 and second["applied"] == 0, second
    assert second["unchanged"] == 3, second  # every linked pair is in sync
    assert _records(ws / "a.sqlite", a_scale)["anilist:1"]["rating"] == 73

    # Removed on B with deletes off: held, not re-created, and the plan says why.
    _remove(ws / "b.sqlite", b_scale, "anilist:1")
    plan = _invoke("plan", "--json", "--config", config, cwd=ws)["plan"]
    assert plan["actions"] == [], plan
    held = [s for s in plan["skipped"] if s["reason"] == "deletes-off"]
    assert [s["ref"]["key"] for s in held] == ["anilist:1"], plan["skipped"]
    assert "removed on b" in held[0]["detail"]
    third = _invoke("sync", "--json", "--config", config, cwd=ws)
    assert third["planned"] == 0, third
    assert "anilist:1" not in _records(ws / "b.sqlite", b_scale)
    assert _records(ws / "a.sqlite", a_scale)["anilist:1"]["rating"] == 73
