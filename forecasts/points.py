"""The forecast pipeline: status, terms, probability and intervals at given times.

Every forecast the service serves (a poll, a history, the stream, the numbers an
alert compares) comes from ``forecast_points``, so a field added to a forecast is
added here once. The terms are ``model.terms`` (kept in ``Points.terms`` for the
contributions) or, on a sorted time grid, ``grid.grid_terms`` (no contributions).
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import NDArray

from forecasts.grid import grid_terms
from forecasts.model import (
    Z80,
    Z95,
    Floats,
    Resolutions,
    RuleMatches,
    ScenarioModel,
    Status,
    Terms,
    interval,
    probabilities,
    status_at,
    terms,
)

Interval = tuple[float, float]


@dataclass(frozen=True)
class Point:
    """One time's numbers as served: None where they do not apply (a probability
    when annulled; the logit and the intervals unless open)."""

    status: Status
    probability: float | None
    logit: float | None
    interval80: Interval | None
    interval95: Interval | None


@dataclass(frozen=True)
class Points:
    """Per time of ``t``: the status, the probability (NaN when annulled), the ln
    odds, and the 80 % and 95 % intervals (NaN where not open). ``terms`` is the
    whole ``model.terms`` (weights, counted matches, time term) when the terms came
    from it, None when they came from the grid."""

    status: NDArray[np.str_]
    probability: Floats
    logit: Floats
    interval80: tuple[Floats, Floats]
    interval95: tuple[Floats, Floats]
    terms: Terms | None

    def __len__(self) -> int:
        return int(self.status.shape[0])

    def point(self, i: int) -> Point:
        """The numbers at the ``i``-th time, as served."""
        return _point(
            str(self.status[i]),
            float(self.probability[i]),
            float(self.logit[i]),
            (float(self.interval80[0][i]), float(self.interval80[1][i])),
            (float(self.interval95[0][i]), float(self.interval95[1][i])),
        )

    def served(self) -> list[Point]:
        """Every time's numbers, as served (``point`` of each, converted at once)."""
        columns = zip(
            self.status.tolist(),
            self.probability.tolist(),
            self.logit.tolist(),
            zip(self.interval80[0].tolist(), self.interval80[1].tolist(), strict=True),
            zip(self.interval95[0].tolist(), self.interval95[1].tolist(), strict=True),
            strict=True,
        )
        return [_point(*column) for column in columns]


def _point(
    status: str, p: float, logit: float, interval80: Interval, interval95: Interval
) -> Point:
    state = cast(Status, status)
    probability = None if math.isnan(p) else p
    if state != "open":
        return Point(state, probability, None, None, None)
    return Point(state, probability, logit, interval80, interval95)


def _where_open(is_open: NDArray[np.bool_], bounds: tuple[Floats, Floats]) -> tuple[Floats, Floats]:
    return np.where(is_open, bounds[0], np.nan), np.where(is_open, bounds[1], np.nan)


def forecast_points(
    model: ScenarioModel,
    matches: Sequence[RuleMatches],
    t: Floats,
    known: float = np.inf,
    resolutions: Resolutions = (),
    *,
    on_grid: bool = False,
    between_rules: Callable[[], None] | None = None,
) -> Points:
    """The forecast at every time of ``t`` under the knowledge cut ``known``, with
    the resolution in force then among ``resolutions`` (the scenario's, in log order).

    ``on_grid``: the terms by ``grid_terms`` (``t`` sorted ascending; cheaper for
    many times, no contributions; ``between_rules`` is its budget check), else by
    ``model.terms``."""
    status = status_at(t, model.deadline, resolutions, known)
    found: Terms | None = None
    if on_grid:
        log_odds, variance = grid_terms(model, matches, t, known, between_rules)
    else:
        found = terms(model, matches, t, known)
        log_odds, variance = found.log_odds, found.variance
    is_open = status == "open"
    return Points(
        status=status,
        probability=probabilities(log_odds, status),
        logit=log_odds,
        interval80=_where_open(is_open, interval(log_odds, variance, Z80)),
        interval95=_where_open(is_open, interval(log_odds, variance, Z95)),
        terms=found,
    )
