"""Typed errors of the application layer, one per way a request can be refused.

Each carries the message a person reads (one line, naming what and where) plus how
the front ends report it: `status` for HTTP, `exit_code` for the CLI. Adapters map
the class, never parse the text.
"""

from __future__ import annotations

__all__ = [
    "Busy",
    "Conflict",
    "InvalidInput",
    "NotFound",
    "Refused",
    "ServiceError",
    "Unavailable",
]


class ServiceError(Exception):
    """A use case refused a request; `str(error)` is the message to show."""

    status: int = 400
    exit_code: int = 1

    def __init__(self, message: str, *, status: int | None = None) -> None:
        """Create the error; `status` overrides the class's HTTP status."""
        super().__init__(message)
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        """The one-line message."""
        return str(self)


class InvalidInput(ServiceError):
    """The request names something malformed or unknown (a field, a provider key)."""

    status = 400


class NotFound(ServiceError):
    """What the request names does not exist (profile, plan, run, backup)."""

    status = 404


class Conflict(ServiceError):
    """The request does not fit the current state (plan already applied)."""

    status = 409


class Busy(Conflict):
    """Another run holds the profile's lock; try again later."""

    exit_code = 75


class Refused(Conflict):
    """A safety guard refused the plan (``--force`` / approval overrides it)."""

    exit_code = 2


class Unavailable(ServiceError):
    """The app cannot serve the request yet (store closed, mappings loading)."""

    status = 503
