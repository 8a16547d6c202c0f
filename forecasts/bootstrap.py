"""Percentile bootstrap over scenarios for the overall scores of a backtest.

The scored scenarios are resampled with replacement ``RESAMPLES`` times (one
index matrix, every statistic from the same draws) and the overall means are
recomputed per draw: the 95% intervals of the mean Brier, of the skill (1 - mean
Brier / mean Brier of the prior alone, of the draw) and of the paired differences
against the prior and against 0.5. Percentiles by linear interpolation (numpy's
default). The generator is seeded from the backtest's id, so a backtest's
intervals never change.
"""

from dataclasses import dataclass
from uuid import UUID

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]
Interval = tuple[float, float]
RESAMPLES = 2000
LEVEL = 0.95
FEW_SCENARIOS = 5
"""Below this many scored scenarios the intervals are given but said not meaningful."""


@dataclass(frozen=True)
class Intervals:
    brier: Interval
    skill: Interval
    vs_prior: Interval
    vs_half: Interval


def seed_of(backtest_id: UUID) -> int:
    return backtest_id.int


def bootstrap_intervals(
    brier: Floats, brier_prior: Floats, brier_half: Floats, seed: int, resamples: int = RESAMPLES
) -> Intervals:
    """Intervals from per-scenario Briers (the model's, the prior's, 0.5's), one
    scenario per element; at least one scenario."""
    rng = np.random.Generator(np.random.PCG64(seed))
    draws = rng.integers(0, brier.shape[0], size=(resamples, brier.shape[0]))
    mean_brier = brier[draws].mean(axis=1)
    mean_prior = brier_prior[draws].mean(axis=1)
    mean_half = brier_half[draws].mean(axis=1)
    statistics = np.stack(
        [mean_brier, 1 - mean_brier / mean_prior, mean_brier - mean_prior, mean_brier - mean_half]
    )
    tail = (1 - LEVEL) / 2 * 100
    lo, hi = np.percentile(statistics, [tail, 100 - tail], axis=1)
    pairs = [(float(a), float(b)) for a, b in zip(lo, hi, strict=True)]
    return Intervals(brier=pairs[0], skill=pairs[1], vs_prior=pairs[2], vs_half=pairs[3])
