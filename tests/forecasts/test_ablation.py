"""Rule ablation (model.md, More scores): per scored scenario and rule R, delta_brier =
Brier with R removed minus Brier with R. The backtest takes it from the grid's per-rule
terms; the reference re-runs ``forecasts.model.terms`` on the scenario without R."""

from dataclasses import replace

import numpy as np
import pytest
from scipy.special import expit

from forecasts import ablation
from forecasts.backtest import ScenarioInput, grid, open_samples, scenario_samples
from forecasts.grid import grid_terms, iter_rule_terms, sum_terms
from forecasts.model import DAY, RuleMatches, ScenarioModel, terms
from forecasts.scoring import score
from tests.forecasts.modelkit import at, matches, rule, scenario

TOL = 1e-12


def brier(p: np.ndarray, y: float) -> float:
    return float(np.mean((p - y) ** 2))


def rerun(model: ScenarioModel, found: list[RuleMatches], at_times: np.ndarray) -> np.ndarray:
    return np.asarray(expit(terms(model, found, at_times).log_odds))


def without(model: ScenarioModel, found: list[RuleMatches], r: int):
    rules = model.rules[:r] + model.rules[r + 1 :]
    kept = found[:r] + found[r + 1 :]
    return replace(model, rules=rules), kept


def example(seed: int, uniform: bool) -> tuple[ScenarioModel, list[RuleMatches]]:
    """Four rules: with and without half-lives and repeat discounts, one helping,
    one hurting, one with no match at all."""
    rng = np.random.default_rng(seed)
    model = scenario(
        rule(1.1, half_life_days=30.0, repeat_discount=0.7, name="decays"),
        rule(-0.6, repeat_discount=0.5, name="against"),
        rule(0.4, half_life_days=5.0, repeat_discount=0.9, uncertainty=0.2, name="short"),
        rule(2.0, name="never matched"),
        prior=0.25,
        deadline_days=400.0,
        uniform=uniform,
    )
    found = [
        matches(sorted(rng.uniform(0, 380, size=n).tolist()))
        for n in (25, 12, 40)
    ] + [RuleMatches.empty()]  # fmt: skip
    return model, found


@pytest.mark.parametrize("uniform", [False, True])
@pytest.mark.parametrize("outcome", [True, False])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_delta_brier_equals_a_rerun_of_the_model_without_the_rule(seed, outcome, uniform):
    model, found = example(seed, uniform)
    times = grid(at(0), at(360), DAY)
    item = ScenarioInput("s", outcome, at(350), model, found)
    (samples,) = scenario_samples([item], times, np.inf)
    (scored,) = score([samples]).scenarios
    at_times = open_samples(times, model.opens_at, model.deadline, item.resolved_at)
    y = 1.0 if outcome else 0.0
    with_all = brier(rerun(model, found, at_times), y)
    assert scored.rules is not None
    assert [d.rule for d in scored.rules] == [r.name for r in model.rules]
    for r, delta in enumerate(scored.rules):
        reduced, kept = without(model, found, r)
        expected = brier(rerun(reduced, kept, at_times), y) - with_all
        assert delta.delta_brier == pytest.approx(expected, abs=TOL)
    assert scored.rules[3].delta_brier == 0.0
    assert any(abs(d.delta_brier) > 1e-3 for d in scored.rules)


def test_a_rule_that_points_the_right_way_helps_and_the_wrong_way_hurts():
    model = scenario(rule(1.5, name="for"), rule(-1.5, name="against"), prior=0.3)
    found = [matches([10.0, 20.0, 30.0]), matches([15.0, 25.0])]
    item = ScenarioInput("s", True, at(100), model, found)
    (samples,) = scenario_samples([item], grid(at(0), at(99), DAY), np.inf)
    (scored,) = score([samples]).scenarios
    assert scored.rules is not None
    helped = {d.rule: d.delta_brier for d in scored.rules}
    assert helped["for"] > 0 > helped["against"]


def test_grid_terms_is_the_sum_of_the_per_rule_terms():
    model, found = example(4, uniform=True)
    times = grid(at(0), at(360), DAY)
    per_rule = list(iter_rule_terms(model, found, times))
    assert [r for r, _, _ in per_rule] == [0, 1, 2]  # the rule with no match adds nothing
    log_odds, variance = grid_terms(model, found, times)
    summed = sum_terms(model, per_rule, times)
    assert np.array_equal(log_odds, summed[0])
    assert np.array_equal(variance, summed[1])


@pytest.mark.parametrize("block", [1, 800, 2_000])
def test_the_ablation_in_blocks_of_rules_is_the_same(monkeypatch, block):
    """The (rules, times) matrix is evaluated a block of rows at a time (here one
    row, a few, and all at once): the Briers do not depend on the block."""
    model, found = example(5, uniform=False)
    times = grid(at(0), at(360), DAY)
    item = ScenarioInput("s", True, at(361), model, found)
    (whole,) = scenario_samples([item], times, np.inf)
    monkeypatch.setattr(ablation, "BLOCK", block)
    (blocked,) = scenario_samples([item], times, np.inf)
    assert whole.brier_without is not None
    assert blocked.brier_without is not None
    assert np.allclose(blocked.brier_without, whole.brier_without, rtol=0, atol=TOL)


def grouped_example(seed: int, uniform: bool) -> tuple[ScenarioModel, list[RuleMatches]]:
    """Two groups and a rule alone; rules of a group share some events (one event
    matched by two rules of a group), one grouped rule never matches."""
    rng = np.random.default_rng(seed)
    model = scenario(
        rule(1.1, half_life_days=30.0, repeat_discount=0.7, name="g-decays", group="g"),
        rule(-0.6, repeat_discount=0.5, name="alone"),
        rule(0.8, repeat_discount=0.3, name="g-steep", group="g"),
        rule(0.4, half_life_days=5.0, repeat_discount=0.9, name="h-short", group="h"),
        rule(0.9, repeat_discount=0.6, name="g-shared", group="g"),
        rule(-0.7, repeat_discount=0.8, name="h-against", group="h"),
        rule(2.0, name="g-never", group="g"),
        prior=0.25,
        deadline_days=400.0,
        uniform=uniform,
        timing_shape=2.5,
    )
    position = iter(range(10_000))

    def drawn(n: int) -> RuleMatches:
        days = sorted(rng.uniform(0, 380, size=n).tolist())
        return matches(days, positions=[next(position) for _ in days])

    first = drawn(15)
    found = [first, drawn(12), drawn(9), drawn(30), first, drawn(8), RuleMatches.empty()]
    return model, found


@pytest.mark.parametrize("uniform", [False, True])
@pytest.mark.parametrize("outcome", [True, False])
@pytest.mark.parametrize("seed", [1, 2])
def test_delta_brier_with_groups_equals_a_rerun_without_the_rule(seed, outcome, uniform):
    """Removing a grouped rule re-ranks the rest of its group: the backtest's delta
    equals the Brier of the model re-run without the rule, to 1e-12."""
    model, found = grouped_example(seed, uniform)
    times = grid(at(0), at(360), DAY)
    item = ScenarioInput("s", outcome, at(350), model, found)
    (samples,) = scenario_samples([item], times, np.inf)
    (scored,) = score([samples]).scenarios
    at_times = open_samples(times, model.opens_at, model.deadline, item.resolved_at)
    y = 1.0 if outcome else 0.0
    with_all = brier(rerun(model, found, at_times), y)
    assert scored.rules is not None
    for r, delta in enumerate(scored.rules):
        reduced, kept = without(model, found, r)
        expected = brier(rerun(reduced, kept, at_times), y) - with_all
        assert delta.delta_brier == pytest.approx(expected, abs=TOL)
    assert scored.rules[6].delta_brier == 0.0


def test_removing_a_grouped_rule_is_not_removing_its_own_terms():
    """The other rules of its group move up in rank: the shift is not the removed
    rule's own contribution (what counting it alone would give)."""
    model, found = grouped_example(3, uniform=False)
    times = grid(at(0), at(360), DAY)
    own = {r: c for r, c, _ in iter_rule_terms(model, found, times)}
    contributions = [own.get(r) for r in range(len(model.rules))]
    moved = ablation.shifts(model, found, times, contributions)
    assert moved[1] is own[1]  # alone: its own terms
    assert moved[6] is None  # never matched
    for r in (0, 2, 3):
        assert moved[r] is not None
        assert np.max(np.abs(moved[r] - own[r])) > 1e-3
