"""A resuming subscriber's first chunk: the changes it missed, computed from the log.

A subscriber that resumes after a position L (``Last-Event-ID``) is registered
by the notifier itself, under the index lock, at the notifier's head H: first
the changes in (L, H] are computed from the log (knowledge cuts at the
``recorded_at`` of each record a scenario depends on, evaluated at the
notifier's current tick), then it receives live changes, which all come after
H. So nothing is missed or repeated at the seam. A resume from further back
than ``stream_horizon_positions`` (or from a position this replica has not
reached) gets a ``reset`` event and the current state instead.
"""

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from forecasts.points import forecast_points
from service.projection.matchindex import MatchIndex
from service.projection.versions import ScenarioMatches
from service.queries.sse import Served, StreamForecast, reset_event, sse_run
from service.queries.subscribers import Subscriber


@dataclass(frozen=True)
class Replay:
    """The notifier's state at a step, for the caller holding the index lock: the
    match index, the head and tick of its last evaluation, what it served last."""

    matches: MatchIndex
    head: int
    tick: float
    served: dict[str, Served]

    def first_chunk(self, subscriber: Subscriber, horizon: int, max_cuts: int) -> bytes:
        """A new subscriber's first chunk: the changes after its ``after``, replayed,
        or a reset and the current state."""
        after = subscriber.after
        if after is None:
            return self._snapshot(subscriber, "start")
        if after > self.head:
            return self._snapshot(subscriber, "ahead")
        if self.head - after > horizon:
            return self._snapshot(subscriber, "horizon")
        plans = [
            (scenario, _cuts(self.matches, scenario, after))
            for scenario in self.matches.scenarios.values()
            if subscriber.watches(scenario.id)
        ]
        if sum(len(cuts) for _, cuts in plans) > max_cuts:
            return self._snapshot(subscriber, "horizon")
        replayed: list[Served] = []
        for scenario, cuts in plans:
            replayed.extend(self._replay(scenario, cuts))
        replayed.sort(key=lambda s: (s.event_id, s.forecast.scenario_id))
        return sse_run(replayed)

    def _snapshot(
        self, subscriber: Subscriber, reason: Literal["start", "horizon", "ahead"]
    ) -> bytes:
        current = [
            Served(forecast=s.forecast, event_id=self.head, cause=s.cause)
            for scenario_id, s in sorted(self.served.items())
            if subscriber.watches(scenario_id)
        ]
        return reset_event(self.head, reason, with_id=not current) + sse_run(current)

    def _replay(self, scenario: ScenarioMatches, cuts: list[float]) -> list[Served]:
        """The changes of one scenario's served numbers at these knowledge cuts (see
        ``_cuts``), each compared with the one before. The numbers are the model's, as
        ``Forecaster.evaluate`` computes them, without its contributions (a replay
        evaluates a scenario once per commit that moved it)."""
        if not cuts:
            return []
        deps = sorted((r, p) for p, r in _dependencies(self.matches, scenario))
        at = bisect.bisect_left(deps, (cuts[0], -1))
        newest = max((p for _, p in deps[:at]), default=0)
        previous = self._numbers(scenario, math.nextafter(cuts[0], -math.inf), newest)
        out: list[Served] = []
        for cut in cuts:
            while at < len(deps) and deps[at][0] <= cut:
                newest = max(newest, deps[at][1])
                at += 1
            current = self._numbers(scenario, cut, newest)
            if current is None or current.forecast.position > self.head:
                continue
            if previous is None or previous.key != current.key:
                out.append(current)
            previous = current
        return out

    def _numbers(self, scenario: ScenarioMatches, known: float, position: int) -> Served | None:
        """Probability, intervals and status at the current tick, known at ``known``."""
        version = scenario.version_known_at(known)
        if version is None:
            return None
        t = np.array([self.tick])
        arrays = version.arrays(self.matches.retracted)
        point = forecast_points(version.model, arrays, t, known, scenario.resolutions).point(0)
        forecast = StreamForecast(
            scenario_id=scenario.id,
            probability=point.probability,
            interval80=point.interval80,
            interval95=point.interval95,
            status=point.status,
            position=position,
            as_of=datetime.fromtimestamp(self.tick, UTC),
        )
        return Served(forecast, position, "records")


def _cuts(matches: MatchIndex, scenario: ScenarioMatches, after: int) -> list[float]:
    """The knowledge cuts at which a scenario's numbers may have changed after position
    ``after``: the ``recorded_at`` of each commit that holds a record it depends on."""
    return sorted({r for p, r in _dependencies(matches, scenario) if p > after})


def _dependencies(matches: MatchIndex, scenario: ScenarioMatches) -> Iterable[tuple[int, float]]:
    """(position, recorded_at) of every record the scenario's numbers depend on."""
    retractions = matches.retraction_positions
    for version in scenario.versions:
        yield version.position, version.recorded
        for rule_matches in version.found:
            for m in rule_matches:
                yield m.position, m.recorded
                retraction = retractions.get(m.event_id)
                if retraction is not None:
                    yield retraction[1], retraction[0]
    yield from scenario.resolution_records
