"""Honest evaluation of the calibration (``model.md``): prequentially, and
leave-one-scenario-out for the suggested factors.

Prequentially, the calibrated forecast of a sample at time t uses the fit on the
pool's scenarios closed by t: deadline <= t and resolution recorded by t, i.e.
admitted from max(deadline, recorded_at) on, never the scored scenario itself.
The admitted set only grows with t, so the pool is ordered by admission time,
an admitted set is a prefix of it (less the scored scenario, should it be
there), and each distinct set is fitted once, warm-started from the previous one.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from forecasts.calibration import (
    LAMBDA,
    MIN_SCENARIOS,
    Recalibration,
    calibrated_probability,
    fit_evidence_scales,
    fit_recalibration,
    scaled_logit,
)
from forecasts.model import Floats
from forecasts.training import ScenarioTraining, TrainingSet, training_set


@dataclass(frozen=True)
class PoolScenario:
    """A closed scenario of the pool: its samples, deadline and when its
    resolution was recorded."""

    training: ScenarioTraining
    deadline: float
    recorded_at: float

    @property
    def admitted_from(self) -> float:
        return max(self.deadline, self.recorded_at)


@dataclass(frozen=True)
class Prequential:
    """Per scored sample: the calibrated probability (the raw one where no
    calibration was in force: ``fitted`` False), the map (alpha, beta) it used
    ((0, 1) where none was), and how many fits it took."""

    probability: Floats
    fitted: NDArray[np.bool_]
    fits: int
    alpha: Floats
    beta: Floats


def _raw(logit_values: Floats) -> Floats:
    return calibrated_probability(logit_values, 0.0, 1.0)


def prequential_probabilities(
    scenario_ids: Sequence[str],
    t: Floats,
    logit_values: Floats,
    pool: Sequence[PoolScenario],
    lam: float = LAMBDA,
    min_scenarios: int = MIN_SCENARIOS,
) -> Prequential:
    """The calibrated probability of each scored sample (scenario, time, raw
    logit), each from the fit on the pool's scenarios closed by its time. A
    logit of +/-inf (a certain status) stays certain; NaN stays NaN."""
    order = sorted(range(len(pool)), key=lambda i: (pool[i].admitted_from, i))
    admitted_from = np.array([pool[i].admitted_from for i in order])
    ordered = training_set([pool[i].training for i in order])
    place = {ordered.scenario_ids[k]: k for k in range(ordered.n_scenarios)}
    counts = np.searchsorted(admitted_from, t, side="right")
    keys: dict[tuple[int, int], list[int]] = {}
    for i, (scenario, count) in enumerate(zip(scenario_ids, counts.tolist(), strict=True)):
        own = place.get(scenario, -1)
        keys.setdefault((count, own if own < count else -1), []).append(i)
    probability = _raw(logit_values)
    fitted = np.zeros(len(scenario_ids), dtype=np.bool_)
    alpha = np.zeros(len(scenario_ids))
    beta = np.ones(len(scenario_ids))
    fits: dict[frozenset[int], Recalibration | None] = {}
    previous: Recalibration | None = None
    for (count, excluded), samples in sorted(keys.items()):
        members = frozenset(range(count)) - {excluded}
        if members not in fits:
            chosen = ordered.prefix(count) if excluded < 0 else ordered.take(sorted(members))
            start = None if previous is None else (previous.alpha, previous.beta)
            fits[members] = fit_recalibration(chosen, lam, min_scenarios, start)
        fit = fits[members]
        if fit is None:
            continue
        previous = fit
        rows = np.array(samples)
        z = logit_values[rows]
        live = np.isfinite(z)
        probability[rows[live]] = calibrated_probability(z[live], fit.alpha, fit.beta)
        fitted[rows] = True
        alpha[rows] = fit.alpha
        beta[rows] = fit.beta
    return Prequential(probability, fitted, len(fits), alpha, beta)


def leave_one_out(
    training: TrainingSet, lam: float = LAMBDA, min_scenarios: int = MIN_SCENARIOS
) -> list[Floats | None]:
    """Per scenario s of ``training``: its probabilities on its training grid with
    its rules' factors scaled by the evidence scales fitted without s
    (x = logit p0 + ln T + sum_g beta_g E_g); None where too few scenarios remain."""
    full = fit_evidence_scales(training, lam, min_scenarios)
    start = None if full is None else full.as_mapping()
    out: list[Floats | None] = []
    everyone = range(training.n_scenarios)
    for s in everyone:
        rest = training.take([i for i in everyone if i != s])
        scales = fit_evidence_scales(rest, lam, min_scenarios, start)
        if scales is None:
            out.append(None)
            continue
        own = training.take([s])
        out.append(_raw(scaled_logit(own, scales.as_mapping())))
    return out
