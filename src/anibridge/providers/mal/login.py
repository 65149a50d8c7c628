"""MyAnimeList sign-in: OAuth2 authorization code with PKCE.

MAL supports only the ``plain`` code-challenge method, so the challenge *is* the
verifier (43-128 unreserved characters); it never leaves this process except in the
authorize URL and the token request. ``state`` ties the redirect to this login: a
redirect with another state (an old tab, a forged link) is refused. The redirect
reaches AniBridge either through a one-shot HTTP server on the loopback address of
the registered redirect URL, or pasted by the user when no such server can run.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from anibridge.dates import utcnow
from anibridge.http import HttpClient, HttpError
from anibridge.providers.mal.auth import MalTokens

__all__ = [
    "DEFAULT_REDIRECT_URI",
    "CallbackServer",
    "MalLogin",
    "MalLoginError",
    "code_from_redirect",
    "exchange_code",
    "loopback_address",
    "start_login",
]

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class MalLoginError(ValueError):
    """The sign-in could not finish; one line saying why and what to do."""


@dataclass(frozen=True, slots=True)
class MalLogin:
    """One sign-in attempt: what to open and what the redirect must carry."""

    url: str
    state: str
    verifier: str
    redirect_uri: str


def start_login(
    client_id: str, *, authorize_url: str, redirect_uri: str = DEFAULT_REDIRECT_URI
) -> MalLogin:
    """A fresh verifier and state, and the authorize URL that carries them."""
    verifier = secrets.token_urlsafe(96)[:128]  # URL-safe base64 is unreserved
    state = secrets.token_urlsafe(16)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "code_challenge": verifier,  # `plain`: the challenge is the verifier
            "code_challenge_method": "plain",
            "state": state,
            "redirect_uri": redirect_uri,
        }
    )
    return MalLogin(f"{authorize_url}?{query}", state, verifier, redirect_uri)


def code_from_redirect(text: str, state: str) -> str:
    """The authorization code in the redirect address, checked against `state`.

    Raises:
        MalLoginError: the user denied access, the address is not a redirect, has
            no code, or belongs to another login (state).
    """
    text = text.strip().strip("'\"")
    parts = urlsplit(text)
    params = parse_qs(parts.query)
    if not text or (not parts.query and "code=" not in text):
        raise MalLoginError(
            "mal: that is not the address MAL sent you to; paste the whole "
            "address from the browser's bar after you chose Allow (it contains "
            "?code=…&state=…)"
        )
    if "error" in params:
        why = (params.get("message") or params.get("hint") or params["error"])[0]
        raise MalLoginError(
            f"mal: MyAnimeList did not authorize AniBridge ({why}); run "
            "`anibridge login mal` again and choose Allow"
        )
    if params.get("state", [""])[0] != state:
        raise MalLoginError(
            "mal: the redirect belongs to another sign-in (its state does not "
            "match); run `anibridge login mal` again and use the new link"
        )
    code = params.get("code", [""])[0].strip()
    if not code:
        raise MalLoginError(
            "mal: the address has no authorization code; paste the whole address "
            "from the browser's bar after you chose Allow"
        )
    return code


async def exchange_code(
    client: HttpClient,
    token_url: str,
    login: MalLogin,
    code: str,
    *,
    client_id: str,
    client_secret: str | None,
) -> MalTokens:
    """Trade the code (and the verifier) for tokens.

    Raises:
        MalLoginError: MAL refused the code (expired, used, wrong client or
            verifier) or answered without tokens.
    """
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "code_verifier": login.verifier,
        "redirect_uri": login.redirect_uri,
    }
    if client_secret:
        form["client_secret"] = client_secret
    try:
        response = await client.post(token_url, data=form)
    except HttpError as exc:
        if exc.status in (400, 401):
            raise MalLoginError(
                f"mal: MyAnimeList refused the authorization code ({exc.status}): "
                "it may have expired or been used, or client_id/client_secret do "
                "not match the app; run `anibridge login mal` again"
            ) from None
        raise
    try:
        body = response.json()
        access, refresh = str(body["access_token"]), str(body["refresh_token"])
        expires_in = float(body.get("expires_in") or 0)
    except (ValueError, KeyError, TypeError):
        raise MalLoginError("mal: the token endpoint answered without tokens") from None
    client.add_secret(access)
    client.add_secret(refresh)
    expires = utcnow().timestamp() + expires_in if expires_in else None
    return MalTokens(access, refresh, expires)


def loopback_address(redirect_uri: str) -> tuple[str, int, str] | None:
    """Host, port and path to listen on when the redirect URL is this machine's.

    None when it is not a plain-HTTP loopback URL (then the user pastes it).
    """
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or parts.hostname not in _LOOPBACK:
        return None
    return parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"


_PAGE = (
    "<!doctype html><meta charset=utf-8><title>AniBridge</title>"
    "<p>{}</p><p>You can close this tab and go back to the terminal.</p>"
)


class CallbackServer:
    """A one-shot HTTP server that receives the browser's redirect.

    It answers only GETs to its path and keeps the first one that carries a code
    or an error; everything else gets 404, so a stray request cannot end the login.
    """

    def __init__(self, host: str, port: int, path: str) -> None:
        """Listen on `host`:`port` for `path` (call `start`)."""
        self.host, self.port, self.path = host.strip("[]"), port, path
        self._server: asyncio.Server | None = None
        self._result: asyncio.Future[str] | None = None

    async def start(self) -> None:
        """Bind the socket.

        Raises:
            OSError: the port is taken or the address cannot be bound.
        """
        self._result = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._handle, self.host, self.port)

    async def wait(self) -> str:
        """The full redirect URL, once the browser arrives."""
        assert self._result is not None
        return await self._result

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            line = (await asyncio.wait_for(reader.readline(), 10)).decode("latin-1")
            while (await asyncio.wait_for(reader.readline(), 10)) not in (
                b"\r\n",
                b"\n",
                b"",
            ):
                pass
            method, target = [*line.split(" "), "", ""][:2]
            parts = urlsplit(target)
            params = parse_qs(parts.query)
            done = self._result is not None and not self._result.done()
            if (
                method != "GET"
                or parts.path != self.path
                or not ("code" in params or "error" in params)
            ):
                await self._answer(writer, 404, "Not the AniBridge sign-in address.")
                return
            if done and self._result is not None:
                url = f"http://{self.host}:{self.port}{target}"
                self._result.set_result(url)
            ok = "error" not in params
            await self._answer(
                writer,
                200,
                "AniBridge received the sign-in." if ok else "The sign-in was denied.",
            )
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, status: int, text: str) -> None:
        body = _PAGE.format(text).encode()
        reason = "OK" if status == 200 else "Not Found"
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
