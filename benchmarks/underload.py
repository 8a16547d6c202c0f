"""Reads while the server works hard (issue 13): the p99 of ``GET /v1/forecasts`` and
``GET /v1/forecasts/{id}`` on an idle server, during a large backtest, and during heavy
batches, in one server and one run (the idle figures are the baselines).

    python -m benchmarks.run --only reads_under_load      (also part of ``make bench``)

The store (``build``): 20 open scenarios with a few rules (the reads' subject), 40
scenarios resolved in 2025 with 50 decaying rules each over 5,000 signals from 2015 on,
and 3 resolved ones of 200 rules matching every one of those signals (3 million matches:
what the backtest scores), and 3 open scenarios of 200 rules that match every signal
the batches bring. The backtest is the issue's: ``PT2H`` over 11 years (48,211 grid
points), two of them queued so that one is running for the whole window. The batches
are 1000 signals each, one after another from one client; each signal matches the 600
rules of the heavy scenarios. Reads are paced (open loop) at ``READ_RATE`` per route,
as dashboards polling would be, with a read-only key as a deployed dashboard has (the
server has keys: a read-only caller does not wait for the writer's batches to be
applied, README "Reads follow your writes"); the batches come with a write key and
the backtests with an admin key.
"""

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from uuid import UUID

import httpx
import msgspec

from benchmarks.core import Context, Metric, percentile
from benchmarks.forecasts import Below
from benchmarks.httpload import LoadResult, post_request, sequential
from benchmarks.readload import get_request, paced_gets
from benchmarks.write import batch_json
from service.cli.main import import_lines
from service.settings import Settings
from tests.support.server import ServerProcess

HOST = "127.0.0.1"
OPEN = 20
PAST = 40
PAST_RULES = 50
HEAVY = 3
HEAVY_RULES = 200
HEAVY_PAST = 3
SCORED = PAST + HEAVY_PAST
SIGNALS = 5_000
LABELS = 50
READ_RATE = 20.0
MAX_BATCHES = 12
TARGET_MS = 50.0
START_TIMEOUT_S = 180.0
BACKTEST = {"from": "2015-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "step": "PT2H"}
ROUTES = {"list": "/v1/forecasts", "one": "/v1/forecasts/open-000"}
KEYS = "bench-reader:read,bench-writer:write,bench-admin:admin"
READER = {"Authorization": "Bearer bench-reader"}
WRITER = b"Authorization: Bearer bench-writer\r\n"
ADMIN = {"Authorization": "Bearer bench-admin"}


def _line(entry: object) -> bytes:
    return msgspec.json.encode(entry)


def _scenario(slug: str, opens: str, rules: list[dict[str, object]]) -> bytes:
    definition = {
        "title": slug, "question": "?", "opens_at": opens,
        "deadline": "2027-12-31T00:00:00Z", "prior": 0.3, "rules": rules,
    }  # fmt: skip
    return _line({"type": "scenario", "scenario_id": slug, "definition": definition})


def _label_rule(j: int, half_life_days: float | None) -> dict[str, object]:
    rule: dict[str, object] = {
        "name": f"r{j}",
        "match": {"kind": "signal", "where": {"label": f"l{j % LABELS}"}},
        "bayes_factor": 1.01 + j / 1000,
    }
    if half_life_days is not None:
        rule["half_life_days"] = half_life_days
    return rule


def build(data: Path) -> None:
    lines = []
    for i in range(SIGNALS):
        year, day = 2015 + i % 11, 1 + i % 28
        event = {
            "event_id": str(UUID(int=i + 1)), "kind": "signal",
            "occurred_at": f"{year}-{1 + i % 12:02d}-{day:02d}T00:00:00Z",
            "summary": f"signal {i}", "label": f"l{i % LABELS}",
        }  # fmt: skip
        lines.append(_line({"type": "event", "event": event}))
    for k in range(OPEN):
        rules = [_label_rule(k + j, 90.0 if j % 2 else None) for j in range(4)]
        lines.append(_scenario(f"open-{k:03d}", "2015-01-01T00:00:00Z", rules))
    for k in range(PAST):
        rules = [_label_rule(k + j, 30.0) for j in range(PAST_RULES)]
        lines.append(_scenario(f"past-{k:03d}", "2015-01-01T00:00:00Z", rules))
        resolution = {"outcome": "yes" if k % 3 else "no", "resolved_at": "2025-12-01T00:00:00Z"}
        lines.append(
            _line({"type": "resolution", "scenario_id": f"past-{k:03d}", "resolution": resolution})
        )
    every_stored_signal = {
        "kind": "signal", "where": {"label": {"in": [f"l{j}" for j in range(LABELS)]}}
    }  # fmt: skip
    for k in range(HEAVY_PAST):
        rules = [
            {"name": f"h{j}", "match": every_stored_signal, "bayes_factor": 1.001 + j / 10_000}
            for j in range(HEAVY_RULES)
        ]
        slug = f"heavy-past-{k}"
        lines.append(_scenario(slug, "2015-01-01T00:00:00Z", rules))
        resolution = {"outcome": "yes", "resolved_at": "2025-12-01T00:00:00Z"}
        lines.append(_line({"type": "resolution", "scenario_id": slug, "resolution": resolution}))
    every_batch_signal = {"kind": "signal", "where": {"label": "benchmark"}}
    for k in range(HEAVY):
        rules = [
            {"name": f"h{j}", "match": every_batch_signal, "bayes_factor": 1.001 + j / 10_000}
            for j in range(HEAVY_RULES)
        ]
        lines.append(_scenario(f"heavy-{k}", "2025-01-01T00:00:00Z", rules))
    import_lines(Settings(data_dir=data), lines)


Answers = dict[str, list[tuple[float, int]]]


def _reads(port: int, seconds: float) -> Answers:
    """Per route, each read's latency and status (200, or 503 past the read budget)."""
    requests = {name: get_request(HOST, port, path, READER) for name, path in ROUTES.items()}
    return paced_gets(HOST, port, requests, rate=READ_RATE, seconds=seconds)


def _latencies(answers: list[tuple[float, int]]) -> list[float]:
    return sorted(latency for latency, _ in answers)


def _refused(answers: list[tuple[float, int]]) -> int:
    return sum(status == 503 for _, status in answers)


def _status(client: httpx.Client, backtest_id: str) -> str:
    status: str = client.get(f"/v1/backtests/{backtest_id}").json()["status"]
    return status


def _during_backtests(port: int, seconds: float) -> tuple[Answers, str, float]:
    """Reads while two large backtests run one after the other; also the second's
    status when the reads end (it must not be done: the window was covered) and how
    long the two took."""
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=60, headers=ADMIN) as client:
        started = time.perf_counter()
        ids = []
        for _ in range(2):
            response = client.post("/v1/backtests", json=BACKTEST)
            response.raise_for_status()
            ids.append(response.json()["id"])
        while _status(client, ids[0]) != "running":
            time.sleep(0.05)
        reads = _reads(port, seconds)
        second = _status(client, ids[1])
        deadline = time.perf_counter() + 600
        while _status(client, ids[1]) not in ("done", "failed"):
            if time.perf_counter() > deadline:
                msg = "the backtests did not finish within 10 minutes"
                raise RuntimeError(msg)
            time.sleep(0.2)
        took = time.perf_counter() - started
        for backtest_id in ids:
            if _status(client, backtest_id) != "done":
                msg = f"backtest {backtest_id} failed"
                raise RuntimeError(msg)
    return reads, second, took


def _during_batches(port: int, seconds: float) -> tuple[Answers, LoadResult]:
    batches: list[LoadResult] = []
    sequence = iter(range(0, 10**9, 1000))

    def make(_: int) -> bytes:
        raw = post_request(HOST, port, "/v1/events/batch", batch_json(next(sequence)))
        line_end = raw.index(b"\r\n") + 2
        return raw[:line_end] + WRITER + raw[line_end:]

    writer = threading.Thread(
        target=lambda: batches.append(
            sequential(HOST, port, make, seconds=seconds, max_requests=MAX_BATCHES)
        )
    )
    writer.start()
    reads = _reads(port, seconds)
    writer.join()
    return reads, batches[0]


def _ms(latencies: Sequence[float], q: float) -> float:
    return percentile(latencies, q) * 1000


def reads_under_load(ctx: Context) -> Sequence[Metric]:
    seconds = ctx.seconds(10.0)
    data = ctx.scratch / "under-load"
    build(data)
    server_process = ServerProcess(
        data, log_path=ctx.scratch / "under-load.log", env={"TRADEWINDS_API_KEYS": KEYS}
    )
    try:
        # the store replays 3 million matches at start: a busy machine needs longer
        # than the default 30 s, and a server that failed to start is stopped too
        server_process.start(timeout=START_TIMEOUT_S)
        port = server_process.port
        _reads(port, 1.0)  # warm-up
        idle = _reads(port, seconds)
        backtest, second, took = _during_backtests(port, seconds)
        batches, written = _during_batches(port, seconds)
    finally:
        server_process.stop()
    metrics = []
    for name, path in ROUTES.items():
        base = f"reads_idle_{name}_p99_ms"
        quiet = _latencies(idle[name])
        metrics.append(
            Metric(
                base, _ms(quiet, 99), "ms",
                note=f"GET {path}, {READ_RATE:g}/s, idle server: p50 {_ms(quiet, 50):.1f} ms",
            )
        )  # fmt: skip
        for phase, found, what in (
            ("backtest", backtest, f"2 backtests PT2H x 11 y x {SCORED} scenarios, {took:.0f} s "
                                   f"for both (the second was {second} when the reads ended)"),
            ("batches", batches, f"{written.requests} batches of 1000 in {written.elapsed_s:.1f} s"
                                 f" (p50 {_ms(sorted(written.latencies_s), 50):.0f} ms each), "
                                 f"every signal matching {HEAVY * HEAVY_RULES} rules"),
        ):  # fmt: skip
            loaded = _latencies(found[name])
            metrics.append(
                Metric(
                    f"reads_{phase}_{name}_p99_ms",
                    _ms(loaded, 99),
                    "ms",
                    baseline=_ms(quiet, 99),
                    baseline_name=base,
                    targets=(Below(TARGET_MS),),
                    note=f"GET {path} during {what}: p50 {_ms(loaded, 50):.1f} ms, "
                    f"{len(loaded)} reads, {_refused(found[name])} of them 503 (over budget)",
                )
            )
    return metrics


UNDER_LOAD_BENCHMARKS = (reads_under_load,)
