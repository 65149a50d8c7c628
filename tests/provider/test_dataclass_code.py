"""The contract's precompiled dataclass methods are exactly what `exec` would compile.

`anibridge.provider._dataclass_code` serves `@dataclass`'s generated method texts
from a generated module while `anibridge.provider.base` is imported. These tests pin
that the running interpreter finds every text (else the file is stale and the import
slow), that each stored code object equals a fresh compile of its text, and that any
other text is still compiled.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import subprocess
import sys
from types import CodeType

import pytest

from anibridge.provider import _dataclass_code

# The interpreters a generated table ships for; any other (a newer CPython, PyPy)
# compiles the texts as before, which only `test_without_a_table_nothing_is_served`
# concerns: the other tests pin a table that does not exist there.
SHIPPED = ("cpython-312", "cpython-313")
shipped_only = pytest.mark.skipif(
    sys.implementation.cache_tag not in SHIPPED,
    reason=f"no generated table for {sys.implementation.cache_tag}",
)

REGENERATE = (
    "regenerate with `PYTHONPATH=src python3.X -m anibridge.provider._dataclass_code` "
    "under each supported interpreter"
)

COMPARED = (
    "co_argcount",
    "co_posonlyargcount",
    "co_kwonlyargcount",
    "co_nlocals",
    "co_stacksize",
    "co_flags",
    "co_code",
    "co_names",
    "co_varnames",
    "co_freevars",
    "co_cellvars",
    "co_name",
    "co_qualname",
    "co_exceptiontable",
)


def _table() -> dict[str, CodeType]:
    return importlib.import_module(_dataclass_code.module_name()).CODE


def _assert_same_code(ours: CodeType, fresh: CodeType) -> None:
    """Equal in everything but file name and line numbers."""
    for attr in COMPARED:
        assert getattr(ours, attr) == getattr(fresh, attr), (ours.co_name, attr)
    assert len(ours.co_consts) == len(fresh.co_consts)
    for mine, theirs in zip(ours.co_consts, fresh.co_consts, strict=True):
        if isinstance(theirs, CodeType):
            _assert_same_code(mine, theirs)
        else:
            assert type(mine) is type(theirs) and mine == theirs, (mine, theirs)


@shipped_only
def test_this_interpreter_has_a_generated_module():
    try:
        _table()
    except ImportError as exc:
        raise AssertionError(
            f"no {_dataclass_code.module_name()}: {REGENERATE}"
        ) from exc


@shipped_only
def test_every_text_of_the_contract_is_served():
    code = (
        "import json\n"
        "from anibridge.provider._dataclass_code import _texts\n"
        "print(json.dumps(_texts()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    texts = json.loads(done.stdout)
    assert len(texts) >= 40  # one or more per contract dataclass
    missing = [t.splitlines()[1].strip() for t in texts if t not in _table()]
    assert not missing, f"{len(missing)} texts not served ({missing[:3]}): {REGENERATE}"


@shipped_only
def test_each_stored_code_is_a_fresh_compile_of_its_text():
    for text, ours in _table().items():
        module = compile(text, "<string>", "exec", dont_inherit=True)
        (fresh,) = [c for c in module.co_consts if isinstance(c, CodeType)]
        _assert_same_code(ours, fresh)


@shipped_only
def test_served_and_unknown_texts_while_serving():
    stop = _dataclass_code.serve()
    try:
        text, code = next(iter(_table().items()))
        served: dict = {}
        dataclasses.exec(text, {"__name__": "m"}, served)  # type: ignore[attr-defined]
        assert served["__create_fn__"].__code__ is code
        assert served["__create_fn__"].__module__ == "m"

        @dataclasses.dataclass(frozen=True, slots=True)
        class NotInTheContract:
            value: int = 3

        assert NotInTheContract() == NotInTheContract(3)
        # compiled as dataclasses compiles it: without this test's future import
        flags = NotInTheContract.__init__.__code__.co_flags
        assert not flags & __import__("__future__").annotations.compiler_flag
        assert repr(NotInTheContract()).endswith(".NotInTheContract(value=3)")
    finally:
        stop()
    assert "exec" not in vars(dataclasses)


def test_serving_steps_aside_when_exec_is_already_replaced():
    dataclasses.exec = exec  # type: ignore[attr-defined]
    try:
        stop = _dataclass_code.serve()
        assert dataclasses.exec is exec  # type: ignore[attr-defined]
        stop()
        assert dataclasses.exec is exec  # type: ignore[attr-defined]
    finally:
        del dataclasses.exec  # type: ignore[attr-defined]


@shipped_only
def test_a_lookalike_keeps_its_own_annotation_and_default():
    """Only the text is the key: what differs outside it (an annotation, a default's
    value) is passed in by `dataclasses`; a default changes the text.

    CPython 3.13 compiles one text per class, 3.12 one per method, so each class's
    texts are counted on their own.
    """
    served: dict[str, list[bool]] = {"same": [], "default": []}
    current = "same"
    stop = _dataclass_code.serve()
    table = _table()
    serving = dataclasses.exec  # type: ignore[attr-defined]

    def spy(source, globals=None, locals=None):
        served[current].append(source in table)
        serving(source, globals, locals)

    dataclasses.exec = spy  # type: ignore[attr-defined]
    try:

        @dataclasses.dataclass(frozen=True, slots=True)
        class SameText:  # the contract's `precision` class, another annotation
            precision: list[str]

        current = "default"

        @dataclasses.dataclass(frozen=True, slots=True)
        class WithDefault:
            precision: int = 7

    finally:
        dataclasses.exec = serving  # type: ignore[attr-defined]
        stop()
    assert served["same"] and all(served["same"])  # every text of it served
    assert False in served["default"]  # its __init__ differs: compiled
    assert SameText.__init__.__annotations__["precision"] == "list[str]"
    assert SameText(["x"]) == SameText(["x"]) != SameText(["y"])
    assert repr(WithDefault()).endswith("WithDefault(precision=7)")
    assert "exec" not in vars(dataclasses)


def test_without_a_table_nothing_is_served(monkeypatch):
    """An interpreter with no generated module imports the contract as before."""
    missing = "anibridge.provider._no_such_table"
    monkeypatch.setattr(_dataclass_code, "module_name", lambda: missing)
    stop = _dataclass_code.serve()
    assert "exec" not in vars(dataclasses)
    stop()

    @dataclasses.dataclass(frozen=True)
    class Plain:
        value: int = 1

    assert Plain() == Plain(1) and "exec" not in vars(dataclasses)
