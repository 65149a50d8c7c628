"""`anibridge init`: write a commented config for the providers you use.

Without a path it writes to the user's config folder (``$ANIBRIDGE_CONFIG`` when
set), never to the current directory unasked, and prints where. The providers come
from ``--with`` or, on a terminal, from two questions; the sections list every key
each provider reads (see `anibridge.app.config.setup`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from anibridge.app.cli import app
from anibridge.app.cli._common import fail


def _ask(servers: list[str], trackers: list[str]) -> list[str]:
    """Two questions on the terminal: where you watch, what follows it.

    Unknown names are asked again (a typo should not end the setup).
    """
    typer.echo("Which providers should AniBridge connect? (`anibridge providers`)")
    while True:
        source = typer.prompt(
            f"Where do you watch? ({', '.join([*servers, 'none'])})",
            default="plex" if "plex" in servers else "none",
        ).strip()
        if source.lower() in (*servers, "none"):
            break
        typer.echo(f"Unknown: {source}; try again.")
    while True:
        answer = typer.prompt(
            f"Which trackers should be kept in sync? (comma-separated: "
            f"{', '.join(trackers)})",
            default=trackers[0] if trackers else "",
        )
        follow = [n.strip().lower() for n in answer.replace(" ", ",").split(",")]
        follow = [n for n in follow if n]
        unknown = [n for n in follow if n not in trackers]
        if follow and not unknown:
            break
        typer.echo(f"Unknown: {', '.join(unknown) or '(none given)'}; try again.")
    chosen = [] if source.lower() == "none" else [source.lower()]
    return [*chosen, *follow]


@app.command()
def init(
    path: Path | None = typer.Argument(  # noqa: B008
        None,
        help="Where to write it (default: $ANIBRIDGE_CONFIG, else anibridge.yaml in "
        "your config folder).",
        show_default=False,
    ),
    with_: str | None = typer.Option(
        None,
        "--with",
        help="Providers to set up, e.g. plex,anilist (media servers become sources, "
        "trackers targets).",
        show_default=False,
    ),
    interactive: bool | None = typer.Option(
        None,
        "--interactive/--no-interactive",
        help="Ask which providers to use (default: when run on a terminal).",
        show_default=False,
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented anibridge.yaml with a section for each chosen provider."""
    from anibridge.app.config.setup import (
        SetupError,
        build_config,
        default_data_dir,
        default_init_path,
        provider_info,
    )
    from anibridge.app.config.template import TEMPLATE

    target = path if path is not None else default_init_path()
    if target.exists() and not force:
        raise fail(f"{target} already exists; use --force to overwrite it")
    names: list[str] = []
    if with_ is not None:
        names = [n for n in with_.split(",") if n.strip()]
    elif interactive or (interactive is None and sys.stdin.isatty()):
        from anibridge.app.config import available_providers

        infos = [provider_info(n) for n in sorted(available_providers())]
        names = _ask(
            [i.name for i in infos if i.server and not i.error],
            [i.name for i in infos if not i.server and not i.error],
        )
    # In the user's folders the store belongs with the user's data; next to a
    # config the user placed themselves, in a `data` folder beside it.
    in_user_dir = path is None and target == _user_default()
    data_dir = str(default_data_dir()) if in_user_dir else "data"
    if names:
        try:
            text = build_config(names, data_dir=data_dir)
        except SetupError as exc:
            raise fail(str(exc)) from None
    else:
        text = TEMPLATE.replace("data_dir: data\n", f"data_dir: {data_dir}\n", 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    typer.echo(f"Wrote {target}")
    _next_steps(target, names, explicit=path is not None)


def _user_default() -> Path:
    from anibridge.app.config.setup import user_config_path

    return user_config_path()


def _next_steps(target: Path, names: list[str], *, explicit: bool) -> None:
    from anibridge.app.config.setup import provider_info

    config = f" --config {target}" if explicit else ""
    if not names:
        typer.echo(
            "It syncs two empty local files until you choose providers: edit it, or "
            "run `anibridge init --with plex,anilist --force` (see `anibridge "
            "providers`)."
        )
        return
    typer.echo("Next:")
    typer.echo(f"  1. check base_url and the keys marked required in {target}")
    step = 2
    for name in dict.fromkeys(n.strip().lower() for n in names):
        info = provider_info(name)
        if "anibridge login" in info.sign_in:
            typer.echo(f"  {step}. anibridge login {name}{config}")
            step += 1
    typer.echo(f"  {step}. anibridge check{config}  (reach, sign-in, counts)")
    typer.echo(
        f"  {step + 1}. anibridge plan{config}   (a preview; nothing is written)"
    )
