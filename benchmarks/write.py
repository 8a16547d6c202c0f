"""Benchmarks of the write side: the disk, single appends and batches over HTTP, and
the in-process baselines a batch is compared with."""

import functools
import itertools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import msgspec
from eventsourcing.persistence import StoredEvent

from benchmarks.core import Context, Metric, Target, median, percentile, process_cpu_seconds
from benchmarks.httpload import LoadResult, concurrent, post_request, sequential
from domain.events import EventBatch
from domain.records import EventRecord
from service.commands.events import event_body
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import TradewindsStore
from service.settings import Settings
from tests.support.server import ServerProcess

HOST = "127.0.0.1"
BATCH_SIZE = 1000
CONCURRENT_CLIENTS = 32
# Issue 19's goals: server CPU per single append and per batch of 1000, and the
# batch rate against the recorder's raw insert.
ISSUE_19_APPEND_CPU_US = 300
ISSUE_19_BATCH_CPU_MS = 20
ISSUE_19_BATCH_VS_INSERT = 0.5

# About 200 bytes on the wire and in the store; %07d keeps every event distinct.
_EVENT_TEMPLATE = (
    '{"kind":"signal","occurred_at":"2025-03-01T12:00:00Z",'
    '"summary":"Synthetic benchmark signal %07d (write path)",'
    '"label":"benchmark","tags":["bench"],"source":{"name":"tradewinds-bench"},'
    '"attributes":{"seq":%d}}'
)


def event_json(seq: int) -> bytes:
    return (_EVENT_TEMPLATE % (seq, seq)).encode()


def batch_json(first: int, size: int = BATCH_SIZE) -> bytes:
    return b'{"events":[' + b",".join(event_json(first + i) for i in range(size)) + b"]}"


def stored_bodies(batch: bytes) -> list[str]:
    """What the server stores for each event of a batch body (its canonical JSON)."""
    return [event_body(e) for e in msgspec.json.decode(batch, type=EventBatch).events]


@contextmanager
def server(ctx: Context, name: str) -> Iterator[ServerProcess]:
    data = ctx.scratch / name
    with ServerProcess(data, log_path=ctx.scratch / f"{name}.log") as process:
        yield process


def _server_pid(process: ServerProcess) -> int:
    assert process.process is not None
    return process.process.pid


# --- 1. the disk ----------------------------------------------------------------------


def fsync_rate(ctx: Context) -> Sequence[Metric]:
    """4 KB appends to one file, fdatasync after each: the rate a durable commit cannot beat."""
    block = os.urandom(4096)
    path = ctx.scratch / "fsync.bin"
    rates = []
    for _ in range(ctx.reps(5)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        try:
            start = time.perf_counter()
            for _ in range(200):
                os.write(fd, block)
                os.fdatasync(fd)
            rates.append(200 / (time.perf_counter() - start))
        finally:
            os.close(fd)
    path.unlink()
    return [Metric("fsync_rate", median(rates), "fsync/s", note="4 KB append + fdatasync")]


# --- 2. single appends over HTTP ----------------------------------------------------------


def _latency_metrics(prefix: str, runs: Sequence[LoadResult]) -> list[Metric]:
    p50 = [percentile(sorted(r.latencies_s), 50) * 1000 for r in runs]
    p99 = [percentile(sorted(r.latencies_s), 99) * 1000 for r in runs]
    return [
        Metric(f"{prefix}_p50_ms", median(p50), "ms"),
        Metric(f"{prefix}_p99_ms", median(p99), "ms"),
    ]


def measured_cpu(pid: int, load: Callable[[], LoadResult]) -> tuple[LoadResult, float]:
    """Run ``load``; also return the server's CPU seconds (all threads) per request."""
    cpu0 = process_cpu_seconds(pid)
    result = load()
    return result, (process_cpu_seconds(pid) - cpu0) / max(1, result.requests)


def _floor_cpu_us(port: int, pid: int, seconds: float) -> Metric:
    """The server's CPU per ``GET /health/live`` (uvicorn, litestar, the middleware,
    the access log): what any request costs, measured on the same server."""
    raw = f"GET /health/live HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    sequential(HOST, port, lambda _: raw, seconds=0.3, expect=200)  # warm-up
    _, cpu = measured_cpu(
        pid, lambda: sequential(HOST, port, lambda _: raw, seconds=seconds, expect=200)
    )
    return Metric("http_get_1c_server_cpu_us", cpu * 1e6, "us", note="the floor: GET /health/live")


def http_single_appends(ctx: Context) -> Sequence[Metric]:
    """POST /v1/events, one ~200-byte signal per request: 1 client, then 32 at once."""
    seconds, reps = ctx.seconds(2.0), ctx.reps(3)
    sequence = itertools.count()
    metrics: list[Metric] = []
    with server(ctx, "single") as process:
        port, pid = process.port, _server_pid(process)

        def make(_: int) -> bytes:
            return post_request(HOST, port, "/v1/events", event_json(next(sequence)))

        def load(clients: int, length: float) -> LoadResult:
            if clients == 1:
                return sequential(HOST, port, make, seconds=length)
            return concurrent(HOST, port, make, clients=clients, seconds=length)

        floor = _floor_cpu_us(port, pid, seconds)
        ctx.results[floor.name] = floor  # the baseline of the CPU per append
        metrics.append(floor)

        for clients, baseline_name, target in (
            (1, "fsync_rate", 0.5),
            (CONCURRENT_CLIENTS, "http_append_1c_rate", 3.0),
        ):
            prefix = f"http_append_{clients}c"
            load(clients, 0.5)  # warm-up
            measured = [
                measured_cpu(pid, functools.partial(load, clients, seconds)) for _ in range(reps)
            ]
            runs = [r for r, _ in measured]
            rate = Metric(
                f"{prefix}_rate",
                median([r.rate for r in runs]),
                "appends/s",
                baseline=ctx.value(baseline_name),
                baseline_name=baseline_name,
                targets=(Target(target),),
            )
            ctx.results[rate.name] = rate  # the 32-client ratio needs it
            metrics += [rate, *_latency_metrics(prefix, runs)]
            server_cpu = median([c for _, c in measured]) * 1e6
            client_cpu = median([r.client_cpu_s / r.elapsed_s for r in runs])
            cpu_goal = (Target(ISSUE_19_APPEND_CPU_US, on="value", at_most=True),)
            metrics += [
                Metric(
                    f"{prefix}_server_cpu_us",
                    server_cpu,
                    "us",
                    baseline=ctx.value("http_get_1c_server_cpu_us"),
                    baseline_name="http_get_1c_server_cpu_us",
                    targets=cpu_goal if clients == 1 else (),
                    note="server CPU per append",
                ),
                Metric(f"{prefix}_client_cpu", client_cpu, "cores", note="load generator's CPU"),
            ]
    return metrics


# --- 3. batches of 1000 -----------------------------------------------------------------


@contextmanager
def fresh_store(path: Path) -> Iterator[TradewindsStore]:
    """A new, empty SQLite store of the kind the server uses (same recorder, same pragmas)."""
    app = TradewindsStore(env=eventsourcing_env(Settings(data_dir=path)))
    try:
        yield app
    finally:
        app.close()


def build_records(bodies: Sequence[str]) -> list[EventRecord]:
    now = datetime.now(UTC)
    return [EventRecord.record(uuid4(), body, now) for body in bodies]


def stored_events(app: TradewindsStore, bodies: Sequence[str]) -> list[StoredEvent]:
    return [
        app.mapper.to_stored_event(event)
        for record in build_records(bodies)
        for event in record.collect_events()
    ]


def inprocess_batch_baselines(ctx: Context) -> Sequence[Metric]:
    """A: build 1000 aggregates and ``app.save`` them; B: ``recorder.insert_events`` of
    the same 1000 stored events, already transcoded. Both on a fresh SQLite store."""
    bodies = stored_bodies(batch_json(0))
    per_rep = 10
    save_rates, insert_rates = [], []
    with fresh_store(ctx.scratch / "inprocess-save") as app:
        app.save(*build_records(bodies))  # warm-up
        for _ in range(ctx.reps(5)):
            start = time.perf_counter()
            for _ in range(per_rep):
                app.save(*build_records(bodies))
            save_rates.append(per_rep * BATCH_SIZE / (time.perf_counter() - start))
    with fresh_store(ctx.scratch / "inprocess-insert") as app:
        app.recorder.insert_events(stored_events(app, bodies))
        for _ in range(ctx.reps(5)):
            batches = [stored_events(app, bodies) for _ in range(per_rep)]
            start = time.perf_counter()
            for batch in batches:
                app.recorder.insert_events(batch)
            insert_rates.append(per_rep * BATCH_SIZE / (time.perf_counter() - start))
    return [
        Metric(
            "inprocess_save_1000_rate",
            median(save_rates),
            "events/s",
            note="baseline A: build + app.save",
        ),
        Metric(
            "inprocess_insert_1000_rate",
            median(insert_rates),
            "events/s",
            note="baseline B: recorder.insert_events",
        ),
    ]


def http_batches(ctx: Context) -> Sequence[Metric]:
    """POST /v1/events/batch with 1000 events, one client, one batch at a time."""
    per_rep = 10
    rates, latencies, server_cpu = [], [], []
    with server(ctx, "batch") as process:
        port, pid = process.port, _server_pid(process)
        requests = [
            post_request(HOST, port, "/v1/events/batch", batch_json(k * 1000)) for k in range(4)
        ]

        def make(i: int) -> bytes:
            return requests[i % len(requests)]

        sequential(HOST, port, make, seconds=60, max_requests=3)  # warm-up
        for _ in range(ctx.reps(5)):
            result, cpu = measured_cpu(
                pid, lambda: sequential(HOST, port, make, seconds=60, max_requests=per_rep)
            )
            server_cpu.append(cpu * 1000)
            rates.append(result.rate * BATCH_SIZE)
            latencies.append(percentile(sorted(result.latencies_s), 50) * 1000)
    rate = median(rates)
    save, insert = ctx.value("inprocess_save_1000_rate"), ctx.value("inprocess_insert_1000_rate")
    return [
        Metric(
            "http_batch_1000_rate",
            rate,
            "events/s",
            baseline=save,
            baseline_name="inprocess_save_1000_rate",
            targets=(Target(0.6), Target(30_000, on="value")),
        ),
        Metric(
            "http_batch_1000_rate_vs_insert",
            rate,
            "events/s",
            baseline=insert,
            baseline_name="inprocess_insert_1000_rate",
            targets=(Target(ISSUE_19_BATCH_VS_INSERT),),
        ),
        Metric("http_batch_1000_p50_ms", median(latencies), "ms", note="per 1000-event request"),
        Metric(
            "http_batch_1000_server_cpu_ms",
            median(server_cpu),
            "ms",
            targets=(Target(ISSUE_19_BATCH_CPU_MS, on="value", at_most=True),),
            note="server CPU (all threads) per 1000-event request",
        ),
    ]


WRITE_BENCHMARKS = (fsync_rate, http_single_appends, inprocess_batch_baselines, http_batches)
