"""Prometheus metrics, in a registry of the app's own (tests build many apps).

Request counts and latencies are observed by ``service.web.observe``; appends by
the events handlers; the projection's position, the store's head, the lag
between them and the backtests waiting or running are read from the log when
``/metrics`` is scraped, so they cost nothing between scrapes.
"""

import contextlib
import platform
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from service.access import PUBLIC, needs

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class Metrics:
    def __init__(self, version: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tradewinds_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tradewinds_http_request_duration_seconds",
            "Time from the request reaching the app to the end of the response",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.events_appended = Counter(
            "tradewinds_events_appended",
            "World events in appends this process answered 201 (replays answered 200 not counted)",
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "tradewinds_batch_size_events",
            "Events per stored POST /v1/events/batch",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        build = Info("tradewinds_build", "Service and Python versions", registry=self.registry)
        build.info({"version": version, "python": platform.python_version()})

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:  # once per method, route template and status: labels() is slow
            labels = (method, route, str(status))
            children = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def appended(self, events: int, *, batch: bool) -> None:
        self.events_appended.inc(events)
        if batch:
            self.batch_size.observe(events)

    def watch(self, state: Callable[[], Mapping[str, Any]]) -> None:
        """Read the log (``state()["log"]``, once the lifespan has put it there),
        the backtest runner and the forecaster at each scrape."""
        self.registry.register(_LogCollector(state))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _LogCollector(Collector):
    def __init__(self, state: Callable[[], Mapping[str, Any]]) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        state = self._state()
        log = state.get("log")
        if log is None:
            return
        position = log.index.position
        yield GaugeMetricFamily(
            "tradewinds_projection_position", "Last log position the index has applied", position
        )
        yield from _store(log, position)
        yield self._backtests(log, state.get("backtests"))
        forecaster = state.get("forecaster")
        for outcome in ("hits", "misses"):
            count = getattr(forecaster, f"cache_{outcome}", None)
            if isinstance(count, int):
                yield CounterMetricFamily(
                    f"tradewinds_forecast_cache_{outcome}",
                    f"Forecast cache {outcome} for 'now'",
                    count,
                )

        yield from _push(log, state.get("stream"))

    @staticmethod
    def _backtests(log: Any, runner: Any) -> GaugeMetricFamily:
        live = set(getattr(runner, "running", {}))
        counts = {"queued": 0, "running": 0}
        with log.index.reading():
            for backtest in log.index.backtests.values():
                if backtest.status in counts:
                    counts["running" if backtest.id in live else backtest.status] += 1
        family = GaugeMetricFamily(
            "tradewinds_backtests", "Backtests waiting or running", labels=["status"]
        )
        for status, count in counts.items():
            family.add_metric([status], count)
        return family


def _store(log: Any, position: int) -> Iterator[Metric]:
    """The store's head and the lag (left out while the store does not answer), whether
    it takes writes, and the worker threads that have died."""
    head = None
    if log.committer.problem is None and log.projection_problem is None:
        with contextlib.suppress(Exception):  # a scrape must answer while the store is down
            head = log.head()
    if head is not None:
        yield GaugeMetricFamily("tradewinds_store_head", "Last position in the store", head)
        yield GaugeMetricFamily(
            "tradewinds_projection_lag_records",
            "Records in the store the index has not applied yet",
            max(0, head - position),
        )
    yield GaugeMetricFamily(
        "tradewinds_ready",
        "1 when ready (caught up, following the store, the store takes writes)",
        1 if log.ready() else 0,
    )
    dead = set(log.workers.dead())
    family = GaugeMetricFamily(
        "tradewinds_worker_alive", "1 while the worker thread runs", labels=["worker"]
    )
    for name in log.workers.names():
        family.add_metric([name], 0 if name in dead else 1)
    yield family


def _push(log: Any, stream: Any) -> Iterator[Metric]:
    """Open forecast streams; alert deliveries not finished yet, by status."""
    count = getattr(stream, "subscriber_count", None)
    if isinstance(count, int):
        yield GaugeMetricFamily("tradewinds_stream_subscribers", "Open forecast streams", count)
    counts = {"pending": 0, "attempted": 0}
    with log.index.reading():
        for delivery_id in log.index.alerts.unfinished:
            delivery = log.index.alerts.deliveries[delivery_id]
            if delivery.status in counts:
                counts[delivery.status] += 1
    family = GaugeMetricFamily(
        "tradewinds_webhook_deliveries", "Alert deliveries not sent yet", labels=["status"]
    )
    for status, n in counts.items():
        family.add_metric([status], n)
    yield family


def metrics_route(metrics: Metrics) -> HTTPRouteHandler:
    """``GET /metrics``: the Prometheus text format; no key needed."""

    @get(
        "/metrics",
        opt=needs(PUBLIC),
        tags=["operations"],
        summary="Prometheus metrics",
        media_type=CONTENT_TYPE_LATEST,
        sync_to_thread=True,
    )
    def scrape() -> Response[bytes]:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return scrape
