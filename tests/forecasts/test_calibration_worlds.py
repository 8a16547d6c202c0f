"""model.md check 5 on simulated worlds, the admission rule, no look-ahead, and
the prequential and leave-one-out helpers."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from forecasts.calibration import fit_evidence_scales, fit_recalibration, scaled_logit
from forecasts.model import DAY
from forecasts.prequential import PoolScenario, leave_one_out, prequential_probabilities
from forecasts.training import training_set
from tests.forecasts import calibrationworld as cw

LATER_START = 2000.0 + 720.0  # days: every history scenario has closed by then


def _history_and_later(
    n: int, c: float, seed: int
) -> tuple[list[PoolScenario], cw.Scored, list[PoolScenario]]:
    history = cw.world(n, c, seed)
    later = cw.world(300, c, seed + 100, start_days=LATER_START, opening_days=500, prefix="l")
    pool = cw.pool(history + later)
    return pool, cw.scored(later, 14.0), cw.pool(history)


def test_overstated_evidence_c_half_scales_near_c_and_calibration_helps() -> None:
    """The recalibration helps the pooled Brier of the later scenarios (every seed
    of 12-27: by 0.003 to 0.014). Their mean per-scenario Brier it does not: in 13
    of those 16 worlds it is worse, by up to 0.014, because the affine map also
    shrinks the (exact) prior and time term; the evidence scales, which leave
    those alone, do help per scenario (judged leave-one-out, below)."""
    pool, scored, history = _history_and_later(1000, 0.5, 11)
    scales = fit_evidence_scales(training_set([p.training for p in history]))
    assert scales is not None
    assert scales.n_scenarios == 1000
    assert abs(scales.beta("a") - 0.5) < 0.15
    assert abs(scales.beta("b") - 0.5) < 0.15
    assert scales.beta("w|x") == 1.0
    found = prequential_probabilities(scored.scenario_ids, scored.t, scored.logit, pool)
    assert found.fitted.all()
    raw = expit(scored.logit)
    pooled_raw = np.mean((raw - scored.outcome) ** 2)
    pooled_calibrated = np.mean((found.probability - scored.outcome) ** 2)
    assert pooled_calibrated < pooled_raw - 0.001


def test_exact_model_c_one_alpha_near_zero_and_calibration_costs_little() -> None:
    """Averaged over eight worlds, not one: a single world of 200 scenarios varies
    (measured over seeds 12-27: alpha from -0.28 to +0.10, the calibrated Brier
    from 0.004 better to 0.013 worse than raw, 0.003 worse on average), so one
    chosen seed would say more about the seed than about the calibration."""
    alphas, costs = [], []
    for seed in range(12, 20):
        pool, scored, history = _history_and_later(200, 1.0, seed)
        fit = fit_recalibration(training_set([p.training for p in history]))
        assert fit is not None
        alphas.append(fit.alpha)
        found = prequential_probabilities(scored.scenario_ids, scored.t, scored.logit, pool)
        costs.append(scored.brier(found.probability) - scored.brier(expit(scored.logit)))
    assert abs(np.mean(alphas)) < 0.15
    assert max(abs(a) for a in alphas) < 0.35
    assert np.mean(costs) < 0.005


def test_admitting_by_deadline_is_unbiased_and_by_resolution_time_is_not() -> None:
    """Exact world, openings staggered: at t, "yes" outcomes of scenarios still
    before their deadline are known, their "no" counterparts are not."""
    world = cw.world(3000, 1.0, 13, opening_days=1000.0, window_days=(300.0, 400.0))
    t = cw.ORIGIN + 900.0 * DAY
    right = [s for s in (cw.training(x, known=t, at=t) for x in world) if s is not None]
    everything = {s.scenario_id: s for s in world}
    wrong = [
        s
        for s in (cw.training(x, known=t) for x in world)
        if s is not None and everything[s.scenario_id].resolution.resolved_at <= t
    ]
    assert len(wrong) > len(right) > 500
    good = fit_recalibration(training_set(right))
    biased = fit_recalibration(training_set(wrong))
    assert good is not None
    assert biased is not None
    assert abs(good.alpha) < 0.15
    assert biased.alpha > good.alpha + 0.1


def _late_records(pool: list[PoolScenario], seed: int) -> list[PoolScenario]:
    """The pool with each resolution recorded up to 300 days after it happened."""
    delays = np.random.default_rng(seed).uniform(0.0, 300.0, len(pool)) * DAY
    return [
        PoolScenario(p.training, p.deadline, p.recorded_at + float(delay))
        for p, delay in zip(pool, delays, strict=True)
    ]


@settings(max_examples=40, deadline=None)
@given(
    cut=st.floats(200.0, 1500.0),
    later_deadline=st.floats(0.0, 300.0),
    later_record=st.floats(0.0, 300.0),
    flip=st.booleans(),
)
def test_no_look_ahead(cut: float, later_deadline: float, later_record: float, flip: bool) -> None:
    """What is closed after t (its deadline, or its resolution's recording) never
    changes the calibration at t, whatever its outcome and samples."""
    world = cw.world(40, 0.5, 14, opening_days=800.0, window_days=(100.0, 400.0))
    t = cw.ORIGIN + cut * DAY
    pool = _late_records(cw.pool(world), 14)
    moved = []
    for p in pool:
        if p.deadline <= t and p.recorded_at <= t:
            moved.append(p)
            continue
        training = p.training
        if flip:
            training = type(training)(**{**training.__dict__, "outcome": 1.0 - training.outcome})
        deadline = p.deadline if p.deadline <= t else p.deadline + later_deadline * DAY
        moved.append(PoolScenario(training, deadline, p.recorded_at + later_record * DAY))
    z = np.linspace(-3.0, 3.0, 7)
    ids = ["scored"] * 7
    times = np.full(7, t)
    before = prequential_probabilities(ids, times, z, pool)
    after = prequential_probabilities(ids, times, z, moved)
    np.testing.assert_array_equal(before.probability, after.probability)
    admitted = [p for p in pool if p.deadline <= t and p.recorded_at <= t]
    fit = fit_recalibration(training_set([p.training for p in admitted]))
    if fit is None:
        np.testing.assert_array_equal(before.probability, expit(z))
    else:
        np.testing.assert_allclose(before.probability, expit(fit.alpha + fit.beta * z), atol=1e-9)


def test_prequential_fits_once_per_admitted_set_and_never_on_the_scored_scenario() -> None:
    world = cw.world(30, 1.0, 15, opening_days=600.0)
    pool = cw.pool(world)
    admitted = sorted(p.admitted_from for p in pool)
    t = np.array([admitted[9] + 1.0, admitted[9] + 2.0, admitted[19] + 1.0, admitted[-1] + 1.0])
    z = np.array([1.0, 1.0, 1.0, math.inf])
    own = min(pool, key=lambda p: p.admitted_from).training.scenario_id
    found = prequential_probabilities(["x", "y", "z", own], t, z, pool)
    assert found.fits == 3
    assert found.probability[0] == found.probability[1]
    assert found.probability[3] == 1.0
    first_ten = sorted(pool, key=lambda p: p.admitted_from)[:10]
    fit = fit_recalibration(training_set([p.training for p in first_ten]))
    assert fit is not None
    assert found.probability[0] == expit(fit.alpha + fit.beta)
    ordered = sorted(pool, key=lambda p: p.admitted_from)
    own_late = prequential_probabilities(
        [own], np.array([admitted[-1] + 1.0]), np.array([0.4]), pool
    )
    without_own = fit_recalibration(training_set([p.training for p in ordered[1:]]))
    assert without_own is not None
    assert own_late.probability[0] == expit(without_own.alpha + 0.4 * without_own.beta)
    early = prequential_probabilities(["x"], np.array([admitted[3] + 1.0]), np.array([0.4]), pool)
    assert not early.fitted[0]
    assert early.probability[0] == expit(0.4)


def test_leave_one_out_fits_without_the_scored_scenario() -> None:
    training = training_set([p.training for p in cw.pool(cw.world(60, 0.5, 16))])
    found = leave_one_out(training)
    assert len(found) == 60
    rest = training.take(list(range(1, 60)))
    scales = fit_evidence_scales(rest)
    assert scales is not None
    expected = expit(scaled_logit(training.take([0]), scales.as_mapping()))
    first = found[0]
    assert first is not None
    np.testing.assert_allclose(first, expected, atol=1e-9)
    with_own = fit_evidence_scales(training)
    assert with_own is not None
    assert with_own.beta("a") != scales.beta("a")


def test_suggested_factors_judged_leave_one_out_beat_the_analysts_when_c_is_half() -> None:
    training = training_set([p.training for p in cw.pool(cw.world(200, 0.5, 17))])
    found = leave_one_out(training)
    raw, suggested = [], []
    for s, probability in enumerate(found):
        assert probability is not None
        rows = slice(training.offsets[s], training.offsets[s + 1])
        y = training.outcome[rows]
        raw.append(np.mean((expit(training.logit[rows]) - y) ** 2))
        suggested.append(np.mean((probability - y) ** 2))
    assert np.mean(suggested) < np.mean(raw) - 0.002
