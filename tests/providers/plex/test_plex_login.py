"""The plex.tv PIN sign-in on a virtual clock: polls counted, never a real wait."""

from __future__ import annotations

import logging

import pytest

from anibridge.http import HttpClient, ManualClock
from anibridge.providers.plex import PlexProvider
from anibridge.providers.plex.client import plex_headers
from anibridge.providers.plex.login import (
    PlexLoginError,
    auth_app_url,
    create_pin,
    poll_pin,
)


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def client(plex_tv, clock):
    http = HttpClient(name="plex.tv-pin", base_url=plex_tv.base_url,
                      headers=plex_headers("anibridge-test"), clock=clock,
                      logger=logging.getLogger("test"))  # fmt: skip
    yield http


async def test_the_pin_is_polled_once_a_second_until_approved(plex_tv, client, clock):
    plex_tv.approve_after_polls = 4
    pin = await create_pin(client)
    assert len(pin.code) == 25 and pin.expires_in == 1800
    start = clock.monotonic()
    token = await poll_pin(client, pin, clock=clock)
    assert token == plex_tv.pins[pin.id]["authToken"]
    assert plex_tv.pins[pin.id]["polls"] == 4
    assert clock.monotonic() - start == 3.0  # three waits of one second
    await client.aclose()


async def test_an_unapproved_pin_stops_at_its_lifetime(plex_tv, client, clock):
    plex_tv.pin_ttl = 5
    pin = await create_pin(client)
    with pytest.raises(PlexLoginError, match=rf"PIN {pin.code} expired"):
        await poll_pin(client, pin, clock=clock)
    assert plex_tv.pins[pin.id]["polls"] == 5  # never past expiresIn
    await client.aclose()


async def test_a_forgotten_pin_is_expired_and_another_app_cannot_read_it(
    plex_tv, client, clock
):
    pin = await create_pin(client)
    other = HttpClient(name="other", base_url=plex_tv.base_url,
                       headers=plex_headers("someone-else"), clock=clock)  # fmt: skip
    with pytest.raises(PlexLoginError, match="expired"):
        await poll_pin(other, pin, clock=clock)  # 404 for a foreign identifier
    plex_tv.expire_after_polls = 1
    with pytest.raises(PlexLoginError, match="expired"):
        await poll_pin(client, pin, clock=clock)
    await client.aclose()
    await other.aclose()


def test_the_auth_url_names_the_client_and_code():
    from anibridge.providers.plex.login import PlexPin

    url = auth_app_url(PlexPin(1, "AB CD", 1800), "id/1", "https://app.plex.tv/auth")
    assert url == (
        "https://app.plex.tv/auth#?clientID=id%2F1&code=AB%20CD"
        "&context%5Bdevice%5D%5Bproduct%5D=AniBridge"
    )


async def test_the_provider_takes_its_token_from_the_store(plex, plex_tv):
    class Store:
        async def load(self, key):
            return {"token": plex.owner_token} if key == "plex" else None

        async def save(self, key, tokens):
            raise AssertionError("nothing to save")

    provider = PlexProvider(logger=logging.getLogger("t"), config={
        "base_url": plex.base_url, "plex_tv_url": plex_tv.base_url,
        "token_store": Store()})  # fmt: skip
    await provider.initialize()
    assert provider.account() is not None
    await provider.close()
    with pytest.raises(ValueError, match="token"):  # no store, no token: refused
        PlexProvider(logger=logging.getLogger("t"), config={"base_url": plex.base_url})
