from __future__ import annotations

import dataclasses
import logging
import time

import pytest

from anibridge.http import HttpClient, HttpError, ManualClock
from anibridge.provider.base import EventSummaryQuery, WriteError
from anibridge.providers.trakt import (
    TraktAuthError,
    TraktProvider,
    poll_device_login,
    start_device_login,
)
from anibridge.testing.fakes.trakt import FakeTrakt

LOG = logging.getLogger("test.trakt")


class MemoryTokens:
    def __init__(self, saved: dict | None = None) -> None:
        self.saved: dict[str, dict] = dict(saved or {})
        self.saves = 0

    async def load(self, key: str) -> dict | None:
        return self.saved.get(key)

    async def save(self, key: str, tokens: dict) -> None:
        self.saved[key] = dict(tokens)
        self.saves += 1


@pytest.fixture
def slow_fake():
    # Device-code timing is checked on the fake's virtual clock, which moves only
    # when the client waits: a round trip never makes a poll look "too soon".
    with FakeTrakt(clock=ManualClock()) as service:
        yield service


@pytest.fixture
async def oauth(slow_fake):
    fake = slow_fake
    client = HttpClient(
        name="trakt-oauth",
        base_url=fake.base_url,
        headers={"trakt-api-version": "2", "trakt-api-key": fake.client_id},
        clock=fake.clock,
    )
    yield client
    await client.aclose()


async def poll(fake, oauth, code, **kwargs):
    return await poll_device_login(
        oauth,
        code,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        clock=fake.clock,
        **kwargs,
    )


# -- device code -----------------------------------------------------------------------


async def test_device_login_polls_until_approved(slow_fake, oauth):
    fake = slow_fake
    fake.auto_approve_after = 3
    code = await start_device_login(oauth, fake.client_id)
    assert code.verification_url == "https://trakt.tv/activate"
    assert code.interval == fake.device_interval and code.expires_in == 600
    seen: list[int] = []
    tokens = await poll(fake, oauth, code, on_poll=lambda n, _i: seen.append(n))
    assert seen == [1, 2]  # two pending answers, approved on the third poll
    assert tokens.access_token in fake.access_tokens
    assert tokens.refresh_token in fake.refresh_tokens
    assert tokens.expires_at > time.time() + 6 * 86400
    assert fake.statuses()[400] == 2


async def test_device_login_slows_down_when_told(slow_fake, oauth):
    fake = slow_fake
    fake.auto_approve_after = 3
    code = await start_device_login(oauth, fake.client_id)
    hasty = dataclasses.replace(code, interval=1)  # faster than Trakt allows
    intervals: list[float] = []
    tokens = await poll(fake, oauth, hasty, on_poll=lambda _n, i: intervals.append(i))
    assert tokens.access_token in fake.access_tokens
    assert fake.statuses()[429] == 1
    assert intervals[-1] == 6  # 1 + 5 after the slow-down answer


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("deny", "denied"),
        ("bad_code", "invalid"),
        ("server_expiry", "expired"),
        ("client_expiry", "expired"),
    ],
)
async def test_device_login_failures_say_why(slow_fake, oauth, setup, reason):
    fake = slow_fake
    code = await start_device_login(oauth, fake.client_id)
    if setup == "deny":
        fake.deny_device(code.user_code)
    elif setup == "bad_code":
        code = dataclasses.replace(code, device_code="not-a-code")
    elif setup == "server_expiry":
        fake.device_ttl = 7  # Trakt expires it before the client expected
        code = dataclasses.replace(code, expires_in=100)
    elif setup == "client_expiry":
        code = dataclasses.replace(code, expires_in=12)
    polls_before = fake.count("auth")
    with pytest.raises(TraktAuthError) as info:
        await poll(fake, oauth, code)
    assert info.value.reason == reason
    if setup == "client_expiry":
        # Polled at 5 s and 10 s, then stopped instead of polling past expiry.
        assert fake.count("auth") - polls_before == 2


async def test_a_device_code_works_once(slow_fake, oauth):
    fake = slow_fake
    fake.auto_approve_after = 1
    code = await start_device_login(oauth, fake.client_id)
    await poll(fake, oauth, code)
    with pytest.raises(TraktAuthError) as info:
        await poll(fake, oauth, code)
    assert info.value.reason == "already_used"


async def test_wrong_client_id_cannot_start_a_login(slow_fake, oauth):
    with pytest.raises(TraktAuthError, match="client_id"):
        await start_device_login(oauth, "someone-else")


# -- refresh ---------------------------------------------------------------------------


async def test_a_401_renews_the_token_once_and_saves_it(fake):
    store = MemoryTokens()
    provider = TraktProvider(logger=LOG, config=fake.provider_config(token_store=store))
    await provider.initialize()
    old = provider.tokens
    fake.revoke(old.access_token)
    await provider.fetch_event_summaries(EventSummaryQuery())
    new = provider.tokens
    assert new.access_token != old.access_token
    assert store.saved["trakt"]["access_token"] == new.access_token
    # Two requests were in flight with the stale token; they share one renewal.
    assert store.saves == 1
    assert sum(1 for r in fake.requests if r.path == "/oauth/token") == 1
    assert 1 <= fake.statuses()[401] <= 2
    assert old.refresh_token not in fake.refresh_tokens  # rotated
    await provider.close()


async def test_an_expired_token_is_renewed_before_it_is_used(fake):
    store = MemoryTokens()
    config = fake.provider_config(token_store=store, expires_at=time.time() - 10)
    provider = TraktProvider(logger=LOG, config=config)
    await provider.initialize()
    assert fake.statuses()[401] == 0
    assert [r.path for r in fake.requests[:2]] == ["/oauth/token", "/users/settings"]
    assert store.saves == 1
    await provider.close()


async def test_saved_tokens_win_over_config_and_a_refresh_token_alone_signs_in(fake):
    saved = fake.issue_tokens()
    store = MemoryTokens({"trakt": {"access_token": saved["access_token"]}})
    config = fake.provider_config(token_store=store, access_token="stale")
    provider = TraktProvider(logger=LOG, config=config)
    await provider.initialize()
    assert provider.tokens.access_token == saved["access_token"]
    await provider.close()

    only_refresh = fake.provider_config()
    only_refresh.pop("access_token")
    provider = TraktProvider(logger=LOG, config=only_refresh)
    await provider.initialize()
    assert provider.account().key == fake.username
    await provider.close()


async def test_a_refused_refresh_is_an_auth_failure(fake):
    config = fake.provider_config(refresh_token="rt-unknown")
    provider = TraktProvider(logger=LOG, config=config)
    fake.revoke(config["access_token"])
    with pytest.raises(HttpError) as info:
        await provider.initialize()
    assert info.value.code is WriteError.AUTH
    assert "rt-unknown" not in str(info.value)
    await provider.close()


async def test_secrets_never_reach_logs(fake, caplog):
    caplog.set_level(logging.DEBUG)
    config = fake.provider_config()
    provider = TraktProvider(logger=LOG, config=config)
    await provider.initialize()
    fake.revoke(config["access_token"])
    await provider.fetch_event_summaries(EventSummaryQuery())
    await provider.close()
    for secret in (config["access_token"], fake.client_secret):
        assert secret not in caplog.text


async def test_a_refused_early_renewal_still_tries_the_token_it_has(fake):
    config = fake.provider_config(
        expires_at=time.time() - 10, refresh_token="rt-unknown"
    )
    provider = TraktProvider(logger=LOG, config=config)
    await provider.initialize()  # the token itself was still good
    assert provider.tokens.access_token == config["access_token"]
    assert [r.status for r in fake.requests[:2]] == [401, 200]
    await provider.close()
