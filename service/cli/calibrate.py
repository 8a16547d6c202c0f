"""``tradewinds calibrate --evaluate``: the leave-one-scenario-out evaluation of the
suggested Bayes factors (model.md, "Honest evaluation"), as text at the console's
width.

The closed scenarios are those of the log as it stands (deadline passed, "yes" or
"no" in force), each with its training samples (the 7-day grid). Per scenario s:
its Brier over its samples with the analysts' factors, and with the factors
scaled by the evidence scales fitted without s (``forecasts.prequential.leave_one_out``).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from rich.table import Table
from scipy.special import expit

from domain.backtests import BacktestRequest
from forecasts.bootstrap import seed_of
from forecasts.calibratedbacktest import pool_scenarios
from forecasts.calibration import (
    EvidenceScales,
    Recalibration,
    fit_evidence_scales,
    fit_recalibration,
)
from forecasts.prequential import leave_one_out
from forecasts.training import TrainingSet, training_set
from service.projection.index import LogIndex
from service.workers.backtestinputs import pool_snapshot, run_id

DRAWS = 2000


@dataclass(frozen=True)
class ScenarioRow:
    scenario_id: str
    n_samples: int
    brier_current: float
    brier_suggested: float | None


@dataclass(frozen=True)
class Evaluation:
    recalibration: Recalibration | None
    scales: EvidenceScales | None
    rows: list[ScenarioRow]
    difference_ci: tuple[float, float] | None
    """Bootstrap 95% interval of mean (suggested - current) over the scenarios."""


def closed_training(index: LogIndex, known: float) -> TrainingSet:
    """The training samples of every scenario closed by ``known`` under that cut."""
    moment = datetime.fromtimestamp(known, UTC)
    request = BacktestRequest(start=moment, stop=moment, step=timedelta(days=7))
    pool = pool_scenarios(pool_snapshot(index, request, known), known, known)
    return training_set(sorted((p.training for p in pool), key=lambda s: s.scenario_id))


def evaluation(training: TrainingSet, lam: float, min_scenarios: int, seed: int) -> Evaluation:
    suggested = leave_one_out(training, lam, min_scenarios)
    rows = []
    for s in range(training.n_scenarios):
        lo, hi = int(training.offsets[s]), int(training.offsets[s + 1])
        y = training.outcome[lo:hi]
        current = float(np.mean((expit(training.logit[lo:hi]) - y) ** 2))
        p = suggested[s]
        rows.append(
            ScenarioRow(
                training.scenario_ids[s],
                hi - lo,
                current,
                None if p is None else float(np.mean((p - y) ** 2)),
            )
        )
    paired = np.array(
        [r.brier_suggested - r.brier_current for r in rows if r.brier_suggested is not None]
    )
    interval = None
    if paired.shape[0] >= 2:
        draws = np.random.default_rng(seed).integers(0, paired.shape[0], (DRAWS, paired.shape[0]))
        means = paired[draws].mean(axis=1)
        interval = (float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)))
    return Evaluation(
        fit_recalibration(training, lam, min_scenarios),
        fit_evidence_scales(training, lam, min_scenarios),
        rows,
        interval,
    )


def recalibration_words(fit: Recalibration | None, min_scenarios: int) -> str:
    if fit is None:
        return f"No recalibration yet: fewer than {min_scenarios} closed scenarios with a sample."
    confidence = "overconfident" if fit.beta < 1 else "underconfident"
    outcomes = "more" if fit.alpha > 0 else "less"
    return (
        f"Recalibration on {fit.n_scenarios} closed scenarios: alpha {fit.alpha:+.3f}, "
        f"beta {fit.beta:.3f}. The rules have been {confidence}: evidence counts "
        f"{fit.beta:.2f} of its stated weight, and outcomes came {outcomes} often "
        "than forecast."
    )


def tables(found: Evaluation) -> list[Table]:
    scales = Table(title="Evidence scales (all closed scenarios)")
    scales.add_column("kinds", overflow="fold")
    scales.add_column("beta_g", justify="right")
    scales.add_column("n_matches", justify="right")
    for scale in found.scales.scales if found.scales is not None else ():
        scales.add_row(scale.kinds, f"{scale.beta:.3f}", str(scale.n_matches))
    rows = Table(title="Leave one scenario out: Brier on the 7-day grid")
    rows.add_column("scenario", overflow="fold")
    rows.add_column("n", justify="right")
    rows.add_column("current", justify="right")
    rows.add_column("suggested", justify="right")
    for row in found.rows:
        rows.add_row(
            row.scenario_id,
            str(row.n_samples),
            f"{row.brier_current:.4f}",
            "-" if row.brier_suggested is None else f"{row.brier_suggested:.4f}",
        )
    return [scales, rows]


def summary(found: Evaluation) -> str:
    scored = [r for r in found.rows if r.brier_suggested is not None]
    if not scored:
        return "No scenario could be scored leave-one-out (too few closed scenarios)."
    current = float(np.mean([r.brier_current for r in scored]))
    suggested = float(np.mean([r.brier_suggested or 0.0 for r in scored]))
    text = (
        f"Mean Brier over {len(scored)} scenarios: current factors {current:.4f}, "
        f"suggested {suggested:.4f} (difference {suggested - current:+.4f}"
    )
    if found.difference_ci is not None:
        lo, hi = found.difference_ci
        text += f", 95% bootstrap interval [{lo:+.4f}, {hi:+.4f}]"
    return text + ")."


def seed_for(index: LogIndex, known: float) -> int:
    moment = datetime.fromtimestamp(known, UTC)
    request = BacktestRequest(start=moment, stop=moment, step=timedelta(days=7))
    return seed_of(run_id(request, index.position))
