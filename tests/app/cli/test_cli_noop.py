"""A run with nothing to do does no heavy work: no index load, no full read.

Counted in-process on the demo workspace (real local files, real store): the
mappings index is loaded by the first sync, and not at all by a second one whose
change feed reports nothing — a no-op costs almost nothing.
"""

from __future__ import annotations

import asyncio

import anibridge.mappings as mappings
from anibridge.app.cli.sync import execute
from anibridge.app.config import load_config
from anibridge.app.demo import prepare_workspace
from anibridge.app.runtime import StopFlag


def test_a_run_with_no_change_loads_no_index(tmp_path, monkeypatch):
    loads: list[int] = []
    real = mappings.load_index

    def counting(*args, **kwargs):
        loads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(mappings, "load_index", counting)
    config_path, _ = prepare_workspace(tmp_path / "ws")
    config = load_config(config_path, environ={})

    def run(**kw):
        summary, _plan, code = asyncio.run(
            execute(config, None, dry_run=False, stop=StopFlag(), progress=False, **kw)
        )
        assert code == 0, summary
        return summary

    first = run(full=False)
    assert first["applied"] > 0 and loads == [1]
    idle = run(full=False)
    assert idle["planned"] == 0
    assert idle["_extra"]["changes"] == 0  # decided from the change feed
    assert loads == [1]  # ... before any index load
    again = run(full=True)  # a full re-check does need it, and finds nothing
    assert again["planned"] == 0 and loads == [1, 1]
