"""Rule groups (model.md, Evidence rules): the matches of a group's rules are ranked
together in the order (occurred_at, position, rule's place in the scenario), and a
match of rule R with rank k weighs r_R^(k-1), R's own repeat discount. One event
matched by two rules of a group takes two ranks; a rule without a group counts
alone."""

import math

import numpy as np
import pytest

from forecasts.contributions import event_terms
from forecasts.grid import grid_terms, iter_rule_terms
from forecasts.model import RuleMatches, RuleModel, ScenarioModel, rule_groups, terms
from tests.forecasts.modelkit import at, matches, rule, scenario, times

LN_A, LN_B = math.log(4.0), math.log(2.5)
TOL = 1e-13


def evidence(model: ScenarioModel, per_rule: list[RuleMatches], *t_days: float) -> np.ndarray:
    """ln odds minus the prior at the times, by the model (and the grid agrees)."""
    t = times(*t_days)
    found = terms(model, per_rule, t).log_odds - model.prior_logit
    on_grid, _ = grid_terms(model, per_rule, t)
    assert on_grid - model.prior_logit == pytest.approx(found, abs=TOL, rel=TOL)
    return found


def a_rule(ln_b: float, r: float, group: str | None = "g", **kw: float) -> RuleModel:
    return rule(ln_b, repeat_discount=r, group=group, uncertainty=0.5, **kw)


def test_two_rules_of_one_group_rank_their_matches_together_with_their_own_discounts() -> None:
    """A at days 10 and 30, B at 20 and 40: ranks A1, B2, A3, B4."""
    model = scenario(a_rule(LN_A, 0.5), a_rule(LN_B, 0.25))
    per_rule = [matches([10.0, 30.0], positions=[1, 3]), matches([20.0, 40.0], positions=[2, 4])]
    found = evidence(model, per_rule, 15.0, 25.0, 35.0, 45.0)
    assert found.tolist() == pytest.approx(
        [
            LN_A,
            LN_A + LN_B * 0.25,
            LN_A + LN_B * 0.25 + LN_A * 0.5**2,
            LN_A + LN_B * 0.25 + LN_A * 0.5**2 + LN_B * 0.25**3,
        ],
        abs=TOL,
    )


def test_without_a_group_each_rule_counts_alone() -> None:
    model = scenario(a_rule(LN_A, 0.5, None), a_rule(LN_B, 0.25, None))
    per_rule = [matches([10.0, 30.0], positions=[1, 3]), matches([20.0, 40.0], positions=[2, 4])]
    found = evidence(model, per_rule, 45.0)
    assert found[0] == pytest.approx(LN_A * 1.5 + LN_B * 1.25, abs=TOL)


def test_one_event_matched_by_two_rules_of_a_group_takes_two_ranks() -> None:
    """The rule placed first in the scenario takes the first rank."""
    event = matches([10.0], positions=[7])
    first_a = scenario(a_rule(LN_A, 0.5), a_rule(LN_B, 0.25))
    first_b = scenario(a_rule(LN_B, 0.25), a_rule(LN_A, 0.5))
    assert evidence(first_a, [event, event], 10.0)[0] == pytest.approx(LN_A + LN_B * 0.25, abs=TOL)
    assert evidence(first_b, [event, event], 10.0)[0] == pytest.approx(LN_B + LN_A * 0.5, abs=TOL)
    ungrouped = scenario(a_rule(LN_A, 0.5, None), a_rule(LN_B, 0.25, None))
    assert evidence(ungrouped, [event, event], 10.0)[0] == pytest.approx(LN_A + LN_B, abs=TOL)


def test_ties_in_time_are_ranked_by_position_before_the_rules_place() -> None:
    """Both at day 10: B's event (position 3) before A's (position 5), though A comes
    first in the scenario."""
    model = scenario(a_rule(LN_A, 0.5), a_rule(LN_B, 0.25))
    per_rule = [matches([10.0], positions=[5]), matches([10.0], positions=[3])]
    assert evidence(model, per_rule, 10.0)[0] == pytest.approx(LN_B + LN_A * 0.5, abs=TOL)


def test_groups_count_apart_and_rules_without_a_group_are_untouched() -> None:
    """g: A, C; h: B, D; E alone. Events in the order A, B, C, D, E, A."""
    model = scenario(
        a_rule(1.0, 0.5, "g"),
        a_rule(2.0, 0.3, "h"),
        a_rule(3.0, 0.2, "g"),
        a_rule(4.0, 0.1, "h"),
        a_rule(5.0, 0.7, None),
    )
    per_rule = [
        matches([1.0, 6.0], positions=[1, 6]),
        matches([2.0], positions=[2]),
        matches([3.0], positions=[3]),
        matches([4.0], positions=[4]),
        matches([5.0, 7.0], positions=[5, 7]),
    ]
    g = 1.0 + 3.0 * 0.2 + 1.0 * 0.5**2
    h = 2.0 + 4.0 * 0.1
    alone = 5.0 + 5.0 * 0.7
    assert evidence(model, per_rule, 10.0)[0] == pytest.approx(g + h + alone, abs=TOL)
    assert rule_groups(model.rules) == [(0, 2), (1, 3), (4,)]


def test_the_weight_decays_from_each_match_at_its_group_rank() -> None:
    model = scenario(a_rule(LN_A, 0.5, half_life_days=10.0), a_rule(LN_B, 0.25, half_life_days=5.0))
    per_rule = [matches([10.0], positions=[1]), matches([20.0], positions=[2])]
    found = evidence(model, per_rule, 30.0)
    assert found[0] == pytest.approx(LN_A * 2.0**-2 + LN_B * 0.25 * 2.0**-2, abs=TOL)
    variance = terms(model, per_rule, times(30.0)).variance[0] - model.prior_variance
    assert variance == pytest.approx((0.5 * 2.0**-2) ** 2 + (0.5 * 0.25 * 2.0**-2) ** 2, abs=TOL)


def test_a_match_not_counted_takes_no_rank_in_the_group() -> None:
    """Before the opening (day 2), retracted, or recorded after the cut: the next
    match of the group takes rank 1."""
    model = scenario(a_rule(LN_A, 0.5), a_rule(LN_B, 0.25), opens_days=3.0)
    a = matches([2.0, 5.0, 8.0], positions=[1, 2, 4], retracted_days=[math.inf, 6.0, math.inf])
    b = matches([7.0, 9.0], positions=[3, 5], recorded_days=[7.0, 40.0])
    t = times(10.0)
    found = terms(model, [a, b], t, known=at(30.0)).log_odds[0] - model.prior_logit
    assert found == pytest.approx(LN_B + LN_A * 0.5, abs=TOL)
    on_grid, _ = grid_terms(model, [a, b], t, known=at(30.0))
    assert on_grid[0] - model.prior_logit == pytest.approx(found, abs=TOL)


def test_a_group_of_one_rule_is_the_rule_alone() -> None:
    per_rule = [matches([10.0, 20.0, 30.0])]
    t = times(5.0, 15.0, 25.0, 35.0)
    grouped = terms(scenario(a_rule(LN_A, 0.4, "solo")), per_rule, t)
    alone = terms(scenario(a_rule(LN_A, 0.4, None)), per_rule, t)
    assert np.array_equal(grouped.log_odds, alone.log_odds)
    assert np.array_equal(grouped.variance, alone.variance)


def test_the_grid_yields_each_rule_its_terms_at_its_group_ranks() -> None:
    model = scenario(a_rule(LN_A, 0.5), a_rule(LN_B, 0.25))
    event = matches([10.0], positions=[7])
    per_rule = {r: c.tolist() for r, c, _ in iter_rule_terms(model, [event, event], times(11.0))}
    assert per_rule[0] == pytest.approx([LN_A], abs=TOL)
    assert per_rule[1] == pytest.approx([LN_B * 0.25], abs=TOL)


def test_contributions_are_at_group_ranks_and_add_up_to_ln_odds() -> None:
    """Effects now and then of every counted match; with the prior and the time term
    they sum to the model's ln odds."""
    model = scenario(
        a_rule(LN_A, 0.5, half_life_days=20.0),
        a_rule(LN_B, 0.25),
        a_rule(0.3, 0.9, None),
        uniform=True,
        timing_shape=2.0,
        deadline_days=200.0,
    )
    shared = matches([10.0, 30.0], positions=[1, 3])
    per_rule = [shared, matches([10.0, 20.0], positions=[1, 2]), shared]
    found = terms(model, per_rule, times(50.0))
    events = event_terms(model.rules, per_rule, found)
    by_key = {
        (int(r), float(o)): (float(now), float(then))
        for r, o, now, then in zip(
            events.rule, events.occurred, events.log_odds, events.log_odds_then, strict=True
        )
    }
    # group g in order: A@10 (k1), B@10 (k2), B@20 (k3), A@30 (k4)
    expected = {
        (0, at(10.0)): (LN_A * 2.0**-2, LN_A),
        (1, at(10.0)): (LN_B * 0.25, LN_B * 0.25),
        (1, at(20.0)): (LN_B * 0.25**2, LN_B * 0.25**2),
        (0, at(30.0)): (LN_A * 0.5**3 * 2.0**-1, LN_A * 0.5**3),
        (2, at(10.0)): (0.3, 0.3),
        (2, at(30.0)): (0.3 * 0.9, 0.3 * 0.9),
    }
    assert set(by_key) == set(expected)
    for key, (now, then) in expected.items():
        assert by_key[key] == pytest.approx((now, then), abs=TOL)
    total = model.prior_logit + math.fsum(events.log_odds.tolist()) + found.time_term[0]
    assert total == pytest.approx(found.log_odds[0], abs=1e-12)
    assert found.time_term[0] == pytest.approx(math.log(1 - 0.25**2), abs=TOL)
