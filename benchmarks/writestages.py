"""Where the server's CPU goes, stage by stage, for one single append and for one
batch of 1000, measured inside a real ``tradewinds serve`` (``benchmarks.stageprobe``).

    python -m benchmarks.writestages          (also part of ``make bench``)

Each thread's CPU time (user + system) comes from ``/proc/PID/task/TID/stat``; the
stages within a thread from the probe (``time.thread_time`` around the functions
named in ``stageprobe.STAGES``). CPU time, not wall time: the machine is shared,
and other processes' load moves wall times far more than CPU times. The floor
is the same server answering ``GET /health/live`` (uvicorn, litestar, middleware,
the access log) in the same run.
"""

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.core import Context, Metric, process_cpu_seconds, scratch_dir
from benchmarks.httpload import post_request, sequential
from benchmarks.stageprobe import STAGES
from benchmarks.write import BATCH_SIZE, HOST, batch_json, event_json
from tests.support.server import ServerProcess

REPO = Path(__file__).resolve().parent.parent
PROBE = "from benchmarks.stageprobe import install\ninstall()\n"
PY_SPY = Path(sys.executable).with_name("py-spy")


@dataclass
class Breakdown:
    """CPU seconds per request: by thread, by stage (calls per request too)."""

    name: str
    requests: int
    process: float
    threads: dict[str, float]
    stages: dict[str, tuple[float, float]]


def _thread_cpu(pid: int) -> dict[int, float]:
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(tid)] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def _thread_names(pid: int) -> dict[int, str]:
    """Python's thread names by native id (py-spy's dump; ids alone without it)."""
    if not PY_SPY.exists():
        return {}
    dump = subprocess.run(
        [str(PY_SPY), "dump", "--json", "--pid", str(pid)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return {t["os_thread_id"]: t["thread_name"] or "?" for t in json.loads(dump.stdout)}
    except (ValueError, KeyError, TypeError):
        return {}


def _generic(name: str) -> str:
    """One row for threads of a kind (anyio's workers, eventsourcing's numbered ones)."""
    if name.startswith("Thread-") and "(" in name:
        return "eventsourcing " + name.split("(", 1)[1].rstrip(")")
    return name


@contextmanager
def probed_server(scratch: Path, name: str) -> Iterator[tuple[ServerProcess, Path]]:
    """A server with the stage probe, and the file the probe writes its counts to."""
    probe = scratch / f"{name}-probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(PROBE)
    path = os.pathsep.join(
        p for p in (str(probe), str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    stage_log = scratch / f"{name}-stages.json"
    env = {"PYTHONPATH": path, "TRADEWINDS_STAGE_LOG": str(stage_log)}
    with ServerProcess(scratch / name, log_path=scratch / f"{name}.log", env=env) as process:
        yield process, stage_log


def _measure(
    server: tuple[ServerProcess, Path],
    name: str,
    make: Callable[[int], bytes],
    seconds: float,
    max_requests: int | None,
    expect: int,
) -> Breakdown:
    process, stage_log = server
    assert process.process is not None
    pid, port = process.process.pid, process.port
    limit = {} if max_requests is None else {"max_requests": max_requests}
    sequential(HOST, port, make, seconds=min(seconds, 1.0), expect=expect, **limit)  # warm-up
    names = _thread_names(pid)
    os.kill(pid, signal.SIGUSR1)
    time.sleep(0.1)
    before, cpu0 = _thread_cpu(pid), process_cpu_seconds(pid)
    result = sequential(HOST, port, make, seconds=seconds, expect=expect, **limit)
    after, cpu = _thread_cpu(pid), process_cpu_seconds(pid) - cpu0
    stage_log.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 5
    while not stage_log.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)
    counted = json.loads(stage_log.read_text()) if stage_log.exists() else {}
    n = max(1, result.requests)
    threads: dict[str, float] = {}
    for tid, seconds_after in after.items():
        used = seconds_after - before.get(tid, 0.0)
        if used > 0:
            label = _generic(names.get(tid, f"thread {tid}"))
            threads[label] = threads.get(label, 0.0) + used / n
    stages = {stage: (calls / n, cpu_s / n) for stage, (calls, cpu_s) in counted.items()}
    return Breakdown(name, result.requests, cpu / n, threads, stages)


def measure_all(scratch: Path, seconds: float = 3.0, batches: int = 20) -> list[Breakdown]:
    """The floor (GET), single appends and batches, each on its own probed server."""
    found = []
    sequence = itertools.count()
    with probed_server(scratch, "stages-single") as server:
        port = server[0].port
        get = f"GET /health/live HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
        found.append(_measure(server, "GET /health/live", lambda _: get, seconds, None, 200))

        def single(_: int) -> bytes:
            return post_request(HOST, port, "/v1/events", event_json(next(sequence)))

        found.append(_measure(server, "POST /v1/events", single, seconds, None, 201))
    with probed_server(scratch, "stages-batch") as server:
        port = server[0].port
        bodies = [
            post_request(HOST, port, "/v1/events/batch", batch_json(k * BATCH_SIZE))
            for k in range(4)
        ]
        found.append(
            _measure(server, "POST /v1/events/batch", lambda i: bodies[i % 4], 60.0, batches, 201)
        )
    return found


def report(found: list[Breakdown]) -> str:
    """One table: rows are threads and stages, columns the three requests (CPU us)."""
    names = [b.name for b in found]
    widths = [max(len(n), 12) for n in names]
    head = f"{'server CPU per request (us), by thread and stage':58}" + "".join(
        f"  {n:>{w}}" for n, w in zip(names, widths, strict=True)
    )
    lines = [head, "-" * len(head)]

    def row(label: str, values: list[str]) -> None:
        cells = "".join(f"  {v:>{w}}" for v, w in zip(values, widths, strict=True))
        lines.append(f"{label:58}{cells}")

    row("process, all threads", [f"{b.process * 1e6:,.0f}" for b in found])
    single = found[1]
    threads = sorted({t for b in found for t in b.threads}, key=lambda t: -single.threads.get(t, 0))
    for thread in threads:
        row(f"  thread {thread}", [f"{b.threads.get(thread, 0.0) * 1e6:,.0f}" for b in found])
    lines.append("")
    for stage, _, _ in STAGES:
        if not any(stage in b.stages for b in found):
            continue
        cells = []
        for b in found:
            calls, cpu = b.stages.get(stage, (0.0, 0.0))
            cells.append(f"{cpu * 1e6:,.0f} ({calls:,.3g}x)" if calls else "-")
        row(stage, cells)
    requests = ", ".join(f"{b.name}: {b.requests}" for b in found)
    lines += ["", f"(requests measured: {requests}; (Nx) = calls per request)"]
    return "\n".join(lines)


def stage_metrics(found: list[Breakdown]) -> list[Metric]:
    floor, single, batch = found
    return [
        Metric("stages_get_server_cpu_us", floor.process * 1e6, "us", note="probed server"),
        Metric(
            "stages_append_server_cpu_us",
            single.process * 1e6,
            "us",
            baseline=floor.process * 1e6,
            baseline_name="stages_get_server_cpu_us",
            note="probed server (about 1 us more per probed call)",
        ),
        Metric("stages_batch_server_cpu_ms", batch.process * 1e3, "ms", note="probed server"),
    ]


def write_stages(ctx: Context) -> list[Metric]:
    """The stage table (printed after the metrics) and its three totals."""
    found = measure_all(ctx.scratch, seconds=ctx.seconds(3.0), batches=ctx.reps(20))
    ctx.reports.append(report(found))
    return stage_metrics(found)


def main() -> int:
    with scratch_dir() as scratch:
        found = measure_all(scratch)
    print(report(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
