"""Start-up guard: the CLI imports no heavy stack until a command needs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("fastapi", "sqlalchemy", "uvicorn", "graphql", "alembic", "httpx")

PROBE = """
import json, sys
import anibridge.app.cli as cli
cli._load_commands()
from typer.main import get_command
names = sorted(get_command(cli.app).commands)
print(json.dumps({"names": names, "modules": sorted(sys.modules)}))
"""


def _probe() -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_loading_every_command_imports_no_heavy_package():
    found = _probe()
    loaded = {m.split(".")[0] for m in found["modules"]}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert "anibridge.app.runtime" not in found["modules"]
    assert "anibridge.store" not in found["modules"]
    # every command is still registered
    assert {"sync", "plan", "demo", "serve", "mappings", "token", "pin"} <= set(
        found["names"]
    )


def test_help_lists_commands_without_loading_the_server_stack():
    code = (
        "import sys\n"
        "sys.argv = ['anibridge', '--help']\n"
        "from anibridge.app.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "demo" in done.stdout and "mappings" in done.stdout
    assert done.stdout.rstrip().endswith("HEAVY []")


def test_lazy_common_attributes_resolve():
    from rich.console import Console

    from anibridge.app.cli import _common
    from anibridge.app.config import ConfigError

    assert isinstance(_common.out_console, Console)
    assert _common.err_console.stderr is True
    assert ConfigError in _common.EXPECTED_ERRORS
    try:
        _common.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("unknown attribute did not raise")


LIGHT = ("rich", "pydantic", "sqlalchemy", "fastapi", "httpx", "yaml", "zstandard")
# What the typer-free path (`anibridge.app.cli._fast`) must never import.
TYPER_FREE = (*LIGHT, *HEAVY, "typer", "ruamel", "platformdirs")

RUN_AND_LIST = """
import sys
sys.argv = ["anibridge", *sys.argv[1:]]
from anibridge.app.cli import main
try:
    main()
except SystemExit:
    pass
print("LOADED", sorted({m.split(".")[0] for m in sys.modules}))
"""


def _loaded(args: list[str], env: dict | None = None) -> set[str]:
    import ast
    import os

    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("LOADED "))
    return set(ast.literal_eval(line.removeprefix("LOADED ")))


@pytest.mark.parametrize(
    "args",
    [["--help"], ["sync", "--help"], ["mappings", "--help"], ["init", "{tmp}/a.yaml"]],
    ids=["help", "sync-help", "mappings-help", "init"],
)
def test_light_commands_import_nothing_heavy(args, tmp_path):
    loaded = _loaded([a.replace("{tmp}", str(tmp_path)) for a in args])
    assert not loaded & set(LIGHT), sorted(loaded & set(LIGHT))


@pytest.mark.parametrize("columns", ["50", "80"])
def test_root_help_imports_no_typer(columns):
    loaded = _loaded(["--help"], {"COLUMNS": columns})
    assert not loaded & set(TYPER_FREE), sorted(loaded & set(TYPER_FREE))


def test_a_warm_translate_opens_the_compiled_index_without_decoders(tmp_path):
    env = {"ANIBRIDGE_MAPPINGS_CACHE": str(tmp_path / "cache")}
    args = ["mappings", "translate", "anilist:20", "40", "--json"]
    cold = _loaded(args, env)
    assert {"yaml", "zstandard"} & cold  # the first run decodes the dataset
    warm = _loaded(args, env)
    assert not warm & set(TYPER_FREE), sorted(warm & set(TYPER_FREE))
    assert list((tmp_path / "cache").glob("index-*.abmx"))


TABLE_PROBE = """
import importlib, json
import anibridge.app.cli as cli
from typer.main import get_command
seen, found = set(), {}
for module in cli._COMMAND_MODULES:
    importlib.import_module(module)
    names = set(get_command(cli.app).commands)
    found.update({name: module for name in names - seen})
    seen = names
print(json.dumps(found))
"""


def test_the_command_table_names_what_each_module_registers():
    """A command missing from the table would only run after loading them all."""
    from anibridge.app.cli import _COMMANDS

    done = subprocess.run(
        [sys.executable, "-c", TABLE_PROBE], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == _COMMANDS


COMMANDS_PROBE = """
import sys
sys.argv = ["anibridge", *sys.argv[1:]]
from anibridge.app.cli import main
try:
    main()
except SystemExit:
    pass
print("COMMANDS", sorted(m for m in sys.modules if m.startswith("anibridge.app.cli.")))
"""


def _command_modules(args: list[str], env: dict | None = None) -> tuple[list[str], str]:
    import ast
    import os

    done = subprocess.run(
        [sys.executable, "-c", COMMANDS_PROBE, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("COMMANDS "))
    return ast.literal_eval(line.removeprefix("COMMANDS ")), done.stdout


def test_a_named_command_loads_only_its_own_module(tmp_path):
    env = {"ANIBRIDGE_MAPPINGS_CACHE": str(tmp_path / "cache")}
    args = ["mappings", "translate", "anilist:20", "40", "--json"]
    modules, out = _command_modules(["--debug", *args], env)  # through typer
    assert [m for m in modules if not m.startswith("anibridge.app.cli._")] == [
        "anibridge.app.cli.mappings"
    ]
    modules, out = _command_modules(args, env)  # typer-free: no command module
    assert [m for m in modules if not m.startswith("anibridge.app.cli._")] == []
    assert '"40"' in out  # and it still ran
    modules, out = _command_modules(["sync", "--help"])
    assert "anibridge.app.cli.mappings" not in modules
    assert "anibridge.app.cli.sync" in modules and "--dry-run" in out


@pytest.mark.parametrize(
    "args", [["--debug", "--help"], ["synk"], []], ids=["typer-help", "typo", "none"]
)
def test_help_and_unknown_commands_still_see_every_command(args):
    """Typer's help and errors (`--debug --help` is left to typer)."""
    from anibridge.app.cli import _COMMAND_MODULES

    modules, _ = _command_modules(args)
    assert set(_COMMAND_MODULES) <= set(modules)


@pytest.mark.parametrize("columns", ["50", "80"])
def test_root_help_loads_no_command_module(columns):
    modules, out = _command_modules(["--help"], {"COLUMNS": columns})
    assert [m for m in modules if not m.startswith("anibridge.app.cli._")] == []
    assert "mappings" in out and "Usage: anibridge [OPTIONS]" in out
