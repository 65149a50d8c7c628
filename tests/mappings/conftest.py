from __future__ import annotations

import pytest

from anibridge.mappings import BUNDLED, MappingIndex, load_index


@pytest.fixture(scope="session")
def curated() -> MappingIndex:
    """The bundled curated file (real anibridge-mappings data, MIT, see data/)."""
    return load_index([BUNDLED], include_default=False, notice=None)
