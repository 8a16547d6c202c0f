"""The maps of a calibrated backtest (``forecasts.calibratedbacktest``): at each grid
time, the recalibration fitted on the pool's scenarios admitted by then: from the
deadline in hindsight, and as served not before the resolution was recorded."""

import numpy as np
import pytest

from forecasts.calibratedbacktest import PoolInput, calibration_maps
from forecasts.calibration import fit_recalibration
from forecasts.model import DAY
from forecasts.training import training_set
from tests.forecasts.calibrationworld import ORIGIN, RULE_KINDS, Scenario, training, world

TOLERANCE = 1e-9
LATE = 150 * DAY


def inputs(scenarios: list[Scenario], recorded_late: bool | None) -> list[PoolInput]:
    """recorded_late None: hindsight (admitted at the deadline); True: each
    resolution recorded LATE after the deadline."""
    return [
        PoolInput(
            s.scenario_id,
            s.model,
            s.matches,
            RULE_KINDS,
            s.resolution,
            -np.inf if recorded_late is None else s.model.deadline + LATE,
        )
        for s in scenarios
    ]


def expected(
    scenarios: list[Scenario], t: float, admitted_from: dict[str, float]
) -> tuple[float, float] | None:
    samples = [
        x
        for s in sorted(scenarios, key=lambda s: s.scenario_id)
        if admitted_from[s.scenario_id] <= t and (x := training(s)) is not None
    ]
    fit = fit_recalibration(training_set(samples))
    return None if fit is None else (fit.alpha, fit.beta)


@pytest.mark.parametrize("recorded_late", [None, True])
def test_each_grid_time_is_mapped_by_the_fit_on_the_scenarios_admitted_by_then(
    recorded_late: bool | None,
) -> None:
    scenarios = world(24, 0.5, seed=7)
    times = ORIGIN + np.arange(0, 3000, 45) * DAY
    maps = calibration_maps(inputs(scenarios, recorded_late), times, np.inf, 1.0, 5)
    admitted = {
        s.scenario_id: s.model.deadline + (LATE if recorded_late else 0.0) for s in scenarios
    }
    fitted = 0
    for i, t in enumerate(times):
        fit = expected(scenarios, float(t), admitted)
        assert bool(maps.fitted[i]) == (fit is not None)
        if fit is None:
            assert (maps.alpha[i], maps.beta[i]) == (0.0, 1.0)
            continue
        fitted += 1
        assert maps.alpha[i] == pytest.approx(fit[0], abs=TOLERANCE)
        assert maps.beta[i] == pytest.approx(fit[1], abs=TOLERANCE)
    assert 0 < fitted < times.shape[0]


def test_a_resolution_recorded_late_is_not_admitted_before_it_was_recorded() -> None:
    scenarios = world(24, 0.5, seed=7)
    times = ORIGIN + np.arange(0, 3000, 45) * DAY
    at_deadline = calibration_maps(inputs(scenarios, None), times, np.inf, 1.0, 5)
    late = calibration_maps(inputs(scenarios, True), times, np.inf, 1.0, 5)
    assert np.count_nonzero(late.fitted) < np.count_nonzero(at_deadline.fitted)
    moved = (late.alpha != at_deadline.alpha) | (late.beta != at_deadline.beta)
    assert moved.any()
