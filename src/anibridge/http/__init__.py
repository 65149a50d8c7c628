"""The shared HTTP layer: one client, one set of rules, for every HTTP provider.

Names are imported from their submodules on first use (PEP 562), so code that only
needs `anibridge.http.redact` (config loading, CLI output) never pays for httpx.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Light (stdlib only) and imported here so that the function `redact` is what the
# package attribute names, not the submodule of the same name.
from anibridge.http.redact import (
    SECRETS,
    SecretRegistry,
    mask,
    redact,
    redact_headers,
)

if TYPE_CHECKING:
    from anibridge.http.client import (
        HttpClient,
        RequestCounter,
        RequestRecord,
        RetryPolicy,
        retry_after_seconds,
    )
    from anibridge.http.clock import (
        SYSTEM_CLOCK,
        Clock,
        ManualClock,
        ScaledClock,
        SystemClock,
        clock_from_config,
    )
    from anibridge.http.errors import (
        Failure,
        HttpError,
        classify_transport,
        write_error_for_status,
    )
    from anibridge.http.limits import (
        ANY,
        APP,
        READ,
        USER,
        WRITE,
        RateLimit,
        RateLimiter,
        SharedLimits,
        shared_limits,
        use_shared_limits,
        window_wait,
    )

_HOMES = {
    **dict.fromkeys(
        (
            "HttpClient",
            "RequestCounter",
            "RequestRecord",
            "RetryPolicy",
            "retry_after_seconds",
        ),
        "client",
    ),
    **dict.fromkeys(
        (
            "SYSTEM_CLOCK",
            "Clock",
            "ManualClock",
            "ScaledClock",
            "SystemClock",
            "clock_from_config",
        ),
        "clock",
    ),
    **dict.fromkeys(
        ("Failure", "HttpError", "classify_transport", "write_error_for_status"),
        "errors",
    ),
    **dict.fromkeys(
        (
            "ANY",
            "APP",
            "READ",
            "USER",
            "WRITE",
            "RateLimit",
            "RateLimiter",
            "SharedLimits",
            "shared_limits",
            "use_shared_limits",
            "window_wait",
        ),
        "limits",
    ),
}


def __getattr__(name: str) -> Any:
    """Import the submodule that defines `name` when it is first asked for.

    Raises:
        AttributeError: no such name in the package.
    """
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ANY",
    "APP",
    "READ",
    "SECRETS",
    "SYSTEM_CLOCK",
    "USER",
    "WRITE",
    "Clock",
    "Failure",
    "HttpClient",
    "HttpError",
    "ManualClock",
    "RateLimit",
    "RateLimiter",
    "RequestCounter",
    "RequestRecord",
    "RetryPolicy",
    "ScaledClock",
    "SecretRegistry",
    "SharedLimits",
    "SystemClock",
    "classify_transport",
    "clock_from_config",
    "mask",
    "redact",
    "redact_headers",
    "retry_after_seconds",
    "shared_limits",
    "use_shared_limits",
    "window_wait",
    "write_error_for_status",
]
