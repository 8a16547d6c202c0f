"""What handlers get injected (provided once, in ``service.web.app``)."""

from typing import TypeAlias

from litestar.di import NamedDependency

from service.application import Tradewinds
from service.web.metrics import Metrics

TradewindsDep: TypeAlias = NamedDependency[Tradewinds]
MetricsDep: TypeAlias = NamedDependency[Metrics]
