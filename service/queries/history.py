"""A scenario's forecast on a time grid (``GET .../history``), checked for size first:
at most ``max_points`` points and an estimated cost (``grid_cost``) within
``history_max_cost``; the terms come from ``grid_terms`` (one pass per rule)."""

from dataclasses import dataclass

import msgspec
import numpy as np

from domain.errors import FieldError, InvalidInput
from forecasts.backtest import grid
from forecasts.grid import grid_cost
from forecasts.model import Floats, RuleMatches, ScenarioModel
from forecasts.points import forecast_points
from service.queries.budget import UNLIMITED, Budget
from service.queries.calibration import Calibrations
from service.queries.snapshots import Snapshot, moment
from service.queries.views import History, HistoryPoint


@dataclass(frozen=True)
class HistoryRange:
    """The grid asked for: from ``start`` (None: the scenario's opens_at) to ``stop``
    every ``step`` seconds, known at ``known``, at most ``max_points`` points."""

    start: float | None
    stop: float
    step: float
    known: float
    max_points: int


def history_of(
    snapshot: Snapshot, asked: HistoryRange, max_cost: float, budget: Budget = UNLIMITED
) -> History:
    """The forecast on the grid; InvalidInput with more than ``max_points`` points or
    an estimated cost above ``max_cost``."""
    model = snapshot.version.model
    first = model.opens_at if asked.start is None else asked.start
    stop, step, max_points = asked.stop, asked.step, asked.max_points
    if stop >= first and (stop - first) / step + 1 > max_points + 1:
        msg = f"more than {max_points} points: use a longer step"
        raise InvalidInput([FieldError("step", msg)])
    t = grid(first, stop, step)
    if t.shape[0] > max_points:
        msg = f"{t.shape[0]} points is more than {max_points}: use a longer step"
        raise InvalidInput([FieldError("step", msg)])
    check_history_cost(model, snapshot.arrays, t, max_cost)
    points = forecast_points(
        model,
        snapshot.arrays,
        t,
        asked.known,
        snapshot.resolutions,
        on_grid=True,
        between_rules=budget.check,
    )
    budget.check()
    history = [
        HistoryPoint(t=moment(at), probability=p.probability, interval80=p.interval80)
        for at, p in zip(t.tolist(), points.served(), strict=True)
    ]
    return History(scenario_id=snapshot.scenario_id, points=history)


def check_history_cost(
    model: ScenarioModel, arrays: list[RuleMatches], t: Floats, cap: float
) -> None:
    cost = grid_cost(model, arrays, t)
    if cost > cap:
        msg = (
            f"this history would cost about {cost:.3g} model steps ({t.shape[0]} points,"
            f" {sum(len(a) for a in arrays)} matched events over {len(arrays)} rules),"
            f" more than the cap of {cap:.3g} (TRADEWINDS_HISTORY_MAX_COST):"
            " ask for a shorter range (from, to) or a longer step"
        )
        raise InvalidInput([FieldError("step", msg)])


def with_calibrated(
    history: History, calibrations: Calibrations, known: float, budget: Budget = UNLIMITED
) -> History:
    """The history with each point's ``calibrated_probability``: the calibration in
    force at the point's time under the cut (``Calibrations.along``: one fit per
    distinct set of scenarios closed by then), applied to its probability."""
    times = np.array([p.t.timestamp() for p in history.points])
    fits = calibrations.along(times, known, budget)
    points = [
        msgspec.structs.replace(p, calibrated_probability=fit.probability(p.probability))
        for p, fit in zip(history.points, fits, strict=True)
    ]
    return History(scenario_id=history.scenario_id, points=points)
