"""Training samples of model.md's calibration: admission, grid, weights, the split by kinds."""

import math

import numpy as np
import pytest

from forecasts.grid import grid_terms
from forecasts.model import DAY, Resolution, RuleMatches, ScenarioModel
from forecasts.training import (
    WEEK,
    kinds_key,
    scenario_training,
    training_set,
    window_size,
)
from tests.forecasts.modelkit import at, matches, rule, scenario

KINDS = ("a", "b|c", "a")


def _model() -> ScenarioModel:
    return scenario(
        rule(0.7, name="r0", repeat_discount=0.5),
        rule(-0.4, name="r1", half_life_days=20.0),
        rule(0.3, name="r2"),
        prior=0.4,
        deadline_days=100.0,
        uniform=True,
    )


def _matches() -> tuple[RuleMatches, ...]:
    return (
        matches([3.0, 10.0, 40.0], positions=[1, 4, 9]),
        matches([12.0, 80.0], positions=[5, 20], recorded_days=[12.0, 200.0]),
        matches([10.0, 95.0], positions=[4, 30]),
    )


def _train(
    outcome: str, resolved: float, recorded: float, *, known: float, at_days: float
) -> object:
    return scenario_training(
        "s",
        _model(),
        _matches(),
        (Resolution(outcome, at(resolved), at(recorded)),),  # type: ignore[arg-type]
        KINDS,
        known=at(known),
        at=at(at_days),
    )


def test_kinds_key_sorts_and_joins_a_list() -> None:
    assert kinds_key("signal") == "signal"
    assert kinds_key(["z", "a", "m"]) == "a|m|z"


def test_a_no_is_sampled_weekly_to_the_deadline_with_the_models_logit() -> None:
    found = _train("no", 100.0, 100.0, known=150.0, at_days=100.0)
    assert found is not None
    expected_t = np.array([at(7.0 * j) for j in range(15)])  # 0..98 days < 100
    np.testing.assert_array_equal(found.t, expected_t)
    assert found.outcome == 0.0
    assert found.weight == pytest.approx(1 / 15)
    log_odds, _ = grid_terms(_model(), _matches(), found.t, at(150.0))
    np.testing.assert_allclose(found.logit, log_odds, rtol=0, atol=1e-12)
    model = _model()
    base = model.prior_logit + np.log(
        (model.deadline - found.t) / (model.deadline - model.opens_at)
    )
    np.testing.assert_allclose(found.base, base, atol=1e-12)
    np.testing.assert_allclose(found.base + found.evidence.sum(axis=0), found.logit, atol=1e-12)


def test_evidence_is_split_by_kinds_key_summing_rules_of_one_key() -> None:
    found = _train("no", 100.0, 100.0, known=150.0, at_days=100.0)
    assert found is not None
    assert found.kinds == ("a", "b|c")
    t = found.t
    one = _model()
    only_a = ScenarioModel(
        one.prior,
        one.prior_strength,
        one.opens_at,
        one.deadline,
        False,
        (one.rules[0], one.rules[2]),
    )
    a_part, _ = grid_terms(only_a, (_matches()[0], _matches()[2]), t, at(150.0))
    np.testing.assert_allclose(found.evidence[0], a_part - one.prior_logit, atol=1e-12)
    # the event recorded at day 200 is not known at the cut of day 150
    # a: positions 1, 4 (by two rules), 9 and 30 (day 95 <= the last sample, day 98)
    assert found.matched == (4, 1)
    assert found.t[-1] == at(98.0)


def test_n_matches_counts_events_entering_a_sample_once_per_kinds_key() -> None:
    found = _train("yes", 30.0, 30.0, known=150.0, at_days=150.0)
    assert found is not None
    assert found.t[-1] == at(28.0)
    # a's rules matched positions 1 (day 3) and 4 (day 10, by both rules): 2 events
    assert found.matched == (2, 1)


def test_an_early_yes_weighs_the_share_of_its_window_it_was_open() -> None:
    found = _train("yes", 30.0, 30.0, known=150.0, at_days=150.0)
    assert found is not None
    assert len(found) == 5  # days 0, 7, 14, 21, 28
    assert found.outcome == 1.0
    assert found.weight == pytest.approx(1 / window_size(at(0.0), at(100.0)))
    assert found.weight * len(found) == pytest.approx(5 / 15)


@pytest.mark.parametrize(
    ("outcome", "resolved", "recorded", "known", "at_days"),
    [
        ("yes", 30.0, 30.0, 150.0, 99.0),  # deadline after the forecast time
        ("yes", 30.0, 120.0, 110.0, 150.0),  # resolution recorded after the cut
        ("annulled", 30.0, 30.0, 150.0, 150.0),
        ("yes", 0.0, 0.0, 150.0, 150.0),  # resolved at t0: no sample
    ],
)
def test_not_admitted(
    outcome: str, resolved: float, recorded: float, known: float, at_days: float
) -> None:
    assert _train(outcome, resolved, recorded, known=known, at_days=at_days) is None


def test_admitted_by_deadline_and_recorded_resolution() -> None:
    assert _train("yes", 30.0, 120.0, known=120.0, at_days=100.0) is not None


def test_a_retracted_resolution_is_not_closed() -> None:
    resolution = Resolution("yes", at(30.0), at(30.0), retracted_at=at(50.0))
    found = scenario_training(
        "s", _model(), _matches(), (resolution,), KINDS, known=at(60.0), at=at(200.0)
    )
    assert found is None


def test_window_size_counts_grid_times_before_the_deadline() -> None:
    assert window_size(at(0.0), at(7.0)) == 1
    assert window_size(at(0.0), at(7.0) + 1e-6) == 2
    assert window_size(at(0.0), at(0.0)) == 0


def test_training_set_lines_up_kinds_and_offsets() -> None:
    one = _train("no", 100.0, 100.0, known=150.0, at_days=100.0)
    other = scenario_training(
        "t",
        scenario(rule(1.0), prior=0.6, deadline_days=30.0),
        (matches([1.0], positions=[77]),),
        (Resolution("yes", at(20.0), at(20.0)),),
        ("z",),
        known=at(150.0),
        at=at(150.0),
    )
    assert one is not None
    assert other is not None
    joined = training_set([one, other])
    assert joined.kinds == ("a", "b|c", "z")
    assert joined.offsets.tolist() == [0, 15, 18]
    np.testing.assert_array_equal(joined.evidence[15:, :2], 0.0)
    np.testing.assert_allclose(joined.evidence[15:, 2], other.evidence[0])
    assert joined.matched.tolist() == [[4, 1, 0], [0, 0, 1]]
    assert joined.outcome.tolist() == [0.0] * 15 + [1.0] * 3
    np.testing.assert_allclose(joined.weight[15:], 1 / math.ceil(30 / 7))
    part = joined.take([1])
    assert part.scenario_ids == ("t",)
    assert part.offsets.tolist() == [0, 3]
    assert WEEK == 7 * DAY


def test_n_matches_uses_the_callers_event_ids() -> None:
    ids = (("e1", "e2", "e3"), ("e4", "e5"), ("e2", "e6"))
    found = scenario_training(
        "s",
        _model(),
        _matches(),
        (Resolution("yes", at(30.0), at(30.0)),),
        ("a", "a", "b|c"),
        known=at(150.0),
        at=at(150.0),
        event_ids=ids,
    )
    assert found is not None
    # samples to day 28: a = r0's e1, e2 and r1's e4 (day 12); b|c = r2's e2 (day 10)
    assert found.kinds == ("a", "b|c")
    assert found.matched == (3, 1)
