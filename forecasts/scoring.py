"""Scores of model.md's Scoring section, as pure functions over arrays.

Per scenario, over its samples: Brier = mean (p - y)^2; log score = mean of
-ln(p if y else 1 - p) with p clipped to [1e-6, 1 - 1e-6]; the same two
baselines, the prior alone and 0.5, on the same samples. Overall figures are
means over scenarios (each weighs the same); skill = 1 - Brier / Brier(prior),
overall from the overall means. Calibration pools every sample into ten bins
[0, 0.1), ..., [0.9, 1.0]; ECE is the count-weighted mean |mean forecast -
observed rate|; sharpness the population variance of the pooled forecasts.

The further scores of model.md's "More scores": the pooled Brier and its Murphy
decomposition (``forecasts.murphy``), the ``brier_timing`` baseline (the prior and
the time term alone), bootstrap intervals over scenarios (``forecasts.bootstrap``)
and, per scenario and rule, the ablation ``delta_brier`` (Brier without the rule
minus Brier with it; positive: the rule helped). Results stored before these
existed decode with them None.
"""

from collections.abc import Sequence
from dataclasses import MISSING, dataclass, fields, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from forecasts.bootstrap import FEW_SCENARIOS, Interval, bootstrap_intervals
from forecasts.murphy import Murphy, murphy

Floats = NDArray[np.float64]
CLIP = 1e-6
BINS = 10


@dataclass(frozen=True)
class ScenarioSamples:
    scenario_id: str
    outcome: bool
    prior: float | Floats
    """The prior, or per sample the prior in force then (a backtest as served)."""
    forecasts: Floats
    timing: Floats | None = None
    """The forecasts of the prior and the time term alone, at the same times."""
    rules: tuple[str, ...] = ()
    brier_without: Floats | None = None
    """Per rule of ``rules``, the Brier over these samples with that rule removed."""
    uncalibrated: int | None = None
    """In a calibrated backtest, how many of the samples had no calibration yet
    (scored raw); None otherwise."""


class StoredDefaults:
    """msgspec decodes a dataclass without setting the fields absent from the input
    (their defaults are read from the class), and encodes only what is set: so a
    result stored before a field existed would be served without it. This sets them
    (msgspec calls ``__post_init__``), so they are served as their default, null."""

    def __post_init__(self) -> None:
        own: dict[str, Any] = self.__dict__
        for f in fields(self):  # type: ignore[arg-type]
            if f.name not in own and f.default is not MISSING:
                object.__setattr__(self, f.name, f.default)


@dataclass(frozen=True)
class RuleDelta:
    rule: str
    delta_brier: float


@dataclass(frozen=True)
class ScenarioScore(StoredDefaults):
    scenario_id: str
    outcome: Literal["yes", "no"]
    brier: float
    log: float
    brier_prior: float
    brier_half: float
    skill: float
    n_samples: int
    brier_timing: float | None = None
    rules: list[RuleDelta] | None = None


@dataclass(frozen=True)
class CalibrationBin:
    lo: float
    hi: float
    mean_forecast: float | None
    observed_rate: float | None
    count: int


@dataclass(frozen=True)
class OverallScore(StoredDefaults):
    brier: float
    log: float
    brier_prior: float
    brier_half: float
    skill: float
    ece: float
    sharpness: float
    n_samples: int
    n_scenarios: int
    brier_pooled: float | None = None
    murphy: Murphy | None = None
    brier_timing: float | None = None
    brier_ci: Interval | None = None
    skill_ci: Interval | None = None
    vs_prior_ci: Interval | None = None
    vs_half_ci: Interval | None = None
    few_scenarios: bool | None = None
    uncalibrated_samples: int | None = None
    """A calibrated backtest's samples scored raw: no calibration was in force at
    their time (fewer than min_scenarios closed by then). None: not calibrated."""


@dataclass(frozen=True)
class Scores:
    overall: OverallScore | None
    scenarios: list[ScenarioScore]
    calibration: list[CalibrationBin]


def brier(p: Floats, y: float) -> float:
    return float(np.mean((p - y) ** 2))


def log_score(p: Floats, y: float) -> float:
    clipped = np.clip(p, CLIP, 1 - CLIP)
    return float(np.mean(-np.log(clipped if y else 1 - clipped)))


def score_scenario(samples: ScenarioSamples) -> ScenarioScore:
    p = samples.forecasts
    y = 1.0 if samples.outcome else 0.0
    b = brier(p, y)
    b_prior = float(np.mean((np.asarray(samples.prior) - y) ** 2))
    return ScenarioScore(
        scenario_id=samples.scenario_id,
        outcome="yes" if samples.outcome else "no",
        brier=b,
        log=log_score(p, y),
        brier_prior=b_prior,
        brier_half=0.25,
        skill=1 - b / b_prior,
        n_samples=int(p.shape[0]),
        brier_timing=None if samples.timing is None else brier(samples.timing, y),
        rules=rule_deltas(samples, b),
    )


def rule_deltas(samples: ScenarioSamples, with_all: float) -> list[RuleDelta] | None:
    """Per rule, the scenario's Brier without it minus ``with_all``, its Brier with
    every rule."""
    if samples.brier_without is None:
        return None
    return [
        RuleDelta(rule=name, delta_brier=float(b) - with_all)
        for name, b in zip(samples.rules, samples.brier_without, strict=True)
    ]


def bin_index(p: Floats) -> NDArray[np.int64]:
    """The calibration bin of each forecast; 1.0 falls in the last bin."""
    index = np.floor(p * BINS)
    index = np.where(index / BINS > p, index - 1, index)  # p * 10 rounded up across a bound
    return np.clip(index, 0, BINS - 1).astype(np.int64)


def calibration(p: Floats, y: Floats) -> tuple[list[CalibrationBin], float]:
    """The ten bins and the expected calibration error."""
    bins = bin_index(p)
    counts = np.bincount(bins, minlength=BINS)
    sums = np.bincount(bins, weights=p, minlength=BINS)
    hits = np.bincount(bins, weights=y, minlength=BINS)
    table: list[CalibrationBin] = []
    gap = 0.0
    for i in range(BINS):
        count = int(counts[i])
        if count:
            mean_forecast = float(sums[i] / count)
            observed = float(hits[i] / count)
            gap += count * abs(mean_forecast - observed)
        else:
            mean_forecast = observed = None  # type: ignore[assignment]
        table.append(
            CalibrationBin(
                lo=i / BINS, hi=(i + 1) / BINS, mean_forecast=mean_forecast,
                observed_rate=observed, count=count,
            )
        )  # fmt: skip
    total = int(counts.sum())
    return table, (gap / total if total else 0.0)


def score_basic(samples: Sequence[ScenarioSamples]) -> Scores:
    """The scores of model.md's Scoring section alone. Every scenario with at least
    one sample is scored; the others are skipped."""
    scored = [score_scenario(s) for s in samples if s.forecasts.shape[0] > 0]
    if not scored:
        return Scores(
            overall=None, scenarios=[], calibration=calibration(np.empty(0), np.empty(0))[0]
        )
    p, y = pooled(samples)
    table, ece = calibration(p, y)
    mean_brier = float(np.mean([s.brier for s in scored]))
    mean_prior = float(np.mean([s.brier_prior for s in scored]))
    overall = OverallScore(
        brier=mean_brier,
        log=float(np.mean([s.log for s in scored])),
        brier_prior=mean_prior,
        brier_half=0.25,
        skill=1 - mean_brier / mean_prior,
        ece=ece,
        sharpness=float(np.var(p)),
        n_samples=int(p.shape[0]),
        n_scenarios=len(scored),
    )
    return Scores(overall=overall, scenarios=scored, calibration=table)


def pooled(samples: Sequence[ScenarioSamples]) -> tuple[Floats, Floats]:
    """Every sample's forecast and outcome (0/1), in scenario order."""
    kept = [s for s in samples if s.forecasts.shape[0] > 0]
    if not kept:
        return np.empty(0), np.empty(0)
    p = np.concatenate([s.forecasts for s in kept])
    y = np.concatenate([np.full(s.forecasts.shape[0], float(s.outcome)) for s in kept])
    return p, y


def more_overall(
    overall: OverallScore,
    scenarios: Sequence[ScenarioScore],
    p: Floats,
    y: Floats,
    seed: int,
) -> OverallScore:
    """``overall`` with the further scores of model.md's "More scores"."""
    timing = [s.brier_timing for s in scenarios if s.brier_timing is not None]
    intervals = bootstrap_intervals(
        np.array([s.brier for s in scenarios]),
        np.array([s.brier_prior for s in scenarios]),
        np.array([s.brier_half for s in scenarios]),
        seed,
    )
    return replace(
        overall,
        brier_pooled=float(np.mean((p - y) ** 2)),
        murphy=murphy(p, y, bin_index(p), BINS),
        brier_timing=float(np.mean(timing)) if len(timing) == len(scenarios) else None,
        brier_ci=intervals.brier,
        skill_ci=intervals.skill,
        vs_prior_ci=intervals.vs_prior,
        vs_half_ci=intervals.vs_half,
        few_scenarios=len(scenarios) < FEW_SCENARIOS,
    )


def score(samples: Sequence[ScenarioSamples], seed: int = 0) -> Scores:
    """Every score of a backtest; ``seed`` (``bootstrap.seed_of`` the backtest's id)
    draws the bootstrap's resamples."""
    basic = score_basic(samples)
    if basic.overall is None:
        return basic
    p, y = pooled(samples)
    overall = more_overall(basic.overall, basic.scenarios, p, y, seed)
    counts = [s.uncalibrated for s in samples if s.uncalibrated is not None]
    if counts:
        overall = replace(overall, uncalibrated_samples=sum(counts))
    return replace(basic, overall=overall)
