"""Mapping errors name the bad entry so a curator can find it in the file."""

from __future__ import annotations

import pytest

from anibridge.mappings.errors import (
    InvalidEntry,
    MappingError,
    MappingLoadError,
    summarize_invalid,
)


def _entry(n: int) -> InvalidEntry:
    return InvalidEntry("custom.yaml", f"anilist:{n}", "mal:9", "1-12", "bad range")


def test_an_entry_renders_file_source_target_key_and_reason():
    assert str(_entry(1)) == "custom.yaml: anilist:1 -> mal:9 ['1-12']: bad range"


def test_parts_that_do_not_apply_are_left_out():
    assert (
        str(InvalidEntry("a.json", None, None, None, "not JSON")) == "a.json: not JSON"
    )
    only_source = InvalidEntry("a.yaml", "anilist:1", None, None, "unknown provider")
    assert str(only_source) == "a.yaml: anilist:1: unknown provider"
    no_key = InvalidEntry("a.yaml", "anilist:1", "mal:2", None, "not a mapping")
    assert str(no_key) == "a.yaml: anilist:1 -> mal:2: not a mapping"
    key_only = InvalidEntry("a.yaml", None, None, "x", "stray key")
    assert str(key_only) == "a.yaml ['x']: stray key"


def test_summary_counts_all_and_lists_up_to_the_limit():
    assert summarize_invalid([]) == "no invalid mapping entries"
    two = [_entry(1), _entry(2)]
    assert summarize_invalid(two, limit=2) == (
        "2 invalid mapping entries skipped\n"
        "  custom.yaml: anilist:1 -> mal:9 ['1-12']: bad range\n"
        "  custom.yaml: anilist:2 -> mal:9 ['1-12']: bad range"
    )
    assert summarize_invalid(two, limit=1) == (
        "2 invalid mapping entries skipped\n"
        "  custom.yaml: anilist:1 -> mal:9 ['1-12']: bad range\n"
        "  ... and 1 more"
    )


def test_the_default_limit_is_twenty():
    lines = summarize_invalid([_entry(n) for n in range(25)]).splitlines()
    assert len(lines) == 22
    assert lines[0] == "25 invalid mapping entries skipped"
    assert lines[-1] == "  ... and 5 more"
    assert summarize_invalid([_entry(n) for n in range(20)]).count("\n") == 20


def test_a_load_error_keeps_every_entry_and_shows_the_first_few():
    entries = [_entry(n) for n in range(30)]
    error = MappingLoadError(entries, limit=3)
    assert error.invalid == tuple(entries)
    assert str(error) == summarize_invalid(entries, limit=3)
    assert str(MappingLoadError(entries)).endswith("  ... and 10 more")
    with pytest.raises(MappingError):
        raise error
