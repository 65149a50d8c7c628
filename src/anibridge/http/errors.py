"""HTTP failures as the contract's `WriteError` codes, and one exception type."""

from __future__ import annotations

import httpx

from anibridge.provider.base import WriteError


def write_error_for_status(status: int) -> WriteError:
    """The contract's failure code for an HTTP status (providers may refine it)."""
    if status in (400, 405, 413, 414, 415, 422):
        return WriteError.INVALID
    if status in (401, 403):
        return WriteError.AUTH
    if status in (404, 410):
        return WriteError.NOT_FOUND
    if status in (409, 412):
        return WriteError.CONFLICT
    if status == 429:
        return WriteError.RATE_LIMITED
    if status in (408, 425) or status >= 500:
        return WriteError.TRANSIENT
    return WriteError.INTERNAL


class HttpError(Exception):
    """A request that failed for good, with the code the engine acts on.

    The message never contains secrets: URLs and bodies are redacted first.
    """

    def __init__(
        self,
        message: str,
        *,
        code: WriteError,
        status: int | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        """Carry the redacted `message`, the contract `code` and the HTTP status."""
        super().__init__(message)
        self.code = code
        self.status = status
        self.response = response
