"""Checking a backup payload before anything is written: data the app asks for.

Kept beside (not in) `anibridge.provider.base`, whose public API must stay exactly
the published contract. `restore` and `import` must refuse a bad payload before they
take a safety backup or write anything (otherwise five bad attempts would prune every
real backup), so a provider that imports backups also says, without I/O, whether it
would accept a payload: it implements `SupportsBackupChecks` with the same parser its
`import_backup` uses. A provider that does not is checked by its import alone.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["SupportsBackupChecks", "check_backup"]


@runtime_checkable
class SupportsBackupChecks(Protocol):
    """A provider that can validate a backup payload without writing."""

    def check_backup(self, payload: bytes) -> None:
        """Parse and validate the whole payload; write and fetch nothing.

        Raises:
            ValueError: `import_backup` would refuse it (one line, naming where).
        """
        ...


def check_backup(provider: object, payload: bytes) -> bool:
    """Validate `payload` for `provider` when it can say; True if it was checked.

    Raises:
        ValueError: the payload is malformed (the provider's one-line reason).
    """
    if isinstance(provider, SupportsBackupChecks):
        provider.check_backup(payload)
        return True
    return False
