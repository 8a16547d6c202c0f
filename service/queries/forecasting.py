"""Forecasts from the in-memory index: the ``Forecaster`` the API and the stream read.

The model lives in ``forecasts``; the forecaster picks, for a knowledge cut, the
version and the matches that apply (``snapshots``), evaluates them
(``evaluation``) and shapes the answer. The answer for "now" (the current time
rounded down to the tick) is cached per scenario and rebuilt only when the
projection changed that scenario (its ``generation``) or a new tick began; the
list answers and their caches are ``lists``, a history is ``history``. Every
answer carries its calibration (``calibration``: fitted on the closed scenarios,
cached apart, since other scenarios move it); the cached "now" forecasts are kept
without it and it is added when they are served.

The API runs every read that is not a cached "now" through ``Forecaster.heavy``
(``budget``: worker threads, a shared limiter, a time budget) and checks its
size first (``read_max_matches``, ``history_max_cost``); a detail poll of an
unchanged scenario is answered from its last body (``cached_one``).
"""

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import anyio
import msgspec

from domain.errors import FieldError, InvalidInput
from service.persistence.eventlog import EventLog
from service.projection.index import LogIndex
from service.projection.versions import ScenarioMatches
from service.queries.bodies import encoder, etag_of
from service.queries.budget import UNLIMITED, Budget, run_heavy
from service.queries.calibration import Calibrations, Fitted
from service.queries.evaluation import Evaluated, Page, evaluate
from service.queries.history import HistoryRange, history_of, with_calibrated
from service.queries.lists import ForecastLists
from service.queries.snapshots import INF, NowSnapshot, Query, Snapshot, Taken, moment, taken_of
from service.queries.views import Contribution, Forecast, ForecastDetail, ForecastList, History

T = TypeVar("T")

OneKey = tuple[float, int, int, int | None, int]
"""A detail answer's cache key: as_of, the scenario's generation, the page, the
calibration's serial."""

LIGHT_MATCHES = 10_000
"""A scenario with at most this many matches is read without waiting for a heavy-read
slot (its evaluation is a few milliseconds)."""


class Forecaster:
    """Reads forecasts off the index. The heavy ones (anything but a cached "now")
    go through ``heavy``: one shared ``CapacityLimiter`` of
    ``heavy_read_slots`` worker threads, each read within ``heavy_read_budget_s``
    (waiting included), so they queue instead of starving the event loop."""

    def __init__(
        self, eventlog: EventLog, clock: Callable[[], datetime], tick_seconds: float
    ) -> None:
        self.eventlog = eventlog
        self.index: LogIndex = eventlog.index
        self.clock = clock
        self.tick = tick_seconds
        self.settings = eventlog.settings
        self.limiter = anyio.CapacityLimiter(self.settings.heavy_read_slots)
        self._entries_lock = threading.Lock()
        self.now_answers: dict[str, tuple[tuple[float, int], Forecast, int]] = {}
        """Per scenario, its last "now" answer: ((as_of, generation), forecast, position)."""
        self._one_cache: dict[str, tuple[OneKey, bytes, str]] = {}
        self.refresher: Callable[[], bool] | None = None
        """Whether something (the forecast stream) is evaluating every scenario that
        changed, promptly: only then is an earlier evaluation served (``latest_now``)."""
        self.calibrations = Calibrations(
            self.index,
            self.settings.calibration_lambda,
            self.settings.calibration_min_scenarios,
        )
        self.lists = ForecastLists(self)

    def now(self) -> float:
        """The current time rounded down to the tick."""
        current = self.clock().timestamp()
        return current - current % self.tick

    def is_light(self, scenario_id: str) -> bool:
        """Whether a read of this scenario is small enough (its newest version has
        at most ``LIGHT_MATCHES`` matches) to skip the queue of heavy reads: a
        scenario of a few rules must not wait behind lists of thousands of rules."""
        scenario = self.index.matches.scenarios.get(scenario_id)
        if scenario is None or not scenario.versions:
            return True
        return sum(len(found) for found in scenario.current.found) <= LIGHT_MATCHES

    async def heavy(self, work: Callable[[Budget], T], *, light: bool = False) -> T:
        """``work(budget)`` in a worker thread, once one of the shared slots is free
        (``budget.run_heavy``; a ``light`` read takes no slot)."""
        seconds = self.settings.heavy_read_budget_s
        return await run_heavy(self.limiter, seconds, work, light=light)

    # --- one scenario ----------------------------------------------------------

    def snapshot(self, scenario: ScenarioMatches, known: float) -> Snapshot | None:
        """What a read at this knowledge cut needs; None if no version was known at
        the cut. Only ``taken`` holds the index lock."""
        with self.index.reading():
            taken = self.taken(scenario, known)
        return None if taken is None else taken.snapshot(self.index.matches)

    def taken(self, scenario: ScenarioMatches, known: float) -> Taken | None:
        """``snapshots.taken_of``, for a caller that holds the index lock."""
        return taken_of(self.index.matches, scenario, known)

    def evaluate(
        self, scenario: ScenarioMatches, query: Query, *, detail: bool
    ) -> tuple[Forecast, list[Contribution], int] | None:
        """The forecast at ``query`` (without its calibration); None if no version was
        known at the cut. With ``detail``, every contribution."""
        snapshot = self.snapshot(scenario, query.known)
        if snapshot is None:
            return None
        found = self._evaluate(snapshot, query, Page() if detail else None)
        return found.forecast, found.contributions, found.position

    def _evaluate(self, snapshot: Snapshot, query: Query, page: Page | None) -> Evaluated:
        return evaluate(snapshot, query, page, self.index.table)

    # --- answers ------------------------------------------------------------------

    def one(
        self,
        scenario_id: str,
        query: Query,
        page: Page | None = None,
        budget: Budget = UNLIMITED,
        fitted: Fitted | None = None,
    ) -> ForecastDetail | None:
        """One forecast with its contributions (a ``page`` of the events: all by
        default) and its calibration (``fitted``: found at the query by default);
        InvalidInput if it weighs more than ``read_max_matches``."""
        scenario = self.index.matches.scenarios.get(scenario_id)
        if scenario is None:
            return None
        snapshot = self.snapshot(scenario, query.known)
        if snapshot is None:
            return None
        self.check_matches(snapshot.matches, f"scenario {scenario_id}'s rules match")
        budget.check()
        found = self._evaluate(snapshot, query, page or Page())
        if fitted is None:
            fitted = self.calibrations.at(query.as_of, query.known, budget)
        return ForecastDetail(
            **msgspec.structs.asdict(fitted.applied(found.forecast)),
            as_of=moment(query.as_of),
            known_at=query.known_at,
            position=found.position,
            contributions=found.contributions,
            contributions_total=found.total,
            contributions_omitted=found.omitted,
            explained=found.explained,
        )

    def cached_one(self, scenario_id: str, query: Query, page: Page) -> tuple[bytes, str] | None:
        """The body (and ETag) ``one_encoded`` answered last for this scenario, if for
        the same query and page and the scenario has not changed since (its
        ``generation``): a poll of a scenario that heavy batches do not touch is
        answered without a worker thread or the index lock."""
        fitted = None if query.known != INF else self.calibrations.cached(query.as_of, INF)
        key = None if fitted is None else self._one_key(scenario_id, query, page, fitted)
        hit = self._one_cache.get(scenario_id)
        if key is None or hit is None or hit[0] != key:
            return None
        return hit[1], hit[2]

    def one_encoded(
        self, scenario_id: str, query: Query, page: Page, budget: Budget = UNLIMITED
    ) -> bytes | None:
        """``one``, encoded; remembered for ``cached_one`` (without a knowledge cut:
        the answer at ``as_of`` is then a function of the scenario's generation). The
        key's generation is read before the snapshot: the answer is at least as new."""
        fitted = self.calibrations.at(query.as_of, query.known, budget)
        key = self._one_key(scenario_id, query, page, fitted)
        forecast = self.one(scenario_id, query, page, budget, fitted)
        if forecast is None:
            return None
        body = encoder.encode(forecast)
        if key is not None:
            self._one_cache[scenario_id] = (key, body, etag_of(body))
        return body

    def _one_key(self, scenario_id: str, query: Query, page: Page, fitted: Fitted) -> OneKey | None:
        scenario = self.index.matches.scenarios.get(scenario_id)
        if scenario is None or query.known != INF:
            return None
        return (query.as_of, scenario.generation, page.offset, page.limit, fitted.serial)

    def check_matches(self, matches: int, what: str) -> None:
        cap = self.settings.read_max_matches
        if matches > cap:
            msg = (
                f"{what} {matches} events, more than one read evaluates ({cap},"
                " TRADEWINDS_READ_MAX_MATCHES): narrow the rules' matches, or read"
                " the scenarios one at a time"
            )
            raise InvalidInput([FieldError("", msg)])

    def now_or_snapshot(
        self, scenario: ScenarioMatches, query: Query
    ) -> tuple[Forecast, int] | NowSnapshot | None:
        """The cached answer (forecast, position) at ``query``, or else the snapshot
        to evaluate it from (``finish``, after the index lock is let go); None if no
        version was known. The caller holds the index lock: the key (the scenario's
        ``generation``) and the snapshot are of the same state."""
        key = (query.as_of, scenario.generation)
        hit = self.now_answers.get(scenario.id)
        if hit is not None and hit[0] == key:
            return hit[1], hit[2]
        taken = self.taken(scenario, query.known)
        return None if taken is None else NowSnapshot(key, taken)

    def finish(self, pending: NowSnapshot, query: Query) -> tuple[Forecast, int]:
        """Evaluate a "now" answer from its snapshot (no lock needed) and cache it
        (without its calibration, which other scenarios move: the callers add it,
        ``Fitted.applied``)."""
        found = self._evaluate(pending.taken.snapshot(self.index.matches), query, None)
        scenario_id = pending.taken.scenario_id
        with self._entries_lock:
            cached = self.now_answers.get(scenario_id)
            if cached is None or cached[0] <= pending.key:
                self.now_answers[scenario_id] = (pending.key, found.forecast, found.position)
        return found.forecast, found.position

    # --- every scenario -----------------------------------------------------------

    def all(self, query: Query, *, cache: bool, budget: Budget = UNLIMITED) -> ForecastList:
        """``ForecastLists.all``: every scenario's forecast."""
        return self.lists.all(query, cache=cache, budget=budget)

    def now_is_cached(self) -> bool:
        return self.lists.now_is_cached()

    def all_now(self, budget: Budget = UNLIMITED) -> tuple[bytes, str]:
        """``ForecastLists.all_now``: the list now, rebuilt only on change."""
        return self.lists.all_now(budget)

    def latest_now(self) -> tuple[bytes, str] | None:
        """``ForecastLists.latest_now``: the list now from the last evaluations."""
        return self.lists.latest_now()

    @property
    def cache_hits(self) -> int:
        return self.lists.cache_hits

    @property
    def cache_misses(self) -> int:
        return self.lists.cache_misses

    # --- a history ------------------------------------------------------------------

    def history(
        self,
        scenario_id: str,
        start: float | None,
        stop: float,
        step: float,
        known: float,
        max_points: int,
        budget: Budget = UNLIMITED,
        *,
        calibrated: bool = False,
    ) -> History | None:
        """The forecast on the grid from ``start`` (default: opens_at) to ``stop``
        (``history.history_of``; InvalidInput if too large); with ``calibrated``,
        each point's calibrated probability by the calibration in force at its time
        under the same cut (``with_calibrated``)."""
        scenario = self.index.matches.scenarios.get(scenario_id)
        if scenario is None:
            return None
        snapshot = self.snapshot(scenario, known)
        if snapshot is None:
            return None
        asked = HistoryRange(start, stop, step, known, max_points)
        history = history_of(snapshot, asked, self.settings.history_max_cost, budget)
        return with_calibrated(history, self.calibrations, known, budget) if calibrated else history
