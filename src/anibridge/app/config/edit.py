"""Round-trip YAML for config editors: the user's comments and layout survive.

The editor shows the file with secrets masked and saves what the user submits with
the masks put back. Both steps edit the round-trip tree of `ruamel.yaml` in place
(only the masked scalars change), so comments, key order and quoting stay as the user
wrote them instead of being re-dumped from plain data.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

__all__ = ["YAMLError", "rewrite_text"]


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-fold the user's long lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _overlay(doc: Any, plain: Any) -> None:
    """Copy into `doc` (in place) every value where `plain` differs from it."""
    if isinstance(doc, dict) and isinstance(plain, dict):
        for key in list(doc):
            if key in plain:
                _overlay_item(doc, key, plain[key])
    elif isinstance(doc, list) and isinstance(plain, list):
        for index in range(min(len(doc), len(plain))):
            _overlay_item(doc, index, plain[index])


def _overlay_item(doc: Any, key: Any, value: Any) -> None:
    current = doc[key]
    nested = (isinstance(current, dict) and isinstance(value, dict)) or (
        isinstance(current, list) and isinstance(value, list)
    )
    if nested:
        _overlay(current, value)
    elif value != current:
        doc[key] = value


def rewrite_text(text: str, change: Callable[[Any], Any]) -> str:
    """`text` with the values `change` alters replaced; everything else kept as is.

    `change` gets the parsed document and returns a plain copy with some values
    replaced (``redact`` masks secrets; restoring puts stored secrets back). Only
    those values are written into the round-trip tree.

    Raises:
        YAMLError: the text is not valid YAML.
    """
    yaml = _yaml()
    doc = yaml.load(text)
    if not isinstance(doc, dict):
        return text
    _overlay(doc, change(doc))
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()
