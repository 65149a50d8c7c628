"""The application layer: every use case the CLI and the web service offer.

One module per use case (``pins``, ``runs``, ``history``, ``backups``, ``config``,
``mappings``, ``check``, …). Each takes what it works on (a loaded config, a store,
an open `anibridge.app.session.Session`, a mappings index) and returns typed results
(frozen dataclasses) or raises a `anibridge.app.service.errors.ServiceError`
subclass whose message is the one line a person reads. Front ends are adapters:
`anibridge.app.cli` turns results into tables/JSON and errors into exit codes,
`anibridge.app.web` turns them into pages/JSON and HTTP statuses.

Layering: this package imports the engine, the store, the config and
`anibridge.app.session`, never `anibridge.app.runtime` (which opens sessions and
uses this package), `anibridge.app.cli` or `anibridge.app.web`
(`tests/app/service/test_layering.py`).
Importing the package itself is free: use-case modules are imported by whoever uses
them, so `anibridge --help` stays fast.
"""

from __future__ import annotations
