"""What handlers get injected (provided once, in ``service.app``)."""

from typing import TypeAlias

from litestar.di import NamedDependency

from service.backtests import BacktestRunner
from service.forecasting import Forecaster
from service.log import EventLog
from service.metrics import Metrics
from service.stream import ForecastStream

Log: TypeAlias = NamedDependency[EventLog]
ForecasterDep: TypeAlias = NamedDependency[Forecaster]
Backtests: TypeAlias = NamedDependency[BacktestRunner]
MetricsDep: TypeAlias = NamedDependency[Metrics]
StreamDep: TypeAlias = NamedDependency[ForecastStream]
