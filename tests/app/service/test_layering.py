"""The application layer never reaches up into its front ends."""

from __future__ import annotations

import ast
from pathlib import Path

import anibridge.app.service

FORBIDDEN = ("anibridge.app.cli", "anibridge.app.web")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_service_imports_no_front_end():
    root = Path(anibridge.app.service.__file__).parent
    modules = sorted(root.rglob("*.py"))
    assert len(modules) >= 3  # the package, its errors and at least one use case
    offending = {
        f"{path.relative_to(root)}: {name}"
        for path in modules
        for name in _imports(path)
        if name.startswith(FORBIDDEN)
    }
    assert not offending


def test_the_checker_sees_a_front_end_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from anibridge.app.web.app import create_app\nimport anibridge.app.cli\n"
    )
    assert _imports(bad) == {"anibridge.app.web.app", "anibridge.app.cli"}
