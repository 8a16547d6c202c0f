"""PostgreSQL against SQLite on the same machine, in the same run, and replicas.

- single appends over HTTP (1 client; 32 clients) and batches of 1000, on each store;
- replay: the time a new process takes to catch up with a store of ``REPLAY_EVENTS``,
  against a raw read of the same store in the same run (eventsourcing's
  ``select_notifications`` in pages of 1000, as for SQLite in ``benchmarks.forecasts``);
- two replicas on one PostgreSQL database appending at once, against one;
- how long an event appended on replica A takes to be served by replica B
  (``min_position`` on B, timed from A's 201): LISTEN/NOTIFY in practice.

The PostgreSQL cluster is a throwaway one (tests/support/postgres.py) with its
default durability (fsync on, synchronous_commit on), like the SQLite store's
synchronous=FULL.

    python -m benchmarks.run --only postgres_and_replicas
    python -m benchmarks.run --only replay_sqlite         (SQLite's replay ratio alone, ~1 min)
"""

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import msgspec

from benchmarks.core import Context, Metric, Target, median, percentile
from benchmarks.httpload import HttpConnection, LoadResult, concurrent, post_request, sequential
from benchmarks.readload import get_request
from benchmarks.write import BATCH_SIZE, HOST, batch_json, event_json, stored_bodies
from domain.records import EventRecord
from service.bootstrap import bootstrap
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import TradewindsStore
from service.settings import Settings
from tests.support.postgres import PostgresCluster
from tests.support.server import ServerProcess

STORES = ("sqlite", "postgresql")
REPLAY_EVENTS = 100_000
CLIENTS = 32
VISIBILITY_SAMPLES = 300


@contextmanager
def _servers(
    ctx: Context, name: str, env: dict[str, str], count: int
) -> Iterator[list[ServerProcess]]:
    servers = [
        ServerProcess(
            ctx.scratch / f"{name}-{i}", env=env, log_path=ctx.scratch / f"{name}-{i}.log"
        )
        for i in range(count)
    ]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _singles(port: int, clients: int, seconds: float) -> LoadResult:
    sequence = itertools.count(int(time.time() * 1000) % 10**6 * 1000)

    def make(_: int) -> bytes:
        return post_request(HOST, port, "/v1/events", event_json(next(sequence)))

    if clients == 1:
        return sequential(HOST, port, make, seconds=seconds)
    return concurrent(HOST, port, make, clients=clients, seconds=seconds)


def _batches(port: int, count: int) -> LoadResult:
    first = itertools.count(int(time.time()) % 10**5 * 10**4, BATCH_SIZE)

    def make(_: int) -> bytes:
        return post_request(HOST, port, "/v1/events/batch", batch_json(next(first)))

    return sequential(HOST, port, make, seconds=120, max_requests=count)


def _at_once(loads: Sequence[Callable[[], LoadResult]]) -> float:
    """Run the loads in parallel threads; requests per second over the longest."""
    results: list[LoadResult] = []
    threads = [threading.Thread(target=lambda f=f: results.append(f())) for f in loads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(r.requests for r in results) / max(r.elapsed_s for r in results)


def _http_metrics(ctx: Context, store: str, port: int) -> list[Metric]:
    seconds, reps = ctx.seconds(2.0), ctx.reps(3)
    _singles(port, 1, 0.5)  # warm-up
    one = [_singles(port, 1, seconds) for _ in range(reps)]
    many = [_singles(port, CLIENTS, seconds) for _ in range(reps)]
    _batches(port, 2)
    batches = [_batches(port, 5) for _ in range(reps)]
    return [
        Metric(f"{store}_append_1c_rate", median([r.rate for r in one]), "req/s"),
        Metric(
            f"{store}_append_1c_p50_ms",
            median([percentile(sorted(r.latencies_s), 50) * 1000 for r in one]),
            "ms",
        ),
        Metric(f"{store}_append_{CLIENTS}c_rate", median([r.rate for r in many]), "req/s"),
        Metric(
            f"{store}_batch_1000_rate", median([r.rate * BATCH_SIZE for r in batches]), "events/s"
        ),
    ]


def _fill(settings: Settings, events: int) -> None:
    """``events`` world events written in process, 5000 per transaction."""
    bodies = stored_bodies(batch_json(0))
    app = TradewindsStore(eventsourcing_env(settings))
    try:
        at = datetime(2026, 1, 1, tzinfo=UTC)
        for start in range(0, events, 5000):
            records = [
                EventRecord.record(uuid4(), bodies[i % len(bodies)], at + timedelta(seconds=i))
                for i in range(start, min(events, start + 5000))
            ]
            app.events.put([e for r in records for e in r.collect_events()])
    finally:
        app.close()


def _timed(run: Callable[[], int]) -> tuple[float, float]:
    """Events per second of ``run`` (which returns how many it read) by the clock, and
    by this process's CPU time (steadier on a shared machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    count = run()
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def _raw_read(settings: Settings) -> int:
    """eventsourcing's own read of the whole log, in pages of 1000 notifications."""
    app = TradewindsStore(eventsourcing_env(settings))
    try:
        count, last = 0, 0
        while page := app.recorder.select_notifications(last, 1000, inclusive_of_start=False):
            count += len(page)
            last = page[-1].id
        return count
    finally:
        app.close()


def _replay(settings: Settings) -> int:
    with bootstrap(settings, background=False) as tradewinds:
        eventlog = tradewinds.eventlog
        while not eventlog.ready():
            if eventlog.projection_failed:
                msg = "the projection failed during the replay"
                raise RuntimeError(msg)
            time.sleep(0.01)
        return REPLAY_EVENTS


def _replay_metrics(ctx: Context, store: str, settings: Settings) -> list[Metric]:
    """Raw reads and replays interleaved (the same load on both), by the clock and by
    CPU time; medians."""
    raws, replays = [], []
    for _ in range(ctx.reps(3)):
        raws.append(_timed(lambda: _raw_read(settings)))
        replays.append(_timed(lambda: _replay(settings)))
    metrics: list[Metric] = []
    for i, clock in enumerate(("", "_cpu")):
        raw = median([r[i] for r in raws])
        metrics += [
            Metric(f"{store}_raw_read_rate{clock}", raw, "events/s", note="select_notifications"),
            Metric(
                f"{store}_replay_rate{clock}",
                median([r[i] for r in replays]),
                "events/s",
                baseline=raw,
                baseline_name=f"{store}_raw_read_rate{clock}",
                targets=(Target(0.8),),
                note=f"a new server catching up with {REPLAY_EVENTS:,} events",
            ),
        ]
    return metrics


def _visibility(a: ServerProcess, b: ServerProcess, samples: int) -> list[float]:
    """Seconds from A's 201 to B's answer that includes the event (min_position)."""
    on_a, on_b = HttpConnection(HOST, a.port), HttpConnection(HOST, b.port)
    delays = []
    try:
        for i in range(samples):
            status, body = on_a.request(post_request(HOST, a.port, "/v1/events", event_json(i)))
            acknowledged = time.perf_counter()
            assert status == 201, body
            position = msgspec.json.decode(body)["position"]
            path = f"/v1/forecasts?min_position={position}"
            status, body = on_b.request(get_request(HOST, b.port, path))
            delays.append(time.perf_counter() - acknowledged)
            assert status == 200, body
            time.sleep(0.02)
    finally:
        on_a.close()
        on_b.close()
    return delays


def _sqlite_replay(ctx: Context) -> list[Metric]:
    settings = Settings(data_dir=ctx.scratch / "sqlite-replay")
    _fill(settings, REPLAY_EVENTS)
    return _replay_metrics(ctx, "sqlite", settings)


def replay_sqlite(ctx: Context) -> Sequence[Metric]:
    """SQLite's replay against its raw read, alone (no HTTP, no PostgreSQL): the quick
    command for that ratio. ``postgres_and_replicas`` keeps these figures when this ran."""
    return _sqlite_replay(ctx)


def postgres_and_replicas(ctx: Context) -> Sequence[Metric]:
    metrics: list[Metric] = []
    with PostgresCluster(durable=True) as cluster:

        def env_of(store: str) -> dict[str, str]:
            if store == "sqlite":
                return {}
            return {"TRADEWINDS_DATABASE_URL": cluster.new_database()}

        for store in STORES:
            with _servers(ctx, f"{store}-http", env_of(store), 1) as (server,):
                metrics += _http_metrics(ctx, store, server.port)
            if store == "sqlite":
                if "sqlite_replay_rate_cpu" not in ctx.results:
                    metrics += _sqlite_replay(ctx)
                continue
            settings = Settings(
                data_dir=ctx.scratch / f"{store}-replay",
                database_url=env_of(store)["TRADEWINDS_DATABASE_URL"],
            )
            _fill(settings, REPLAY_EVENTS)
            metrics += _replay_metrics(ctx, store, settings)

        seconds = ctx.seconds(3.0)
        with _servers(ctx, "replicas", env_of("postgresql"), 2) as (a, b):
            _singles(a.port, 4, 0.5)
            _singles(b.port, 4, 0.5)
            one = _at_once([lambda: _singles(a.port, CLIENTS, seconds)])
            two = _at_once(
                [
                    lambda: _singles(a.port, CLIENTS // 2, seconds),
                    lambda: _singles(b.port, CLIENTS // 2, seconds),
                ]
            )
            one_batch = _at_once([lambda: _batches(a.port, 6)]) * BATCH_SIZE
            two_batch = _at_once([lambda: _batches(a.port, 6), lambda: _batches(b.port, 6)])
            delays = sorted(_visibility(a, b, VISIBILITY_SAMPLES))
        metrics += [
            Metric("pg_1_replica_append_rate", one, "events/s", note=f"{CLIENTS} clients on A"),
            Metric(
                "pg_2_replicas_append_rate",
                two,
                "events/s",
                baseline=one,
                baseline_name="pg_1_replica_append_rate",
                note=f"{CLIENTS // 2} clients on each of A and B",
            ),
            Metric("pg_1_replica_batch_rate", one_batch, "events/s", note="1 client, 1000/batch"),
            Metric(
                "pg_2_replicas_batch_rate",
                two_batch * BATCH_SIZE,
                "events/s",
                baseline=one_batch,
                baseline_name="pg_1_replica_batch_rate",
                note="1 client on each replica, 1000/batch",
            ),
            Metric(
                "pg_cross_replica_visible_p50_ms",
                percentile(delays, 50) * 1000,
                "ms",
                note="A's 201 -> B serves it (GET with min_position)",
            ),
            Metric("pg_cross_replica_visible_p99_ms", percentile(delays, 99) * 1000, "ms"),
            Metric("pg_cross_replica_visible_max_ms", delays[-1] * 1000, "ms"),
        ]
    return metrics


POSTGRES_BENCHMARKS = (replay_sqlite, postgres_and_replicas)
