"""`anibridge check`: can each provider be reached and used, as whom, with what.

A thin adapter over `anibridge.app.service.check`: one line per provider (reach,
sign-in, the account, item counts, what it can write), the failure's one line
when it failed. Exit code 0 when every provider passed, else the first failure's
(69 unreachable or unusable, 77 credentials rejected, 1 bad config).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from anibridge.app.cli import app
from anibridge.app.cli._common import ConfigOption, load, print_json, run_async

if TYPE_CHECKING:
    from anibridge.app.service.check import ProviderCheck


def _line(check: ProviderCheck) -> str:
    head = f"{check.key} ({check.display_name}, {check.side})"
    if check.problem is not None:
        steps = "reached, " if check.reached else ""
        steps += "signed in, " if check.signed_in else ""
        return f"FAIL {head}: {steps}{check.problem.message}"
    parts = ["reached", "signed in" + (f" as {check.user}" if check.user else "")]
    if check.counts is not None:
        total = check.counts.get("total", 0)
        kinds = ", ".join(f"{k} {v}" for k, v in check.counts.items() if k != "total")
        more = "" if check.counts_complete else "+"
        parts.append(f"{total}{more} titles" + (f" ({kinds})" if kinds else ""))
    caps = check.capabilities
    writable = caps.get("writable_fields") or []
    parts.append("writes " + ", ".join(writable) if writable else "read-only")
    extras = [
        label
        for label, flag in (
            ("plays", caps.get("plays")),
            ("change feed", caps.get("change_feed")),
            ("webhooks", caps.get("webhooks")),
        )
        if flag
    ]
    if extras:
        parts.append("reads " + ", ".join(extras))
    return f"ok   {head}: " + "; ".join(parts)


_PROFILES = typer.Option(
    None, "--profile", "-p", help="Profile to check (repeatable; default: all)."
)


@app.command()
def check(
    profile: list[str] | None = _PROFILES,
    provider: str | None = typer.Option(
        None, "--provider", help="Check only this provider key of the profile."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Check each provider: reach, sign-in, account, capabilities, item counts."""
    from anibridge.app.cli._common import fail, out_console
    from anibridge.app.service.check import check_profile
    from anibridge.store import SqlStore

    loaded = load(config)
    names = list(profile or loaded.app.profiles)
    if provider is not None and len(names) != 1:
        raise fail("--provider needs exactly one --profile")

    async def go() -> list:
        store = SqlStore(loaded.store_url)
        try:
            return [
                await check_profile(loaded, name, store=store, only=provider)
                for name in names
            ]
        finally:
            store.close()

    results = run_async(go)
    if as_json:
        print_json(
            {
                "ok": all(r.ok for r in results),
                "profiles": [
                    {
                        "profile": r.profile,
                        "ok": r.ok,
                        "providers": [p.as_json() for p in r.providers],
                    }
                    for r in results
                ],
            }
        )
    else:
        for result in results:
            out_console.print(f"profile {result.profile}", soft_wrap=True)
            for item in result.providers:
                out_console.print(
                    "  " + _line(item),
                    soft_wrap=True,
                    style=None if item.ok else "red",
                )
    codes = [r.exit_code for r in results if r.exit_code]
    raise typer.Exit(codes[0] if codes else 0)
