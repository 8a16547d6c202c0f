"""Run every benchmark, print one table and write the results as JSON.

    python -m benchmarks.run --output benchmarks/results.json     (what ``make bench`` runs)

Each benchmark is a function of a ``Context`` returning ``Metric``s; later
benchmarks may use earlier results as baselines, so ``BENCHMARKS`` is in order.
To add one, write the function and append it to ``BENCHMARKS``.
"""

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.backtest import BACKTEST_BENCHMARKS
from benchmarks.calibration import CALIBRATION_BENCHMARKS
from benchmarks.calibrationpoll import CALIBRATION_POLL_BENCHMARKS
from benchmarks.core import (
    SCRATCH_PARENT,
    Benchmark,
    Context,
    Metric,
    filesystem_of,
    machine_busy,
    scratch_dir,
)
from benchmarks.forecasts import FORECAST_BENCHMARKS
from benchmarks.memory import MEMORY_BENCHMARKS
from benchmarks.postgres import POSTGRES_BENCHMARKS
from benchmarks.preview import PREVIEW_BENCHMARKS
from benchmarks.stackfloor import STACK_FLOOR_BENCHMARKS
from benchmarks.underload import UNDER_LOAD_BENCHMARKS
from benchmarks.write import WRITE_BENCHMARKS
from benchmarks.writestages import write_stages

BUSY_WARNING = 0.15
WRITE_SIDE: tuple[Benchmark, ...] = (
    WRITE_BENCHMARKS[0],
    write_stages,
    *WRITE_BENCHMARKS[1:],
    *STACK_FLOOR_BENCHMARKS,
)
GROUPS: dict[str, tuple[Benchmark, ...]] = {"write": WRITE_SIDE}
"""Names ``--only`` also takes: each runs a group of benchmarks, in order."""
BENCHMARKS: tuple[Benchmark, ...] = (
    *WRITE_SIDE,
    *FORECAST_BENCHMARKS,
    *MEMORY_BENCHMARKS,
    *BACKTEST_BENCHMARKS,
    *CALIBRATION_BENCHMARKS,
    *CALIBRATION_POLL_BENCHMARKS,
    *UNDER_LOAD_BENCHMARKS,
    *POSTGRES_BENCHMARKS,
    *PREVIEW_BENCHMARKS,
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def table(metrics: Sequence[Metric]) -> str:
    header = ("metric", "value", "unit", "baseline", "ratio", "target", "met")
    rows = [header]
    for m in metrics:
        ratio = m.ratio
        verdict = m.met()
        rows.append(
            (
                m.name,
                _number(m.value),
                m.unit,
                "" if m.baseline is None else f"{_number(m.baseline)} ({m.baseline_name})",
                "" if ratio is None else f"{ratio:.2f}",
                "; ".join(t.describe(m.unit) for t in m.targets),
                {True: "yes", False: "NO", None: ""}[verdict],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {1, 4}
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  {m.name}: {m.note}" for m in metrics if m.note]
    return "\n".join(lines + (["", *notes] if notes else []))


def run(benchmarks: Sequence[Benchmark], ctx: Context) -> list[Metric]:
    """Run in order; before each, report how busy the machine is without us."""
    metrics: list[Metric] = []
    for benchmark in benchmarks:
        busy = machine_busy(0.5)
        print(f"... {benchmark.__name__} (CPUs {busy:.0%} busy before)", end="", flush=True)
        started = time.perf_counter()
        for metric in benchmark(ctx):
            ctx.results[metric.name] = metric
            metrics.append(metric)
        print(f": {time.perf_counter() - started:.1f} s", flush=True)
        if busy > BUSY_WARNING:
            print(f"    warning: other processes kept the CPUs {busy:.0%} busy", flush=True)
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results.json"))
    parser.add_argument("--quick", action="store_true", help="fewer and shorter repetitions")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="run only benchmarks with this name, or a group of them (write)",
    )
    args = parser.parse_args(argv)
    chosen = {b for name in args.only for b in GROUPS.get(name, ())}
    selected = [b for b in BENCHMARKS if not args.only or b.__name__ in args.only or b in chosen]
    started = time.perf_counter()
    with scratch_dir(SCRATCH_PARENT, keep=args.keep) as scratch:
        mount, fstype, device = filesystem_of(scratch)
        print(
            f"machine: {os.cpu_count()} CPUs, {cpu_model()}; Python {platform.python_version()}\n"
            f"scratch: {scratch} on {fstype} ({device} at {mount}); "
            f"load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        ctx = Context(scratch=scratch, quick=args.quick)
        metrics = run(selected, ctx)
    print()
    print(table(metrics))
    for report in ctx.reports:
        print()
        print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    found = {m.name: m.as_json() for m in metrics}
    if args.only and args.output.exists():  # a partial run updates its own figures only
        found = {**json.loads(args.output.read_text()), **found}
    args.output.write_text(json.dumps(found, indent=2) + "\n")
    missed = [m.name for m in metrics if m.met() is False]
    print(
        f"\nwrote {args.output} ({len(metrics)} metrics) in {time.perf_counter() - started:.0f} s"
    )
    if missed:
        print(f"targets missed: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
