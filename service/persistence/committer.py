"""Group commit: one writer thread saves every write job waiting at the same moment
in one transaction, so many clients share one fsync.

A job builds its aggregates in the writer thread, given the commit's
``recorded_at``: the service clock is read once per commit, under the store's
commit lock, and never goes back along the log (``service.persistence.commitclock``).
Each job's future is completed only after the transaction that holds it has
committed. If a group hits a uniqueness conflict, the store does not say
whose it was, so each job of the group is retried in a transaction of its own:
every job is still all-or-nothing.

The writer outlives the store's outages. A commit that fails because the store
cannot be reached or is full fails its jobs with ``StoreUnavailable`` (or
``StoreFull``), logged once per outage, not per job; ``problem`` holds it until a
commit succeeds again. Meanwhile jobs fail at once, without a round trip to the
store, except for one attempt after each backoff delay; when no job comes, the
writer probes the store itself, so a lost connection is found to be back without
waiting for traffic (a full store is found to have room only by a write: its own,
or another process's, seen as the store's head moving). A job whose caller gave up
waiting (``Future.cancel``) before the writer took it is not committed.

After the commit lock is released, and before any job is answered, the writer
hands what it committed to ``on_commit`` (the event log applies it to the index
from memory, so an answered append is usually applied already: issue 19).
"""

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Notification, Recording, StoredEvent

from service.persistence.commitclock import Clock, CommitClock
from service.persistence.errors import StoreFull, StoreUnavailable, as_store_error
from service.persistence.stores import SharedStore
from service.persistence.transcoder import stored_events
from service.workers.registry import Backoff

logger = logging.getLogger("service.committer")


class NewRecords:
    """Records a commit creates, given as their creation events alone: the store needs
    the events, and building an aggregate from each (``Aggregate._create``) costs a
    batch of 1000 a few milliseconds for objects nobody reads."""

    __slots__ = ("pending_events",)

    def __init__(self, events: list[Any]) -> None:
        self.pending_events = events


Build = Callable[[datetime], Sequence[Aggregate | NewRecords]]
Committed = Callable[[list[list[Recording[UUID]]]], None]
"""Told of what one turn of the writer committed: the recordings of each transaction,
in commit order (each in position order). Runs on the writer thread, must not raise."""
A = TypeVar("A", bound=Aggregate)


def recordings(
    events: Sequence[Any], stored: Sequence[StoredEvent], positions: Sequence[int]
) -> list[Recording[UUID]]:
    """What ``EventStore.put`` answers: a ``Recording`` of each event, its
    ``Notification`` the stored event at its position.

    Both are frozen dataclasses, whose ``__init__`` sets each field through
    ``object.__setattr__``: 2.8 ms for a batch of 1000, under the commit lock
    (issue 19). The same instances are made here by filling their ``__dict__``."""
    new = object.__new__
    made = []
    for event, s, position in zip(events, stored, positions, strict=True):
        notification = new(Notification)
        fields = notification.__dict__
        fields.update(vars(s))
        fields["id"] = position
        recording = new(Recording)
        recording.__dict__.update({"domain_event": event, "notification": notification})
        made.append(recording)
    return made


class _Job:
    __slots__ = ("aggregates", "build", "future")

    def __init__(self, build: Build) -> None:
        self.build = build
        self.future: Future[list[Recording[UUID]]] = Future()
        self.aggregates: Sequence[Aggregate | NewRecords] = ()


class GroupCommitter:
    def __init__(
        self,
        app: Application[UUID],
        clock: Clock,
        max_jobs: int = 1000,
        *,
        commit_timeout_s: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._app = app
        recorder = app.recorder
        self._shared: SharedStore | None = recorder if isinstance(recorder, SharedStore) else None
        """The recorder as a ``SharedStore``, checked once: ``isinstance`` against a
        runtime-checkable protocol cost about 25 us per commit."""
        self._times = CommitClock(app, clock)
        self._max_jobs = max_jobs
        self.commit_timeout_s = commit_timeout_s
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="tradewinds-writer", daemon=True)
        self.commits = 0
        self.last_position = 0
        self.problem: StoreUnavailable | None = None
        self._problem_since = 0.0
        self._problem_head: int | None = None
        self._backoff = backoff or Backoff()
        self._next_attempt = 0.0
        self._next_probe = 0.0
        self._probe_backoff = Backoff(self._backoff.first, self._backoff.most)
        self.on_commit: Committed | None = None
        self._answers: list[tuple[list[_Job], list[int], list[Recording[UUID]]]] = []

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Commit every job already submitted, then stop the writer."""
        if self.thread.is_alive():
            self._queue.put(None)
            self.thread.join()

    def submit(self, build: Build) -> "Future[list[Recording[UUID]]]":
        job = _Job(build)
        if self.thread.ident is not None and not self.thread.is_alive():
            job.future.set_exception(StoreUnavailable("the writer has stopped"))
            return job.future
        self._queue.put(job)
        return job.future

    def result(self, future: "Future[list[Recording[UUID]]]") -> list[Recording[UUID]]:
        """Wait for a submitted job, at most ``commit_timeout_s``: then
        ``StoreUnavailable`` (and the job is dropped if the writer has not taken it)."""
        try:
            return future.result(timeout=self.commit_timeout_s)
        except FutureTimeout:
            raise self.timed_out(future) from None

    def timed_out(self, future: "Future[list[Recording[UUID]]]") -> StoreUnavailable:
        """The error for a caller that waited ``commit_timeout_s`` in vain."""
        if future.cancel():
            if self.problem is not None:
                return self.problem.fresh()
            return StoreUnavailable(
                f"the write was not committed within {self.commit_timeout_s:g} s; not stored"
            )
        return StoreUnavailable(
            f"the store did not confirm the write within {self.commit_timeout_s:g} s; it may "
            "have been stored: retry with the same Idempotency-Key or event ids"
        )

    def update(self, record: A, change: Callable[[A, datetime], None]) -> None:
        """Append one event to ``record``, made by ``change`` at the commit's time, and
        wait for the commit (bounded: ``StoreUnavailable``). ``IntegrityError`` if the
        record has moved on in the store (another process appended to it first)."""

        def build(recorded_at: datetime) -> list[Aggregate | NewRecords]:
            change(record, recorded_at)
            return [record]

        self.result(self.submit(build))

    def now(self) -> datetime:
        """The service clock (for readers; commits use the commit clock's ``stamp``)."""
        return self._times.now()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                job = self._queue.get(timeout=self._probe_in())
            except queue.Empty:
                self._probe()
                continue
            if job is None:
                break
            group = [job]
            while len(group) < self._max_jobs:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                group.append(more)
            self._commit_group(group)

    def _commit_group(self, group: list[_Job]) -> None:
        """Commit the jobs still wanted; never raises (the writer must outlive it)."""
        group = [job for job in group if job.future.set_running_or_notify_cancel()]
        if not group:
            return
        if self.problem is not None and time.monotonic() < self._next_attempt:
            self._fail(group, self.problem)
            return
        try:
            if self.problem is not None:
                self._check_store()
            self._commit(group)
        except Exception as e:
            problem = as_store_error(e)
            if problem is None:
                logger.exception("commit of %d jobs failed", len(group))
                self._fail(group, e)
                return
            self._store_failed(problem)
            self._fail(group, problem)
            return
        self._store_recovered()

    @staticmethod
    def _fail(group: list[_Job], error: BaseException) -> None:
        for job in group:
            if not job.future.done():
                job.future.set_exception(
                    error.fresh() if isinstance(error, StoreUnavailable) else error
                )

    def _store_failed(self, problem: StoreUnavailable) -> None:
        if self.problem is None or type(self.problem) is not type(problem):
            logger.error("%s; writes are refused until it recovers", problem.detail)
            self._problem_since = time.monotonic()
            self._problem_head = None
        self.problem = problem
        self._next_attempt = time.monotonic() + self._backoff.next()
        self._next_probe = self._next_attempt

    def _store_recovered(self) -> None:
        if self.problem is not None:
            logger.warning(
                "the store takes writes again, after %.1f s",
                time.monotonic() - self._problem_since,
            )
        self.problem = None
        self._backoff.reset()
        self._probe_backoff.reset()

    def _probe_in(self) -> float | None:
        """How long to wait for a job before probing the store (None: no probe)."""
        if self.problem is None:
            return None
        return max(0.01, self._next_probe - time.monotonic())

    def _check_store(self) -> int:
        return self._shared.probe() if self._shared is not None else 0

    def _probe(self) -> None:
        """While idle with a problem: clear it if the store answers (and, for a full
        store, if another process has written since). Its own schedule: a probe does
        not put off the next write's attempt."""
        try:
            head = self._check_store()
        except Exception as e:
            if as_store_error(e) is None:
                logger.exception("the store probe failed")
            # the jobs that came meanwhile are refused at once, not tried again now
            self._next_probe = time.monotonic() + self._probe_backoff.next()
            self._next_attempt = max(self._next_attempt, self._next_probe)
            return
        if isinstance(self.problem, StoreFull):
            if self._problem_head is None:
                self._problem_head = head
            if head <= self._problem_head:
                self._next_probe = time.monotonic() + self._probe_backoff.next()
                return
        self._store_recovered()

    def _commit(self, group: list[_Job]) -> None:
        """Commit under the store's lock; answer the jobs committed after releasing it
        (also when a later transaction of the group failed)."""
        shared = self._shared
        try:
            if shared is not None:
                with shared.commit_lock() as head:
                    self._commit_locked(group, head)
            else:
                self._commit_locked(group, None)
        finally:
            self._answer()

    def _answer(self) -> None:
        """Hand the turn's commits to ``on_commit``, then answer their jobs."""
        answers, self._answers = self._answers, []
        if not answers:
            return
        if self.on_commit is not None:
            try:
                self.on_commit([recordings for _, _, recordings in answers])
            except Exception:
                logger.exception("handing over a commit failed")
        for jobs, counts, recordings in answers:
            start = 0
            for job, count in zip(jobs, counts, strict=True):
                job.future.set_result(recordings[start : start + count])
                start += count

    def _commit_locked(self, group: list[_Job], head: int | None) -> None:
        recorded_at = self._times.stamp(head, self.last_position)
        built: list[_Job] = []
        for job in group:
            try:
                job.aggregates = job.build(recorded_at)
            except Exception as e:  # noqa: BLE001 - handed to the job's caller
                job.future.set_exception(e)
            else:
                built.append(job)
        if len(built) == 1:
            self._save([built[0]], alone=True)
        elif built:
            self._save(built, alone=False)

    def _put(self, events: list[Any]) -> list[Recording[UUID]]:
        """``EventStore.put``, with the events transcoded in one pass (``stored_events``)."""
        stored = stored_events(self._app.mapper, events)
        positions = self._app.recorder.insert_events(stored)
        if not positions:
            return []
        return recordings(events, stored, positions)

    def _save(self, jobs: list[_Job], *, alone: bool) -> None:
        """One transaction for the jobs' events. The events are collected here and
        put in the event store directly: ``Application.save`` checks each aggregate
        against runtime-checkable protocols, a sixth of a batch's time."""
        counts = [sum(len(a.pending_events) for a in job.aggregates) for job in jobs]
        pending = [(a, list(a.pending_events)) for job in jobs for a in job.aggregates]
        events = [e for _, aggregate_events in pending for e in aggregate_events]
        try:
            recordings = self._put(events)
        except IntegrityError as e:
            if alone:
                jobs[0].future.set_exception(e)
                return
            for job in jobs:
                self._save([job], alone=True)
            return
        self._store_recovered()  # before any caller hears of the commit (and asks ready)
        for aggregate, _ in pending:
            aggregate.pending_events.clear()
        self.commits += 1
        if recordings:
            self.last_position = max(self.last_position, recordings[-1].notification.id)
        self._answers.append((jobs, counts, recordings))
