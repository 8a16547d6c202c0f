"""The calibration maps of a backtest with ``calibrated: true`` (model.md, "Honest
evaluation"): at each grid time t, the recalibration (alpha_t, beta_t) fitted
prequentially (``forecasts.prequential``) on the pool's scenarios closed by t.

The pool is every closed scenario of the log (what-if rules applied), whatever
``scenario_ids`` scores. A scored scenario is open at each of its sample times,
so it is never among the scenarios closed then, and the map depends on t alone:
it is computed once per grid time (``calibration_maps``, a task for the worker
process) and applied to every scored sample at that time, the ablation's too
(``Maps.apply``). Where fewer than ``min_scenarios`` were closed by t there is no
map: those samples keep their raw forecast and are counted (``fitted`` False).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from forecasts.model import Floats, Resolution, RuleMatches, ScenarioModel
from forecasts.prequential import PoolScenario, prequential_probabilities
from forecasts.training import scenario_training


@dataclass(frozen=True)
class PoolInput:
    """One resolved (yes/no) scenario of the pool: its model (what-if rules
    applied), matches, the kinds-key of each rule, and its resolution.
    ``recorded_at`` is when it counts as recorded for admission: -inf in
    hindsight (every resolution known by the backtest's cut counts at once), the
    resolution's own recording time as served."""

    scenario_id: str
    model: ScenarioModel
    matches: Sequence[RuleMatches]
    rule_kinds: tuple[str, ...]
    resolution: Resolution
    recorded_at: float

    def work(self) -> int:
        return len(self.model.rules) + sum(len(m) for m in self.matches)


@dataclass(frozen=True)
class Maps:
    """(alpha, beta) at each grid time; ``fitted`` False where no calibration was
    in force (alpha 0, beta 1: the raw forecast)."""

    times: Floats
    alpha: Floats
    beta: Floats
    fitted: NDArray[np.bool_]

    def at(self, t: Floats) -> tuple[Floats, Floats, NDArray[np.bool_]]:
        """The maps at ``t``, every one a grid time."""
        where = np.searchsorted(self.times, t)
        return self.alpha[where], self.beta[where], self.fitted[where]

    def apply(
        self, t: Floats, log_odds: Floats, shifts: Sequence[Floats | None]
    ) -> tuple[Floats, list[Floats | None], int]:
        """The calibrated ln odds alpha_t + beta_t * ln odds, the shifts of the
        ablation under the same maps (removing R: alpha + beta (ln odds - shift)
        = calibrated - beta * shift), and how many samples had no map."""
        alpha, beta, fitted = self.at(t)
        mapped = alpha + beta * log_odds
        moved = [None if s is None else beta * s for s in shifts]
        return mapped, moved, int(np.count_nonzero(~fitted))


def pool_scenarios(
    inputs: Sequence[PoolInput], known: float, times_max: float
) -> list[PoolScenario]:
    """The pool's training samples under the cut ``known``; a scenario closed after
    the last grid time, or with no sample, is left out (it could not be admitted)."""
    pool: list[PoolScenario] = []
    for item in inputs:
        admitted_from = max(item.model.deadline, item.recorded_at)
        if admitted_from > times_max:
            continue
        training = scenario_training(
            item.scenario_id,
            item.model,
            item.matches,
            (item.resolution,),
            item.rule_kinds,
            known=known,
            at=item.model.deadline,
        )
        if training is not None:
            pool.append(PoolScenario(training, item.model.deadline, item.recorded_at))
    return pool


def calibration_maps(
    inputs: Sequence[PoolInput],
    times: Floats,
    known: float,
    lam: float,
    min_scenarios: int,
) -> Maps:
    """(alpha_t, beta_t) at every grid time, fitted prequentially on the pool."""
    if times.shape[0] == 0:
        empty = np.empty(0)
        return Maps(times, empty, empty, np.zeros(0, dtype=np.bool_))
    pool = pool_scenarios(inputs, known, float(times.max()))
    found = prequential_probabilities(
        [""] * times.shape[0], times, np.zeros(times.shape[0]), pool, lam, min_scenarios
    )
    return Maps(times, found.alpha, found.beta, found.fitted)
