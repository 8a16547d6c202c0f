"""``terms`` against a straightforward pure-Python reading of ``model.md``, on
random scenarios, matches, evaluation times and knowledge cuts; with rule groups
(some sharing their events: one event matched by two rules of a group) and
timing shapes."""

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import polygamma

from forecasts.model import DAY, RuleMatches, RuleModel, ScenarioModel, terms
from tests.forecasts.modelkit import INF, at

# Times stay within a few hundred days and half-lives are at least half a day, so the
# plain-Python oracle's 2^(-age/h) stays finite (the overflow far from t has its own
# regression test in test_model.py).
SPAN_DAYS = 300.0


@dataclass(frozen=True)
class Match:
    occurred: float
    position: int
    recorded: float
    retracted: float  # inf: never retracted


@dataclass(frozen=True)
class World:
    model: ScenarioModel
    matches: list[list[Match]]
    t: list[float]
    known: float


def reference(world: World, t: float) -> tuple[float, float]:
    """(ln odds, variance) at t, from model.md, one event at a time."""
    model, known = world.model, world.known
    p0 = model.prior
    log_odds = math.log(p0 / (1.0 - p0))
    variance = float(
        polygamma(1, p0 * model.prior_strength) + polygamma(1, (1 - p0) * model.prior_strength)
    )
    counts: dict[object, int] = {}
    ranked = sorted(
        ((e.occurred, e.position, place, e) for place, ms in enumerate(world.matches) for e in ms),
        key=lambda item: item[:3],
    )
    for _, _, place, e in ranked:
        rule = model.rules[place]
        if not model.opens_at <= e.occurred <= t:
            continue
        if e.recorded > known:
            continue
        if not math.isinf(e.retracted) and e.retracted <= known:
            continue
        group = place if rule.group is None else rule.group
        counts[group] = k = counts.get(group, 0) + 1
        w = rule.repeat_discount ** (k - 1)
        if rule.half_life_days is not None:
            w *= 2.0 ** (-((t - e.occurred) / DAY) / rule.half_life_days)
        log_odds += rule.ln_b * w
        variance += (rule.uncertainty * w) ** 2
    if model.uniform_timing and model.opens_at <= t < model.deadline:
        remaining = (model.deadline - t) / (model.deadline - model.opens_at)
        if remaining < 1.0:  # at t0, T = 1
            log_odds += math.log(-math.expm1(model.timing_shape * math.log1p(-remaining)))
    return log_odds, variance


def days(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def rules(draw: st.DrawFn, index: int) -> RuleModel:
    return RuleModel(
        name=f"rule-{index}",
        ln_b=draw(st.floats(-3.0, 3.0)),
        uncertainty=draw(st.floats(0.0, 1.0)),
        half_life_days=draw(st.none() | st.floats(0.5, 60.0)),
        repeat_discount=draw(st.floats(0.1, 1.0, exclude_min=True)),
        group=draw(st.sampled_from([None, "g", "h"])),
    )


@st.composite
def rule_matches(draw: st.DrawFn, positions: list[int]) -> list[Match]:
    out = []
    # Occurred times drawn from a small pool too, so that ties (ranked by position)
    # happen often.
    pool = draw(st.lists(days(-20.0, SPAN_DAYS), min_size=1, max_size=3))
    for position in positions:
        occurred = draw(st.sampled_from(pool) | days(-20.0, SPAN_DAYS))
        recorded = occurred + draw(st.sampled_from([0.0, 1.0]) | days(0.0, 30.0))
        retracted = draw(st.just(INF) | days(0.0, 30.0).map(lambda d, r=recorded: r + d))
        out.append(Match(at(occurred), position, at(recorded), at(retracted)))
    return sorted(out, key=lambda e: (e.occurred, e.position))


@st.composite
def worlds(draw: st.DrawFn, no_cut: bool) -> World:
    opens = draw(days(0.0, 50.0))
    deadline = opens + draw(days(1.0, 250.0))
    n_rules = draw(st.integers(0, 3))
    rule_list = [draw(rules(i)) for i in range(n_rules)]
    sizes = [draw(st.integers(0, 6)) for _ in range(n_rules)]
    positions = draw(
        st.lists(st.integers(0, 10_000), min_size=sum(sizes), max_size=sum(sizes), unique=True)
    )
    per_rule, start = [], 0
    for size in sizes:
        per_rule.append(draw(rule_matches(positions[start : start + size])))
        start += size
    for r in range(1, n_rules):
        if draw(st.booleans()):  # the same events as the first rule's
            per_rule[r] = list(per_rule[0])
    model = ScenarioModel(
        prior=draw(st.floats(0.01, 0.99)),
        prior_strength=draw(st.floats(0.5, 50.0)),
        opens_at=at(opens),
        deadline=at(deadline),
        uniform_timing=draw(st.booleans()),
        rules=tuple(rule_list),
        timing_shape=draw(st.just(1.0) | st.floats(0.1, 10.0)),
    )
    # Evaluation times: anywhere, and exactly on an occurred time, t0 or D.
    edges = [model.opens_at, model.deadline] + [e.occurred for ms in per_rule for e in ms]
    t = draw(
        st.lists(
            days(-30.0, SPAN_DAYS + 10.0).map(at) | st.sampled_from(edges), min_size=1, max_size=6
        )
    )
    if no_cut:
        known = INF
    else:
        stamps = [e.recorded for ms in per_rule for e in ms]
        stamps += [e.retracted for ms in per_rule for e in ms if not math.isinf(e.retracted)]
        known = draw(days(-30.0, SPAN_DAYS + 70.0).map(at) | st.sampled_from(stamps or [0.0]))
    return World(model, per_rule, t, known)


def arrays_of(world: World) -> list[RuleMatches]:
    return [
        RuleMatches(
            occurred=np.array([e.occurred for e in ms], dtype=np.float64),
            position=np.array([e.position for e in ms], dtype=np.int64),
            recorded=np.array([e.recorded for e in ms], dtype=np.float64),
            retracted=np.array([e.retracted for e in ms], dtype=np.float64),
        )
        if ms
        else RuleMatches.empty()
        for ms in world.matches
    ]


def evaluate(world: World):
    return terms(world.model, arrays_of(world), np.array(world.t, dtype=np.float64), world.known)


PROPERTY = settings(max_examples=200, deadline=None, database=None)
SECONDARY = settings(max_examples=60, deadline=None, database=None)


@pytest.mark.parametrize("no_cut", [False, True], ids=["cut", "no-cut"])
@PROPERTY
@given(data=st.data())
def test_log_odds_matches_pure_python_reading_of_model_md(no_cut, data):
    world = data.draw(worlds(no_cut))
    found = evaluate(world)
    for i, t in enumerate(world.t):
        expected, _ = reference(world, t)
        assert math.isclose(found.log_odds[i], expected, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("no_cut", [False, True], ids=["cut", "no-cut"])
@SECONDARY
@given(data=st.data())
def test_variance_matches_pure_python_reading_of_model_md(no_cut, data):
    world = data.draw(worlds(no_cut))
    found = evaluate(world)
    for i, t in enumerate(world.t):
        _, expected = reference(world, t)
        assert math.isclose(found.variance[i], expected, rel_tol=1e-9, abs_tol=1e-9)


@SECONDARY
@given(world=worlds(no_cut=False))
def test_contributions_add_up_to_log_odds(world):
    found = evaluate(world)
    total = np.full(len(world.t), world.model.prior_logit) + found.time_term
    for rule, w in zip(world.model.rules, found.weights, strict=True):
        total = total + (rule.ln_b * w).sum(axis=1)
    assert found.log_odds == pytest.approx(total, abs=1e-12, rel=1e-12)
