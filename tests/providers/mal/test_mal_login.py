"""MAL's PKCE sign-in pieces: verifier, redirect checks, the loopback server."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from anibridge.providers.mal.login import (
    CallbackServer,
    MalLoginError,
    code_from_redirect,
    loopback_address,
    start_login,
)


def test_the_plain_challenge_is_the_verifier_and_fresh_each_time():
    one = start_login(
        "cid", authorize_url="https://m/a", redirect_uri="http://127.0.0.1:1/cb"
    )
    two = start_login("cid", authorize_url="https://m/a")
    query = {k: v[0] for k, v in parse_qs(urlsplit(one.url).query).items()}
    assert query == {
        "response_type": "code", "client_id": "cid", "code_challenge": one.verifier,
        "code_challenge_method": "plain", "state": one.state,
        "redirect_uri": "http://127.0.0.1:1/cb",
    }  # fmt: skip
    assert 43 <= len(one.verifier) <= 128
    assert re.fullmatch(r"[A-Za-z0-9\-._~]+", one.verifier)
    assert (one.verifier, one.state) != (two.verifier, two.state)


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        ("http://127.0.0.1:8765/callback?code=abc&state=s1", None),
        ("  'http://x/cb?state=s1&code=abc'  ", None),
        ("http://x/cb?error=access_denied&message=no&state=s1", "did not authorize"),
        ("http://x/cb?code=abc&state=s2", "another sign-in"),
        ("http://x/cb?code=abc", "another sign-in"),
        ("http://x/cb?state=s1", "no authorization code"),
        ("abc", "not the address MAL sent you to"),
        ("", "not the address MAL sent you to"),
    ],
)
def test_code_from_redirect(pasted, message):
    if message is None:
        assert code_from_redirect(pasted, "s1") == "abc"
    else:
        with pytest.raises(MalLoginError, match=message):
            code_from_redirect(pasted, "s1")


def test_only_loopback_http_redirects_get_a_server():
    assert loopback_address("http://127.0.0.1:8765/callback") == (
        "127.0.0.1", 8765, "/callback")  # fmt: skip
    assert loopback_address("http://localhost/cb") == ("localhost", 80, "/cb")
    assert loopback_address("https://127.0.0.1:8765/cb") is None
    assert loopback_address("http://example.org/cb") is None


async def test_the_callback_server_keeps_the_first_real_redirect():
    server = CallbackServer("127.0.0.1", 0, "/callback")
    await server.start()
    port = server._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.port = port
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{base}/callback")).status_code == 404  # no code
        assert (await http.get(f"{base}/other?code=x")).status_code == 404
        assert (await http.post(f"{base}/callback?code=x")).status_code == 404
        ok = await http.get(f"{base}/callback?code=c1&state=s")
        assert ok.status_code == 200 and "received" in ok.text
        again = await http.get(f"{base}/callback?code=c2&state=s")
        assert again.status_code == 200
    url = await asyncio.wait_for(server.wait(), 5)
    assert url == f"{base}/callback?code=c1&state=s"
    await server.close()
