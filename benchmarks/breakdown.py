"""Where the time of one 1000-event batch goes.

    python -m benchmarks.breakdown

1. In this process, on a fresh SQLite store of the server's kind, runs the same
   functions the server runs for ``POST /v1/events/batch`` (and that its
   projection runs afterwards), in order, and times each stage with the garbage
   collector off (median of several batches).
2. Posts the same batch to a real ``tradewinds serve`` (ServerProcess) many
   times, with a ``sitecustomize`` on its PYTHONPATH that records how long each
   garbage collection takes: nothing in the service is changed.
3. Prints the stages, the server's GC time and CPU time per batch, and what is
   left over: HTTP (uvicorn with h11, litestar), handing work between threads
   and waiting for the GIL.
"""

import gc
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import msgspec
from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import StoredEvent, Tracking

from benchmarks.core import median, process_cpu_seconds, scratch_dir
from benchmarks.httpload import post_request, sequential
from benchmarks.write import (
    BATCH_SIZE,
    HOST,
    batch_json,
    build_records,
    event_json,
    fresh_store,
    stored_bodies,
)
from domain.events import BaseEvent, EventBatch
from domain.records import EventRecord
from service.bootstrap import bootstrap
from service.commands.events import Receipt, event_body
from service.commands.idempotency import assign_ids
from service.projection.index import LogIndex
from service.projection.logprojection import LogProjection
from service.settings import Settings
from tests.support.server import ServerProcess

T = TypeVar("T")
DECODE, IDS, BODIES, BUILD, COLLECT, TRANSCODE, INSERT, COMMIT, RECEIPTS, READ, APPLY = (
    "request body: decode + validate (msgspec)",
    "assign ids (uuid4)",
    "canonical bodies (event_body)",
    "build aggregates (EventRecord.record)",
    "app.save: collect pending events",
    "app.save: transcode (mapper.to_stored_event)",
    "app.save: SQLite inserts",
    "app.save: SQLite commit (WAL write + fsync)",
    "receipts + encode response",
    "projection: read + decode notifications",
    "projection: LogIndex.add_event",
)
STAGES = (DECODE, IDS, BODIES, BUILD, COLLECT, TRANSCODE, INSERT, COMMIT, RECEIPTS, READ, APPLY)
DIRECT_COLLECT = "aggregate.collect_events() without app.save's checks"

# Loaded by the server's interpreter at start (site imports ``sitecustomize`` from the
# PYTHONPATH): appends "generation milliseconds" for every garbage collection to a file.
GC_PROBE = """\
import gc, os, time
_out = open(os.environ["TRADEWINDS_GC_LOG"], "a", buffering=1)
_start = [0.0]
def _probe(phase, info):
    if phase == "start":
        _start[0] = time.perf_counter()
    else:
        _out.write(f"{info['generation']} {(time.perf_counter() - _start[0]) * 1000:.3f}\\n")
gc.callbacks.append(_probe)
"""


def _timed(times: dict[str, list[float]], stage: str, work: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = work()
    times.setdefault(stage, []).append(time.perf_counter() - start)
    return result


def _insert_then_commit(
    app: Any, stored: list[StoredEvent], times: dict[str, list[float]]
) -> list[int]:
    """``recorder.insert_events`` in two timed halves: the INSERTs, then the COMMIT."""
    recorder = app.recorder
    with recorder.datastore.transaction(commit=True) as cursor:
        ids: list[int] = _timed(times, INSERT, lambda: recorder._insert_events(cursor, stored))
        committing = time.perf_counter()
    times.setdefault(COMMIT, []).append(time.perf_counter() - committing)
    return ids


def one_batch(app: Any, index: LogIndex, body: bytes, times: dict[str, list[float]]) -> None:
    events: Sequence[BaseEvent] = _timed(
        times, DECODE, lambda: msgspec.json.decode(body, type=EventBatch).events
    )
    ids: list[UUID] = _timed(times, IDS, lambda: assign_ids(events, None, batch=True))
    bodies = _timed(times, BODIES, lambda: [event_body(e) for e in events])
    now = datetime.now(UTC)
    records = _timed(
        times,
        BUILD,
        lambda: [EventRecord.record(i, b, now) for i, b in zip(ids, bodies, strict=True)],
    )
    pending = [list(r.pending_events) for r in records]
    processing: ProcessingEvent[UUID] = ProcessingEvent()
    _timed(times, COLLECT, lambda: processing.collect_events(*records))
    for record, events_of_record in zip(records, pending, strict=True):  # again, directly
        record.pending_events[:] = events_of_record
    _timed(times, DIRECT_COLLECT, lambda: [e for r in records for e in r.collect_events()])
    stored = _timed(
        times, TRANSCODE, lambda: [app.mapper.to_stored_event(e) for e in processing.events]
    )
    positions = _insert_then_commit(app, stored, times)
    _timed(
        times,
        RECEIPTS,
        lambda: msgspec.json.encode(
            [
                Receipt(event_id=e.originator_id, position=p, recorded_at=now)
                for e, p in zip(processing.events, positions, strict=True)
            ]
        ),
    )

    def read() -> list[tuple[int, Any]]:
        notifications = app.recorder.select_notifications(
            positions[0], BATCH_SIZE, inclusive_of_start=True
        )
        return [(n.id, app.mapper.to_domain_event(n)) for n in notifications]

    decoded = _timed(times, READ, read)
    projection = LogProjection(view=index)

    def apply() -> None:
        for position, event in decoded:
            projection.process_event(event, Tracking(app.name, position))

    _timed(times, APPLY, apply)


def stage_times(scratch: Path, batches: int = 12) -> dict[str, float]:
    """Median seconds per stage for one batch of 1000, garbage collector off."""
    body = batch_json(0)
    times: dict[str, list[float]] = {}
    with fresh_store(scratch / "breakdown") as app:
        index = LogIndex()
        one_batch(app, index, body, {})  # warm-up
        for _ in range(batches):
            gc.collect()
            gc.disable()
            try:
                one_batch(app, index, body, times)
            finally:
                gc.enable()
    return {stage: median(values) for stage, values in times.items()}


class ServerFigures:
    def __init__(self, latencies: list[float], elapsed: float, cpu: float, gc_ms: list[float]):
        self.batches = len(latencies)
        self.p50 = median(latencies)
        self.mean = elapsed / self.batches
        self.cpu = cpu / self.batches
        self.gc = [ms / 1000 / self.batches for ms in gc_ms]  # seconds per batch, by generation


def server_figures(scratch: Path, batches: int = 40) -> ServerFigures:
    """Post ``batches`` batches, one at a time, to a real server with the GC probe."""
    probe = scratch / "gcprobe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(GC_PROBE)
    gc_log = scratch / "gc.log"
    path = os.pathsep.join(p for p in (str(probe), os.environ.get("PYTHONPATH", "")) if p)
    env = {"PYTHONPATH": path, "TRADEWINDS_GC_LOG": str(gc_log)}
    with ServerProcess(scratch / "server", log_path=scratch / "server.log", env=env) as process:
        assert process.process is not None
        raw = post_request(HOST, process.port, "/v1/events/batch", batch_json(0))
        sequential(HOST, process.port, lambda _: raw, seconds=60, max_requests=3)  # warm-up
        time.sleep(0.2)
        gc_start = len(gc_log.read_text().splitlines())
        cpu0 = process_cpu_seconds(process.process.pid)
        result = sequential(HOST, process.port, lambda _: raw, seconds=120, max_requests=batches)
        cpu = process_cpu_seconds(process.process.pid) - cpu0
        gc_lines = gc_log.read_text().splitlines()[gc_start:]
    gc_ms = [0.0, 0.0, 0.0]
    for line in gc_lines:
        generation, ms = line.split()
        gc_ms[int(generation)] += float(ms)
    return ServerFigures(result.latencies_s, result.elapsed_s, cpu, gc_ms)


def report(stages: dict[str, float], server: ServerFigures) -> str:
    per_batch = server.mean
    rows: list[tuple[str, float]] = [(s, stages[s]) for s in STAGES]
    rows += [(f"garbage collection, generation {g} (server)", t) for g, t in enumerate(server.gc)]
    accounted = sum(t for _, t in rows)
    rows.append(("rest: HTTP, threads, GIL waits", per_batch - accounted))
    lines = [f"{'one batch of 1000 events':52} {'ms':>7} {'share':>6}"]
    lines += [f"{name:52} {t * 1000:7.2f} {t / per_batch:6.0%}" for name, t in rows]
    lines += [
        f"{'= time per batch at one client (mean)':52} {per_batch * 1000:7.2f} {1:6.0%}",
        "",
        f"server: {server.batches} batches, p50 {server.p50 * 1000:.1f} ms, "
        f"{BATCH_SIZE / per_batch:,.0f} events/s, CPU {server.cpu * 1000:.1f} ms per batch",
        f"(for comparison) {DIRECT_COLLECT}: {stages[DIRECT_COLLECT] * 1000:.2f} ms",
    ]
    return "\n".join(lines)


def _per_op(work: Callable[[], object], count: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this whole process) per call of ``work``."""
    cpu0, start = time.process_time(), time.perf_counter()
    for _ in range(count):
        work()
    return (time.perf_counter() - start) / count, (time.process_time() - cpu0) / count


def single_append_figures(scratch: Path, seconds: float = 2.0) -> list[tuple[str, float, float]]:
    """Wall and CPU time per operation of the parts of one single append, one at a time."""
    body = stored_bodies(batch_json(0, 1))[0]
    rows: list[tuple[str, float, float]] = []
    count = 2000
    with fresh_store(scratch / "single-save") as app:
        rows.append(
            (
                "app.save of one new EventRecord",
                *_per_op(lambda: app.save(*build_records([body])), count),
            )
        )
    with bootstrap(Settings(data_dir=scratch / "single-log"), background=False) as tradewinds:
        eventlog = tradewinds.eventlog

        def commit() -> object:
            return eventlog.committer.submit(
                lambda at: [EventRecord.record(uuid4(), body, at)]
            ).result()

        rows.append(
            ("the same through GroupCommitter, projection running", *_per_op(commit, count))
        )
    with ServerProcess(scratch / "single-server", log_path=scratch / "single.log") as process:
        assert process.process is not None
        pid, port = process.process.pid, process.port
        get = f"GET /health/live HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
        post = post_request(HOST, port, "/v1/events", event_json(0))
        for name, raw, status in (
            ("HTTP floor: GET /health/live (server CPU)", get, 200),
            ("POST /v1/events (server CPU)", post, 201),
        ):

            def make(_: int, raw: bytes = raw) -> bytes:
                return raw

            sequential(HOST, port, make, seconds=0.3, expect=status)
            cpu0 = process_cpu_seconds(pid)
            result = sequential(HOST, port, make, seconds=seconds, expect=status)
            cpu = (process_cpu_seconds(pid) - cpu0) / result.requests
            rows.append((name, median(result.latencies_s), cpu))
    return rows


def single_report(rows: list[tuple[str, float, float]]) -> str:
    lines = [f"{'one single append, one client':52} {'wall us':>8} {'CPU us':>7}"]
    lines += [f"{name:52} {wall * 1e6:8.0f} {cpu * 1e6:7.0f}" for name, wall, cpu in rows]
    return "\n".join(lines)


def main() -> int:
    with scratch_dir() as scratch:
        stages = stage_times(scratch)
        server = server_figures(scratch)
        single = single_append_figures(scratch)
    print(report(stages, server))
    print()
    print(single_report(single))
    print("(HTTP rows: wall = client-measured p50; CPU = the server's, all threads, per request)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
