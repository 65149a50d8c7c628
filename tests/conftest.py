"""Suite-wide isolation: no test reads or writes the real user's AniBridge state.

Every test (and every CLI subprocess it starts, which inherits the environment) sees
empty private cache/config/data directories, so a mappings dataset downloaded on the
developer's machine can never change a test's outcome. Hypothesis runs without its
timing checks (no per-example deadline, no "input generation is slow" health check):
on a busy machine a property test may be slower, never red.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "anibridge", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("anibridge")

_XDG = ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")


def _isolate() -> None:
    """Point the user directories and the mappings cache at a fresh, empty folder."""
    isolated = Path(tempfile.mkdtemp(prefix="anibridge-tests-"))
    for name in _XDG:
        os.environ[name] = str(isolated / name.lower())
    os.environ["ANIBRIDGE_MAPPINGS_CACHE"] = str(isolated / "mappings-cache")


_isolate()
for _name in [
    n
    for n in os.environ
    if n.startswith("ANIBRIDGE_")
    and n != "ANIBRIDGE_MAPPINGS_CACHE"
    and not n.startswith("ANIBRIDGE_TEST_")
]:
    os.environ.pop(_name)


@pytest.fixture(scope="session", autouse=True)
def _fresh_user_directories():
    """Every test session gets its own empty directories, not just every process.

    Mutation testing runs many sessions in processes forked from one that already
    imported this file: with one folder per process, a mutant that wrote a broken
    cached dataset left it for every mutant after it, whose tests then failed for
    that and not for their own change (false kills).
    """
    _isolate()
    yield


@pytest.fixture(autouse=True)
def _forget_registered_secrets():
    """Each test starts with no registered secrets (they are process-wide)."""
    from anibridge.http.redact import SECRETS

    SECRETS.clear()
    yield
    SECRETS.clear()
