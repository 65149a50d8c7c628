"""`anibridge.app.cli._mapping_queries`: output on streams that cannot encode it."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from anibridge.app.cli import _mapping_queries as queries


def _stream(encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding=encoding, write_through=True)


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_a_descriptor_the_terminal_cannot_encode_is_printed_escaped(
    encoding, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # PYTHONIOENCODING=ascii or a Latin-1 locale: a typed non-ASCII descriptor is
    # a typo to show, not an "unexpected error" (exit 70) to report
    mappings = tmp_path / "m.json"
    mappings.write_text(json.dumps({"anidb:7": {"anilist:1": {"1": "1"}}}))
    out = _stream(encoding)
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", _stream(encoding))
    queries.translate("\uff41nilist:\uff12\uff10", [1], None, [mappings], False)
    assert out.buffer.getvalue() == b"\\uff41nilist:\\uff12\\uff10 1: no target\n"  # type: ignore[attr-defined]


def test_encodable_text_is_written_as_it_is(monkeypatch: pytest.MonkeyPatch):
    out = _stream("utf-8")
    monkeypatch.setattr(sys, "stdout", out)
    queries.echo("ànilist:20 → 1")
    assert out.buffer.getvalue() == "ànilist:20 → 1\n".encode()  # type: ignore[attr-defined]
