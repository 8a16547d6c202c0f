"""The one forecast pipeline (issue 14) gives, bit for bit, the numbers of the steps
it replaced (status, terms, probabilities, intervals), for every status, with the
terms of ``model.terms`` or of the grid; the logit and the intervals only where
open, the probability absent only when annulled."""

import math
from typing import Literal

import numpy as np
import pytest

from forecasts.grid import grid_terms
from forecasts.model import (
    Z80,
    Z95,
    Resolution,
    interval,
    probabilities,
    status_at,
    terms,
)
from forecasts.points import forecast_points
from tests.forecasts.modelkit import at, matches, rule, scenario, times

MODEL = scenario(
    rule(0.9, uncertainty=0.3),
    rule(-0.5, uncertainty=0.6, half_life_days=5.0, repeat_discount=0.7),
    deadline_days=100.0,
    uniform=True,
)
ARRAYS = [
    matches([4.0, 10.0, 30.0], recorded_days=[4.0, 11.0, 31.0]),
    matches([8.0, 8.0, 50.0], positions=[3, 4, 9], retracted_days=[math.inf, 60.0, math.inf]),
]
T = times(1.0, 9.0, 20.0, 45.0, 70.0, 99.0, 100.0, 150.0)
Outcome = Literal["yes", "no", "annulled"]


def _resolution(outcome: Outcome | None) -> tuple[Resolution, ...]:
    if outcome is None:
        return ()
    return (Resolution(outcome=outcome, resolved_at=at(45.0), recorded_at=at(46.0)),)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit, NaN included."""
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("outcome", [None, "yes", "no", "annulled"])
@pytest.mark.parametrize("known", [math.inf, at(47.0), at(20.0)])
@pytest.mark.parametrize("on_grid", [False, True])
def test_the_points_are_the_step_by_step_numbers(
    outcome: Outcome | None, known: float, *, on_grid: bool
) -> None:
    resolution = _resolution(outcome)
    status = status_at(T, MODEL.deadline, resolution, known)
    if on_grid:
        log_odds, variance = grid_terms(MODEL, ARRAYS, T, known)
    else:
        found = terms(MODEL, ARRAYS, T, known)
        log_odds, variance = found.log_odds, found.variance
    is_open = status == "open"

    points = forecast_points(MODEL, ARRAYS, T, known, resolution, on_grid=on_grid)

    assert points.status.tolist() == status.tolist()
    assert _same(points.probability, probabilities(log_odds, status))
    assert _same(points.logit, log_odds)
    for z, served in ((Z80, points.interval80), (Z95, points.interval95)):
        lo, hi = interval(log_odds, variance, z)
        assert _same(served[0][is_open], lo[is_open])
        assert _same(served[1][is_open], hi[is_open])
        assert np.isnan(served[0][~is_open]).all()
        assert np.isnan(served[1][~is_open]).all()
    assert (points.terms is None) == on_grid


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (None, ["open", "open", "open", "open", "open", "open", "expired", "expired"]),
        ("yes", ["open", "open", "open", "resolved_yes", *["resolved_yes"] * 4]),
        ("no", ["open", "open", "open", "resolved_no", *["resolved_no"] * 4]),
        ("annulled", ["open", "open", "open", "annulled", *["annulled"] * 4]),
    ],
)
def test_a_point_serves_the_logit_and_intervals_only_while_open(
    outcome: Outcome | None, expected: list[str]
) -> None:
    points = forecast_points(MODEL, ARRAYS, T, resolutions=_resolution(outcome))
    found = terms(MODEL, ARRAYS, T)
    lo80, hi80 = interval(found.log_odds, found.variance, Z80)
    lo95, hi95 = interval(found.log_odds, found.variance, Z95)
    served = [points.point(i) for i in range(len(points))]

    assert points.served() == served
    assert [p.status for p in served] == expected
    for i, point in enumerate(served):
        if point.status == "open":
            assert point.logit == float(found.log_odds[i])
            assert point.interval80 == (float(lo80[i]), float(hi80[i]))
            assert point.interval95 == (float(lo95[i]), float(hi95[i]))
            assert point.probability == float(points.probability[i])
            assert 0.0 < point.probability < 1.0
        else:
            assert (point.logit, point.interval80, point.interval95) == (None, None, None)
    settled = {
        "resolved_yes": 1.0,
        "resolved_no": 0.0,
        "expired": 0.0,
        "annulled": None,
    }
    for point in served:
        if point.status != "open":
            assert point.probability == settled[point.status]


def test_the_terms_are_kept_for_the_contributions() -> None:
    points = forecast_points(MODEL, ARRAYS, T)
    found = terms(MODEL, ARRAYS, T)
    assert points.terms is not None
    assert _same(points.terms.time_term, found.time_term)
    for kept, expected in zip(points.terms.weights, found.weights, strict=True):
        assert _same(kept, expected)


def test_the_grid_calls_the_budget_check_between_rules() -> None:
    calls: list[int] = []
    forecast_points(MODEL, ARRAYS, T, on_grid=True, between_rules=lambda: calls.append(1))
    assert len(calls) == 2
