"""``python -m tests.mutation [module ...] [--all] [--sample N] [--seed S] [--jobs J]``.

Prints each module's killed/survived counts and every survivor's line and
mutation; exits 0 (a survivor is a finding, not a failure of the run).
"""

import argparse
import glob
import sys
from pathlib import Path

from tests.mutation.runner import (
    Result,
    Target,
    all_mutants,
    baseline_seconds,
    run_mutants,
    sample,
)

ROOT = Path(__file__).resolve().parents[2]
TESTS: dict[str, tuple[str, ...]] = {
    "forecasts/grid.py": ("tests/forecasts/test_grid*.py", "tests/forecasts/test_*.py"),
    "domain/matching/grammar.py": ("tests/domain/test_matching*.py",),
    "domain/matching/predicates.py": ("tests/domain/test_matching*.py",),
    "domain/matching/rule_index.py": ("tests/domain/test_matching*.py",),
    "forecasts/model.py": ("tests/forecasts/test_model*.py", "tests/forecasts/test_*.py"),
    "forecasts/scoring.py": ("tests/forecasts/test_scoring*.py", "tests/forecasts/test_*.py"),
}
"""Each core module's own tests, as globs: the closest first, so a mutant dies early."""


def target(module: str) -> Target:
    files: dict[str, None] = {}
    for pattern in TESTS[module]:
        for path in sorted(glob.glob(pattern, root_dir=ROOT)):
            files[path] = None
    return Target(module, tuple(files))


def _survivors(output: str, module: str) -> set[tuple[int, str]]:
    """(line, mutation) of each survivor of ``module`` listed in an earlier run's output."""
    found = set()
    for line in output.splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) == 3 and parts[0] == "survived" and parts[1].startswith(f"{module}:"):
            found.add((int(parts[1].rsplit(":", 1)[1]), parts[2]))
    return found


def _print_result(result: Result) -> None:
    mark = {"killed": ".", "timeout": "t", "survived": "S"}[result.outcome]
    print(mark, end="", flush=True)


def _run_module(module: str, args: argparse.Namespace) -> tuple[int, int]:
    """Runs the module's sampled mutants and prints the outcome: (killed, sampled)."""
    goal = target(module)
    found = all_mutants(ROOT, goal)
    chosen = sample(found, None if args.all else args.sample, args.seed)
    sampled = len(chosen)
    if args.rerun is not None:
        survived = _survivors(args.rerun.read_text(), module)
        chosen = [m for m in chosen if (m.line, m.description) in survived]
    seconds = baseline_seconds(ROOT, goal)
    timeout = max(30.0, 5 * seconds)
    print(f"{module}: {len(chosen)} of {len(found)} mutants, tests {seconds:.1f} s: ", end="")
    results = run_mutants(ROOT, goal, chosen, timeout, jobs=args.jobs, report=_print_result)
    survivors = [r for r in results if r.outcome == "survived"]
    killed = sampled - len(survivors)
    rate = 100 * killed / sampled if sampled else 100.0
    again = f", of which the earlier run's {len(results)} survivors run again" if args.rerun else ""
    print(f"\n  killed {killed}/{sampled} ({rate:.0f}%){again}")
    for r in sorted(survivors, key=lambda r: r.mutant.line):
        print(f"  survived  {module}:{r.mutant.line}  {r.mutant.description}")
    return killed, sampled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__)
    parser.add_argument("modules", nargs="*", help=f"any of {', '.join(TESTS)} (default: all)")
    parser.add_argument("--all", action="store_true", help="every mutant, not a sample")
    parser.add_argument("--sample", type=int, default=40, help="mutants per module")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once")
    parser.add_argument(
        "--rerun",
        type=Path,
        help="an earlier run's output: run only its survivors (tests only added since then)",
    )
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in TESTS]
    if unknown:
        parser.error(f"not a core module: {', '.join(unknown)}; choose from {', '.join(TESTS)}")
    totals = [0, 0]
    for module in args.modules or list(TESTS):
        killed, run = _run_module(module, args)
        totals[0] += killed
        totals[1] += run
    if totals[1]:
        print(f"total: killed {totals[0]}/{totals[1]} ({100 * totals[0] / totals[1]:.0f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
