"""Layering: the application layer never reaches up into its front ends, and the
front ends reach the use cases the service owns only through it."""

from __future__ import annotations

import ast
from pathlib import Path

import anibridge.app
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


# The runtime opens sessions and wraps their writes with the service's backups and
# read policy, so it sits above the service; what the use cases work on (`Session`,
# `summarize`, `Preflight`) lives below both in `anibridge.app.session`.
BELOW_THE_RUNTIME = ("service", "session.py", "lifecycle.py")


def _edges(root: Path, files: list[Path]) -> dict[str, set[str]]:
    """Module → the modules among `files` it imports, at any level of the file."""
    names = {
        ".".join(
            ("anibridge.app", *path.relative_to(root).with_suffix("").parts)
        ).removesuffix(".__init__"): path
        for path in files
    }
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = {m for m in found if m in names and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle in `graph` (empty when there is none)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def _app_files() -> tuple[Path, list[Path]]:
    root = Path(next(iter(anibridge.app.__path__)))
    files = [root / "runtime.py", root / "session.py", root / "lifecycle.py"]
    return root, files + _modules(anibridge.app.service)


def test_runtime_session_lifecycle_and_service_import_no_cycle():
    root, files = _app_files()
    graph = _edges(root, files)
    assert "anibridge.app.service.runs" in graph["anibridge.app.runtime"]
    assert _cycle(graph) == []


def test_nothing_below_the_runtime_imports_it():
    root, files = _app_files()
    offending = {
        f"{path.relative_to(root)}: {name}"
        for path in files
        if path.relative_to(root).parts[0] in BELOW_THE_RUNTIME
        for name in _imports(path)
        | {item.replace(":", ".") for item in _imported_names(path)}
        if name == "anibridge.app.runtime"
    }
    assert not offending
    assert len(files) > 10  # the service's modules were found


def test_the_cycle_check_sees_a_function_level_import(tmp_path):
    (tmp_path / "service").mkdir()
    (tmp_path / "runtime.py").write_text("from anibridge.app.service import runs\n")
    (tmp_path / "service" / "runs.py").write_text(
        "def plan():\n    from anibridge.app.runtime import Session\n"
    )
    graph = _edges(
        tmp_path, [tmp_path / "runtime.py", tmp_path / "service" / "runs.py"]
    )
    assert _cycle(graph) == [
        "anibridge.app.runtime",
        "anibridge.app.service.runs",
        "anibridge.app.runtime",
    ]
