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
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import msgspec
from eventsourcing.persistence import IntegrityError

from domain.backtests import BacktestRequest
from domain.records import BacktestRecord, LeaseHeld
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
        what_ifs = (request.rules or {}).values()
        events = index.event_tuples(k for rules in what_ifs for r in rules for k in r.match.kinds())
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


class LostLease(Exception):
    """Another runner claimed the backtest after this one's lease expired."""


class Stopping(Exception):
    """The service is stopping: the run is given up and its lease released."""


class BacktestRunner:
    """One worker thread per replica. A backtest requested here is run here unless
    another runner claims it first; every ``scan_interval`` the runner also looks
    for unfinished backtests whose lease has expired (their runner died or
    stalled) and claims them. Claims are events on the record (see
    ``BacktestRecord``), so exactly one runner at a time holds each. On stop, a
    run in progress is given up and its lease released (a claim that expires at
    once), so another replica takes it over without waiting for the lease."""

    def __init__(self, event_log: EventLog) -> None:
        self._log = event_log
        self._queue: queue.SimpleQueue[UUID | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="tradewinds-backtests", daemon=True)
        self._stopping = threading.Event()
        self.running: dict[UUID, float] = {}
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"
        self.lease = timedelta(seconds=event_log.settings.backtest_lease_s)
        self.scan_interval = min(event_log.settings.backtest_lease_s / 3, 5.0)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def submit(self, backtest_id: UUID) -> None:
        self._queue.put(backtest_id)

    def _unfinished(self) -> list[UUID]:
        with self._log.index.reading():
            unfinished = [
                s for s in self._log.index.backtests.values() if s.status in ("queued", "running")
            ]
        return [s.id for s in sorted(unfinished, key=lambda s: s.position)]

    def _work(self) -> None:
        while not self._log.ready() and not self._stopping.is_set():
            if self._log.projection_failed:
                return
            time.sleep(0.05)
        pending = self._unfinished()
        while not self._stopping.is_set():
            if pending:
                backtest_id: UUID | None = pending.pop(0)
            else:
                try:
                    backtest_id = self._queue.get(timeout=self.scan_interval)
                except queue.Empty:
                    pending = self._unfinished()
                    continue
            if backtest_id is None or self._stopping.is_set():
                return
            try:
                self._run(backtest_id)
            except Exception:
                log.exception("backtest %s could not be recorded", backtest_id)

    def _record(
        self, record: BacktestRecord, change: Callable[[BacktestRecord, datetime], None]
    ) -> None:
        """Append one of the record's events through the group committer, and wait.
        ``LostLease`` if the record moved on in the store (another runner claimed it)."""

        try:
            self._log.committer.update(record, change)
        except IntegrityError:
            raise LostLease(str(record.id)) from None

    def _claim(self, backtest_id: UUID) -> BacktestRecord | None:
        """The record, claimed by this runner; None if finished or run elsewhere."""
        record = self._log.get(backtest_id)
        if not isinstance(record, BacktestRecord) or record.finished:
            return None
        now = datetime.fromtimestamp(self._log.head_time(), UTC)
        lease_until = record.lease_until or now
        if record.owner != self.owner and lease_until > now:
            return None  # checked again, against the commit's time, when claiming
        try:
            self._record(record, lambda r, at: r.claim(self.owner, self.lease, at))
        except (LeaseHeld, LostLease):
            return None
        return record

    def _run(self, backtest_id: UUID) -> None:
        record = self._claim(backtest_id)
        if record is None:
            return
        if not self._log.index.reached(self._log.head(), 30):
            log.warning("index behind the store; backtest %s runs on what it has", backtest_id)
        state = self._log.index.backtests.get(backtest_id)
        if state is None:
            return
        log.info("backtest %s claimed by %s", backtest_id, self.owner)
        known = state.requested_at.timestamp()
        reported = [-1.0]
        renewed = [time.monotonic()]
        renew_after = self.lease.total_seconds() / 3

        def progress(fraction: float) -> None:
            if self._stopping.is_set():
                raise Stopping
            self.running[backtest_id] = fraction
            step = fraction - reported[0] >= PROGRESS_STEP and fraction < 1.0
            if step or time.monotonic() - renewed[0] >= renew_after:
                reported[0] = fraction
                renewed[0] = time.monotonic()
                self._record(record, lambda r, at: r.advance(round(fraction, 4), at))

        self.running[backtest_id] = 0.0
        try:
            progress(0.0)
            scores = evaluate(self._log.index, state.request, known, progress)
        except LostLease:
            log.warning("backtest %s was taken over by another runner", backtest_id)
            return
        except Stopping:
            log.info("backtest %s given up on stop; its lease is released", backtest_id)
            self._finish(record, lambda r, at: r.claim(self.owner, timedelta(0), at))
        except Exception as e:
            log.exception("backtest %s failed", backtest_id)
            message = f"{type(e).__name__}: {e}"
            self._finish(record, lambda r, at: r.fail(message, at))
        else:
            body = scores_body(scores)
            self._finish(record, lambda r, at: r.finish(body, at))
        finally:
            self.running.pop(backtest_id, None)

    def _finish(
        self, record: BacktestRecord, change: Callable[[BacktestRecord, datetime], None]
    ) -> None:
        try:
            self._record(record, change)
        except LostLease:
            log.warning("backtest %s was taken over by another runner", record.id)
