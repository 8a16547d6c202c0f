"""Samples as served (``forecasts.served``) against the single-time model: at each
sample t, ``forecast_points`` of the version recorded by t with the knowledge cut t,
on random logs with matches recorded late, retractions, revisions and a retracted
resolution."""

import numpy as np
import pytest

from forecasts.model import DAY, Resolution, RuleMatches, ScenarioModel
from forecasts.points import forecast_points
from forecasts.served import ServedInput, ServedVersion, segments, series_of, served_samples
from tests.forecasts.modelkit import at, rule, scenario

GRID = at(0) + DAY * np.arange(200, dtype=np.float64)


def random_matches(rng: np.random.Generator, count: int) -> RuleMatches:
    """Matches in (occurred, position) order; about half recorded late (up to 30
    days), a few retracted."""
    occurred = np.sort(at(0) + rng.uniform(-10, 190, count) * DAY)
    late = np.where(rng.random(count) < 0.5, rng.uniform(0, 30, count) * DAY, 60.0)
    recorded = occurred + late
    retracted = np.where(
        rng.random(count) < 0.15, recorded + rng.uniform(1, 40, count) * DAY, np.inf
    )
    return RuleMatches(occurred, np.arange(count, dtype=np.int64), recorded, retracted)


def version_model(prior: float, deadline_days: float, ln_b: float) -> ScenarioModel:
    return scenario(
        rule(ln_b, repeat_discount=0.7, name="a"),
        rule(-0.4, half_life_days=15.0, name="b"),
        prior=prior,
        opens_days=2.0,
        deadline_days=deadline_days,
        uniform=True,
    )


def log(seed: int) -> ServedInput:
    rng = np.random.default_rng(seed)
    first = version_model(0.2, 190.0, 0.8)
    second = version_model(0.4, 100.0, 1.1)  # in force until day 120.7: expired from 100
    third = scenario(rule(0.5, name="c"), prior=0.3, opens_days=2.0, deadline_days=190.0)
    versions = [
        ServedVersion(at(5.5), first, [random_matches(rng, 25), random_matches(rng, 30)]),
        ServedVersion(at(60.2), second, [random_matches(rng, 25), random_matches(rng, 30)]),
        ServedVersion(at(120.7), third, [random_matches(rng, 20)]),
    ]
    resolutions = (
        Resolution("yes", at(90.0), at(92.3), retracted_at=at(101.6)),
        Resolution("annulled", at(103.0), at(104.1), retracted_at=at(110.2)),
        Resolution("no", at(150.0), at(151.0)),
    )
    return ServedInput("s", False, at(2.0), at(150.0), versions, resolutions)


def one_by_one(
    item: ServedInput, times: np.ndarray
) -> tuple[list[float], list[float], list[float]]:
    """Per sample time: the served probability by the single-time model, the prior in
    force and the sample time (skipping no version and null)."""
    ps, priors, kept = [], [], []
    for t in times[(times >= item.opens_at) & (times < item.end)]:
        known = [v for v in item.versions if v.recorded <= t]
        if not known:
            continue
        v = known[-1]
        point = forecast_points(v.model, v.matches, np.array([t]), t, item.resolutions)
        p = float(point.probability[0])
        if np.isnan(p):
            continue
        ps.append(p)
        priors.append(v.model.prior)
        kept.append(float(t))
    return ps, priors, kept


@pytest.mark.parametrize("seed", range(8))
def test_each_sample_is_the_single_time_forecast_with_the_cut_at_t(seed: int) -> None:
    item = log(seed)
    served = served_samples(item, GRID)
    ps, priors, kept = one_by_one(item, GRID)
    assert served.times.tolist() == kept
    np.testing.assert_allclose(served.samples.forecasts, ps, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(served.samples.prior, priors)
    assert served.times[0] >= at(6.0)  # before the first version: skipped


def test_a_retracted_resolution_is_served_while_it_was_known() -> None:
    item = log(0)
    served = served_samples(item, GRID)
    known = (served.times >= at(93.0)) & (served.times < at(101.6))
    assert known.any()
    assert set(served.samples.forecasts[known].tolist()) == {1.0}
    annulled = (served.times >= at(104.1)) & (served.times < at(110.2))
    assert not annulled.any()  # served null: skipped


def test_a_sample_where_the_version_then_had_expired_is_scored_as_served_zero() -> None:
    served = served_samples(log(2), GRID)
    expired = ((served.times >= at(101.6)) & (served.times < at(104.1))) | (
        (served.times >= at(110.2)) & (served.times < at(120.7))
    )
    assert expired.sum() == 3 + 10
    assert set(served.samples.forecasts[expired].tolist()) == {0.0}


@pytest.mark.parametrize("seed", range(4))
def test_ablation_equals_a_rerun_without_the_rule_in_every_version(seed: int) -> None:
    item = log(seed)
    served = served_samples(item, GRID)
    assert served.samples.brier_without is not None
    for name, brier_without in zip(served.samples.rules, served.samples.brier_without, strict=True):
        versions = []
        for v in item.versions:
            keep = [r for r, rule_model in enumerate(v.model.rules) if rule_model.name != name]
            model = ScenarioModel(
                v.model.prior, v.model.prior_strength, v.model.opens_at, v.model.deadline,
                v.model.uniform_timing, tuple(v.model.rules[r] for r in keep),
            )  # fmt: skip
            versions.append(ServedVersion(v.recorded, model, [v.matches[r] for r in keep]))
        without = ServedInput(
            item.scenario_id, item.outcome, item.opens_at, item.end, versions, item.resolutions
        )
        ps, _, _ = one_by_one(without, GRID)
        assert brier_without == pytest.approx(float(np.mean(np.square(ps))), abs=1e-12)


def test_segments_split_at_each_bound_after_a_time() -> None:
    times = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    parts = segments(times, np.array([2.0, 2.5, 4.5]))
    assert [p.tolist() for p in parts] == [[1.0], [2.0], [3.0, 4.0], [5.0]]


def test_the_series_keeps_at_most_the_limit_and_the_last_sample() -> None:
    served = served_samples(log(1), GRID)
    series = series_of(served, limit=10)
    assert len(series) <= 10
    assert series[-1].t.timestamp() == served.times[-1]
    assert series[0].t.timestamp() == served.times[0]
