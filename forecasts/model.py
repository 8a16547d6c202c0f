"""The forecasting model of ``model.md``, as pure functions over numpy arrays.

No I/O and no clock: every time is an argument, in seconds since the Unix
epoch (float64). One scenario version is a ``ScenarioModel``; the events its
rules matched are, per rule, a ``RuleMatches`` of parallel arrays sorted by
(occurred_at, position), the order in which a rule's matches are counted.

For a grid of evaluation times ``t`` (shape T) and one knowledge cut ``K``
(``inf`` for none), with M matches of a rule:

- visible[m]     = recorded[m] <= K and not retracted[m] <= K
- counted[t, m]  = visible[m] and t0 <= occurred[m] <= t
- k[t, m]        = the rank of m among the rule's counted matches (1, 2, ...)
- w[t, m]        = r ** (k - 1) * 2 ** (-(t - occurred[m]) / h)   (no h: no decay)
- contribution   = ln B * w         variance term = (s * w) ** 2

    ln odds(t) = logit(p0) + sum of contributions + ln T(t)
    T(t) = (D - t) / (D - t0) for timing "uniform" and t0 <= t < D, else 1
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


def time_term(model: ScenarioModel, t: Floats) -> Floats:
    """ln T(t): the Bayes factor of silence under a uniform time of outcome."""
    term = np.zeros_like(t)
    if model.uniform_timing:
        live = (t >= model.opens_at) & (t < model.deadline)
        span = model.deadline - model.opens_at
        term[live] = np.log((model.deadline - t[live]) / span)
    return term


def counted_matches(
    matches: RuleMatches, t: Floats, opens_at: float, known: float
) -> NDArray[np.bool_]:
    """counted[t, m]: match m is in E at time t under the knowledge cut."""
    retracted = np.isfinite(matches.retracted) & (matches.retracted <= known)
    visible = (matches.recorded <= known) & ~retracted
    visible &= matches.occurred >= opens_at
    return visible[np.newaxis, :] & (matches.occurred[np.newaxis, :] <= t[:, np.newaxis])


def rule_weights(
    rule: RuleModel, matches: RuleMatches, counted: NDArray[np.bool_], t: Floats
) -> Floats:
    """w[t, m] of model.md for one rule; 0 where match m is not counted at t."""
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
    counted: list[NDArray[np.bool_]] = []
    for rule, rule_matches in zip(model.rules, matches, strict=True):
        c = counted_matches(rule_matches, t, model.opens_at, known)
        w = rule_weights(rule, rule_matches, c, t)
        counted.append(c)
        weights.append(w)
        if w.shape[1]:
            log_odds = log_odds + (rule.ln_b * w).sum(axis=1)
            variance = variance + ((rule.uncertainty * w) ** 2).sum(axis=1)
    tt = time_term(model, t)
    return Terms(
        log_odds=log_odds + tt, variance=variance, time_term=tt, weights=weights, counted=counted
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
