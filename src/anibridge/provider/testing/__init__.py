"""Test helpers shipped with the provider contract.

- `ProviderContractTests` (in `anibridge.provider.testing.contract`): the conformance
  kit every provider's test module subclasses.
- `MemoryProvider` and its factories (in `anibridge.provider.testing.memory`): a
  complete in-memory reference provider for engine tests and as an example.

`ProviderContractTests` is imported lazily so that using `MemoryProvider` does not
require pytest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anibridge.provider.testing.memory import (
    MemoryProvider,
    MemoryProviderBase,
    make_library_provider,
    make_list_provider,
    memory_provider,
)

if TYPE_CHECKING:
    from anibridge.provider.testing.contract import ProviderContractTests

__all__ = [
    "MemoryProvider",
    "MemoryProviderBase",
    "ProviderContractTests",
    "make_library_provider",
    "make_list_provider",
    "memory_provider",
]


def __getattr__(name: str) -> object:
    """Load the pytest-based kit only when it is asked for.

    Raises:
        AttributeError: `name` is not exported here.
    """
    if name == "ProviderContractTests":
        from anibridge.provider.testing.contract import ProviderContractTests

        return ProviderContractTests
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
