"""Layering: the application layer never reaches up into its front ends, and the
front ends reach the use cases the service owns only through it."""

from __future__ import annotations

import ast
from pathlib import Path

import anibridge.app.cli
import anibridge.app.service
import anibridge.app.web

FORBIDDEN = ("anibridge.app.cli", "anibridge.app.web")

# Engine and config entry points whose use cases `anibridge.app.service` owns
# (runs, undo, reads, config checks): a front end calling them directly would
# re-implement a use case and drift from the other front end.
OWNED_BY_SERVICE: dict[str, frozenset[str]] = {
    "anibridge.bridge.sync": frozenset({"run_sync", "undo_run"}),
    "anibridge.bridge.collect": frozenset(
        {"collect", "changes_since", "fetch_anchors"}
    ),
    "anibridge.bridge.undo": frozenset({"plan_undo"}),
    "anibridge.app.config.validate": frozenset({"*"}),
    "anibridge.app.config": frozenset(
        {"validate_config_text", "validate_config_data", "check_providers"}
    ),
    "anibridge.app.runtime": frozenset({"plan_incremental", "commit_cursor"}),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _imported_names(path: Path) -> set[str]:
    """Every ``module:name`` imported (``module:*`` for a whole module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(f"{alias.name}:*" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update(f"{node.module}:{alias.name}" for alias in node.names)
    return found


def _bypasses(path: Path) -> set[str]:
    out = set()
    for item in _imported_names(path):
        module, name = item.split(":")
        owned = OWNED_BY_SERVICE.get(module)
        if owned is not None and ("*" in owned or name in owned or name == "*"):
            out.add(item)
    return out


def _modules(package: object) -> list[Path]:
    folder = Path(next(iter(package.__path__)))  # type: ignore[attr-defined]
    return sorted(folder.rglob("*.py"))


def test_service_imports_no_front_end():
    root = Path(next(iter(anibridge.app.service.__path__)))
    modules = _modules(anibridge.app.service)
    assert len(modules) >= 3  # the package, its errors and at least one use case
    offending = {
        f"{path.relative_to(root)}: {name}"
        for path in modules
        for name in _imports(path)
        if name.startswith(FORBIDDEN)
    }
    assert not offending


def test_front_ends_reach_owned_use_cases_only_through_the_service():
    offending = {
        f"{path.name}: {item}"
        for package in (anibridge.app.cli, anibridge.app.web)
        for path in _modules(package)
        for item in _bypasses(path)
    }
    assert not offending


def test_the_checker_sees_a_front_end_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from anibridge.app.web.app import create_app\nimport anibridge.app.cli\n"
    )
    assert _imports(bad) == {"anibridge.app.web.app", "anibridge.app.cli"}


def test_the_checker_sees_a_bypass_even_inside_a_function(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from anibridge.bridge.sync import Pair\n"  # a type: allowed
        "def run():\n"
        "    from anibridge.bridge.sync import run_sync\n"
        "    from anibridge.app.config import load_config, validate_config_text\n"
        "    import anibridge.app.config.validate\n"
    )
    assert _bypasses(bad) == {
        "anibridge.bridge.sync:run_sync",
        "anibridge.app.config:validate_config_text",
        "anibridge.app.config.validate:*",
    }
