"""The calibration in force at (as_of, known): a query over the projection, cached.

model.md, "Calibration: learning from outcomes": the recalibration (alpha, beta)
and the evidence scales are fitted (``forecasts.calibration``) on the training
samples (``forecasts.training``) of the scenarios closed at as_of under the cut
known: the version in force at known, its matches visible by known, a "yes" or
"no" in force at known, the deadline at or before as_of. Nothing is stored that
the log cannot rebuild: a fresh projection fits the same numbers.

Caches, each bounded:

- a scenario's training samples per (scenario, generation, known): a resolution,
  its retraction, a revision or a match bumps the scenario's ``generation``;
- a fit per (the admitted scenarios with their generations, known);
- the fit last found for (as_of, known) while the index's ``generation`` is
  unchanged, so a forecast poll costs a dictionary look-up (``cached``).

The fits run in the caller's thread: the forecast reads call them from their
worker threads (``Forecaster.heavy``) and the stream from its own, never on the
event loop; the event loop only looks up (``cached``).
"""

import contextlib
import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import cast

import msgspec
import numpy as np
from scipy.special import expit, logit

from domain.scenarios import ScenarioDefinition
from forecasts.calibration import (
    EvidenceScales,
    NotConverged,
    Recalibration,
    calibrated_interval,
    fit_evidence_scales,
    fit_recalibration,
    suggested_bayes_factor,
)
from forecasts.model import Floats, resolution_known
from forecasts.training import ScenarioTraining, kinds_key, scenario_training, training_set
from service.projection.index import LogIndex
from service.projection.versions import ScenarioMatches
from service.queries.budget import UNLIMITED, Budget
from service.queries.calibrationviews import (
    CalibrationView,
    EvidenceScaleView,
    SuggestedRule,
)
from service.queries.snapshots import Taken, taken_of
from service.queries.views import Calibrated, Forecast

logger = logging.getLogger(__name__)

FitKey = tuple[tuple[tuple[str, int], ...], float]
"""The admitted scenarios (id, generation), sorted by id, and the cut."""

MAX_TRAININGS = 20_000
MAX_FITS = 256
MAX_STATES = 1024
_serials = itertools.count(1)


@dataclass(frozen=True)
class Fitted:
    """One fit: the recalibration and the scales (None while fewer than
    ``min_scenarios`` closed scenarios have a sample). ``serial`` names it in the
    keys of the answers built with it."""

    serial: int
    n_scenarios: int
    recalibration: Recalibration | None
    scales: EvidenceScales | None

    def calibrated(self, forecast: Forecast) -> Calibrated | None:
        """The forecast's calibrated numbers; None without a recalibration or while
        the forecast is closed (no logit)."""
        fit = self.recalibration
        if fit is None or forecast.logit is None:
            return None
        if forecast.interval80 is None or forecast.interval95 is None:
            return None
        x = fit.alpha + fit.beta * forecast.logit
        lower, upper = calibrated_interval(
            np.array([forecast.interval80[0], forecast.interval95[0]]),
            np.array([forecast.interval80[1], forecast.interval95[1]]),
            fit.alpha,
            fit.beta,
        )
        return Calibrated(
            probability=float(expit(x)),
            interval80=(float(lower[0]), float(upper[0])),
            interval95=(float(lower[1]), float(upper[1])),
        )

    def applied(self, forecast: Forecast) -> Forecast:
        """The forecast with its ``calibrated`` numbers."""
        calibrated = self.calibrated(forecast)
        if calibrated is None and forecast.calibrated is None:
            return forecast
        return msgspec.structs.replace(forecast, calibrated=calibrated)

    def probability(self, probability: float | None) -> float | None:
        """The calibrated probability of a history point (from its probability: a
        point has no logit); None where there is none or the point is closed."""
        fit = self.recalibration
        if fit is None or probability is None or not 0.0 < probability < 1.0:
            return None
        return float(expit(fit.alpha + fit.beta * float(logit(probability))))

    def view(self) -> CalibrationView:
        fit, scales = self.recalibration, self.scales
        if fit is None or scales is None:
            return CalibrationView(
                alpha=None,
                beta=None,
                lam=None,
                n_scenarios=self.n_scenarios,
                scenario_ids=None,
                evidence_scales=None,
            )
        return CalibrationView(
            alpha=fit.alpha,
            beta=fit.beta,
            lam=fit.lam,
            n_scenarios=fit.n_scenarios,
            scenario_ids=list(fit.scenario_ids),
            evidence_scales=[
                EvidenceScaleView(kinds=s.kinds, beta=s.beta, n_matches=s.n_matches)
                for s in scales.scales
            ],
        )

    def suggested(self, definition: ScenarioDefinition) -> list[SuggestedRule]:
        """Each rule's Bayes factor and B^(beta_g) (null scale and suggestion
        without a calibration)."""
        found: list[SuggestedRule] = []
        for rule in definition.rules:
            g = kinds_key(rule.match.kind)
            scale = None if self.scales is None else self.scales.beta(g)
            found.append(
                SuggestedRule(
                    name=rule.name,
                    kinds=g,
                    scale=scale,
                    bayes_factor=rule.bayes_factor,
                    suggested_bayes_factor=None
                    if scale is None
                    else suggested_bayes_factor(rule.bayes_factor, scale),
                )
            )
        return found


@dataclass(frozen=True)
class Candidate:
    """A scenario resolved "yes" or "no" under the cut: admitted at any as_of at or
    after its ``deadline``. ``taken`` is what its samples are computed from, None
    when they are cached."""

    scenario_id: str
    generation: int
    deadline: float
    taken: Taken | None


class Calibrations:
    """The calibration at (as_of, known), fitted with ``lam`` and ``min_scenarios``
    (``TRADEWINDS_CALIBRATION_LAMBDA``, ``TRADEWINDS_CALIBRATION_MIN_SCENARIOS``)."""

    def __init__(self, index: LogIndex, lam: float, min_scenarios: int) -> None:
        self._index = index
        self.lam = lam
        self.min_scenarios = min_scenarios
        self._lock = threading.Lock()
        self._trainings: OrderedDict[tuple[str, int, float], ScenarioTraining | None] = (
            OrderedDict()
        )
        self._fits: OrderedDict[FitKey, Fitted] = OrderedDict()
        self._states: OrderedDict[tuple[float, float], tuple[int, Fitted]] = OrderedDict()
        self.fits = 0
        """How many fits were computed (not found in the cache)."""

    # --- look-ups (any thread, the event loop included) ------------------------

    def cached(self, as_of: float, known: float) -> Fitted | None:
        """The fit at (as_of, known) if it is cached for the index as it stands; no
        lock, no fit: when the index moved, the admitted scenarios are scanned (a
        pass over the scenarios, like the list's own) and their fit looked up."""
        generation = self._index.matches.generation
        state = self._states.get((as_of, known))
        if state is not None and state[0] == generation:
            return state[1]
        scenarios = list(self._index.matches.scenarios.values())
        key = _fit_key(
            [(s.id, s.generation) for s in scenarios if _admitted(s, as_of, known)], known
        )
        fitted = self._fits.get(key)
        if fitted is not None:
            self._remember((as_of, known), generation, fitted)
        return fitted

    # --- fits (worker threads) -----------------------------------------------------

    def at(self, as_of: float, known: float, budget: Budget = UNLIMITED) -> Fitted:
        """The fit at (as_of, known), computed if not cached."""
        generation = self._index.matches.generation
        state = self._states.get((as_of, known))
        if state is not None and state[0] == generation:
            return state[1]
        with self._index.reading():
            generation = self._index.matches.generation
            candidates = self._candidates(known, as_of)
        fitted = self._fit(candidates, known, budget)
        self._remember((as_of, known), generation, fitted)
        return fitted

    def along(self, times: Floats, known: float, budget: Budget = UNLIMITED) -> list[Fitted]:
        """The fit at each of ``times`` (ascending), known at ``known``: one fit per
        distinct set of admitted scenarios."""
        if times.shape[0] == 0:
            return []
        with self._index.reading():
            candidates = self._candidates(known, float(times.max()))
        deadlines = np.array([c.deadline for c in candidates])
        counts = np.searchsorted(deadlines, times, side="right")
        fits: dict[int, Fitted] = {}
        for count in sorted(set(counts.tolist())):
            budget.check()
            fits[count] = self._fit(candidates[:count], known, budget)
        return [fits[c] for c in counts.tolist()]

    def _candidates(self, known: float, until: float) -> list[Candidate]:
        """The scenarios closed by ``until`` under the cut, by deadline (then id),
        for a caller that holds the index lock."""
        found: list[Candidate] = []
        for scenario in self._index.matches.scenarios.values():
            if not _admitted(scenario, until, known):
                continue
            version = scenario.version_known_at(known)
            assert version is not None
            cached = (scenario.id, scenario.generation, known) in self._trainings
            taken = None if cached else taken_of(self._index.matches, scenario, known)
            found.append(Candidate(scenario.id, scenario.generation, version.model.deadline, taken))
        found.sort(key=lambda c: (c.deadline, c.scenario_id))
        return found

    def _fit(self, admitted: Sequence[Candidate], known: float, budget: Budget) -> Fitted:
        key = _fit_key([(c.scenario_id, c.generation) for c in admitted], known)
        with self._lock:
            hit = self._fits.get(key)
            if hit is not None:
                self._fits.move_to_end(key)
                return hit
            samples: list[ScenarioTraining] = []
            for candidate in sorted(admitted, key=lambda c: c.scenario_id):
                budget.check()
                training = self._training(candidate, known)
                if training is not None:
                    samples.append(training)
            fitted = self._solve(samples)
            self._fits[key] = fitted
            if len(self._fits) > MAX_FITS:
                self._fits.popitem(last=False)
            self.fits += 1
            return fitted

    def _solve(self, samples: list[ScenarioTraining]) -> Fitted:
        training = training_set(samples)
        try:
            recalibration = fit_recalibration(training, self.lam, self.min_scenarios)
            scales = fit_evidence_scales(training, self.lam, self.min_scenarios)
        except NotConverged:
            logger.exception("the calibration fit did not converge: serving none")
            recalibration, scales = None, None
        if recalibration is None or scales is None:
            recalibration, scales = None, None
        return Fitted(next(_serials), training.n_scenarios, recalibration, scales)

    def _training(self, candidate: Candidate, known: float) -> ScenarioTraining | None:
        key = (candidate.scenario_id, candidate.generation, known)
        if key in self._trainings:
            return self._trainings[key]
        taken = candidate.taken
        if taken is None:  # cached when the candidates were taken, evicted since
            with self._index.reading():
                scenario = self._index.matches.scenarios[candidate.scenario_id]
                taken = taken_of(self._index.matches, scenario, known)
            assert taken is not None
        snapshot = taken.snapshot(self._index.matches)
        definition = snapshot.version.definition
        training = scenario_training(
            candidate.scenario_id,
            snapshot.version.model,
            snapshot.arrays,
            snapshot.resolutions,
            [kinds_key(rule.match.kind) for rule in definition.rules],
            known=known,
            at=snapshot.version.model.deadline,
            event_ids=cast(Sequence[Sequence[Hashable]], snapshot.event_ids),
        )
        self._trainings[key] = training
        if len(self._trainings) > MAX_TRAININGS:
            self._trainings.popitem(last=False)
        return training

    def _remember(self, at: tuple[float, float], generation: int, fitted: Fitted) -> None:
        self._states[at] = (generation, fitted)
        if len(self._states) > MAX_STATES:
            with contextlib.suppress(KeyError):  # emptied by another thread meanwhile
                self._states.popitem(last=False)


def _admitted(scenario: ScenarioMatches, as_of: float, known: float) -> bool:
    """Closed at ``as_of`` under the cut: its version in force has its deadline by
    then and a "yes" or "no" is in force."""
    version = scenario.version_known_at(known)
    if version is None or not version.model.deadline <= as_of:
        return False
    resolution = resolution_known(scenario.resolutions, known)
    return resolution is not None and resolution.outcome != "annulled"


def _fit_key(admitted: list[tuple[str, int]], known: float) -> FitKey:
    return (tuple(sorted(admitted)), known)
