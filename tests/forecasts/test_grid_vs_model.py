"""The grid's (ln odds, variance) equal ``model.terms`` at every time, under a finite
knowledge cut too (issue 14: a mutation run found the grid's variance never
compared, its cut never given a finite ``known``, ties at a sample time tested
only without a half-life)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasts.grid import grid_terms
from forecasts.model import RuleMatches, RuleModel, ScenarioModel, terms
from tests.forecasts.modelkit import at, matches, rule, scenario, times
from tests.forecasts.test_model_properties import arrays_of, worlds

REL = 1e-12
ABS = 1e-12

# Matches at days 5, 10 (twice: a tie), 20, 40, 40.5 and 60, recorded later than
# they occurred, one retracted on day 45, one that occurred before the scenario
# opened (day 2, it opens on day 3).
OCCURRED = [2.0, 5.0, 10.0, 10.0, 20.0, 40.0, 40.5, 60.0]
RECORDED = [2.0, 6.0, 10.0, 12.0, 20.0, 41.0, 41.0, 60.0]
RETRACTED = [math.inf, math.inf, 45.0, math.inf, math.inf, math.inf, 70.0, math.inf]
SAMPLED = times(0.0, 2.0, 3.0, 5.0, 6.0, 10.0, 11.0, 12.0, 20.0, 40.5, 45.0, 60.0, 80.0, 400.0)
CUTS = {
    "no cut": math.inf,
    "before any record": at(1.0),
    "at a record": at(12.0),
    "between records": at(30.0),
    "at a retraction": at(45.0),
    "after every record": at(90.0),
}
RULES = {
    "plain": rule(0.8, uncertainty=0.3),
    "discounted": rule(-0.6, uncertainty=0.5, repeat_discount=0.5),
    "decaying": rule(1.1, uncertainty=0.4, half_life_days=7.0),
    "decaying and discounted": rule(0.7, uncertainty=0.2, half_life_days=3.0, repeat_discount=0.6),
}


def _world(*rules: RuleModel, uniform: bool = False) -> tuple[ScenarioModel, list[RuleMatches]]:
    model = scenario(*rules, opens_days=3.0, deadline_days=500.0, uniform=uniform)
    per_rule = [matches(OCCURRED, recorded_days=RECORDED, retracted_days=RETRACTED) for _ in rules]
    return model, per_rule


def _assert_equal_to_model(model: ScenarioModel, per_rule: list[RuleMatches], known: float) -> None:
    log_odds, variance = grid_terms(model, per_rule, SAMPLED, known)
    expected = terms(model, per_rule, SAMPLED, known)
    assert log_odds.tolist() == pytest.approx(expected.log_odds.tolist(), rel=REL, abs=ABS)
    assert variance.tolist() == pytest.approx(expected.variance.tolist(), rel=REL, abs=ABS)


@pytest.mark.parametrize("known", CUTS.values(), ids=CUTS.keys())
@pytest.mark.parametrize("one_rule", RULES.values(), ids=RULES.keys())
def test_grid_equals_the_model_for_one_rule_under_every_cut(
    one_rule: RuleModel, known: float
) -> None:
    _assert_equal_to_model(*_world(one_rule), known)


@pytest.mark.parametrize("known", CUTS.values(), ids=CUTS.keys())
def test_grid_equals_the_model_for_several_rules_and_uniform_timing(known: float) -> None:
    _assert_equal_to_model(*_world(*RULES.values(), uniform=True), known)


def test_grid_starting_long_after_the_matches_keeps_their_decayed_weight() -> None:
    model = scenario(rule(1.0, uncertainty=0.5, half_life_days=1.0))
    per_rule = [matches([1.0, 2.0])]
    t = times(30.0, 31.0, 900.0)
    log_odds, variance = grid_terms(model, per_rule, t)
    expected = terms(model, per_rule, t)
    assert log_odds[0] - model.prior_logit == pytest.approx(2.0**-29 + 2.0**-28, rel=REL)
    assert variance[0] - model.prior_variance == pytest.approx(
        0.25 * (2.0**-58 + 2.0**-56), rel=1e-6
    )
    assert log_odds.tolist() == pytest.approx(expected.log_odds.tolist(), rel=REL, abs=0)
    assert variance.tolist() == pytest.approx(expected.variance.tolist(), rel=REL, abs=0)


def _evidence(
    rule_model: RuleModel, occurred: list[float], known: float, t_days: float, **kw: list[float]
) -> tuple[float, float]:
    model = scenario(rule_model)
    log_odds, variance = grid_terms(model, [matches(occurred, **kw)], times(t_days), known)
    return log_odds[0] - model.prior_logit, variance[0] - model.prior_variance


class TestKnowledgeCut:
    """``recorded <= known`` and ``not retracted <= known``, read at the boundary."""

    def test_a_match_recorded_exactly_at_the_cut_counts(self) -> None:
        found = _evidence(rule(1.0), [20.0], at(30.0), 50.0, recorded_days=[30.0])
        assert found[0] == pytest.approx(1.0, rel=REL)

    def test_a_match_recorded_after_the_cut_does_not_count(self) -> None:
        found = _evidence(rule(1.0), [20.0], at(30.0), 50.0, recorded_days=[30.001])
        assert found == (0.0, 0.0)

    def test_a_match_retracted_exactly_at_the_cut_does_not_count(self) -> None:
        found = _evidence(
            rule(1.0), [20.0], at(30.0), 50.0, recorded_days=[21.0], retracted_days=[30.0]
        )
        assert found == (0.0, 0.0)

    def test_a_match_retracted_after_the_cut_still_counts(self) -> None:
        found = _evidence(
            rule(1.0, uncertainty=0.5),
            [20.0],
            at(30.0),
            50.0,
            recorded_days=[21.0],
            retracted_days=[30.5],
        )
        assert found == pytest.approx((1.0, 0.25), rel=REL)

    def test_a_retracted_match_does_not_take_a_rank(self) -> None:
        found = _evidence(
            rule(1.0, repeat_discount=0.5),
            [10.0, 20.0],
            at(30.0),
            50.0,
            recorded_days=[10.0, 20.0],
            retracted_days=[25.0, math.inf],
        )
        assert found[0] == pytest.approx(1.0, rel=REL)


class TestTiesAtASampleTime:
    """Matches that occurred exactly at a sample time count at it, with a half-life too."""

    @pytest.mark.parametrize("half_life_days", [None, 4.0])
    def test_tied_matches_count_at_their_time_not_before(
        self, half_life_days: float | None
    ) -> None:
        model = scenario(
            rule(1.0, uncertainty=0.5, repeat_discount=0.5, half_life_days=half_life_days)
        )
        per_rule = [matches([10.0, 10.0, 10.0])]
        log_odds, variance = grid_terms(model, per_rule, times(9.999, 10.0))
        assert log_odds[0] == pytest.approx(model.prior_logit, rel=REL)
        assert log_odds[1] - model.prior_logit == pytest.approx(1.0 + 0.5 + 0.25, rel=REL)
        assert variance[1] - model.prior_variance == pytest.approx(
            0.25 * (1.0 + 0.25 + 0.0625), rel=REL
        )

    def test_tied_matches_decay_from_their_time(self) -> None:
        model = scenario(rule(2.0, uncertainty=1.0, half_life_days=4.0))
        per_rule = [matches([10.0, 10.0])]
        log_odds, variance = grid_terms(model, per_rule, times(10.0, 14.0, 18.0))
        assert (log_odds - model.prior_logit).tolist() == pytest.approx([4.0, 2.0, 1.0], rel=REL)
        assert (variance - model.prior_variance).tolist() == pytest.approx(
            [2.0, 0.5, 0.125], rel=REL
        )

    def test_a_match_at_the_opening_counts(self) -> None:
        model = scenario(rule(1.0, half_life_days=4.0), opens_days=10.0)
        log_odds, _ = grid_terms(model, [matches([9.999, 10.0])], times(10.0))
        assert log_odds[0] - model.prior_logit == pytest.approx(1.0, rel=REL)


def test_the_uniform_time_term_is_added() -> None:
    model = scenario(rule(1.0), opens_days=0.0, deadline_days=100.0, uniform=True)
    log_odds, _ = grid_terms(model, [RuleMatches.empty()], times(50.0, 75.0))
    assert (log_odds - model.prior_logit).tolist() == pytest.approx(
        [math.log(0.5), math.log(0.25)], rel=REL
    )


def test_grid_equals_the_model_on_a_dense_grid_with_a_short_half_life() -> None:
    model, per_rule = _world(rule(0.9, uncertainty=0.3, half_life_days=0.01, repeat_discount=0.8))
    t = np.sort(np.concatenate([np.linspace(at(0.0), at(100.0), 2001), times(*OCCURRED)]))
    for known in CUTS.values():
        log_odds, variance = grid_terms(model, per_rule, t, known)
        expected = terms(model, per_rule, t, known)
        assert log_odds.tolist() == pytest.approx(expected.log_odds.tolist(), rel=REL, abs=ABS)
        assert variance.tolist() == pytest.approx(expected.variance.tolist(), rel=REL, abs=ABS)


# --- rule groups and timing shapes (issue 16) ---------------------------------------

GROUPED = {
    "two rules, one group": (
        rule(0.8, uncertainty=0.3, repeat_discount=0.5, group="g"),
        rule(-0.4, uncertainty=0.2, repeat_discount=0.8, group="g"),
    ),
    "decaying members": (
        rule(1.1, uncertainty=0.4, half_life_days=7.0, repeat_discount=0.6, group="g"),
        rule(0.7, uncertainty=0.2, half_life_days=3.0, repeat_discount=0.9, group="g"),
        rule(0.5, uncertainty=0.1, repeat_discount=0.3),
    ),
    "two groups interleaved": (
        rule(0.8, repeat_discount=0.5, group="g"),
        rule(0.6, repeat_discount=0.7, group="h", half_life_days=9.0),
        rule(-0.3, repeat_discount=0.4, group="g", half_life_days=2.0),
        rule(0.2, repeat_discount=0.9, group="h"),
    ),
}


@pytest.mark.parametrize("known", CUTS.values(), ids=CUTS.keys())
@pytest.mark.parametrize("shape", [0.3, 1.0, 4.0])
@pytest.mark.parametrize("members", GROUPED.values(), ids=GROUPED.keys())
def test_grid_equals_the_model_with_groups_and_shapes(
    members: tuple[RuleModel, ...], shape: float, known: float
) -> None:
    """Every rule matches the same events (each event matched by every rule of its
    group: one rank per rule), and one rule of each world has further matches of its own."""
    model = scenario(
        *members, opens_days=3.0, deadline_days=500.0, uniform=True, timing_shape=shape
    )
    shared = matches(OCCURRED, recorded_days=RECORDED, retracted_days=RETRACTED)
    own = matches([7.0, 10.0, 33.0], positions=[100, 101, 102])
    per_rule = [shared] * (len(members) - 1) + [own]
    _assert_equal_to_model(model, per_rule, known)


@settings(max_examples=150, deadline=None, database=None)
@given(data=st.data())
def test_grid_equals_the_model_on_random_worlds_with_groups_and_shapes(data: st.DataObject) -> None:
    world = data.draw(worlds(no_cut=False))
    arrays = arrays_of(world)
    t = np.sort(np.array(world.t, dtype=np.float64))
    log_odds, variance = grid_terms(world.model, arrays, t, world.known)
    expected = terms(world.model, arrays, t, world.known)
    assert log_odds.tolist() == pytest.approx(expected.log_odds.tolist(), rel=1e-9, abs=1e-9)
    assert variance.tolist() == pytest.approx(expected.variance.tolist(), rel=1e-9, abs=1e-9)
