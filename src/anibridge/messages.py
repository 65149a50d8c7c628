"""Error-message text: bounded quotes of user input, bounded messages.

An error that echoes what it refused is helpful until the input is a megabyte of
YAML aliases: then the message itself becomes the denial of service (and may carry a
secret). Every message that quotes an offending value goes through `quote` (at most
`QUOTE_LIMIT` characters, computed without building the full repr), and every
message that leaves the process for a person (CLI, web) through `clip`.
"""

from __future__ import annotations

import reprlib

__all__ = ["MESSAGE_LIMIT", "QUOTE_LIMIT", "clip", "quote"]

QUOTE_LIMIT = 200
MESSAGE_LIMIT = 2000

_repr = reprlib.Repr()
_repr.maxstring = QUOTE_LIMIT
_repr.maxother = QUOTE_LIMIT
_repr.maxlong = 60
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = 8
_repr.maxdict = 8
_repr.maxlevel = 3


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` in at most about `limit` characters (cut marked with ``...``).

    Nested containers are abbreviated while they are walked (`reprlib`), so quoting
    a structure with millions of shared children costs as little as quoting a word.
    """
    text = _repr.repr(value)
    if len(text) > limit:
        text = text[: max(0, limit - 3)] + "..."
    return text


def clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut to `limit` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[: max(0, limit - 40)]}... ({len(text)} characters, cut)"
