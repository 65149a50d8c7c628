"""The `anibridge mappings` query commands' bodies, without typer.

`anibridge.app.cli.mappings` declares the commands on the typer app and calls these;
`anibridge.app.cli._fast` calls `translate` directly for a plain
`anibridge mappings translate …`, so both paths print the same bytes and exit with
the same codes by construction. Output goes through `echo`, which writes what
`typer.echo` writes (the text, a newline, a flush; ANSI escapes dropped when the
stream is not a terminal; what the stream cannot encode backslash-escaped).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "descriptor",
    "echo",
    "fail",
    "load",
    "print_json",
    "stderr",
    "translate",
]

_ANSI = r"\033\[[;?0-9]*[a-zA-Z]"  # click's `strip_ansi` pattern


def echo(message: str, *, err: bool = False) -> None:
    """Print a line on stdout (or stderr) as `typer.echo` does."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:  # no console (pythonw)
        return
    text = f"{message}\n"
    if "\033" in text and not stream.isatty():
        import re

        text = re.sub(_ANSI, "", text)
    try:
        stream.write(text)
    except UnicodeEncodeError:
        # A stream that cannot encode it (PYTHONIOENCODING=ascii, a Latin-1
        # locale): escaped as Python escapes stderr, not an "unexpected" error.
        encoding = stream.encoding or "utf-8"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
    stream.flush()


def stderr(message: str) -> None:
    """A line on stderr, secrets masked (a mappings URL may carry a password)."""
    from anibridge.http.redact import mask

    echo(mask(message), err=True)


def fail(message: str, code: int = 2) -> SystemExit:
    """Report a refused input on stderr; the caller raises what this returns."""
    stderr(f"anibridge mappings: {message}")
    return SystemExit(code)


def load(paths: Sequence[Path] | None) -> Any:
    """Load the index for a command, reporting invalid entries on stderr.

    Raises:
        SystemExit: 2 when a mapping file cannot be read or decoded.
    """
    from anibridge.mappings import MappingError, load_index, summarize_invalid

    try:
        index = load_index(
            [str(p) for p in paths or ()],
            include_default=not paths,
            notice=stderr,
            report_invalid=None,
        )
    except MappingError as exc:
        raise fail(str(exc)) from None
    if index.invalid:
        stderr(summarize_invalid(index.invalid, limit=10))
    return index


def descriptor(text: str) -> Any:
    """The descriptor, parsed as the web parses it (`parse_descriptor`).

    Raises:
        SystemExit: 2 when it is not a descriptor (the message says why).
    """
    from anibridge.app.service.descriptor_text import parse_descriptor
    from anibridge.app.service.errors import InvalidInput
    from anibridge.provider.base import ExternalId

    try:
        return ExternalId.parse(parse_descriptor(text))
    except InvalidInput as exc:
        raise fail(str(exc)) from None


def print_json(value: Any) -> None:
    """`value` as indented JSON on stdout, nothing else."""
    echo(json.dumps(value, indent=2, sort_keys=False))


def translate(
    text: str,
    episodes: Sequence[int],
    to: Sequence[str] | None,
    mappings: Sequence[Path] | None,
    as_json: bool,
) -> None:
    """Translate source episodes to target episodes, per target descriptor."""
    source = descriptor(text)
    index = load(mappings)
    result: dict[str, dict[str, list[int]]] = {}
    for episode in episodes:
        found = index.translate(source, episode, to=set(to) if to else None)
        result[str(episode)] = {
            target.descriptor: list(values) for target, values in found.items()
        }
    if as_json:
        print_json(result)
        return
    for episode, targets in result.items():
        if not targets:
            echo(f"{source.descriptor} {episode}: no target")
        for target, values in targets.items():
            shown = ", ".join(str(v) for v in values)
            echo(f"{source.descriptor} {episode} -> {target} {shown}")
