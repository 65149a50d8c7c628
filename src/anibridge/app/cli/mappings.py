"""`anibridge mappings`: translate, progress, lookup, stats and update.

Every command loads the dataset the same way: `--mappings PATH` (repeatable, a
later file beats an earlier one as a custom file beats upstream) or, without it,
the cached or bundled dataset. `--json` prints only JSON on stdout; notices and
invalid-entry reports go to stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from anibridge.app.cli import _mapping_queries as queries
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


@mappings_app.command("translate")
def translate(
    descriptor: Annotated[str, typer.Argument(help="Source, e.g. anilist:20.")],
    episodes: Annotated[list[int], typer.Argument(help="Source episode numbers.")],
    to: _To = None,
    mappings: _Mappings = None,
    as_json: _Json = False,
) -> None:
    """Translate source episodes to target episodes, per target descriptor."""
    queries.translate(descriptor, episodes, to, mappings, as_json)


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
        raise queries.fail(f"--mode must be count or index, not {mode!r}")
    sources: dict[Any, set[int]] = {}
    for item in watched:
        descriptor, sep, ranges = item.partition("=")
        if not sep or not ranges:
            raise queries.fail(f"--watched {item!r} is not DESCRIPTOR=RANGES")
        source = queries.descriptor(descriptor)
        try:
            sources.setdefault(source, set()).update(parse_episode_ranges(ranges))
        except ValueError as exc:
            raise queries.fail(f"--watched {item!r}: {exc}") from None
    index = queries.load(mappings)
    found = index.progress(sources, to=set(to), mode=mode)
    result = {target.descriptor: units for target, units in found.items()}
    if as_json:
        queries.print_json(result)
        return
    if not result:
        queries.echo("no progress on any target")
    for target, units in result.items():
        queries.echo(f"{target}: {units}")


@mappings_app.command("lookup")
def lookup(
    descriptor: Annotated[str, typer.Argument(help="Descriptor, e.g. anilist:20.")],
    mappings: _Mappings = None,
    as_json: _Json = False,
) -> None:
    """Every range pair leaving a descriptor, derived reverses included."""
    source = queries.descriptor(descriptor)
    index = queries.load(mappings)
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
        queries.print_json(rows)
        return
    if not rows:
        queries.echo(f"{source.descriptor}: no mappings")
    for row in rows:
        ratio = "" if row["ratio"] is None else f"|{row['ratio']}"
        queries.echo(
            f"{row['source']} {row['source_range']} -> {row['target']} "
            f"{row['target_range']}{ratio}  ({', '.join(row['provenance'])})"
        )


@mappings_app.command("stats")
def stats(mappings: _Mappings = None, as_json: _Json = False) -> None:
    """Counts over the loaded dataset, both directions."""
    index = queries.load(mappings)
    found = index.stats()
    result = {
        key: found[key]
        for key in ("sources", "targets", "range_pairs", "invalid", "load_seconds")
    }
    if as_json:
        queries.print_json(result)
        return
    for key, value in result.items():
        queries.echo(f"{key}: {value}")


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
        queries.print_json(result.as_json())
    elif result.status == "updated":
        queries.echo(f"mappings updated: {result.path}")
    elif result.status == "not_modified":
        queries.echo(f"mappings unchanged: {result.path}")
    if result.status == "failed":
        where = (
            f"still using the cached copy {result.path}"
            if result.path
            else "no cached copy; the bundled curated file stays in use"
        )
        queries.stderr(f"anibridge mappings: update failed ({result.error}); {where}")
        raise typer.Exit(1)
