"""A forecast's contributions and what each one did, as pure functions over numpy arrays.

ln odds at time t is the prior, plus one term per counted match, plus the time term
(``model.terms``). Per event e of rule R (rank k, occurred at t_e), "why it moved"
shows:

- ``log_odds``, its effect now: ln B_R * r_R^(k-1) * 2^(-(t - t_e)/h_R), its term at t;
- ``log_odds_then``, its effect when it happened: ln B_R * r_R^(k-1), its term at
  t_e, where it has not decayed; this is the jump of ln odds at t_e. The rank k (in
  R's group, ``model.rule_groups``) at t_e is the rank at t: a group's counted
  matches at any time are a prefix of its visible matches in (occurred, position,
  rule's place) order, so a later time only adds matches ranked after e
  (``forecasts.grid`` relies on the same fact);
- ``pp``, percentage points along the waterfall: the contributions are added up in
  the order they are listed (the prior, the events in (occurred, position, rule)
  order, the time term), and each one's pp is 100 * (expit(running ln odds after
  it) - expit(before it)), the prior's counted from 0. So the pp of all of them add
  up to 100 * the probability at t, and the events' ones sum from the prior to it;
- ``pp_then``, the jump of the probability at t_e: 100 * (expit(L + then) -
  expit(L)), L the ln odds just before t_e (the pipeline's at the float before
  t_e) plus the effects then of the matches at the same instant listed before e;
  so the events of one instant add up to the history's jump there.

A closed forecast (resolved, annulled or expired) is explained at the last second
it was open: ``closing`` finds when it closed (the first of the deadline and
``resolved_at`` at which the pipeline's status is no longer open) and the
explanation is at that time minus ``EXPLAIN_BEFORE_CLOSE_S``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
from scipy.special import expit

from forecasts.model import (
    Floats,
    Ints,
    Resolutions,
    RuleMatches,
    RuleModel,
    ScenarioModel,
    Terms,
    resolution_known,
)
from forecasts.points import forecast_points

EXPLAIN_BEFORE_CLOSE_S = 1.0
"""A closed forecast is explained at the last whole second before it closed (events
that occurred within that second are not in it; the close itself is not open)."""


@dataclass(frozen=True)
class EventTerms:
    """Every counted match's contribution at one time, as parallel arrays: rule
    index, index among the rule's matches, ln odds now and when it happened, and
    the order keys."""

    rule: Ints
    match: Ints
    log_odds: Floats
    log_odds_then: Floats
    occurred: Floats
    position: Ints

    def canonical(self) -> Ints:
        """Indices in the order contributions are listed: (occurred, position, rule)."""
        return np.lexsort((self.rule, self.position, self.occurred))

    def largest(self, count: int) -> Ints:
        """The ``count`` largest by |ln odds|, ties in the listing order."""
        size = self.log_odds.shape[0]
        magnitude = np.abs(self.log_odds)
        if size > count:
            kth = np.partition(magnitude, size - count)[size - count]
            candidates = np.nonzero(magnitude >= kth)[0]
        else:
            candidates = np.arange(size)
        order = np.lexsort(
            (
                self.rule[candidates],
                self.position[candidates],
                self.occurred[candidates],
                -magnitude[candidates],
            )
        )
        return candidates[order][:count]


def event_terms(
    model_rules: tuple[RuleModel, ...], arrays: Sequence[RuleMatches], found: Terms
) -> EventTerms:
    """The counted matches of ``found`` (``model.terms`` at one time), with their
    effect then: r^(k-1) at their rank k in their group, without decay."""
    rules, matches, log_odds, then, occurred, positions = [], [], [], [], [], []
    for r, (rule, rule_matches) in enumerate(zip(model_rules, arrays, strict=True)):
        counted = np.nonzero(found.counted[r][0])[0]
        rank = found.ranks[r][0, counted]
        undecayed = rule.repeat_discount ** np.maximum(rank - 1, 0)
        rules.append(np.full(counted.shape[0], r, dtype=np.int64))
        matches.append(counted.astype(np.int64))
        log_odds.append(rule.ln_b * found.weights[r][0, counted])
        then.append(rule.ln_b * undecayed)
        occurred.append(rule_matches.occurred[counted])
        positions.append(rule_matches.position[counted])
    if not rules:
        empty = np.empty(0, dtype=np.int64)
        return EventTerms(empty, empty, np.empty(0), np.empty(0), np.empty(0), empty)
    return EventTerms(
        rule=np.concatenate(rules),
        match=np.concatenate(matches),
        log_odds=np.concatenate(log_odds).astype(np.float64),
        log_odds_then=np.concatenate(then).astype(np.float64),
        occurred=np.concatenate(occurred),
        position=np.concatenate(positions),
    )


@dataclass(frozen=True)
class Effects:
    """Percentage points of each contribution: ``pp`` and ``pp_then`` per event
    (parallel to ``EventTerms``; ``pp_then`` NaN for events not asked for), and the
    prior's and the time term's ``pp``."""

    pp: Floats
    pp_then: Floats
    prior_pp: float
    time_pp: float


def effects(
    model: ScenarioModel,
    matches: Sequence[RuleMatches],
    events: EventTerms,
    time_term: float,
    known: float = np.inf,
    wanted: Ints | None = None,
) -> Effects:
    """The pp of every contribution along the waterfall, and the pp then of the
    ``wanted`` events (all by default; a page's: the ln odds before each costs a
    pass of the grid over their times), as in the module docstring."""
    order = events.canonical()
    steps = np.concatenate(([model.prior_logit], events.log_odds[order], [time_term]))
    running = expit(np.cumsum(steps))
    step_pp = 100.0 * np.diff(running, prepend=0.0)
    pp = np.empty(order.shape[0])
    pp[order] = step_pp[1:-1]
    wanted = np.arange(order.shape[0]) if wanted is None else wanted
    return Effects(
        pp=pp,
        pp_then=_pp_then(model, matches, events, order, known, wanted),
        prior_pp=float(step_pp[0]),
        time_pp=float(step_pp[-1]),
    )


def _pp_then(
    model: ScenarioModel,
    matches: Sequence[RuleMatches],
    events: EventTerms,
    order: Ints,
    known: float,
    wanted: Ints,
) -> Floats:
    """pp then of the ``wanted`` events: the level before each is the pipeline's ln
    odds just before its instant, plus the effects then of the events of that
    instant listed before it."""
    then = events.log_odds_then[order]
    listed_before = np.cumsum(then) - then
    occurred = events.occurred[order]
    first_of_instant = np.searchsorted(occurred, occurred, side="left")
    same_instant_before = np.empty(order.shape[0])
    same_instant_before[order] = listed_before - listed_before[first_of_instant]
    pp = np.full(order.shape[0], np.nan)
    if not wanted.shape[0]:
        return pp
    instants, at_instant = np.unique(events.occurred[wanted], return_inverse=True)
    just_before = np.nextafter(instants, -np.inf)
    before = forecast_points(model, matches, just_before, known, on_grid=True).logit
    level = before[at_instant] + same_instant_before[wanted]
    then_wanted = events.log_odds_then[wanted]
    pp[wanted] = 100.0 * (expit(level + then_wanted) - expit(level))
    return pp


Closed = Literal["resolved_yes", "resolved_no", "annulled", "expired"]


@dataclass(frozen=True)
class Closing:
    """When a forecast closed, its status from then, and when it is explained."""

    closed_at: float
    status: Closed

    @property
    def explained_at(self) -> float:
        return self.closed_at - EXPLAIN_BEFORE_CLOSE_S


def closing(
    model: ScenarioModel,
    matches: Sequence[RuleMatches],
    as_of: float,
    known: float = np.inf,
    resolutions: Resolutions = (),
) -> Closing | None:
    """When the forecast at ``as_of`` closed: the first of the deadline and the
    resolution's ``resolved_at``, by ``as_of``, at which the pipeline's status is
    not open (an expiry is the deadline even when a resolution dated after it
    came later); None while open. The status only changes at these times."""
    resolution = resolution_known(resolutions, known)
    moments = [model.deadline] + ([resolution.resolved_at] if resolution is not None else [])
    candidates = np.unique(np.array([m for m in moments if m <= as_of], dtype=np.float64))
    if not candidates.shape[0]:
        return None
    status = forecast_points(model, matches, candidates, known, resolutions, on_grid=True).status
    closed = np.nonzero(status != "open")[0]
    if not closed.shape[0]:
        return None
    first = int(closed[0])
    return Closing(float(candidates[first]), cast(Closed, str(status[first])))
