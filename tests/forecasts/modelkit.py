"""Builders for the model tests: times are given in days after ``BASE`` and
converted once to seconds since the epoch, the unit of ``forecasts.model``."""

import math
from collections.abc import Sequence

import numpy as np

from forecasts.model import DAY, RuleMatches, RuleModel, ScenarioModel

BASE = 1_700_000_000.0  # 2023-11-14, seconds since the epoch
INF = math.inf

# A finite knowledge cut later than every time used in these tests.
LATE_CUT = BASE + 100_000 * DAY


def at(days: float) -> float:
    """Seconds since the epoch of ``days`` after BASE."""
    return BASE + days * DAY


def times(*days: float) -> np.ndarray:
    return np.array([at(d) for d in days], dtype=np.float64)


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def rule(
    ln_b: float,
    *,
    uncertainty: float = 0.35,
    half_life_days: float | None = None,
    repeat_discount: float = 1.0,
    name: str = "r",
    group: str | None = None,
) -> RuleModel:
    return RuleModel(
        name=name,
        ln_b=ln_b,
        uncertainty=uncertainty,
        half_life_days=half_life_days,
        repeat_discount=repeat_discount,
        group=group,
    )


def scenario(
    *rules: RuleModel,
    prior: float = 0.3,
    prior_strength: float = 10.0,
    opens_days: float = 0.0,
    deadline_days: float = 1000.0,
    uniform: bool = False,
    timing_shape: float = 1.0,
) -> ScenarioModel:
    return ScenarioModel(
        prior=prior,
        prior_strength=prior_strength,
        opens_at=at(opens_days),
        deadline=at(deadline_days),
        uniform_timing=uniform,
        rules=tuple(rules),
        timing_shape=timing_shape,
    )


def matches(
    occurred_days: Sequence[float],
    *,
    positions: Sequence[int] | None = None,
    recorded_days: Sequence[float] | None = None,
    retracted_days: Sequence[float] | None = None,
) -> RuleMatches:
    """A rule's matches, in the order given (the caller sorts them by (occurred,
    position) as ``RuleMatches`` requires). Recorded defaults to occurred, and
    retracted to never (inf); an inf in ``retracted_days`` means not retracted."""
    n = len(occurred_days)
    pos = list(range(n)) if positions is None else list(positions)
    rec = list(occurred_days) if recorded_days is None else list(recorded_days)
    ret = [INF] * n if retracted_days is None else list(retracted_days)
    return RuleMatches(
        occurred=np.array([at(d) for d in occurred_days], dtype=np.float64),
        position=np.array(pos, dtype=np.int64),
        recorded=np.array([at(d) for d in rec], dtype=np.float64),
        retracted=np.array([INF if math.isinf(d) else at(d) for d in ret], dtype=np.float64),
    )
