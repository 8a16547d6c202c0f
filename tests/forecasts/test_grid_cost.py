"""``grid_cost`` counts what its docstring says, and the grid refuses matches that
are not one per rule (issue 14: a mutation run left the cost's figures and the
strict pairing of rules with their matches untested)."""

import numpy as np
import pytest

from forecasts.backtest import grid
from forecasts.grid import SEGMENT_COST, grid_cost, grid_terms
from forecasts.model import DAY, RuleMatches
from tests.forecasts.modelkit import at, matches, rule, scenario, times


def test_no_times_cost_nothing() -> None:
    model = scenario(rule(1.0, half_life_days=1.0))
    assert grid_cost(model, [matches([1.0, 2.0])], np.empty(0)) == 0


def test_without_a_half_life_a_rule_costs_its_times_and_matches() -> None:
    model = scenario(rule(1.0), rule(2.0), rule(3.0))
    per_rule = [matches([1.0, 2.0, 3.0]), RuleMatches.empty(), matches([4.0])]
    assert grid_cost(model, per_rule, times(0.0, 1.0, 2.0, 3.0, 4.0)) == (5 + 3) + (5 + 1)


def test_a_half_life_adds_the_segments_of_both_passes() -> None:
    """Half-life 1 day: segments of 200 days (ln odds) and 100 days (variance).
    351 daily times over 350 days: 2 and 4 segments; 2 matches 300 days apart: 2 and 2."""
    model = scenario(rule(1.0, half_life_days=1.0))
    t = grid(at(0.0), at(350.0), DAY)
    assert t.shape[0] == 351
    per_rule = [matches([0.5, 300.5])]
    expected = (351 + 2) + SEGMENT_COST * (2 + 2) + SEGMENT_COST * (4 + 2)
    assert grid_cost(model, per_rule, t) == expected


def test_segments_are_at_most_one_per_value() -> None:
    """Three times 1000 half-lives apart: three segments, not 1000 / 200 + 1 per gap."""
    model = scenario(rule(1.0, half_life_days=1.0))
    t = times(0.0, 1000.0, 2000.0)
    per_rule = [matches([0.5])]
    assert grid_cost(model, per_rule, t) == (3 + 1) + 2 * SEGMENT_COST * (3 + 1)


def test_matches_that_decayed_to_nothing_before_the_grid_add_no_segments() -> None:
    """A match 2000 half-lives before the first time weighs 0 there (HORIZON: 1100)."""
    model = scenario(rule(1.0, half_life_days=1.0))
    t = times(2000.0, 2001.0)
    per_rule = [matches([0.0, 1999.5])]
    assert grid_cost(model, per_rule, t) == (2 + 2) + 2 * SEGMENT_COST * (1 + 1)


def test_a_rule_whose_matches_all_decayed_adds_only_the_segments_of_its_times() -> None:
    model = scenario(rule(1.0, half_life_days=1.0))
    t = times(2000.0, 2001.0)
    per_rule = [matches([0.0, 10.0])]
    assert grid_cost(model, per_rule, t) == (2 + 2) + 2 * SEGMENT_COST * (1 + 0)


def test_matches_not_one_per_rule_are_refused() -> None:
    model = scenario(rule(1.0), rule(2.0))
    with pytest.raises(ValueError, match="zip"):
        grid_terms(model, [matches([1.0])], times(2.0))
    with pytest.raises(ValueError, match="zip"):
        grid_cost(model, [matches([1.0])], times(2.0))
