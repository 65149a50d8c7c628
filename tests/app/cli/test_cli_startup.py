"""Start-up guard: the CLI imports no heavy stack until a command needs it."""

from __future__ import annotations

import json
import subprocess
import sys

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
