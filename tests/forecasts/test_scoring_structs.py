"""The scores are immutable values and the calibration of no samples is empty with
no error (issue 14: a mutation run found neither checked)."""

import dataclasses
from typing import Any

import numpy as np
import pytest

from forecasts.scoring import ScenarioSamples, calibration, score


def _values() -> list[Any]:
    yes = ScenarioSamples("s-1", outcome=True, prior=0.3, forecasts=np.array([0.6, 0.8]))
    no = ScenarioSamples("s-2", outcome=False, prior=0.3, forecasts=np.array([0.2]))
    scores = score([yes, no])
    assert scores.overall is not None
    return [yes, scores.scenarios[0], scores.calibration[0], scores.overall, scores]


@pytest.mark.parametrize("value", _values(), ids=lambda v: type(v).__name__)
def test_score_values_are_frozen(value: Any) -> None:
    first = dataclasses.fields(value)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, first, getattr(value, first))


def test_the_calibration_of_no_samples_has_ten_empty_bins_and_no_error() -> None:
    table, error = calibration(np.empty(0), np.empty(0))
    assert error == 0.0
    assert [(b.count, b.mean_forecast, b.observed_rate) for b in table] == [(0, None, None)] * 10
