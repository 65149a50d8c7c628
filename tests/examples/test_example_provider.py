"""The example third-party provider installs and passes the conformance kit.

`examples/anibridge-provider-shelf` is built into a wheel here (the standard zip
layout, so no build backend or network is needed), installed with pip into a
temporary directory, and found from there the way any third-party provider is:
through its `anibridge.providers` entry point, its module living in the
`anibridge.providers` namespace beside the built-in ones. Its own tests (the kit
against its fake server) then run against the installed copy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "anibridge-provider-shelf"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"{name},sha256={digest.decode()},{len(data)}"


def build_wheel(project: Path, out: Path) -> Path:
    """A pure-Python wheel of `project` (src layout), entry points included."""
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    name, version = meta["name"], meta["version"]
    dist = f"{name.replace('-', '_')}-{version}"
    files: dict[str, bytes] = {}
    src = project / "src"
    for path in sorted(src.rglob("*.py")):
        files[path.relative_to(src).as_posix()] = path.read_bytes()
    entry_points = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items())
        for group, points in meta.get("entry-points", {}).items()
    )
    info = f"{dist}.dist-info"
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    ).encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: anibridge-tests\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files[f"{info}/entry_points.txt"] = entry_points.encode()
    record = [_record_line(n, d) for n, d in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = out / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname, data in files.items():
            archive.writestr(arcname, data)
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("example")
    wheel = build_wheel(EXAMPLE, tmp)
    site = tmp / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
         "--no-compile", "--disable-pip-version-check", "--quiet",
         "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Installed into the namespace package, not as a package of its own.
    assert (site / "anibridge" / "providers" / "shelf" / "provider.py").is_file()
    assert not (site / "anibridge" / "__init__.py").exists()
    return site


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(site), env.get("PYTHONPATH", "")) if p
    )
    return env


def test_the_installed_example_is_a_listed_provider(installed, tmp_path):
    listed = subprocess.run(
        [sys.executable, "-m", "anibridge.app.cli", "providers", "--json"],
        cwd=tmp_path, env=_env(installed), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    shelf = rows["shelf"]
    assert shelf["loaded"] and shelf["display_name"] == "Shelf"
    assert set(shelf["config_keys"]) == {"base_url", "token", "time_scale"}
    assert "SupportsScan" in shelf["mixins"]
    assert rows["local"]["loaded"]  # the built-in providers are still there


def test_the_installed_example_passes_the_conformance_kit(installed, tmp_path):
    tests = EXAMPLE / "tests"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(tests), "-q", "-p", "no:cacheprovider",
         "--rootdir", str(EXAMPLE), "-c", str(EXAMPLE / "pyproject.toml")],
        cwd=tmp_path, env=_env(installed), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout
    # The provider under test is the installed copy, not the example's sources.
    probe = subprocess.run(
        [sys.executable, "-c",
         "import anibridge.providers.shelf as m; print(m.__file__)"],
        cwd=tmp_path, env=_env(installed), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert probe.stdout.strip().startswith(str(installed))
