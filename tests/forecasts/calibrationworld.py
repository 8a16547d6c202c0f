"""Simulated worlds of model.md check 5, drawn in numpy with the model's formulas.

Scenario s opens at t0, its deadline D = t0 + L, prior p0 in (0.2, 0.8), timing
uniform: the outcome happens with probability p0, at a time uniform in [t0, D],
and a "yes" is resolved (and recorded) when it happens; a "no" at the deadline.
Events arrive at times uniform in the window, independently of the outcome's
time: each is of kind "a" with probability Q1 under the outcome and Q0 without,
else of kind "b". Their true log Bayes factors are ln(Q1/Q0) and
ln((1-Q1)/(1-Q0)); the analysts' rules state those divided by c, so the true
ones are the analysts' times c. A third rule (kinds ["x", "w"]) never matches.
"""

import math
from dataclasses import dataclass

import numpy as np

from forecasts.grid import grid_terms
from forecasts.model import DAY, Resolution, RuleMatches, RuleModel, ScenarioModel
from forecasts.prequential import PoolScenario
from forecasts.training import ScenarioTraining, kinds_key, scenario_training

Q1, Q0 = 0.7, 0.35
RULE_KINDS = ("a", "b", kinds_key(["x", "w"]))
ORIGIN = 1_600_000_000.0


@dataclass(frozen=True)
class Scenario:
    scenario_id: str
    model: ScenarioModel
    matches: tuple[RuleMatches, RuleMatches, RuleMatches]
    resolution: Resolution


def _matches(occurred: np.ndarray, position: np.ndarray) -> RuleMatches:
    count = occurred.shape[0]
    return RuleMatches(
        occurred=occurred,
        position=position.astype(np.int64),
        recorded=occurred.copy(),
        retracted=np.full(count, np.inf),
    )


def world(
    n: int,
    c: float,
    seed: int,
    *,
    events: int = 8,
    opening_days: float = 2000.0,
    window_days: tuple[float, float] = (180.0, 720.0),
    q: tuple[float, float] = (Q1, Q0),
    start_days: float = 0.0,
    prefix: str = "s",
) -> list[Scenario]:
    rng = np.random.default_rng(seed)
    opens = ORIGIN + (start_days + rng.uniform(0.0, opening_days, n)) * DAY
    length = rng.uniform(*window_days, n) * DAY
    prior = rng.uniform(0.2, 0.8, n)
    outcome = rng.random(n) < prior
    happens = opens + rng.random(n) * length
    when = opens[:, None] + np.sort(rng.random((n, events)), axis=1) * length[:, None]
    is_a = rng.random((n, events)) < np.where(outcome, q[0], q[1])[:, None]
    true_ln_b = (math.log(q[0] / q[1]), math.log((1 - q[0]) / (1 - q[1])))
    rules = (
        RuleModel("a", true_ln_b[0] / c, 0.35, None, 1.0),
        RuleModel("b", true_ln_b[1] / c, 0.35, None, 1.0),
        RuleModel("never", math.log(3.0), 0.35, None, 1.0),
    )
    scenarios = []
    for s in range(n):
        deadline = float(opens[s] + length[s])
        resolved_at = float(happens[s]) if outcome[s] else deadline
        model = ScenarioModel(float(prior[s]), 10.0, float(opens[s]), deadline, True, rules)
        matches = (
            _matches(when[s][is_a[s]], s * events + np.flatnonzero(is_a[s])),
            _matches(when[s][~is_a[s]], s * events + np.flatnonzero(~is_a[s])),
            RuleMatches.empty(),
        )
        resolution = Resolution("yes" if outcome[s] else "no", resolved_at, resolved_at)
        scenarios.append(Scenario(f"{prefix}{s:05d}", model, matches, resolution))
    return scenarios


def training(
    scenario: Scenario, known: float = math.inf, at: float = math.inf
) -> ScenarioTraining | None:
    return scenario_training(
        scenario.scenario_id,
        scenario.model,
        scenario.matches,
        (scenario.resolution,),
        RULE_KINDS,
        known=known,
        at=at,
    )


def pool(scenarios: list[Scenario]) -> list[PoolScenario]:
    out = []
    for s in scenarios:
        samples = training(s)
        if samples is not None:
            out.append(PoolScenario(samples, s.model.deadline, s.resolution.recorded_at))
    return out


@dataclass(frozen=True)
class Scored:
    """Backtest samples on one global grid (ORIGIN + i * step) while each scenario
    is open: scenario ids, times, raw logits, outcomes."""

    scenario_ids: list[str]
    t: np.ndarray
    logit: np.ndarray
    outcome: np.ndarray

    def brier(self, p: np.ndarray) -> float:
        """The mean over scenarios of each one's mean squared error."""
        ids = np.array(self.scenario_ids)
        _, which = np.unique(ids, return_inverse=True)
        errors = (p - self.outcome) ** 2
        per = np.bincount(which, errors) / np.bincount(which)
        return float(per.mean())


def scored(scenarios: list[Scenario], step_days: float) -> Scored:
    ids: list[str] = []
    times, logits, outcomes = [], [], []
    step = step_days * DAY
    for s in scenarios:
        end = min(s.resolution.resolved_at, s.model.deadline)
        first = math.ceil((s.model.opens_at - ORIGIN) / step)
        t = ORIGIN + step * np.arange(first, math.ceil((end - ORIGIN) / step) + 1)
        t = t[(t >= s.model.opens_at) & (t < end)]
        if not t.shape[0]:
            continue
        log_odds, _ = grid_terms(s.model, s.matches, t)
        ids += [s.scenario_id] * t.shape[0]
        times.append(t)
        logits.append(log_odds)
        outcomes.append(np.full(t.shape[0], 1.0 if s.resolution.outcome == "yes" else 0.0))
    return Scored(ids, np.concatenate(times), np.concatenate(logits), np.concatenate(outcomes))
