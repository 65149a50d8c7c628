"""A hosted job whose provider cannot start: retried or failed, with its one line.

An unreachable provider is worth another try later (`RetryLater`); rejected
credentials are not (`JobFailed`). Either way the message is the line
`anibridge.app.service.problems` gives, as the CLI prints it. SQLite store: the
runner needs no PostgreSQL for a job that fails while opening its session.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from anibridge.app.config import load_config
from anibridge.hosted.jobs import Job, JobFailed, RetryLater
from anibridge.hosted.runner import EngineRunner
from anibridge.testing.fakes.faults import StatusFake, closed_port


def _runner(tmp_path: Path, base_url: str) -> EngineRunner:
    profile = {
        "source": {"name": "plex", "type": "plex",
                   "config": {"base_url": base_url, "token": "s3cr3t-token"}},
        "target": {"name": "list", "type": "local",
                   "config": {"path": "list.sqlite"}},
    }  # fmt: skip
    path = tmp_path / "anibridge.yaml"
    path.write_text(yaml.safe_dump({"data_dir": "data", "profiles": {"p": profile}}))
    return EngineRunner(load_config(path, environ={}))


async def test_unreachable_provider_is_retried_later(tmp_path: Path) -> None:
    port = closed_port()
    runner = _runner(tmp_path, f"http://127.0.0.1:{port}")
    with pytest.raises(RetryLater) as caught:
        await runner.run(Job(1, "sync", "p"))
    assert str(caught.value) == (
        f"plex: 127.0.0.1:{port} refused the connection — is Plex running and is "
        "`base_url` right?"
    )


async def test_rejected_credentials_fail_the_job(tmp_path: Path) -> None:
    with StatusFake(401) as fake:
        runner = _runner(tmp_path, fake.base_url)
        with pytest.raises(JobFailed) as caught:
            await runner.run(Job(1, "sync", "p"))
    assert str(caught.value).startswith(
        "plex: Plex rejected the credentials (401 Unauthorized) — "
    )
