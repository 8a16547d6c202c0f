"""The litestar application: routes, dependency injection, errors, OpenAPI, lifespan."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from anyio import to_thread
from litestar import Litestar, Router
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.types import ControllerRouterHandler

from service.access import PUBLIC, Scope, add_security, needs
from service.application import Tradewinds
from service.bootstrap import bootstrap
from service.persistence.eventlog import utc_now
from service.queries.stream import end_streams_on_signals
from service.settings import Settings
from service.web.apidocs import docs_assets, docs_plugin
from service.web.authorize import Authorize
from service.web.dashboard import dashboard_routes
from service.web.deps import TradewindsDep
from service.web.httpedges import install as install_http_edges
from service.web.metrics import Metrics, metrics_route
from service.web.observe import Observe
from service.web.openapi import add_discriminators, optional_parameters
from service.web.problems import EXCEPTION_HANDLERS
from service.web.routes import health
from service.web.routes.access import access_route
from service.web.routes.alerts import AlertsController
from service.web.routes.backtests import BacktestsController
from service.web.routes.baseline import same_bytes
from service.web.routes.calibration import get_calibration
from service.web.routes.eventdrafts import EventDraftsController
from service.web.routes.events import EventsController
from service.web.routes.forecasts import ForecastsController
from service.web.routes.log import get_log
from service.web.routes.preview import PreviewController
from service.web.routes.scenarios import ScenariosController
from service.web.routes.stream import stream_forecasts

API_VERSION = "0.1.0"


def create_app(settings: Settings, clock: Callable[[], datetime] = utc_now) -> Litestar:
    """The app; its lifespan builds the service (``service.bootstrap``), puts it on
    ``app.state.tradewinds`` and stops it at shutdown."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        tradewinds = await to_thread.run_sync(bootstrap, settings, clock)
        tradewinds.start()
        end_streams_on_signals(tradewinds.stream)
        app.state.tradewinds = tradewinds
        try:
            yield
        finally:
            await to_thread.run_sync(tradewinds.stop)

    def provide_tradewinds() -> Tradewinds:
        """Takes no parameters, so litestar resolves it without parsing a signature
        per request (a few microseconds on the most polled route)."""
        tradewinds: Tradewinds | None = app.state.get("tradewinds")
        if tradewinds is None:
            msg = "a handler ran before the lifespan started the service"
            raise RuntimeError(msg)
        return tradewinds

    handlers: list[ControllerRouterHandler] = [
        EventsController,
        EventDraftsController,
        ScenariosController,
        PreviewController,
        Router("/", route_handlers=[ForecastsController], opt=needs(Scope.read)),
        BacktestsController,
        get_calibration,
        stream_forecasts,
        AlertsController,
        get_log,
        docs_assets(),
        health.live,
        health.ready,
        access_route(settings.api_keys),
    ]
    metrics = Metrics(API_VERSION)
    handlers.append(metrics_route(metrics))
    handlers.extend(dashboard_routes())

    def provide_metrics(tradewinds: TradewindsDep) -> Metrics:
        """Depends on ``tradewinds`` so that litestar resolves the two one after the
        other: independent dependencies are resolved in an anyio task group, two new
        tasks per request (about 80 us of an append's CPU)."""
        return metrics

    if settings.benchmark_routes:
        handlers.append(same_bytes)
    app = Litestar(
        route_handlers=handlers,
        dependencies={
            "tradewinds": Provide(provide_tradewinds, sync_to_thread=False),
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
    metrics.watch(lambda: app.state.get("tradewinds"))
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
        render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"]), docs_plugin()],
    )


def openapi_document(app: Litestar) -> dict[str, Any]:
    """The OpenAPI document as served, with discriminators on the event unions."""
    schema = app.openapi_schema
    add_discriminators(schema)
    optional_parameters(app)
    add_security(app)
    return schema.to_schema()
