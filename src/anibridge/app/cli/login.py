"""`anibridge login <provider>`: first sign-in for every provider that has one.

`anibridge login trakt` runs Trakt's device-code flow and `anibridge login simkl`
Simkl's PIN flow: each prints a short code and a URL, polls at the interval the
service asks for. `anibridge login plex` does the same with a plex.tv PIN.
`anibridge login anilist` opens AniList's authorize page (implicit grant) and takes
the token pasted back; `anibridge login mal` runs OAuth2 with PKCE, receiving the
redirect on a one-shot loopback server when the registered redirect URL is this
machine's, or pasted. `anibridge login kitsu` exchanges a Kitsu username and
password (asked for, or from ``KITSU_USERNAME``/``KITSU_PASSWORD``) for tokens
once; the password is never stored.

New tokens are tried first (the provider signs in with them, nothing else is
touched), then saved in the encrypted token store under the profile and provider
key the sync reads them from: every profile whose source or target is that
provider, or only `--profile`. A failed login leaves earlier tokens as they were.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anibridge.app.cli import app
from anibridge.app.cli._common import fail, load, print_json, run_async

if TYPE_CHECKING:
    from rich.console import Console

    from anibridge.app.config import LoadedConfig, ProviderSpec
    from anibridge.providers.mal.login import MalLogin

__all__ = ["login_app"]

login_app = typer.Typer(
    rich_markup_mode=None, help="Sign in to a provider (OAuth).", no_args_is_help=True
)
app.add_typer(login_app, name="login")

_Config = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="anibridge.yaml (default: $ANIBRIDGE_CONFIG)"),
]
_Profile = Annotated[
    str | None,
    typer.Option("--profile", "-p", help="Only this profile (default: every one)."),
]
_Json = Annotated[bool, typer.Option("--json", help="Print JSON only on stdout.")]

_Browser = Annotated[
    bool,
    typer.Option(
        "--browser/--no-browser",
        help="Open the sign-in page in a browser (only when run on a terminal).",
    ),
]


def _open(url: str, browser: bool) -> None:
    """Open `url` for the user, only when a person is at a terminal to use it."""
    import sys
    import webbrowser

    if browser and sys.stdin.isatty():
        try:
            webbrowser.open(url)
        except Exception:  # no browser: the address is printed anyway
            return


def provider_targets(
    config: LoadedConfig, profile: str | None, kind: str, display: str, hint: str
) -> list[tuple[str, ProviderSpec]]:
    """Every (profile, provider spec) of type `kind`, optionally one profile's.

    Raises:
        typer.Exit: no such provider is configured there.
    """
    if profile is not None:
        name, chosen = config.profile(profile)
        profiles = {name: chosen}
    else:
        profiles = dict(config.app.profiles)
    found = [
        (name, spec)
        for name, prof in profiles.items()
        for spec in (prof.source, prof.target)
        if spec.type == kind
    ]
    if not found:
        where = f"profile {profile!r}" if profile else str(config.path)
        raise fail(
            f"no {display} provider is configured in {where}; add one with "
            f"`type: {kind}` and {hint}"
        )
    return found


def trakt_targets(
    config: LoadedConfig, profile: str | None
) -> list[tuple[str, ProviderSpec]]:
    """Every (profile, provider spec) of type ``trakt``, optionally one profile's."""
    return provider_targets(
        config, profile, "trakt", "Trakt", "its client_id/client_secret"
    )


def _one_app(
    targets: list[tuple[str, ProviderSpec]], display: str, *keys: str
) -> tuple[str, ProviderSpec]:
    """The single app the targets share (`keys` of their config must agree).

    Raises:
        typer.Exit: several apps are configured.
    """
    apps = {tuple(t.config.get(k) for k in keys) for _, t in targets}
    if len(apps) > 1:
        raise fail(
            f"several {display} apps/accounts ({'/'.join(keys)}) are configured; "
            "sign in to one at a time with --profile"
        )
    return targets[0]


class _Trial:
    """An in-memory token store holding the new tokens while they are tried.

    What the provider saves meanwhile (a refresh) is kept and saved afterwards.
    """

    def __init__(self, key: str, tokens: dict[str, object]) -> None:
        self.saved: dict[str, dict[str, object]] = {key: dict(tokens)}

    async def load(self, key: str) -> dict[str, object] | None:
        return self.saved.get(key)

    async def save(self, key: str, tokens: dict[str, object]) -> None:
        self.saved[key] = dict(tokens)


async def _save_and_check(
    provider: str,
    config: LoadedConfig,
    targets: list[tuple[str, ProviderSpec]],
    token_key: str,
    tokens: dict[str, object],
    errors: tuple[type[BaseException], ...],
    display: str,
) -> dict[str, object]:
    """Sign in with the new tokens; only when that works, save them for every target.

    Every ``login`` command ends here, so they all report the same result shape.

    Returns:
        The command's result: ``provider``, the account's key (``account``) and
        name (``account_name``), and the profile/provider keys the tokens were
        saved for (``saved_for``).

    Raises:
        typer.Exit: the new tokens do not work (nothing is saved).
    """
    from anibridge.app.config import build_provider
    from anibridge.store import SqlStore, TokenStore, load_secret_key

    name, spec = targets[0]
    trial = _Trial(token_key, tokens)
    check = build_provider(
        spec,
        where=f"profiles.{name}.{spec.key}",
        base_dir=config.base_dir,
        token_store=trial,
    )
    try:
        await check.initialize()
        account = check.account()
    except (*errors, ValueError) as exc:
        raise fail(f"the new {display} tokens do not work: {exc}") from None
    finally:
        await check.close()
    store = SqlStore(config.store_url)
    try:
        key = load_secret_key(config.data_dir)
        saved: list[str] = []
        for profile_name, target in targets:
            tokens_store = TokenStore(
                store, key, namespace=f"{profile_name}/{target.key}"
            )
            await tokens_store.save(token_key, trial.saved[token_key])
            saved.append(f"{profile_name}/{target.key}")
    finally:
        store.close()
    return {
        "provider": provider,
        "account": None if account is None else account.key,
        "account_name": None if account is None else account.title,
        "saved_for": saved,
    }


async def _login_trakt(
    config: LoadedConfig, profile: str | None, *, quiet: bool, browser: bool = False
) -> dict[str, object]:
    from anibridge.app.cli._common import err_console, out_console
    from anibridge.app.config import build_provider
    from anibridge.http import SYSTEM_CLOCK, HttpClient, HttpError
    from anibridge.providers.trakt import (
        TraktAuthError,
        TraktProvider,
        poll_device_login,
        start_device_login,
    )
    from anibridge.providers.trakt.api import API_VERSION

    targets = trakt_targets(config, profile)
    name, spec = _one_app(targets, "Trakt", "client_id", "base_url")
    provider = build_provider(
        spec, where=f"profiles.{name}.{spec.key}", base_dir=config.base_dir
    )
    if not isinstance(provider, TraktProvider):
        raise fail(f"profiles.{name}.{spec.key}: 'trakt' is not the Trakt provider")
    settings = provider.settings
    if not settings.client_secret:
        raise fail(
            f"profiles.{name}.{spec.key}.config.client_secret is needed to sign in "
            "(create an app at https://trakt.tv/oauth/applications)"
        )
    clock = settings.clock or SYSTEM_CLOCK
    client = HttpClient(
        name="trakt-oauth",
        base_url=settings.base_url,
        headers={"trakt-api-version": API_VERSION, "trakt-api-key": settings.client_id},
        clock=clock,
        timeout=settings.timeout,
        secrets=[settings.client_secret],
        logger=logging.getLogger("anibridge.providers.trakt"),
    )
    console = err_console if quiet else out_console  # --json: stdout stays JSON
    try:
        code = await start_device_login(client, settings.client_id)
        console.print(
            f"Open {code.verification_url} and enter the code {code.user_code} "
            f"(valid for {int(code.expires_in // 60)} minutes). Waiting…",
            soft_wrap=True,
        )
        _open(code.verification_url, browser)
        tokens = await poll_device_login(
            client,
            code,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            clock=clock,
        )
    except (TraktAuthError, HttpError) as exc:
        raise fail(str(exc)) from None
    finally:
        await client.aclose()

    return await _save_and_check(
        "trakt",
        config, targets, settings.token_key, tokens.to_dict(),
        (TraktAuthError, HttpError), "Trakt",
    )  # fmt: skip


@login_app.command("trakt")
def login_trakt(
    config: _Config = None,
    profile: _Profile = None,
    browser: _Browser = True,
    as_json: _Json = False,
) -> None:
    """Sign in to Trakt with a device code and store the tokens (encrypted)."""
    loaded = load(config)
    result = run_async(
        lambda: _login_trakt(loaded, profile, quiet=as_json, browser=browser)
    )
    _done("Trakt", result, as_json)


def _done(display: str, result: dict[str, object], as_json: bool) -> None:
    from anibridge.app.cli._common import err_console

    if as_json:
        print_json(result)
        return
    from rich.text import Text

    saved = ", ".join(str(s) for s in result["saved_for"])  # type: ignore[union-attr]
    name, key = result.get("account_name"), result["account"]
    who = f"{name} ({key})" if name and str(name) != str(key) else str(key)
    err_console.print(
        Text.assemble(
            f"Signed in to {display} as ", (who, "bold"), f"; tokens saved for {saved}."
        )
    )


async def _login_simkl(
    config: LoadedConfig, profile: str | None, *, quiet: bool, browser: bool = False
) -> dict[str, object]:
    from anibridge.app.cli._common import err_console, out_console
    from anibridge.app.config import build_provider
    from anibridge.http import HttpClient, HttpError
    from anibridge.providers.simkl import (
        SimklAuthError,
        SimklProvider,
        poll_pin_login,
        start_pin_login,
    )
    from anibridge.providers.simkl.api import APP_NAME

    targets = provider_targets(
        config,
        profile,
        "simkl",
        "Simkl",
        "its client_id (simkl.com/settings/developer)",
    )
    name, spec = _one_app(targets, "Simkl", "client_id", "base_url")
    provider = build_provider(
        spec, where=f"profiles.{name}.{spec.key}", base_dir=config.base_dir
    )
    if not isinstance(provider, SimklProvider):
        raise fail(f"profiles.{name}.{spec.key}: 'simkl' is not the Simkl provider")
    settings = provider.settings
    client = HttpClient(
        name="simkl-pin",
        base_url=settings.base_url,
        headers={"simkl-api-key": settings.client_id},
        clock=settings.clock,
        timeout=settings.timeout,
        logger=logging.getLogger("anibridge.providers.simkl"),
    )
    app = {"app-name": APP_NAME, "app-version": settings.app_version}
    console = err_console if quiet else out_console  # --json: stdout stays JSON
    try:
        code = await start_pin_login(client, settings.client_id, app)
        console.print(
            f"Open {code.verification_url} and enter the code {code.user_code} "
            f"(valid for {int(code.expires_in // 60)} minutes). Waiting…",
            soft_wrap=True,
        )
        _open(code.verification_url, browser)
        token = await poll_pin_login(
            client, code, client_id=settings.client_id, clock=settings.clock, params=app
        )
    except (SimklAuthError, HttpError) as exc:
        raise fail(str(exc)) from None
    finally:
        await client.aclose()
    return await _save_and_check(
        "simkl",
        config, targets, settings.token_key, {"access_token": token},
        (SimklAuthError, HttpError), "Simkl",
    )  # fmt: skip


@login_app.command("simkl")
def login_simkl(
    config: _Config = None,
    profile: _Profile = None,
    browser: _Browser = True,
    as_json: _Json = False,
) -> None:
    """Sign in to Simkl with a PIN code and store the token (encrypted)."""
    loaded = load(config)
    result = run_async(
        lambda: _login_simkl(loaded, profile, quiet=as_json, browser=browser)
    )
    _done("Simkl", result, as_json)


async def _login_kitsu(
    config: LoadedConfig, profile: str | None, username: str, password: str
) -> dict[str, object]:
    from anibridge.app.config import build_provider
    from anibridge.http import HttpClient, HttpError
    from anibridge.providers.kitsu import KitsuAuthError, KitsuProvider, password_grant

    targets = provider_targets(
        config, profile, "kitsu", "Kitsu", "(optionally) its base_url"
    )
    name, spec = _one_app(targets, "Kitsu", "base_url", "token_url")
    provider = build_provider(
        spec, where=f"profiles.{name}.{spec.key}", base_dir=config.base_dir
    )
    if not isinstance(provider, KitsuProvider):
        raise fail(f"profiles.{name}.{spec.key}: 'kitsu' is not the Kitsu provider")
    await provider.close()
    settings = provider.settings
    client = HttpClient(
        name="kitsu-oauth",
        base_url=settings.token_url,
        clock=settings.clock,
        timeout=settings.timeout,
        secrets=[password],
        logger=logging.getLogger("anibridge.providers.kitsu"),
    )
    try:
        tokens = await password_grant(
            client,
            settings.token_url,
            username=username,
            password=password,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
        )
    except (KitsuAuthError, HttpError) as exc:
        raise fail(str(exc)) from None
    finally:
        await client.aclose()
    return await _save_and_check(
        "kitsu",
        config, targets, settings.token_key, tokens.to_dict(),
        (KitsuAuthError, HttpError), "Kitsu",
    )  # fmt: skip


@login_app.command("kitsu")
def login_kitsu(
    config: _Config = None,
    profile: _Profile = None,
    username: Annotated[
        str,
        typer.Option(
            "--username", envvar="KITSU_USERNAME", prompt="Kitsu username or e-mail"
        ),
    ] = "",
    password: Annotated[
        str,
        typer.Option(
            "--password",
            envvar="KITSU_PASSWORD",
            prompt="Kitsu password",
            hide_input=True,
            help="Better left to the prompt or KITSU_PASSWORD than the command line.",
        ),
    ] = "",
    as_json: _Json = False,
) -> None:
    """Sign in to Kitsu once with your password; only the tokens are kept."""
    loaded = load(config)
    result = run_async(lambda: _login_kitsu(loaded, profile, username, password))
    _done("Kitsu", result, as_json)


# -- shared by the browser sign-ins ---------------------------------------------------


def _read(console: Console, prompt: str, what: str) -> str:
    """One line from the user: hidden on a terminal, plain from a pipe.

    Raises:
        typer.Exit: the input ended before a line was given.
    """
    import sys

    if sys.stdin.isatty():
        return typer.prompt(
            prompt, hide_input=True, default="", show_default=False, err=True
        )
    console.print(f"{prompt}:", soft_wrap=True)
    line = sys.stdin.readline()
    if not line:
        raise fail(f"no {what} was given (the input ended); run the login again")
    return line


def _config_token_note(console: Console, spec: ProviderSpec, where: str) -> None:
    """Warn when the config's own token would be used instead of the saved one."""
    if spec.config.get("token"):
        console.print(
            f"note: {where}.config sets 'token', which is used instead of the one "
            "saved now; remove it to use this sign-in.",
            style="yellow",
            soft_wrap=True,
        )


# -- AniList --------------------------------------------------------------------------


async def _login_anilist(
    config: LoadedConfig,
    profile: str | None,
    *,
    quiet: bool,
    client_id: str | None,
    browser: bool,
) -> dict[str, object]:
    from anibridge.app.cli._common import err_console, out_console
    from anibridge.app.config import build_provider
    from anibridge.http import HttpError
    from anibridge.providers.anilist.login import (
        AUTHORIZE_URL,
        PIN_REDIRECT_URL,
        AniListLoginError,
        authorize_url,
        token_from_paste,
    )

    targets = provider_targets(
        config, profile, "anilist", "AniList", "(for signing in) its client_id"
    )
    name, spec = _one_app(targets, "AniList", "client_id", "base_url")
    where = f"profiles.{name}.{spec.key}"
    provider = build_provider(spec, where=where, base_dir=config.base_dir)
    await provider.close()
    cfg = provider.config
    client_id = client_id or str(cfg.get("client_id") or "")
    if not client_id:
        raise fail(
            "anilist: signing in needs your AniList API client id: create a client "
            f"at https://anilist.co/settings/developer with the redirect URL "
            f"{PIN_REDIRECT_URL}, then set client_id in {where}.config or pass "
            "--client-id"
        )
    console = err_console if quiet else out_console
    url = authorize_url(client_id, str(cfg.get("authorize_url") or AUTHORIZE_URL))
    console.print(
        f"Open {url} , sign in to AniList and choose Approve; AniList then shows a "
        "token to copy.",
        soft_wrap=True,
    )
    _config_token_note(console, spec, where)
    _open(url, browser)
    pasted = _read(console, "Paste the token (or the address you ended on)", "token")
    try:
        token = token_from_paste(pasted)
    except AniListLoginError as exc:
        raise fail(str(exc)) from None
    token_key = str(cfg.get("token_key") or "anilist")
    return await _save_and_check(
        "anilist", config, targets, token_key, {"token": token}, (HttpError,), "AniList"
    )


@login_app.command("anilist")
def login_anilist(
    config: _Config = None,
    profile: _Profile = None,
    client_id: Annotated[
        str | None,
        typer.Option("--client-id", help="Your AniList API client id (else config)."),
    ] = None,
    browser: _Browser = True,
    as_json: _Json = False,
) -> None:
    """Sign in to AniList in the browser and paste the token (stored encrypted)."""
    loaded = load(config)
    result = run_async(
        lambda: _login_anilist(
            loaded, profile, quiet=as_json, client_id=client_id, browser=browser
        )
    )
    _done("AniList", result, as_json)


# -- MyAnimeList ----------------------------------------------------------------------


async def _mal_redirect(
    login: MalLogin, console: Console, *, paste: bool, wait: float
) -> str:
    """The redirect address: from the loopback server when possible, else pasted."""
    import asyncio

    from anibridge.providers.mal.login import CallbackServer, loopback_address

    redirect_uri = login.redirect_uri
    where = None if paste else loopback_address(redirect_uri)
    server = None
    if where is not None:
        server = CallbackServer(*where)
        try:
            await server.start()
        except OSError as exc:
            console.print(
                f"Cannot listen on {where[0]}:{where[1]} ({exc.strerror or exc}); "
                "paste the address instead.",
                style="yellow",
                soft_wrap=True,
            )
            server = None
    if server is None:
        console.print(
            f"After Allow, the browser goes to {redirect_uri} (it may show an "
            "error page): copy that whole address from the address bar.",
            soft_wrap=True,
        )
        return _read(console, "Paste the address", "address")
    console.print(
        f"Waiting for the browser to come back to {redirect_uri} … (Ctrl-C to "
        "stop; --paste to paste the address instead)",
        soft_wrap=True,
    )
    try:
        return await asyncio.wait_for(server.wait(), wait)
    except TimeoutError:
        raise fail(
            f"mal: no sign-in arrived at {redirect_uri} within {int(wait // 60)} "
            "minutes; run `anibridge login mal` again (with --paste when the "
            "browser runs on another machine)"
        ) from None
    finally:
        await server.close()


async def _login_mal(
    config: LoadedConfig,
    profile: str | None,
    *,
    quiet: bool,
    paste: bool,
    browser: bool,
    wait: float,
) -> dict[str, object]:
    from anibridge.app.cli._common import err_console, out_console
    from anibridge.app.config import build_provider
    from anibridge.http import HttpClient, HttpError, clock_from_config
    from anibridge.providers.mal.login import (
        DEFAULT_REDIRECT_URI,
        MalLoginError,
        code_from_redirect,
        exchange_code,
        start_login,
    )
    from anibridge.providers.mal.provider import _authorize_url, _token_url

    targets = provider_targets(
        config,
        profile,
        "mal",
        "MyAnimeList",
        "its client_id (myanimelist.net/apiconfig)",
    )
    name, spec = _one_app(targets, "MyAnimeList", "client_id", "base_url")
    where = f"profiles.{name}.{spec.key}"
    provider = build_provider(spec, where=where, base_dir=config.base_dir)
    await provider.close()
    cfg = provider.config
    client_id = str(cfg.get("client_id") or "")
    redirect_uri = str(cfg.get("redirect_uri") or DEFAULT_REDIRECT_URI)
    if not client_id:
        raise fail(
            f"mal: set client_id in {where}.config first: create an API client at "
            f"https://myanimelist.net/apiconfig with the App Redirect URL "
            f"{redirect_uri}"
        )
    client_secret = str(cfg.get("client_secret") or "") or None
    console = err_console if quiet else out_console
    login = start_login(
        client_id, authorize_url=_authorize_url(cfg), redirect_uri=redirect_uri
    )
    console.print(
        f"Open {login.url} , sign in to MyAnimeList and choose Allow.", soft_wrap=True
    )
    _open(login.url, browser)
    redirected = await _mal_redirect(login, console, paste=paste, wait=wait)
    token_url = _token_url(cfg)
    client = HttpClient(
        name="mal-oauth",
        base_url=token_url,
        clock=clock_from_config(cfg),
        secrets=[client_secret or "", login.verifier],
        logger=logging.getLogger("anibridge.providers.mal"),
    )
    try:
        code = code_from_redirect(redirected, login.state)
        client.add_secret(code)
        tokens = await exchange_code(
            client, token_url, login, code,
            client_id=client_id, client_secret=client_secret,
        )  # fmt: skip
    except MalLoginError as exc:
        raise fail(str(exc)) from None
    finally:
        await client.aclose()
    token_key = str(cfg.get("token_key") or "mal")
    return await _save_and_check(
        "mal", config, targets, token_key, tokens.as_dict(), (HttpError,), "MyAnimeList"
    )


@login_app.command("mal")
def login_mal(
    config: _Config = None,
    profile: _Profile = None,
    paste: Annotated[
        bool,
        typer.Option(
            "--paste",
            help="Paste the address the browser ends on instead of receiving it "
            "(when the browser runs on another machine).",
        ),
    ] = False,
    wait: Annotated[
        float,
        typer.Option("--wait", help="Seconds to wait for the browser to come back."),
    ] = 600.0,
    browser: _Browser = True,
    as_json: _Json = False,
) -> None:
    """Sign in to MyAnimeList (OAuth2 with PKCE) and store the tokens (encrypted)."""
    loaded = load(config)
    result = run_async(
        lambda: _login_mal(
            loaded, profile, quiet=as_json, paste=paste, browser=browser, wait=wait
        )
    )
    _done("MyAnimeList", result, as_json)


# -- Plex -----------------------------------------------------------------------------


async def _login_plex(
    config: LoadedConfig, profile: str | None, *, quiet: bool, browser: bool
) -> dict[str, object]:
    from anibridge.app.cli._common import err_console, out_console
    from anibridge.app.config import build_provider
    from anibridge.http import SYSTEM_CLOCK, HttpClient, HttpError
    from anibridge.providers.plex import PlexProvider
    from anibridge.providers.plex.client import plex_headers
    from anibridge.providers.plex.login import (
        AUTH_APP_URL,
        PlexLoginError,
        auth_app_url,
        create_pin,
        poll_pin,
    )

    targets = provider_targets(config, profile, "plex", "Plex", "its base_url")
    name, spec = _one_app(targets, "Plex", "base_url", "plex_tv_url")
    where = f"profiles.{name}.{spec.key}"
    provider = build_provider(
        spec, where=where, base_dir=config.base_dir, token_store=_Trial("plex", {})
    )
    await provider.close()
    if not isinstance(provider, PlexProvider):
        raise fail(f"{where}: 'plex' is not the Plex provider")
    cfg = provider.config
    console = err_console if quiet else out_console
    clock = provider.settings.clock or SYSTEM_CLOCK
    client = HttpClient(
        name="plex.tv-pin",
        base_url=provider.plex_tv_url,
        headers=plex_headers(provider.client_identifier),
        clock=clock,
        logger=logging.getLogger("anibridge.providers.plex"),
    )
    try:
        pin = await create_pin(client)
        url = auth_app_url(
            pin, provider.client_identifier, str(cfg.get("auth_url") or AUTH_APP_URL)
        )
        console.print(
            f"Open {url} and sign in to Plex (the link expires in "
            f"{max(1, int(pin.expires_in // 60))} minutes). Waiting…",
            soft_wrap=True,
        )
        _config_token_note(console, spec, where)
        _open(url, browser)
        token = await poll_pin(client, pin, clock=clock)
    except PlexLoginError as exc:
        raise fail(str(exc)) from None
    finally:
        await client.aclose()
    token_key = str(cfg.get("token_key") or "plex")
    return await _save_and_check(
        "plex", config, targets, token_key, {"token": token}, (HttpError,), "Plex"
    )


@login_app.command("plex")
def login_plex(
    config: _Config = None,
    profile: _Profile = None,
    browser: _Browser = True,
    as_json: _Json = False,
) -> None:
    """Sign in to Plex with a plex.tv PIN and store the token (encrypted)."""
    loaded = load(config)
    result = run_async(
        lambda: _login_plex(loaded, profile, quiet=as_json, browser=browser)
    )
    _done("Plex", result, as_json)
