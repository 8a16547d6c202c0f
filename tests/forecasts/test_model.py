"""The pure forecasting model (``forecasts.model``) against the closed forms of
``model.md``, computed by hand here with plain ``math``.

Unless a test is about the knowledge cut, it uses none (K = inf, the default);
the exact-Bayes checks run both with no cut and with a finite cut later than
every record (``LATE_CUT``).
"""

import math
from statistics import NormalDist

import numpy as np
import pytest
from scipy.special import polygamma

from forecasts.model import (
    DAY,
    Z80,
    Z95,
    Resolution,
    RuleMatches,
    counted_matches,
    interval,
    probabilities,
    status_at,
    terms,
    time_term,
)
from tests.forecasts.modelkit import (
    INF,
    LATE_CUT,
    at,
    expit,
    logit,
    matches,
    rule,
    scenario,
    times,
)

NO_CUT = pytest.param(INF, id="no-cut")
FINITE_CUT = pytest.param(LATE_CUT, id="late-cut")


def shift(model_log_odds: np.ndarray, prior: float) -> np.ndarray:
    """What the evidence and time term add to the prior logit."""
    return model_log_odds - logit(prior)


# --- 1. Exact Bayes: no half-life, no discount, timing none -------------------------

BAYES_CASES = [
    pytest.param(0.3, [(2.0, 1)], id="one-match"),
    pytest.param(0.5, [(3.0, 1), (0.5, 1), (1.7, 1)], id="three-rules"),
    pytest.param(0.05, [(4.0, 2), (0.25, 1), (1.3, 4)], id="repeated-matches"),
    pytest.param(0.9, [(0.1, 1), (0.2, 3)], id="evidence-against"),
]


def bayes_world(prior: float, rules_spec: list[tuple[float, int]]):
    """One rule per (B, n): n matches of a rule with Bayes factor B, on distinct days."""
    rules = []
    rule_matches = []
    day = 1.0
    for b, n in rules_spec:
        rules.append(rule(math.log(b), name=f"r{len(rules)}"))
        rule_matches.append(matches([day + i for i in range(n)]))
        day += n
    return scenario(*rules, prior=prior), rule_matches


@pytest.mark.parametrize("known", [FINITE_CUT, NO_CUT])
@pytest.mark.parametrize(("prior", "rules_spec"), BAYES_CASES)
def test_log_odds_is_prior_logit_plus_sum_of_ln_bayes_factors(prior, rules_spec, known):
    model, rule_matches = bayes_world(prior, rules_spec)
    found = terms(model, rule_matches, times(50.0, 500.0), known)
    expected = logit(prior) + sum(n * math.log(b) for b, n in rules_spec)
    assert found.log_odds == pytest.approx([expected, expected], abs=1e-12, rel=0)


@pytest.mark.parametrize("known", [FINITE_CUT, NO_CUT])
@pytest.mark.parametrize(("prior", "rules_spec"), BAYES_CASES)
def test_served_probability_is_exact_bayes_posterior(prior, rules_spec, known):
    model, rule_matches = bayes_world(prior, rules_spec)
    t = times(50.0)
    found = terms(model, rule_matches, t, known)
    p = probabilities(found.log_odds, status_at(t, model.deadline, (), known))
    product = math.prod(b**n for b, n in rules_spec)
    posterior = prior * product / (prior * product + 1.0 - prior)
    assert p[0] == pytest.approx(posterior, abs=1e-12, rel=0)


def test_repeated_matches_of_one_undiscounted_rule_each_multiply_by_b():
    model = scenario(rule(math.log(1.5)), prior=0.2)
    found = terms(model, [matches([1.0, 2.0, 3.0, 4.0])], times(10.0))
    assert found.log_odds[0] == pytest.approx(logit(0.2) + 4 * math.log(1.5), abs=1e-12, rel=0)


def test_rule_without_matches_contributes_nothing():
    model = scenario(rule(math.log(5.0), name="empty"), rule(math.log(2.0), name="one"))
    found = terms(model, [RuleMatches.empty(), matches([1.0])], times(3.0))
    assert found.log_odds[0] == pytest.approx(logit(0.3) + math.log(2.0), abs=1e-12, rel=0)
    assert found.weights[0].shape == (1, 0)


def test_no_rules_gives_prior_logit():
    model = scenario(prior=0.42)
    found = terms(model, [], times(1.0, 2.0))
    assert found.log_odds == pytest.approx([logit(0.42)] * 2, abs=1e-12, rel=0)


# --- 2. Half-life -------------------------------------------------------------------


def test_half_life_halves_weight_every_half_life_days():
    h = 5.0
    ln_b = math.log(3.0)
    model = scenario(rule(ln_b, half_life_days=h))
    t = times(10.0, 10.0 + h / 2, 10.0 + h, 10.0 + 2 * h, 10.0 + 7 * h)
    found = terms(model, [matches([10.0])], t)
    expected = [ln_b, ln_b * 2**-0.5, ln_b / 2, ln_b / 4, ln_b / 128]
    assert shift(found.log_odds, 0.3) == pytest.approx(expected, abs=1e-12, rel=0)


def test_half_life_age_is_measured_in_days_from_occurred_at():
    h = 0.5
    model = scenario(rule(1.0, half_life_days=h))
    t = np.array([at(2.0) + 6 * 3600.0])  # 6 hours old: half of h
    found = terms(model, [matches([2.0])], t)
    assert found.weights[0][0, 0] == pytest.approx(2**-0.5, abs=1e-12, rel=0)


def test_half_life_is_per_rule():
    model = scenario(
        rule(1.0, half_life_days=2.0, name="fast"), rule(2.0, half_life_days=None, name="slow")
    )
    found = terms(model, [matches([0.0]), matches([0.0])], times(4.0))
    assert shift(found.log_odds, 0.3)[0] == pytest.approx(1.0 / 4 + 2.0, abs=1e-12, rel=0)


def test_match_far_in_the_future_of_t_with_short_half_life_contributes_zero():
    """Regression: the decay of a match after t once overflowed to inf (0 * inf = NaN)."""
    model = scenario(rule(1.0, half_life_days=1.0), deadline_days=5000.0)
    t = times(0.0, 3000.0)
    found = terms(model, [matches([2000.0])], t)
    assert found.log_odds[0] == pytest.approx(logit(0.3), abs=1e-12, rel=0)
    assert found.log_odds[1] == pytest.approx(logit(0.3) + 2.0**-1000, abs=1e-12, rel=0)


# --- 3. Repeat discount -------------------------------------------------------------


def test_repeat_discount_weighs_kth_match_r_to_the_k_minus_1():
    ln_b = math.log(2.5)
    model = scenario(rule(ln_b, repeat_discount=0.5))
    found = terms(model, [matches([1.0, 2.0, 3.0])], times(10.0))
    assert shift(found.log_odds, 0.3)[0] == pytest.approx(ln_b * (1 + 0.5 + 0.25), abs=1e-12, rel=0)
    assert found.weights[0][0] == pytest.approx([1.0, 0.5, 0.25], abs=1e-15, rel=0)


def test_repeat_discount_rank_grows_with_t_as_matches_occur():
    ln_b = 0.7
    r = 0.3
    model = scenario(rule(ln_b, repeat_discount=r))
    t = times(0.5, 1.0, 1.5, 2.0, 9.0)
    found = terms(model, [matches([1.0, 2.0, 3.0])], t)
    expected = [0.0, ln_b, ln_b, ln_b * (1 + r), ln_b * (1 + r + r * r)]
    assert shift(found.log_odds, 0.3) == pytest.approx(expected, abs=1e-12, rel=0)


def test_repeat_discount_ranks_matches_at_the_same_time_by_position_as_given():
    r = 0.4
    model = scenario(rule(1.0, repeat_discount=r))
    same_time = matches([5.0, 5.0, 6.0], positions=[3, 7, 1])
    found = terms(model, [same_time], times(8.0))
    # (5, 3) before (5, 7) before (6, 1): occurred first, then position.
    assert found.weights[0][0] == pytest.approx([1.0, r, r * r], abs=1e-15, rel=0)


def test_repeat_discount_is_per_rule():
    r1, r2 = 0.5, 0.2
    model = scenario(
        rule(1.0, repeat_discount=r1, name="a"), rule(3.0, repeat_discount=r2, name="b")
    )
    found = terms(model, [matches([1.0, 3.0]), matches([2.0, 4.0])], times(5.0))
    expected = 1.0 * (1 + r1) + 3.0 * (1 + r2)
    assert shift(found.log_odds, 0.3)[0] == pytest.approx(expected, abs=1e-12, rel=0)


def test_repeat_discount_and_half_life_multiply():
    ln_b, r, h = math.log(4.0), 0.6, 4.0
    occurred = [0.0, 3.0, 8.0]
    model = scenario(rule(ln_b, repeat_discount=r, half_life_days=h))
    t_days = [5.0, 8.0, 12.0]
    found = terms(model, [matches(occurred)], times(*t_days))
    for i, t in enumerate(t_days):
        seen = [o for o in occurred if o <= t]
        w = [r ** (k - 1) * 2 ** (-(t - o) / h) for k, o in enumerate(seen, start=1)]
        assert found.weights[0][i, : len(w)] == pytest.approx(w, abs=1e-15, rel=0)
        assert shift(found.log_odds, 0.3)[i] == pytest.approx(ln_b * sum(w), abs=1e-12, rel=0)


# --- 4. Timing term -----------------------------------------------------------------

T0, D = 10.0, 110.0


def test_uniform_timing_term_is_zero_at_opens_at():
    model = scenario(uniform=True, opens_days=T0, deadline_days=D)
    assert time_term(model, times(T0))[0] == 0.0


def test_uniform_timing_term_is_ln_half_midway():
    model = scenario(uniform=True, opens_days=T0, deadline_days=D)
    assert time_term(model, times((T0 + D) / 2))[0] == pytest.approx(
        math.log(0.5), abs=1e-12, rel=0
    )


def test_uniform_timing_term_just_before_deadline_is_ln_remaining_fraction():
    model = scenario(uniform=True, opens_days=T0, deadline_days=D)
    t = np.array([at(D) - 1.0, at(D) - 3600.0])
    span = (D - T0) * DAY
    assert time_term(model, t) == pytest.approx(
        [math.log(1.0 / span), math.log(3600.0 / span)], abs=1e-9, rel=0
    )


def test_uniform_timing_term_at_several_times_at_once():
    model = scenario(uniform=True, opens_days=T0, deadline_days=D)
    t_days = [T0, 20.0, 35.5, 60.0, 109.0]
    expected = [math.log((D - t) / (D - T0)) for t in t_days]
    assert time_term(model, times(*t_days)) == pytest.approx(expected, abs=1e-12, rel=0)


def test_uniform_timing_term_is_zero_before_opens_at():
    model = scenario(uniform=True, opens_days=T0, deadline_days=D)
    assert list(time_term(model, times(T0 - 5.0, T0 - 1e-6))) == [0.0, 0.0]


def test_timing_none_gives_zero_time_term_everywhere():
    model = scenario(uniform=False, opens_days=T0, deadline_days=D)
    t = times(T0 - 1.0, T0, 60.0, D - 1e-6, D, D + 10.0)
    assert list(time_term(model, t)) == [0.0] * 6


def test_time_term_is_added_to_log_odds():
    ln_b = math.log(3.0)
    model = scenario(rule(ln_b), uniform=True, opens_days=T0, deadline_days=D)
    t_days = [T0 - 1.0, 30.0, 85.0]
    found = terms(model, [matches([20.0])], times(*t_days))
    expected = [
        logit(0.3),
        logit(0.3) + ln_b + math.log((D - 30.0) / (D - T0)),
        logit(0.3) + ln_b + math.log((D - 85.0) / (D - T0)),
    ]
    assert found.log_odds == pytest.approx(expected, abs=1e-12, rel=0)
    assert found.time_term[1] == pytest.approx(math.log(80.0 / 100.0), abs=1e-12, rel=0)


# --- 5. Which events count ----------------------------------------------------------


def evidence(known: float, rule_matches: RuleMatches, t_days: float = 50.0, r: float = 1.0):
    """ln odds minus the prior logit for one rule with ln B = 1 (timing none)."""
    model = scenario(rule(1.0, repeat_discount=r), opens_days=10.0)
    return shift(terms(model, [rule_matches], times(t_days), known).log_odds, 0.3)[0]


def test_event_before_opens_at_is_not_counted():
    assert evidence(INF, matches([9.999])) == pytest.approx(0.0, abs=1e-12)


def test_event_exactly_at_opens_at_is_counted():
    assert evidence(INF, matches([10.0])) == pytest.approx(1.0, abs=1e-12)


def test_event_after_t_is_not_counted():
    assert evidence(INF, matches([50.001])) == pytest.approx(0.0, abs=1e-12)


def test_event_exactly_at_t_is_counted():
    assert evidence(INF, matches([50.0])) == pytest.approx(1.0, abs=1e-12)


def test_event_recorded_after_the_cut_is_not_counted():
    known = at(30.0)
    assert evidence(known, matches([20.0], recorded_days=[30.001])) == pytest.approx(0.0, abs=1e-12)


def test_event_recorded_exactly_at_the_cut_is_counted():
    known = at(30.0)
    assert evidence(known, matches([20.0], recorded_days=[30.0])) == pytest.approx(1.0, abs=1e-12)


def test_event_recorded_after_t_but_by_the_cut_is_counted():
    # occurred_at <= t is the time filter; recorded_at is only compared with K.
    known = at(80.0)
    assert evidence(known, matches([20.0], recorded_days=[70.0])) == pytest.approx(1.0, abs=1e-12)


def test_event_retracted_before_the_cut_is_not_counted():
    known = at(30.0)
    assert evidence(
        known, matches([20.0], recorded_days=[21.0], retracted_days=[25.0])
    ) == pytest.approx(0.0, abs=1e-12)


def test_event_retracted_exactly_at_the_cut_is_not_counted():
    known = at(30.0)
    assert evidence(
        known, matches([20.0], recorded_days=[21.0], retracted_days=[30.0])
    ) == pytest.approx(0.0, abs=1e-12)


def test_event_retracted_after_the_cut_is_counted():
    known = at(30.0)
    found = evidence(known, matches([20.0], recorded_days=[21.0], retracted_days=[30.5]))
    assert found == pytest.approx(1.0, abs=1e-12)


def test_with_no_cut_a_retracted_event_is_not_counted():
    assert evidence(INF, matches([20.0], retracted_days=[400.0])) == pytest.approx(0.0, abs=1e-12)


def test_with_no_cut_an_unretracted_event_is_counted():
    assert evidence(INF, matches([20.0])) == pytest.approx(1.0, abs=1e-12)


def test_with_no_cut_counted_matches_flags_every_unretracted_match_by_t():
    rule_matches = matches([20.0, 30.0, 40.0], retracted_days=[INF, 35.0, INF])
    counted = counted_matches(rule_matches, times(50.0), at(10.0), INF)
    assert counted.tolist() == [[True, False, True]]


def test_counted_matches_is_per_time_and_match():
    rule_matches = matches([5.0, 20.0, 30.0, 40.0], recorded_days=[5.0, 20.0, 90.0, 40.0])
    counted = counted_matches(rule_matches, times(0.0, 25.0, 45.0), at(10.0), at(60.0))
    assert counted.tolist() == [
        [False, False, False, False],
        [False, True, False, False],
        [False, True, False, True],
    ]


@pytest.mark.parametrize(
    "excluded",
    [
        pytest.param({"occurred": 5.0, "recorded": 5.0, "retracted": INF}, id="before-opens-at"),
        pytest.param({"occurred": 12.0, "recorded": 99.0, "retracted": INF}, id="recorded-late"),
        pytest.param({"occurred": 12.0, "recorded": 12.0, "retracted": 13.0}, id="retracted"),
    ],
)
def test_excluded_earlier_match_does_not_consume_a_discount_step(excluded):
    r = 0.5
    rule_matches = matches(
        [excluded["occurred"], 15.0, 16.0],
        recorded_days=[excluded["recorded"], 15.0, 16.0],
        retracted_days=[excluded["retracted"], INF, INF],
    )
    found = evidence(at(60.0), rule_matches, r=r)
    assert found == pytest.approx(1.0 + r, abs=1e-12)


# --- 6. Status and probability ------------------------------------------------------

DEADLINE = at(100.0)


def status_and_p(t: np.ndarray, resolution: Resolution | None, known: float = INF):
    status = status_at(t, DEADLINE, () if resolution is None else (resolution,), known)
    return status.tolist(), probabilities(np.full(t.shape, 0.4), status)


def test_open_before_deadline_with_p_the_expit_of_log_odds():
    statuses, p = status_and_p(times(0.0, 99.999), None)
    assert statuses == ["open", "open"]
    assert p == pytest.approx([expit(0.4)] * 2, abs=1e-15, rel=0)


def test_expired_at_and_after_deadline_with_p_zero():
    statuses, p = status_and_p(np.array([DEADLINE, DEADLINE + 1.0, at(500.0)]), None)
    assert statuses == ["expired"] * 3
    assert p.tolist() == [0.0, 0.0, 0.0]


def test_resolved_yes_from_resolved_at_with_p_one():
    resolution = Resolution("yes", resolved_at=at(40.0), recorded_at=at(41.0))
    statuses, p = status_and_p(times(39.0, 40.0, 60.0), resolution)
    assert statuses == ["open", "resolved_yes", "resolved_yes"]
    assert p.tolist() == [pytest.approx(expit(0.4), abs=1e-15), 1.0, 1.0]


def test_resolved_no_from_resolved_at_with_p_zero():
    resolution = Resolution("no", resolved_at=at(40.0), recorded_at=at(41.0))
    statuses, p = status_and_p(times(39.0, 40.0, 200.0), resolution)
    assert statuses == ["open", "resolved_no", "resolved_no"]
    assert p.tolist() == [pytest.approx(expit(0.4), abs=1e-15), 0.0, 0.0]


def test_annulled_has_nan_probability():
    resolution = Resolution("annulled", resolved_at=at(40.0), recorded_at=at(40.0))
    statuses, p = status_and_p(times(39.0, 40.0, 150.0), resolution)
    assert statuses == ["open", "annulled", "annulled"]
    assert p[0] == pytest.approx(expit(0.4), abs=1e-15)
    assert math.isnan(p[1])
    assert math.isnan(p[2])


def test_resolution_recorded_after_the_cut_is_not_known():
    resolution = Resolution("yes", resolved_at=at(40.0), recorded_at=at(45.0))
    statuses, p = status_and_p(times(50.0, 120.0), resolution, known=at(44.0))
    assert statuses == ["open", "expired"]
    assert p.tolist() == [pytest.approx(expit(0.4), abs=1e-15), 0.0]


def test_resolution_recorded_exactly_at_the_cut_is_known():
    resolution = Resolution("no", resolved_at=at(40.0), recorded_at=at(45.0))
    statuses, _ = status_and_p(times(50.0), resolution, known=at(45.0))
    assert statuses == ["resolved_no"]


def test_expired_wins_over_a_yes_resolved_after_the_deadline_until_resolved_at():
    resolution = Resolution("yes", resolved_at=at(130.0), recorded_at=at(130.0))
    statuses, p = status_and_p(np.array([DEADLINE, at(129.999)]), resolution)
    assert statuses == ["expired", "expired"]
    assert p.tolist() == [0.0, 0.0]


def test_resolution_known_and_reached_is_listed_before_expiry_in_model_md():
    # model.md lists "resolution known and t >= resolved_at" first, so a yes
    # resolved after the deadline shows once resolved_at is reached.
    resolution = Resolution("yes", resolved_at=at(130.0), recorded_at=at(130.0))
    statuses, _ = status_and_p(times(130.0, 200.0), resolution)
    assert statuses == ["resolved_yes", "resolved_yes"]


def test_before_opens_at_p_is_the_prior_with_no_time_term():
    p0 = 0.37
    model = scenario(rule(2.0), prior=p0, opens_days=10.0, deadline_days=100.0, uniform=True)
    # One match before t0 (never counted) and one after t (not yet counted).
    t = times(0.0, 9.5)
    found = terms(model, [matches([5.0, 11.0])], t)
    p = probabilities(found.log_odds, status_at(t, model.deadline))
    assert list(found.time_term) == [0.0, 0.0]
    assert p == pytest.approx([p0, p0], abs=1e-15, rel=0)


# --- 7. Credible interval -----------------------------------------------------------


def trigamma(x: float) -> float:
    return float(polygamma(1, x))


def test_z_constants_are_central_normal_quantiles():
    assert NormalDist().inv_cdf((1 + 0.80) / 2) == pytest.approx(Z80, abs=1e-12, rel=0)
    assert NormalDist().inv_cdf((1 + 0.95) / 2) == pytest.approx(Z95, abs=1e-12, rel=0)


def test_prior_variance_is_trigamma_sum_of_beta_parameters():
    model = scenario(prior=0.2, prior_strength=7.0)
    expected = trigamma(0.2 * 7.0) + trigamma(0.8 * 7.0)
    assert model.prior_variance == pytest.approx(expected, abs=1e-12, rel=0)


def interval_world():
    s1, s2 = 0.35, 0.8
    ln1, ln2 = math.log(3.0), math.log(0.4)
    h, r = 6.0, 0.5
    model = scenario(
        rule(ln1, uncertainty=s1, half_life_days=h, repeat_discount=r, name="a"),
        rule(ln2, uncertainty=s2, name="b"),
        prior=0.25,
        prior_strength=12.0,
        opens_days=0.0,
        deadline_days=60.0,
        uniform=True,
    )
    # rule a: one match recorded after the cut (excluded) then two counted ones.
    a = matches([2.0, 4.0, 10.0], recorded_days=[40.0, 4.0, 10.0])
    b = matches([7.0, 25.0])  # the second occurs after t
    t = 12.0
    w_a = [1.0 * 2 ** (-(t - 4.0) / h), r * 2 ** (-(t - 10.0) / h)]
    w_b = [1.0]
    log_odds = logit(0.25) + ln1 * sum(w_a) + ln2 * sum(w_b) + math.log((60.0 - t) / (60.0 - 0.0))
    variance = (
        trigamma(0.25 * 12.0)
        + trigamma(0.75 * 12.0)
        + sum((s1 * w) ** 2 for w in w_a)
        + sum((s2 * w) ** 2 for w in w_b)
    )
    found = terms(model, [a, b], times(t), at(30.0))
    return found, log_odds, variance


def test_variance_is_prior_trigammas_plus_squared_weighted_uncertainties():
    found, _, variance = interval_world()
    assert found.variance[0] == pytest.approx(variance, abs=1e-12, rel=0)


def test_log_odds_of_the_interval_world_matches_closed_form():
    found, log_odds, _ = interval_world()
    assert found.log_odds[0] == pytest.approx(log_odds, abs=1e-12, rel=0)


@pytest.mark.parametrize("q", [0.80, 0.95])
def test_interval_is_expit_of_log_odds_plus_minus_z_sqrt_variance(q):
    _, log_odds, variance = interval_world()
    z = NormalDist().inv_cdf((1 + q) / 2)
    low, high = interval(np.array([log_odds]), np.array([variance]), Z80 if q == 0.80 else Z95)
    assert low[0] == pytest.approx(expit(log_odds - z * math.sqrt(variance)), abs=1e-12)
    assert high[0] == pytest.approx(expit(log_odds + z * math.sqrt(variance)), abs=1e-12)


def test_intervals_contain_the_point_and_95_contains_80():
    found, _, _ = interval_world()
    low80, high80 = interval(found.log_odds, found.variance, Z80)
    low95, high95 = interval(found.log_odds, found.variance, Z95)
    p = expit(float(found.log_odds[0]))
    assert low95[0] < low80[0] < p < high80[0] < high95[0]


def test_contributions_sum_to_the_log_odds():
    found, _, _ = interval_world()
    ln_bs = [math.log(3.0), math.log(0.4)]
    contributions = found.time_term + sum(
        (ln_b * w).sum(axis=1) for ln_b, w in zip(ln_bs, found.weights, strict=True)
    )
    assert found.log_odds[0] == pytest.approx(logit(0.25) + contributions[0], abs=1e-12, rel=0)


def test_weights_are_zero_for_matches_not_counted():
    found, _, _ = interval_world()
    assert found.counted[0].tolist() == [[False, True, True]]
    assert found.counted[1].tolist() == [[True, False]]
    assert found.weights[0][0, 0] == 0.0
    assert found.weights[1][0, 1] == 0.0
