"""The scenario preview (issue 18): ``POST /v1/scenarios/{id}/preview`` of a scenario of
20 rules over 10,000 events, through a real ``tradewinds serve`` over loopback HTTP,
one request at a time (what a rule editor sends on every keystroke).

Three drafts: the stored definition (every rule's matches taken from the index), one
rule's match changed (that rule rescans the events of its kind: the keystroke case)
and a new scenario (every rule scanned). The baseline is ``GET /v1/forecasts/{id}`` of
the stored scenario, uncached (a new ``as_of`` per request); the cached poll is shown
beside it. Target: the preview's p99 under 100 ms.
"""

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import msgspec

from benchmarks.core import Context, Metric, median, percentile
from benchmarks.forecasts import Below
from domain.events import WorldEvent
from domain.records import EventRecord
from domain.scenarios import ScenarioDefinition
from service.commands.events import event_body
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import TradewindsStore
from service.projection.catchup import catch_up
from service.projection.index import LogIndex
from service.projection.logprojection import LogProjection
from service.queries.history import HistoryRange
from service.queries.preview import EventCards, draft_snapshot, preview
from service.queries.snapshots import Query
from service.settings import Settings
from tests.support.server import ServerProcess

EVENTS = 10_000
RULES = 20
BATCH = 1000
START = 1_735_689_600.0  # 2025-01-01
SPAN = 330 * 86_400.0
TARGET_MS = 100.0


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _events(count: int = EVENTS) -> list[dict[str, Any]]:
    return [
        {
            "kind": "signal",
            "occurred_at": _iso(START + SPAN * i / count),
            "summary": f"signal {i}",
            "label": f"l{i % RULES}",
        }
        for i in range(count)
    ]


def _rule(r: int, label: str) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "name": f"rule {r}",
        "match": {"kind": "signal", "where": {"label": label}},
        "bayes_factor": 1.0 + 0.01 * (r + 1) if r % 2 else 1.0 / (1.0 + 0.01 * (r + 1)),
    }
    if r % 3 == 0:
        rule["half_life_days"] = 90.0
    if r % 4 == 1:
        rule["group"] = "g"
        rule["repeat_discount"] = 0.9
    return rule


def definition(labels: Sequence[str]) -> dict[str, Any]:
    return {
        "title": "twenty rules",
        "question": "twenty rules over ten thousand events?",
        "opens_at": _iso(START),
        "deadline": "2027-01-01T00:00:00Z",
        "prior": 0.3,
        "rules": [_rule(r, label) for r, label in enumerate(labels)],
    }


def _timed(send: Callable[[int], httpx.Response], count: int) -> list[float]:
    took = []
    for i in range(count):
        started = time.perf_counter()
        response = send(i)
        took.append(time.perf_counter() - started)
        response.raise_for_status()
    return sorted(took)


def preview_20x10k(ctx: Context) -> Sequence[Metric]:
    """p50 and p99 of the preview, and the ratio of its p50 to an uncached forecast read."""
    stored = definition([f"l{r}" for r in range(RULES)])
    keystroke = definition(["other", *(f"l{r}" for r in range(1, RULES))])
    count = ctx.reps(200)
    data = ctx.scratch / "preview"
    with (
        ServerProcess(data, log_path=ctx.scratch / "preview.log") as server,
        httpx.Client(base_url=server.base_url, timeout=60) as client,
    ):
        events = _events()
        for i in range(0, EVENTS, BATCH):
            client.post("/v1/events/batch", json={"events": events[i : i + BATCH]})
        client.put("/v1/scenarios/twenty", json=stored).raise_for_status()
        first = client.post("/v1/scenarios/twenty/preview", json=stored)
        size = len(first.content)
        answer = first.json()
        matches = sum(len(rule["matches"]) for rule in answer["rules"])
        points = len(answer["history"]["points"])

        def preview_of(slug: str, body: dict[str, Any]) -> Callable[[int], httpx.Response]:
            return lambda _: client.post(f"/v1/scenarios/{slug}/preview", json=body)

        def uncached(i: int) -> httpx.Response:
            as_of = _iso(START + SPAN - 60 * (i + 1))
            return client.get("/v1/forecasts/twenty", params={"as_of": as_of})

        timed = {
            "stored": _timed(preview_of("twenty", stored), count),
            "keystroke": _timed(preview_of("twenty", keystroke), count),
            "new": _timed(preview_of("brand-new", stored), count),
            "get": _timed(uncached, count),
            "get_cached": _timed(lambda _: client.get("/v1/forecasts/twenty"), count),
        }

    def ms(name: str, q: float) -> float:
        return percentile(timed[name], q) * 1000

    get_p50 = median(timed["get"]) * 1000
    shape = (
        f"{RULES} rules, {matches:,} matches of {EVENTS:,} events, {points} history points,"
        f" {size / 1e6:.1f} MB answers"
    )
    metrics = []
    for name, what in (
        ("stored", "the stored definition (matches from the index)"),
        ("keystroke", "one rule's match changed (that rule rescans its kind)"),
        ("new", "a new scenario (every rule scanned)"),
    ):
        metrics += [
            Metric(
                f"preview_{name}_p50_ms",
                ms(name, 50),
                "ms",
                get_p50,
                "GET forecast p50, uncached",
                note=f"{what}; {shape}; {count} requests one at a time over HTTP",
            ),
            Metric(f"preview_{name}_p99_ms", ms(name, 99), "ms", targets=(Below(TARGET_MS),)),
        ]
    metrics += [
        Metric("preview_get_forecast_p99_ms", ms("get", 99), "ms", note="uncached (as_of varies)"),
        Metric("preview_get_forecast_cached_p50_ms", ms("get_cached", 50), "ms"),
    ]
    return metrics


CPU_REPS = 10


def _store_of_signals(data_dir: Path, count: int) -> None:
    """The benchmark's signals (``count`` of them, over the same span), written in process."""
    app = TradewindsStore(env=eventsourcing_env(Settings(data_dir=data_dir)))
    try:
        events = _events(count)
        recorded = datetime.fromtimestamp(START + SPAN, UTC)
        for i in range(0, count, 5000):
            records = [
                EventRecord.record(
                    UUID(int=seq + 1), event_body(msgspec.convert(e, WorldEvent)), recorded
                )
                for seq, e in enumerate(events[i : i + 5000], start=i)
            ]
            app.events.put([e for r in records for e in r.collect_events()])
    finally:
        app.close()


def _cpu_ms(work: Callable[[], object], reps: int) -> tuple[float, float]:
    """The first call's CPU time and the median of the next ``reps``, in ms (this
    thread's CPU time: other processes on the machine do not count)."""
    took = []
    for _ in range(reps + 1):
        started = time.thread_time()
        work()
        took.append((time.thread_time() - started) * 1000)
    return took[0], median(took[1:])


def _preview_cpu_at(ctx: Context, count: int, whole: bool) -> tuple[float, float]:
    """(first, median of later) CPU ms of a new scenario's draft at ``count`` events: the
    whole preview when ``whole``, else its snapshot only (the scan and the arrays)."""
    settings = Settings()
    draft = msgspec.convert(definition([f"l{r}" for r in range(RULES)]), ScenarioDefinition)
    stop = START + SPAN
    asked = HistoryRange(None, stop, 43_200.0, float("inf"), settings.history_max_points)
    data = ctx.scratch / f"preview-cpu-{count}"
    _store_of_signals(data, count)
    app = TradewindsStore(env=eventsourcing_env(Settings(data_dir=data)))
    try:
        index = LogIndex(app.recorder)
        catch_up(app, LogProjection(index), index)
        cards = EventCards(index.table)
        now = datetime.fromtimestamp(stop, UTC)

        def work() -> object:
            snapshot = draft_snapshot(index, "brand-new", draft, now)
            if not whole:
                return snapshot
            return preview(snapshot, Query(stop), asked, cards, settings.history_max_cost)

        return _cpu_ms(work, ctx.reps(CPU_REPS))
    finally:
        app.close()


def preview_cpu(ctx: Context) -> Sequence[Metric]:
    """CPU per preview of a new scenario (all 20 rules scan the events of their kind),
    in process: what the server spends besides HTTP and JSON. At 10,000 events the whole
    preview; at 100,000 its snapshot (the scan, which grows with the store; the history
    grows with the matches). The first call makes the scan's packs (``packedbodies``)."""
    metrics = []
    for count, whole in ((EVENTS, True), (100_000, False)):
        first, later = _preview_cpu_at(ctx, count, whole)
        name = f"preview_new{'' if whole else '_snapshot'}_cpu_ms_{count // 1000}k"
        note = f"{RULES} rules, {count:,} events, in process, median of {ctx.reps(CPU_REPS)}"
        metrics += [
            Metric(name, later, "ms", note=note + " after the first"),
            Metric(name.replace("_cpu", "_first_cpu"), first, "ms"),
        ]
    return metrics


PREVIEW_BENCHMARKS = (preview_20x10k, preview_cpu)
