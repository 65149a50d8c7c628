"""`anibridge mappings ...` end to end: the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard
from typer.testing import CliRunner

from anibridge.mappings import BUNDLED
from anibridge.testing.fakes.releases import FakeReleases

ASSET = "anibridge/anibridge-mappings/releases/download/v3/mappings.json.zst"


# The mappings command group on the real typer app, without importing the other
# command groups (their imports are heavy and not what these tests are about);
# `test_the_console_entry_point_has_the_group` runs the full entry point once.
SLIM = "import anibridge.app.cli.mappings; from anibridge.app.cli import app; app()"
FULL = "from anibridge.app.cli import main; main()"


def _env(cache: Path, url: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["ANIBRIDGE_MAPPINGS_CACHE"] = str(cache)
    env.pop("ANIBRIDGE_MAPPINGS_URL", None)
    if url is not None:
        env["ANIBRIDGE_MAPPINGS_URL"] = url
    return env


def run(
    *args: str,
    cache: Path,
    url: str | None = None,
    code: int = 0,
    entry: str = SLIM,
) -> tuple[Any, str]:
    """Run the CLI in a subprocess; with --json, stdout must be JSON only."""
    done = subprocess.run(
        [sys.executable, "-c", entry, *args],
        capture_output=True,
        text=True,
        env=_env(cache, url),
        timeout=120,
        check=False,
    )
    assert done.returncode == code, done.stderr
    if "--json" in args and done.stdout:
        return json.loads(done.stdout), done.stderr
    return done.stdout, done.stderr


def invoke(*args: str, cache: Path, code: int = 0) -> tuple[Any, str]:
    """The same CLI in-process (for the many small variations)."""
    import anibridge.app.cli.mappings  # noqa: F401 - registers the group
    from anibridge.app.cli import app

    result = CliRunner().invoke(app, list(args), env=_env(cache, None))
    assert result.exit_code == code, result.stderr
    if "--json" in args and result.stdout:
        return json.loads(result.stdout), result.stderr
    return result.stdout, result.stderr


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def write(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_the_console_entry_point_has_the_group(cache: Path) -> None:
    from anibridge.app.cli import _COMMAND_MODULES

    assert "anibridge.app.cli.mappings" in _COMMAND_MODULES
    out, err = run(
        "mappings", "translate", "anilist:20", "40", "1", "999",
        "--to", "tvdb_show", "--json", cache=cache, entry=FULL,
    )  # fmt: skip
    assert out == {
        "40": {"tvdb_show:78857:s2": [5]},
        "1": {"tvdb_show:78857:s1": [1]},
        "999": {},
    }
    (notice,) = err.strip().splitlines()  # one line, on stderr
    assert "bundled" in notice


def test_translate(cache: Path) -> None:
    out, _ = run("mappings", "translate", "anilist:280", "5", "--json", cache=cache)
    assert out == {
        "5": {
            "anilist:3562:R": [5],
            "tmdb_show:34772:s1": [9, 10],
            "tvdb_show:307695:s1": [9, 10],
        }
    }
    text, _ = invoke("mappings", "translate", "anilist:280", "5", "60", cache=cache)
    assert "anilist:280 5 -> tmdb_show:34772:s1 9, 10" in text
    assert "anilist:280 60: no target" in text


def test_translate_layers_mapping_files(cache: Path, tmp_path: Path) -> None:
    base = write(tmp_path / "base.json", {"anidb:7": {"anilist:1": {"1-12": "1-12"}}})
    over = write(
        tmp_path / "over.json", {"anidb:7:R": {"anilist:1": {"1-12": "13-24"}}}
    )
    out, err = invoke(
        "mappings", "translate", "anidb:7", "2", "--mappings", base,
        "--mappings", over, "--json", cache=cache,
    )  # fmt: skip
    assert out == {"2": {"anilist:1": [14]}}
    assert err == ""  # no bundled-file notice when files are given
    out, _ = invoke(
        "mappings", "translate", "anilist:1", "14", "-m", base, "-m", over,
        "--json", cache=cache,
    )  # fmt: skip
    assert out == {"14": {"anidb:7:R": [2]}}


def test_progress(cache: Path, tmp_path: Path) -> None:
    custom = write(
        tmp_path / "halves.json",
        {
            "tvdb_show:1:s1": {"anilist:9": {"1-2": "1|2"}, "mal:9": {"1-2": "1-2"}},
            "tvdb_show:1:s2": {"anilist:9": {"1-2": "2|2"}},
        },
    )
    out, _ = run(
        "mappings", "progress", "--watched", "tvdb_show:1:s1=1",
        "--watched", "tvdb_show:1:s2=1", "--to", "anilist", "-m", custom,
        "--json", cache=cache,
    )  # fmt: skip
    assert out == {"anilist:9": 1}  # 0.5 + 0.5, floored once at the end
    out, _ = invoke(
        "mappings", "progress", "--watched", "tvdb_show:78857:s2=1-5",
        "--to", "anilist", "--mode", "index", "--json", cache=cache,
    )  # fmt: skip
    assert out == {"anilist:20": 40}
    out, _ = invoke(
        "mappings", "progress", "--watched", "tvdb_show:78857:s1=1-35",
        "--watched", "tvdb_show:78857:s2=1-5,7", "--to", "anilist", "--json",
        cache=cache,
    )  # fmt: skip
    assert out == {"anilist:20": 41}
    out, _ = invoke(
        "mappings", "progress", "--watched", "anilist:849=1-14", "--to", "tvdb_show",
        "--json", cache=cache,
    )  # fmt: skip
    assert out == {}  # |0 ranges give nothing; 0-unit targets are left out


def test_lookup_lists_explicit_and_derived_pairs(cache: Path) -> None:
    out, _ = run("mappings", "lookup", "anidb:17477", "--json", cache=cache)
    assert out == [
        {
            "source": "anidb:17477:R",
            "target": "anilist:151384",
            "source_range": "1",
            "target_range": "1-4",
            "ratio": -4,
            "provenance": ["derived"],
        }
    ]
    out, _ = invoke("mappings", "lookup", "anilist:6867", "--json", cache=cache)
    rows = [r for r in out if r["target"] == "tvdb_show:125441:s1"]
    assert rows == [
        {
            "source": "anilist:6867",
            "target": "tvdb_show:125441:s1",
            "source_range": "1-7",
            "target_range": "1-7",
            "ratio": None,
            "provenance": [str(BUNDLED)],
        },
        {
            "source": "anilist:6867",
            "target": "tvdb_show:125441:s1",
            "source_range": "8-9",
            "target_range": "8",
            "ratio": 2,
            "provenance": [str(BUNDLED)],
        },
    ]


def test_stats(cache: Path) -> None:
    out, _ = run("mappings", "stats", "--json", cache=cache)
    assert set(out) == {"sources", "targets", "range_pairs", "invalid", "load_seconds"}
    assert out["invalid"] == 0
    assert out["range_pairs"] > 2 * 10000
    assert isinstance(out["load_seconds"], float)


def test_invalid_entries_go_to_stderr(cache: Path, tmp_path: Path) -> None:
    bad = write(
        tmp_path / "bad.json",
        {"anilist:1": {"mal:1": {"1-3": "1-2|2", "4": "4"}}},
    )
    out, err = invoke("mappings", "stats", "-m", bad, "--json", cache=cache)
    assert out["invalid"] == 1
    assert "1 invalid mapping entries skipped" in err
    assert "anilist:1 -> mal:1 ['1-3']" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("translate", "nonsense", "1"), "not a descriptor"),
        (("translate", "anidb:1:X", "1"), "unknown AniDB episode type"),
        (("progress", "--watched", "anilist:1", "--to", "mal"), "DESCRIPTOR=RANGES"),
        (("progress", "--watched", "anilist:1=3-1", "--to", "mal"), "ends before"),
        (
            ("progress", "--watched", "anilist:1=1", "--to", "mal", "--mode", "x"),
            "mode",
        ),
        (("stats", "-m", "/nonexistent/m.json"), "cannot read"),
    ],
)
def test_bad_input_is_a_clear_error(
    cache: Path, args: tuple[str, ...], message: str
) -> None:
    out, err = invoke("mappings", *args, cache=cache, code=2)
    assert out == ""
    assert message in err


def test_bad_input_exit_code_in_a_subprocess(cache: Path) -> None:
    out, err = run("mappings", "lookup", "bogus", "--json", cache=cache, code=2)
    assert out == ""
    assert "not a descriptor" in err


@pytest.fixture
def host() -> Iterator[FakeReleases]:
    with FakeReleases() as fake:
        yield fake


def test_update_then_use_the_cache(cache: Path, host: FakeReleases) -> None:
    body = zstandard.ZstdCompressor().compress(
        json.dumps({"anilist:1": {"mal:1": {"1-12": "2-13"}}}).encode()
    )
    host.publish(ASSET, body)
    url = host.url(ASSET)
    out, _ = run("mappings", "update", "--json", cache=cache, url=url)
    assert out == {
        "status": "updated",
        "path": str(cache / "mappings.dataset"),
        "etag": FakeReleases.etag(body),
        "error": None,
    }
    out, _ = invoke("mappings", "update", "--json", "--url", url, cache=cache)
    assert out["status"] == "not_modified"
    out, err = invoke("mappings", "translate", "anilist:1", "3", "--json", cache=cache)
    assert out == {"3": {"mal:1": [4]}}
    assert err == ""  # the downloaded copy is used, no bundled-file notice
    host.publish(ASSET, b"<html>maintenance</html>")  # 500s: test_mappings_update
    out, err = run("mappings", "update", "--json", cache=cache, url=url, code=1)
    assert out["status"] == "failed"
    assert out["path"] == str(cache / "mappings.dataset")
    assert "invalid payload" in out["error"]
    assert "still using the cached copy" in err
    out, _ = invoke("mappings", "translate", "anilist:1", "3", "--json", cache=cache)
    assert out == {"3": {"mal:1": [4]}}
