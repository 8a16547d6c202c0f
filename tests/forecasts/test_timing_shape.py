"""``timing_shape`` (model.md, The posterior at time t): under the outcome its time
has the distribution u^a on [t0, D], so the Bayes factor of silence is
T = 1 - u^a, u = (t - t0) / (D - t0); computed as -expm1(a * log1p(-(D - t)/(D - t0)))
so that it keeps its digits a second before the deadline, and exactly
(D - t)/(D - t0) for a = 1."""

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import expit

from forecasts.backtest import timing_forecasts
from forecasts.grid import grid_terms
from forecasts.model import DAY, ScenarioModel, terms, time_term
from tests.forecasts.modelkit import at, logit, matches, rule, scenario, times

T0, D = 10.0, 110.0


def shaped(a: float, **kw: float) -> ScenarioModel:
    return scenario(uniform=True, opens_days=T0, deadline_days=D, timing_shape=a, **kw)


def exact_log_t(opens: float, deadline: float, t: float, a: float) -> float:
    """ln(1 - u^a) in 60 digits, u = (t - t0)/(D - t0) taken exactly from the floats."""
    u = Fraction(t - opens) / Fraction(deadline - opens)
    with localcontext() as context:
        context.prec = 60
        u_dec = Decimal(u.numerator) / Decimal(u.denominator)
        return float((Decimal(1) - u_dec ** Decimal(a)).ln())


def test_a_3_leaves_seven_eighths_at_half_the_window() -> None:
    model = shaped(3.0)
    assert time_term(model, times((T0 + D) / 2))[0] == pytest.approx(
        math.log(0.875), abs=1e-15, rel=0
    )


def test_a_one_half_leaves_one_half_at_a_quarter_of_the_window() -> None:
    model = shaped(0.5)
    assert time_term(model, times(T0 + (D - T0) / 4))[0] == pytest.approx(
        math.log(0.5), abs=1e-15, rel=0
    )


@pytest.mark.parametrize("a", [0.1, 0.5, 1.0, 2.5, 3.0, 10.0])
def test_the_time_term_is_ln_of_one_minus_u_to_the_a(a: float) -> None:
    model = shaped(a)
    t_days = [T0 + 1e-3, 20.0, 35.5, 60.0, 100.0, 109.0, D - 1e-4]
    expected = [exact_log_t(model.opens_at, model.deadline, at(d), a) for d in t_days]
    assert time_term(model, times(*t_days)) == pytest.approx(expected, abs=1e-13, rel=1e-13)


def test_silence_says_less_with_a_late_shape_and_more_with_an_early_one() -> None:
    """An outcome expected late is not made unlikely by an early silence."""
    t = times(11.0, 20.0, 60.0, 100.0, 109.9)
    late, uniform, early = (time_term(shaped(a), t) for a in (3.0, 1.0, 0.3))
    assert np.all(late > uniform)
    assert np.all(uniform > early)


@pytest.mark.parametrize("a", [0.1, 3.0, 10.0])
def test_no_time_term_at_or_before_opening_at_or_after_the_deadline_or_without_timing(
    a: float,
) -> None:
    t = times(T0 - 5.0, T0, D, D + 1.0)
    assert time_term(shaped(a), t).tolist() == [0.0, 0.0, 0.0, 0.0]
    none = scenario(uniform=False, opens_days=T0, deadline_days=D, timing_shape=a)
    assert time_term(none, times(20.0, 60.0, 109.0)).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("a", [0.5, 2.0, 3.0, 7.0])
def test_a_second_before_a_two_year_deadline_the_logit_keeps_its_digits(a: float) -> None:
    """The naive 1 - u^a is off by about 1e-9 in the logit there; log1p/expm1 is not."""
    model = scenario(uniform=True, opens_days=0.0, deadline_days=730.0, timing_shape=a)
    t = np.array([model.deadline - 1.0])
    exact = exact_log_t(model.opens_at, model.deadline, float(t[0]), a)
    served = terms(model, [], t).log_odds[0]
    assert served == pytest.approx(model.prior_logit + exact, abs=1e-13, rel=0)
    assert time_term(model, t)[0] == pytest.approx(exact, abs=0, rel=1e-14)
    u = (t[0] - model.opens_at) / (model.deadline - model.opens_at)
    naive = math.log(1.0 - u**a)
    assert abs(naive - exact) > 1e-10


def test_a_1_is_exactly_the_remaining_fraction() -> None:
    """The bytes of every answer of a scenario without the field are kept."""
    model = shaped(1.0)
    t = np.linspace(at(T0), at(D), 1001)[:-1]
    remaining = (model.deadline - t) / (model.deadline - model.opens_at)
    assert np.array_equal(time_term(model, t), np.log(remaining))


@given(
    a=st.floats(0.1, 10.0),
    prior=st.floats(0.01, 0.99),
    share=st.floats(0.0, 0.999),
)
def test_the_forecast_is_the_exact_posterior_given_not_yet(
    a: float, prior: float, share: float
) -> None:
    """P(outcome | not by t) = p0 (1 - u^a) / (p0 (1 - u^a) + 1 - p0)."""
    model = scenario(uniform=True, prior=prior, opens_days=T0, deadline_days=D, timing_shape=a)
    t = np.array([at(T0) + share * (D - T0) * DAY])
    u = (t[0] - model.opens_at) / (model.deadline - model.opens_at)
    silence = 1.0 - u**a
    exact = prior * silence / (prior * silence + 1.0 - prior)
    assert float(expit(terms(model, [], t).log_odds[0])) == pytest.approx(
        exact, abs=1e-12, rel=1e-9
    )


@pytest.mark.parametrize("a", [0.3, 1.0, 4.0])
def test_the_grid_adds_the_same_shaped_time_term(a: float) -> None:
    model = scenario(
        rule(0.7, half_life_days=5.0),
        uniform=True,
        prior=0.4,
        opens_days=T0,
        deadline_days=D,
        timing_shape=a,
    )
    per_rule = [matches([12.0, 30.0, 30.0, 80.0])]
    t = times(0.0, T0, 11.0, 30.0, 60.0, 109.99, D, 200.0)
    log_odds, variance = grid_terms(model, per_rule, t)
    expected = terms(model, per_rule, t)
    assert log_odds.tolist() == pytest.approx(expected.log_odds.tolist(), rel=1e-12, abs=1e-12)
    assert variance.tolist() == pytest.approx(expected.variance.tolist(), rel=1e-12, abs=1e-12)
    at_60 = logit(0.4) + 0.7 * (2.0**-6 + 2.0**-6 + 2.0**-9.6) + math.log(1 - 0.5**a)
    assert log_odds[4] == pytest.approx(at_60, abs=1e-12)


def test_the_timing_baseline_of_a_backtest_uses_the_shape() -> None:
    """``brier_timing``'s forecasts: the prior and the shaped time term alone."""
    model = scenario(
        rule(2.0), uniform=True, prior=0.3, opens_days=T0, deadline_days=D, timing_shape=3.0
    )
    t = times(35.0, 60.0, 85.0)
    u = np.array([0.25, 0.5, 0.75])
    silence = 1.0 - u**3
    exact = 0.3 * silence / (0.3 * silence + 0.7)
    assert timing_forecasts(model, t).tolist() == pytest.approx(exact.tolist(), abs=1e-12)
