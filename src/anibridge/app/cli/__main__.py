"""`python -m anibridge.app.cli`: the same as the `anibridge` command."""

from __future__ import annotations

from anibridge.app.cli import main

main()
