"""`anibridge login <provider>`: first sign-in for providers that use OAuth.

`anibridge login trakt` runs Trakt's device-code flow and `anibridge login simkl`
Simkl's PIN flow: each prints a short code and a URL, polls at the interval the
service asks for, and saves the tokens in the encrypted token store under the
profile and provider key the sync will read them from (every profile whose source
or target is that provider, or only `--profile`). Trakt renews its tokens itself
afterwards; Simkl's do not expire. `anibridge login kitsu` exchanges a Kitsu
username and password (asked for, or from ``KITSU_USERNAME``/``KITSU_PASSWORD``) for
tokens once; the password is never stored.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anibridge.app.cli import app
from anibridge.app.cli._common import fail, load, print_json, run_async

if TYPE_CHECKING:
    from anibridge.app.config import LoadedConfig, ProviderSpec

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


async def _save_and_check(
    config: LoadedConfig,
    targets: list[tuple[str, ProviderSpec]],
    token_key: str,
    tokens: dict[str, object],
    errors: tuple[type[BaseException], ...],
    display: str,
) -> tuple[str | None, list[str]]:
    """Save `tokens` for every target, then prove they work by signing in.

    Returns:
        The account key and the profile/provider keys the tokens were saved for.

    Raises:
        typer.Exit: the new tokens do not work.
    """
    from anibridge.app.config import build_provider
    from anibridge.store import SqlStore, TokenStore, load_secret_key

    name, spec = targets[0]
    store = SqlStore(config.store_url)
    try:
        key = load_secret_key(config.data_dir)
        saved: list[str] = []
        for profile_name, target in targets:
            tokens_store = TokenStore(
                store, key, namespace=f"{profile_name}/{target.key}"
            )
            await tokens_store.save(token_key, dict(tokens))
            saved.append(f"{profile_name}/{target.key}")
        check = build_provider(
            spec,
            where=f"profiles.{name}.{spec.key}",
            base_dir=config.base_dir,
            token_store=TokenStore(store, key, namespace=f"{name}/{spec.key}"),
        )
        try:
            await check.initialize()
            account = check.account()
        except errors as exc:
            raise fail(f"the new {display} tokens do not work: {exc}") from None
        finally:
            await check.close()
    finally:
        store.close()
    return (account.key if account else None), saved


async def _login_trakt(
    config: LoadedConfig, profile: str | None, *, quiet: bool
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

    account, saved = await _save_and_check(
        config, targets, settings.token_key, tokens.to_dict(),
        (TraktAuthError, HttpError), "Trakt",
    )  # fmt: skip
    return {"provider": "trakt", "account": account, "saved_for": saved}


@login_app.command("trakt")
def login_trakt(
    config: _Config = None,
    profile: _Profile = None,
    as_json: _Json = False,
) -> None:
    """Sign in to Trakt with a device code and store the tokens (encrypted)."""
    loaded = load(config)
    result = run_async(lambda: _login_trakt(loaded, profile, quiet=as_json))
    _done("Trakt", result, as_json)


def _done(display: str, result: dict[str, object], as_json: bool) -> None:
    from anibridge.app.cli._common import err_console

    if as_json:
        print_json(result)
        return
    from rich.text import Text

    saved = ", ".join(str(s) for s in result["saved_for"])  # type: ignore[union-attr]
    err_console.print(
        Text.assemble(
            f"Signed in to {display} as ",
            (str(result["account"]), "bold"),
            f"; tokens saved for {saved}.",
        )
    )


async def _login_simkl(
    config: LoadedConfig, profile: str | None, *, quiet: bool
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
        token = await poll_pin_login(
            client, code, client_id=settings.client_id, clock=settings.clock, params=app
        )
    except (SimklAuthError, HttpError) as exc:
        raise fail(str(exc)) from None
    finally:
        await client.aclose()
    account, saved = await _save_and_check(
        config, targets, settings.token_key, {"access_token": token},
        (SimklAuthError, HttpError), "Simkl",
    )  # fmt: skip
    return {"provider": "simkl", "account": account, "saved_for": saved}


@login_app.command("simkl")
def login_simkl(
    config: _Config = None,
    profile: _Profile = None,
    as_json: _Json = False,
) -> None:
    """Sign in to Simkl with a PIN code and store the token (encrypted)."""
    loaded = load(config)
    result = run_async(lambda: _login_simkl(loaded, profile, quiet=as_json))
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
    account, saved = await _save_and_check(
        config, targets, settings.token_key, tokens.to_dict(),
        (KitsuAuthError, HttpError), "Kitsu",
    )  # fmt: skip
    return {"provider": "kitsu", "account": account, "saved_for": saved}


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
