"""The embedded `local` provider: a library and/or list in a local SQLite file.

Public API: `LocalProvider` (the provider), `LocalFileError` (an unusable file),
`DocumentError` (a malformed import document), `InboundPayloadError` (a malformed
webhook payload), and `export_provider_state` (any provider's state as a local
document). The file and document formats are specified in `docs/local-format.md`.
"""

from __future__ import annotations

from anibridge.providers.local.database import LocalFileError
from anibridge.providers.local.document import DocumentError, dump_document
from anibridge.providers.local.inbound import PAYLOAD_TYPE, InboundPayloadError
from anibridge.providers.local.provider import LocalProvider

__all__ = [
    "PAYLOAD_TYPE",
    "DocumentError",
    "InboundPayloadError",
    "LocalFileError",
    "LocalProvider",
    "dump_document",
]
