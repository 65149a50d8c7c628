"""`anibridge login <provider>`: first sign-in for providers that use OAuth.

`anibridge login trakt` runs Trakt's device-code flow: it prints a short code and a
URL, polls at the interval Trakt asks for, and saves the tokens in the encrypted token
store under the profile and provider key the sync will read them from (every profile
whose source or target is that Trakt provider, or only `--profile`). The provider
renews them itself afterwards with the refresh token.
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

login_app = typer.Typer(help="Sign in to a provider (OAuth).", no_args_is_help=True)
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


def trakt_targets(
    config: LoadedConfig, profile: str | None
) -> list[tuple[str, ProviderSpec]]:
    """Every (profile, provider spec) of type ``trakt``, optionally one profile's.

    Raises:
        typer.Exit: no Trakt provider is configured there.
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
        if spec.type == "trakt"
    ]
    if not found:
        where = f"profile {profile!r}" if profile else str(config.path)
        raise fail(
            f"no Trakt provider is configured in {where}; add one with "
            "`type: trakt` and its client_id/client_secret"
        )
    return found


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
    from anibridge.store import SqlStore, TokenStore, load_secret_key

    targets = trakt_targets(config, profile)
    apps = {(t.config.get("client_id"), t.config.get("base_url")) for _, t in targets}
    if len(apps) > 1:
        raise fail(
            "several Trakt apps (client_id/base_url) are configured; sign in to one "
            "at a time with --profile"
        )
    name, spec = targets[0]
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

    store = SqlStore(config.store_url)
    try:
        key = load_secret_key(config.data_dir)
        saved: list[str] = []
        for profile_name, target in targets:
            tokens_store = TokenStore(
                store, key, namespace=f"{profile_name}/{target.key}"
            )
            await tokens_store.save(settings.token_key, tokens.to_dict())
            saved.append(f"{profile_name}/{target.key}")
        # Prove the tokens work: the provider reads them from the store it will use.
        check = build_provider(
            spec,
            where=f"profiles.{name}.{spec.key}",
            base_dir=config.base_dir,
            token_store=TokenStore(store, key, namespace=f"{name}/{spec.key}"),
        )
        try:
            await check.initialize()
            account = check.account()
        except (TraktAuthError, HttpError) as exc:
            raise fail(f"the new Trakt tokens do not work: {exc}") from None
        finally:
            await check.close()
    finally:
        store.close()
    return {
        "provider": "trakt",
        "account": account.key if account else None,
        "saved_for": saved,
    }


@login_app.command("trakt")
def login_trakt(
    config: _Config = None,
    profile: _Profile = None,
    as_json: _Json = False,
) -> None:
    """Sign in to Trakt with a device code and store the tokens (encrypted)."""
    from anibridge.app.cli._common import err_console

    loaded = load(config)
    result = run_async(lambda: _login_trakt(loaded, profile, quiet=as_json))
    if as_json:
        print_json(result)
        return
    err_console.print(
        f"Signed in to Trakt as [bold]{result['account']}[/]; tokens saved for "
        f"{', '.join(str(s) for s in result['saved_for'])}."  # type: ignore[union-attr]
    )
