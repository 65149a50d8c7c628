"""Simkl provider: shows, anime and movies with per-episode watch dates.

`SimklProvider` is registered under the `anibridge.providers` entry point `simkl`.
"""

from __future__ import annotations

from anibridge.providers.simkl.auth import (
    PinCode,
    SimklAuthError,
    poll_pin_login,
    start_pin_login,
)
from anibridge.providers.simkl.provider import SimklProvider
from anibridge.providers.simkl.settings import SimklConfigError

__all__ = [
    "PinCode",
    "SimklAuthError",
    "SimklConfigError",
    "SimklProvider",
    "poll_pin_login",
    "start_pin_login",
]
