"""The grid's decay loop ends whatever the half-life (issue 13: a half-life of
1e-300 days made ``start + width == start`` and the loop never advanced; 3e-6
days made one history read take 45 s)."""

import math

import numpy as np
import pytest

from forecasts.backtest import grid
from forecasts.grid import _decayed_sums, grid_cost, grid_terms
from forecasts.model import DAY, terms
from tests.forecasts.modelkit import at, matches, rule, scenario, times

TOL = 1e-12


@pytest.mark.timeout(10)
@pytest.mark.parametrize("half_life_days", [1e-300, 5e-324, 3e-6, 1e-9])
def test_a_vanishing_half_life_ends_and_agrees_with_the_single_time_model(
    half_life_days: float,
) -> None:
    model = scenario(rule(1.0, half_life_days=half_life_days))
    per_rule = [matches([1.0, 2.0, 50.0, 700.0])]
    t = np.concatenate([grid(at(0.0), at(730.0), DAY), times(50.0, 700.0)])
    t.sort()
    log_odds, variance = grid_terms(model, per_rule, t)
    expected = terms(model, per_rule, t)
    assert log_odds.tolist() == pytest.approx(expected.log_odds.tolist(), abs=TOL, rel=0)
    assert variance.tolist() == pytest.approx(expected.variance.tolist(), abs=TOL, rel=0)
    at_a_match = np.isin(t, times(1.0, 2.0, 50.0, 700.0))
    assert np.all(log_odds[at_a_match] == pytest.approx(model.prior_logit + 1.0))
    assert np.all(log_odds[~at_a_match] == pytest.approx(model.prior_logit))


@pytest.mark.timeout(10)
def test_long_stretches_without_matches_or_times_are_skipped_exactly() -> None:
    t = np.concatenate([times(0.5, 1.0, 1.5, 2.0), grid(at(10_000.0), at(10_100.0), DAY)])
    coefficients = np.array([1.0, 2.0, 4.0])
    occurred = times(0.5, 1.5, 10_050.0)
    hour = 3600.0
    found = _decayed_sums(occurred, coefficients, hour, t)
    expected = [
        sum(
            c * 2.0 ** (-(x - o) / hour)
            for c, o in zip(coefficients, occurred, strict=True)
            if o <= x
        )
        for x in t.tolist()
    ]
    assert found.tolist() == pytest.approx(expected, abs=TOL, rel=1e-12)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("half_life", [0.0, -1.0, math.nan])
def test_a_half_life_that_is_not_positive_is_refused(half_life: float) -> None:
    with pytest.raises(ValueError, match="half_life must be positive"):
        _decayed_sums(times(1.0), np.ones(1), half_life, times(2.0))


def test_matches_decayed_to_zero_before_the_grid_are_skipped_exactly() -> None:
    hour = 3600.0
    occurred = np.concatenate([times(0.0, 1.0), np.array([at(400.0) - 10 * hour])])
    t = grid(at(400.0), at(401.0), hour)
    found = _decayed_sums(occurred, np.array([5.0, 7.0, 1.0]), hour, t)
    expected = [2.0 ** (-(x - occurred[-1]) / hour) for x in t.tolist()]
    assert found.tolist() == pytest.approx(expected, abs=0, rel=1e-12)


def test_the_cost_without_a_half_life_is_points_times_rules_plus_matches() -> None:
    model = scenario(rule(1.0, name="a"), rule(1.0, name="b"), rule(1.0, name="c"))
    per_rule = [matches([1.0, 2.0]), matches([3.0]), matches([])]
    t = grid(at(0.0), at(99.0), DAY)
    assert grid_cost(model, per_rule, t) == 100 * 2 + 3


def test_a_shorter_range_or_a_longer_step_costs_less() -> None:
    """What the 422 of a history over its cost cap advises."""
    model = scenario(rule(1.0, half_life_days=1 / 24))
    per_rule = [matches(np.linspace(1.0, 3650.0, 100).tolist())]
    full = grid_cost(model, per_rule, grid(at(0.0), at(3650.0), DAY))
    assert grid_cost(model, per_rule, grid(at(3450.0), at(3650.0), DAY)) < full / 10
    assert grid_cost(model, per_rule, grid(at(0.0), at(3650.0), 30 * DAY)) < full


@pytest.mark.timeout(10)
@pytest.mark.parametrize("step", [1e-300, 1e-9, 0.0, math.nan])
def test_a_grid_step_too_small_to_advance_is_refused(step: float) -> None:
    with pytest.raises(ValueError, match="step must be positive"):
        grid(at(0.0), at(0.0) + 1e-12, step)
