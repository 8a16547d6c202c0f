"""The recalibration and the evidence scales of ``model.md``, fitted on closed
scenarios' training samples (``forecasts.training``).

Both minimise a weighted, ridge-penalised logistic loss

    f(theta) = sum_i w_i [log(1 + e^(x_i)) - y_i x_i] + lambda |theta - centre|^2,
    x = offset + X theta,

with w_i = 1/m_s: for (alpha, beta), X = [1, z], offset 0, centre (0, 1); for
the scales, X = E (one column per kinds-key g), offset = logit p0 + ln T,
centre 1. f is strictly convex (lambda > 0), so Newton's method with the exact
gradient and Hessian, damped by a backtracking line search, finds the unique
minimiser; it stops when the gradient's norm is below 1e-10.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from forecasts.model import Floats
from forecasts.training import TrainingSet

LAMBDA = 1.0
MIN_SCENARIOS = 5
TOLERANCE = 1e-10
MAX_ITERATIONS = 100
ARMIJO = 1e-4
FULL_STEP_DECREMENT = 1e-8
"""Below this Newton decrement (g . H^-1 g) the full step is taken without the
line search: f changes by less than its rounding there, and the step is in the
region of quadratic convergence."""


class NotConverged(ArithmeticError):
    """Newton's method did not bring the gradient below the tolerance."""

    def __init__(self, theta: Floats, gradient_norm: float, iterations: int) -> None:
        super().__init__(
            f"gradient norm {gradient_norm:.3g} after {iterations} iterations (theta {theta})"
        )
        self.theta = theta
        self.gradient_norm = gradient_norm


@dataclass(frozen=True)
class Solution:
    theta: Floats
    gradient_norm: float
    iterations: int


def objective(
    theta: Floats,
    x_matrix: Floats,
    offset: Floats,
    y: Floats,
    w: Floats,
    lam: float,
    centre: Floats,
) -> float:
    x = offset + x_matrix @ theta
    loss = float(w @ (np.logaddexp(0.0, x) - y * x))
    return loss + lam * float(np.sum((theta - centre) ** 2))


def gradient(
    theta: Floats,
    x_matrix: Floats,
    offset: Floats,
    y: Floats,
    w: Floats,
    lam: float,
    centre: Floats,
) -> Floats:
    residual = w * (expit(offset + x_matrix @ theta) - y)
    return x_matrix.T @ residual + 2.0 * lam * (theta - centre)


def solve(
    x_matrix: Floats,
    offset: Floats,
    y: Floats,
    w: Floats,
    lam: float,
    centre: Floats,
    start: Floats | None = None,
) -> Solution:
    """The minimiser of f (module docstring); ``start`` defaults to the centre.
    Raises ``NotConverged`` after ``MAX_ITERATIONS`` steps."""
    if not lam > 0:
        msg = f"lambda must be positive, not {lam}"
        raise ValueError(msg)
    theta = np.array(centre if start is None else start, dtype=np.float64)
    args = (x_matrix, offset, y, w, lam, centre)
    identity = np.eye(theta.shape[0])
    for iteration in range(MAX_ITERATIONS + 1):
        x = offset + x_matrix @ theta
        p = expit(x)
        g = x_matrix.T @ (w * (p - y)) + 2.0 * lam * (theta - centre)
        norm = float(np.linalg.norm(g))
        if norm < TOLERANCE:
            return Solution(theta, norm, iteration)
        if iteration == MAX_ITERATIONS:
            break
        curvature = w * p * (1.0 - p)
        hessian = x_matrix.T @ (x_matrix * curvature[:, np.newaxis]) + 2.0 * lam * identity
        step: Floats = -np.asarray(np.linalg.solve(hessian, g), dtype=np.float64)
        slope = float(g @ step)
        if -slope < FULL_STEP_DECREMENT:
            theta = theta + step
            continue
        theta = theta + _damping(theta, step, slope, args) * step
    raise NotConverged(theta, norm, MAX_ITERATIONS)


def _damping(
    theta: Floats,
    step: Floats,
    slope: float,
    args: tuple[Floats, Floats, Floats, Floats, float, Floats],
) -> float:
    """The largest 2^-k (k < 60) with sufficient decrease (Armijo)."""
    here = objective(theta, *args)
    size = 1.0
    for _ in range(60):
        if objective(theta + size * step, *args) <= here + ARMIJO * size * slope:
            return size
        size /= 2.0
    return size


@dataclass(frozen=True)
class Recalibration:
    """expit(alpha + beta * logit), fitted on ``scenario_ids``."""

    alpha: float
    beta: float
    lam: float
    scenario_ids: tuple[str, ...]
    gradient_norm: float

    @property
    def n_scenarios(self) -> int:
        return len(self.scenario_ids)


def fit_recalibration(
    training: TrainingSet,
    lam: float = LAMBDA,
    min_scenarios: int = MIN_SCENARIOS,
    start: tuple[float, float] | None = None,
) -> Recalibration | None:
    """(alpha, beta) of ``training``; None with fewer than ``min_scenarios``."""
    if training.n_scenarios < min_scenarios:
        return None
    x_matrix = np.column_stack((np.ones_like(training.logit), training.logit))
    solution = solve(
        x_matrix,
        np.zeros_like(training.logit),
        training.outcome,
        training.weight,
        lam,
        np.array([0.0, 1.0]),
        None if start is None else np.array(start),
    )
    alpha, beta = (float(v) for v in solution.theta)
    return Recalibration(alpha, beta, lam, training.scenario_ids, solution.gradient_norm)


@dataclass(frozen=True)
class EvidenceScale:
    kinds: str
    beta: float
    n_matches: int


@dataclass(frozen=True)
class EvidenceScales:
    scales: tuple[EvidenceScale, ...]
    lam: float
    scenario_ids: tuple[str, ...]
    gradient_norm: float

    @property
    def n_scenarios(self) -> int:
        return len(self.scenario_ids)

    def beta(self, kinds: str) -> float:
        """beta_g of ``kinds`` (1 for a g the training never saw)."""
        return next((s.beta for s in self.scales if s.kinds == kinds), 1.0)

    def as_mapping(self) -> dict[str, float]:
        return {s.kinds: s.beta for s in self.scales}


def fit_evidence_scales(
    training: TrainingSet,
    lam: float = LAMBDA,
    min_scenarios: int = MIN_SCENARIOS,
    start: Mapping[str, float] | None = None,
) -> EvidenceScales | None:
    """beta_g per kinds-key of ``training``; None with fewer than
    ``min_scenarios``. A g with no match entering a sample keeps exactly 1 (its
    E_g is all zero, so only the penalty acts on it): it is left out of the solve."""
    if training.n_scenarios < min_scenarios:
        return None
    n_matches = training.matched.sum(axis=0)
    fitted = np.flatnonzero(n_matches > 0)
    betas = np.ones(len(training.kinds))
    norm = 0.0
    if fitted.shape[0]:
        initial = None
        if start is not None:
            initial = np.array([start.get(training.kinds[i], 1.0) for i in fitted])
        solution = solve(
            training.evidence[:, fitted],
            training.base,
            training.outcome,
            training.weight,
            lam,
            np.ones(fitted.shape[0]),
            initial,
        )
        betas[fitted] = solution.theta
        norm = solution.gradient_norm
    scales = tuple(
        EvidenceScale(g, float(betas[i]), int(n_matches[i])) for i, g in enumerate(training.kinds)
    )
    return EvidenceScales(scales, lam, training.scenario_ids, norm)


def calibrated_probability(logit_values: Floats, alpha: float, beta: float) -> Floats:
    """expit(alpha + beta * logit)."""
    return np.asarray(expit(alpha + beta * np.asarray(logit_values, dtype=np.float64)))


def calibrated_interval(
    lower: Floats, upper: Floats, alpha: float, beta: float
) -> tuple[Floats, Floats]:
    """The calibrated map of an interval's ends (probabilities), sorted (beta < 0
    would swap them)."""
    with np.errstate(divide="ignore"):
        ends = (
            calibrated_probability(logit(np.asarray(lower, dtype=np.float64)), alpha, beta),
            calibrated_probability(logit(np.asarray(upper, dtype=np.float64)), alpha, beta),
        )
    return np.minimum(*ends), np.maximum(*ends)


def suggested_bayes_factor(bayes_factor: float, scale: float) -> float:
    """B^(beta_g): the rule's factor with its evidence scaled."""
    return float(bayes_factor**scale)


def scaled_logit(training: TrainingSet, scales: Mapping[str, float]) -> Floats:
    """x = logit p0 + ln T + sum_g beta_g E_g at every sample of ``training``
    (g missing from ``scales``: beta_g = 1)."""
    betas = np.array([scales.get(g, 1.0) for g in training.kinds])
    return np.asarray(training.base + training.evidence @ betas)
