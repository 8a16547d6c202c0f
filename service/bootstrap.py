"""The composition root: every long-lived part of the service, built from its
settings and a clock, in one place. The HTTP app's lifespan, the command line,
``replay`` and the benchmarks all build the service here (the command line and
the benchmarks without the background workers)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from service.application import Tradewinds
from service.persistence.committer import GroupCommitter
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import EventLog, TradewindsStore, utc_now
from service.projection.index import LogIndex
from service.queries.forecasting import Forecaster
from service.queries.stream import ForecastStream
from service.settings import Settings
from service.workers.alerter import Alerter
from service.workers.backtests import BacktestRunner
from service.workers.delivery import DeliveryWorker
from service.workers.registry import Workers

Clock = Callable[[], datetime]


def open_eventlog(settings: Settings, clock: Clock = utc_now) -> EventLog:
    """The store, its writer and the index with its follower (not started yet); the
    writer and the follower are registered with the log's ``workers``."""
    env = eventsourcing_env(settings)
    store = TradewindsStore(env)
    committer = GroupCommitter(
        store,
        clock,
        settings.group_commit_max_jobs,
        commit_timeout_s=settings.commit_timeout_s,
    )
    workers = Workers()
    eventlog = EventLog(settings, env, store, LogIndex(store.recorder), committer, workers)
    workers.watch("writer", committer.thread)
    workers.watch("projection", eventlog.follower)
    return eventlog


@dataclass(frozen=True)
class Background:
    """The worker threads of a server, each registered once with the log's workers."""

    backtests: BacktestRunner
    stream: ForecastStream
    alerter: Alerter
    webhooks: DeliveryWorker

    def start(self, workers: Workers) -> None:
        for name, worker in (
            ("backtests", self.backtests),
            ("stream", self.stream),
            ("webhooks", self.webhooks),
        ):
            workers.watch(name, worker.thread)
            worker.start()

    def stop(self) -> None:
        self.alerter.stop()
        self.stream.stop()
        self.webhooks.stop()
        self.backtests.stop()


def bootstrap(settings: Settings, clock: Clock = utc_now, *, background: bool = True) -> Tradewinds:
    """The service, not started yet: ``start()`` (or ``with``) starts the event log and,
    with ``background``, the backtest runner, the forecast stream (which fires the
    alerts) and the webhook sender; without, the command line's and the benchmarks'
    service (the log and the forecaster)."""
    eventlog = open_eventlog(settings, clock)
    forecaster = Forecaster(eventlog, clock, settings.tick_seconds)
    if not background:
        return Tradewinds(eventlog, forecaster, None)
    stream = ForecastStream(eventlog, forecaster)
    alerter = Alerter(eventlog, forecaster)
    stream.on_change(alerter.on_changes)
    workers = Background(BacktestRunner(eventlog), stream, alerter, DeliveryWorker(eventlog))
    return Tradewinds(eventlog, forecaster, workers)
