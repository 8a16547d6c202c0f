"""Memory per indexed event, counted by tracemalloc (deterministic, unlike RSS on a
shared machine), and where it goes.

Two stores of the replay corpus (100 scenarios; ``EVENTS`` and half as many world
events) are caught up into a fresh ``LogIndex`` each, as a server does at start,
with tracemalloc on. The bytes the index still holds afterwards, over the events,
is the figure; the slope between the two sizes is the cost of one more event, which
extrapolates it to ``AT_SCALE`` events (the fixed part, scenarios and a bounded body
cache, does not grow). The allocation sites holding the most are reported too.

Reading the bodies back costs the listings: ``listing_page_ms`` times pages of
``GET /v1/events`` in process (``LogIndex.list_events``, the route's work less the
HTTP) at random cursors of the same store, on an index reading bodies back and on
one keeping them all (as before), in the same run.

    python -m benchmarks.memory --dir D [--events N]      (prints the figures and the sites)
"""

import argparse
import gc
import random
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

from benchmarks.core import Context, Metric
from benchmarks.corpus import write_store
from benchmarks.forecasts import Below
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import TradewindsStore
from service.projection.catchup import catch_up
from service.projection.eventtable import KINDS
from service.projection.index import LogIndex
from service.projection.logprojection import LogProjection
from service.settings import Settings

EVENTS = 400_000
EVENTS_QUICK = 100_000
SCENARIOS = 100
AT_SCALE = 10_000_000
GOAL_BYTES = 300
TOP_SITES = 8
PAGES = 300
PAGE_LIMIT = 100


def index_of(app: TradewindsStore) -> LogIndex:
    """The index a server builds at start from this store."""
    return LogIndex(app.recorder)


def held_bytes(data_dir: Path) -> tuple[int, int, list[tuple[str, int]]]:
    """Catch up with the store at ``data_dir`` under tracemalloc, then scan every kind
    once (a new scenario version over all kinds: the scans' packs, ``packedbodies``,
    count, at their largest): (events indexed, bytes the index holds, the allocation
    sites holding the most)."""
    app = TradewindsStore(env=eventsourcing_env(Settings(data_dir=data_dir)))
    try:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        index = index_of(app)
        catch_up(app, LogProjection(index), index)
        for _ in index.table.of_kinds(frozenset(KINDS)):
            pass
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        grown = after.compare_to(before, "lineno")
        held = sum(stat.size_diff for stat in grown)
        sites = [
            (
                f"{stat.traceback[0].filename.rsplit('/', 2)[-1]}:{stat.traceback[0].lineno}",
                stat.size_diff,
            )
            for stat in grown[:TOP_SITES]
        ]
        return len(index.table), held, sites
    finally:
        app.close()


def page_cpu_ms(data_dir: Path, *, stored: bool, pages: int = PAGES) -> float:
    """Mean CPU time of a page of ``PAGE_LIMIT`` events at random cursors (seeded)."""
    app = TradewindsStore(env=eventsourcing_env(Settings(data_dir=data_dir)))
    try:
        index = LogIndex(app.recorder if stored else None)
        catch_up(app, LogProjection(index), index)
        cursors = random.Random(7).sample(range(index.position), pages)
        started = time.process_time()
        for after in cursors:
            index.list_events(after, PAGE_LIMIT)
        return (time.process_time() - started) * 1000 / pages
    finally:
        app.close()


def _site(frame: tracemalloc.Frame) -> str:
    return f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"


def memory_per_event(ctx: Context) -> Sequence[Metric]:
    events = EVENTS_QUICK if ctx.quick else EVENTS
    half, full = ctx.scratch / "memory-half", ctx.scratch / "memory-full"
    write_store(half, scenarios=SCENARIOS, events=events // 2)
    write_store(full, scenarios=SCENARIOS, events=events)
    count_half, bytes_half, _ = held_bytes(half)
    count, held, sites = held_bytes(full)
    slope = (held - bytes_half) / (count - count_half)
    at_scale = (held + slope * (AT_SCALE - count)) / AT_SCALE
    kept_ms = page_cpu_ms(full, stored=False)
    stored_ms = page_cpu_ms(full, stored=True)
    where = ", ".join(f"{site} {size / count:.0f} B" for site, size in sites)
    return [
        Metric(
            "index_bytes_per_event",
            held / count,
            "B",
            baseline=GOAL_BYTES,
            baseline_name="goal",
            note=f"tracemalloc, {count:,} events caught up, every kind scanned; per event: {where}",
        ),
        Metric(
            "index_bytes_per_event_10m",
            at_scale,
            "B",
            baseline=GOAL_BYTES,
            baseline_name="goal",
            targets=(Below(GOAL_BYTES + 1),),
            note=f"extrapolated: held at {count:,} + {slope:.0f} B per further event",
        ),
        Metric("listing_page_kept_ms", kept_ms, "ms", note=f"CPU, {PAGE_LIMIT} per page"),
        Metric(
            "listing_page_ms",
            stored_ms,
            "ms",
            baseline=kept_ms,
            baseline_name="listing_page_kept_ms",
            note="bodies read back from the store (all but the latest 4096)",
        ),
    ]


MEMORY_BENCHMARKS = (memory_per_event,)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--events", type=int, default=EVENTS_QUICK)
    parser.add_argument("--dir", type=Path, required=True, help="an empty scratch directory")
    args = parser.parse_args(argv)
    write_store(args.dir, scenarios=SCENARIOS, events=args.events)
    count, held, sites = held_bytes(args.dir)
    print(f"{count:,} events, {held / count:.0f} B per event")
    for site, size in sites:
        print(f"  {site}: {size / count:.1f} B per event")
    for stored in (False, True):
        ms = page_cpu_ms(args.dir, stored=stored)
        print(f"page of {PAGE_LIMIT}, bodies read back: {stored}: {ms:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
