from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from anibridge.app.cli.sync import execute
from anibridge.app.config import load_config
from anibridge.app.demo import prepare_workspace
from anibridge.app.runtime import StopFlag, policy_for
from anibridge.bridge.model import DEFAULT_NON_REGRESSION
from anibridge.provider.base import RecordField
from anibridge.providers.local.provider import LocalProvider

NARUTO_LIB = "show-78857"  # seasons 1 (35 episodes) and 2 (48), all watched
NARUTO_LIST = "anilist:20"


def _provider(path: Path, **config: object) -> LocalProvider:
    return LocalProvider(
        logger=logging.getLogger("t"), config={"path": str(path), **config}
    )


def _unwatch(library: Path, key: str, seasons: set[int] | None) -> None:
    """Remove every play of the given seasons (None: of the whole title)."""

    async def go() -> None:
        provider = _provider(library)
        await provider.initialize()
        try:
            doc = provider.export_document()
            (item,) = [i for i in doc["items"] if i["key"] == key]
            for season in item["seasons"]:
                if seasons is None or season["season"] in seasons:
                    for ep in season["episodes"]:
                        ep.pop("plays", None)
                        ep.pop("watched", None)
            provider.import_document(json.dumps(doc).encode(), where="test")
        finally:
            await provider.close()

    asyncio.run(go())


def _list_record(path: Path, key: str) -> dict:
    async def go() -> dict:
        provider = _provider(
            path,
            authorities=["anilist"],
            rating_scale=[0, 100, 1],
            date_precision="date",
            create=False,
        )
        await provider.initialize()
        try:
            doc = provider.export_document()
        finally:
            await provider.close()
        (item,) = [i for i in doc["items"] if i["key"] == key]
        return item.get("record") or {}

    return asyncio.run(go())


def _workspace(tmp_path: Path, extra: str):
    config_path, _ = prepare_workspace(tmp_path / "ws")
    text = config_path.read_text()
    text = text.replace(
        "    direction: one_way\n", f"    direction: one_way\n{extra}", 1
    )
    config_path.write_text(text)
    return config_path


def _sync(config_path: Path):
    config = load_config(config_path, environ={})
    summary, plan, code = asyncio.run(
        execute(config, "demo", dry_run=False, stop=StopFlag(), progress=False)
    )
    assert code == 0, summary
    return plan


def test_allow_regression_key_maps_onto_the_policy(tmp_path):
    for extra, expected in [
        ("", DEFAULT_NON_REGRESSION),
        ("    allow_regression: false\n", DEFAULT_NON_REGRESSION),
        ("    allow_regression: true\n", frozenset()),
        (
            "    allow_regression: [progress]\n",
            DEFAULT_NON_REGRESSION - {RecordField.PROGRESS},
        ),
    ]:
        path = _workspace(tmp_path / str(len(extra)), extra)
        config = load_config(path, environ={})
        name, profile = config.profile("demo")
        policy = policy_for(name, profile, config)
        assert policy.non_regression == expected, extra


@pytest.mark.parametrize("allowed", [True, False])
def test_unwatching_a_season_lowers_progress_only_when_allowed(tmp_path, allowed):
    extra = "    allow_deletes: true\n    max_delete_fraction: 1.0\n"
    if allowed:
        extra += "    allow_regression: true\n"
    config_path = _workspace(tmp_path, extra)
    ws = config_path.parent
    _sync(config_path)
    assert _list_record(ws / "list.sqlite", NARUTO_LIST)["progress"] == 83
    _unwatch(ws / "library.sqlite", NARUTO_LIB, {2})
    plan = _sync(config_path)
    progress = _list_record(ws / "list.sqlite", NARUTO_LIST)["progress"]
    if allowed:
        assert progress == 35
    else:
        assert progress == 83
        reasons = {
            s.reason.value
            for s in plan.skipped
            if s.ref.key == NARUTO_LIST and s.field is RecordField.PROGRESS
        }
        assert reasons == {"regression"}


def test_a_title_with_every_play_removed_is_not_reported_unchanged(tmp_path):
    config_path = _workspace(tmp_path, "")
    ws = config_path.parent
    _sync(config_path)
    before = _list_record(ws / "list.sqlite", NARUTO_LIST)
    _unwatch(ws / "library.sqlite", NARUTO_LIB, None)
    plan = _sync(config_path)
    assert _list_record(ws / "list.sqlite", NARUTO_LIST) == before
    reasons = {s.reason.value for s in plan.skipped if s.ref.key == NARUTO_LIST}
    assert "unchanged" not in reasons
    assert reasons == {"deletes-off"}
