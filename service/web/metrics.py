"""Prometheus metrics, in a registry of the app's own (tests build many apps).

Request counts and latencies are observed by ``service.web.observe``; appends by
the events handlers; the projection's position, the store's head, the lag
between them and the backtests waiting or running are read from the service
(``service.application.Tradewinds``) when ``/metrics`` is scraped, so they cost
nothing between scrapes.
"""

import platform
from collections.abc import Callable, Iterator

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from service.access import PUBLIC, needs
from service.application import Tradewinds

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

    def watch(self, running: Callable[[], Tradewinds | None]) -> None:
        """Read the service (``running()``, once the lifespan has started it): the
        index, the store, the workers, the backtests, the forecaster and the stream,
        at each scrape."""
        self.registry.register(_ServiceCollector(running))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _ServiceCollector(Collector):
    def __init__(self, running: Callable[[], Tradewinds | None]) -> None:
        self._running = running

    def collect(self) -> Iterator[Metric]:
        tradewinds = self._running()
        if tradewinds is None:
            return
        position = tradewinds.position
        yield GaugeMetricFamily(
            "tradewinds_projection_position", "Last log position the index has applied", position
        )
        yield from _store(tradewinds, position)
        yield _by_status(
            "tradewinds_backtests", "Backtests waiting or running", tradewinds.backtest_counts()
        )
        forecaster = tradewinds.forecaster
        cache = {"hits": forecaster.cache_hits, "misses": forecaster.cache_misses}
        for outcome, count in cache.items():
            yield CounterMetricFamily(
                f"tradewinds_forecast_cache_{outcome}", f"Forecast cache {outcome} for 'now'", count
            )
        yield GaugeMetricFamily(
            "tradewinds_stream_subscribers",
            "Open forecast streams",
            tradewinds.stream.subscriber_count,
        )
        yield _by_status(
            "tradewinds_webhook_deliveries",
            "Alert deliveries not sent yet",
            tradewinds.delivery_counts(),
        )


def _by_status(name: str, documentation: str, counts: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["status"])
    for status, count in counts.items():
        family.add_metric([status], count)
    return family


def _store(tradewinds: Tradewinds, position: int) -> Iterator[Metric]:
    """The store's head and the lag (left out while the store does not answer), whether
    it takes writes, and the worker threads that have died."""
    head = tradewinds.store_head()
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
        1 if tradewinds.not_ready_because() is None else 0,
    )
    dead = set(tradewinds.dead_workers())
    family = GaugeMetricFamily(
        "tradewinds_worker_alive", "1 while the worker thread runs", labels=["worker"]
    )
    for name in tradewinds.workers.names():
        family.add_metric([name], 0 if name in dead else 1)
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
