"""Backtests: how good the forecasts would have been, computed as durable jobs.

A backtest evaluates the log as it stood when the backtest was requested (a
knowledge cut at the request's ``recorded_at``), so a run that is repeated after
a restart gives the same scores. Within that, samples use hindsight as model.md
says: no per-sample knowledge cut, but never an event that occurred after the
sample's time.

The runner is one thread that claims jobs and records them; the numbers are
computed in one worker process (``WorkerProcess``), so a long backtest never
holds this interpreter: the runner takes a snapshot of the inputs under the
index lock (plain arrays), sends them to the worker in chunks of scenarios, and
records progress and renews its lease as chunks come back. Request, progress
and result are records in the log: at start the runner picks up every backtest
that has no result yet.
"""

import logging
import multiprocessing
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import msgspec
from eventsourcing.persistence import IntegrityError

from domain.backtests import BacktestRequest
from domain.records import BacktestRecord, LeaseHeld
from forecasts.backtest import ScenarioInput, grid, scenario_samples
from forecasts.model import Floats, RuleMatches
from forecasts.scoring import ScenarioSamples, Scores, score
from service.persistence.eventlog import EventLog
from service.projection.index import BacktestState, LogIndex
from service.projection.matchindex import ORDER, Match, model_of, rule_arrays, scan

logger = logging.getLogger("service.backtests")
T = TypeVar("T")
PROGRESS_STEP = 0.1
CHUNK_WORK = 10_000_000
"""Work units (see ``ScenarioInput.work``) sent to the worker at once: a chunk takes
well under a second, which is how often progress can move and the lease be renewed."""
POLL_S = 0.5  # how often a running backtest looks at the stop flag and the lease
WORKER_NICENESS = 10
"""The worker process's nice value: on a busy machine the API's process gets the CPU first."""
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0
_encoder = msgspec.json.Encoder()


# --- what a backtest needs, and what it costs ----------------------------------------


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
    would be scored (resolved yes or no). What-if rules count every event of their
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
            if what_if is None:
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
            resolution = scenario.resolution
            if version is None or resolution is None or resolution.recorded_at > known:
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


def _arrays_of(found: list[list[Match]], retracted: dict[UUID, float]) -> list[RuleMatches]:
    return rule_arrays([sorted(rule, key=ORDER) for rule in found], retracted)


def chunks(inputs: Sequence[ScenarioInput], samples: int) -> list[tuple[list[ScenarioInput], int]]:
    """Consecutive scenarios grouped into tasks of about ``CHUNK_WORK`` (a scenario is
    never split), each with its work."""
    out: list[tuple[list[ScenarioInput], int]] = []
    current: list[ScenarioInput] = []
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
) -> Scores:
    """Score every resolved (yes/no) scenario of the request over its grid, in this
    process (the command line's ``tradewinds backtest``; the service uses the worker)."""
    inputs = snapshot(index, request, known)
    times = grid_of(request)
    samples = []
    for i, item in enumerate(inputs):
        samples.extend(scenario_samples([item], times, known))
        progress((i + 1) / len(inputs))
    return score(samples)


def scores_body(scores: Scores) -> str:
    return _encoder.encode(scores).decode()


# --- the worker process ---------------------------------------------------------------


def _lower_priority() -> None:
    os.nice(WORKER_NICENESS)


class WorkerProcess:
    """One worker process for the numbers, started when first needed. ``terminate``
    ends it at once (its running task too): what Python 3.14 names
    ``ProcessPoolExecutor.terminate_workers``, done here through the pool's processes."""

    def __init__(self, start_method: str = "spawn") -> None:
        self._context = multiprocessing.get_context(start_method)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., T], *args: Any) -> "Future[T]":
        with self._lock:
            if self._closed:
                msg = "the worker process is stopped"
                raise RuntimeError(msg)
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=1, mp_context=self._context, initializer=_lower_priority
                )
            return self._executor.submit(fn, *args)

    def discard(self) -> None:
        """Forget a broken pool: the next task starts a new process."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def terminate(self) -> None:
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())
        for process in processes:
            process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=5)


# --- the runner -----------------------------------------------------------------------


class LostLease(Exception):
    """Another runner claimed the backtest after this one's lease expired."""


class Stopping(Exception):
    """The service is stopping: the run is given up and its lease released."""


class StoreUnavailable(Exception):
    """A claim, progress or result could not be written (the database is unreachable)."""


class WorkerDied(Exception):
    """The worker process ended while computing (killed, out of memory)."""


class _Claim:
    """A backtest this runner holds: appends its events. After a failed append the
    record is read again from the store (the failed event was applied to the copy in
    memory, which is ahead of the store)."""

    def __init__(self, runner: "BacktestRunner", record: BacktestRecord) -> None:
        self._runner = runner
        self.record = record
        self._stale = False

    def append(self, change: Callable[[BacktestRecord, datetime], None]) -> None:
        """``LostLease`` if the record moved on; ``StoreUnavailable`` if the store failed."""
        event_log = self._runner.event_log
        try:
            if self._stale:
                fresh = event_log.get(self.record.id)
                if not isinstance(fresh, BacktestRecord) or fresh.finished:
                    raise LostLease(str(self.record.id))
                if fresh.owner != self._runner.owner:
                    raise LostLease(str(self.record.id))
                self.record, self._stale = fresh, False
            event_log.committer.update(self.record, change)
        except (LostLease, LeaseHeld):
            raise
        except IntegrityError:
            raise LostLease(str(self.record.id)) from None
        except Exception as e:
            self._stale = True
            raise StoreUnavailable(f"{type(e).__name__}: {e}") from e


class BacktestRunner:
    """One runner thread per replica. A backtest requested here is run here unless
    another runner claims it first; every ``scan_interval`` the runner also looks
    for unfinished backtests whose lease has expired (their runner died or
    stalled) and claims them. Claims are events on the record (see
    ``BacktestRecord``), so exactly one runner at a time holds each. On stop, the
    worker process is ended and a run in progress is given up and its lease
    released (a claim that expires at once), so another replica takes it over
    without waiting for the lease. A store that fails (unreachable) is retried with
    backoff; the thread goes on."""

    def __init__(self, event_log: EventLog) -> None:
        self.event_log = event_log
        self._queue: queue.SimpleQueue[UUID | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="tradewinds-backtests", daemon=True)
        self._stopping = threading.Event()
        self._worker = WorkerProcess()
        self.running: dict[UUID, float] = {}
        self.accepted: dict[UUID, BacktestState] = {}
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"
        self.lease = timedelta(seconds=event_log.settings.backtest_lease_s)
        self.scan_interval = min(event_log.settings.backtest_lease_s / 3, 5.0)

    @property
    def thread(self) -> threading.Thread:
        """The runner's thread (for liveness checks)."""
        return self._thread

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self._queue.put(None)
        self._worker.terminate()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def accept(self, state: BacktestState) -> None:
        """A backtest just committed here: known (queued) at once, whatever the index
        shows yet, and queued for this runner."""
        self.accepted[state.id] = state
        self._queue.put(state.id)

    def state(self, backtest_id: UUID) -> BacktestState | None:
        """The backtest as the index tells it, else as accepted here."""
        found = self.event_log.index.backtests.get(backtest_id)
        return found if found is not None else self.accepted.get(backtest_id)

    def _forget_indexed(self) -> None:
        indexed = self.event_log.index.backtests
        for backtest_id in [b for b in list(self.accepted) if b in indexed]:
            self.accepted.pop(backtest_id, None)

    def _unfinished(self) -> list[UUID]:
        with self.event_log.index.reading():
            unfinished = [
                s
                for s in self.event_log.index.backtests.values()
                if s.status in ("queued", "running")
            ]
        self._forget_indexed()
        return [s.id for s in sorted(unfinished, key=lambda s: s.position)]

    def _work(self) -> None:
        while not self.event_log.caught_up() and not self._stopping.is_set():
            if self.event_log.projection_failed:
                return
            time.sleep(0.05)
        pending = self._unfinished()
        delay = RETRY_FIRST_S
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
            except Exception as e:  # noqa: BLE001 - any store error: the thread must go on
                logger.warning(
                    "backtest %s: the store failed (%s); trying again in %.1f s",
                    backtest_id, e, delay,
                )  # fmt: skip
                pending.insert(0, backtest_id)
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            else:
                delay = RETRY_FIRST_S

    def _claim(self, backtest_id: UUID) -> _Claim | None:
        """The record, claimed by this runner; None if finished or run elsewhere."""
        record = self.event_log.get(backtest_id)
        if not isinstance(record, BacktestRecord) or record.finished:
            return None
        now = datetime.fromtimestamp(self.event_log.head_time(), UTC)
        lease_until = record.lease_until or now
        if record.owner != self.owner and lease_until > now:
            return None  # checked again, against the commit's time, when claiming
        claim = _Claim(self, record)
        try:
            claim.append(lambda r, at: r.claim(self.owner, self.lease, at))
        except (LeaseHeld, LostLease):
            return None
        return claim

    def _indexed_up_to(self, state: BacktestState) -> bool:
        """Wait until the index holds everything up to the request (the run's
        knowledge cut); False if the runner is stopping."""
        while not self.event_log.index.reached(state.position, 1.0):
            if self._stopping.is_set():
                return False
        return True

    def _run(self, backtest_id: UUID) -> None:
        """Run one backtest. Store failures when claiming raise (the caller retries);
        later ones are retried here."""
        state = self.state(backtest_id)
        if state is None:
            return
        claim = self._claim(backtest_id)
        if claim is None:
            return
        logger.info("backtest %s claimed by %s", backtest_id, self.owner)
        self.running[backtest_id] = 0.0
        try:
            if not self._indexed_up_to(state):
                raise Stopping
            scores = self._compute(claim, state)
        except LostLease:
            logger.warning("backtest %s was taken over by another runner", backtest_id)
            return
        except Stopping:
            logger.info("backtest %s given up on stop; its lease is released", backtest_id)
            self._finish(claim, lambda r, at: r.claim(self.owner, timedelta(0), at), retry=False)
        except Exception as e:
            logger.exception("backtest %s failed", backtest_id)
            message = f"{type(e).__name__}: {e}"
            self._finish(claim, lambda r, at: r.fail(message, at))
        else:
            body = scores_body(scores)
            self._finish(claim, lambda r, at: r.finish(body, at))
        finally:
            self.running.pop(backtest_id, None)
            self._forget_indexed()

    def _compute(self, claim: _Claim, state: BacktestState) -> Scores:
        """Snapshot the inputs, have the worker compute them chunk by chunk, recording
        progress and renewing the lease while it does."""
        known = state.requested_at.timestamp()
        inputs = snapshot(self.event_log.index, state.request, known)
        times = grid_of(state.request)
        tasks = chunks(inputs, int(times.shape[0]))
        total = sum(work for _, work in tasks) or 1
        reporter = _Progress(self, claim, state.id)
        reporter.report(0.0)
        futures = [self._submit(scenario_samples, chunk, times, known) for chunk, _ in tasks]
        work_of = {f: work for f, (_, work) in zip(futures, tasks, strict=True)}
        done_work = 0
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            self._check_stopping()
            for future in finished:
                self._result(future)
                done_work += work_of[future]
            reporter.report(done_work / total)
        samples: list[ScenarioSamples] = [s for f in futures for s in self._result(f)]
        scored = self._submit(score, samples)
        while not wait([scored], timeout=POLL_S).done:
            self._check_stopping()
            reporter.report(1.0)
        return self._result(scored)

    def _submit(self, fn: Callable[..., T], *args: Any) -> "Future[T]":
        try:
            return self._worker.submit(fn, *args)
        except RuntimeError:
            self._check_stopping()
            raise

    def _check_stopping(self) -> None:
        if self._stopping.is_set():
            raise Stopping

    def _result(self, future: "Future[T]") -> T:
        try:
            return future.result()
        except BrokenProcessPool as e:
            self._check_stopping()
            self._worker.discard()
            raise WorkerDied(str(e)) from None
        except Exception:
            self._check_stopping()
            raise

    def _finish(
        self,
        claim: _Claim,
        change: Callable[[BacktestRecord, datetime], None],
        *,
        retry: bool = True,
    ) -> None:
        """Record the outcome; while the store is unreachable, try again with backoff
        (until the runner stops: then the lease runs out and the backtest is run again)."""
        delay = RETRY_FIRST_S
        while True:
            try:
                claim.append(change)
                return
            except LostLease:
                logger.warning("backtest %s was taken over by another runner", claim.record.id)
                return
            except StoreUnavailable as e:
                if not retry or self._stopping.is_set():
                    logger.warning("backtest %s: outcome not recorded (%s)", claim.record.id, e)
                    return
                logger.warning(
                    "backtest %s: the store failed (%s); trying again in %.1f s",
                    claim.record.id, e, delay,
                )  # fmt: skip
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)


class _Progress:
    """Records a run's progress every ``PROGRESS_STEP``, and renews the lease at least
    every third of it; a write that fails is tried again at the next report."""

    def __init__(self, runner: BacktestRunner, claim: _Claim, backtest_id: UUID) -> None:
        self._runner = runner
        self._claim = claim
        self._id = backtest_id
        self._recorded = -1.0
        self._renewed = time.monotonic()
        self.renew_after = runner.lease.total_seconds() / 3

    def report(self, fraction: float) -> None:
        self._runner.running[self._id] = fraction
        step = fraction - self._recorded >= PROGRESS_STEP and fraction < 1.0
        if not step and time.monotonic() - self._renewed < self.renew_after:
            return
        value = round(fraction, 4)
        try:
            self._claim.append(lambda r, at: r.advance(value, at))
        except StoreUnavailable as e:
            logger.warning("backtest %s: progress not recorded (%s)", self._id, e)
            return
        self._recorded = fraction
        self._renewed = time.monotonic()
