"""AniList sign-in: the implicit grant ("token/PIN" flow) for apps without a server.

The user opens ``/api/v2/oauth/authorize?client_id=…&response_type=token`` and
approves; AniList then sends the browser to the app's redirect URL with the token in
the fragment (``#access_token=…&token_type=Bearer&expires_in=…``). With the redirect
URL ``https://anilist.co/api/v2/oauth/pin`` AniList shows the token to copy instead.
Either the token or the whole address it was sent to may be pasted. Tokens last a
year and cannot be refreshed: a rejected one needs a new login.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = [
    "AUTHORIZE_URL",
    "PIN_REDIRECT_URL",
    "AniListLoginError",
    "authorize_url",
    "token_from_paste",
]

AUTHORIZE_URL = "https://anilist.co/api/v2/oauth/authorize"
#: The redirect URL to register for the client so AniList shows the token.
PIN_REDIRECT_URL = "https://anilist.co/api/v2/oauth/pin"


class AniListLoginError(ValueError):
    """The sign-in could not finish; one line saying why and what to do."""


def authorize_url(client_id: str, base: str = AUTHORIZE_URL) -> str:
    """The page where the user approves AniBridge (implicit grant)."""
    query = urlencode({"client_id": client_id, "response_type": "token"})
    return f"{base}?{query}"


def token_from_paste(text: str) -> str:
    """The access token in what the user pasted: the token, or the redirect address.

    Raises:
        AniListLoginError: nothing usable was pasted (empty, an error redirect, an
            address without a token, or text that cannot be a token).
    """
    text = text.strip().strip("'\"")
    if not text:
        raise AniListLoginError(
            "anilist: nothing was pasted; copy the token AniList shows after you "
            "approve (or the whole address you were sent to)"
        )
    if "://" in text or text.startswith(("#", "?")) or "=" in text:
        if "://" in text:
            parts = urlsplit(text)
            params = {**parse_qs(parts.query), **parse_qs(parts.fragment)}
        else:
            params = parse_qs(text.lstrip("#?"))
        if "error" in params:
            why = (params.get("error_description") or params["error"])[0]
            raise AniListLoginError(
                f"anilist: AniList did not authorize AniBridge ({why}); run "
                "`anibridge login anilist` again and choose Approve"
            )
        tokens = params.get("access_token")
        if not tokens or not tokens[0].strip():
            raise AniListLoginError(
                "anilist: the pasted address has no access_token; paste the token "
                "AniList shows, or the address the browser ended on after Approve"
            )
        text = tokens[0].strip()
    if any(c.isspace() for c in text) or len(text) < 20:
        raise AniListLoginError(
            "anilist: that does not look like an AniList token (a long string "
            "without spaces); copy it again from the page AniList shows"
        )
    return text
