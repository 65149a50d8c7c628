"""First-run setup: what each provider needs, and the config `anibridge init` writes.

The keys come from each provider class's ``CONFIG_KEYS`` (the same mapping its
settings parser checks, see `anibridge.provider.config_keys`), so a template can never
ask for a key the provider would refuse or leave out one it requires. Secrets are
written as ``{env: NAME}`` references or left to `anibridge login`, never as values.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anibridge.app.config.template import HEAD, PROFILE_OPTIONS, TEMPLATE
from anibridge.provider.config_keys import ConfigKey, describe_keys

__all__ = [
    "APP_NAME",
    "ProviderInfo",
    "SetupError",
    "build_config",
    "default_data_dir",
    "default_init_path",
    "provider_info",
    "untouched_message",
    "untouched_template",
    "user_config_path",
]

APP_NAME = "anibridge"
CONFIG_NAME = "anibridge.yaml"


class SetupError(ValueError):
    """The chosen providers cannot make a config; one line saying why."""


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """What a user needs to know to configure one installed provider.

    Attributes:
        name: Entry-point name (what ``type:`` takes).
        display: Human name.
        server: A media server (a library: where watching happens), else a tracker.
        keys: Every config key it accepts.
        sign_in: How to sign in, one line.
        error: Why the provider could not be loaded (then the rest is empty).
    """

    name: str
    display: str
    server: bool = False
    keys: Mapping[str, ConfigKey] = field(default_factory=dict)
    sign_in: str = ""
    error: str | None = None

    @property
    def user_keys(self) -> dict[str, ConfigKey]:
        """The keys a user sets (not the ones AniBridge or tests set)."""
        return {k: v for k, v in self.keys.items() if not v.internal}


def user_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``anibridge.yaml`` in the user's config folder (XDG / AppData / Library)."""
    import platformdirs

    del environ  # platformdirs reads XDG_CONFIG_HOME itself
    return platformdirs.user_config_path(APP_NAME) / CONFIG_NAME


def default_init_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where `init` writes without a path: ``$ANIBRIDGE_CONFIG``, else the user's.

    Never the current directory unless asked (it may be a shared or synced folder,
    and the config's folder also holds the store and its token key by default).
    """
    from anibridge.app.config.load import CONFIG_ENV

    env = os.environ if environ is None else environ
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser()
    return user_config_path(env)


def default_data_dir() -> Path:
    """The user's data folder for the store, backups and the token key."""
    import platformdirs

    return platformdirs.user_data_path(APP_NAME)


def provider_info(name: str) -> ProviderInfo:
    """Describe one installed provider from its class (no instance, no I/O)."""
    from anibridge.app.config.providers import ProviderLoadError, load_provider_class

    try:
        cls = load_provider_class(name)
    except ProviderLoadError as exc:
        return ProviderInfo(name=name, display=name, error=str(exc))
    from anibridge.providers._library.provider import LibraryProvider

    keys = describe_keys(getattr(cls, "CONFIG_KEYS", None))
    sign_in = str(getattr(cls, "SIGN_IN", "") or "")
    if not sign_in:
        secrets = [k for k, v in keys.items() if v.secret and not v.internal]
        sign_in = f"credentials in the config ({', '.join(secrets)})" if secrets else ""
    return ProviderInfo(
        name=name,
        display=str(getattr(cls, "DISPLAY_NAME", name)),
        server=issubclass(cls, LibraryProvider),
        keys=keys,
        sign_in=sign_in,
    )


def _scalar(value: Any) -> str:
    """A YAML flow scalar (JSON is valid YAML for strings, numbers and lists)."""
    return json.dumps(value)


def _key_lines(info: ProviderInfo, indent: str) -> list[str]:
    lines: list[str] = []
    login = f"`anibridge login {info.name}`"
    for name, key in info.user_keys.items():
        note = key.help
        if key.required and key.login:
            note += f"; required unless {login} was run"
        elif key.required:
            note += " (required)"
        lines.extend(
            textwrap.wrap(
                note,
                88,
                initial_indent=f"{indent}# ",
                subsequent_indent=f"{indent}#   ",
            )
        )
        if key.secret:
            ref = f"{{env: {key.env or (info.name + '_' + name).upper()}}}"
            active = key.required and not key.login
            lines.append(f"{indent}{'' if active else '# '}{name}: {ref}")
        elif key.required:
            example = "" if key.example is None else key.example
            lines.append(f"{indent}{name}: {_scalar(example)}")
        else:
            lines.append(f"{indent}# {name}:")
    return lines


def _side(
    role: str, info: ProviderInfo, anchors: dict[str, str], local_path: str
) -> list[str]:
    lines = [f"    {role}:", f"      name: {info.name}", f"      type: {info.name}"]
    if info.name in anchors:
        return [*lines, f"      config: *{anchors[info.name]}"]
    anchors[info.name] = info.name
    lines.append(f"      config: &{info.name}")
    if info.sign_in:
        lines.extend(
            textwrap.wrap(
                f"{info.display}: sign in with {info.sign_in}.",
                88,
                initial_indent="        # ",
                subsequent_indent="        #   ",
            )
        )
    body = _key_lines(info, "        ")
    if info.name == "local":  # its required path names a file per side
        body = [line.replace('"local.sqlite"', _scalar(local_path)) for line in body]
    return [*lines, *body]


def _pairs(
    chosen: Sequence[ProviderInfo],
) -> list[tuple[ProviderInfo, ProviderInfo]]:
    servers = [p for p in chosen if p.server]
    trackers = [p for p in chosen if not p.server]
    if servers and trackers:
        return [(s, t) for s in servers for t in trackers]
    return [(chosen[0], other) for other in chosen[1:]]


def build_config(names: Sequence[str], *, data_dir: str = "data") -> str:
    """The commented config for the chosen providers.

    Media servers are the sources and trackers the targets, one profile per pair
    (``default`` when there is one pair); with only trackers (or only servers) the
    first is the source of the others. A provider used by several profiles is
    written once and referred to with a YAML alias.

    Raises:
        SetupError: an unknown or broken provider, or fewer than two chosen.
    """
    from anibridge.app.config.providers import available_providers

    wanted = list(dict.fromkeys(n.strip().lower() for n in names if n.strip()))
    installed = available_providers()
    unknown = [n for n in wanted if n not in installed]
    if unknown:
        raise SetupError(
            f"unknown provider(s) {', '.join(unknown)}; installed: "
            f"{', '.join(sorted(installed))}"
        )
    chosen = [provider_info(n) for n in wanted]
    broken = [p for p in chosen if p.error]
    if broken:
        raise SetupError(broken[0].error or broken[0].name)
    if len(chosen) < 2:
        raise SetupError(
            "choose at least two providers: where you watch and what to keep in "
            "sync with it, e.g. --with plex,anilist"
        )
    pairs = _pairs(chosen)
    head = HEAD.replace("data_dir: data\n", f"data_dir: {_scalar(data_dir)}\n", 1)
    lines = [
        f"# Written by `anibridge init --with {','.join(wanted)}`. Fill in the keys",
        "# marked required, sign in where it says so, then run `anibridge check` and",
        "# `anibridge plan` (a preview: nothing is written).",
        head.rstrip("\n"),
        "profiles:",
    ]
    anchors: dict[str, str] = {}
    for source, target in pairs:
        name = "default" if len(pairs) == 1 else _profile_name(source, target, pairs)
        lines.append(f"  {name}:")
        lines.append("    # Where your watching happens.")
        lines.extend(_side("source", source, anchors, "library.sqlite"))
        lines.append("    # What AniBridge keeps in agreement with it.")
        lines.extend(_side("target", target, anchors, "list.sqlite"))
        lines.append(PROFILE_OPTIONS.rstrip("\n"))
    return "\n".join(lines) + "\n"


def _profile_name(
    source: ProviderInfo,
    target: ProviderInfo,
    pairs: Sequence[tuple[ProviderInfo, ProviderInfo]],
) -> str:
    one_source = len({s.name for s, _ in pairs}) == 1
    return target.name if one_source else f"{source.name}-{target.name}"


def untouched_template(text: str) -> bool:
    """Whether a config's profiles are `init`'s provider-less template, unedited.

    That template syncs two empty local files: running it "succeeds" with nothing
    to do, which reads as if AniBridge were broken. Its profiles are compared as
    data (comments, spacing and the global keys such as ``data_dir`` may differ).
    """
    from anibridge.safeyaml import load_yaml

    try:
        data = load_yaml(text, max_bytes=1 << 20)
    except Exception:  # not even YAML: certainly not the template
        return False
    template = load_yaml(TEMPLATE, max_bytes=1 << 20)
    return isinstance(data, dict) and data.get("profiles") == template["profiles"]


def untouched_message(path: Path) -> str | None:
    """The line to show instead of a run when `path` is the untouched template."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not untouched_template(text):
        return None
    return (
        f"{path} is the untouched template from `anibridge init`: its profile syncs "
        "two empty local files, so there is nothing to sync. Choose your providers "
        f"with `anibridge init {path} --with plex,anilist --force` (`anibridge "
        "providers` lists them), or edit its profiles."
    )
