"""Training samples for the calibration of ``model.md`` ("Calibration: learning from outcomes").

A scenario is **closed** for a forecast at time ``at`` under the knowledge cut
``known`` when the resolution in force at ``known`` is "yes" or "no" and its
deadline D is at or before ``at``. Admitting by deadline, not by resolution
time, matters: "yes" outcomes are known early and "no" ones only at the deadline,
so admitting by resolution time would teach the learner that everything resolves
"yes".

Its samples are t_j = t0 + j * 7 days while t_j < min(resolved_at, D), with the
raw logit z_j of the model (the version in force at ``known``, the same cut), and
each weighs 1/m_s, m_s being the number of grid times in [t0, D): an early "yes"
weighs the share of its window it was open, whatever its outcome. Per sample the
logit is also split into its "base" (logit p0 + ln T(t_j)) and E_g, the summed
contributions of the rules whose kinds-key is g (``kinds_key``), for the
evidence scales.
"""

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from forecasts.grid import iter_rule_terms
from forecasts.model import (
    DAY,
    Floats,
    Resolutions,
    RuleMatches,
    ScenarioModel,
    resolution_known,
    time_term,
)

WEEK = 7 * DAY


def kinds_key(kind: str | Sequence[str]) -> str:
    """g of a rule's ``match.kind``: the kind itself, or a list's kinds sorted and
    joined by "|"."""
    if isinstance(kind, str):
        return kind
    return "|".join(sorted(kind))


def weekly_times(opens_at: float, until: float) -> Floats:
    """t0 + j * 7 days for j >= 0 while < ``until`` (empty when until <= t0)."""
    if not until > opens_at:
        return np.empty(0)
    count = math.ceil((until - opens_at) / WEEK) + 1
    t = opens_at + WEEK * np.arange(count, dtype=np.float64)
    return t[t < until]


def window_size(opens_at: float, deadline: float) -> int:
    """m_s: the weekly grid times in [t0, D), as if the scenario stayed open to
    its deadline (so it does not depend on the outcome)."""
    return int(weekly_times(opens_at, deadline).shape[0])


@dataclass(frozen=True)
class ScenarioTraining:
    """One closed scenario's training samples (J of them, J >= 1).

    ``evidence[i]`` is E_g at every sample for g = ``kinds[i]`` (every kinds-key
    of the scenario's rules, sorted; zeros where its rules matched nothing), and
    ``matched[i]`` the distinct events of g's rules that enter a sample."""

    scenario_id: str
    outcome: float
    weight: float
    t: Floats
    logit: Floats
    base: Floats
    kinds: tuple[str, ...]
    evidence: Floats
    matched: tuple[int, ...]

    def __len__(self) -> int:
        return int(self.t.shape[0])


def _entering(
    matches: RuleMatches, opens_at: float, last: float, known: float
) -> NDArray[np.bool_]:
    """The matches counted at one sample at least: visible under the cut, and
    occurred in [t0, last sample]."""
    retracted = np.isfinite(matches.retracted) & (matches.retracted <= known)
    visible = (matches.recorded <= known) & ~retracted
    return visible & (matches.occurred >= opens_at) & (matches.occurred <= last)


def scenario_training(
    scenario_id: str,
    model: ScenarioModel,
    matches: Sequence[RuleMatches],
    resolutions: Resolutions,
    rule_kinds: Sequence[str],
    *,
    known: float,
    at: float,
    event_ids: Sequence[Sequence[Hashable]] | None = None,
) -> ScenarioTraining | None:
    """The scenario's training samples for a forecast at ``at`` under the cut
    ``known``, or None when it is not closed then or has no sample.

    ``model`` is the version in force at ``known`` and ``matches`` its rules'
    matches; ``rule_kinds[r]`` is rule r's kinds-key (``kinds_key``).
    ``event_ids[r][m]`` names rule r's m-th match for ``n_matches`` (default: its
    log position), so an event matched by two rules of one g counts once."""
    if len(rule_kinds) != len(model.rules):
        msg = f"{len(rule_kinds)} kinds-keys for {len(model.rules)} rules"
        raise ValueError(msg)
    resolution = resolution_known(resolutions, known)
    if resolution is None or resolution.outcome == "annulled" or not model.deadline <= at:
        return None
    t = weekly_times(model.opens_at, min(resolution.resolved_at, model.deadline))
    if t.shape[0] == 0:
        return None
    kinds = tuple(sorted(set(rule_kinds)))
    row = {g: i for i, g in enumerate(kinds)}
    evidence = np.zeros((len(kinds), t.shape[0]))
    for r, contribution, _ in iter_rule_terms(model, matches, t, known):
        evidence[row[rule_kinds[r]]] += contribution
    events: list[set[Hashable]] = [set() for _ in kinds]
    last = float(t[-1])
    for r, rule_matches in enumerate(matches):
        entering = _entering(rule_matches, model.opens_at, last, known)
        ids: Iterable[Hashable] = (
            rule_matches.position[entering].tolist()
            if event_ids is None
            else [event_ids[r][m] for m in np.flatnonzero(entering).tolist()]
        )
        events[row[rule_kinds[r]]].update(ids)
    base = model.prior_logit + time_term(model, t)
    return ScenarioTraining(
        scenario_id=scenario_id,
        outcome=1.0 if resolution.outcome == "yes" else 0.0,
        weight=1.0 / window_size(model.opens_at, model.deadline),
        t=t,
        logit=base + evidence.sum(axis=0),
        base=base,
        kinds=kinds,
        evidence=evidence,
        matched=tuple(len(e) for e in events),
    )


@dataclass(frozen=True)
class TrainingSet:
    """Closed scenarios' samples side by side (N samples, G kinds-keys, S
    scenarios; scenario i's samples are ``offsets[i]:offsets[i + 1]``)."""

    scenario_ids: tuple[str, ...]
    offsets: NDArray[np.int64]
    logit: Floats
    outcome: Floats
    weight: Floats
    base: Floats
    kinds: tuple[str, ...]
    evidence: Floats  # (N, G)
    matched: NDArray[np.int64]  # (S, G)

    @property
    def n_scenarios(self) -> int:
        return len(self.scenario_ids)

    def take(self, scenarios: Sequence[int]) -> "TrainingSet":
        """The set of these scenarios (indices into this one), in that order."""
        pieces = [np.arange(self.offsets[i], self.offsets[i + 1]) for i in scenarios]
        rows = np.concatenate(pieces) if pieces else np.empty(0, dtype=np.int64)
        lengths = [self.offsets[i + 1] - self.offsets[i] for i in scenarios]
        return TrainingSet(
            scenario_ids=tuple(self.scenario_ids[i] for i in scenarios),
            offsets=np.concatenate(([0], np.cumsum(lengths, dtype=np.int64))),
            logit=self.logit[rows],
            outcome=self.outcome[rows],
            weight=self.weight[rows],
            base=self.base[rows],
            kinds=self.kinds,
            evidence=self.evidence[rows],
            matched=self.matched[list(scenarios)],
        )

    def prefix(self, count: int) -> "TrainingSet":
        """The first ``count`` scenarios (views, no copy)."""
        end = int(self.offsets[count])
        return TrainingSet(
            scenario_ids=self.scenario_ids[:count],
            offsets=self.offsets[: count + 1],
            logit=self.logit[:end],
            outcome=self.outcome[:end],
            weight=self.weight[:end],
            base=self.base[:end],
            kinds=self.kinds,
            evidence=self.evidence[:end],
            matched=self.matched[:count],
        )


def training_set(scenarios: Sequence[ScenarioTraining]) -> TrainingSet:
    """The samples of ``scenarios`` side by side, E_g over the union of their
    kinds-keys (zero for a scenario without g)."""
    kinds = tuple(sorted({g for s in scenarios for g in s.kinds}))
    column = {g: i for i, g in enumerate(kinds)}
    lengths = [len(s) for s in scenarios]
    offsets = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))
    evidence = np.zeros((int(offsets[-1]), len(kinds)))
    matched = np.zeros((len(scenarios), len(kinds)), dtype=np.int64)
    for i, s in enumerate(scenarios):
        columns = [column[g] for g in s.kinds]
        evidence[offsets[i] : offsets[i + 1], columns] = s.evidence.T
        matched[i, columns] = s.matched

    def joined(values: Iterable[Floats]) -> Floats:
        parts = list(values)
        return np.concatenate(parts) if parts else np.empty(0)

    return TrainingSet(
        scenario_ids=tuple(s.scenario_id for s in scenarios),
        offsets=offsets,
        logit=joined(s.logit for s in scenarios),
        outcome=joined(np.full(len(s), s.outcome) for s in scenarios),
        weight=joined(np.full(len(s), s.weight) for s in scenarios),
        base=joined(s.base for s in scenarios),
        kinds=kinds,
        evidence=evidence,
        matched=matched,
    )
