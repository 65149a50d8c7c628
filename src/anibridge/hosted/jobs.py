"""What a hosted job is, what runs it, and how it may fail.

A job is one use case for one profile (sync, preview, apply, undo, retry,
restore, undo preview) or for
the deployment (mappings refresh), carried by the queue as plain JSON. Workers hand
each job to a `JobRunner`; the runner raises `RetryLater` for what time will fix
(the profile is busy, a service is rate-limiting or unreachable) and `JobFailed` for
what it will not (the profile is gone, its config is invalid). Anything else is a
bug or an unexpected outage: retried with backoff a few times, then failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "DEPLOYMENT_JOBS",
    "PROFILE_JOBS",
    "Job",
    "JobFailed",
    "JobRunner",
    "RetryLater",
    "profile_lock",
]

#: Jobs of one profile: serialized per profile by the queue's lock.
PROFILE_JOBS = ("sync", "apply", "undo", "retry", "restore", "undo_preview")
#: Jobs of the whole deployment.
DEPLOYMENT_JOBS = ("mappings_refresh",)


def profile_lock(profile: str) -> str:
    """The queue lock every job of `profile` holds while it runs."""
    return f"profile:{profile}"


@dataclass(frozen=True, slots=True)
class Job:
    """One job as a runner sees it.

    Attributes:
        id: The queue's job id.
        kind: One of `PROFILE_JOBS` or `DEPLOYMENT_JOBS`.
        profile: The profile's store key ("" for deployment jobs).
        args: The use case's arguments (JSON).
        attempt: 0 for the first run, then 1, 2, … for retries.
    """

    id: int
    kind: str
    profile: str
    args: dict[str, Any] = field(default_factory=dict)
    attempt: int = 0


class RetryLater(Exception):
    """Time will fix it: run the job again in `wait` seconds."""

    def __init__(self, message: str, *, wait: float = 30.0) -> None:
        """Ask for a retry in `wait` seconds."""
        super().__init__(message)
        self.wait = wait


class JobFailed(Exception):
    """Retrying cannot help (the profile is gone, its config is invalid)."""


class JobRunner(Protocol):
    """Runs jobs in a worker process."""

    async def run(self, job: Job) -> dict[str, Any]:
        """Do the job; return a JSON-able result (kept with the job's outcome).

        Raises:
            RetryLater: the job should run again later.
            JobFailed: the job cannot succeed.
        """
        ...
