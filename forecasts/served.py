"""Backtest samples as served: at each sample time t, the forecast the service served
at t (model.md, "Knowledge: hindsight or as served"): the knowledge cut is t itself,
so the scenario version recorded by t (its whole model), the events recorded by t
and not retracted by t, and the resolution known at t.

Vectorised by segments. The grid (``grid.grid_terms``) takes one knowledge cut K
for many times. With K = t per sample, match m counts at t iff occurred <= t,
recorded <= t and not retracted by t. The sample times are split at

- the times each version was recorded (one version in force per part),
- the times a resolution was recorded or retracted,
- each retraction time of a match, and
- each recorded time of a match recorded *late for the grid*: some sample time
  lies in [occurred, recorded) (before it was recorded, the match had occurred
  but was not known).

Within a segment, evaluated with K = its last time, every sample gets exactly the
served count: a match recorded within the segment but not late for the grid has
occurred >= recorded > t at every earlier time t of the segment (it counts at
none of them either way), and no retraction, late recording or resolution change
falls inside. So a segment is one ``samples_of`` call (the hindsight pipeline) and
the number of segments is bounded by the late matches, retractions and versions,
never more than the samples: no per-sample fallback is needed.

What the scores need beyond the forecasts comes from the version in force at each
sample: its prior (the prior baseline), its prior and time term (``brier_timing``)
and, per rule name, the Brier without that rule (a version without the rule:
unchanged). A status served at t other than open (expired: 0, resolved: 1 or 0)
is scored as served; a sample with no version yet, or annulled (null), is skipped.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from forecasts.backtest import ScenarioInput, samples_of, timing_forecasts
from forecasts.calibratedbacktest import Maps
from forecasts.model import (
    Floats,
    Resolution,
    Resolutions,
    RuleMatches,
    ScenarioModel,
    probabilities,
    status_at,
)
from forecasts.scoring import ScenarioSamples, Scores

SERIES_POINTS = 400
"""At most this many (t, p) points per scenario are kept in a result (every n-th)."""


@dataclass(frozen=True)
class SeriesPoint:
    t: datetime
    probability: float


@dataclass(frozen=True)
class ScenarioSeries:
    """What was said about one scored scenario: (t, p) at every n-th sample."""

    scenario_id: str
    outcome: bool
    points: list[SeriesPoint]


@dataclass(frozen=True)
class ServedScores(Scores):
    """The scores of a backtest as served, with each scored scenario's series. Stored
    as the result; read as ``Scores`` it is the same answer as any backtest's (the
    series are served apart: they are long)."""

    series: list[ScenarioSeries] = field(default_factory=list)


@dataclass(frozen=True)
class ServedVersion:
    """One version of a scenario as recorded: its model and its rules' matches."""

    recorded: float
    model: ScenarioModel
    matches: Sequence[RuleMatches]


@dataclass(frozen=True)
class ServedInput:
    """What one resolved (yes/no) scenario contributes to an as-served backtest. Its
    window [opens_at, end) and outcome come from the log as it stands."""

    scenario_id: str
    outcome: bool
    opens_at: float
    end: float
    versions: Sequence[ServedVersion]
    resolutions: Resolutions

    def work(self, samples: int) -> int:
        """Grid points x rules of the largest version, plus every version's matches
        (segments, see the module, evaluate their matches again; not counted)."""
        rules = max((len(v.model.rules) for v in self.versions), default=0)
        return samples * rules + sum(len(m) for v in self.versions for m in v.matches)


@dataclass(frozen=True)
class ServedSamples:
    """A scenario's samples and the times they were served at."""

    samples: ScenarioSamples
    times: Floats


def known_by(matches: RuleMatches, known: float) -> RuleMatches:
    """The matches as the log stood at ``known``: those recorded by then, a retraction
    after it not yet made."""
    keep = matches.recorded <= known
    retracted = np.where(matches.retracted <= known, matches.retracted, np.inf)
    return RuleMatches(
        matches.occurred[keep], matches.position[keep], matches.recorded[keep], retracted[keep]
    )


def resolutions_known_by(resolutions: Resolutions, known: float) -> tuple[Resolution, ...]:
    """The resolutions recorded by ``known``, a retraction after it not yet made."""
    return tuple(
        r if r.retracted_by(known) else replace(r, retracted_at=None)
        for r in resolutions
        if r.recorded_at <= known
    )


def _late(matches: RuleMatches, times: Floats) -> Floats:
    """The recorded times of the matches with a sample time in [occurred, recorded)."""
    if times.shape[0] == 0 or len(matches) == 0:
        return np.empty(0)
    after = np.searchsorted(times, matches.occurred, side="left")
    has = after < times.shape[0]
    first = times[np.minimum(after, times.shape[0] - 1)]
    late: Floats = matches.recorded[has & (first < matches.recorded)]
    return late


def breakpoints(version: ServedVersion, resolutions: Resolutions, times: Floats) -> Floats:
    """Where the served count or status can change between the sample ``times`` of one
    version (see the module), sorted."""
    found = [np.array([r.recorded_at for r in resolutions])]
    found.append(np.array([r.retracted_at for r in resolutions if r.retracted_at is not None]))
    for rule_matches in version.matches:
        found.append(rule_matches.retracted[np.isfinite(rule_matches.retracted)])
        found.append(_late(rule_matches, times))
    bounds: Floats = np.unique(np.concatenate(found))
    return bounds


def segments(times: Floats, bounds: Floats) -> list[Floats]:
    """``times`` (sorted) split into runs with no bound in (first, last]."""
    if times.shape[0] == 0:
        return []
    which = np.searchsorted(bounds, times, side="right")
    cuts = np.nonzero(np.diff(which))[0] + 1
    return np.split(times, cuts)


@dataclass
class _Parts:
    """Per-segment pieces of one scenario, joined at the end."""

    times: list[Floats]
    forecasts: list[Floats]
    timing: list[Floats]
    prior: list[Floats]
    names: dict[str, float]
    """Per rule name, the sum over samples of (p without the rule - y)^2."""
    unchanged: float = 0.0
    """The sum of (p - y)^2 over the samples so far (a rule first seen later was not
    there to remove)."""
    uncalibrated: int = 0
    """Open samples with no calibration map (a calibrated backtest)."""


def _segment(
    item: ServedInput,
    version: ServedVersion,
    t: Floats,
    parts: _Parts,
    y: float,
    maps: Maps | None,
) -> None:
    known = float(t[-1])
    status = status_at(t, version.model.deadline, item.resolutions, known)
    served = probabilities(np.zeros(t.shape[0]), status)
    is_open = status == "open"
    squared_without: dict[str, float] = {}
    if is_open.any():
        own = ScenarioInput(
            item.scenario_id, item.outcome, item.end, version.model, version.matches
        )
        samples = samples_of(own, t[is_open], known, maps)
        served[is_open] = samples.forecasts
        parts.uncalibrated += samples.uncalibrated or 0
        assert samples.brier_without is not None
        count = int(is_open.sum())
        for name, b in zip(samples.rules, samples.brier_without, strict=True):
            squared_without[name] = float(b) * count
    kept = ~np.isnan(served)
    p = served[kept]
    squared = (p - y) ** 2
    closed = float(np.sum(squared[~is_open[kept]]))
    total = float(np.sum(squared))
    for name in parts.names:
        parts.names[name] += squared_without[name] + closed if name in squared_without else total
    for name, value in squared_without.items():
        if name not in parts.names:
            parts.names[name] = parts.unchanged + value + closed
    parts.unchanged += total
    parts.times.append(t[kept])
    parts.forecasts.append(p)
    parts.timing.append(timing_forecasts(version.model, t[kept]))
    parts.prior.append(np.full(p.shape[0], version.model.prior))


def served_samples(item: ServedInput, times: Floats, maps: Maps | None = None) -> ServedSamples:
    """One scenario's samples as served at the grid ``times`` in its window (the open
    ones calibrated by ``maps`` if given)."""
    y = 1.0 if item.outcome else 0.0
    at = times[(times >= item.opens_at) & (times < item.end)]
    recorded = np.array([v.recorded for v in item.versions])
    which = np.searchsorted(recorded, at, side="right") - 1
    parts = _Parts([], [], [], [], {})
    for v, version in enumerate(item.versions):
        t_v = at[which == v]
        bounds = breakpoints(version, item.resolutions, t_v)
        for t in segments(t_v, bounds):
            _segment(item, version, t, parts, y, maps)
    forecasts = np.concatenate([np.empty(0), *parts.forecasts])
    n = forecasts.shape[0]
    names = tuple(parts.names)
    samples = ScenarioSamples(
        scenario_id=item.scenario_id,
        outcome=item.outcome,
        prior=np.concatenate([np.empty(0), *parts.prior]),
        forecasts=forecasts,
        timing=np.concatenate([np.empty(0), *parts.timing]),
        rules=names,
        brier_without=np.array([parts.names[name] / n if n else np.nan for name in names]),
        uncalibrated=None if maps is None else parts.uncalibrated,
    )
    return ServedSamples(samples, np.concatenate([np.empty(0), *parts.times]))


def served_chunk(
    inputs: Sequence[ServedInput], times: Floats, maps: Maps | None = None
) -> list[ServedSamples]:
    """Each scenario's samples as served (a task for the worker process)."""
    return [served_samples(item, times, maps) for item in inputs]


def series_of(served: ServedSamples, limit: int = SERIES_POINTS) -> list[SeriesPoint]:
    """(t, p) of every n-th sample, n the smallest keeping at most ``limit`` (and the
    last sample, so the line ends where the scenario's window did)."""
    count = served.times.shape[0]
    if count == 0:
        return []
    every = -(-count // limit)
    picked = list(range(0, count, every))
    if picked[-1] != count - 1:
        picked[-1 if len(picked) == limit else len(picked) :] = [count - 1]
    return [
        SeriesPoint(
            datetime.fromtimestamp(float(served.times[i]), UTC), float(served.samples.forecasts[i])
        )
        for i in picked
    ]


def with_series(scores: Scores, served: Sequence[ServedSamples]) -> ServedScores:
    """``scores`` with each scored scenario's served series."""
    by_id = {s.samples.scenario_id: s for s in served}
    series = [
        ScenarioSeries(s.scenario_id, s.outcome == "yes", series_of(by_id[s.scenario_id]))
        for s in scores.scenarios
    ]
    return ServedScores(scores.overall, scores.scenarios, scores.calibration, series)
