"""What a person may paste after approving AniBridge on AniList."""

from __future__ import annotations

import pytest

from anibridge.providers.anilist.login import (
    AniListLoginError,
    authorize_url,
    token_from_paste,
)

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.payload.signature"


def test_authorize_url_asks_for_a_token():
    assert authorize_url("4242") == (
        "https://anilist.co/api/v2/oauth/authorize?client_id=4242&response_type=token"
    )


@pytest.mark.parametrize(
    "pasted",
    [
        TOKEN,
        f"  {TOKEN}\n",
        f"https://anilist.co/api/v2/oauth/pin#access_token={TOKEN}&token_type=Bearer"
        "&expires_in=31536000",
        f"#access_token={TOKEN}&token_type=Bearer",
        f"http://localhost/cb?access_token={TOKEN}",
    ],
)
def test_the_token_or_the_address_it_came_in(pasted):
    assert token_from_paste(pasted) == TOKEN


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        ("", "nothing was pasted"),
        ("https://anilist.co/api/v2/oauth/pin?error=access_denied"
         "&error_description=The+user+denied+the+request",
         r"did not authorize AniBridge \(The user denied the request\)"),
        ("https://anilist.co/api/v2/oauth/pin", "has no access_token"),
        ("short", "does not look like an AniList token"),
        ("a token with spaces in it, long enough", "does not look like"),
    ],
)  # fmt: skip
def test_what_cannot_be_a_token_is_one_line(pasted, message):
    with pytest.raises(AniListLoginError, match=message) as err:
        token_from_paste(pasted)
    assert "\n" not in str(err.value)
