"""Shared CLI plumbing: the --config option, one-paragraph errors, async runner.

Every known failure (bad config, unknown provider, unreadable store, corrupt local
file, bad document, missing secret) is printed as one paragraph on stderr naming what
and where, with exit code 1 and nothing written; `--json` keeps stdout JSON-only.

Exit codes every command shares: 0 done, 1 an error or failed writes, 2 a guard
refused the plan, 69 a provider could not be reached or used (connection refused,
unknown host, TLS, timeout, wrong address, service errors, rate limits), 70 an
unexpected error (a bug: ``--debug`` prints the traceback), 75 the profile is busy
(another run holds its lock; the message names it), 77 a provider rejected the
credentials, 130 interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM (a service
manager stopping it). An interrupted run is recorded as ``interrupted``. Provider
failures are translated in one place, `anibridge.app.service.problems`.

Importing this module stays cheap (typer only): the consoles, the config loader and
the error classes (which pull in SQLAlchemy, pydantic and the providers) load on first
use, so `anibridge --help` and light commands never pay for them.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from anibridge.app.cli import DEBUG, EXIT_BUG

if TYPE_CHECKING:
    from rich.console import Console

    from anibridge.app.config import LoadedConfig
    from anibridge.app.runtime import StopFlag

__all__ = [
    "DEBUG",
    "EXIT_BUG",
    "EXIT_BUSY",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "EXPECTED_ERRORS",  # noqa: F822 - created on first use by __getattr__
    "PIPE_WIDTH",
    "ConfigOption",
    "Terminated",
    "WaitOption",
    "describe_problem",
    "err_console",  # noqa: F822 - created on first use by __getattr__
    "expected_errors",
    "fail",
    "has_terminal",
    "load",
    "out_console",  # noqa: F822 - created on first use by __getattr__
    "print_json",
    "refuse_untouched_template",
    "run_async",
]

EXIT_BUSY = 75  # EX_TEMPFAIL: try again later
PIPE_WIDTH = 10_000  # output width when not a terminal: nothing is folded

EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM asked the command to stop now (not only after the batch)."""


ConfigOption = typer.Option(
    None,
    "--config",
    "-c",
    help="Config file (default: $ANIBRIDGE_CONFIG, ./anibridge.yaml, else the one "
    "`anibridge init` wrote in your config folder).",
    show_default=False,
)

WaitOption = typer.Option(
    None,
    "--wait",
    help="Seconds to wait while another run holds the profile (default: lock_wait).",
    show_default=False,
)


def expected_errors() -> tuple[type[BaseException], ...]:
    """The errors a command reports as one paragraph (imported on first use).

    The list itself lives in `anibridge.app.service.problems.config_errors`, so
    the CLI, the web and the service agree on what counts as a known failure.
    """
    from anibridge.app.service.problems import config_errors

    return config_errors()


def _console(stderr: bool) -> Console:
    """A console that prints text as given: no markup, no highlighting.

    Messages carry user data (paths, titles, config values); with markup on, a path
    containing ``[/x]`` crashes the print and ``[min, max, step]`` disappears. Styled
    output passes a style or `rich.text.Text` instead of markup.
    """
    import os

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):
        terminal = False
    # Piped or redirected: full values, never folded at an assumed 80 columns
    # (grep and scripts see whole ids and titles); COLUMNS still sets a width.
    width = None if terminal or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(
        file=_Masked(stderr),
        stderr=stderr,
        highlight=False,
        markup=False,
        width=width,
    )


class _Masked:
    """The current stdout/stderr, with registered secrets masked in what is written.

    Looked up on every write, so test runners that swap the streams still see the
    output; anything else (``isatty``, ``encoding``) comes from the real stream.
    """

    def __init__(self, stderr: bool) -> None:
        self.stderr = stderr

    @property
    def stream(self) -> Any:
        return sys.stderr if self.stderr else sys.stdout

    def write(self, text: str) -> int:
        from anibridge.http.redact import mask

        return self.stream.write(mask(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def __getattr__(name: str) -> Any:
    """Create the consoles and the error tuple on first access (PEP 562)."""
    if name == "out_console":
        value: Any = _console(stderr=False)
    elif name == "err_console":
        value = _console(stderr=True)
    elif name == "EXPECTED_ERRORS":
        value = expected_errors()
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one error paragraph on stderr and return the exit to raise.

    With ``anibridge --debug``, the exception being handled (if any) is printed
    first, traceback and all.
    """
    from rich.text import Text

    from anibridge.app.cli._common import err_console
    from anibridge.messages import clip

    if DEBUG.on and sys.exc_info()[1] is not None:
        import traceback

        from anibridge.http.redact import mask

        sys.stderr.write(mask(traceback.format_exc()))
    err_console.print(
        Text.assemble(("error:", "bold red"), " ", clip(message)), soft_wrap=True
    )
    return typer.Exit(code)


def has_terminal() -> bool:
    """Whether a person can answer a question (stdin is a terminal)."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def describe_problem(exc: BaseException) -> Any:
    """The `anibridge.app.service.problems.Problem` for `exc`, or None.

    Application-layer errors carry their exit code; a provider that cannot be
    reached or rejects its credentials becomes one line naming it, what failed
    and what to do (exit 69 / 77). Checked through sys.modules first: a command
    that never loaded the HTTP layer or the service layer cannot have raised
    their errors, and stays light.
    """
    if not any(
        name in sys.modules
        for name in ("anibridge.http.errors", "anibridge.app.service.errors")
    ):
        return None
    from anibridge.app.service.problems import describe

    return describe(exc)


def load(config: Path | None) -> LoadedConfig:
    """Load the config or exit with its one-paragraph error.

    Raises:
        typer.Exit: the config is unusable.
    """
    from anibridge.app.config import ConfigError, load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def refuse_untouched_template(path: Path) -> None:
    """Exit with one line when the config is `init`'s template, unedited.

    It would sync two empty files and report "0 actions", as if nothing were wrong.

    Raises:
        typer.Exit: it is (exit code 1).
    """
    from anibridge.app.config.setup import untouched_message

    message = untouched_message(path)
    if message is not None:
        raise fail(message)


def print_json(data: Any) -> None:
    """JSON, alone, on stdout (registered secrets masked)."""
    from anibridge.http.redact import mask

    sys.stdout.write(mask(json.dumps(data, sort_keys=False, default=str)) + "\n")
    sys.stdout.flush()


def run_async[T](
    make: Callable[[], Awaitable[T]], *, stop: StopFlag | None = None
) -> T:
    """Run a coroutine; known errors exit 1 with their paragraph.

    With `stop`, the first Ctrl-C (or SIGTERM) after writes began lets the batch in
    flight finish and skips the rest (journaled as not written; the run ends
    ``interrupted``); before any write, or on a second signal, it interrupts at once
    (the run is still recorded ``interrupted``, and a batch whose answer never
    arrived is settled by the next start's reconcile).

    Raises:
        typer.Exit: a known error (1), a busy profile (75), Ctrl-C (130), SIGTERM
            (143).
    """
    import asyncio

    from anibridge.app.cli._common import err_console
    from anibridge.store import ProfileBusy

    errors = expected_errors()
    previous = {
        signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)
    }

    def on_signal(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if stop is not None and stop.writes_started and not stop.requested:
            stop.requested, stop.signal = True, name
            err_console.print(
                f"{name}: stopping after the current batch (Ctrl-C again to abort)…",
                style="yellow",
            )
            return
        raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt

    for signum in previous:
        signal.signal(signum, on_signal)
    try:
        return asyncio.run(make())  # type: ignore[arg-type]
    except errors as exc:
        raise fail(str(exc)) from None
    except ProfileBusy as exc:
        raise fail(str(exc), EXIT_BUSY) from None
    except Terminated:
        raise fail("terminated (SIGTERM)", EXIT_TERMINATED) from None
    except Exception as exc:
        problem = describe_problem(exc)
        if problem is None:
            raise
        raise fail(problem.message, problem.exit_code) from None
    except KeyboardInterrupt:
        raise fail("interrupted", EXIT_INTERRUPTED) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
