"""A descriptor typed by a person (CLI, web lookup), parsed as the dataset keys it.

Its own small module so `anibridge mappings translate` can parse its argument without
importing the mappings browser (`mapping_view` pulls in the overrides' YAML writer).
"""

from __future__ import annotations

from anibridge.app.service.errors import InvalidInput

__all__ = ["parse_descriptor"]


def parse_descriptor(text: str) -> str:
    """A descriptor as the dataset keys it (``anidb:1`` → ``anidb:1:R``).

    One parser for `anibridge mappings lookup|translate|progress` and the web's
    lookup, so the same typo gets the same answer in both.

    Raises:
        InvalidInput: not a descriptor; the message names it and shows the form.
    """
    from anibridge.mappings import MappingError, canonical_id

    try:
        return str(canonical_id(text.strip()))
    except (ValueError, MappingError) as exc:
        raise InvalidInput(
            f"{text!r} is not a descriptor like anilist:21 or tvdb_show:81797:s1 "
            f"({exc})"
        ) from exc
