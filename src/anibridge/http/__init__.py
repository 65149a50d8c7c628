"""The shared HTTP layer: one client, one set of rules, for every HTTP provider."""

from __future__ import annotations

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
from anibridge.http.errors import HttpError, write_error_for_status
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
from anibridge.http.redact import redact, redact_headers

__all__ = [
    "ANY",
    "APP",
    "READ",
    "SYSTEM_CLOCK",
    "USER",
    "WRITE",
    "Clock",
    "HttpClient",
    "HttpError",
    "ManualClock",
    "RateLimit",
    "RateLimiter",
    "RequestCounter",
    "RequestRecord",
    "RetryPolicy",
    "ScaledClock",
    "SharedLimits",
    "SystemClock",
    "clock_from_config",
    "redact",
    "redact_headers",
    "retry_after_seconds",
    "shared_limits",
    "use_shared_limits",
    "window_wait",
    "write_error_for_status",
]
