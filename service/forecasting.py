"""Forecasts from the in-memory index: one scenario, all of them, or a history.

The model lives in ``forecasts.model``; this module picks, for a knowledge cut,
the version and the matches that apply, and shapes the answer. The answer for
"now" (the current time rounded down to the tick) is cached per scenario and
rebuilt only when the projection changed that scenario (its ``generation``)
or a new tick began.
"""

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import msgspec
import numpy as np

from domain.errors import FieldError, InvalidInput
from forecasts.backtest import grid
from forecasts.grid import grid_terms
from forecasts.model import (
    Z80,
    Z95,
    Status,
    interval,
    probabilities,
    status_at,
    terms,
)
from service.api.schemas import (
    Contribution,
    Forecast,
    ForecastDetail,
    ForecastList,
    History,
    HistoryPoint,
)
from service.index import LogIndex
from service.log import EventLog
from service.matchindex import ScenarioMatches, VersionMatches

INF = float("inf")
DRIVERS = 5
_encoder = msgspec.json.Encoder()


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _pair(lo: float, hi: float) -> tuple[float, float]:
    return (float(lo), float(hi))


@dataclass(frozen=True)
class Query:
    as_of: float
    known: float = INF

    @property
    def known_at(self) -> datetime | None:
        return None if self.known == INF else _time(self.known)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


class Forecaster:
    def __init__(self, log: EventLog, clock: Callable[[], datetime], tick_seconds: float) -> None:
        self.log = log
        self.index: LogIndex = log.index
        self.clock = clock
        self.tick = tick_seconds
        self._lock = threading.Lock()
        self._scenario_cache: dict[str, tuple[tuple[float, int], Forecast, int]] = {}
        self._list_cache: tuple[tuple[float, int], bytes, str] | None = None
        self.cache_hits = 0
        self.cache_misses = 0

    def now(self) -> float:
        """The current time rounded down to the tick."""
        current = self.clock().timestamp()
        return current - current % self.tick

    # --- one scenario ----------------------------------------------------------

    def _position(self, scenario: ScenarioMatches, version: VersionMatches, known: float) -> int:
        positions = [version.position]
        if scenario.resolution is not None and scenario.resolution.recorded_at <= known:
            positions.append(scenario.resolution_position)
        retractions = self.index.matches.retraction_positions
        for rule_matches in version.matches:
            for m in rule_matches:
                if m.recorded <= known:
                    positions.append(m.position)
                    retraction = retractions.get(m.event_id)
                    if retraction is not None and retraction[0] <= known:
                        positions.append(retraction[1])
        return max(positions)

    def evaluate(
        self, scenario: ScenarioMatches, query: Query, *, detail: bool
    ) -> tuple[Forecast, list[Contribution], int] | None:
        """The forecast at ``query``; None if no version was known at the cut."""
        version = scenario.version_known_at(query.known)
        if version is None:
            return None
        model = version.model
        t = np.array([query.as_of])
        arrays = version.arrays(self.index.matches.retracted)
        status = status_at(t, model.deadline, scenario.resolution, query.known)
        found = terms(model, arrays, t, query.known)
        p = float(probabilities(found.log_odds, status)[0])
        state = cast(Status, str(status[0]))
        contributions: list[Contribution] = []
        logit = lo80 = lo95 = None
        if state == "open":
            logit = float(found.log_odds[0])
            lo80 = _pair(*(x[0] for x in interval(found.log_odds, found.variance, Z80)))
            lo95 = _pair(*(x[0] for x in interval(found.log_odds, found.variance, Z95)))
            contributions = self._contributions(version, found.weights, found.counted)
            contributions.append(Contribution(kind="time", log_odds=float(found.time_term[0])))
        events = [c for c in contributions if c.kind == "event"]
        drivers = sorted(events, key=lambda c: -abs(c.log_odds))[:DRIVERS]
        forecast = Forecast(
            scenario_id=scenario.id,
            title=version.definition.title,
            version=version.version,
            status=state,
            deadline=version.definition.deadline,
            probability=None if np.isnan(p) else p,
            logit=logit,
            interval80=lo80,
            interval95=lo95,
            drivers=drivers,
        )
        return (
            forecast,
            contributions if detail else [],
            self._position(scenario, version, query.known),
        )

    def _contributions(
        self, version: VersionMatches, weights: list[np.ndarray], counted: list[np.ndarray]
    ) -> list[Contribution]:
        model = version.model
        rows: list[tuple[float, int, int, Contribution]] = []
        for r, (rule, rule_matches) in enumerate(zip(model.rules, version.matches, strict=True)):
            for m, match in enumerate(rule_matches):
                if not counted[r][0, m]:
                    continue
                event = self.index.table.get(match.event_id)
                contribution = Contribution(
                    kind="event",
                    log_odds=float(rule.ln_b * weights[r][0, m]),
                    rule=rule.name,
                    event_id=match.event_id,
                    occurred_at=event.occurred_at,
                    summary=event.summary,
                )
                rows.append((match.occurred, match.position, r, contribution))
        rows.sort(key=lambda row: row[:3])
        prior = Contribution(kind="prior", log_odds=model.prior_logit)
        return [prior, *(row[3] for row in rows)]

    # --- answers ------------------------------------------------------------------

    def one(self, scenario_id: str, query: Query) -> ForecastDetail | None:
        scenario = self.index.matches.scenarios.get(scenario_id)
        if scenario is None:
            return None
        with self.index.reading():
            found = self.evaluate(scenario, query, detail=True)
        if found is None:
            return None
        forecast, contributions, position = found
        return ForecastDetail(
            **msgspec.structs.asdict(forecast),
            as_of=_time(query.as_of),
            known_at=query.known_at,
            position=position,
            contributions=contributions,
        )

    def _cached(self, scenario: ScenarioMatches, query: Query) -> tuple[Forecast, int] | None:
        key = (query.as_of, scenario.generation)
        hit = self._scenario_cache.get(scenario.id)
        if hit is not None and hit[0] == key:
            return hit[1], hit[2]
        found = self.evaluate(scenario, query, detail=False)
        if found is None:
            return None
        self._scenario_cache[scenario.id] = (key, found[0], found[2])
        return found[0], found[2]

    def all(self, query: Query, *, cache: bool) -> ForecastList:
        forecasts: list[Forecast] = []
        position = 0
        with self.index.reading():
            for scenario_id in sorted(self.index.matches.scenarios):
                scenario = self.index.matches.scenarios[scenario_id]
                if cache:
                    found = self._cached(scenario, query)
                else:
                    evaluated = self.evaluate(scenario, query, detail=False)
                    found = None if evaluated is None else (evaluated[0], evaluated[2])
                if found is not None:
                    forecasts.append(found[0])
                    position = max(position, found[1])
        return ForecastList(
            as_of=_time(query.as_of),
            known_at=query.known_at,
            position=position,
            forecasts=forecasts,
        )

    def now_is_cached(self) -> bool:
        cached = self._list_cache
        return cached is not None and cached[0] == (self.now(), self.index.matches.generation)

    def all_now(self) -> tuple[bytes, str]:
        """The body and ETag for ``GET /v1/forecasts`` now, rebuilt only on change."""
        key = (self.now(), self.index.matches.generation)
        cached = self._list_cache
        if cached is not None and cached[0] == key:
            self.cache_hits += 1
            return cached[1], cached[2]
        self.cache_misses += 1
        with self._lock:
            body = _encoder.encode(self.all(Query(as_of=key[0]), cache=True))
            self._list_cache = (key, body, etag_of(body))
        return body, self._list_cache[2]

    def history(
        self,
        scenario_id: str,
        start: float | None,
        stop: float,
        step: float,
        known: float,
        max_points: int,
    ) -> History | None:
        scenario = self.index.matches.scenarios.get(scenario_id)
        if scenario is None:
            return None
        with self.index.reading():
            version = scenario.version_known_at(known)
            if version is None:
                return None
            model = version.model
            first = model.opens_at if start is None else start
            if stop >= first and (stop - first) / step + 1 > max_points + 1:
                msg = f"more than {max_points} points: use a longer step"
                raise InvalidInput([FieldError("step", msg)])
            t = grid(first, stop, step)
            if t.shape[0] > max_points:
                msg = f"{t.shape[0]} points is more than {max_points}: use a longer step"
                raise InvalidInput([FieldError("step", msg)])
            count = t.shape[0]
            arrays = version.arrays(self.index.matches.retracted)
            status = status_at(t, model.deadline, scenario.resolution, known)
            log_odds, variance = grid_terms(model, arrays, t, known)
        p = probabilities(log_odds, status)
        lo, hi = interval(log_odds, variance, Z80)
        points = [
            HistoryPoint(
                t=_time(float(t[i])),
                probability=None if np.isnan(p[i]) else float(p[i]),
                interval80=_pair(lo[i], hi[i]) if status[i] == "open" else None,
            )
            for i in range(count)
        ]
        return History(scenario_id=scenario_id, points=points)
