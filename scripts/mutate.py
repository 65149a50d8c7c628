"""Mutation testing of the engine's rules: `./dev mutate [MODULE...]`.

Runs mutmut 3 (https://mutmut.readthedocs.io) over `anibridge.bridge`,
`anibridge.mappings` and `anibridge.ratings`, one module at a time, one worker,
so a run can be stopped and resumed and never holds more than one core (`./dev`
starts it under `nice -n 19`). Results persist in `mutants/` (git-ignored).

Why a wrapper and not plain `mutmut run`: a mutant's cost is dominated by pytest
collecting the test files it is given, not by the tests. mutmut hands each mutant
every test that executed the mutated function (for an engine function that is most
of the suite, a dozen files), so this runner runs each mutant in two steps inside
mutmut's forked worker: first the tests of the module's *own* test files (the
files that import it, its mirror in tests/, and the suites listed in `OWN_TESTS`),
stopping at the first failure; only if all of them pass, the rest of the tests
that executed the function. A mutant is therefore killed by exactly the tests
plain mutmut would use — the score is the same — but most are killed after
collecting one or two files instead of twelve.

Resuming: `./dev mutate [MODULE...]` runs, per module, only the mutants without a
result yet (mutmut itself would re-run every mutant matched by a pattern);
`--survivors` re-runs those not killed, `--all` every one.

Usage:
    ./dev mutate                    every mutant without a result, module by module
    ./dev mutate anibridge.bridge.derive   that module's mutants without a result
    ./dev mutate --survivors MODULE...     re-run those not killed (after a new test)
    ./dev mutate --all MODULE...           re-run every mutant of the modules
    ./dev mutate NAME...            re-run just these mutants (full names, e.g.
                                    anibridge.bridge.twoway.x_plan_two_way__mutmut_106,
                                    or fnmatch globs mutmut expands, e.g. one
                                    function's mutants:
                                    'anibridge.bridge.oneway.x_deletions__mutmut_*')
    ./dev mutate --report           per-module and total scores from stored results
    ./dev mutate --together [--survivors|--all] MODULE...
                                    the modules in one mutmut process (one clean run
                                    of the whole suite instead of one per module)

The report counts killed / survived / no-test / timeout mutants per module and
checks every survivor against the list of equivalent mutants in
docs/mutation-testing.md (name + reason); the score is killed / (all run -
listed equivalents). It exits non-zero when an unlisted mutant survived.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bridge", "mappings")
SINGLE = ("ratings",)
DOC = ROOT / "docs" / "mutation-testing.md"
MUTANTS = ROOT / "mutants"
TESTS = ("tests/bridge", "tests/mappings", "tests/test_ratings.py",
         "tests/store/test_protocols.py")  # fmt: skip
KILLED = {1, 3}
STATUS = {0: "survived", 33: "no tests", 5: "no tests", 36: "timeout", 24: "timeout",
          -24: "timeout", 152: "timeout", 255: "timeout", 34: "skipped",
          37: "killed by type check"}  # fmt: skip

# Engine modules without a mirror test file are exercised through `run_sync` far
# more than by import, so the test files that pin their rules are named here (paths
# relative to tests/). A mutant these let through still meets every other test that
# executed it. Fewer files first is faster: collecting them is most of the cost.
OWN_TESTS: dict[str, tuple[str, ...]] = {
    "anibridge.bridge.translate": ("bridge/test_semantics.py", "bridge/test_rewatch.py",
                                   "bridge/test_rule_pins.py"),
    "anibridge.bridge.oneway": ("bridge/test_semantics.py", "bridge/test_rule_pins.py",
                                "bridge/test_rewatch.py", "bridge/test_dates.py"),
    "anibridge.bridge.observe": ("bridge/test_semantics.py", "bridge/test_rule_pins.py",
                                 "bridge/test_rewatch.py"),
    "anibridge.bridge.twoway": ("bridge/test_twoway.py",),
    "anibridge.bridge.passes": ("bridge/test_rewatch.py",),
    "anibridge.bridge.stores": ("store/test_protocols.py",),
    # The mappings tests import from the package (`from anibridge.mappings import`).
    "anibridge.mappings.ranges": ("mappings/test_mappings_properties.py",
                                  "mappings/test_mappings_grammar.py"),
    "anibridge.mappings.grammar": ("mappings/test_mappings_properties.py",),
    "anibridge.mappings.index": ("mappings/test_mappings_properties.py",),
    "anibridge.mappings.dataset": ("mappings/test_mappings_loading.py",
                                   "mappings/test_mappings_index.py"),
    "anibridge.mappings.merge": ("mappings/test_mappings_merge.py",),
    "anibridge.mappings.payload": ("mappings/test_mappings_payload.py",),
    "anibridge.mappings.errors": ("mappings/test_mappings_loading.py",),
    "anibridge.mappings.fetch": ("mappings/test_mappings_fetch.py",),
}  # fmt: skip


def modules() -> list[str]:
    """Every module mutation testing covers, smallest package first."""
    src = ROOT / "src" / "anibridge"
    out = [f"anibridge.{name}" for name in SINGLE]
    for package in PACKAGES:
        for path in sorted((src / package).glob("*.py")):
            if path.name != "__init__.py":
                out.append(f"anibridge.{package}.{path.stem}")
    return out


def test_files() -> list[Path]:
    """The test files of the mutation runs (the unit suites in `TESTS`)."""
    out: list[Path] = []
    for entry in TESTS:
        path = ROOT / entry
        out.extend(sorted(path.rglob("test_*.py")) if path.is_dir() else [path])
    return out


def mirror_names(module: str) -> set[str]:
    """File names of the mirror test file of `module` (tests/ mirrors src/)."""
    stem = module.rpartition(".")[2]
    return {f"test_{stem}.py", f"test_mappings_{stem}.py"}


def own_tests(module: str) -> list[str]:
    """The test files (relative to the root) that test `module` first.

    Those that name it in an import (`from anibridge.bridge.derive import`,
    `from anibridge.bridge import derive`), the mirror file, and `OWN_TESTS`.
    """
    package, _, stem = module.rpartition(".")
    patterns = [
        re.escape(module) + r"\b",
        rf"from {re.escape(package)} import[^\n]*\b{stem}\b",
    ]
    mirror = mirror_names(module)
    own = {f"tests/{name}" for name in OWN_TESTS.get(module, ())}
    for path in test_files():
        rel = path.relative_to(ROOT).as_posix()
        if path.name in mirror or any(re.search(p, path.read_text()) for p in patterns):
            own.add(rel)
    return sorted(own)


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
        m = re.match(r"\|\s*`([\w.ǁ]+__mutmut_\d+)`\s*\|\s*(.+?)\s*\|\s*$", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def module_of(target: str) -> str:
    """The module of a run target: a module name, or a mutant's full name."""
    return target.rsplit(".", 1)[0] if "__mutmut_" in target else target


def run(chosen: Sequence[str], *, mode: str) -> int:
    """The modules' (or named mutants') mutants in one mutmut process.

    One module per process by default; `--together` passes several, which saves
    mutmut's clean run of every test (minutes on a busy machine) per module. The
    log goes to mutants/logs/.
    """
    logs = MUTANTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    own = {
        module: own_tests(module) for module in dict.fromkeys(map(module_of, chosen))
    }
    for module, files in own.items():
        print(f"mutating {module} (own tests: {', '.join(files) or 'none'}) ...")
    sys.stdout.flush()
    env = {**os.environ, "PYTHONHASHSEED": "0", "ANIBRIDGE_MUTATE_OWN": json.dumps(own)}
    env.pop("ANIBRIDGE_TEST_POSTGRES_URL", None)  # no server tests in mutation runs
    names = ",".join(chosen)
    args = [sys.executable, str(Path(__file__).resolve()), "--mutmut", names, mode]
    log_name = "+".join(own) + ("-named" if chosen != list(own) else "")
    with (logs / f"{log_name}.log").open("w") as log:
        done = subprocess.run(
            args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env
        )  # fmt: skip
    if done.returncode:
        print(f"  mutmut stopped with exit code {done.returncode}; see {log.name}")
    return done.returncode


def mutmut_worker(names: str, *, mode: str) -> int:
    """Inside the mutmut process: own tests first; which mutants `mode` says.

    `names`: the modules or full mutant names, comma-separated.

    `pending`: those without a result; `survivors`: those neither killed nor listed
    as equivalent (after a new test); `all`: every one (mutmut re-runs the mutants
    it is given by name or pattern).
    """
    import mutmut.__main__ as mm
    from mutmut.runners.harness import PytestRunner

    targets = names.split(",")
    own_by_module = json.loads(os.environ.get("ANIBRIDGE_MUTATE_OWN", "{}"))

    def first_and_own(module: str) -> tuple[set[str], set[str]]:
        own = set(own_by_module.get(module, ()))
        named = {f"tests/{name}" for name in OWN_TESTS.get(module, ())}
        mirror = mirror_names(module)
        return {p for p in own if Path(p).name in mirror or p in named}, own

    run_tests = PytestRunner.run_tests

    def own_first(
        self: PytestRunner, *, mutant_name: str | None, tests: list[str]
    ) -> int:
        tests = list(tests)
        if mutant_name is None:  # the clean run and the forced failure: everything
            return run_tests(self, mutant_name=mutant_name, tests=tests)
        # Stages, each only if the mutant survived the one before: the mirror file
        # and the files `OWN_TESTS` names (few, fast), the other own files, the rest.
        first, own = first_and_own(mutant_name.rsplit(".", 1)[0])
        stages: list[list[str]] = [[], [], []]
        for t in tests:
            path = t.split("::", 1)[0]
            stages[0 if path in first else 1 if path in own else 2].append(t)
        code = 0
        for stage in stages:
            if code == 0 and stage:
                code = run_tests(self, mutant_name=mutant_name, tests=stage)
        return code

    PytestRunner.run_tests = own_first  # type: ignore[method-assign]

    if mode != "all":
        collect = mm.collect_source_file_mutation_data

        def chosen(*, mutant_names):
            mutants, by_path = collect(mutant_names=mutant_names)
            if mode == "pending":
                return [m for m in mutants if m[2] is None], by_path
            listed = equivalents()
            return [
                m for m in mutants if m[2] not in KILLED and m[1] not in listed
            ], by_path

        mm.collect_source_file_mutation_data = chosen
    patterns = [m if "__mutmut_" in m else f"{m}.*" for m in targets]
    try:
        mm.cli.main(
            ["run", "--max-children", "1", *patterns],
            standalone_mode=False,
        )
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def report() -> int:
    """Print the score per module and every unlisted survivor; 1 if any."""
    listed = equivalents()
    total: Counter[str] = Counter()
    unlisted: list[str] = []
    rows = []
    not_run = []
    empty = []
    stored = results()
    for module in modules():
        codes = stored.get(module, {})
        if module in stored and not codes:
            empty.append(module)
            continue
        if not codes or all(code is None for code in codes.values()):
            not_run.append(f"{module} ({len(codes)} mutants)" if codes else module)
            continue
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            if code in KILLED or code == 37:
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
    print(f"{'module':<34} {'mutants':>7} {'killed':>7} {'equiv':>6} {'surv':>5} "
          f"{'none':>5} {'t/o':>4} {'not run':>7} {'score':>7}")  # fmt: skip
    for module, c in [*rows, ("total", total)]:
        scored = sum(c.values()) - c["equivalent"] - c["not run"]
        score = c["killed"] / scored if scored else 1.0
        print(f"{module:<34} {sum(c.values()):>7} {c['killed']:>7} "
              f"{c['equivalent']:>6} {c['survived']:>5} {c['no tests']:>5} "
              f"{c['timeout']:>4} {c['not run']:>7} {score:>7.1%}")  # fmt: skip
    if empty:
        print(f"\nno mutants (nothing mutmut mutates): {', '.join(empty)}")
    if not_run:
        print(f"\nnot mutated yet: {', '.join(not_run)}")
    if unlisted:
        print(f"\n{len(unlisted)} mutant(s) neither killed nor listed as equivalent "
              f"in {DOC.relative_to(ROOT)}:")  # fmt: skip
        for name in unlisted:
            print(f"  {name}")
    return 1 if unlisted else 0


def main(argv: list[str]) -> int:
    """Mutate the named modules (default: mutants without a result), then report."""
    if argv[:1] == ["--mutmut"]:
        return mutmut_worker(argv[1], mode=argv[2])
    if argv == ["--report"]:
        return report()
    mode = "pending"
    together = "--together" in argv
    argv = [a for a in argv if a != "--together"]
    if argv[:1] in (["--survivors"], ["--all"]):
        mode, argv = argv[0][2:], argv[1:]
    named = [a for a in argv if "__mutmut_" in a]
    for module in map(module_of, argv):
        if module not in modules():
            print(f"unknown module {module!r}; one of: {', '.join(modules())}")
            return 2
    if named:  # named mutants: re-run exactly these, in one process
        if named != argv:
            print("name either modules or mutants, not both")
            return 2
        run(named, mode="all")
        return report()
    stored = results()
    wanted = argv or [
        m for m in modules() if m not in stored or None in stored[m].values()
    ]
    empty = [m for m in wanted if m in stored and not stored[m]]
    for module in empty:
        print(f"{module}: no mutants (nothing mutmut mutates there)")
    wanted = [m for m in wanted if m not in empty]
    for group in [wanted] if together and wanted else [[m] for m in wanted]:
        run(group, mode=mode)
    return report()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
