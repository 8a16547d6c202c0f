"""The litestar application: routes, dependency injection, errors, OpenAPI, lifespan."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

from anyio import to_thread
from litestar import Litestar, Router
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.types import ControllerRouterHandler

from service.access import PUBLIC, Scope, add_security, needs
from service.persistence.eventlog import EventLog, utc_now
from service.queries.forecasting import Forecaster
from service.queries.stream import ForecastStream, end_streams_on_signals
from service.settings import Settings
from service.web.authorize import Authorize
from service.web.dashboard import dashboard_routes
from service.web.httpedges import install as install_http_edges
from service.web.metrics import Metrics, metrics_route
from service.web.observe import Observe
from service.web.openapi import add_discriminators, optional_parameters
from service.web.problems import EXCEPTION_HANDLERS
from service.web.routes import health
from service.web.routes.alerts import AlertsController
from service.web.routes.backtests import BacktestsController
from service.web.routes.baseline import same_bytes
from service.web.routes.events import EventsController
from service.web.routes.forecasts import ForecastsController
from service.web.routes.scenarios import ScenariosController
from service.web.routes.stream import stream_forecasts
from service.workers.alerter import Alerter
from service.workers.backtests import BacktestRunner
from service.workers.delivery import DeliveryWorker

API_VERSION = "0.1.0"
T = TypeVar("T")


def _started(service: T | None) -> T:
    if service is None:
        msg = "a handler ran before the lifespan started the service"
        raise RuntimeError(msg)
    return service


class Services:
    """What the lifespan builds and handlers are given. Providers take no
    parameters, so litestar resolves them without parsing a signature per request
    (a few microseconds on the most polled route)."""

    def __init__(self) -> None:
        self._log: EventLog | None = None
        self._forecaster: Forecaster | None = None
        self._backtests: BacktestRunner | None = None
        self._stream: ForecastStream | None = None

    def start(self, log: EventLog, forecaster: Forecaster, backtests: BacktestRunner) -> None:
        self._log, self._forecaster, self._backtests = log, forecaster, backtests

    def log(self) -> EventLog:
        return _started(self._log)

    def forecaster(self) -> Forecaster:
        return _started(self._forecaster)

    def backtests(self) -> BacktestRunner:
        return _started(self._backtests)

    def start_push(self, stream: ForecastStream) -> None:
        self._stream = stream

    def stream(self) -> ForecastStream:
        return _started(self._stream)


def create_app(settings: Settings, clock: Callable[[], datetime] = utc_now) -> Litestar:
    services = Services()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        log = await to_thread.run_sync(EventLog, settings, clock)
        log.start()
        runner = BacktestRunner(log)
        log.workers.watch("backtests", runner.thread)
        runner.start()
        app.state.log = log
        app.state.forecaster = Forecaster(log, clock, settings.tick_seconds)
        app.state.backtests = runner
        services.start(log, app.state.forecaster, runner)
        stream = ForecastStream(log, app.state.forecaster)
        alerter = Alerter(log, app.state.forecaster)
        stream.on_change(alerter.on_changes)
        log.workers.watch("stream", stream.thread)
        stream.start()
        webhooks = DeliveryWorker(log)
        log.workers.watch("webhooks", webhooks.thread)
        webhooks.start()
        end_streams_on_signals(stream)
        app.state.stream = stream
        services.start_push(stream)
        try:
            yield
        finally:
            log.workers.stopping()
            alerter.stop()
            await to_thread.run_sync(stream.stop)
            await to_thread.run_sync(webhooks.stop)
            await to_thread.run_sync(runner.stop)
            await to_thread.run_sync(log.close)

    handlers: list[ControllerRouterHandler] = [
        EventsController,
        ScenariosController,
        Router("/", route_handlers=[ForecastsController], opt=needs(Scope.read)),
        BacktestsController,
        stream_forecasts,
        AlertsController,
        health.live,
        health.ready,
    ]
    metrics = Metrics(API_VERSION)
    handlers.append(metrics_route(metrics))
    handlers.extend(dashboard_routes())

    def provide_metrics() -> Metrics:
        return metrics

    if settings.benchmark_routes:
        handlers.append(same_bytes)
    app = Litestar(
        route_handlers=handlers,
        dependencies={
            "log": Provide(services.log, sync_to_thread=False),
            "forecaster": Provide(services.forecaster, sync_to_thread=False),
            "backtests": Provide(services.backtests, sync_to_thread=False),
            "stream": Provide(services.stream, sync_to_thread=False),
            "metrics": Provide(provide_metrics, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        openapi_config=openapi_config(),
        on_startup=[
            lambda app: add_discriminators(app.openapi_schema),
            optional_parameters,
            add_security,
        ],
        debug=False,
        logging_config=None,  # the command line configures logging (JSON lines)
        middleware=[
            Observe(metrics, access_log=settings.access_log),
            *([Authorize(settings.api_keys)] if settings.api_keys else []),
        ],
        request_max_body_size=settings.max_body_bytes,
    )
    install_http_edges(app)  # HEAD, Allow and Host: before routing, so not a middleware
    metrics.watch(lambda: app.state)
    return app


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Tradewinds",
        version=API_VERSION,
        description="Scenario forecasts from an event-sourced log of US-China technology-policy "
        "events.",
        openapi_router=Router(
            "/schema", route_handlers=[], include_in_schema=False, opt=needs(PUBLIC)
        ),
        render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
    )


def openapi_document(app: Litestar) -> dict[str, Any]:
    """The OpenAPI document as served, with discriminators on the event unions."""
    schema = app.openapi_schema
    add_discriminators(schema)
    optional_parameters(app)
    add_security(app)
    return schema.to_schema()
