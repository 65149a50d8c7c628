"""Pin `anibridge.provider.base` to the seed contract (0.1.0a1) it promises to match.

The seed's `base.py` is vendored as text in `tests/data/seed/` (it targets 3.14 and
cannot be imported here), parsed with `ast`, and compared with our runtime module:
names, dataclass fields/defaults/flags, enum members, method signatures, abstract
methods, class bases, type aliases and generic parameters. Annotations are compared as
text: with postponed evaluation they are strings at runtime, and
`typing.get_type_hints` breaks on 3.12.1 for PEP 695 generics.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import hashlib
import inspect
import typing
from pathlib import Path

import pytest

import anibridge.provider.base as base

SEED = Path(__file__).resolve().parents[1] / "data" / "seed" / "base.py.txt"
SEED_SHA256 = "31bcb6817844ffe3574de36c7211f10dfb343a0e6b3ba5a67d997b6106529175"
SEED_TEXT = SEED.read_text(encoding="utf-8")
TREE = ast.parse(SEED_TEXT)
CLASSES = {n.name: n for n in TREE.body if isinstance(n, ast.ClassDef)}
ALIASES = {n.name.id: n for n in TREE.body if isinstance(n, ast.TypeAlias)}
OURS = ast.parse(inspect.getsource(base))
OUR_ALIASES = {n.name.id: n for n in OURS.body if isinstance(n, ast.TypeAlias)}


def norm(annotation: str | ast.expr | None) -> str | None:
    """Canonical text of an annotation (so spacing/quoting never matters)."""
    if annotation is None or annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, ast.expr):
        return ast.unparse(annotation)
    return ast.unparse(ast.parse(annotation, mode="eval").body)


def evaluate(node: ast.expr) -> object:
    """The value of a default expression in the seed (literals or a bare call)."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        pass
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
        return {"frozenset": frozenset, "dict": dict, "tuple": tuple}[node.func.id]()
    raise AssertionError(f"cannot evaluate seed default {ast.unparse(node)}")


def decorator_names(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for deco in fn.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        names.add(target.id if isinstance(target, ast.Name) else ast.unparse(target))
    return names


def dataclass_flags(cls: ast.ClassDef) -> dict[str, object] | None:
    for deco in cls.decorator_list:
        if isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == "dataclass":
            return {k.arg: ast.literal_eval(k.value) for k in deco.keywords}
        if getattr(deco, "id", None) == "dataclass":
            return {}
    return None


SEED_DATACLASSES = sorted(
    n for n, c in CLASSES.items() if dataclass_flags(c) is not None
)
SEED_ENUMS = sorted(
    n for n, c in CLASSES.items() if any(ast.unparse(b) == "StrEnum" for b in c.bases)
)
SEED_OTHER = sorted(set(CLASSES) - set(SEED_DATACLASSES) - set(SEED_ENUMS))


def seed_all() -> list[str]:
    for node in TREE.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    raise AssertionError("seed has no __all__")


# -- the vendored seed itself ---------------------------------------------------------


def test_vendored_seed_is_the_published_file():
    assert hashlib.sha256(SEED.read_bytes()).hexdigest() == SEED_SHA256
    assert "MIT License" in (SEED.parent / "LICENSE").read_text()


def test_the_seed_parse_found_the_whole_api():
    # Guards the guard: if parsing silently found nothing, every other test would pass.
    assert len(SEED_DATACLASSES) >= 40
    assert len(SEED_ENUMS) == 12
    assert "Provider" in SEED_OTHER and len(SEED_OTHER) == 14
    assert len(ALIASES) >= 10


# -- names --------------------------------------------------------------------------


def test_all_matches_the_seed_exactly():
    expected = seed_all()
    assert len(expected) == 80
    assert list(base.__all__) == expected
    assert len(base.__all__) == 80
    for name in expected:
        assert hasattr(base, name), name


def test_every_seed_class_and_alias_is_exported():
    assert set(CLASSES) | set(ALIASES) == set(base.__all__)


# -- dataclasses ----------------------------------------------------------------------


def seed_fields(cls: ast.ClassDef) -> list[tuple[str, str, str, object]]:
    """(name, annotation, default kind, default value) per field, in order."""
    out = []
    for stmt in cls.body:
        if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
            continue
        if norm(stmt.annotation).startswith("ClassVar"):
            continue
        value = stmt.value
        if value is None:
            out.append((stmt.target.id, norm(stmt.annotation), "required", None))
        elif (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "field"
        ):
            kwargs = {k.arg: k.value for k in value.keywords}
            if "default_factory" in kwargs:
                factory = {"dict": dict, "frozenset": frozenset, "tuple": tuple}[
                    ast.unparse(kwargs["default_factory"])
                ]
                out.append(
                    (stmt.target.id, norm(stmt.annotation), "factory", factory())
                )
            else:
                out.append(
                    (
                        stmt.target.id,
                        norm(stmt.annotation),
                        "default",
                        evaluate(kwargs["default"]),
                    )
                )
        else:
            out.append(
                (stmt.target.id, norm(stmt.annotation), "default", evaluate(value))
            )
    return out


def our_fields(cls: type) -> list[tuple[str, str, str, object]]:
    out = []
    for f in dataclasses.fields(cls):
        if f.default_factory is not dataclasses.MISSING:
            produced = f.default_factory()
            out.append((f.name, norm(f.type), "factory", produced))
        elif f.default is not dataclasses.MISSING:
            out.append((f.name, norm(f.type), "default", f.default))
        else:
            out.append((f.name, norm(f.type), "required", None))
    return out


@pytest.mark.parametrize("name", SEED_DATACLASSES)
def test_dataclass_fields_match(name):
    ours = getattr(base, name)
    assert dataclasses.is_dataclass(ours)
    expected = seed_fields(CLASSES[name])
    actual = our_fields(ours)
    assert [f[:3] for f in actual] == [f[:3] for f in expected]
    for (fname, _, _, want), (_, _, _, got) in zip(expected, actual, strict=True):
        assert got == want and type(got) is type(want), fname


@pytest.mark.parametrize("name", SEED_DATACLASSES)
def test_dataclass_is_frozen_and_slotted_like_the_seed(name):
    flags = dataclass_flags(CLASSES[name])
    assert flags == {"frozen": True, "slots": True}
    ours = getattr(base, name)
    params = ours.__dataclass_params__
    assert params.frozen is True
    assert "__slots__" in ours.__dict__
    assert tuple(ours.__slots__) == tuple(f.name for f in dataclasses.fields(ours))
    assert params.eq and not params.order and params.init


def test_default_factories_produce_fresh_empty_values():
    a, b = base.Titles("x"), base.Titles("y")
    assert a.alternates == {} and a.alternates is not b.alternates


# -- enums ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SEED_ENUMS)
def test_enum_members_and_values_match(name):
    expected = [
        (stmt.targets[0].id, ast.literal_eval(stmt.value))
        for stmt in CLASSES[name].body
        if isinstance(stmt, ast.Assign)
    ]
    ours = getattr(base, name)
    assert issubclass(ours, enum.StrEnum)
    assert [(m.name, m.value) for m in ours] == expected
    for member_name, value in expected:
        assert ours[member_name] == value  # StrEnum: compares equal to its str


# -- classes, bases, type parameters --------------------------------------------------


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_bases_and_type_parameters_match(name):
    cls_node = CLASSES[name]
    ours = getattr(base, name)
    seed_bases = [ast.unparse(b) for b in cls_node.bases]
    our_bases = [b.__name__ for b in ours.__bases__ if b is not typing.Generic]
    seed_bases = seed_bases or ["object"]
    our_bases = our_bases or ["object"]
    assert our_bases == seed_bases
    seed_params = [(p.name, norm(p.bound)) for p in cls_node.type_params]
    our_params = [(p.__name__, p.__bound__) for p in ours.__type_params__]
    assert [p[0] for p in our_params] == [p[0] for p in seed_params]
    for (pname, bound), (_, our_bound) in zip(seed_params, our_params, strict=True):
        if bound is None:
            assert our_bound is None, pname
        else:
            assert our_bound is getattr(base, bound), pname


def test_provider_class_variables_match():
    seed = {
        stmt.target.id: norm(stmt.annotation)
        for stmt in CLASSES["Provider"].body
        if isinstance(stmt, ast.AnnAssign)
    }
    assert seed == {"DISPLAY_NAME": "ClassVar[str]", "NAMESPACE": "ClassVar[str]"}
    ours = {k: norm(v) for k, v in base.Provider.__annotations__.items()}
    assert ours == seed


# -- type aliases ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_type_aliases_match(name):
    ours = getattr(base, name)
    assert isinstance(ours, typing.TypeAliasType)
    assert ours.__name__ == name
    assert norm(OUR_ALIASES[name].value) == norm(ALIASES[name].value)


# -- methods --------------------------------------------------------------------------

_KINDS = inspect.Parameter


def seed_methods(
    cls: ast.ClassDef,
) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {
        n.name: n
        for n in cls.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def seed_signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple]:
    args = fn.args
    params: list[tuple] = []
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for index, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = (
            _KINDS.POSITIONAL_ONLY
            if index < len(args.posonlyargs)
            else _KINDS.POSITIONAL_OR_KEYWORD
        )
        params.append(
            (
                arg.arg,
                kind,
                "-" if default is None else evaluate(default),
                norm(arg.annotation),
            )
        )
    if args.vararg:
        params.append(
            (args.vararg.arg, _KINDS.VAR_POSITIONAL, "-", norm(args.vararg.annotation))
        )
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append(
            (
                arg.arg,
                _KINDS.KEYWORD_ONLY,
                "-" if default is None else evaluate(default),
                norm(arg.annotation),
            )
        )
    if args.kwarg:
        params.append(
            (args.kwarg.arg, _KINDS.VAR_KEYWORD, "-", norm(args.kwarg.annotation))
        )
    return params


def our_signature(fn: object) -> list[tuple]:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    return [
        (
            p.name,
            p.kind,
            "-" if p.default is inspect.Parameter.empty else p.default,
            norm(p.annotation),
        )
        for p in sig.parameters.values()
    ]


METHOD_CASES = sorted(
    (cls_name, method)
    for cls_name, cls_node in CLASSES.items()
    for method in seed_methods(cls_node)
)


@pytest.mark.parametrize(("cls_name", "method"), METHOD_CASES)
def test_method_signatures_match(cls_name, method):
    fn_node = seed_methods(CLASSES[cls_name])[method]
    decorators = decorator_names(fn_node)
    ours_cls = getattr(base, cls_name)
    raw = ours_cls.__dict__[method]
    if "property" in decorators:
        assert isinstance(raw, property)
        target = raw.fget
    elif "classmethod" in decorators:
        assert isinstance(raw, classmethod)
        target = raw.__func__
    elif "staticmethod" in decorators:
        assert isinstance(raw, staticmethod)
        target = raw.__func__
    else:
        assert inspect.isfunction(raw)
        target = raw
    assert getattr(target, "__isabstractmethod__", False) == (
        "abstractmethod" in decorators
    )
    assert inspect.iscoroutinefunction(target) == isinstance(
        fn_node, ast.AsyncFunctionDef
    )
    assert our_signature(target) == seed_signature(fn_node)
    assert norm(inspect.signature(target).return_annotation) == norm(fn_node.returns)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_no_extra_public_methods(name):
    seed = set(seed_methods(CLASSES[name]))
    ours = {
        attr
        for attr, value in vars(getattr(base, name)).items()
        if not attr.startswith("_")
        and (
            inspect.isfunction(value)
            or isinstance(value, property | classmethod | staticmethod)
        )
    }
    assert ours <= seed, ours - seed


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_abstract_methods_match(name):
    expected = {
        m
        for m, fn in seed_methods(CLASSES[name]).items()
        if "abstractmethod" in decorator_names(fn)
    }
    ours = getattr(base, name)
    assert set(getattr(ours, "__abstractmethods__", frozenset())) == expected


def test_every_supports_mixin_has_exactly_one_abstract_method():
    mixins = [n for n in base.__all__ if n.startswith("Supports")]
    assert len(mixins) == 13
    for name in mixins:
        cls = getattr(base, name)
        assert len(cls.__abstractmethods__) == 1, name
        with pytest.raises(TypeError):
            cls()
