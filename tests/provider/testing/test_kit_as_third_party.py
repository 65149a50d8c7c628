"""The kit used the way a third-party provider package uses it, in a fresh pytest run.

The generated test module lives outside this repository's pytest configuration (strict
asyncio mode, no conftest), backs one provider with a real loopback server through an
async fixture, and includes a broken provider and a subclass that forgot its fixture.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

MODULE = textwrap.dedent(
    '''
    import asyncio
    from datetime import UTC, datetime

    import pytest
    import pytest_asyncio

    from anibridge.provider.base import Account, Event
    from anibridge.provider.testing import ProviderContractTests
    from anibridge.provider.testing.memory import (
        MemoryProvider, episode_ref, library_show, make_library_provider, play,
    )

    SHOW = library_show("s", "Show", {1: 2})


    class ServerBacked(MemoryProvider):
        """Reads its account name from a TCP server at initialize()."""

        def __init__(self, port, **kwargs):
            super().__init__(nodes=SHOW, account=None, **kwargs)
            self.port = port

        async def initialize(self):
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            name = (await reader.readline()).decode().strip()
            writer.close()
            await writer.wait_closed()
            self._account = Account(key=name, title=name)
            await super().initialize()


    @pytest_asyncio.fixture
    async def server():
        async def greet(reader, writer):
            writer.write(b"loopback-user\\n")
            await writer.drain()
            writer.close()

        srv = await asyncio.start_server(greet, "127.0.0.1", 0)
        yield srv.sockets[0].getsockname()[1]
        srv.close()
        await srv.wait_closed()


    class TestServerBacked(ProviderContractTests):
        @pytest.fixture
        def make_provider(self, server):
            return lambda: ServerBacked(server)

        @pytest.fixture
        def writable_ref(self):
            return episode_ref("s", 1, 2)


    class TestLibrary(ProviderContractTests):
        @pytest.fixture
        def make_provider(self):
            first = play(episode_ref("s", 1, 1), datetime(2024, 1, 1, tzinfo=UTC))
            return lambda: make_library_provider(SHOW, events=[first])


    class TestNaiveEvents(ProviderContractTests):
        @pytest.fixture
        def make_provider(self):
            naive = Event(episode_ref("s", 1, 1), "play", datetime(2024, 1, 1))
            return lambda: make_library_provider(SHOW, events=[naive])


    class TestForgotFixture(ProviderContractTests):
        pass
    '''
)


def test_kit_in_a_fresh_pytest_run(tmp_path):
    (tmp_path / "test_third_party_provider.py").write_text(MODULE)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rA",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=strict",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    outcomes: dict[str, dict[str, str]] = {}
    for outcome, cls, test in re.findall(
        r"^(PASSED|FAILED|SKIPPED|ERROR)\S* .*?::(\w+)::(\w+)", out, re.M
    ):
        outcomes.setdefault(cls, {})[test] = outcome
    assert proc.returncode == 1, out

    server = outcomes["TestServerBacked"]
    assert set(server.values()) == {"PASSED"}, out
    assert server["test_account_is_none_until_initialized"] == "PASSED"
    assert server["test_repeated_append_event_is_idempotent"] == "PASSED"

    library = outcomes["TestLibrary"]
    assert set(library.values()) == {"PASSED"}, out
    assert "test_fetch_events" in library and "test_record_write_results" not in library

    naive = outcomes["TestNaiveEvents"]
    assert naive["test_fetch_events"] == "FAILED"
    assert naive["test_fetch_event_summaries"] == "FAILED"
    assert naive["test_scan_pages_are_valid_and_terminate"] == "PASSED"
    assert "broke contract rule 'utc-datetime'" in out

    forgot = outcomes["TestForgotFixture"]
    assert set(forgot.values()) == {"ERROR"}, out
    assert "must define a `make_provider` fixture" in out

    assert re.search(r"SKIPPED \[\d+\] .*does not mix in SupportsRecordWrites", out), (
        out
    )
