"""AniBridge installs like a tool: the wheel works in a fresh venv, from any folder.

The wheel is built once per session with `uv build` (its native `uv_build` backend:
no download) and installed with pip into a new venv. Its dependencies are not
downloaded again: a ``.pth`` line puts the project venv's site-packages *after* the
new venv's own (without running that folder's ``.pth`` files, so the checkout's
editable install is not used) — anibridge itself must come from the wheel, and the
test checks that it does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Files outside Python modules that a working install needs.
BUNDLED = (
    "anibridge/mappings/data/mappings.edits.json.zst",
    "anibridge/mappings/data/LICENSE",
    "anibridge/app/demo/data/library.yaml",
    "anibridge/app/demo/data/list.yaml",
    "anibridge/app/web/templates/base.html",
    "anibridge/app/web/templates/dashboard.html",
    "anibridge/app/web/static/app.css",
    "anibridge/app/web/static/app.js",
    "anibridge/store/migrations/script.py.mako",
)


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None):
    done = subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, timeout=300,
        env=env if env is not None else _clean_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _clean_env() -> dict[str, str]:
    drop = ("ANIBRIDGE_", "PYTHONPATH", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "uv", "build", "--wheel", "--quiet",
         "--out-dir", str(out), str(ROOT), cwd=out)  # fmt: skip
    (built,) = out.glob("anibridge-*.whl")
    return built


@pytest.fixture(scope="session")
def venv(wheel, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("venv") / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", str(home), cwd=home.parent)
    python = home / "bin" / "python"
    purelib = _run(str(python), "-c",
                   "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                   cwd=home).stdout.strip()  # fmt: skip
    deps = sysconfig.get_paths()["purelib"]  # this venv: dependencies, and pip
    (Path(purelib) / "_project_dependencies.pth").write_text(deps + "\n")
    _run(str(python), "-m", "pip", "install", "--no-deps", "--no-index",
         "--disable-pip-version-check", "--quiet", str(wheel), cwd=home)  # fmt: skip
    return home


def test_the_wheel_bundles_data_templates_and_static_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in BUNDLED if n not in names]
    assert not missing, missing
    assert not [n for n in names if n.endswith(".pyc") or n.startswith("tests/")]
    assert not any(n.startswith("anibridge/__init__") for n in names)  # namespace
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "anibridge = anibridge.app.cli:main" in text
    assert "plex = anibridge.providers.plex:PlexProvider" in text


def test_the_installed_tool_runs_the_demo_from_any_folder(venv, tmp_path):
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    tool = str(venv / "bin" / "anibridge")
    first = json.loads(
        _run(tool, "demo", "--dir", "ws", "--json", cwd=elsewhere).stdout
    )
    assert first["status"] == "ok" and first["applied"] > 40 and first["failed"] == 0
    again = json.loads(
        _run(tool, "demo", "--dir", "ws", "--json", cwd=elsewhere).stdout
    )
    assert again["applied"] == 0
    assert (elsewhere / "ws" / "anibridge.yaml").is_file()
    # Everything came from the installed wheel, not from this checkout.
    probe = _run(str(venv / "bin" / "python"), "-c", (
        "import importlib.resources as r, anibridge.app.cli as c;"
        "print(c.__file__);"
        "print(r.files('anibridge.app.web').joinpath('templates/base.html'));"
        "print(r.files('anibridge.mappings').joinpath('data'))"
    ), cwd=elsewhere).stdout.split()  # fmt: skip
    assert all(p.startswith(str(venv)) for p in probe), probe
    assert all(Path(p).exists() for p in probe), probe
    providers = json.loads(_run(tool, "providers", "--json", cwd=elsewhere).stdout)
    assert {r["name"] for r in providers if r["loaded"]} >= {
        "anilist", "emby", "jellyfin", "kitsu", "local", "mal", "plex", "simkl",
        "trakt",
    }  # fmt: skip
