"""Where the time of the forecast benchmarks goes (the figures behind BENCHMARKS.md).

    python -m benchmarks.forecast_breakdown [--events 200000]

1. Replay: the bulk catch-up (``service.projection.catchup.catch_up``) run on the main thread of a
   fresh process per stage, on one generated store: eventsourcing's read, the catch-up's
   own read, + decoding the stored state, + the index without rule matching, + rule
   matching (the whole catch-up), and the whole catch-up with the collector left on.
   Stages skip work by replacing one function in their own process; nothing in the
   service is changed.
2. ``GET /v1/forecasts``: litestar and the handler, called in process without a server
   (so no uvicorn, no sockets): CPU per request for ``/health/live``, ``/_bench/bytes``,
   the list (200) and the list (304); then the same with litestar resolving a handler's
   dependencies one after the other instead of in an anyio task group.
3. Append -> visible: in process, from a commit to the index having applied it, as the
   service runs, and with the commit waking the projection's own subscription.
"""

import argparse
import json
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

from litestar._kwargs import kwargs_model
from litestar._kwargs.cleanup import DependencyCleanupGroup
from litestar._kwargs.dependencies import resolve_dependency
from litestar.testing import TestClient

from benchmarks.core import median, percentile, scratch_dir
from benchmarks.corpus import Mix, write_store
from benchmarks.forecasts import status_kb
from domain.records import EventRecord
from service.bootstrap import bootstrap
from service.persistence import sqlitestore
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import TradewindsStore
from service.projection import catchup
from service.projection.catchup import PAGE, catch_up
from service.projection.index import LogIndex
from service.projection.logprojection import LogProjection
from service.projection.matchindex import MatchIndex
from service.settings import Settings
from service.web.app import create_app

STAGES = {
    "read": "eventsourcing's read (select_notifications, pages of 2000): the baseline",
    "lean-read": (
        "the catch-up's read instead (tuples, ids as text; service.projection.catchup.reader)"
    ),
    "decode": "+ decode stored state (catch_up without the index)",
    "index": "+ index: body decode, event table (no rule matching)",
    "match": "+ rule matching (MatchIndex.add_event): the whole catch-up",
    "gc-default": "the whole catch-up, collector left on at Python's default (700, 10, 10)",
}

# --- 1. replay stages (each in its own process) -----------------------------------------


def stage_here(data_dir: Path, stage: str) -> dict[str, float]:

    if stage == "gc-default":
        catchup.gc.disable = lambda: None  # type: ignore[attr-defined,assignment]
    if stage == "decode":

        def advance_only(self: LogIndex, records: list[tuple[Any, ...]]) -> None:
            self.position = records[-1][3]

        LogIndex.add_events = advance_only  # type: ignore[method-assign]
    if stage == "index":
        MatchIndex.add_event = lambda self, *args: None  # type: ignore[method-assign]
    app = TradewindsStore(env=eventsourcing_env(Settings(data_dir=data_dir)))
    index = LogIndex()
    rss0 = status_kb("VmRSS")
    started = time.perf_counter()
    if stage == "read":
        count, last = 0, 0
        while page := app.recorder.select_notifications(last, PAGE, inclusive_of_start=False):
            count += len(page)
            last = page[-1].id
    elif stage == "lean-read":
        count, last, read = 0, 0, catchup.reader(app.recorder)
        while rows := read(last, PAGE):
            count += len(rows)
            last = rows[-1][0]
    else:
        count = catch_up(app, LogProjection(index), index)
    seconds = time.perf_counter() - started
    rss1 = status_kb("VmRSS")
    app.close()
    return {"records": count, "seconds": seconds, "rss_kb": rss1 - rss0}


def replay_stages(data_dir: Path) -> list[tuple[str, dict[str, float]]]:
    rows = []
    for stage in STAGES:
        command = [sys.executable, "-m", "benchmarks.forecast_breakdown", "--stage", stage]
        command += ["--dir", str(data_dir)]
        done = subprocess.run(command, capture_output=True, check=True, text=True, timeout=900)
        rows.append((stage, json.loads(done.stdout.strip().splitlines()[-1])))
    return rows


def replay_report(rows: list[tuple[str, dict[str, float]]]) -> str:
    lines = [
        "| replay stage (cumulative) | records/s | us per record | added | MB of RSS |",
        "|---|---:|---:|---:|---:|",
    ]
    previous = 0.0
    for stage, row in rows:
        per = row["seconds"] / row["records"] * 1e6
        lines.append(
            f"| {STAGES[stage]} | {row['records'] / row['seconds']:,.0f} | {per:.2f} "
            f"| {per - previous:+.2f} | {row['rss_kb'] / 1024:,.0f} |"
        )
        previous = per
    return "\n".join(lines)


# --- 2. litestar and the list handler, in process -----------------------------------------


def _sequential_dependencies() -> None:
    """Make litestar resolve a handler's dependencies one after the other (this process)."""

    async def resolve(self: Any, connection: Any, kwargs: dict[str, Any]) -> Any:
        group = DependencyCleanupGroup()
        for batch in self.dependency_batches:
            for dependency in batch:
                await resolve_dependency(dependency, connection, kwargs, group)
        return group

    kwargs_model.KwargsModel.resolve_dependencies = resolve  # type: ignore[method-assign]


def handler_costs(data_dir: Path, *, sequential: bool, count: int = 5000) -> dict[str, float]:
    """CPU microseconds per request of litestar + handler, called as an ASGI app."""

    if sequential:
        _sequential_dependencies()
    settings = Settings(data_dir=data_dir, benchmark_routes=True, tick_seconds=3600)
    app = create_app(settings)
    costs: dict[str, float] = {}
    with TestClient(app) as client:
        while client.get("/health/ready").status_code != 200:
            time.sleep(0.05)
        listed = client.get("/v1/forecasts")
        cases = {
            "GET /health/live": ("/health/live", "", []),
            "GET /_bench/bytes (same size)": ("/_bench/bytes", f"size={len(listed.content)}", []),
            "GET /v1/forecasts (200)": ("/v1/forecasts", "", []),
            "GET /v1/forecasts (304)": (
                "/v1/forecasts",
                "",
                [(b"if-none-match", listed.headers["etag"].encode())],
            ),
        }

        async def run(path: str, query: str, headers: list[tuple[bytes, bytes]], n: int) -> float:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0", "spec_version": "2.3"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "query_string": query.encode(),
                "root_path": "",
                "headers": [(b"host", b"bench"), *headers],
                "client": ("127.0.0.1", 1),
                "server": ("127.0.0.1", 2),
            }

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                return None

            cpu = time.process_time()
            for _ in range(n):
                await app({**scope, "state": {}}, receive, send)  # type: ignore[arg-type]
            return (time.process_time() - cpu) / n * 1e6

        async def measure() -> None:
            for name, (path, query, headers) in cases.items():
                await run(path, query, headers, count // 10)
                costs[name] = median([await run(path, query, headers, count) for _ in range(3)])

        with client.portal() as portal:
            portal.call(measure)
    return costs


def handler_report(plain: dict[str, float], sequential: dict[str, float]) -> str:
    lines = [
        "| in process, no server | CPU us per request | dependencies one by one |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {plain[name]:.1f} | {sequential[name]:.1f} |" for name in plain]
    return "\n".join(lines)


# --- 3. commit -> applied in the index ---------------------------------------------------------


def _wake_every_subscription() -> None:
    """Make a commit wake the subscriptions of every recorder (this process only)."""

    every: weakref.WeakSet[Any] = weakref.WeakSet()
    recorder = sqlitestore.NotifyingSQLiteRecorder
    subscribe, insert = recorder.subscribe, recorder.insert_events

    def subscribing(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = subscribe(self, *args, **kwargs)
        every.add(found)
        return found

    def inserting(self: Any, *args: Any, **kwargs: Any) -> Any:
        ids = insert(self, *args, **kwargs)
        for subscription in list(every):
            subscription.wake()
        return ids

    recorder.subscribe = subscribing  # type: ignore[method-assign]
    recorder.insert_events = inserting  # type: ignore[method-assign]


def visible_latency(scratch: Path, *, wake_all: bool, count: int = 200) -> list[float]:
    """Milliseconds from a commit's return to the index having applied it, every 10 ms."""

    if wake_all:
        _wake_every_subscription()
    body = '{"kind":"signal","occurred_at":"2026-11-02T12:00:00Z","summary":"x","label":"y"}'
    latencies = []
    settings = Settings(data_dir=scratch / f"visible-{wake_all}")
    with bootstrap(settings, background=False) as tradewinds:
        eventlog = tradewinds.eventlog
        eventlog.catch_up(10)
        time.sleep(0.3)  # the projection runner has started following
        for _ in range(count):
            future = eventlog.committer.submit(lambda at: [EventRecord.record(uuid4(), body, at)])
            recordings = future.result()
            committed = time.perf_counter()
            eventlog.index.reached(recordings[0].notification.id, 5)
            latencies.append((time.perf_counter() - committed) * 1000)
            time.sleep(0.01)
    return sorted(latencies)


# --- running it ------------------------------------------------------------------------


def _in_child(args: list[str]) -> Any:
    command = [sys.executable, "-m", "benchmarks.forecast_breakdown", *args]
    done = subprocess.run(command, capture_output=True, check=True, text=True, timeout=900)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.forecast_breakdown")
    parser.add_argument("--events", type=int, default=200_000, help="size of the replayed store")
    parser.add_argument("--dir", type=Path, help="replay this store instead of a new one")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--part", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        print(json.dumps(stage_here(args.dir, args.stage)))
        return 0
    if args.part:
        return _part(args.part, args.dir)
    with scratch_dir() as scratch:
        data = args.dir
        if data is None:
            data = scratch / "replay"
            info = write_store(data, scenarios=100, events=args.events)
            print(f"store: {info.events:,} events, 100 scenarios ({info.seconds:.1f} s)\n")
        print(replay_report(replay_stages(data)) + "\n", flush=True)
        small = scratch / "small"
        write_store(small, scenarios=20, events=2000, mix=Mix(matching=0.02, bench_signals=0.02))
        plain = _in_child(["--part", "handlers", "--dir", str(small)])
        sequential = _in_child(["--part", "handlers-sequential", "--dir", str(small)])
        print(handler_report(plain, sequential) + "\n", flush=True)
        print("| commit -> applied in the index, ms | p50 | p99 |\n|---|---:|---:|")
        for name, part in (("as the service runs", "visible"), ("commit wakes it", "visible-wake")):
            found = _in_child(["--part", part, "--dir", str(scratch)])
            print(f"| {name} | {percentile(found, 50):.2f} | {percentile(found, 99):.2f} |")
    return 0


def _part(part: str, data: Path) -> int:
    parts: dict[str, Callable[[], Any]] = {
        "handlers": lambda: handler_costs(data, sequential=False),
        "handlers-sequential": lambda: handler_costs(data, sequential=True),
        "visible": lambda: visible_latency(data, wake_all=False),
        "visible-wake": lambda: visible_latency(data, wake_all=True),
    }
    print(json.dumps(parts[part]()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
