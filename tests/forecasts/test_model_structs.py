"""The model's values are immutable and an empty ``RuleMatches`` holds nothing
(issue 14: a mutation run found neither checked)."""

import dataclasses
from typing import Any

import numpy as np
import pytest

from forecasts.model import Resolution, RuleMatches, Terms, terms
from tests.forecasts.modelkit import at, matches, rule, scenario, times


def _values() -> list[Any]:
    return [
        rule(1.0),
        scenario(rule(1.0)),
        matches([1.0]),
        Resolution(outcome="yes", resolved_at=at(1.0), recorded_at=at(2.0)),
        Terms(log_odds=np.zeros(1), variance=np.zeros(1), time_term=np.zeros(1)),
    ]


@pytest.mark.parametrize("value", _values(), ids=lambda v: type(v).__name__)
def test_model_values_are_frozen(value: Any) -> None:
    first = dataclasses.fields(value)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, first, getattr(value, first))


def test_a_rule_and_a_scenario_are_hashable_values() -> None:
    assert {rule(1.0), rule(1.0)} == {rule(1.0)}
    assert len({scenario(rule(1.0)), scenario(rule(1.0)), scenario(rule(2.0))}) == 2


def test_empty_rule_matches_hold_no_match() -> None:
    empty = RuleMatches.empty()
    assert len(empty) == 0
    for array in (empty.occurred, empty.position, empty.recorded, empty.retracted):
        assert array.shape == (0,)
    assert empty.position.dtype == np.int64
    model = scenario(rule(1.0))
    found = terms(model, [empty], times(5.0))
    assert found.log_odds.tolist() == [model.prior_logit]
    assert found.weights[0].shape == (1, 0)
