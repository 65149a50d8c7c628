"""YAML within limits: alias bombs, recursion and depth refused before expansion."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from anibridge.safeyaml import YamlLimitError, load_yaml


def bomb(depth: int, width: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, depth + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


LOADERS = [yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)]


@pytest.mark.timeout(5)
@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("depth", [6, 9, 40])
def test_alias_bombs_are_refused_before_anything_expands(loader, depth):
    with pytest.raises(YamlLimitError, match="alias bomb"):
        load_yaml(bomb(depth), max_bytes=1 << 20, loader=loader)


def test_a_few_shared_blocks_are_fine():
    text = (
        "base: &base {type: local, config: {path: a.sqlite}}\n"
        "one: *base\ntwo: {<<: *base, name: two}\n"
    )
    data = load_yaml(text, max_bytes=4096)
    assert data["one"] == data["base"]
    assert data["two"]["name"] == "two" and data["two"]["type"] == "local"


def test_the_bound_counts_nodes_aliases_add():
    text = "a: &a [" + ", ".join(["x"] * 50) + "]\nb: [" + ", ".join(["*a"] * 10) + "]"
    assert len(load_yaml(text, max_bytes=1 << 20, max_alias_nodes=600)["b"]) == 10
    with pytest.raises(YamlLimitError):
        load_yaml(text, max_bytes=1 << 20, max_alias_nodes=400)


@pytest.mark.parametrize("loader", LOADERS)
def test_recursive_aliases_and_deep_nesting_are_refused(loader):
    with pytest.raises(YamlLimitError, match="recursive"):
        load_yaml("a: &a [1, *a]\n", max_bytes=4096, loader=loader)
    with pytest.raises(YamlLimitError, match="recursive"):
        load_yaml("a: &a {b: *a}\n", max_bytes=4096, loader=loader)


def test_deep_nesting_is_refused():
    deep = "[" * 5_000 + "]" * 5_000
    with pytest.raises(yaml.YAMLError, match="nest"):  # over the recursion limit
        load_yaml(deep, max_bytes=1 << 20)


def test_size_limit_and_plain_errors():
    with pytest.raises(YamlLimitError, match="limit is 100 bytes"):
        load_yaml("x" * 101, max_bytes=100)
    with pytest.raises(yaml.YAMLError):
        load_yaml("key: [unclosed", max_bytes=100)
    assert load_yaml("", max_bytes=100) is None
    assert load_yaml(b"a: 1", max_bytes=100) == {"a": 1}


scalars = st.one_of(st.integers(), st.text(max_size=8), st.booleans(), st.none())
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=5),
    ),
    max_leaves=30,
)


@settings(deadline=None)
@given(documents)
def test_same_result_as_safe_load_within_the_limits(doc):
    text = yaml.safe_dump(doc)
    assert load_yaml(text, max_bytes=1 << 20) == yaml.safe_load(text)
