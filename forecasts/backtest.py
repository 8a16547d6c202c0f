"""Backtest samples: a scenario's forecasts over a whole time grid at once.

The grid is t_i = start + i * step (t_i <= stop), kept where the scenario was
open: t0 <= t_i < min(resolved_at, deadline). ``forecasts_on_grid`` evaluates
them in one vectorised call (``grid.grid_terms``: prefix sums over each rule's
matches); ``forecasts_one_by_one`` is the naive loop calling the single-time
model per grid point, kept as the benchmark's baseline and as a test oracle.

``ScenarioInput`` and ``scenario_samples`` are what a backtest sends to a worker
process and runs there: plain dataclasses of numpy arrays in, samples out. Besides
the forecasts, the samples hold what the further scores need from the model: the
forecasts of the prior and the time term alone (the ``brier_timing`` baseline)
and, per rule, the Brier without that rule (the ablation, from the same
evaluation's per-rule terms, ``grid.iter_rule_terms``: only one number per rule
leaves the worker, however long the grid).
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from forecasts.ablation import briers_without, shifts
from forecasts.calibratedbacktest import Maps
from forecasts.grid import grid_terms, iter_rule_terms, sum_terms
from forecasts.model import Floats, RuleMatches, ScenarioModel, terms, time_term
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


def timing_forecasts(model: ScenarioModel, times: Floats) -> Floats:
    """p from the prior and the time term alone (no rules)."""
    return np.asarray(expit(model.prior_logit + time_term(model, times)), dtype=np.float64)


def samples_of(
    item: ScenarioInput, times: Floats, known: float, maps: Maps | None = None
) -> ScenarioSamples:
    """One scenario's samples at ``times`` (all open): the forecasts, the timing
    baseline's and, per rule, the Brier without it. With ``maps`` (a calibrated
    backtest), the forecasts and the ablation are calibrated by the map at each
    time; the timing baseline is not."""
    contributions: list[Floats | None] = [None] * len(item.model.rules)

    def kept() -> Iterator[tuple[int, Floats, Floats]]:
        for r, contribution, spread in iter_rule_terms(item.model, item.matches, times, known):
            contributions[r] = contribution
            yield r, contribution, spread

    log_odds, _ = sum_terms(item.model, kept(), times)
    moved = shifts(item.model, item.matches, times, contributions, known)
    uncalibrated = None
    if maps is not None:
        log_odds, moved, uncalibrated = maps.apply(times, log_odds, moved)
    return ScenarioSamples(
        scenario_id=item.scenario_id,
        outcome=item.outcome,
        prior=item.model.prior,
        forecasts=np.asarray(expit(log_odds), dtype=np.float64),
        timing=timing_forecasts(item.model, times),
        rules=tuple(rule.name for rule in item.model.rules),
        brier_without=briers_without(log_odds, moved, 1.0 if item.outcome else 0.0),
        uncalibrated=uncalibrated,
    )


def scenario_samples(
    inputs: Sequence[ScenarioInput], times: Floats, known: float, maps: Maps | None = None
) -> list[ScenarioSamples]:
    """Each scenario's samples at the grid times when it was open (calibrated by
    ``maps`` if given)."""
    samples = []
    for item in inputs:
        at = open_samples(times, item.model.opens_at, item.model.deadline, item.resolved_at)
        samples.append(samples_of(item, at, known, maps))
    return samples
