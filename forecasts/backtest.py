"""Backtest samples: a scenario's forecasts over a whole time grid at once.

The grid is t_i = start + i * step (t_i <= stop), kept where the scenario was
open: t0 <= t_i < min(resolved_at, deadline). ``forecasts_on_grid`` evaluates
them in one vectorised call (``grid.grid_terms``: prefix sums over each rule's
matches); ``forecasts_one_by_one`` is the naive loop calling the single-time
model per grid point, kept as the benchmark's baseline and as a test oracle.

``ScenarioInput`` and ``scenario_samples`` are what a backtest sends to a worker
process and runs there: plain dataclasses of numpy arrays in, samples out.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from forecasts.grid import grid_terms
from forecasts.model import Floats, RuleMatches, ScenarioModel, terms
from forecasts.scoring import ScenarioSamples


@dataclass(frozen=True)
class ScenarioInput:
    """What one resolved (yes/no) scenario contributes to a backtest."""

    scenario_id: str
    outcome: bool
    resolved_at: float
    model: ScenarioModel
    matches: Sequence[RuleMatches]

    def work(self, samples: int) -> int:
        """The cost of its forecasts on ``samples`` grid points, in the units of
        ``grid.grid_terms`` (one per sample and rule, one per match)."""
        return samples * len(self.model.rules) + sum(len(m) for m in self.matches)


def grid(start: float, stop: float, step: float) -> Floats:
    """t_i = start + i * step for every i with t_i <= stop, as floats compute them
    (the count is corrected where (stop - start) / step rounds across an integer)."""
    if not step > 0 or start + step == start:
        msg = "step must be positive and large enough to move on from start"
        raise ValueError(msg)
    if stop < start:
        return np.empty(0)
    count = int(np.floor((stop - start) / step)) + 1
    while start + step * count <= stop:
        count += 1
    while count > 0 and start + step * (count - 1) > stop:
        count -= 1
    return start + step * np.arange(count, dtype=np.float64)


def open_samples(times: Floats, opens_at: float, deadline: float, resolved_at: float) -> Floats:
    """The grid times at which the scenario was open (before it resolved or expired)."""
    end = min(resolved_at, deadline)
    return times[(times >= opens_at) & (times < end)]


def forecasts_on_grid(
    model: ScenarioModel, matches: Sequence[RuleMatches], times: Floats, known: float = np.inf
) -> Floats:
    """p at every time of ``times`` (all open), in one evaluation."""
    if times.shape[0] == 0:
        return np.empty(0)
    log_odds, _ = grid_terms(model, matches, times, known)
    return np.asarray(expit(log_odds), dtype=np.float64)


def forecasts_one_by_one(
    model: ScenarioModel, matches: Sequence[RuleMatches], times: Floats, known: float = np.inf
) -> Floats:
    """The same as ``forecasts_on_grid``, one time per call (the naive loop)."""
    out = np.empty(times.shape[0])
    for i, t in enumerate(times):
        out[i] = expit(terms(model, matches, np.array([t]), known).log_odds[0])
    return out


def scenario_samples(
    inputs: Sequence[ScenarioInput], times: Floats, known: float
) -> list[ScenarioSamples]:
    """Each scenario's forecasts at the grid times when it was open."""
    samples = []
    for item in inputs:
        at = open_samples(times, item.model.opens_at, item.model.deadline, item.resolved_at)
        forecasts = forecasts_on_grid(item.model, item.matches, at, known)
        samples.append(ScenarioSamples(item.scenario_id, item.outcome, item.model.prior, forecasts))
    return samples
