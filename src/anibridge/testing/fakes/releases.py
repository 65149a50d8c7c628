"""A fake release-asset host (GitHub release downloads) on loopback.

Serves published files by path with a strong ETag and answers
`If-None-Match` with 304, as GitHub's asset CDN does; faults (500, truncated
body) come from the shared base.
"""

from __future__ import annotations

import hashlib

from anibridge.testing.fakes.server import FakeRequest, FakeResponse, FakeService


class FakeReleases(FakeService):
    """Files by path, with ETags; `publish` replaces a file (new ETag)."""

    RATE_LIMIT_HEADERS = False

    def __init__(self, *, time_scale: float = 1.0) -> None:
        """Start empty; `publish` files before asking for them."""
        super().__init__(time_scale=time_scale)
        self.files: dict[str, bytes] = {}
        self.route("GET", r"/(?P<path>.+)", self._get)

    def publish(self, path: str, body: bytes) -> str:
        """Serve `body` at `/path`; returns its URL path."""
        self.files[path.lstrip("/")] = body
        return "/" + path.lstrip("/")

    def url(self, path: str) -> str:
        """Absolute URL of a published path."""
        return f"{self.base_url}/{path.lstrip('/')}"

    @staticmethod
    def etag(body: bytes) -> str:
        """The strong ETag the host sends for `body`."""
        return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'

    def _get(self, request: FakeRequest) -> FakeResponse:
        body = self.files.get(request.params["path"])
        if body is None:
            return FakeResponse(404, {"error": "Not Found"})
        etag = self.etag(body)
        if request.header("If-None-Match") == etag:
            return FakeResponse(304, None, {"ETag": etag})
        return FakeResponse(
            200, body, {"ETag": etag, "Content-Type": "application/octet-stream"}
        )
