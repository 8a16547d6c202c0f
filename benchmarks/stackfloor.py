"""The floor of this stack for a durable append: what a minimal app on the same stack
and server settings costs, so the write path's figures can be split into the stack's
share and ours.

    python -m benchmarks.stackfloor serve --port 8123 --data-dir /var/tmp/floor
    python -m benchmarks.run --only write        (``stack_floor`` runs last)

The minimal app (defined here, never shipped) runs under uvicorn with the same
``uvicorn.Config`` and ``Server`` as ``tradewinds serve`` (``service.cli.serving``:
uvloop, the bounded httptools protocol) and the same interpreter switch interval.
``python -m benchmarks.stackfloor compare --before OLD_TREE`` runs ours before and
after a change and the floor side by side. Its routes:

- ``POST /floor/event``: a strict msgspec decode of one ``WorldEvent`` (one pass,
  no second parse), its canonical JSON inserted as one row into SQLite and committed
  by a writer thread (the group-commit shape of ours: a queue, one transaction for
  what waits, the loop woken by ``call_soon_threadsafe``); answers 201 with the id
  and position.
- ``POST /floor/event-on-loop``: the same insert and commit on the event loop.
- ``POST /floor/decode``: the decode, the row and the answer, without the store: the
  stack's cost of a POST with an event in it.
- ``GET /floor/live``: a constant answer, the stack's cost of any request.
- ``GET /floor/commits``: the CPU time spent from BEGIN to COMMIT so far (thread time),
  the commit's share of an append inside the server.
- ``POST /floor/batch``: an ``EventBatch`` of 1000, ``executemany`` and one commit
  on the writer thread; 201 with the 1000 ids and positions.

The table is eventsourcing's ``stored_events`` and the file is opened the way its
SQLite recorder opens it (autocommit connection, WAL), with synchronous FULL, what
our store runs with (SQLite's default in WAL here; eventsourcing sets no pragma).
Nothing else: no middleware, no idempotency, no index, no projection, no access log.
The floor is measured with the load driver and the /proc CPU count of
``benchmarks.write``, in its own server process.
"""

import argparse
import asyncio
import functools
import itertools
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import msgspec
from litestar import Litestar, Request, Response, get, post

from benchmarks.core import Context, Metric, Target, median, percentile, scratch_dir
from benchmarks.httpload import LoadResult, post_request, sequential
from benchmarks.write import (
    BATCH_SIZE,
    HOST,
    ISSUE_19_APPEND_CPU_US,
    ISSUE_19_BATCH_CPU_MS,
    ISSUE_19_BATCH_VS_INSERT,
    batch_json,
    event_json,
    measured_cpu,
)
from domain.events import EventBatch, WorldEvent
from service.cli.serving import Server, share_interpreter, uvicorn_config
from service.settings import Settings
from tests.support.server import ServerProcess, free_port

TOPIC = "domain.records:EventRecord.Recorded"
_CREATE = (  # eventsourcing's SQLite application recorder's table: positions are rowids
    "CREATE TABLE IF NOT EXISTS stored_events (originator_id TEXT, "
    "originator_version INTEGER, topic TEXT, state BLOB, "
    "PRIMARY KEY (originator_id, originator_version))"
)
_INSERT = (
    "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
    "VALUES (?, 1, ?, ?)"
)
Row = tuple[str, str, bytes]
SYNCHRONOUS = 2
"""FULL: what our store's connections run with (eventsourcing sets no such pragma and
SQLite's default in WAL is FULL here; a test compares the two)."""


class Receipt(msgspec.Struct):
    id: UUID
    position: int


# --- the minimal app ----------------------------------------------------------------------


def connect(path: Path) -> sqlite3.Connection:
    """A connection as eventsourcing's SQLite recorder makes one: autocommit, WAL,
    synchronous FULL."""
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
    db.execute(_CREATE)
    return db


class CommitCpu(msgspec.Struct):
    """CPU time the server spent in ``insert`` (BEGIN to COMMIT), in whichever thread."""

    seconds: float = 0.0
    commits: int = 0


def insert(
    db: sqlite3.Connection, jobs: Sequence[Sequence[Row]], spent: CommitCpu | None = None
) -> list[list[int]]:
    """One transaction for every job; the positions of each job's rows."""
    started = time.thread_time()
    positions = []
    db.execute("BEGIN")
    try:
        for rows in jobs:
            db.executemany(_INSERT, rows)
            last = db.execute("SELECT last_insert_rowid()").fetchone()[0]
            positions.append(list(range(last - len(rows) + 1, last + 1)))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    if spent is not None:
        spent.seconds += time.thread_time() - started
        spent.commits += 1
    return positions


class Writer:
    """One thread commits every job waiting at the same moment in one transaction."""

    def __init__(self, db: sqlite3.Connection, spent: CommitCpu) -> None:
        self._db = db
        self._spent = spent
        self._jobs: queue.SimpleQueue[tuple[Sequence[Row], Future[list[int]]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="floor-writer", daemon=True)
        self._thread.start()

    def submit(self, rows: Sequence[Row]) -> "Future[list[int]]":
        future: Future[list[int]] = Future()
        self._jobs.put((rows, future))
        return future

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            group = [job]
            while not self._jobs.empty() and (more := self._jobs.get()) is not None:
                group.append(more)
            try:
                found = insert(self._db, [rows for rows, _ in group], self._spent)
            except Exception as e:  # noqa: BLE001 - handed to every waiting request
                for _, future in group:
                    future.set_exception(e)
                continue
            for (_, future), positions in zip(group, found, strict=True):
                future.set_result(positions)


async def committed(writer: Writer, rows: Sequence[Row]) -> list[int]:
    """Submit and wait on the loop, woken by the writer (as ``service.commands.commit``)."""
    loop = asyncio.get_running_loop()
    woken = loop.create_future()
    future = writer.submit(rows)
    future.add_done_callback(lambda _: loop.call_soon_threadsafe(woken.set_result, None))
    await woken
    return future.result()


def _rows(events: Sequence[Any]) -> tuple[list[UUID], list[Row]]:
    ids = [uuid4() for _ in events]
    return ids, [(i.hex, TOPIC, msgspec.json.encode(e)) for i, e in zip(ids, events, strict=True)]


_decode_event = msgspec.json.Decoder(WorldEvent).decode
_decode_batch = msgspec.json.Decoder(EventBatch).decode


def _bad_body(_: Request[Any, Any, Any], error: Exception) -> Response[dict[str, str]]:
    """Not JSON, or not an event (``msgspec.ValidationError`` is a ``DecodeError``)."""
    return Response({"detail": str(error)}, status_code=422)


def floor_app(data_dir: Path) -> Litestar:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "floor.sqlite3"
    spent = CommitCpu()
    writer = Writer(connect(path), spent)
    on_loop = connect(path)

    @post("/floor/event", status_code=201)
    async def append(request: Request[Any, Any, Any]) -> Response[Receipt]:
        ids, rows = _rows([_decode_event(await request.body())])
        (position,) = await committed(writer, rows)
        return Response(Receipt(ids[0], position), status_code=201)

    @post("/floor/event-on-loop", status_code=201)
    async def append_on_loop(request: Request[Any, Any, Any]) -> Response[Receipt]:
        ids, rows = _rows([_decode_event(await request.body())])
        ((position,),) = insert(on_loop, [rows], spent)
        return Response(Receipt(ids[0], position), status_code=201)

    @post("/floor/decode", status_code=201)
    async def decode_only(request: Request[Any, Any, Any]) -> Response[Receipt]:
        ids, _ = _rows([_decode_event(await request.body())])
        return Response(Receipt(ids[0], 0), status_code=201)

    @post("/floor/batch", status_code=201)
    async def append_batch(request: Request[Any, Any, Any]) -> Response[list[Receipt]]:
        ids, rows = _rows(_decode_batch(await request.body()).events)
        positions = await committed(writer, rows)
        receipts = [Receipt(i, p) for i, p in zip(ids, positions, strict=True)]
        return Response(receipts, status_code=201)

    @get("/floor/live", sync_to_thread=False)
    def live() -> dict[str, str]:
        return {"status": "ok"}

    @get("/floor/commits", sync_to_thread=False)
    def commits() -> CommitCpu:
        return spent

    return Litestar(
        route_handlers=[append, append_on_loop, decode_only, append_batch, live, commits],
        exception_handlers={msgspec.DecodeError: _bad_body},
        on_shutdown=[writer.stop],
        openapi_config=None,
        logging_config=None,
        debug=False,
    )


def serve(port: int, data_dir: Path) -> None:
    """The minimal app under uvicorn with our server settings (``tradewinds serve``'s)."""
    settings = Settings(data_dir=data_dir, port=port)
    share_interpreter(settings)
    Server(uvicorn_config(floor_app(data_dir), settings)).run()


# --- the benchmark ----------------------------------------------------------------------


@contextmanager
def floor_server(data_dir: Path, log_path: Path) -> Iterator[tuple[int, int]]:
    """The floor app in its own process: (port, pid)."""
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.stackfloor", "serve", "--port", str(port)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*command, "--data-dir", str(data_dir)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(port, process)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


def _wait_ready(port: int, process: "subprocess.Popen[bytes]", timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"the floor server exited with {process.returncode}"
            raise RuntimeError(msg)
        try:
            if httpx.get(f"http://{HOST}:{port}/floor/live", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    msg = f"the floor server was not ready within {timeout} s"
    raise TimeoutError(msg)


def _singles(port: int, pid: int, path: str, seconds: float, reps: int) -> list[Any]:
    """(LoadResult, server CPU s per request) per repetition, one client; a GET for
    ``/floor/live``, else a POST of one event."""
    numbers = iter(range(10**9))
    get_live = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    expect = 200 if path == "/floor/live" else 201

    def make(_: int) -> bytes:
        if expect == 200:
            return get_live
        return post_request(HOST, port, path, event_json(next(numbers)))

    sequential(HOST, port, make, seconds=0.5, expect=expect)  # warm-up
    load = functools.partial(sequential, HOST, port, make, seconds=seconds, expect=expect)
    return [measured_cpu(pid, load) for _ in range(reps)]


def commit_cpu(path: Path, commits: int = 200) -> tuple[float, float]:
    """(CPU seconds per commit, commits/s) of one-row durable commits in this thread:
    SQLite's and the kernel's share of an append, without HTTP."""
    db = connect(path)
    try:
        insert(db, [[(uuid4().hex, TOPIC, event_json(0))]])
        cpu0, start = time.thread_time(), time.perf_counter()
        for n in range(commits):
            insert(db, [[(uuid4().hex, TOPIC, event_json(n))]])
        cpu, wall = time.thread_time() - cpu0, time.perf_counter() - start
    finally:
        db.close()
    return cpu / commits, commits / wall


_SINGLES = (
    ("/floor/live", "floor_get_1c", "any request: GET, constant answer"),
    ("/floor/decode", "floor_decode_1c", "POST of one event: strict decode, answer, no store"),
    ("/floor/event-on-loop", "floor_append_loop_1c", "+ insert and commit on the loop"),
    ("/floor/event", "floor_append_1c", "+ the commit on a writer thread instead"),
)


def _single_metrics(
    prefix: str, note: str, measured: list[Any], fsync: float | None
) -> list[Metric]:
    runs: list[LoadResult] = [r for r, _ in measured]
    cpu = Metric(
        f"{prefix}_server_cpu_us",
        median([c for _, c in measured]) * 1e6,
        "us",
        note=f"the stack's floor: {note}",
    )
    if not prefix.startswith("floor_append"):
        return [cpu]
    return [
        Metric(
            cpu.name,
            cpu.value,
            "us",
            targets=(Target(ISSUE_19_APPEND_CPU_US, on="value", at_most=True),),
            note=cpu.note,
        ),
        Metric(
            f"{prefix}_rate",
            median([r.rate for r in runs]),
            "appends/s",
            baseline=fsync,
            baseline_name="fsync_rate",
            targets=(Target(0.5),),
        ),
        Metric(
            f"{prefix}_p50_ms",
            median([percentile(sorted(r.latencies_s), 50) * 1000 for r in runs]),
            "ms",
        ),
    ]


def _commit_cpu(port: int) -> CommitCpu:
    answer = httpx.get(f"http://{HOST}:{port}/floor/commits", timeout=10)
    return msgspec.json.decode(answer.content, type=CommitCpu)


def _commit_share(prefix: str, before: CommitCpu, after: CommitCpu) -> Metric:
    commits = max(1, after.commits - before.commits)
    return Metric(
        f"{prefix}_commit_cpu_us",
        (after.seconds - before.seconds) / commits * 1e6,
        "us",
        note="of which BEGIN to COMMIT (thread time, in the server; warm-up included)",
    )


def _batches(port: int, pid: int, reps: int) -> list[tuple[LoadResult, float]]:
    requests = [
        post_request(HOST, port, "/floor/batch", batch_json(k * BATCH_SIZE)) for k in range(4)
    ]

    def make(i: int) -> bytes:
        return requests[i % len(requests)]

    load = functools.partial(sequential, HOST, port, make, seconds=60, max_requests=10)
    load(max_requests=3)  # warm-up
    return [measured_cpu(pid, load) for _ in range(reps)]


def _ours_against(floor: dict[str, Metric], ctx: Context) -> list[Metric]:
    pairs = (
        (
            "ours_vs_floor_append_cpu",
            "http_append_1c_server_cpu_us",
            "floor_append_1c_server_cpu_us",
        ),
        ("ours_vs_floor_append_rate", "http_append_1c_rate", "floor_append_1c_rate"),
        ("ours_vs_floor_get_cpu", "http_get_1c_server_cpu_us", "floor_get_1c_server_cpu_us"),
        (
            "ours_vs_floor_batch_cpu",
            "http_batch_1000_server_cpu_ms",
            "floor_batch_1000_server_cpu_ms",
        ),
        ("ours_vs_floor_batch_rate", "http_batch_1000_rate", "floor_batch_1000_rate"),
    )
    found = []
    for name, ours, base in pairs:
        value = ctx.value(ours)
        if value is not None:
            found.append(
                Metric(
                    name, value, floor[base].unit, floor[base].value, base, note=f"{ours} / {base}"
                )
            )
    return found


def stack_floor(ctx: Context) -> Sequence[Metric]:
    """The floor app's requests, stage by stage (any request, a POST of one event, its
    commit on the loop, then on a writer thread) and its batches of 1000, against the
    fsync rate and the raw insert; and ours against the floor."""
    seconds, reps = ctx.seconds(2.0), ctx.reps(3)
    fsync, insert_rate = ctx.value("fsync_rate"), ctx.value("inprocess_insert_1000_rate")
    commit_s, commit_rate = commit_cpu(ctx.scratch / "floor-commits.sqlite3")
    metrics = [
        Metric(
            "floor_commit_cpu_us",
            commit_s * 1e6,
            "us",
            note="the stack's floor: CPU of one one-row commit (insert, fsync), in-process",
        ),
        Metric(
            "floor_commit_rate",
            commit_rate,
            "commits/s",
            baseline=fsync,
            baseline_name="fsync_rate",
            note="one-row commits in a loop, in-process",
        ),
    ]
    with floor_server(ctx.scratch / "floor", ctx.scratch / "floor.log") as (port, pid):
        for path, prefix, note in _SINGLES:
            before = _commit_cpu(port)
            measured = _singles(port, pid, path, seconds, reps)
            metrics += _single_metrics(prefix, note, measured, fsync)
            if prefix.startswith("floor_append"):
                metrics.append(_commit_share(prefix, before, _commit_cpu(port)))
        batches = _batches(port, pid, ctx.reps(5))
    metrics += [
        Metric(
            "floor_batch_1000_server_cpu_ms",
            median([c for _, c in batches]) * 1000,
            "ms",
            targets=(Target(ISSUE_19_BATCH_CPU_MS, on="value", at_most=True),),
            note="the stack's floor: server CPU per POST /floor/batch of 1000",
        ),
        Metric(
            "floor_batch_1000_rate",
            median([r.rate for r, _ in batches]) * BATCH_SIZE,
            "events/s",
            baseline=insert_rate,
            baseline_name="inprocess_insert_1000_rate",
            targets=(Target(ISSUE_19_BATCH_VS_INSERT),),
        ),
    ]
    return metrics + _ours_against({m.name: m for m in metrics}, ctx)


STACK_FLOOR_BENCHMARKS = (stack_floor,)


# --- side by side: ours before and after a change, and the floor ----------------------


def _user_sys(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def _one_client(port: int, pid: int, make: Callable[[int], bytes], expect: int) -> list[float]:
    """[server user us, system us per request, requests/s, p50 ms] over 2 s."""
    sequential(HOST, port, make, seconds=0.3, expect=expect)  # warm-up
    user0, sys0 = _user_sys(pid)
    result = sequential(HOST, port, make, seconds=2.0, expect=expect)
    user1, sys1 = _user_sys(pid)
    per = 1e6 / max(1, result.requests)
    p50 = percentile(sorted(result.latencies_s), 50) * 1000
    return [(user1 - user0) * per, (sys1 - sys0) * per, result.rate, p50]


def side_by_side(before: Path, rounds: int, scratch: Path) -> str:
    """GET and single appends, one client, on ours before (``before`` on PYTHONPATH)
    and after (this tree), after without the access line, and the floor; each round
    in the opposite order to the last, all servers up at once."""
    numbers = itertools.count()
    here = str(Path(__file__).resolve().parent.parent)
    variants = {
        "before": {"PYTHONPATH": str(before)},
        "after": {"PYTHONPATH": here},
        "after, no access line": {"PYTHONPATH": here, "TRADEWINDS_ACCESS_LOG": "0"},
    }
    found: dict[str, list[list[float]]] = {}
    with ExitStack() as stack:
        targets = []
        for name, env in variants.items():
            data = scratch / name.replace(" ", "").replace(",", "-")
            server = stack.enter_context(
                ServerProcess(data, env=env, log_path=data.with_suffix(".log"))
            )
            assert server.process is not None
            targets.append((name, server.port, server.process.pid, "/health/live", "/v1/events"))
        port, pid = stack.enter_context(floor_server(scratch / "floor", scratch / "floor.log"))
        targets.append(("floor", port, pid, "/floor/live", "/floor/event"))
        for round_ in range(rounds):
            for name, port, pid, live, append in targets[:: 1 if round_ % 2 == 0 else -1]:
                get = f"GET {live} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
                found.setdefault(f"{name}: GET", []).append(
                    _one_client(port, pid, functools.partial(_same, get), 200)
                )
                post = functools.partial(_post_event, port, append, numbers)
                found.setdefault(f"{name}: POST one event", []).append(
                    _one_client(port, pid, post, 201)
                )
    lines = [
        f"load average {os.getloadavg()[0]:.2f}; medians of {rounds} runs of 2 s, one client",
        f"{'server, request':36} {'user us':>8} {'sys us':>7} {'total us':>9}"
        f" {'req/s':>7} {'p50 ms':>7}",
    ]
    for name, runs in found.items():
        user, system, rate, p50 = (median([run[i] for run in runs]) for i in range(4))
        total = median([run[0] + run[1] for run in runs])
        lines.append(f"{name:36} {user:8.1f} {system:7.1f} {total:9.1f} {rate:7.0f} {p50:7.2f}")
    return "\n".join(lines)


def _same(raw: bytes, _: int) -> bytes:
    return raw


def _post_event(port: int, path: str, numbers: Iterator[int], _: int) -> bytes:
    return post_request(HOST, port, path, event_json(next(numbers)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stackfloor")
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="run the floor app (for the benchmark)")
    serving.add_argument("--port", type=int, required=True)
    serving.add_argument("--data-dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")))
    comparing = commands.add_parser(
        "compare", help="ours before/after a change and the floor, side by side"
    )
    comparing.add_argument(
        "--before", type=Path, required=True, help="a copy of the old tree (git archive)"
    )
    comparing.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    if args.command == "compare":
        with scratch_dir() as scratch:
            print(side_by_side(args.before, args.rounds, scratch))
        return 0
    serve(args.port, args.data_dir / "stackfloor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
