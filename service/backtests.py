"""Backtests: how good the forecasts would have been, computed as durable jobs.

A backtest evaluates the log as it stood when the backtest was requested (a
knowledge cut at the request's ``recorded_at``), so a run that is repeated after
a restart gives the same scores. Within that, samples use hindsight as model.md
says: no per-sample knowledge cut, but never an event that occurred after the
sample's time.

The runner is one worker thread (numpy does the heavy lifting over whole
grids), so the event loop keeps serving; jobs queue behind it. Request,
progress and result are records in the log: at start the runner picks up every
backtest that has no result yet.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from domain.backtests import BacktestRequest
from domain.records import BacktestRecord
from forecasts.backtest import forecasts_on_grid, grid, open_samples
from forecasts.model import RuleMatches, ScenarioModel
from forecasts.scoring import ScenarioSamples, Scores, score
from service.index import LogIndex
from service.log import EventLog
from service.matchindex import model_of, rule_arrays, scan

log = logging.getLogger(__name__)
PROGRESS_STEP = 0.1
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class _Input:
    scenario_id: str
    outcome: bool
    resolved_at: float
    model: ScenarioModel
    matches: list[RuleMatches]


def _inputs(index: LogIndex, request: BacktestRequest, known: float) -> list[_Input]:
    """What each scored scenario needs, taken from the index under its lock."""
    with index.reading():
        scenarios = index.matches.scenarios
        ids = request.scenario_ids if request.scenario_ids is not None else sorted(scenarios)
        retracted = dict(index.matches.retracted)
        events = index.event_tuples() if request.rules else []
        picked = []
        for scenario_id in ids:
            scenario = scenarios.get(scenario_id)
            if scenario is None:
                continue
            version = scenario.version_known_at(known)
            resolution = scenario.resolution
            if version is None or resolution is None or resolution.recorded_at > known:
                continue
            if resolution.outcome == "annulled":
                continue
            picked.append((scenario, version, resolution))
        arrays = {s.id: v.arrays(retracted) for s, v, _ in picked}
    inputs = []
    for scenario, version, resolution in picked:
        model, matches = version.model, arrays[scenario.id]
        what_if = (request.rules or {}).get(scenario.id)
        if what_if is not None:
            definition = msgspec.structs.replace(version.definition, rules=what_if)
            model = model_of(definition, scenario.first_recorded)
            matches = rule_arrays(scan(what_if, events), retracted)
        inputs.append(
            _Input(scenario.id, resolution.outcome == "yes", resolution.resolved_at, model, matches)
        )
    return inputs


def evaluate(
    index: LogIndex,
    request: BacktestRequest,
    known: float,
    progress: Callable[[float], None] = lambda _: None,
) -> Scores:
    """Score every resolved (yes/no) scenario of the request over its grid."""
    inputs = _inputs(index, request, known)
    times = grid(request.start.timestamp(), request.stop.timestamp(), request.step.total_seconds())
    samples = []
    for i, item in enumerate(inputs):
        at = open_samples(times, item.model.opens_at, item.model.deadline, item.resolved_at)
        forecasts = forecasts_on_grid(item.model, item.matches, at, known)
        samples.append(ScenarioSamples(item.scenario_id, item.outcome, item.model.prior, forecasts))
        progress((i + 1) / len(inputs))
    return score(samples)


def scores_body(scores: Scores) -> str:
    return _encoder.encode(scores).decode()


class BacktestRunner:
    def __init__(self, event_log: EventLog) -> None:
        self._log = event_log
        self._queue: queue.SimpleQueue[UUID | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="tradewinds-backtests", daemon=True)
        self._stopping = threading.Event()
        self.running: dict[UUID, float] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def submit(self, backtest_id: UUID) -> None:
        self._queue.put(backtest_id)

    def _resume_unfinished(self) -> None:
        while not self._log.ready() and not self._stopping.is_set():
            if self._log.projection_failed:
                return
            time.sleep(0.05)
        with self._log.index.reading():
            unfinished = sorted(
                (
                    s
                    for s in self._log.index.backtests.values()
                    if s.status in ("queued", "running")
                ),
                key=lambda s: s.position,
            )
        for state in sorted(unfinished, key=lambda s: s.position):
            self._queue.put(state.id)

    def _work(self) -> None:
        self._resume_unfinished()
        done: set[UUID] = set()
        while not self._stopping.is_set():
            backtest_id = self._queue.get()
            if backtest_id is None or self._stopping.is_set():
                return
            if backtest_id in done:
                continue
            done.add(backtest_id)
            try:
                self._run(backtest_id)
            except Exception:
                log.exception("backtest %s could not be recorded", backtest_id)

    def _record(
        self, record: BacktestRecord, change: Callable[[BacktestRecord, datetime], None]
    ) -> None:
        """Append one of the record's events through the group committer, and wait."""

        def build(recorded_at: datetime) -> list[Aggregate]:
            change(record, recorded_at)
            return [record]

        self._log.committer.submit(build).result()

    def _run(self, backtest_id: UUID) -> None:
        if not self._log.index.reached(self._log.head(), 30):
            log.warning("index behind the store; backtest %s runs on what it has", backtest_id)
        state = self._log.index.backtests.get(backtest_id)
        record = self._log.get(backtest_id)
        if state is None or not isinstance(record, BacktestRecord) or record.finished:
            return
        known = state.requested_at.timestamp()
        reported = [-1.0]

        def progress(fraction: float) -> None:
            self.running[backtest_id] = fraction
            if fraction - reported[0] >= PROGRESS_STEP and fraction < 1.0:
                reported[0] = fraction
                self._record(record, lambda r, at: r.advance(round(fraction, 4), at))

        self.running[backtest_id] = 0.0
        try:
            progress(0.0)
            scores = evaluate(self._log.index, state.request, known, progress)
        except Exception as e:
            log.exception("backtest %s failed", backtest_id)
            message = f"{type(e).__name__}: {e}"
            self._record(record, lambda r, at: r.fail(message, at))
        else:
            body = scores_body(scores)
            self._record(record, lambda r, at: r.finish(body, at))
        finally:
            self.running.pop(backtest_id, None)
