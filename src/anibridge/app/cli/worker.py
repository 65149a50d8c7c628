"""`anibridge worker` (run hosted jobs) and `anibridge migrate` (upgrade schemas)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from anibridge.app.cli import app
from anibridge.app.cli._common import ConfigOption

__all__ = ["migrate", "worker"]


@app.command()
def worker(
    config: Path | None = ConfigOption,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-n",
            min=1,
            help="Jobs run at once (default: hosted.concurrency).",
        ),
    ] = None,
) -> None:
    """Run hosted jobs from the PostgreSQL queue until stopped (SIGTERM drains)."""
    import asyncio
    import logging

    from anibridge.app.cli._common import EXPECTED_ERRORS, fail, load
    from anibridge.app.web.engine_backend import schedule_for
    from anibridge.hosted.runner import EngineRunner
    from anibridge.hosted.schema import QueueSchemaError
    from anibridge.hosted.worker import open_hosted_engine, queue_settings, run_worker

    loaded = load(config)
    hosted = loaded.app.hosted
    logging.basicConfig(
        level=loaded.app.log_level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    try:
        engine = open_hosted_engine(loaded.store_url)
    except (*EXPECTED_ERRORS, QueueSchemaError) as exc:
        raise fail(str(exc), 2) from None
    runner = EngineRunner(loaded)
    n = concurrency or hosted.concurrency
    typer.echo(f"AniBridge worker: up to {n} job(s) at once", err=True)
    try:
        asyncio.run(
            run_worker(
                loaded.store_url,
                runner,
                settings=queue_settings(hosted),
                concurrency=n,
                engine=engine,
                schedules={
                    name: schedule_for(cfg) for name, cfg in loaded.app.profiles.items()
                },
            )
        )
    finally:
        engine.dispose()


@app.command()
def migrate(config: Path | None = ConfigOption) -> None:
    """Bring the store (and a hosted deployment's job queue) to this version's schema.

    Run it once per upgrade, with the workers stopped; web and workers refuse to
    start on an older schema.
    """
    from anibridge.app.cli._common import EXPECTED_ERRORS, fail, load
    from anibridge.hosted.worker import migrate_all

    loaded = load(config)
    try:
        for line in migrate_all(loaded.store_url):
            typer.echo(line)
    except EXPECTED_ERRORS as exc:
        raise fail(str(exc)) from None
