"""Every scenario's forecast (``GET /v1/forecasts``), and the caches of its "now".

The list "now" (the current time rounded down to the tick) is rebuilt only when
the projection changed a scenario (the index's ``generation``) or a new tick
began; a read-only poll is answered from the last completed evaluation of each
scenario while the stream evaluates the changed ones (``latest_now``).
"""

import threading
from typing import TYPE_CHECKING

from service.projection.versions import ScenarioMatches
from service.queries.bodies import encoder, etag_of
from service.queries.budget import UNLIMITED, Budget
from service.queries.snapshots import INF, NowSnapshot, Query, moment
from service.queries.views import Forecast, ForecastList

if TYPE_CHECKING:
    from service.queries.forecasting import Forecaster


class ForecastLists:
    """The forecaster's list answers, with the caches of the list "now"."""

    def __init__(self, forecaster: "Forecaster") -> None:
        self._forecaster = forecaster
        self._index = forecaster.index
        self._lock = threading.Lock()
        self._list_cache: tuple[tuple[float, int], bytes, str] | None = None
        self._latest_list: tuple[float, bytes, str] | None = None
        self._assembled: (
            tuple[tuple[float, tuple[tuple[str, int], ...], int], bytes, str] | None
        ) = None
        self.cache_hits = 0
        self.cache_misses = 0
        self.earlier_answers = 0

    def _now_answer(self, scenario: ScenarioMatches, query: Query) -> tuple[Forecast, int] | None:
        with self._index.reading():
            found = self._forecaster.now_or_snapshot(scenario, query)
        if isinstance(found, NowSnapshot):
            return self._forecaster.finish(found, query)
        return found

    def all(self, query: Query, *, cache: bool, budget: Budget = UNLIMITED) -> ForecastList:
        """Every scenario's forecast with its calibration; each evaluated on its own
        snapshot (the index lock is held only to copy it). Uncached, InvalidInput if they weigh more
        than ``read_max_matches`` together."""
        forecasts: list[Forecast] = []
        position = 0
        fitted = self._forecaster.calibrations.at(query.as_of, query.known, budget)
        with self._index.reading():
            scenarios = [
                self._index.matches.scenarios[s] for s in sorted(self._index.matches.scenarios)
            ]
        if not cache:
            weight = 0
            with self._index.reading():
                for scenario in scenarios:
                    version = scenario.version_known_at(query.known)
                    weight += 0 if version is None else sum(len(m) for m in version.found)
            self._forecaster.check_matches(weight, "the scenarios' rules match")
        for scenario in scenarios:
            budget.check()
            if cache:
                found = self._now_answer(scenario, query)
            else:
                evaluated = self._forecaster.evaluate(scenario, query, detail=False)
                found = None if evaluated is None else (evaluated[0], evaluated[2])
            if found is not None:
                forecasts.append(fitted.applied(found[0]))
                position = max(position, found[1])
        return ForecastList(
            as_of=moment(query.as_of),
            known_at=query.known_at,
            position=position,
            forecasts=forecasts,
        )

    def now_is_cached(self) -> bool:
        cached = self._list_cache
        return cached is not None and cached[0] == (
            self._forecaster.now(),
            self._index.matches.generation,
        )

    def all_now(self, budget: Budget = UNLIMITED) -> tuple[bytes, str]:
        """The body and ETag for ``GET /v1/forecasts`` now, rebuilt only on change."""
        key = (self._forecaster.now(), self._index.matches.generation)
        cached = self._list_cache
        if cached is not None and cached[0] == key:
            self.cache_hits += 1
            return cached[1], cached[2]
        self.cache_misses += 1
        with self._lock:
            cached = self._list_cache
            if cached is not None and cached[0] == key:
                return cached[1], cached[2]
            body = encoder.encode(self.all(Query(as_of=key[0]), cache=True, budget=budget))
            self._list_cache = (key, body, etag_of(body))
            self._latest_list = (key[0], body, self._list_cache[2])
        return body, self._list_cache[2]

    def latest_now(self) -> tuple[bytes, str] | None:
        """``GET /v1/forecasts`` now for a caller that needs no particular state of the
        log (a read-only key, no ``min_position``), without evaluating anything: from
        the last completed evaluation of each scenario at the current tick, even if the
        scenario changed since, while the ``refresher`` evaluates the changed ones (the
        stream does, at most every ``stream_min_interval_s``). The answer states what
        it reflects, as always (``as_of``, and ``position``: the newest record it
        depends on). Until every scenario has been evaluated at the current tick (just
        after the tick moved), the last list built, if of the tick before. None if
        there is no such answer: the caller evaluates (``all_now``).

        Under heavy batches the scenarios of millions of matches change with every
        turn of the projection: evaluating them per poll made each poll wait seconds
        for numpy work the stream does anyway. This takes no lock (it runs on the
        event loop): the generations are read as they are (a copy of the scenarios is
        one step of the interpreter), and each cached answer is whole."""
        as_of = self._forecaster.now()
        matches = self._index.matches
        key = (as_of, matches.generation)
        cached = self._list_cache
        if cached is not None and cached[0] == key:
            self.cache_hits += 1
            return cached[1], cached[2]
        refresher = self._forecaster.refresher
        if refresher is None or not refresher():
            return None
        scenarios = sorted((s.id, s.generation) for s in list(matches.scenarios.values()))
        found = self._latest_entries(as_of, scenarios)
        if found is None:
            return self._latest_list_of_last_tick(as_of)
        fitted = self._forecaster.calibrations.cached(as_of, INF)
        if fitted is None:
            return self._latest_list_of_last_tick(as_of)
        raw, position, current, used = found
        forecasts = [fitted.applied(f) for f in raw]
        assembled = self._assembled
        if assembled is not None and assembled[0] == (as_of, used, fitted.serial):
            body, etag = assembled[1], assembled[2]
        else:
            body = encoder.encode(
                ForecastList(
                    as_of=moment(as_of), known_at=None, position=position, forecasts=forecasts
                )
            )
            etag = etag_of(body)
            self._assembled = ((as_of, used, fitted.serial), body, etag)
        if current:
            self._list_cache = (key, body, etag)
        else:
            self.earlier_answers += 1
        self._latest_list = (as_of, body, etag)
        return body, etag

    def _latest_entries(
        self, as_of: float, scenarios: list[tuple[str, int]]
    ) -> tuple[list[Forecast], int, bool, tuple[tuple[str, int], ...]] | None:
        """Each scenario's last cached "now" answer at ``as_of`` (None if one has none),
        the newest position among them, whether all are of the scenario's current
        generation, and which answers they are (scenario, generation): while they
        are the same, so is the body (``latest_now`` encodes it once)."""
        forecasts: list[Forecast] = []
        used: list[tuple[str, int]] = []
        position = 0
        current = True
        for scenario_id, generation in scenarios:
            cached = self._forecaster.now_answers.get(scenario_id)
            if cached is None or cached[0][0] != as_of:
                return None
            current = current and cached[0][1] >= generation
            forecasts.append(cached[1])
            used.append((scenario_id, cached[0][1]))
            position = max(position, cached[2])
        return forecasts, position, current, tuple(used)

    def _latest_list_of_last_tick(self, as_of: float) -> tuple[bytes, str] | None:
        latest = self._latest_list
        if latest is None or not as_of - self._forecaster.tick <= latest[0] <= as_of:
            return None
        self.earlier_answers += 1
        return latest[1], latest[2]
