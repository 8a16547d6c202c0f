"""The fits of model.md's calibration: the minimiser, its guards, the map."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from forecasts import calibration
from forecasts.calibration import (
    calibrated_interval,
    calibrated_probability,
    fit_evidence_scales,
    fit_recalibration,
    gradient,
    objective,
    scaled_logit,
    suggested_bayes_factor,
)
from forecasts.training import TrainingSet, training_set
from tests.forecasts import calibrationworld as cw


def _training(n: int, c: float, seed: int) -> TrainingSet:
    return training_set([p.training for p in cw.pool(cw.world(n, c, seed))])


def _recalibration_args(training: TrainingSet) -> tuple:
    x_matrix = np.column_stack((np.ones_like(training.logit), training.logit))
    return (
        x_matrix,
        np.zeros_like(training.logit),
        training.outcome,
        training.weight,
        1.0,
        np.array([0.0, 1.0]),
    )


def _loss(theta: np.ndarray, training: TrainingSet, lam: float = 1.0) -> float:
    """The objective of model.md written out again, independently of the module."""
    x = theta[0] + theta[1] * training.logit
    y = training.outcome
    per_sample = np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0) - y * x
    return float(training.weight @ per_sample + lam * (theta[0] ** 2 + (theta[1] - 1) ** 2))


def test_the_gradient_is_zero_at_the_answer_and_bfgs_agrees() -> None:
    training = _training(150, 0.5, 1)
    fit = fit_recalibration(training)
    assert fit is not None
    theta = np.array([fit.alpha, fit.beta])
    assert fit.gradient_norm < 1e-10
    assert np.linalg.norm(gradient(theta, *_recalibration_args(training))) < 1e-10
    assert objective(theta, *_recalibration_args(training)) == pytest.approx(
        _loss(theta, training), rel=1e-12
    )
    other = minimize(
        _loss, np.array([0.0, 1.0]), args=(training,), method="BFGS", options={"gtol": 1e-11}
    )
    np.testing.assert_allclose(theta, other.x, atol=1e-6)
    assert abs(fit.beta - 1.0) > 0.1  # an overconfident world: the answer is not the start


def test_the_scales_agree_with_bfgs_and_an_unmatched_kind_stays_exactly_one() -> None:
    training = _training(150, 0.5, 2)
    scales = fit_evidence_scales(training)
    assert scales is not None
    by_kind = {s.kinds: s for s in scales.scales}
    assert by_kind["w|x"].beta == 1.0
    assert by_kind["w|x"].n_matches == 0
    assert by_kind["a"].n_matches == int(training.matched[:, 0].sum()) > 0
    assert scales.gradient_norm < 1e-10

    def loss(betas: np.ndarray) -> float:
        x = training.base + training.evidence[:, :2] @ betas
        per_sample = np.logaddexp(0.0, x) - training.outcome * x
        return float(training.weight @ per_sample + np.sum((betas - 1.0) ** 2))

    other = minimize(loss, np.ones(2), method="BFGS", options={"gtol": 1e-11})
    np.testing.assert_allclose([by_kind["a"].beta, by_kind["b"].beta], other.x, atol=1e-6)


def test_fewer_than_min_scenarios_gives_none() -> None:
    training = _training(5, 1.0, 3)
    assert training.n_scenarios == 5
    assert fit_recalibration(training) is not None
    assert fit_evidence_scales(training) is not None
    four = training.prefix(4)
    assert fit_recalibration(four) is None
    assert fit_evidence_scales(four) is None
    assert fit_recalibration(training, min_scenarios=6) is None


def test_the_weights_are_one_over_the_window_not_one_per_scenario() -> None:
    """Weighing each closed scenario 1, whatever its length, gives an early yes's
    few samples more weight: in an exact world it learns a bias toward yes."""
    training = _training(3000, 1.0, 4)
    right = fit_recalibration(training)
    assert right is not None
    lengths = np.diff(training.offsets)
    per_scenario = np.repeat(1.0 / lengths, lengths)
    wrong_set = TrainingSet(**{**training.__dict__, "weight": per_scenario})
    wrong = fit_recalibration(wrong_set)
    assert wrong is not None
    assert abs(right.alpha) < 0.1
    assert wrong.alpha > right.alpha + 0.15


def test_the_calibrated_map_and_its_intervals() -> None:
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(calibrated_probability(z, 0.3, 0.5), expit(0.3 + 0.5 * z))
    lower, upper = calibrated_interval(np.array([0.2, 0.0]), np.array([0.6, 1.0]), 0.1, -0.5)
    ends = np.sort(expit(0.1 - 0.5 * np.log(np.array([0.2, 0.6]) / np.array([0.8, 0.4]))))
    np.testing.assert_allclose([lower[0], upper[0]], ends)
    assert lower[1] == 0.0
    assert upper[1] == 1.0
    assert suggested_bayes_factor(4.0, 0.5) == pytest.approx(2.0)


def test_scaled_logit_scales_each_kinds_evidence() -> None:
    training = _training(20, 1.0, 5)
    ones = scaled_logit(training, {})
    np.testing.assert_allclose(ones, training.logit, atol=1e-12)
    halved = scaled_logit(training, {"a": 0.5, "b": 2.0})
    expected = training.base + 0.5 * training.evidence[:, 0] + 2.0 * training.evidence[:, 1]
    np.testing.assert_allclose(halved, expected, atol=1e-12)


def test_the_iteration_cap_raises_instead_of_answering_unconverged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    training = _training(40, 0.5, 6)
    monkeypatch.setattr(calibration, "MAX_ITERATIONS", 1)
    with pytest.raises(calibration.NotConverged) as raised:
        fit_recalibration(training)
    assert raised.value.gradient_norm >= calibration.TOLERANCE


def test_lambda_must_be_positive() -> None:
    with pytest.raises(ValueError, match="lambda must be positive"):
        fit_recalibration(_training(10, 1.0, 7), lam=0.0)
