"""YAML that cannot blow up: a size cap and a bound on what aliases may add.

A 1 KB file of nested anchors and aliases (the "billion laughs") decodes to shared
references cheaply, but anything that walks the result — validation, copying,
printing an error — expands it to billions of nodes. `load_yaml` composes the node
graph first, counts how many nodes the document stands for once every alias is
expanded (memoized, so counting a bomb is as cheap as reading it), and refuses the
document when aliases would add more than `max_alias_nodes` nodes to what is written
out, when it is recursive, or when the bytes exceed `max_bytes`. Only then are Python
objects built. Errors are `YAMLError`s, so callers' existing handlers report them.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["DEFAULT_LOADER", "YamlLimitError", "load_yaml"]

try:
    DEFAULT_LOADER: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    DEFAULT_LOADER = yaml.SafeLoader

MAX_ALIAS_NODES = 10_000


class YamlLimitError(yaml.YAMLError):
    """The document is too big, too deep, recursive, or its aliases expand too far."""

    def __init__(self, problem: str) -> None:
        """Carry `problem` (also as ``.problem``, like PyYAML's marked errors)."""
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = None


def _expanded_size(root: yaml.Node, cap: int) -> tuple[int, int]:
    """(distinct nodes, nodes after expanding every alias), stopping past `cap`.

    Iterative (no recursion limit), memoized per node, and a node met again while
    its own children are being counted is a recursive alias.

    Raises:
        YamlLimitError: the graph is recursive.
    """
    size: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            total = 1
            for child in _children(node):
                total += size[id(child)]
                if total > cap:
                    total = cap + 1
                    break
            size[key] = total
            active.discard(key)
            continue
        if key in size:
            continue
        if key in active:
            raise YamlLimitError("a recursive alias (an anchor used inside itself)")
        active.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in active:
                raise YamlLimitError("a recursive alias (an anchor used inside itself)")
            if id(child) not in size:
                stack.append((child, False))
    return len(size), size[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml(
    data: str | bytes,
    *,
    max_bytes: int,
    max_alias_nodes: int = MAX_ALIAS_NODES,
    loader: Any = None,
) -> Any:
    """Decode one YAML document within the limits (safe types only).

    Raises:
        YamlLimitError: over `max_bytes`, recursive, nested too deeply, or aliases
            that would add more than `max_alias_nodes` nodes.
        yaml.YAMLError: the text is not valid YAML.
    """
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    if size > max_bytes:
        raise YamlLimitError(
            f"the file is {size:,} bytes; the limit is {max_bytes:,} bytes"
        )
    parser = (loader or DEFAULT_LOADER)(data)
    try:
        try:
            node = parser.get_single_node()
        except RecursionError:
            raise YamlLimitError("the document is nested too deeply") from None
        if node is None:
            return None
        distinct, expanded = _expanded_size(node, cap=10**12)
        if expanded - distinct > max_alias_nodes:
            raise YamlLimitError(
                f"aliases would expand the document by more than {max_alias_nodes:,} "
                "nodes (a YAML alias bomb?); write the values out instead"
            )
        try:
            return parser.construct_document(node)
        except RecursionError:
            raise YamlLimitError("the document is nested too deeply") from None
    finally:
        parser.dispose()
