"""Backtest sampling (``forecasts.backtest``): the grid t_i = from + i*step (t_i <= to),
the times a scenario was open (t0 <= t_i < min(resolved_at, D)), and the forecasts on
them, which must never use an event that occurred after the sample time (model.md,
Scoring). References are plain Python, with times in days after ``modelkit.BASE``."""

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit as np_expit

from forecasts.backtest import forecasts_on_grid, forecasts_one_by_one, grid, open_samples
from forecasts.model import DAY, RuleMatches, RuleModel, ScenarioModel, terms
from tests.forecasts.modelkit import at, expit, logit, matches, rule, scenario, times

TOL = 1e-12


def reference_grid(start: float, stop: float, step: float) -> list[float]:
    """t_i = start + i * step for i = 0, 1, ... while t_i <= stop, in float arithmetic."""
    out, i = [], 0
    while (t := start + i * step) <= stop:
        out.append(t)
        i += 1
    return out


# -- grid ---------------------------------------------------------------------------------


def test_grid_includes_stop_when_it_lands_exactly():
    found = grid(at(0), at(3), DAY)
    assert found.tolist() == [at(0), at(0) + DAY, at(0) + 2 * DAY, at(0) + 3 * DAY]


def test_grid_stops_at_the_last_point_before_stop():
    found = grid(at(0), at(3) - 1.0, DAY)
    assert found.tolist() == [at(0), at(0) + DAY, at(0) + 2 * DAY]


def test_grid_of_a_single_instant_is_that_instant():
    assert grid(at(5), at(5), DAY).tolist() == [at(5)]


def test_grid_is_empty_when_stop_is_before_start():
    found = grid(at(5), at(5) - 1.0, DAY)
    assert found.shape == (0,)


@pytest.mark.parametrize("step", [0.0, -1.0, -DAY])
def test_grid_rejects_a_step_that_is_not_positive(step):
    with pytest.raises(ValueError, match="step must be positive"):
        grid(at(0), at(10), step)


@settings(max_examples=150, deadline=None, database=None)
@given(
    start=st.integers(1_600_000_000, 1_900_000_000),
    step=st.sampled_from([1, 60, 900, 3600, 86_400, 7 * 86_400]) | st.integers(1, 10**6),
    span=st.integers(-(10**6), 10**7),
)
def test_grid_in_whole_seconds_is_start_plus_i_step_up_to_stop(start, step, span):
    # Whole seconds since the epoch are exact in float64: no rounding anywhere.
    start_f, stop_f, step_f = float(start), float(start + span), float(step)
    assert grid(start_f, stop_f, step_f).tolist() == reference_grid(start_f, stop_f, step_f)


def test_grid_never_goes_past_stop_with_a_fractional_step():
    found = grid(0.0, 1.7, 0.1)
    assert found.tolist() == reference_grid(0.0, 1.7, 0.1)  # t_0 .. t_16
    assert float(found[-1]) <= 1.7


def test_grid_keeps_stop_landing_exactly_with_a_fractional_step():
    stop = 0.0 + 3 * 0.7
    assert grid(0.0, stop, 0.7).tolist() == [0.0, 0.7, 1.4, stop]


# -- open_samples -------------------------------------------------------------------------


def test_open_samples_keep_the_opening_instant():
    t = times(9, 10, 11)
    assert open_samples(t, at(10), at(100), at(50)).tolist() == [at(10), at(11)]


def test_open_samples_drop_the_resolution_instant_and_after():
    t = times(40, 49, 50, 51)
    assert open_samples(t, at(10), at(100), at(50)).tolist() == [at(40), at(49)]


def test_open_samples_drop_the_deadline_and_after_when_resolved_later():
    t = times(98, 99, 100, 101)
    assert open_samples(t, at(10), at(100), at(120)).tolist() == [at(98), at(99)]


def test_open_samples_end_at_the_earlier_of_resolution_and_deadline():
    t = np.array([at(50) - 1.0, at(50), at(50) + 1.0])
    assert open_samples(t, at(0), at(50), at(50)).tolist() == [at(50) - 1.0]


def test_open_samples_of_a_scenario_resolved_at_its_opening_are_empty():
    assert open_samples(times(9, 10, 11), at(10), at(100), at(10)).shape == (0,)


@settings(max_examples=100, deadline=None, database=None)
@given(
    t=st.lists(st.integers(-50, 150), max_size=12),
    opens=st.integers(0, 50),
    deadline=st.integers(0, 120),
    resolved=st.integers(-10, 130),
)
def test_open_samples_are_the_grid_times_with_t0_le_t_lt_min_resolved_deadline(
    t, opens, deadline, resolved
):
    found = open_samples(times(*t), at(opens), at(deadline), at(resolved))
    assert found.tolist() == [at(d) for d in t if opens <= d < min(resolved, deadline)]


# -- forecasts on the grid ----------------------------------------------------------------


def reference_probability(model: ScenarioModel, per_rule: list[RuleMatches], t: float) -> float:
    """p at t from model.md, one event at a time (no knowledge cut)."""
    log_odds = logit(model.prior)
    for r, ms in zip(model.rules, per_rule, strict=True):
        k = 0
        for occurred in ms.occurred.tolist():  # already sorted by (occurred, position)
            if not model.opens_at <= occurred <= t:
                continue
            k += 1
            w = r.repeat_discount ** (k - 1)
            if r.half_life_days is not None:
                w *= 2.0 ** (-((t - occurred) / DAY) / r.half_life_days)
            log_odds += r.ln_b * w
    if model.uniform_timing and model.opens_at <= t < model.deadline:
        log_odds += math.log((model.deadline - t) / (model.deadline - model.opens_at))
    return expit(log_odds)


def test_forecasts_on_grid_of_no_times_are_empty():
    model = scenario(rule(1.0))
    assert forecasts_on_grid(model, [matches([1, 2])], np.empty(0)).shape == (0,)


def test_forecasts_on_grid_are_exact_bayes_with_no_discount_and_no_timing():
    model = scenario(rule(math.log(3.0)), rule(math.log(0.5), name="s"), prior=0.2)
    found = forecasts_on_grid(model, [matches([2, 5]), matches([4])], times(1, 2, 4, 6))
    odds = [0.2 * b for b in (1.0, 3.0, 3.0 * 0.5, 3.0 * 3.0 * 0.5)]
    expected = [o / (o + 0.8) for o in odds]
    assert found.tolist() == pytest.approx(expected, abs=TOL, rel=0)


def test_forecasts_on_grid_include_an_event_occurring_at_the_sample_time():
    model = scenario(rule(2.0), prior=0.4)
    found = forecasts_on_grid(model, [matches([5])], np.array([at(5) - 1.0, at(5)]))
    assert found.tolist() == pytest.approx([0.4, expit(logit(0.4) + 2.0)], abs=TOL, rel=0)


def test_forecasts_on_grid_decay_correctly_over_hundreds_of_half_lives():
    model = scenario(rule(1.5, half_life_days=0.5), rule(-0.7, half_life_days=3.0, name="s"))
    per_rule = [matches([1.0, 150.0, 299.9, 299.95]), matches([0.5, 200.0])]
    t = grid(at(0.0), at(400.0), 0.7 * DAY)
    found = forecasts_on_grid(model, per_rule, t)
    expected = [reference_probability(model, per_rule, x) for x in t.tolist()]
    assert found.tolist() == pytest.approx(expected, abs=TOL, rel=0)


# Random worlds: a scenario version, its rules' matches (sorted by (occurred, position),
# positions unique), and a grid of open sample times.

POOL_DAYS = (-20.0, 300.0)


def days(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@dataclass(frozen=True)
class World:
    model: ScenarioModel
    per_rule: list[RuleMatches]
    t: np.ndarray


# Short half-lives too: the vectorised sums are carried in segments of 200 half-lives,
# so a 0.5-day half-life over a 300-day span crosses segment boundaries.
HALF_LIVES = days(0.5, 2.0) | days(0.5, 60.0)


@st.composite
def rule_models(draw: st.DrawFn, index: int, discount: bool, half_life: bool) -> RuleModel:
    return rule(
        draw(st.floats(-3.0, 3.0)),
        uncertainty=draw(st.floats(0.0, 1.0)),
        half_life_days=draw(HALF_LIVES if half_life else st.none() | HALF_LIVES),
        repeat_discount=draw(st.floats(0.1, 0.9) if discount else st.floats(0.1, 1.0)),
        name=f"rule-{index}",
    )


def rule_matches(occurred_days: list[float], positions: list[int]) -> RuleMatches:
    order = sorted(zip(occurred_days, positions, strict=True))
    return matches([d for d, _ in order], positions=[p for _, p in order])


@st.composite
def worlds(draw: st.DrawFn, discount: bool = False, half_life: bool = False) -> World:
    opens = draw(days(0.0, 50.0))
    deadline = opens + draw(days(1.0, 250.0))
    n_rules = draw(st.integers(1 if discount or half_life else 0, 3))
    rules = tuple(draw(rule_models(i, discount, half_life)) for i in range(n_rules))
    sizes = [draw(st.integers(2 if discount else 0, 6)) for _ in range(n_rules)]
    # Even positions for the world's events; an extra event takes an odd one.
    positions = draw(
        st.lists(st.integers(0, 5_000), min_size=sum(sizes), max_size=sum(sizes), unique=True)
    )
    # Occurred times from a small pool too, so that ties (ranked by position) are common.
    pool = draw(st.lists(days(*POOL_DAYS), min_size=1, max_size=3))
    per_rule, used = [], 0
    for size in sizes:
        occurred = [draw(st.sampled_from(pool) | days(*POOL_DAYS)) for _ in range(size)]
        per_rule.append(rule_matches(occurred, [2 * p for p in positions[used : used + size]]))
        used += size
    model = ScenarioModel(
        prior=draw(st.floats(0.01, 0.99)),
        prior_strength=draw(st.floats(0.5, 50.0)),
        opens_at=at(opens),
        deadline=at(deadline),
        uniform_timing=draw(st.booleans()),
        rules=rules,
    )
    start = draw(days(-10.0, 100.0))
    step = draw(days(0.05, 40.0))
    stop = start + draw(days(0.0, 300.0))
    resolved = draw(days(opens, deadline + 20.0))
    t = open_samples(grid(at(start), at(stop), step * DAY), at(opens), at(deadline), at(resolved))
    return World(model, per_rule, t)


FAST = settings(max_examples=120, deadline=None, database=None)


@FAST
@given(world=worlds())
def test_forecasts_on_grid_equal_forecasts_one_by_one(world):
    on_grid = forecasts_on_grid(world.model, world.per_rule, world.t)
    one_by_one = forecasts_one_by_one(world.model, world.per_rule, world.t)
    assert on_grid.shape == one_by_one.shape == world.t.shape
    assert on_grid.tolist() == pytest.approx(one_by_one.tolist(), abs=TOL, rel=0)


@FAST
@given(world=worlds())
def test_forecasts_on_grid_are_expit_of_the_model_log_odds(world):
    found = forecasts_on_grid(world.model, world.per_rule, world.t)
    log_odds = terms(world.model, world.per_rule, world.t).log_odds
    assert found.tolist() == pytest.approx(np_expit(log_odds).tolist(), abs=TOL, rel=0)


@FAST
@given(world=worlds())
def test_forecasts_on_grid_match_plain_python_reading_of_model_md(world):
    found = forecasts_on_grid(world.model, world.per_rule, world.t)
    expected = [reference_probability(world.model, world.per_rule, t) for t in world.t.tolist()]
    assert found.tolist() == pytest.approx(expected, abs=1e-9, rel=0)


# -- no look-ahead ------------------------------------------------------------------------


def with_extra(world: World, index: int, occurred: float, position: int) -> list[RuleMatches]:
    """The world's matches plus one more for rule ``index``, in (occurred, position) order."""
    ms = world.per_rule[index]
    pairs = list(zip(ms.occurred.tolist(), ms.position.tolist(), strict=True))
    pairs.append((occurred, position))
    pairs.sort()
    out = list(world.per_rule)
    out[index] = RuleMatches(
        occurred=np.array([o for o, _ in pairs], dtype=np.float64),
        position=np.array([p for _, p in pairs], dtype=np.int64),
        recorded=np.array([o for o, _ in pairs], dtype=np.float64),
        retracted=np.full(len(pairs), math.inf),
    )
    return out


@st.composite
def look_ahead_cases(draw: st.DrawFn, discount: bool = False, half_life: bool = False):
    world = draw(worlds(discount, half_life).filter(lambda w: w.t.shape[0] > 0 and w.model.rules))
    j = draw(st.integers(0, world.t.shape[0] - 1))
    sample = float(world.t[j])
    later = [o for ms in world.per_rule for o in ms.occurred.tolist() if o > sample]
    # The extra event: some time after sample j, possibly tied with a later event.
    occurred = draw(
        st.floats(1.0, 60 * DAY).map(lambda s: sample + s)
        | (st.sampled_from(later) if later else st.nothing())
    )
    index = draw(st.integers(0, len(world.model.rules) - 1))
    position = 2 * draw(st.integers(0, 5_001)) + 1
    return world, with_extra(world, index, occurred, position), occurred


def assert_no_look_ahead(world: World, extended: list[RuleMatches], occurred: float) -> None:
    before = world.t < occurred
    assert before.any()
    without = forecasts_on_grid(world.model, world.per_rule, world.t)
    with_it = forecasts_on_grid(world.model, extended, world.t)
    # Bit for bit, not merely close.
    assert with_it[before].tobytes() == without[before].tobytes()


@FAST
@given(case=look_ahead_cases())
def test_a_later_event_never_changes_an_earlier_forecast(case):
    assert_no_look_ahead(*case)


@settings(max_examples=80, deadline=None, database=None)
@given(case=look_ahead_cases(discount=True))
def test_a_later_event_never_changes_an_earlier_forecast_under_a_repeat_discount(case):
    assert_no_look_ahead(*case)


@settings(max_examples=80, deadline=None, database=None)
@given(case=look_ahead_cases(half_life=True))
def test_a_later_event_never_changes_an_earlier_forecast_under_a_half_life(case):
    assert_no_look_ahead(*case)


def test_a_later_event_does_not_shift_the_repeat_ranks_of_earlier_ones():
    # r = 0.5: matches at days 1 and 3 weigh 1 and 1/2; one more at day 2 (after t = 1.5,
    # before t = 3) makes the day-3 match third (1/4), but cannot touch t = 1.5.
    model = scenario(rule(1.0, repeat_discount=0.5), prior=0.3)
    base = [matches([1, 3], positions=[0, 2])]
    extra = [matches([1, 2, 3], positions=[0, 1, 2])]
    t = times(1.5, 3)
    without, with_it = forecasts_on_grid(model, base, t), forecasts_on_grid(model, extra, t)
    assert with_it[0] == without[0] == pytest.approx(expit(logit(0.3) + 1.0), abs=TOL)
    assert without[1] == pytest.approx(expit(logit(0.3) + 1.0 + 0.5), abs=TOL, rel=0)
    assert with_it[1] == pytest.approx(expit(logit(0.3) + 1.0 + 0.5 + 0.25), abs=TOL, rel=0)


def test_an_event_before_the_opening_is_ignored_on_the_grid():
    model = scenario(rule(2.0), prior=0.3, opens_days=10)
    found = forecasts_on_grid(model, [matches([5, 12])], times(11, 13))
    assert found.tolist() == pytest.approx([0.3, expit(logit(0.3) + 2.0)], abs=TOL, rel=0)


def test_uniform_timing_term_on_the_grid_is_log_of_remaining_share():
    model = scenario(prior=0.3, opens_days=0, deadline_days=100, uniform=True)
    found = forecasts_on_grid(model, [], times(0, 25, 75))
    expected = [expit(logit(0.3) + math.log((100 - d) / 100)) for d in (0, 25, 75)]
    assert found.tolist() == pytest.approx(expected, abs=TOL, rel=0)
