"""Group commit: one writer thread saves every write job waiting at the same moment
in one transaction, so many clients share one fsync.

A job builds its aggregates in the writer thread, given the commit's
``recorded_at``: the service clock is read once per commit and never goes back.
Several processes (replicas) may write to one store, each with its own clock,
so each commit runs under the store's commit lock (one committer at a time,
across processes): under it, the committer reads the ``recorded_at`` of the
last stored record when another process wrote since its own last commit, and
never stamps an earlier one. So ``recorded_at`` never decreases along the
log's positions, as stored: every replica, and every replay, sees the same
monotonic times.
Each job's future is completed only after the transaction that holds it has
committed. If a group hits a uniqueness conflict, the store does not say
whose it was, so each job of the group is retried in a transaction of its own:
every job is still all-or-nothing.
"""

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from service.persistence import SharedStore

log = logging.getLogger(__name__)

Build = Callable[[datetime], Sequence[Aggregate]]
Clock = Callable[[], datetime]
A = TypeVar("A", bound=Aggregate)


class _Job:
    __slots__ = ("aggregates", "build", "future")

    def __init__(self, build: Build) -> None:
        self.build = build
        self.future: Future[list[Recording[UUID]]] = Future()
        self.aggregates: Sequence[Aggregate] = ()


class GroupCommitter:
    def __init__(self, app: Application[UUID], clock: Clock, max_jobs: int = 1000) -> None:
        self._app = app
        self._clock = clock
        self._max_jobs = max_jobs
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._last_time: datetime | None = None
        self._thread = threading.Thread(target=self._run, name="tradewinds-writer", daemon=True)
        self.commits = 0
        self.last_position = 0
        self._seen_position = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Commit every job already submitted, then stop the writer."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def submit(self, build: Build) -> "Future[list[Recording[UUID]]]":
        job = _Job(build)
        self._queue.put(job)
        return job.future

    def update(self, record: A, change: Callable[[A, datetime], None]) -> None:
        """Append one event to ``record``, made by ``change`` at the commit's time, and
        wait for the commit. ``IntegrityError`` if the record has moved on in the store
        (another process appended to it first)."""

        def build(recorded_at: datetime) -> list[Aggregate]:
            change(record, recorded_at)
            return [record]

        self.submit(build).result()

    def now(self) -> datetime:
        """The service clock (for readers; commits use ``_now``)."""
        return self._clock()

    def _now(self, head: int | None = None) -> datetime:
        now = self._clock()
        floor = self._stored_floor(head)
        if floor is not None and now < floor:
            now = floor + timedelta(microseconds=1)
        self._last_time = now
        return now

    def _stored_floor(self, head: int | None) -> datetime | None:
        """The latest ``recorded_at`` in the store (under the commit lock, ``head``
        its last position): this process's own last one, unless another process has
        committed since."""
        if head is None:
            head = self._app.recorder.max_notification_id() or 0
        if head <= max(self.last_position, self._seen_position):
            return self._last_time
        (notification,) = self._app.recorder.select_notifications(head, 1)
        event: Any = self._app.mapper.to_domain_event(notification)
        stored: datetime = event.timestamp
        self._seen_position = head
        if self._last_time is not None and self._last_time > stored:
            return self._last_time
        return stored

    def _run(self) -> None:
        stopping = False
        while not stopping:
            job = self._queue.get()
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
            self._commit(group)

    def _commit(self, group: list[_Job]) -> None:
        recorder = self._app.recorder
        if isinstance(recorder, SharedStore):
            with recorder.commit_lock() as head:
                self._commit_locked(group, head)
        else:
            self._commit_locked(group, None)

    def _commit_locked(self, group: list[_Job], head: int | None) -> None:
        recorded_at = self._now(head)
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

    def _save(self, jobs: list[_Job], *, alone: bool) -> None:
        """One transaction for the jobs' events. The events are collected here and
        put in the event store directly: ``Application.save`` checks each aggregate
        against runtime-checkable protocols, a sixth of a batch's time."""
        counts = [sum(len(a.pending_events) for a in job.aggregates) for job in jobs]
        pending = [(a, list(a.pending_events)) for job in jobs for a in job.aggregates]
        events = [e for _, aggregate_events in pending for e in aggregate_events]
        try:
            recordings = self._app.events.put(events)
        except IntegrityError as e:
            if alone:
                jobs[0].future.set_exception(e)
                return
            for job in jobs:
                self._save([job], alone=True)
            return
        except Exception as e:  # every waiting caller must hear of it
            log.exception("commit of %d jobs failed", len(jobs))
            for job in jobs:
                job.future.set_exception(e)
            return
        for aggregate, _ in pending:
            aggregate.pending_events.clear()
        self.commits += 1
        if recordings:
            self.last_position = max(self.last_position, recordings[-1].notification.id)
        start = 0
        for job, count in zip(jobs, counts, strict=True):
            job.future.set_result(recordings[start : start + count])
            start += count
