"""Issue 15, point 5: each event's effect when it happened is the jump of ln odds (and
of the probability) at its ``occurred_at``, as the model computes it just before
and at that time; the percentage points along the waterfall add up to the
probability; a closed forecast is explained at the last second it was open."""

import math

import numpy as np
import pytest
from scipy.special import expit as expits

from forecasts.contributions import (
    EXPLAIN_BEFORE_CLOSE_S,
    EventTerms,
    closing,
    effects,
    event_terms,
)
from forecasts.model import Resolution, RuleMatches, ScenarioModel, terms
from tests.forecasts.modelkit import LATE_CUT, at, expit, matches, rule, scenario

MODEL = scenario(
    rule(0.9, uncertainty=0.3, repeat_discount=0.6, name="a"),
    rule(-0.5, half_life_days=5.0, repeat_discount=0.7, name="b"),
    rule(1.4, half_life_days=40.0, name="c"),
    prior=0.2,
    opens_days=2.0,
    deadline_days=100.0,
    uniform=True,
)
ARRAYS = [
    # one before opens_at (in the prior, not counted), one recorded late
    matches([1.0, 4.0, 10.0, 30.0, 44.0], recorded_days=[1.0, 4.0, 11.0, 31.0, 90.0]),
    # one retracted: not counted, and the ranks skip it
    matches([8.5, 12.0, 50.0, 61.0], positions=[3, 4, 9, 12], retracted_days=[math.inf, 60.0] * 2),
    matches([20.0, 33.0, 70.0, 71.5]),
]
WHEN = at(80.0)


def _explained(
    model: ScenarioModel, arrays: list[RuleMatches], t: float, known: float = math.inf
) -> tuple[EventTerms, float, float]:
    found = terms(model, arrays, np.array([t]), known)
    return event_terms(model.rules, arrays, found), float(found.time_term[0]), found.log_odds[0]


def _around(t_e: float, known: float, arrays: list[RuleMatches]) -> tuple[float, float]:
    """ln odds by the model just before and at ``t_e``."""
    both = terms(MODEL, arrays, np.array([np.nextafter(t_e, -np.inf), t_e]), known)
    return float(both.log_odds[0]), float(both.log_odds[1])


@pytest.mark.parametrize("known", [math.inf, at(35.0), LATE_CUT])
def test_the_effect_then_is_the_jump_of_ln_odds_and_of_p_at_the_event(known: float) -> None:
    events, time_term, _ = _explained(MODEL, ARRAYS, WHEN, known)
    shares = effects(MODEL, ARRAYS, events, time_term, known)
    assert events.log_odds.shape[0] >= 6
    for i, t_e in enumerate(events.occurred.tolist()):
        before, after = _around(t_e, known, ARRAYS)
        assert events.log_odds_then[i] == pytest.approx(after - before, abs=1e-9)
        jump = 100.0 * (expit(after) - expit(before))
        assert shares.pp_then[i] == pytest.approx(jump, abs=1e-9)


def test_the_effect_then_is_undecayed_and_the_effect_now_decayed() -> None:
    events, _, _ = _explained(MODEL, ARRAYS, WHEN)
    decaying = events.rule > 0
    assert np.all(np.abs(events.log_odds[decaying]) < np.abs(events.log_odds_then[decaying]))
    assert np.array_equal(events.log_odds[~decaying], events.log_odds_then[~decaying])
    # the repeat discount at the rank the match had: a's counted matches are 4, 10, 30, 44
    assert events.log_odds_then[events.rule == 0] == pytest.approx(0.9 * 0.6 ** np.arange(4))


def test_events_at_one_instant_add_up_to_the_jump_there() -> None:
    arrays = [matches([10.0, 10.0, 30.0], positions=[1, 2, 5]), matches([10.0]), matches([])]
    events, time_term, _ = _explained(MODEL, arrays, WHEN)
    shares = effects(MODEL, arrays, events, time_term)
    at_ten = events.occurred == at(10.0)
    assert int(at_ten.sum()) == 3
    before, after = _around(at(10.0), math.inf, arrays)
    assert events.log_odds_then[at_ten].sum() == pytest.approx(after - before, abs=1e-9)
    jump = 100.0 * (expit(after) - expit(before))
    assert shares.pp_then[at_ten].sum() == pytest.approx(jump, abs=1e-9)


def test_pp_then_of_some_events_are_those_of_all() -> None:
    events, time_term, _ = _explained(MODEL, ARRAYS, WHEN)
    every = effects(MODEL, ARRAYS, events, time_term)
    wanted = events.canonical()[2:5]
    some = effects(MODEL, ARRAYS, events, time_term, wanted=wanted)
    # the grid over fewer times splits its decay segments elsewhere: rounding apart
    assert some.pp_then[wanted] == pytest.approx(every.pp_then[wanted], abs=1e-12)
    assert np.isnan(np.delete(some.pp_then, wanted)).all()
    assert np.array_equal(some.pp, every.pp)


def test_pp_along_the_waterfall_add_up_to_the_probability() -> None:
    events, time_term, log_odds = _explained(MODEL, ARRAYS, WHEN)
    shares = effects(MODEL, ARRAYS, events, time_term)
    assert shares.prior_pp == pytest.approx(100 * MODEL.prior, abs=1e-12)
    total = shares.prior_pp + math.fsum(shares.pp.tolist()) + shares.time_pp
    assert total == pytest.approx(100.0 * expit(log_odds), abs=1e-9)
    # each is the step of the running total in the listed order, with its sign
    order = events.canonical()
    running = MODEL.prior_logit + np.cumsum(events.log_odds[order])
    steps = 100 * np.diff(expits(np.concatenate(([MODEL.prior_logit], running))))
    assert shares.pp[order] == pytest.approx(steps, abs=1e-12)
    assert np.array_equal(np.sign(shares.pp), np.sign(events.log_odds))
    assert shares.time_pp < 0


def _resolution(outcome: str, days: float, recorded_days: float | None = None) -> Resolution:
    recorded = at(days if recorded_days is None else recorded_days)
    return Resolution(outcome, at(days), recorded)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("resolution", "as_of", "closed", "status"),
    [
        (None, 150.0, 100.0, "expired"),
        (_resolution("yes", 60.0), 150.0, 60.0, "resolved_yes"),
        (_resolution("no", 60.0), 70.0, 60.0, "resolved_no"),
        (_resolution("annulled", 40.0), 150.0, 40.0, "annulled"),
        # resolved after the deadline: it had expired by then (the demo's grand bargain)
        (_resolution("no", 101.0), 150.0, 100.0, "expired"),
        (_resolution("yes", 101.0), 150.0, 100.0, "expired"),
    ],
)
def test_a_closed_forecast_closed_at_the_first_of_deadline_and_resolution(
    resolution: Resolution | None, as_of: float, closed: float, status: str
) -> None:
    found = closing(MODEL, ARRAYS, at(as_of), math.inf, [] if resolution is None else [resolution])
    assert found is not None
    assert (found.closed_at, found.status) == (at(closed), status)
    assert found.explained_at == at(closed) - EXPLAIN_BEFORE_CLOSE_S == at(closed) - 1.0


def test_an_open_forecast_has_no_closing_nor_one_not_known_at_the_cut() -> None:
    assert closing(MODEL, ARRAYS, at(99.0)) is None
    assert closing(MODEL, ARRAYS, at(70.0), math.inf, [_resolution("yes", 80.0)]) is None
    late = _resolution("yes", 60.0, recorded_days=65.0)
    assert closing(MODEL, ARRAYS, at(70.0), at(62.0), [late]) is None
    expired = closing(MODEL, ARRAYS, at(150.0), at(62.0), [late])
    assert expired is not None
    assert (expired.closed_at, expired.status) == (at(100.0), "expired")
