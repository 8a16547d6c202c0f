"""Backtests: how good the forecasts would have been, computed as durable jobs.

The runner is one thread that claims jobs and records them; the numbers are
computed in one worker process (``service.workers.workerprocess``), so a long
backtest never holds this interpreter: the runner takes a snapshot of the inputs
under the index lock (``service.workers.backtestinputs``), sends them to the worker
in chunks of scenarios, and records progress and renews its lease as chunks come
back (``service.workers.backtestclaims``). Request, progress and result are records
in the log: at start the runner picks up every backtest that has no result yet.
"""

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from domain.records import BacktestRecord, LeaseHeld
from forecasts.backtest import scenario_samples
from forecasts.bootstrap import seed_of
from forecasts.calibratedbacktest import Maps, calibration_maps
from forecasts.model import Floats
from forecasts.scoring import ScenarioSamples, Scores, score
from forecasts.served import ServedSamples, served_chunk, with_series
from service.persistence.eventlog import EventLog
from service.projection.states import BacktestState
from service.workers.backtestclaims import Claim, LostLease, Progress, StoreUnavailable
from service.workers.backtestinputs import (
    chunks,
    grid_of,
    pool_snapshot,
    scores_body,
    served_snapshot,
    snapshot,
)
from service.workers.registry import Backoff, owner_name, wait_for_catch_up
from service.workers.workerprocess import WorkerProcess

logger = logging.getLogger("service.backtests")
T = TypeVar("T")
POLL_S = 0.5  # how often a running backtest looks at the stop flag and the lease
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0


class Stopping(Exception):
    """The service is stopping: the run is given up and its lease released."""


class WorkerDied(Exception):
    """The worker process ended while computing (killed, out of memory)."""


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

    def __init__(self, eventlog: EventLog) -> None:
        self.eventlog = eventlog
        self._queue: queue.SimpleQueue[UUID | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="tradewinds-backtests", daemon=True)
        self._stopping = threading.Event()
        self._worker = WorkerProcess()
        self.running: dict[UUID, float] = {}
        self.accepted: dict[UUID, BacktestState] = {}
        self.owner = owner_name()
        self.lease = timedelta(seconds=eventlog.settings.backtest_lease_s)
        self.scan_interval = min(eventlog.settings.backtest_lease_s / 3, 5.0)

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
        found = self.eventlog.index.backtests.get(backtest_id)
        return found if found is not None else self.accepted.get(backtest_id)

    def _forget_indexed(self) -> None:
        indexed = self.eventlog.index.backtests
        for backtest_id in [b for b in list(self.accepted) if b in indexed]:
            self.accepted.pop(backtest_id, None)

    def _unfinished(self) -> list[UUID]:
        with self.eventlog.index.reading():
            unfinished = [
                s
                for s in self.eventlog.index.backtests.values()
                if s.status in ("queued", "running")
            ]
        self._forget_indexed()
        return [s.id for s in sorted(unfinished, key=lambda s: s.position)]

    def _work(self) -> None:
        if not wait_for_catch_up(self.eventlog, self._stopping):
            return
        pending = self._unfinished()
        backoff = Backoff(RETRY_FIRST_S, RETRY_MAX_S)
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
                delay = backoff.next()
                logger.warning(
                    "backtest %s: the store failed (%s); trying again in %.1f s",
                    backtest_id, e, delay,
                )  # fmt: skip
                pending.insert(0, backtest_id)
                self._stopping.wait(delay)
            else:
                backoff.reset()

    def _claim(self, backtest_id: UUID) -> Claim | None:
        """The record, claimed by this runner; None if finished or run elsewhere."""
        record = self.eventlog.get(backtest_id)
        if not isinstance(record, BacktestRecord) or record.finished:
            return None
        now = datetime.fromtimestamp(self.eventlog.head_time(), UTC)
        lease_until = record.lease_until or now
        if record.owner != self.owner and lease_until > now:
            return None  # checked again, against the commit's time, when claiming
        claim = Claim(self.eventlog, self.owner, record)
        try:
            claim.append(lambda r, at: r.claim(self.owner, self.lease, at))
        except (LeaseHeld, LostLease):
            return None
        return claim

    def _indexed_up_to(self, state: BacktestState) -> bool:
        """Wait until the index holds everything up to the request (the run's
        knowledge cut); False if the runner is stopping."""
        while not self.eventlog.index.reached(state.position, 1.0):
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

    def _compute(self, claim: Claim, state: BacktestState) -> Scores:
        """Snapshot the inputs, have the worker compute them chunk by chunk, recording
        progress and renewing the lease while it does."""
        known = state.requested_at.timestamp()
        times = grid_of(state.request)
        reporter = Progress(claim, state.id, self.lease, self.running)
        maps = self._maps(state, known, times, reporter)
        if state.request.knowledge == "as_served":
            served_inputs = served_snapshot(self.eventlog.index, state.request, known)
            served_tasks = chunks(served_inputs, int(times.shape[0]))
            futures = [self._submit(served_chunk, c, times, maps) for c, _ in served_tasks]
            served: list[ServedSamples] = self._gather(futures, served_tasks, reporter)
            scores = self._score([s.samples for s in served], state, reporter)
            return with_series(scores, served)
        inputs = snapshot(self.eventlog.index, state.request, known)
        tasks = chunks(inputs, int(times.shape[0]))
        hindsight = [self._submit(scenario_samples, c, times, known, maps) for c, _ in tasks]
        return self._score(self._gather(hindsight, tasks, reporter), state, reporter)

    def _maps(
        self, state: BacktestState, known: float, times: Floats, reporter: Progress
    ) -> Maps | None:
        """A calibrated backtest's maps on its grid, fitted in the worker process on
        the pool taken here (None when not calibrated)."""
        if not state.request.calibrated:
            return None
        pool = pool_snapshot(self.eventlog.index, state.request, known)
        settings = self.eventlog.settings
        lam, least = settings.calibration_lambda, settings.calibration_min_scenarios
        return self._awaited(
            self._submit(calibration_maps, pool, times, known, lam, least), reporter, 0.0
        )

    def _gather(
        self,
        futures: "list[Future[list[T]]]",
        tasks: Sequence[tuple[Any, int]],
        reporter: Progress,
    ) -> list[T]:
        """The tasks' results in order, recording progress as they come back."""
        total = sum(work for _, work in tasks) or 1
        reporter.report(0.0)
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
        return [s for f in futures for s in self._result(f)]

    def _score(
        self, samples: list[ScenarioSamples], state: BacktestState, reporter: Progress
    ) -> Scores:
        return self._awaited(self._submit(score, samples, seed_of(state.id)), reporter, 1.0)

    def _awaited(self, future: "Future[T]", reporter: Progress, progress: float) -> T:
        """The task's result, renewing the lease (progress unchanged) while it runs."""
        while not wait([future], timeout=POLL_S).done:
            self._check_stopping()
            reporter.report(progress)
        return self._result(future)

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
        claim: Claim,
        change: Callable[[BacktestRecord, datetime], None],
        *,
        retry: bool = True,
    ) -> None:
        """Record the outcome; while the store is unreachable, try again with backoff
        (until the runner stops: then the lease runs out and the backtest is run again)."""
        backoff = Backoff(RETRY_FIRST_S, RETRY_MAX_S)
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
                delay = backoff.next()
                logger.warning(
                    "backtest %s: the store failed (%s); trying again in %.1f s",
                    claim.record.id, e, delay,
                )  # fmt: skip
                self._stopping.wait(delay)
