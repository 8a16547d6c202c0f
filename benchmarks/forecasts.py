"""Benchmarks of the forecasts (issue 4): polling the list (200 and 304) against a trivial
route of the same size, append-to-visible latency, replay of a large store, history.

Also runnable alone:

    python -m benchmarks.forecasts generate --events 1000000 --dir D   (a synthetic store)
    python -m benchmarks.forecasts replay --dir D --empty-dir E        (one replay, as JSON)
"""

import argparse
import gc
import itertools
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec

from benchmarks.core import Context, Metric, Target, median, percentile, process_cpu_seconds
from benchmarks.corpus import Mix, bench_label, scenario_definitions, write_store
from benchmarks.httpload import LoadResult, post_request
from benchmarks.readload import PairResult, concurrent_gets, get_request, paced_pairs
from service.bootstrap import bootstrap
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import EventLog, TradewindsStore
from service.settings import Settings
from tests.support.server import ServerProcess

HOST = "127.0.0.1"
CLIENTS = 32
# The polling and append benchmarks: 20 scenarios, 2000 events, 4 % of them matching.
SMALL_SCENARIOS = 20
SMALL_EVENTS = 2000
SMALL_MIX = Mix(matching=0.02, bench_signals=0.02)
LIST_TICK_SECONDS = 3600  # the answer for "now" (and its ETag) changes once per tick
APPEND_RATE = 100.0
REPLAY_SCENARIOS = 100
REPLAY_EVENTS = 1_000_000
REPLAY_EVENTS_QUICK = 200_000
READ_PAGE = 1000
SERVE_GC_THRESHOLD = (50_000, 20, 20)  # what ``tradewinds serve`` sets (service/cli/main.py)
HISTORY_SCENARIOS = 200
HISTORY_EVENTS = 100_000
HISTORY_FROM = datetime(2025, 1, 1, tzinfo=UTC)
HISTORY_TO = datetime(2028, 1, 1, tzinfo=UTC)
DAY = 86_400.0

_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class Below(Target):
    """The value is below ``minimum`` (here a ceiling: ``Target`` names its bound so)."""

    on: str = "value"

    def met(self, metric: Metric) -> bool | None:
        return metric.value < self.minimum

    def describe(self, unit: str) -> str:
        return f"< {self.minimum:g} {unit}"


@contextmanager
def _server(ctx: Context, name: str, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """A real ``tradewinds serve`` on a store of 20 scenarios and 2000 events."""
    data = ctx.scratch / name
    write_store(data, scenarios=SMALL_SCENARIOS, events=SMALL_EVENTS, mix=SMALL_MIX)
    with ServerProcess(data, env=env, log_path=ctx.scratch / f"{name}.log") as process:
        yield process


def _pid(process: ServerProcess) -> int:
    assert process.process is not None
    return process.process.pid


def _ms(sorted_seconds: Sequence[float], q: float) -> float:
    return percentile(sorted_seconds, q) * 1000


# --- 1. polling GET /v1/forecasts ------------------------------------------------------


def _wait_for_tick(tick: float, needed: float) -> None:
    """Sleep past the next tick boundary if the measurement would cross it."""
    left = tick - time.time() % tick
    if left < needed:
        time.sleep(left + 1.0)


def _list(port: int) -> tuple[bytes, str, int]:
    response = httpx.get(f"http://{HOST}:{port}/v1/forecasts", timeout=30)
    response.raise_for_status()
    position: int = msgspec.json.decode(response.content)["position"]
    return response.content, response.headers["etag"], position


def http_forecast_list(ctx: Context) -> Sequence[Metric]:
    """GET /v1/forecasts (20 scenarios) at 32 connections, without and with If-None-Match,
    against GET /_bench/bytes of the same size in the same server."""
    seconds, reps = ctx.seconds(2.0), ctx.reps(3)
    env = {"TRADEWINDS_BENCHMARK_ROUTES": "1", "TRADEWINDS_TICK_SECONDS": str(LIST_TICK_SECONDS)}
    with _server(ctx, "forecast-list", env) as process:
        port, pid = process.port, _pid(process)
        _wait_for_tick(LIST_TICK_SECONDS, needed=3 * (1.0 + reps * seconds) + 15)
        body, etag, position = _list(port)
        loads: dict[str, tuple[bytes, int]] = {
            "bytes": (get_request(HOST, port, f"/_bench/bytes?size={len(body)}"), 200),
            "list": (get_request(HOST, port, "/v1/forecasts"), 200),
            "list_304": (get_request(HOST, port, "/v1/forecasts", {"If-None-Match": etag}), 304),
        }
        for raw, expect in loads.values():  # warm-up
            concurrent_gets(HOST, port, raw, clients=CLIENTS, seconds=1.0, expect=expect)
        runs: dict[str, list[tuple[LoadResult, float]]] = {name: [] for name in loads}
        for _ in range(reps):  # interleaved, so drift on the shared machine hits all three
            for name, (raw, expect) in loads.items():
                cpu0 = process_cpu_seconds(pid)
                result = concurrent_gets(
                    HOST, port, raw, clients=CLIENTS, seconds=seconds, expect=expect
                )
                cpu = (process_cpu_seconds(pid) - cpu0) / max(1, result.requests)
                runs[name].append((result, cpu))
        after, after_etag, after_position = _list(port)
        if (after_etag, after_position) != (etag, position) or after != body:
            msg = f"the list changed during the measurement ({etag} -> {after_etag})"
            raise RuntimeError(msg)

    def rate(name: str) -> float:
        return median([r.rate for r, _ in runs[name]])

    def p99(name: str) -> float:
        return median([_ms(sorted(r.latencies_s), 99) for r, _ in runs[name]])

    def server_cpu_us(name: str) -> float:
        return median([c for _, c in runs[name]]) * 1e6

    baseline = rate("bytes")
    client_cpu = max(r.client_cpu_s / r.elapsed_s for rs in runs.values() for r, _ in rs)
    metrics = [
        Metric("forecast_list_body_bytes", len(body), "bytes", note="20 scenarios, as served"),
        Metric(
            "http_bytes_32c_rate",
            baseline,
            "req/s",
            note=f"baseline: GET /_bench/bytes?size={len(body)}, same server and client",
        ),
        Metric("http_bytes_32c_p99_ms", p99("bytes"), "ms"),
        Metric("http_bytes_32c_server_cpu_us", server_cpu_us("bytes"), "us"),
    ]
    for name, label in (("list", "http_forecasts_32c"), ("list_304", "http_forecasts_304_32c")):
        metrics += [
            Metric(
                f"{label}_rate",
                rate(name),
                "req/s",
                baseline=baseline,
                baseline_name="http_bytes_32c_rate",
                targets=(Target(0.8),),
            ),
            Metric(f"{label}_p99_ms", p99(name), "ms"),
            Metric(f"{label}_server_cpu_us", server_cpu_us(name), "us", note="server CPU per GET"),
        ]
    metrics.append(
        Metric("http_forecasts_client_cpu", client_cpu, "cores", note="load generator, worst run")
    )
    return metrics


# --- 2. append -> visible ------------------------------------------------------------------


def _signal(seq: int, label: str) -> bytes:
    return msgspec.json.encode(
        {
            "kind": "signal",
            "occurred_at": "2026-11-02T12:00:00Z",
            "summary": f"Benchmark signal {seq}: a fresh read of the supply-chain news.",
            "label": label,
            "source": {"name": "tradewinds-bench"},
            "attributes": {"seq": seq},
        }
    )


def http_append_visible(ctx: Context) -> Sequence[Metric]:
    """100 pairs/s for 5 s: POST /v1/events (a signal one scenario's rule matches), then
    GET /v1/forecasts/{that scenario}?min_position=<the receipt's position>."""
    slugs = [slug for slug, _ in scenario_definitions(SMALL_SCENARIOS)]
    sequence = itertools.count()
    with _server(ctx, "append-visible") as process:
        port = process.port

        def make_post(i: int) -> bytes:
            body = _signal(next(sequence), bench_label(i % SMALL_SCENARIOS))
            return post_request(HOST, port, "/v1/events", body)

        def make_get(i: int, position: int) -> bytes:
            slug = slugs[i % SMALL_SCENARIOS]
            return get_request(HOST, port, f"/v1/forecasts/{slug}?min_position={position}")

        paced_pairs(HOST, port, make_post, make_get, rate=APPEND_RATE, seconds=1.0)  # warm-up
        result = paced_pairs(
            HOST, port, make_post, make_get, rate=APPEND_RATE, seconds=ctx.seconds(5.0)
        )
    return _pair_metrics(result)


def _pair_metrics(result: PairResult) -> list[Metric]:
    total, post, got = sorted(result.total_s), sorted(result.post_s), sorted(result.get_s)
    late = sorted(result.late_s)
    pairs = len(total)
    return [
        Metric(
            "append_visible_p50_ms",
            _ms(total, 50),
            "ms",
            note=f"{pairs} pairs at {pairs / result.elapsed_s:.0f}/s, "
            f"{result.connections} connections",
        ),
        Metric("append_visible_p99_ms", _ms(total, 99), "ms", targets=(Below(20),)),
        Metric("append_visible_post_p50_ms", _ms(post, 50), "ms", note="the POST alone"),
        Metric("append_visible_post_p99_ms", _ms(post, 99), "ms"),
        Metric("append_visible_get_p50_ms", _ms(got, 50), "ms", note="the GET alone"),
        Metric("append_visible_get_p99_ms", _ms(got, 99), "ms"),
        Metric(
            "append_visible_late_p99_ms",
            _ms(late, 99),
            "ms",
            note="how late pairs started (pacing check)",
        ),
    ]


# --- 3. replay of a large store ---------------------------------------------------------


def raw_read_rate(data_dir: Path) -> float:
    """eventsourcing's own read of the whole log in pages of 1000 notifications."""
    app = TradewindsStore(env=_env(data_dir))
    try:
        count, last = 0, 0
        started = time.perf_counter()
        while page := app.recorder.select_notifications(last, READ_PAGE, inclusive_of_start=False):
            count += len(page)
            last = page[-1].id
        return count / (time.perf_counter() - started)
    finally:
        app.close()


def _env(data_dir: Path) -> dict[str, str]:
    return eventsourcing_env(Settings(data_dir=data_dir))


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    msg = f"no {field} in /proc/self/status"
    raise KeyError(msg)


def _caught_up(eventlog: EventLog) -> None:
    while not eventlog.catch_up(60):
        if eventlog.projection_failed:
            msg = "the projection failed during the replay"
            raise RuntimeError(msg)


def replay_here(data_dir: Path, empty_dir: Path, gc_mode: str) -> dict[str, float]:
    """Replay ``data_dir`` in this process: RSS with an empty event log first, then the time
    from a fresh one to caught up, and the RSS after it."""
    if gc_mode == "serve":
        gc.set_threshold(*SERVE_GC_THRESHOLD)
    with bootstrap(Settings(data_dir=empty_dir), background=False) as empty:
        _caught_up(empty.eventlog)
        rss_empty = status_kb("VmRSS")
    started = time.perf_counter()
    tradewinds = bootstrap(Settings(data_dir=data_dir), background=False)
    tradewinds.start()
    eventlog = tradewinds.eventlog
    _caught_up(eventlog)
    seconds = time.perf_counter() - started
    rss_after = status_kb("VmRSS")
    try:
        matches = sum(
            len(rule)
            for scenario in eventlog.index.matches.scenarios.values()
            for version in scenario.versions
            for rule in version.matches
        )
        return {
            "records": eventlog.index.position,
            "events": len(eventlog.index.table),
            "scenarios": len(eventlog.index.scenarios),
            "matches": matches,
            "seconds": seconds,
            "rss_empty_kb": rss_empty,
            "rss_after_kb": rss_after,
            "hwm_kb": status_kb("VmHWM"),
            "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
    finally:
        tradewinds.stop()


def replay_subprocess(data_dir: Path, empty_dir: Path, gc_mode: str) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.forecasts", "replay"]
    command += ["--dir", str(data_dir), "--empty-dir", str(empty_dir), "--gc", gc_mode]
    done = subprocess.run(command, capture_output=True, check=True, text=True, timeout=600)
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def replay_store(ctx: Context) -> Sequence[Metric]:
    """Generate a store of 100 scenarios and 1,000,000 events (200,000 with --quick), read
    it raw, then replay it in a subprocess: rate, peak RSS, bytes per indexed event."""
    events = REPLAY_EVENTS_QUICK if ctx.quick else REPLAY_EVENTS
    data, empty = ctx.scratch / "replay", ctx.scratch / "replay-empty"
    info = write_store(data, scenarios=REPLAY_SCENARIOS, events=events)
    raw = median([raw_read_rate(data) for _ in range(2)])
    runs = [replay_subprocess(data, empty, "default") for _ in range(2)]
    plain = runs[0]
    seconds = median([run["seconds"] for run in runs])
    records = plain["records"]
    per_event = (plain["rss_after_kb"] - plain["rss_empty_kb"]) * 1024 / plain["events"]
    size = (data / "tradewinds.sqlite3").stat().st_size
    targets = (Target(0.5), Target(100_000, on="value"))
    return [
        Metric(
            "replay_generate_s",
            info.seconds,
            "s",
            note=f"{events:,} events + {REPLAY_SCENARIOS} scenarios in process, "
            f"{size / 1e6:,.0f} MB of SQLite",
        ),
        Metric(
            "replay_raw_read_rate",
            raw,
            "events/s",
            note=f"baseline: select_notifications, pages of {READ_PAGE}",
        ),
        Metric(
            "replay_rate",
            records / seconds,
            "events/s",
            baseline=raw,
            baseline_name="replay_raw_read_rate",
            targets=targets,
            note=f"fresh EventLog to caught up, {records:,.0f} records in "
            f"{seconds:.1f} s (median of 2); {plain['matches']:,.0f} rule matches",
        ),
        Metric("replay_empty_rss_mb", plain["rss_empty_kb"] / 1024, "MB"),
        Metric("replay_rss_after_mb", plain["rss_after_kb"] / 1024, "MB"),
        Metric(
            "replay_peak_rss_mb",
            plain["hwm_kb"] / 1024,
            "MB",
            note=f"VmHWM; ru_maxrss {plain['maxrss_kb'] / 1024:,.0f} MB",
        ),
        Metric(
            "replay_bytes_per_event",
            per_event,
            "bytes",
            note="(RSS after replay - RSS of an empty EventLog) / events",
        ),
    ]


# --- 4. history ---------------------------------------------------------------------------


@contextmanager
def _serve_gc() -> Iterator[None]:
    """The collector as ``tradewinds serve`` sets it, in this process, for a while."""
    threshold = gc.get_threshold()
    gc.set_threshold(*SERVE_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def history_200(ctx: Context) -> Sequence[Metric]:
    """Forecaster.history in process (what GET .../history computes, plus its JSON
    encoding) for 200 scenarios, 2025-01-01 to 2028-01-01, daily; the garbage collector
    set as in ``tradewinds serve``."""
    data = ctx.scratch / "history"
    write_store(data, scenarios=HISTORY_SCENARIOS, events=HISTORY_EVENTS)
    settings = Settings(data_dir=data)
    with bootstrap(settings, background=False) as tradewinds, _serve_gc():
        eventlog = tradewinds.eventlog
        _caught_up(eventlog)
        gc.freeze()  # as tradewinds serve does once caught up
        forecaster = tradewinds.forecaster
        slugs = sorted(eventlog.index.matches.scenarios)
        first, last = HISTORY_FROM.timestamp(), HISTORY_TO.timestamp()
        points = 0

        def one_pass() -> tuple[float, list[float]]:
            nonlocal points
            each = []
            started = time.perf_counter()
            for slug in slugs:
                t0 = time.perf_counter()
                history = forecaster.history(
                    slug, first, last, DAY, float("inf"), settings.history_max_points
                )
                assert history is not None
                _encoder.encode(history)
                points = len(history.points)
                each.append(time.perf_counter() - t0)
            return time.perf_counter() - started, sorted(each)

        cold, _ = one_pass()
        warm = [one_pass() for _ in range(ctx.reps(3))]
        matches = sum(
            len(rule)
            for scenario in eventlog.index.matches.scenarios.values()
            for rule in scenario.current.matches
        )
    total = median([t for t, _ in warm])
    worst = max(each[-1] for _, each in warm) * 1000
    return [
        Metric(
            "history_200x3y_s",
            total,
            "s",
            note=f"{len(slugs)} scenarios x {points} daily points, in process; "
            f"{matches / len(slugs):,.0f} matches per scenario on average",
        ),
        Metric("history_200x3y_cold_s", cold, "s", note="first pass (match arrays built)"),
        Metric("history_one_max_ms", worst, "ms", note="slowest single scenario"),
    ]


FORECAST_BENCHMARKS: tuple[Callable[[Context], Sequence[Metric]], ...] = (
    http_forecast_list,
    http_append_visible,
    replay_store,
    history_200,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.forecasts", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="write a synthetic store")
    generate.add_argument("--dir", type=Path, required=True)
    generate.add_argument("--events", type=int, default=REPLAY_EVENTS)
    generate.add_argument("--scenarios", type=int, default=REPLAY_SCENARIOS)
    replay = commands.add_parser("replay", help="replay a store once; prints JSON")
    replay.add_argument("--dir", type=Path, required=True)
    replay.add_argument("--empty-dir", type=Path, required=True)
    replay.add_argument("--gc", choices=("default", "serve"), default="default")
    args = parser.parse_args(argv)
    if args.command == "generate":
        info = write_store(args.dir, scenarios=args.scenarios, events=args.events)
        print(f"{info.events:,} events, {info.scenarios} scenarios in {info.seconds:.1f} s")
    else:
        print(json.dumps(replay_here(args.dir, args.empty_dir, args.gc)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
