"""Mutation testing of the engine's rules: `./dev mutate [MODULE...]`.

Runs mutmut (https://mutmut.readthedocs.io) over `anibridge.bridge`,
`anibridge.mappings` and `anibridge.ratings`, one module at a time, so a run can be
stopped and resumed and never holds more than one core (`--max-children 1`, under
`nice`). mutmut records, per function, the tests that executed it, and runs only
those against each mutant of that function; the test selection itself is the unit
suites of these packages (`[tool.mutmut]` in pyproject.toml), not the slow CLI and
provider end-to-end runs. Results persist in `mutants/` (git-ignored): modules
already done are skipped unless named again.

Usage:
    ./dev mutate                        every module not done yet, then the report
    ./dev mutate anibridge.bridge.derive  just that module (re-run)
    ./dev mutate --report               only the report of what is done

The report counts killed / survived / no-test / timeout mutants per module and
checks every survivor against the list of equivalent mutants in
docs/mutation-testing.md (name + reason); the score is killed / (all - listed
equivalents). It exits non-zero when an unlisted mutant survived.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bridge", "mappings")
SINGLE = ("ratings",)
DOC = ROOT / "docs" / "mutation-testing.md"
MUTANTS = ROOT / "mutants"
KILLED = {1, 3}
STATUS = {0: "survived", 33: "no tests", 5: "no tests", 36: "timeout", 24: "timeout",
          -24: "timeout", 152: "timeout", 255: "timeout", 34: "skipped"}  # fmt: skip


def modules() -> list[str]:
    """Every module mutation testing covers, smallest package first."""
    src = ROOT / "src" / "anibridge"
    out = [f"anibridge.{name}" for name in SINGLE]
    for package in PACKAGES:
        for path in sorted((src / package).glob("*.py")):
            if path.name != "__init__.py":
                out.append(f"anibridge.{package}.{path.stem}")
    return out


def results() -> dict[str, dict[str, int | None]]:
    """Exit code per mutant name, per module, from mutmut's result files."""
    out: dict[str, dict[str, int | None]] = {}
    for meta in sorted(MUTANTS.glob("src/anibridge/**/*.py.meta")):
        rel = meta.relative_to(MUTANTS / "src").with_suffix("").with_suffix("")
        module = ".".join(rel.parts)
        data = json.loads(meta.read_text())
        out[module] = data.get("exit_code_by_key", {})
    return out


def equivalents() -> dict[str, str]:
    """Mutant name -> reason, from the table in docs/mutation-testing.md."""
    if not DOC.exists():
        return {}
    found = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"\|\s*`([\w.]+__mutmut_\d+)`\s*\|\s*(.+?)\s*\|\s*$", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def run(module: str) -> int:
    """One module's mutants (one worker, nice), output to mutants/logs/."""
    logs = MUTANTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{module}.log").open("w") as log:
        print(f"mutating {module} ...", flush=True)
        done = subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", "1",
             f"{module}.*"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )  # fmt: skip
    return done.returncode


def report() -> int:
    """Print the score per module and every unlisted survivor; 1 if any."""
    listed = equivalents()
    total: Counter[str] = Counter()
    unlisted: list[str] = []
    rows = []
    for module, codes in results().items():
        if not codes or all(code is None for code in codes.values()):
            continue  # not mutated yet (or nothing to mutate)
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            if code in KILLED:
                counts["killed"] += 1
            elif code is None:
                counts["not run"] += 1
            elif name in listed:
                counts["equivalent"] += 1
            else:
                counts[STATUS.get(code, "suspicious")] += 1
                unlisted.append(f"{name} ({STATUS.get(code, code)})")
        total += counts
        rows.append((module, counts))
    print(f"{'module':<34} {'killed':>7} {'equiv':>6} {'surv':>5} {'none':>5} "
          f"{'t/o':>4} {'score':>7}")  # fmt: skip
    for module, c in [*rows, ("total", total)]:
        scored = sum(c.values()) - c["equivalent"] - c["not run"]
        score = c["killed"] / scored if scored else 1.0
        print(f"{module:<34} {c['killed']:>7} {c['equivalent']:>6} "
              f"{c['survived']:>5} {c['no tests']:>5} {c['timeout']:>4} "
              f"{score:>7.1%}")  # fmt: skip
    if unlisted:
        print(f"\n{len(unlisted)} mutant(s) neither killed nor listed as equivalent "
              f"in {DOC.relative_to(ROOT)}:")  # fmt: skip
        for name in unlisted:
            print(f"  {name}")
    return 1 if unlisted else 0


def main(argv: list[str]) -> int:
    """Mutate the named modules (default: every one not done yet), then report."""
    if argv == ["--report"]:
        return report()
    done = {
        module
        for module, codes in results().items()
        if codes and all(code is not None for code in codes.values())
    }
    wanted = argv or [m for m in modules() if m not in done]
    for module in wanted:
        if module not in modules():
            print(f"unknown module {module!r}; one of: {', '.join(modules())}")
            return 2
        run(module)
    return report()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
