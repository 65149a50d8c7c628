"""Downloads for the mappings layer, through the shared `anibridge.http` client.

Loading is synchronous (the CLI, start-up), while `HttpClient` is async; the
sync wrapper runs the request on its own event loop in a worker thread so it
works whether or not the caller already has a loop running.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from anibridge.http import HttpClient, RetryPolicy

DEFAULT_RETRY = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=4.0)
"""Two retries with a short pause, as the existing app does for dataset URLs."""


@dataclass(frozen=True, slots=True)
class Download:
    """One conditional GET: 200 with a body, or 304 without one."""

    status: int
    body: bytes
    etag: str | None


async def download(
    url: str,
    *,
    etag: str | None = None,
    retry: RetryPolicy | None = None,
    timeout: float = 60.0,
) -> Download:
    """GET `url`, sending `If-None-Match` when an ETag is known.

    Raises:
        HttpError: the server failed for good (after retries) or the body broke off.
    """
    headers = {"If-None-Match": etag} if etag else {}
    async with HttpClient(
        name="mappings",
        base_url=url,
        retry=retry or DEFAULT_RETRY,
        timeout=timeout,
    ) as client:
        response = await client.get(url, headers=headers)
    body = response.content if response.status_code != 304 else b""
    return Download(response.status_code, body, response.headers.get("etag"))


def run_sync[T](coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, loop or no loop.

    Raises:
        BaseException: whatever the coroutine raised.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def worker() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=worker, name="anibridge-mappings-fetch")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def fetch_bytes(url: str) -> bytes:
    """Download `url` and return the body (used for `$includes` URLs).

    Raises:
        HttpError: the download failed.
    """
    return run_sync(download(url)).body
