"""model.md "More scores (every backtest)": the pooled Brier and its Murphy
decomposition, the brier_timing baseline, the bootstrap intervals over scenarios and
few_scenarios; checked against direct computations written here."""

import uuid

import msgspec
import numpy as np
import pytest

from forecasts.backtest import ScenarioInput, grid, open_samples, scenario_samples
from forecasts.bootstrap import seed_of
from forecasts.model import DAY
from forecasts.scoring import ScenarioSamples, Scores, score
from tests.forecasts.modelkit import at, matches, rule, scenario

TOL = 1e-12


def realistic(count: int, seed: int = 7) -> list[ScenarioSamples]:
    """``count`` scenarios of 20 to 200 samples, forecasts drifting towards the
    outcome with noise, priors across (0, 1)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        outcome = bool(rng.random() < 0.4)
        prior = float(rng.uniform(0.05, 0.95))
        n = int(rng.integers(20, 200))
        drift = np.linspace(0, rng.normal(1.5, 1.0) * (1 if outcome else -1), n)
        logits = np.log(prior / (1 - prior)) + drift + rng.normal(0, 0.6, n)
        forecasts = 1 / (1 + np.exp(-logits))
        out.append(ScenarioSamples(f"s{i}", outcome, prior, forecasts))
    return out


def pooled(samples: list[ScenarioSamples]) -> tuple[np.ndarray, np.ndarray]:
    p = np.concatenate([s.forecasts for s in samples])
    y = np.concatenate([np.full(s.forecasts.shape[0], float(s.outcome)) for s in samples])
    return p, y


def direct_bins(p: np.ndarray) -> list[list[int]]:
    """The indices of the samples in each of the ten bins, by a plain loop."""
    bins: list[list[int]] = [[] for _ in range(10)]
    for i, value in enumerate(p.tolist()):
        b = min(int(value * 10), 9)
        if b / 10 > value:
            b -= 1
        bins[b].append(i)
    return bins


# -- pooled Brier and the Murphy decomposition --------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_murphy_decomposition_equals_a_direct_computation_over_the_bins(seed):
    samples = realistic(12, seed)
    overall = score(samples).overall
    assert overall is not None
    assert overall.murphy is not None
    p, y = pooled(samples)
    n = len(p)
    o = sum(y.tolist()) / n
    rel = res = 0.0
    for members in direct_bins(p):
        if not members:
            continue
        f_b = sum(p[i] for i in members) / len(members)
        o_b = sum(y[i] for i in members) / len(members)
        rel += len(members) * (f_b - o_b) ** 2
        res += len(members) * (o_b - o) ** 2
    assert overall.murphy.reliability == pytest.approx(rel / n, abs=TOL)
    assert overall.murphy.resolution == pytest.approx(res / n, abs=TOL)
    assert overall.murphy.uncertainty == pytest.approx(o * (1 - o), abs=TOL)
    assert overall.brier_pooled == pytest.approx(
        sum((a - b) ** 2 for a, b in zip(p, y, strict=True)) / n, abs=TOL
    )


@pytest.mark.parametrize("seed", [4, 5])
def test_pooled_brier_is_reliability_minus_resolution_plus_uncertainty_plus_within_bin(seed):
    samples = realistic(9, seed)
    overall = score(samples).overall
    assert overall is not None
    assert overall.murphy is not None
    p, y = pooled(samples)
    within = 0.0
    for members in direct_bins(p):
        if not members:
            continue
        f_b = sum(p[i] for i in members) / len(members)
        o_b = sum(y[i] for i in members) / len(members)
        within += sum((p[i] - f_b) ** 2 - 2 * (p[i] - f_b) * (y[i] - o_b) for i in members)
    m = overall.murphy
    total = m.reliability - m.resolution + m.uncertainty + within / len(p)
    assert overall.brier_pooled == pytest.approx(total, abs=TOL)
    assert abs(within) > 1e-6  # the spread within bins is real, so the term is checked


# -- brier_timing -------------------------------------------------------------------------


@pytest.mark.parametrize("uniform", [True, False])
def test_brier_timing_is_the_brier_of_the_prior_and_the_time_term_alone(uniform):
    inputs = [
        ScenarioInput(
            f"s{i}", outcome, at(200 + 40 * i),
            scenario(rule(1.2, half_life_days=20.0, repeat_discount=0.8), prior=prior,
                     opens_days=10.0 * i, deadline_days=500.0, uniform=uniform),
            [matches([15.0, 40.0, 90.0, 150.0])],
        )
        for i, (outcome, prior) in enumerate([(True, 0.2), (False, 0.6), (True, 0.45)])
    ]  # fmt: skip
    times = grid(at(0), at(400), DAY)
    scores = score(scenario_samples(inputs, times, np.inf))
    expected = []
    for item, scored in zip(inputs, scores.scenarios, strict=True):
        model = item.model
        t = open_samples(times, model.opens_at, model.deadline, item.resolved_at)
        ln_t = np.log((model.deadline - t) / (model.deadline - model.opens_at)) if uniform else 0
        p = 1 / (1 + np.exp(-(np.log(model.prior / (1 - model.prior)) + ln_t)))
        y = 1.0 if item.outcome else 0.0
        expected.append(float(np.mean((p - y) ** 2)))
        assert scored.brier_timing == pytest.approx(expected[-1], abs=TOL)
        assert scored.brier_timing != pytest.approx(scored.brier, abs=1e-6)
    assert scores.overall is not None
    assert scores.overall.brier_timing == pytest.approx(np.mean(expected), abs=TOL)


# -- bootstrap ----------------------------------------------------------------------------


def intervals(scores: Scores) -> tuple:
    o = scores.overall
    assert o is not None
    return o.brier_ci, o.skill_ci, o.vs_prior_ci, o.vs_half_ci


def test_the_bootstrap_is_the_same_for_one_backtest_id_and_differs_between_ids():
    samples = realistic(30)
    first, second = uuid.uuid4(), uuid.uuid4()
    once = intervals(score(samples, seed_of(first)))
    assert intervals(score(samples, seed_of(first))) == once
    other = intervals(score(samples, seed_of(second)))
    assert all(a != b for a, b in zip(once, other, strict=True))


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_the_intervals_contain_their_point_estimates(seed):
    samples = realistic(30, seed)
    o = score(samples, seed_of(uuid.uuid4())).overall
    assert o is not None
    points = {
        "brier_ci": o.brier,
        "skill_ci": o.skill,
        "vs_prior_ci": o.brier - o.brier_prior,
        "vs_half_ci": o.brier - 0.25,
    }
    for name, point in points.items():
        lo, hi = getattr(o, name)
        assert lo < point < hi, (name, lo, point, hi)
    width = o.brier_ci[1] - o.brier_ci[0]
    brier = np.array([s.brier for s in score(samples).scenarios])
    standard_error = brier.std() / np.sqrt(len(brier))
    assert 2 * standard_error < width < 6 * standard_error  # about 3.92 standard errors


def test_with_one_scenario_the_intervals_are_the_point():
    o = score(realistic(1), seed_of(uuid.uuid4())).overall
    assert o is not None
    assert o.brier_ci == (o.brier, o.brier)
    assert o.skill_ci == (o.skill, o.skill)
    assert o.vs_prior_ci == (o.brier - o.brier_prior, o.brier - o.brier_prior)
    assert o.few_scenarios is True


@pytest.mark.parametrize(("count", "few"), [(4, True), (5, False)])
def test_few_scenarios_below_five(count, few):
    o = score(realistic(count), 1).overall
    assert o is not None
    assert o.n_scenarios == count
    assert o.few_scenarios is few
    assert o.brier_ci is not None  # given even when few


# -- stored results -----------------------------------------------------------------------

OLD_RESULT = (
    b'{"overall":{"brier":0.2,"log":0.6,"brier_prior":0.21,"brier_half":0.25,'
    b'"skill":0.05,"ece":0.1,"sharpness":0.02,"n_samples":40,"n_scenarios":2},'
    b'"scenarios":[{"scenario_id":"a","outcome":"yes","brier":0.2,"log":0.6,'
    b'"brier_prior":0.21,"brier_half":0.25,"skill":0.05,"n_samples":40}],'
    b'"calibration":[{"lo":0.0,"hi":0.1,"mean_forecast":null,"observed_rate":null,"count":0}]}'
)


def test_a_result_stored_before_the_more_scores_decodes_with_them_none():
    scores = msgspec.json.decode(OLD_RESULT, type=Scores)
    assert scores.overall is not None
    assert scores.overall.brier == 0.2
    assert scores.overall.murphy is None
    assert scores.overall.brier_ci is None
    assert scores.overall.few_scenarios is None
    assert scores.scenarios[0].rules is None
    assert scores.scenarios[0].brier_timing is None
    served = msgspec.json.decode(msgspec.json.encode(scores))
    assert served["overall"]["brier_ci"] is None
    assert served["overall"]["murphy"] is None
    assert served["scenarios"][0]["rules"] is None


def test_new_scores_survive_encoding():
    scores = score(realistic(6), 3)
    assert msgspec.json.decode(msgspec.json.encode(scores), type=Scores) == scores
