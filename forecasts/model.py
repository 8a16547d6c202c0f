"""The forecasting model of ``model.md``, as pure functions over numpy arrays.

No I/O and no clock: every time is an argument, in seconds since the Unix
epoch (float64). One scenario version is a ``ScenarioModel``; the events its
rules matched are, per rule, a ``RuleMatches`` of parallel arrays sorted by
(occurred_at, position), the order in which a rule's matches are counted.

Rules count their matches in groups (``rule_groups``): a rule without a
``group`` alone, the rules naming one group together. A group's matches are
ranked in the order (occurred, position, the rule's place in the scenario), so
one event matched by two rules of a group takes two ranks.

For a grid of evaluation times ``t`` (shape T) and one knowledge cut ``K``
(``inf`` for none), with M matches of a rule R:

- visible[m]     = recorded[m] <= K and not retracted[m] <= K
- counted[t, m]  = visible[m] and t0 <= occurred[m] <= t
- k[t, m]        = the rank of m among the counted matches of R's group (1, 2, ...)
- w[t, m]        = r_R ** (k - 1) * 2 ** (-(t - occurred[m]) / h_R)   (no h: no decay)
- contribution   = ln B_R * w         variance term = (s_R * w) ** 2

    ln odds(t) = logit(p0) + sum of contributions + ln T(t)
    T(t) = 1 - u^a, u = (t - t0) / (D - t0), for timing "uniform" and t0 <= t < D, else 1

T is computed without cancellation near the deadline (``time_term``).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logit, ndtri, polygamma

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Status = Literal["open", "resolved_yes", "resolved_no", "annulled", "expired"]

DAY = 86_400.0
# z_q = Phi^-1((1 + q) / 2); scipy.special, not scipy.stats, which takes a second to import
Z80 = float(ndtri(0.90))
Z95 = float(ndtri(0.975))


@dataclass(frozen=True)
class RuleModel:
    name: str
    ln_b: float
    uncertainty: float
    half_life_days: float | None
    repeat_discount: float
    group: str | None = None


@dataclass(frozen=True)
class ScenarioModel:
    """One version of a scenario, as numbers. ``opens_at`` is already resolved
    (the definition's, else when the first version was recorded)."""

    prior: float
    prior_strength: float
    opens_at: float
    deadline: float
    uniform_timing: bool
    rules: tuple[RuleModel, ...]
    timing_shape: float = 1.0

    @property
    def prior_logit(self) -> float:
        return float(logit(self.prior))

    @property
    def prior_variance(self) -> float:
        a = self.prior * self.prior_strength
        b = (1.0 - self.prior) * self.prior_strength
        return float(polygamma(1, a) + polygamma(1, b))


@dataclass(frozen=True)
class RuleMatches:
    """The events one rule matched, sorted by (occurred, position)."""

    occurred: Floats
    position: Ints
    recorded: Floats
    retracted: Floats  # inf where not retracted

    @staticmethod
    def empty() -> "RuleMatches":
        return RuleMatches(np.empty(0), np.empty(0, dtype=np.int64), np.empty(0), np.empty(0))

    def __len__(self) -> int:
        return int(self.occurred.shape[0])


@dataclass(frozen=True)
class Resolution:
    """One resolution as recorded: in force under the knowledge cuts from
    ``recorded_at`` until ``retracted_at`` (None: never retracted)."""

    outcome: Literal["yes", "no", "annulled"]
    resolved_at: float
    recorded_at: float
    retracted_at: float | None = None

    def retracted_by(self, known: float) -> bool:
        return self.retracted_at is not None and self.retracted_at <= known


Resolutions = Sequence[Resolution]
"""A scenario's resolutions in log order: each but the last retracted (a new one is
recorded only after the one before was retracted)."""


def resolution_known(resolutions: Resolutions, known: float = np.inf) -> Resolution | None:
    """The resolution in force under the knowledge cut: the newest recorded by it,
    unless it was retracted by it."""
    for resolution in reversed(resolutions):
        if resolution.recorded_at <= known:
            return None if resolution.retracted_by(known) else resolution
    return None


@dataclass(frozen=True)
class Terms:
    """Per evaluation time: ln odds, its variance and the time term; plus, per
    rule, the (T, M) weights of its matches (0 where not counted)."""

    log_odds: Floats
    variance: Floats
    time_term: Floats
    weights: list[Floats] = field(default_factory=list)
    counted: list[NDArray[np.bool_]] = field(default_factory=list)
    ranks: list[Ints] = field(default_factory=list)
    """Per rule, (T, M) ranks of its matches in its group (0 where not counted)."""


def time_term(model: ScenarioModel, t: Floats) -> Floats:
    """ln T(t): the Bayes factor of silence when, under the outcome, its time has
    the distribution u^a on [t0, D] (a = ``timing_shape``).

    T = 1 - u^a loses every digit to cancellation near the deadline, where u is
    within a few ulps of 1; with v = (D - t) / (D - t0), exact to a rounding,
    ln u = log1p(-v) and T = -expm1(a ln u) keep full relative precision. With
    a = 1, T = v exactly (the same bytes as before the shape existed)."""
    term = np.zeros_like(t)
    if model.uniform_timing:
        live = (t >= model.opens_at) & (t < model.deadline)
        span = model.deadline - model.opens_at
        remaining = (model.deadline - t[live]) / span
        if model.timing_shape == 1.0:
            term[live] = np.log(remaining)
        else:
            with np.errstate(divide="ignore"):  # at t0: ln u = -inf, and T = 1
                log_u = np.log1p(-remaining)
            term[live] = np.log(-np.expm1(model.timing_shape * log_u))
    return term


def rule_groups(rules: Sequence[RuleModel]) -> list[tuple[int, ...]]:
    """The rules' indices by the groups that count their matches together, in
    the order each group first appears: a rule without a group alone, the rules
    of one group in their order in the scenario."""
    found: dict[str | int, list[int]] = {}
    for r, rule in enumerate(rules):
        found.setdefault(r if rule.group is None else rule.group, []).append(r)
    return [tuple(members) for members in found.values()]


def group_order(occurred: Sequence[Floats], position: Sequence[Ints]) -> Ints:
    """The order of a group's matches, given per rule of the group (in the rules'
    order) their occurred and position arrays, one rule's after the other: by
    (occurred, position, rule's place)."""
    place = np.concatenate([np.full(o.shape[0], i, dtype=np.int64) for i, o in enumerate(occurred)])
    return np.lexsort((place, np.concatenate(position), np.concatenate(occurred)))


def counted_ranks(
    arrays: Sequence[RuleMatches], counted: Sequence[NDArray[np.bool_]]
) -> list[Ints]:
    """Per rule of one group, rank[t, m]: the rank of its match m among the
    group's counted matches at t (``group_order``), 0 where not counted."""
    if len(arrays) == 1:
        return [np.where(counted[0], np.cumsum(counted[0], axis=1), 0)]
    order = group_order([a.occurred for a in arrays], [a.position for a in arrays])
    merged = np.concatenate(counted, axis=1)
    ranked = np.empty(merged.shape, dtype=np.int64)
    ranked[:, order] = np.cumsum(merged[:, order], axis=1)
    ranked[~merged] = 0
    bounds = np.cumsum([len(a) for a in arrays])[:-1]
    return list(np.split(ranked, bounds, axis=1))


def counted_matches(
    matches: RuleMatches, t: Floats, opens_at: float, known: float
) -> NDArray[np.bool_]:
    """counted[t, m]: match m is in E at time t under the knowledge cut."""
    retracted = np.isfinite(matches.retracted) & (matches.retracted <= known)
    visible = (matches.recorded <= known) & ~retracted
    visible &= matches.occurred >= opens_at
    return visible[np.newaxis, :] & (matches.occurred[np.newaxis, :] <= t[:, np.newaxis])


def rule_weights(
    rule: RuleModel,
    matches: RuleMatches,
    counted: NDArray[np.bool_],
    t: Floats,
    rank: Ints | None = None,
) -> Floats:
    """w[t, m] of model.md for one rule; 0 where match m is not counted at t.
    ``rank``: the matches' ranks in the rule's group (``counted_ranks``); by
    default the rule counts alone."""
    if rank is None:
        rank = np.cumsum(counted, axis=1)
    weight = np.where(counted, rule.repeat_discount ** np.maximum(rank - 1, 0), 0.0)
    if rule.half_life_days is not None:
        age_days = (t[:, np.newaxis] - matches.occurred[np.newaxis, :]) / DAY
        # decay only where counted: a match far after t would overflow exp2; an age
        # of many half-lives may overflow the division to -inf, whose exp2 is 0
        with np.errstate(over="ignore"):
            exponent = np.where(counted, -age_days / rule.half_life_days, 0.0)
        weight = weight * np.exp2(exponent)
    return weight


def terms(
    model: ScenarioModel,
    matches: Sequence[RuleMatches],
    t: Floats,
    known: float = np.inf,
) -> Terms:
    """ln odds, variance and time term at every time of ``t`` (status aside)."""
    log_odds = np.full(t.shape[0], model.prior_logit)
    variance = np.full(t.shape[0], model.prior_variance)
    weights: list[Floats] = []
    counted = [counted_matches(m, t, model.opens_at, known) for m in matches]
    ranks: list[Ints] = [np.empty(0, dtype=np.int64)] * len(counted)
    for members in rule_groups(model.rules):
        found = counted_ranks([matches[r] for r in members], [counted[r] for r in members])
        for r, rank in zip(members, found, strict=True):
            ranks[r] = rank
    for r, (rule, rule_matches) in enumerate(zip(model.rules, matches, strict=True)):
        w = rule_weights(rule, rule_matches, counted[r], t, ranks[r])
        weights.append(w)
        if w.shape[1]:
            log_odds = log_odds + (rule.ln_b * w).sum(axis=1)
            variance = variance + ((rule.uncertainty * w) ** 2).sum(axis=1)
    tt = time_term(model, t)
    return Terms(
        log_odds=log_odds + tt,
        variance=variance,
        time_term=tt,
        weights=weights,
        counted=counted,
        ranks=ranks,
    )


def status_at(
    t: Floats, deadline: float, resolutions: Resolutions = (), known: float = np.inf
) -> NDArray[np.str_]:
    """The status at each time, under the knowledge cut ``known`` (the resolution
    in force then: ``resolution_known``)."""
    status = np.where(t >= deadline, "expired", "open").astype("<U12")
    resolution = resolution_known(resolutions, known)
    if resolution is not None:
        settled = t >= resolution.resolved_at
        label = {"yes": "resolved_yes", "no": "resolved_no", "annulled": "annulled"}
        status[settled] = label[resolution.outcome]
    return status


def probabilities(log_odds: Floats, status: NDArray[np.str_]) -> Floats:
    """p at each time: expit(ln odds) while open, 1/0 when resolved, 0 when
    expired, NaN (served as null) when annulled."""
    p = expit(log_odds)
    p = np.where(status == "resolved_yes", 1.0, p)
    p = np.where((status == "resolved_no") | (status == "expired"), 0.0, p)
    return np.where(status == "annulled", np.nan, p)


def interval(log_odds: Floats, variance: Floats, z: float) -> tuple[Floats, Floats]:
    spread = z * np.sqrt(variance)
    return expit(log_odds - spread), expit(log_odds + spread)
