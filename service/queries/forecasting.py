"""Forecasts from the in-memory index: one scenario, all of them, or a history.

The model lives in ``forecasts.model``; this module picks, for a knowledge cut,
the version and the matches that apply, and shapes the answer. The answer for
"now" (the current time rounded down to the tick) is cached per scenario and
rebuilt only when the projection changed that scenario (its ``generation``)
or a new tick began.

A read takes what it needs under the index lock (``Taken``: the version and its
match arrays as of now, merged after the lock is let go) and computes outside
it (``Snapshot``: the arrays, never changed in place, and the answer's
position), so the projection is held off only for the taking. The API runs
every read that is not a cached "now" through ``Forecaster.heavy`` (worker
threads, a shared limiter, a time budget) and checks its size first
(``read_max_matches``, ``history_max_cost``); a read-only list poll is answered
from the last completed evaluations while the stream evaluates the changed
scenarios (``latest_now``), and a detail poll of an unchanged scenario from its
last body (``cached_one``). A detail answer lists a page of its event
contributions; drivers are picked with numpy, not from the list.
"""

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import anyio
import msgspec
import numpy as np
from anyio import to_thread

from domain.errors import FieldError, InvalidInput
from forecasts.backtest import grid
from forecasts.grid import grid_cost
from forecasts.model import (
    Floats,
    Ints,
    RuleMatches,
    RuleModel,
    ScenarioModel,
    Terms,
)
from forecasts.model import Resolution as ModelResolution
from forecasts.points import forecast_points
from service.persistence.eventlog import EventLog
from service.projection.index import LogIndex
from service.projection.matchindex import (
    Built,
    EventIds,
    Pending,
    ScenarioMatches,
    VersionMatches,
    built_of,
)
from service.queries.views import (
    Contribution,
    ContributionsOmitted,
    Forecast,
    ForecastDetail,
    ForecastList,
    History,
    HistoryPoint,
)

INF = float("inf")
DRIVERS = 5
T = TypeVar("T")
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


class ReadOverBudget(Exception):
    """A heavy read waited for a slot, or worked, past its budget (HTTP 503 with
    Retry-After): it is stopped rather than left to hold up other reads."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True)
class Budget:
    """When a heavy read must be done by (``time.monotonic``); ``check`` is called
    between steps of the work, since a thread cannot be stopped from outside."""

    deadline: float
    seconds: float

    @staticmethod
    def starting(seconds: float) -> "Budget":
        return Budget(time.monotonic() + seconds, seconds)

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            msg = (
                f"this read took longer than its budget of {self.seconds:g} s"
                " (TRADEWINDS_HEAVY_READ_BUDGET_S) and was stopped: other heavy reads"
                " are running, or this one asks for much (a shorter range or a longer"
                " step makes a history cheaper); retry later"
            )
            raise ReadOverBudget(msg, _retry_after(self.seconds))


UNLIMITED = Budget(INF, INF)


def _retry_after(budget: float) -> int:
    return max(1, min(60, round(budget / 2)))


@dataclass(frozen=True)
class Page:
    """Which event contributions a detail answer lists (all by default)."""

    offset: int = 0
    limit: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """What one read needs of the index, copied under its lock: the arrays are
    never changed in place, so the model runs on them after the lock is let go."""

    scenario_id: str
    version: VersionMatches
    arrays: list[RuleMatches]
    event_ids: list[EventIds]
    resolution: ModelResolution | None
    position: int

    @property
    def matches(self) -> int:
        return sum(len(a) for a in self.arrays)


@dataclass(frozen=True)
class Taken:
    """A snapshot as taken under the index lock (``Forecaster.taken``): the arrays
    still to merge, which ``snapshot`` does after the lock is let go."""

    scenario_id: str
    version: VersionMatches
    state: Built | Pending
    resolution: ModelResolution | None
    resolution_position: int
    known: float

    def snapshot(self, forecaster: "Forecaster") -> Snapshot:
        arrays, event_ids, _ = built_of(self.state)
        position = forecaster.position_of(self, arrays, event_ids)
        return Snapshot(
            self.scenario_id, self.version, arrays, event_ids, self.resolution, position
        )


@dataclass(frozen=True)
class NowSnapshot:
    """A "now" answer not in the cache: what was taken of the index and the cache key
    it was taken at (``Forecaster.now_or_snapshot``), evaluated outside the lock by
    ``finish``."""

    key: tuple[float, int]
    taken: Taken


@dataclass(frozen=True)
class Evaluated:
    forecast: Forecast
    contributions: list[Contribution]
    total: int
    omitted: ContributionsOmitted | None
    position: int


@dataclass(frozen=True)
class EventTerms:
    """Every counted match's contribution at one time, as parallel arrays (rule
    index, index among the rule's matches, ln odds, and the order keys)."""

    rule: Ints
    match: Ints
    log_odds: Floats
    occurred: Floats
    position: Ints

    def canonical(self) -> Ints:
        """Indices in the order contributions are listed: (occurred, position, rule)."""
        return np.lexsort((self.rule, self.position, self.occurred))

    def largest(self, count: int) -> Ints:
        """The ``count`` largest by |ln odds|, ties in the listing order."""
        size = self.log_odds.shape[0]
        magnitude = np.abs(self.log_odds)
        if size > count:
            kth = np.partition(magnitude, size - count)[size - count]
            candidates = np.nonzero(magnitude >= kth)[0]
        else:
            candidates = np.arange(size)
        order = np.lexsort(
            (
                self.rule[candidates],
                self.position[candidates],
                self.occurred[candidates],
                -magnitude[candidates],
            )
        )
        return candidates[order][:count]


def _event_terms(
    model_rules: tuple[RuleModel, ...], arrays: list[RuleMatches], found: Terms
) -> EventTerms:
    rules, matches, log_odds, occurred, positions = [], [], [], [], []
    for r, (rule, rule_matches) in enumerate(zip(model_rules, arrays, strict=True)):
        counted = np.nonzero(found.counted[r][0])[0]
        rules.append(np.full(counted.shape[0], r, dtype=np.int64))
        matches.append(counted.astype(np.int64))
        log_odds.append(rule.ln_b * found.weights[r][0, counted])
        occurred.append(rule_matches.occurred[counted])
        positions.append(rule_matches.position[counted])
    if not rules:
        empty = np.empty(0, dtype=np.int64)
        return EventTerms(empty, empty, np.empty(0), np.empty(0), empty)
    return EventTerms(
        rule=np.concatenate(rules),
        match=np.concatenate(matches),
        log_odds=np.concatenate(log_odds).astype(np.float64),
        occurred=np.concatenate(occurred),
        position=np.concatenate(positions),
    )


OneKey = tuple[float, int, int, int | None]
"""A detail answer's cache key: as_of, the scenario's generation, the page."""

LIGHT_MATCHES = 10_000
"""A scenario with at most this many matches is read without waiting for a heavy-read
slot (its evaluation is a few milliseconds)."""


class Forecaster:
    """Reads forecasts off the index. The heavy ones (anything but a cached "now")
    go through ``heavy``: one shared ``CapacityLimiter`` of
    ``heavy_read_slots`` worker threads, each read within ``heavy_read_budget_s``
    (waiting included), so they queue instead of starving the event loop."""

    def __init__(self, log: EventLog, clock: Callable[[], datetime], tick_seconds: float) -> None:
        self.log = log
        self.index: LogIndex = log.index
        self.clock = clock
        self.tick = tick_seconds
        self.settings = log.settings
        self.limiter = anyio.CapacityLimiter(self.settings.heavy_read_slots)
        self._lock = threading.Lock()
        self._entries_lock = threading.Lock()
        self._scenario_cache: dict[str, tuple[tuple[float, int], Forecast, int]] = {}
        self._list_cache: tuple[tuple[float, int], bytes, str] | None = None
        self._latest_list: tuple[float, bytes, str] | None = None
        self._one_cache: dict[str, tuple[OneKey, bytes, str]] = {}
        self._assembled: tuple[tuple[float, tuple[tuple[str, int], ...]], bytes, str] | None = None
        self.refresher: Callable[[], bool] | None = None
        """Whether something (the forecast stream) is evaluating every scenario that
        changed, promptly: only then is an earlier evaluation served (``latest_now``)."""
        self.cache_hits = 0
        self.cache_misses = 0
        self.earlier_answers = 0

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
        (a ``light`` read takes no slot); ReadOverBudget if the budget passes while
        waiting (or, checked by the work, while working)."""
        seconds = self.settings.heavy_read_budget_s
        budget = Budget.starting(seconds)
        if light:
            budget.check()
            return await to_thread.run_sync(work, budget)
        acquired = False
        with anyio.move_on_after(seconds):
            await self.limiter.acquire()
            acquired = True
        if not acquired:
            msg = (
                f"every one of the {self.limiter.total_tokens:g} slots for heavy reads"
                f" (TRADEWINDS_HEAVY_READ_SLOTS) stayed busy for this read's budget of"
                f" {seconds:g} s (TRADEWINDS_HEAVY_READ_BUDGET_S); retry later"
            )
            raise ReadOverBudget(msg, _retry_after(seconds))
        try:
            return await to_thread.run_sync(work, budget)
        finally:
            self.limiter.release()

    # --- one scenario ----------------------------------------------------------

    def snapshot(self, scenario: ScenarioMatches, known: float) -> Snapshot | None:
        """What a read at this knowledge cut needs; None if no version was known at
        the cut. Only ``taken`` holds the index lock."""
        with self.index.reading():
            taken = self.taken(scenario, known)
        return None if taken is None else taken.snapshot(self)

    def taken(self, scenario: ScenarioMatches, known: float) -> "Taken | None":
        """What a read at this cut needs of the index, for a caller that holds its
        lock: the version, its arrays as of now (``VersionMatches.taken``, merged
        after the lock is let go) and the resolution; None if no version was known."""
        version = scenario.version_known_at(known)
        if version is None:
            return None
        return Taken(
            scenario.id,
            version,
            version.taken(self.index.matches.retracted),
            scenario.resolution,
            scenario.resolution_position,
            known,
        )

    def position_of(
        self, taken: Taken, arrays: list[RuleMatches], event_ids: list[EventIds]
    ) -> int:
        """The last log position the answer at this cut depends on: the version,
        the resolution, each match and each retraction of one, known by the cut
        (a retraction the arrays hold is in ``retraction_positions``, which only
        grows: read without the index lock)."""
        known = taken.known
        positions = [taken.version.position]
        if taken.resolution is not None and taken.resolution.recorded_at <= known:
            positions.append(taken.resolution_position)
        retractions = self.index.matches.retraction_positions
        for ids, rule_matches in zip(event_ids, arrays, strict=True):
            known_matches = rule_matches.recorded <= known
            if known_matches.any():
                positions.append(int(rule_matches.position[known_matches].max()))
            for m in np.nonzero(known_matches & np.isfinite(rule_matches.retracted))[0]:
                retraction = retractions.get(ids[m])
                if retraction is not None and retraction[0] <= known:
                    positions.append(retraction[1])
        return max(positions)

    def evaluate(
        self, scenario: ScenarioMatches, query: Query, *, detail: bool
    ) -> tuple[Forecast, list[Contribution], int] | None:
        """The forecast at ``query``; None if no version was known at the cut. With
        ``detail``, every contribution."""
        snapshot = self.snapshot(scenario, query.known)
        if snapshot is None:
            return None
        found = self._evaluate(snapshot, query, Page() if detail else None)
        return found.forecast, found.contributions, found.position

    def _evaluate(self, snapshot: Snapshot, query: Query, page: Page | None) -> Evaluated:
        """The forecast from a snapshot, and with a ``page`` its contributions: the
        prior, that page of the events (in (occurred, position, rule) order) and
        the time term, with what the page leaves out summed up."""
        version = snapshot.version
        model = version.model
        t = np.array([query.as_of])
        points = forecast_points(model, snapshot.arrays, t, query.known, snapshot.resolution)
        point = points.point(0)
        contributions: list[Contribution] = []
        drivers: list[Contribution] = []
        total = 0
        omitted = None
        found = points.terms
        if point.status == "open" and found is not None:
            events = _event_terms(model.rules, snapshot.arrays, found)
            drivers = self._contributions(snapshot, events, events.largest(DRIVERS))
            if page is not None:
                total = events.log_odds.shape[0] + 2
                contributions, omitted = self._page(snapshot, events, page)
                contributions.append(Contribution(kind="time", log_odds=float(found.time_term[0])))
        forecast = Forecast(
            scenario_id=snapshot.scenario_id,
            title=version.definition.title,
            version=version.version,
            status=point.status,
            deadline=version.definition.deadline,
            probability=point.probability,
            logit=point.logit,
            interval80=point.interval80,
            interval95=point.interval95,
            drivers=drivers,
        )
        return Evaluated(forecast, contributions, total, omitted, snapshot.position)

    def _page(
        self, snapshot: Snapshot, events: EventTerms, page: Page
    ) -> tuple[list[Contribution], ContributionsOmitted | None]:
        order = events.canonical()
        stop = None if page.limit is None else page.offset + page.limit
        listed = order[page.offset : stop]
        prior = Contribution(kind="prior", log_odds=snapshot.version.model.prior_logit)
        contributions = [prior, *self._contributions(snapshot, events, listed)]
        left_out = order.shape[0] - listed.shape[0]
        if not left_out:
            return contributions, None
        before = events.log_odds[order[: page.offset]]
        after = events.log_odds[order[page.offset + listed.shape[0] :]]
        summed = float(before.sum() + after.sum())
        return contributions, ContributionsOmitted(count=left_out, log_odds=summed)

    def _contributions(
        self, snapshot: Snapshot, events: EventTerms, indices: Ints
    ) -> list[Contribution]:
        """The event contributions at ``indices`` of ``events``, in that order (the
        event table is append-only: read without the index lock)."""
        rules = snapshot.version.model.rules
        found: list[Contribution] = []
        for i in indices.tolist():
            r = int(events.rule[i])
            event_id = snapshot.event_ids[r][int(events.match[i])]
            event = self.index.table.get(event_id)
            found.append(
                Contribution(
                    kind="event",
                    log_odds=float(events.log_odds[i]),
                    rule=rules[r].name,
                    event_id=event_id,
                    occurred_at=event.occurred_at,
                    summary=event.summary,
                )
            )
        return found

    # --- answers ------------------------------------------------------------------

    def one(
        self,
        scenario_id: str,
        query: Query,
        page: Page | None = None,
        budget: Budget = UNLIMITED,
    ) -> ForecastDetail | None:
        """One forecast with its contributions (a ``page`` of the events: all by
        default); InvalidInput if it weighs more than ``read_max_matches``."""
        scenario = self.index.matches.scenarios.get(scenario_id)
        if scenario is None:
            return None
        snapshot = self.snapshot(scenario, query.known)
        if snapshot is None:
            return None
        self._check_matches(snapshot.matches, f"scenario {scenario_id}'s rules match")
        budget.check()
        found = self._evaluate(snapshot, query, page or Page())
        return ForecastDetail(
            **msgspec.structs.asdict(found.forecast),
            as_of=_time(query.as_of),
            known_at=query.known_at,
            position=found.position,
            contributions=found.contributions,
            contributions_total=found.total,
            contributions_omitted=found.omitted,
        )

    def cached_one(self, scenario_id: str, query: Query, page: Page) -> tuple[bytes, str] | None:
        """The body (and ETag) ``one_encoded`` answered last for this scenario, if for
        the same query and page and the scenario has not changed since (its
        ``generation``): a poll of a scenario that heavy batches do not touch is
        answered without a worker thread or the index lock."""
        key = self._one_key(scenario_id, query, page)
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
        key = self._one_key(scenario_id, query, page)
        forecast = self.one(scenario_id, query, page, budget)
        if forecast is None:
            return None
        body = _encoder.encode(forecast)
        if key is not None:
            self._one_cache[scenario_id] = (key, body, etag_of(body))
        return body

    def _one_key(self, scenario_id: str, query: Query, page: Page) -> OneKey | None:
        scenario = self.index.matches.scenarios.get(scenario_id)
        if scenario is None or query.known != INF:
            return None
        return (query.as_of, scenario.generation, page.offset, page.limit)

    def _check_matches(self, matches: int, what: str) -> None:
        cap = self.settings.read_max_matches
        if matches > cap:
            msg = (
                f"{what} {matches} events, more than one read evaluates ({cap},"
                " TRADEWINDS_READ_MAX_MATCHES): narrow the rules' matches, or read"
                " the scenarios one at a time"
            )
            raise InvalidInput([FieldError("", msg)])

    def _cached(self, scenario: ScenarioMatches, query: Query) -> tuple[Forecast, int] | None:
        with self.index.reading():
            found = self.now_or_snapshot(scenario, query)
        if isinstance(found, NowSnapshot):
            return self.finish(found, query)
        return found

    def now_or_snapshot(
        self, scenario: ScenarioMatches, query: Query
    ) -> tuple[Forecast, int] | NowSnapshot | None:
        """The cached answer (forecast, position) at ``query``, or else the snapshot
        to evaluate it from (``finish``, after the index lock is let go); None if no
        version was known. The caller holds the index lock: the key (the scenario's
        ``generation``) and the snapshot are of the same state."""
        key = (query.as_of, scenario.generation)
        hit = self._scenario_cache.get(scenario.id)
        if hit is not None and hit[0] == key:
            return hit[1], hit[2]
        taken = self.taken(scenario, query.known)
        return None if taken is None else NowSnapshot(key, taken)

    def finish(self, pending: NowSnapshot, query: Query) -> tuple[Forecast, int]:
        """Evaluate a "now" answer from its snapshot (no lock needed) and cache it."""
        found = self._evaluate(pending.taken.snapshot(self), query, None)
        scenario_id = pending.taken.scenario_id
        with self._entries_lock:
            cached = self._scenario_cache.get(scenario_id)
            if cached is None or cached[0] <= pending.key:
                self._scenario_cache[scenario_id] = (pending.key, found.forecast, found.position)
        return found.forecast, found.position

    def all(self, query: Query, *, cache: bool, budget: Budget = UNLIMITED) -> ForecastList:
        """Every scenario's forecast; each evaluated on its own snapshot (the index
        lock is held only to copy it). Uncached, InvalidInput if they weigh more
        than ``read_max_matches`` together."""
        forecasts: list[Forecast] = []
        position = 0
        with self.index.reading():
            scenarios = [
                self.index.matches.scenarios[s] for s in sorted(self.index.matches.scenarios)
            ]
        if not cache:
            weight = 0
            with self.index.reading():
                for scenario in scenarios:
                    version = scenario.version_known_at(query.known)
                    weight += 0 if version is None else sum(len(m) for m in version.found)
            self._check_matches(weight, "the scenarios' rules match")
        for scenario in scenarios:
            budget.check()
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

    def all_now(self, budget: Budget = UNLIMITED) -> tuple[bytes, str]:
        """The body and ETag for ``GET /v1/forecasts`` now, rebuilt only on change."""
        key = (self.now(), self.index.matches.generation)
        cached = self._list_cache
        if cached is not None and cached[0] == key:
            self.cache_hits += 1
            return cached[1], cached[2]
        self.cache_misses += 1
        with self._lock:
            cached = self._list_cache
            if cached is not None and cached[0] == key:
                return cached[1], cached[2]
            body = _encoder.encode(self.all(Query(as_of=key[0]), cache=True, budget=budget))
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
        as_of = self.now()
        matches = self.index.matches
        key = (as_of, matches.generation)
        cached = self._list_cache
        if cached is not None and cached[0] == key:
            self.cache_hits += 1
            return cached[1], cached[2]
        refresher = self.refresher
        if refresher is None or not refresher():
            return None
        scenarios = sorted((s.id, s.generation) for s in list(matches.scenarios.values()))
        found = self._latest_entries(as_of, scenarios)
        if found is None:
            return self._latest_list_of_last_tick(as_of)
        forecasts, position, current, used = found
        assembled = self._assembled
        if assembled is not None and assembled[0] == (as_of, used):
            body, etag = assembled[1], assembled[2]
        else:
            body = _encoder.encode(
                ForecastList(
                    as_of=_time(as_of), known_at=None, position=position, forecasts=forecasts
                )
            )
            etag = etag_of(body)
            self._assembled = ((as_of, used), body, etag)
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
            cached = self._scenario_cache.get(scenario_id)
            if cached is None or cached[0][0] != as_of:
                return None
            current = current and cached[0][1] >= generation
            forecasts.append(cached[1])
            used.append((scenario_id, cached[0][1]))
            position = max(position, cached[2])
        return forecasts, position, current, tuple(used)

    def _latest_list_of_last_tick(self, as_of: float) -> tuple[bytes, str] | None:
        latest = self._latest_list
        if latest is None or not as_of - self.tick <= latest[0] <= as_of:
            return None
        self.earlier_answers += 1
        return latest[1], latest[2]

    def history(
        self,
        scenario_id: str,
        start: float | None,
        stop: float,
        step: float,
        known: float,
        max_points: int,
        budget: Budget = UNLIMITED,
    ) -> History | None:
        """The forecast on the grid from ``start`` (default: opens_at) to ``stop``;
        InvalidInput with more than ``max_points`` points or an estimated cost
        (``grid_cost``) above ``history_max_cost``."""
        scenario = self.index.matches.scenarios.get(scenario_id)
        if scenario is None:
            return None
        snapshot = self.snapshot(scenario, known)
        if snapshot is None:
            return None
        model = snapshot.version.model
        first = model.opens_at if start is None else start
        if stop >= first and (stop - first) / step + 1 > max_points + 1:
            msg = f"more than {max_points} points: use a longer step"
            raise InvalidInput([FieldError("step", msg)])
        t = grid(first, stop, step)
        if t.shape[0] > max_points:
            msg = f"{t.shape[0]} points is more than {max_points}: use a longer step"
            raise InvalidInput([FieldError("step", msg)])
        self._check_history_cost(model, snapshot.arrays, t)
        points = forecast_points(
            model,
            snapshot.arrays,
            t,
            known,
            snapshot.resolution,
            on_grid=True,
            between_rules=budget.check,
        )
        budget.check()
        served = [points.point(i) for i in range(len(points))]
        history = [
            HistoryPoint(t=_time(float(t[i])), probability=p.probability, interval80=p.interval80)
            for i, p in enumerate(served)
        ]
        return History(scenario_id=scenario_id, points=history)

    def _check_history_cost(
        self, model: ScenarioModel, arrays: list[RuleMatches], t: Floats
    ) -> None:
        cost = grid_cost(model, arrays, t)
        cap = self.settings.history_max_cost
        if cost > cap:
            msg = (
                f"this history would cost about {cost:.3g} model steps ({t.shape[0]} points,"
                f" {sum(len(a) for a in arrays)} matched events over {len(arrays)} rules),"
                f" more than the cap of {cap:.3g} (TRADEWINDS_HISTORY_MAX_COST):"
                " ask for a shorter range (from, to) or a longer step"
            )
            raise InvalidInput([FieldError("step", msg)])
