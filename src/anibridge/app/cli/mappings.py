"""`anibridge mappings`: translate, progress, lookup, stats and update.

Every command loads the dataset the same way: `--mappings PATH` (repeatable, a
later file beats an earlier one as a custom file beats upstream) or, without it,
the cached or bundled dataset. `--json` prints only JSON on stdout; notices and
invalid-entry reports go to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from anibridge.app.cli import app

__all__ = ["mappings_app", "parse_episode_ranges"]

mappings_app = typer.Typer(
    rich_markup_mode=None,
    help="Query and update the anibridge-mappings dataset.",
    no_args_is_help=True,
)
app.add_typer(mappings_app, name="mappings")

_Mappings = Annotated[
    list[Path] | None,
    typer.Option(
        "--mappings",
        "-m",
        help="Mapping file (JSON/YAML/.zst); repeat to layer, later wins.",
    ),
]
_Json = Annotated[bool, typer.Option("--json", help="Print JSON only.")]
_To = Annotated[
    list[str] | None,
    typer.Option("--to", help="Only targets of this authority (repeatable)."),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    _stderr(f"anibridge mappings: {message}")
    return typer.Exit(code)


def _stderr(message: str) -> None:
    from anibridge.http.redact import mask  # a mappings URL may carry a password

    typer.echo(mask(message), err=True)


def _load(paths: list[Path] | None) -> Any:
    """Load the index for a command, reporting invalid entries on stderr."""
    from anibridge.mappings import MappingError, load_index, summarize_invalid

    try:
        index = load_index(
            [str(p) for p in paths or ()],
            include_default=not paths,
            notice=_stderr,
            report_invalid=None,
        )
    except MappingError as exc:
        raise _fail(str(exc)) from None
    if index.invalid:
        _stderr(summarize_invalid(index.invalid, limit=10))
    return index


def _descriptor(text: str) -> Any:
    """The descriptor, parsed as the web parses it (`mapping_view.parse_descriptor`)."""
    from anibridge.app.service.errors import InvalidInput
    from anibridge.app.service.mapping_view import parse_descriptor
    from anibridge.provider.base import ExternalId

    try:
        return ExternalId.parse(parse_descriptor(text))
    except InvalidInput as exc:
        raise _fail(str(exc)) from None


def parse_episode_ranges(text: str) -> set[int]:
    """Parse `1-12,14` into episode numbers.

    Raises:
        ValueError: not a comma list of `x` or `x-y` with y >= x.
    """
    episodes: set[int] = set()
    for part in text.split(","):
        start, dash, end = part.strip().partition("-")
        if not start.isdigit() or (dash and not end.isdigit()):
            raise ValueError(f"episode range {part!r} is not x or x-y")
        low = int(start)
        high = int(end) if dash else low
        if high < low:
            raise ValueError(f"episode range {part!r} ends before it starts")
        episodes.update(range(low, high + 1))
    return episodes


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=False))


@mappings_app.command("translate")
def translate(
    descriptor: Annotated[str, typer.Argument(help="Source, e.g. anilist:20.")],
    episodes: Annotated[list[int], typer.Argument(help="Source episode numbers.")],
    to: _To = None,
    mappings: _Mappings = None,
    as_json: _Json = False,
) -> None:
    """Translate source episodes to target episodes, per target descriptor."""
    source = _descriptor(descriptor)
    index = _load(mappings)
    result: dict[str, dict[str, list[int]]] = {}
    for episode in episodes:
        found = index.translate(source, episode, to=set(to) if to else None)
        result[str(episode)] = {
            target.descriptor: list(values) for target, values in found.items()
        }
    if as_json:
        _print_json(result)
        return
    for episode, targets in result.items():
        if not targets:
            typer.echo(f"{source.descriptor} {episode}: no target")
        for target, values in targets.items():
            shown = ", ".join(str(v) for v in values)
            typer.echo(f"{source.descriptor} {episode} -> {target} {shown}")


@mappings_app.command("progress")
def progress(
    watched: Annotated[
        list[str],
        typer.Option(
            "--watched", help="DESCRIPTOR=RANGES, e.g. tvdb_show:1:s1=1-12,14."
        ),
    ],
    to: Annotated[
        list[str], typer.Option("--to", help="Target authority (repeatable).")
    ],
    mode: Annotated[
        str, typer.Option("--mode", help="count (weighted) or index (highest).")
    ] = "count",
    mappings: _Mappings = None,
    as_json: _Json = False,
) -> None:
    """Progress per target from watched source episodes (uncapped)."""
    if mode not in ("count", "index"):
        raise _fail(f"--mode must be count or index, not {mode!r}")
    sources: dict[Any, set[int]] = {}
    for item in watched:
        descriptor, sep, ranges = item.partition("=")
        if not sep or not ranges:
            raise _fail(f"--watched {item!r} is not DESCRIPTOR=RANGES")
        source = _descriptor(descriptor)
        try:
            sources.setdefault(source, set()).update(parse_episode_ranges(ranges))
        except ValueError as exc:
            raise _fail(f"--watched {item!r}: {exc}") from None
    index = _load(mappings)
    found = index.progress(sources, to=set(to), mode=mode)
    result = {target.descriptor: units for target, units in found.items()}
    if as_json:
        _print_json(result)
        return
    if not result:
        typer.echo("no progress on any target")
    for target, units in result.items():
        typer.echo(f"{target}: {units}")


@mappings_app.command("lookup")
def lookup(
    descriptor: Annotated[str, typer.Argument(help="Descriptor, e.g. anilist:20.")],
    mappings: _Mappings = None,
    as_json: _Json = False,
) -> None:
    """Every range pair leaving a descriptor, derived reverses included."""
    source = _descriptor(descriptor)
    index = _load(mappings)
    rows = [
        {
            "source": edge.source.descriptor,
            "target": edge.target.descriptor,
            "source_range": pair.source_range,
            "target_range": pair.target_range,
            "ratio": pair.ratio,
            "provenance": list(pair.provenance),
        }
        for edge in index.edges(source)
        for pair in edge.pairs
    ]
    if as_json:
        _print_json(rows)
        return
    if not rows:
        typer.echo(f"{source.descriptor}: no mappings")
    for row in rows:
        ratio = "" if row["ratio"] is None else f"|{row['ratio']}"
        typer.echo(
            f"{row['source']} {row['source_range']} -> {row['target']} "
            f"{row['target_range']}{ratio}  ({', '.join(row['provenance'])})"
        )


@mappings_app.command("stats")
def stats(mappings: _Mappings = None, as_json: _Json = False) -> None:
    """Counts over the loaded dataset, both directions."""
    index = _load(mappings)
    found = index.stats()
    result = {
        key: found[key]
        for key in ("sources", "targets", "range_pairs", "invalid", "load_seconds")
    }
    if as_json:
        _print_json(result)
        return
    for key, value in result.items():
        typer.echo(f"{key}: {value}")


@mappings_app.command("update")
def update(
    url: Annotated[
        str | None,
        typer.Option("--url", help="Dataset URL (default: $ANIBRIDGE_MAPPINGS_URL)."),
    ] = None,
    as_json: _Json = False,
) -> None:
    """Download the dataset if it changed (ETag); keep the old copy on failure."""
    from anibridge.mappings.update import update as run_update

    result = run_update(url)
    if as_json:
        _print_json(result.as_json())
    elif result.status == "updated":
        typer.echo(f"mappings updated: {result.path}")
    elif result.status == "not_modified":
        typer.echo(f"mappings unchanged: {result.path}")
    if result.status == "failed":
        where = (
            f"still using the cached copy {result.path}"
            if result.path
            else "no cached copy; the bundled curated file stays in use"
        )
        _stderr(f"anibridge mappings: update failed ({result.error}); {where}")
        raise typer.Exit(1)
