"""What handlers get injected (provided once, in ``service.web.app``)."""

from typing import TypeAlias

from litestar.di import NamedDependency

from service.persistence.eventlog import EventLog
from service.queries.forecasting import Forecaster
from service.queries.stream import ForecastStream
from service.web.metrics import Metrics
from service.workers.backtests import BacktestRunner

Log: TypeAlias = NamedDependency[EventLog]
ForecasterDep: TypeAlias = NamedDependency[Forecaster]
Backtests: TypeAlias = NamedDependency[BacktestRunner]
MetricsDep: TypeAlias = NamedDependency[Metrics]
StreamDep: TypeAlias = NamedDependency[ForecastStream]
