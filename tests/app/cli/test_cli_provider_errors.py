"""Provider failures through the real CLI: one line, an exit code.

For Plex, AniList and Trakt, `anibridge plan` against real loopback endpoints that
fail the way a person's setup does (closed port, unresolvable host, self-signed
TLS, 401, 404, 429, 500) prints exactly one line on stderr naming the provider,
what failed and what to do, exits with the documented code (69 unreachable or
unusable, 77 rejected credentials), shows no traceback and no token; ``--debug``
adds the traceback.

Every failure case and every provider runs in a real subprocess at least once (what
reaches a real stderr, logging included); the other combinations call the same app
in-process, which costs a tenth of a new interpreter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pytest
import yaml

from anibridge.testing.fakes.faults import (
    UNRESOLVABLE_HOST,
    StatusFake,
    TlsServer,
    closed_port,
)
from tests.app.cli.cli_support import cli, run

SECRET = "s3cr3t-token-value"
CREDENTIALS = {
    "plex": {"token": SECRET},
    "anilist": {"token": SECRET},
    "trakt": {"client_id": "cid", "access_token": SECRET},
}


def _workspace(ws: Path, namespace: str, base_url: str) -> Path:
    ws.mkdir(parents=True, exist_ok=True)
    side = {
        "name": f"my{namespace}",
        "type": namespace,
        "config": {**CREDENTIALS[namespace], "base_url": base_url},
    }
    local = {"name": "file", "type": "local", "config": {"path": "file.sqlite"}}
    profile = {"source": side, "target": local}
    (ws / "anibridge.yaml").write_text(
        yaml.safe_dump({"data_dir": "data", "profiles": {"main": profile}})
    )
    return ws


@contextmanager
def _status(status: int, **headers: str) -> Iterator[str]:
    with StatusFake(status, headers=headers) as fake:
        yield fake.base_url


@contextmanager
def _tls(tmp: Path) -> Iterator[str]:
    with TlsServer(tmp) as server:
        yield server.base_url


type Endpoint = Callable[[Path], AbstractContextManager[str]]

CASES: dict[str, tuple[Endpoint, int, str]] = {
    "refused": (
        lambda _: nullcontext(f"http://127.0.0.1:{closed_port()}"),
        69,
        "refused the connection",
    ),
    "dns": (
        lambda _: nullcontext(f"http://{UNRESOLVABLE_HOST}:8080"),
        69,
        f"the host name {UNRESOLVABLE_HOST} does not resolve",
    ),
    "tls": (_tls, 69, "failed (self-signed certificate)"),
    "401": (lambda _: _status(401), 77, "rejected the credentials (401"),
    "404": (lambda _: _status(404), 69, "404 Not Found — is `base_url` the"),
    "429": (
        lambda _: _status(429, **{"Retry-After": "3600"}),
        69,
        "rate limiting requests (429) and asks to wait 60 min",
    ),
    "500": (
        lambda _: _status(500, **{"Retry-After": "0"}),
        69,
        "failed with 500 Internal Server Error",
    ),
}


def _plan(ws: Path, *extra: str, subprocess: bool = True) -> Any:
    call = run if subprocess else cli
    return call(*extra, "plan", "--config", str(ws / "anibridge.yaml"), cwd=ws,
                check=False)  # fmt: skip


def _in_a_subprocess(namespace: str, case: str) -> bool:
    """One provider per case, in turn, so each case and each provider gets one."""
    names = sorted(CREDENTIALS)
    return names[sorted(CASES).index(case) % len(names)] == namespace


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("namespace", sorted(CREDENTIALS))
def test_one_line_per_failure(tmp_path: Path, namespace: str, case: str) -> None:
    endpoint, code, says = CASES[case]
    with endpoint(tmp_path / "tls") as base_url:
        ws = _workspace(tmp_path / "ws", namespace, base_url)
        done = _plan(ws, subprocess=_in_a_subprocess(namespace, case))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == code, done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: my{namespace}: "), lines[0]
    assert says in lines[0]
    assert " — " in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert SECRET not in done.stderr + done.stdout


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "plex", f"http://127.0.0.1:{closed_port()}")
    done = _plan(ws, "--debug")
    assert done.returncode == 69
    assert "Traceback (most recent call last)" in done.stderr
    assert "httpx.ConnectError" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: myplex: ")


@pytest.mark.parametrize(
    ("namespace", "config", "says"),
    [
        ("plex", {"base_url": "localhost:32400", "token": SECRET},
         "plex provider config 'base_url': expected an http(s) URL"),
        ("anilist", {"base_url": "localhost:1234", "token": SECRET},
         "myanilist: `base_url` localhost:1234 is not a usable URL"),
        ("anilist", {"base_url": "http://127.0.0.1:1"},
         "myanilist (profiles.main.source): anilist: config 'token'"),
        ("trakt", {"client_id": "cid", "base_url": "http://127.0.0.1:1"},
         "mytrakt: trakt: not signed in; run `anibridge login trakt`"),
    ],
)  # fmt: skip
def test_bad_config_is_one_line(
    tmp_path: Path, namespace: str, config: dict[str, Any], says: str
) -> None:
    ws = _workspace(tmp_path, namespace, "http://unused")
    text = (ws / "anibridge.yaml").read_text()
    data = yaml.safe_load(text)
    data["profiles"]["main"]["source"]["config"] = config
    (ws / "anibridge.yaml").write_text(yaml.safe_dump(data))
    done = _plan(ws, subprocess=namespace == "trakt")
    (line,) = done.stderr.strip().splitlines()
    assert says in line, line
    assert done.returncode == (77 if namespace == "trakt" else 1)
    assert "Traceback" not in done.stderr
