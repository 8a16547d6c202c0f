"""What a backtest needs, and what it costs.

A backtest evaluates the log as it stood when the backtest was requested (a
knowledge cut at the request's ``recorded_at``), so a run that is repeated after
a restart gives the same scores. Within that, samples use hindsight as model.md
says: no per-sample knowledge cut, but never an event that occurred after the
sample's time; or, with ``knowledge: as_served``, the cut at each sample's time
(``served_snapshot``, ``forecasts.served``).

``snapshot`` takes the inputs under the index lock (plain arrays); ``chunks``
groups them into tasks for the worker process; ``evaluate`` scores them in this
process (the command line). The bootstrap's draws are seeded from the backtest's
id (``run_id``).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar
from uuid import UUID, uuid5

import msgspec
import numpy as np

from domain.backtests import BacktestRequest
from forecasts.backtest import ScenarioInput, grid, scenario_samples
from forecasts.bootstrap import seed_of
from forecasts.calibratedbacktest import Maps, PoolInput, calibration_maps
from forecasts.calibration import LAMBDA, MIN_SCENARIOS
from forecasts.model import Floats, Resolution, RuleMatches, resolution_known
from forecasts.scoring import Scores, score
from forecasts.served import (
    ServedInput,
    ServedVersion,
    known_by,
    resolutions_known_by,
    served_chunk,
    with_series,
)
from forecasts.training import kinds_key
from service.projection.index import LogIndex
from service.projection.matcharrays import ORDER, Match, rule_arrays
from service.projection.matchindex import scan
from service.projection.versions import VersionMatches, model_of

CHUNK_WORK = 10_000_000
"""Work units (see ``ScenarioInput.work``) sent to the worker at once: a chunk takes
well under a second, which is how often progress can move and the lease be renewed."""
_encoder = msgspec.json.Encoder()
RUN_NAMESPACE = UUID("6f0d8a52-3c61-4d55-9a1e-2b8f3f1e7c40")


def run_id(request: BacktestRequest, position: int) -> UUID:
    """An id for a run that has none (the command line's): the same request over the
    same log (up to the same position) gives the same id, so the same bootstrap
    intervals. (Not the knowledge cut: the command line's is the time it runs.)"""
    return uuid5(RUN_NAMESPACE, f"{_encoder.encode(request).decode()}@{position}")


def grid_of(request: BacktestRequest) -> Floats:
    return grid(request.start.timestamp(), request.stop.timestamp(), request.step.total_seconds())


@dataclass(frozen=True)
class Estimate:
    """The work of a backtest as the index stands: an upper bound of what the run does."""

    work: int
    scenarios: int
    samples: int


def estimate(index: LogIndex, request: BacktestRequest) -> Estimate:
    """Grid points x rules, plus every rule's matches, summed over the scenarios that
    would be scored (resolved yes or no); as served, the largest version's rules and
    every version's matches. What-if rules count every event of their
    kinds as a match (they are matched only when the run starts)."""
    samples = int(grid_of(request).shape[0])
    work = scenarios = 0
    with index.reading():
        found = index.matches.scenarios
        ids = request.scenario_ids if request.scenario_ids is not None else list(found)
        for scenario_id in ids:
            scenario = found.get(scenario_id)
            if scenario is None or scenario.resolution is None:
                continue
            if scenario.resolution.outcome == "annulled":
                continue
            what_if = (request.rules or {}).get(scenario_id)
            if request.knowledge == "as_served":
                rules = max(len(v.definition.rules) for v in scenario.versions)
                matches = sum(len(m) for v in scenario.versions for m in v.found)
            elif what_if is None:
                rules = len(scenario.current.definition.rules)
                matches = sum(len(m) for m in scenario.current.found)
            else:
                rules = len(what_if)
                table = index.table
                matches = sum(table.count_of_kinds(frozenset(r.match.kinds())) for r in what_if)
            work += samples * rules + matches
            scenarios += 1
    return Estimate(work, scenarios, samples)


def snapshot(index: LogIndex, request: BacktestRequest, known: float) -> list[ScenarioInput]:
    """What each scored scenario needs. Under the index's lock a version's arrays are
    taken if it has them (never changed in place), else only its lists of matches are
    copied (shallow: the projection appends to them); sorting those and making arrays,
    a Python loop over every match, happens after the lock is let go."""
    with index.reading():
        scenarios = index.matches.scenarios
        ids = request.scenario_ids if request.scenario_ids is not None else sorted(scenarios)
        retracted = dict(index.matches.retracted)
        what_ifs = (request.rules or {}).values()
        events = index.event_tuples(k for rules in what_ifs for r in rules for k in r.match.kinds())
        picked = []
        for scenario_id in ids:
            scenario = scenarios.get(scenario_id)
            if scenario is None:
                continue
            version = scenario.version_known_at(known)
            resolution = resolution_known(scenario.resolutions, known)
            if version is None or resolution is None:
                continue
            if resolution.outcome == "annulled":
                continue
            picked.append((scenario, version, resolution))
        cached = {s.id: v.cached_arrays for s, v, _ in picked}
        found = {s.id: [list(rule) for rule in v.found] for s, v, _ in picked if not cached[s.id]}
    inputs = []
    for scenario, version, resolution in picked:
        model = version.model
        matches = cached[scenario.id] or _arrays_of(found[scenario.id], retracted)
        what_if = (request.rules or {}).get(scenario.id)
        if what_if is not None:
            definition = msgspec.structs.replace(version.definition, rules=what_if)
            model = model_of(definition, scenario.first_recorded)
            matches = rule_arrays(scan(what_if, events), retracted)
        inputs.append(
            ScenarioInput(
                scenario.id, resolution.outcome == "yes", resolution.resolved_at, model, matches
            )
        )
    return inputs


def served_snapshot(index: LogIndex, request: BacktestRequest, known: float) -> list[ServedInput]:
    """What each scored scenario needs as served (``forecasts.served``): every version
    recorded by ``known`` with its matches, and the resolutions, as the log stood at
    ``known``. Which scenarios are scored, their outcome and window: the version and
    resolution in force at ``known``. Taken as ``snapshot`` takes its inputs."""
    with index.reading():
        scenarios = index.matches.scenarios
        ids = request.scenario_ids if request.scenario_ids is not None else sorted(scenarios)
        retracted = dict(index.matches.retracted)
        picked = []
        for scenario_id in ids:
            scenario = scenarios.get(scenario_id)
            if scenario is None:
                continue
            current = scenario.version_known_at(known)
            resolution = resolution_known(scenario.resolutions, known)
            if current is None or resolution is None or resolution.outcome == "annulled":
                continue
            versions = [v for v in scenario.versions if v.recorded <= known]
            taken = [(v, *_taken(v)) for v in versions]
            picked.append((scenario.id, current, resolution, scenario.resolutions, taken))
    inputs = []
    for scenario_id, current, resolution, resolutions, taken in picked:
        served = [_served_version(v, a, f, retracted, known) for v, a, f in taken]
        end = min(resolution.resolved_at, current.model.deadline)
        outcome = resolution.outcome == "yes"
        inputs.append(
            ServedInput(
                scenario_id, outcome, current.model.opens_at, end, served,
                resolutions_known_by(resolutions, known),
            )
        )  # fmt: skip
    return inputs


def pool_snapshot(index: LogIndex, request: BacktestRequest, known: float) -> list[PoolInput]:
    """The calibration pool of a calibrated backtest: every scenario resolved yes or
    no under the cut ``known`` (not only the scored ones), with the request's what-if
    rules. In hindsight a scenario is admitted from its deadline (its resolution is
    known by the cut); as served from its deadline or when the resolution in force
    at the cut was recorded, whichever is later."""
    everyone = msgspec.structs.replace(request, scenario_ids=None)
    inputs = snapshot(index, everyone, known)
    with index.reading():
        scenarios = index.matches.scenarios
        facts: dict[str, tuple[tuple[str, ...], Resolution]] = {}
        for item in inputs:
            scenario = scenarios[item.scenario_id]
            version = scenario.version_known_at(known)
            resolution = resolution_known(scenario.resolutions, known)
            assert version is not None
            assert resolution is not None
            rules = (request.rules or {}).get(item.scenario_id, version.definition.rules)
            facts[item.scenario_id] = (tuple(kinds_key(r.match.kind) for r in rules), resolution)
    as_served = request.knowledge == "as_served"
    pool = []
    for item in inputs:
        kinds, resolution = facts[item.scenario_id]
        recorded_at = resolution.recorded_at if as_served else -np.inf
        pool.append(
            PoolInput(item.scenario_id, item.model, item.matches, kinds, resolution, recorded_at)
        )
    return pool


def maps_of(
    index: LogIndex, request: BacktestRequest, known: float, lam: float, min_scenarios: int
) -> Maps | None:
    """The calibration maps on the request's grid, in this process; None when the
    request is not calibrated."""
    if not request.calibrated:
        return None
    pool = pool_snapshot(index, request, known)
    return calibration_maps(pool, grid_of(request), known, lam, min_scenarios)


def _taken(version: VersionMatches) -> tuple[list[RuleMatches] | None, list[list[Match]]]:
    """The version's arrays if built, else a copy of its lists of matches."""
    cached = version.cached_arrays
    return cached, [] if cached is not None else [list(rule) for rule in version.found]


def _served_version(
    version: VersionMatches,
    cached: list[RuleMatches] | None,
    found: list[list[Match]],
    retracted: dict[UUID, float],
    known: float,
) -> ServedVersion:
    arrays = cached if cached is not None else _arrays_of(found, retracted)
    matches = [known_by(m, known) for m in arrays]
    return ServedVersion(version.recorded, version.model, matches)


def _arrays_of(found: list[list[Match]], retracted: dict[UUID, float]) -> list[RuleMatches]:
    return rule_arrays([sorted(rule, key=ORDER) for rule in found], retracted)


class Costed(Protocol):
    def work(self, samples: int) -> int: ...


Input = TypeVar("Input", bound=Costed)


def chunks(inputs: Sequence[Input], samples: int) -> list[tuple[list[Input], int]]:
    """Consecutive scenarios grouped into tasks of about ``CHUNK_WORK`` (a scenario is
    never split), each with its work."""
    out: list[tuple[list[Input], int]] = []
    current: list[Input] = []
    work = 0
    for item in inputs:
        current.append(item)
        work += item.work(samples)
        if work >= CHUNK_WORK:
            out.append((current, work))
            current, work = [], 0
    if current:
        out.append((current, work))
    return out


def evaluate(
    index: LogIndex,
    request: BacktestRequest,
    known: float,
    progress: Callable[[float], None] = lambda _: None,
    backtest_id: UUID | None = None,
    calibration: tuple[float, int] = (LAMBDA, MIN_SCENARIOS),
) -> Scores:
    """Score every resolved (yes/no) scenario of the request over its grid, in this
    process (the command line's ``tradewinds backtest``; the service uses the worker).
    Without ``backtest_id``, the bootstrap is seeded from ``run_id``. ``calibration``
    is (lambda, min_scenarios) for a calibrated request."""
    times = grid_of(request)
    seed = seed_of(backtest_id if backtest_id is not None else run_id(request, index.position))
    maps = maps_of(index, request, known, *calibration)
    if request.knowledge == "as_served":
        served_inputs = served_snapshot(index, request, known)
        served = []
        for i, served_input in enumerate(served_inputs):
            served.extend(served_chunk([served_input], times, maps))
            progress((i + 1) / len(served_inputs))
        return with_series(score([s.samples for s in served], seed), served)
    inputs = snapshot(index, request, known)
    samples = []
    for i, item in enumerate(inputs):
        samples.extend(scenario_samples([item], times, known, maps))
        progress((i + 1) / len(inputs))
    return score(samples, seed)


def scores_body(scores: Scores) -> str:
    return _encoder.encode(scores).decode()
