"""End-to-end CLI test helpers: workspaces of local files, the CLI in a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from anibridge.providers.local import LocalProvider

CLI = [sys.executable, "-m", "anibridge.app.cli"]


@dataclass
class Done:
    """What an in-process CLI call returned, shaped like a finished subprocess."""

    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """Stdout decoded (for ``--json`` calls)."""
        return json.loads(self.stdout)


def invoke(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> Done:
    """The real typer app, in-process: the test's fakes and fake clocks apply.

    Like `run`, no ANIBRIDGE_* variables leak in from the test session; `cwd` is the
    working directory and `env` extra environment variables during the call,
    `input` what stdin holds. An
    uncaught exception is appended to stderr as its traceback, as a subprocess
    would print it.
    """
    from typer.testing import CliRunner

    from anibridge.app.cli import _load_commands, app

    _load_commands()
    clean: dict[str, str | None] = {
        k: None for k in os.environ if k.startswith("ANIBRIDGE_")
    }
    clean |= env or {}
    with contextlib.chdir(cwd or Path.cwd()):
        result = CliRunner().invoke(app, list(args), env=clean, input=input)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return Done(result.exit_code, result.stdout, stderr)


def cli(*args: str, cwd: Path, check: bool = True) -> Done:
    """`run`'s twin in-process (about a tenth of the CPU of a new interpreter).

    For the second and later calls of a command in an end-to-end test: each command
    keeps real subprocess runs elsewhere (`run`), these check the behaviour.
    """
    done = invoke(*args, cwd=cwd)
    if check:
        assert done.returncode == 0, done.stderr + done.stdout
    return done


def cli_json(*args: str, cwd: Path) -> Any:
    """`cli` with ``--json``, its stdout decoded."""
    return json.loads(cli(*args, "--json", cwd=cwd).stdout)


def run(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess (no ANIBRIDGE_* variables leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    done = subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )
    if check:
        assert done.returncode == 0, done.stderr + done.stdout
    return done


def run_json(*args: str, cwd: Path) -> dict[str, Any]:
    """`run` with ``--json``, its stdout decoded."""
    return json.loads(run(*args, "--json", cwd=cwd).stdout)


def local_side(name: str, **config: Any) -> dict[str, Any]:
    """A profile side on a local file `<name>.sqlite` seeded from `<name>.yaml`."""
    return {
        "name": name,
        "type": "local",
        "config": {"path": f"{name}.sqlite", "seed": f"{name}.yaml", **config},
    }


def write_config(ws: Path, profiles: dict[str, Any], **app: Any) -> Path:
    ws.mkdir(parents=True, exist_ok=True)
    path = ws / "anibridge.yaml"
    path.write_text(yaml.safe_dump({"data_dir": "data", **app, "profiles": profiles}))
    return path


def document(items: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    return {"anibridge_local": 1, **top, "items": items}


def write_doc(path: Path, items: list[dict[str, Any]], **top: Any) -> None:
    path.write_text(yaml.safe_dump(document(items, **top), sort_keys=False))


def show(
    key: str,
    ids: list[str],
    seasons: dict[int, dict[int, list[str]]],
    *,
    records: dict[tuple[int, int], dict[str, Any]] | None = None,
    season_records: dict[int, dict[str, Any]] | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """A library show: season -> episode -> play times (ISO strings)."""
    records = records or {}
    season_records = season_records or {}
    out = []
    for season, episodes in seasons.items():
        eps = []
        for episode, plays in episodes.items():
            entry: dict[str, Any] = {"episode": episode}
            if plays:
                entry["plays"] = plays
            if (season, episode) in records:
                entry["record"] = records[(season, episode)]
            eps.append(entry)
        block: dict[str, Any] = {"season": season, "episodes": eps}
        if season in season_records:
            block["record"] = season_records[season]
        out.append(block)
    return {"key": key, "kind": "show", "title": title or key, "ids": ids,
            "seasons": out}  # fmt: skip


def list_title(n: int, episodes: int, record: dict[str, Any] | None = None) -> dict:
    item: dict[str, Any] = {
        "key": f"anilist:{n}",
        "kind": "series",
        "title": f"anilist {n}",
        "ids": [f"anilist:{n}"],
        "episodes": episodes,
    }
    if record is not None:
        item["record"] = record
    return item


def read_local(path: Path, **config: Any) -> dict[str, Any]:
    """A local file's document (bookkeeping fields dropped), read in-process."""

    async def go() -> dict[str, Any]:
        provider = LocalProvider(
            logger=logging.getLogger("test"), config={"path": str(path), **config}
        )
        await provider.initialize()
        try:
            return provider.export_document()
        finally:
            await provider.close()

    doc = asyncio.run(go())
    for item in doc["items"]:
        for record in _records(item):
            record.pop("updated_at", None)
            record.pop("revision", None)
    return doc


def _records(item: dict[str, Any]) -> list[dict[str, Any]]:
    out = [item["record"]] if "record" in item else []
    for season in item.get("seasons", ()):
        if "record" in season:
            out.append(season["record"])
        out += [e["record"] for e in season.get("episodes", ()) if "record" in e]
    return out


def entry(doc: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The record of list title `key` in a document, if any."""
    for item in doc["items"]:
        if item["key"] == key:
            return item.get("record")
    return None


class Hold:
    """A fault-point pause for a CLI child, through two pipes: no polling, no clock.

    ``rule`` goes into the child's ``ANIBRIDGE_FAULTS`` and ``fds`` into
    ``Popen(pass_fds=...)``; call ``started()`` once the child exists so only the
    child holds its pipe ends — then a child that dies before its pause closes
    them, and ``wait`` sees the end of file instead of blocking forever.
    """

    def __init__(self, point: str) -> None:
        """Pipes for pausing at ``point`` (``NAME#N``)."""
        self._go_read, self._go_write = os.pipe()
        self._reached_read, self._reached_write = os.pipe()
        self.rule = f"pause@{point}=fd:{self._go_read},{self._reached_write}"
        self.fds = (self._go_read, self._reached_write)

    def started(self) -> None:
        """Drop the parent's copies of the child's ends."""
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def wait(self, proc: subprocess.Popen[str]) -> None:
        """Block until the child is paused at the point (fail if it ended first).

        No deadline on purpose: a loaded machine only makes the wait longer.
        """
        if not os.read(self._reached_read, 64):
            raise AssertionError(f"process ended early: {proc.communicate()}")

    def release(self) -> None:
        """Let the paused child go on."""
        os.write(self._go_write, b"g")
        self.close()

    def close(self) -> None:
        """Close the parent's ends (a still-paused child then goes on)."""
        for fd in (self._go_write, self._reached_read):
            with contextlib.suppress(OSError):
                os.close(fd)
