"""Calibration refit benchmark: 1,000 closed scenarios x 2 years of weekly samples x
100,000 events.

The inputs are built in process as the projection would hand them to the math
(one ``ScenarioModel`` and its rules' ``RuleMatches`` per scenario: four rules of
three kinds-keys, one with a half-life, one with a repeat discount; 100 events per
scenario, the first rule's share of them larger under the outcome). Timed: the
whole refit, i.e. every scenario's training samples (``forecasts.training``),
then the recalibration and the evidence scales (``forecasts.calibration``); the
fits alone are reported beside it. Target: a refit in under 1 s (so at least one
refit per second).
"""

import time
from collections.abc import Sequence

import numpy as np

from benchmarks.core import Context, Metric, Target
from forecasts.calibration import fit_evidence_scales, fit_recalibration
from forecasts.model import DAY, Resolution, RuleMatches, RuleModel, ScenarioModel
from forecasts.training import ScenarioTraining, scenario_training, training_set

SCENARIOS = 1_000
EVENTS = 100_000
WINDOW_DAYS = 730.0
ORIGIN = 1_600_000_000.0
RULES = (
    RuleModel("up", np.log(1.15), 0.35, None, 1.0),
    RuleModel("down", np.log(0.8), 0.35, None, 1.0),
    RuleModel("steer", np.log(1.5), 0.35, None, 0.8),
    RuleModel("mixed", np.log(0.95), 0.35, 90.0, 1.0),
)
RULE_KINDS = ("signal", "signal", "statement", "poll|signal")

Inputs = list[tuple[str, ScenarioModel, tuple[RuleMatches, ...], tuple[Resolution, ...]]]


def _matches(occurred: np.ndarray, first_position: int) -> RuleMatches:
    count = occurred.shape[0]
    return RuleMatches(
        occurred=occurred,
        position=np.arange(first_position, first_position + count, dtype=np.int64),
        recorded=occurred.copy(),
        retracted=np.full(count, np.inf),
    )


def build_inputs(seed: int = 0) -> Inputs:
    rng = np.random.default_rng(seed)
    per = EVENTS // SCENARIOS
    inputs: Inputs = []
    for s in range(SCENARIOS):
        opens = ORIGIN + rng.uniform(0.0, 365.0) * DAY
        deadline = opens + WINDOW_DAYS * DAY
        yes = rng.random() < 0.4
        resolved_at = opens + rng.uniform(0.2, 1.0) * (deadline - opens) if yes else deadline
        occurred = np.sort(opens + rng.random(per) * (deadline - opens))
        # "up" is likelier under the outcome, "down" without it: the evidence informs
        up = rng.random(per) < (0.3 if yes else 0.2)
        rule_of = np.where(up, 0, rng.integers(1, len(RULES), per))
        matches = tuple(
            _matches(occurred[rule_of == r], s * per + r * per) for r in range(len(RULES))
        )
        model = ScenarioModel(float(rng.uniform(0.2, 0.8)), 10.0, opens, deadline, True, RULES)
        resolution = (Resolution("yes" if yes else "no", resolved_at, resolved_at),)
        inputs.append((f"bench-{s:04d}", model, matches, resolution))
    return inputs


def _samples(inputs: Inputs, at: float) -> list[ScenarioTraining]:
    found = []
    for scenario_id, model, matches, resolutions in inputs:
        one = scenario_training(
            scenario_id, model, matches, resolutions, RULE_KINDS, known=at, at=at
        )
        if one is not None:
            found.append(one)
    return found


def calibration_refit(ctx: Context) -> Sequence[Metric]:
    inputs = build_inputs()
    at = max(model.deadline for _, model, _, _ in inputs)
    whole, fits = [], []
    for _ in range(ctx.reps(5)):
        started = time.perf_counter()
        training = training_set(_samples(inputs, at))
        built = time.perf_counter()
        recalibration = fit_recalibration(training)
        scales = fit_evidence_scales(training)
        done = time.perf_counter()
        whole.append(done - started)
        fits.append(done - built)
    assert recalibration is not None
    assert scales is not None
    samples = int(training.offsets[-1])
    matched = int(training.matched.sum())
    return [
        Metric(
            "calibration_refit_s",
            min(whole),
            "s",
            note=f"{training.n_scenarios:,} closed scenarios, {samples:,} samples, "
            f"{matched:,} matches entering them, {len(training.kinds)} kinds-keys; "
            f"the fits alone {min(fits) * 1000:.0f} ms; target: under 1 s",
        ),
        Metric(
            "calibration_refits_per_s",
            1.0 / min(whole),
            "refits/s",
            targets=(Target(1.0, on="value"),),
        ),
    ]


CALIBRATION_BENCHMARKS = (calibration_refit,)
